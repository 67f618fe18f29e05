"""The signal chain on the 49 seed recordings, against the original recipe.

Run alone with ``python -m benchmarks.bench_signal_chain`` (prints the rows) or
through ``python -m benchmarks.run --only bench_signal_chain`` (writes the docs).
"""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from sklearn.pipeline import make_pipeline

from vascular_sklearn import (
    LowpassFilter,
    MeanSmoother,
    PeakCycleCutter,
    STFTSpectrogram,
)
from vascular_sklearn.datasets import load_recordings

from .common import SEED_DIR, best_time, parity, seed_cycles
from .original_recipe import (
    original_cut,
    original_images,
    original_lowpass,
    original_read,
)

TITLE = "Signal chain: read, lowpass, smooth, cut, spectrogram (49 seed recordings)"
DESCRIPTION = (
    "Every row reads the 49 WAVs from disk and ends with the 1 x 40 x 100 images of "
    "all cycles. Wall time (time.perf_counter), best of 3 repeats, all rows in the "
    "same run; torch.set_num_threads(1) for the whole benchmark (the original "
    "recipe's conv1d and per-cycle torch.stft would otherwise use every core while "
    "the library's numpy/scipy steps use one); one process unless the row says "
    "n_jobs=2 (joblib's loky processes, every step given n_jobs=2). Original recipe: "
    "benchmarks/original_recipe.py, the original scripts' chain per recording and "
    "per cycle (torchaudio-style lowpass_biquad, scipy medfilt(1001), plain "
    "find_peaks(distance=11000), torch.stft per cycle). x-realtime = seconds of "
    "audio / wall seconds. Speed-up = original recipe's seconds / this row's "
    "seconds. Parity: share (and count) of the 3751 cycles seed_cycles.csv lists "
    "for these recordings that the row reproduces exactly, and with both ends "
    "within 100 samples. Same cuts: cycles identical to the original recipe's; "
    "cuts ≠ (a): cycles found by only one of the two. Image error: max over the "
    "identical cycles of max|a - b| / max|b| against the original recipe's images. "
    "Step rows: the default library chain (b) one step at a time (best of 3 each), "
    "and the original recipe (a) summed over recordings within its best run; share "
    "= the step's part of its chain's time."
)

_STEPS = ("read", "lowpass", "smooth + cut", "spectrogram")
_LAST: dict = {}


def _seed_paths() -> list[Path]:
    return sorted(SEED_DIR.glob("*/*.WAV"))


def _original(paths, timings: dict | None = None):
    """The original recipe end to end; step times added to ``timings``."""
    clock = time.perf_counter
    steps = defaultdict(float)
    all_bounds, all_images = [], []
    for path in paths:
        t0 = clock()
        wave = original_read(path)
        t1 = clock()
        lowpassed = original_lowpass(wave)
        t2 = clock()
        bounds = original_cut(lowpassed)
        t3 = clock()
        all_images.append(original_images(lowpassed, bounds))
        t4 = clock()
        all_bounds.append(bounds)
        for step, a, b in zip(_STEPS, (t0, t1, t2, t3), (t1, t2, t3, t4), strict=True):
            steps[step] += b - a
    if timings is not None:
        timings.clear()
        timings.update(steps)
    return all_bounds, np.concatenate(all_images)


def _library(method: str, n_jobs: int | None = None):
    def chain():
        data = load_recordings(SEED_DIR)
        cutter = make_pipeline(
            LowpassFilter(n_jobs=n_jobs),
            MeanSmoother(method=method, n_jobs=n_jobs),
            PeakCycleCutter(n_jobs=n_jobs),
        )
        bags = cutter.fit_transform(data.recordings)
        spec = STFTSpectrogram(n_jobs=n_jobs).fit_transform(bags)
        return data, bags, spec

    return chain


def _compare(names, bags, spec, orig_bounds, orig_images) -> tuple[int, int, float]:
    """Cycles identical to the original recipe's, cycles differing (either side),
    and the worst relative image difference over the identical ones."""
    position = {Path(str(n)).name: i for i, n in enumerate(bags.names)}
    same = differ = 0
    worst, row = 0.0, 0
    for name, bounds in zip(names, orig_bounds, strict=True):
        i = position[name]
        mine = {tuple(b): k for k, b in enumerate(bags.bounds[i].tolist())}
        theirs = set(map(tuple, bounds.tolist()))
        differ += len(theirs.symmetric_difference(mine))
        for b in bounds.tolist():
            if tuple(b) in mine:
                same += 1
                a, ref = spec[i][mine[tuple(b)]], orig_images[row]
                worst = max(worst, float(np.abs(a - ref).max() / np.abs(ref).max()))
            row += 1
    return same, differ, worst


def _differences(names, bounds_a, bounds_b) -> list[str]:
    """Per recording where two cuttings differ, as readable text."""
    out = []
    csv = seed_cycles()
    for name, a, b in zip(names, bounds_a, bounds_b, strict=True):
        sa, sb = set(map(tuple, a.tolist())), set(map(tuple, b.tolist()))
        if sa != sb:
            ref = set(csv[name])
            only_a = sorted(sa - sb)
            only_b = sorted(sb - sa)
            out.append(
                f"`{name}`: original recipe {_fmt(only_a, ref)}, "
                f"library {_fmt(only_b, ref)}"
            )
    return out


def _fmt(cycles, ref) -> str:
    marks = [f"{a}-{b}" + (" (csv)" if (a, b) in ref else "") for a, b in cycles]
    return ", ".join(marks) or "none"


def _share(fraction: float, total: int) -> str:
    return f"{100 * fraction:.2f} % ({round(fraction * total)})"


def run() -> list[dict]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _run()
    finally:
        torch.set_num_threads(threads)


def _run() -> list[dict]:
    paths = _seed_paths()
    names = [p.name for p in paths]
    csv = seed_cycles()  # also lists normal/4_2_after.WAV, whose audio is missing
    n_csv = sum(len(csv[name]) for name in names)

    # (a) the original recipe; step times of its best repeat
    best_steps, steps = {}, {}
    t_orig = np.inf
    for _ in range(3):
        start = time.perf_counter()
        orig_bounds, orig_images = _original(paths, steps)
        seconds = time.perf_counter() - start
        if seconds < t_orig:
            t_orig, best_steps = seconds, dict(steps)

    rows = []
    exact, near = parity(names, orig_bounds)
    rows.append(
        {
            "chain": "(a) original recipe (medfilt, find_peaks, torch.stft per cycle)",
            "seconds": t_orig,
            "speed-up": 1.0,
            "cycles": len(orig_images),
            "parity exact": _share(exact, n_csv),
            "parity ±100": _share(near, n_csv),
            "same cuts": len(orig_images),
            "cuts ≠ (a)": 0,
            "image error": 0.0,
        }
    )
    variants = [
        ("(b) library, median (default, full parity)", "median", None),
        ("(c) library, mean (faster mode)", "mean", None),
        ("(d) library, median, n_jobs=2", "median", 2),
        ("(d) library, mean, n_jobs=2", "mean", 2),
    ]
    audio_seconds = None
    for label, method, n_jobs in variants:
        seconds, (data, bags, spec) = best_time(_library(method, n_jobs))
        audio_seconds = float(data.recordings.durations.sum())
        exact, near = parity(data.recordings.names, bags.bounds)
        same, differ, error = _compare(names, bags, spec, orig_bounds, orig_images)
        rows.append(
            {
                "chain": label,
                "seconds": seconds,
                "speed-up": t_orig / seconds,
                "cycles": int(bags.n_cycles.sum()),
                "parity exact": _share(exact, n_csv),
                "parity ±100": _share(near, n_csv),
                "same cuts": same,
                "cuts ≠ (a)": differ,
                "image error": error,
            }
        )
        if label.startswith("(b)"):
            position = {Path(str(n)).name: i for i, n in enumerate(bags.names)}
            lib_bounds = [bags.bounds[position[n]] for n in names]
            _LAST["differences"] = _differences(names, orig_bounds, lib_bounds)
    for row in rows:
        row["x-realtime"] = audio_seconds / row["seconds"]
    rows += _step_rows(audio_seconds, t_orig, best_steps)
    _LAST["audio_seconds"] = audio_seconds
    return [_rounded(r) for r in rows]


def _step_rows(audio_seconds: float, t_orig: float, orig_steps: dict) -> list[dict]:
    """Where the time goes: the default chain step by step, and the original's."""
    seconds, data = best_time(lambda: load_recordings(SEED_DIR))
    lib = [("read 49 WAVs (load_recordings)", seconds)]
    X = data.recordings
    for step in [LowpassFilter(), MeanSmoother(), PeakCycleCutter(), STFTSpectrogram()]:
        seconds, out = best_time(lambda s=step, x=X: s.fit_transform(x))
        lib.append((type(step).__name__, seconds))
        X = out
    total = sum(s for _, s in lib)
    rows = [
        {
            "chain": f"  (b) step: {name}",
            "seconds": s,
            "x-realtime": audio_seconds / s,
            "share": f"{100 * s / total:.0f} %",
        }
        for name, s in lib
    ]
    rows += [
        {
            "chain": f"  (a) step: {name}",
            "seconds": orig_steps[name],
            "x-realtime": audio_seconds / orig_steps[name],
            "share": f"{100 * orig_steps[name] / t_orig:.0f} %",
        }
        for name in _STEPS
    ]
    return rows


def notes() -> str:
    """Text for the docs after ``run()``: where the two cuttings differ."""
    diffs = _LAST.get("differences")
    if diffs is None:
        return ""
    if not diffs:
        return "The original recipe and the library cut every recording identically."
    lines = [
        "Cycles cut differently by the original recipe (a) and the default library "
        "chain (b) ((csv) marks the cycles seed_cycles.csv holds):",
        "",
    ]
    return "\n".join(lines + [f"- {d}" for d in diffs])


def _rounded(row: dict) -> dict:
    return {k: (f"{v:.4g}" if isinstance(v, float) else v) for k, v in row.items()}


if __name__ == "__main__":
    for r in run():
        print(r)
    print(notes())
