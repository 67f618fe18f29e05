"""The signal chain on the 49 seed recordings, against the original recipe."""

from __future__ import annotations

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

from .common import SEED_DIR, best_time, parity
from .original_recipe import original_chain

TITLE = "Signal chain: read, lowpass, smooth, cut, spectrogram (49 seed recordings)"
DESCRIPTION = (
    "Wall time, best of 3; one process (torch limited to 1 thread for the original "
    "recipe's per-cycle torch.stft) unless the row says n_jobs=2 (joblib's loky "
    "processes, one recording per task). x-realtime = seconds of audio / wall seconds. "
    "Ratio = original recipe time / this row's time (same run). Parity: fraction of "
    "the 3751 cycles of seed_cycles.csv reproduced exactly, and with both ends within "
    "100 samples. Image error: max over common cycles of max|a - b| / max|b| against "
    "the original recipe's 1 x 40 x 100 images."
)


def _library(method: str, n_jobs: int | None = None):
    def run():
        data = load_recordings(SEED_DIR)
        chain = make_pipeline(
            LowpassFilter(n_jobs=n_jobs),
            MeanSmoother(method=method, n_jobs=n_jobs),
            PeakCycleCutter(n_jobs=n_jobs),
        )
        bags = chain.fit_transform(data.recordings)
        spec = STFTSpectrogram(n_jobs=n_jobs).fit_transform(bags)
        return data, bags, spec

    return run


def _image_error(names, bags, spec, orig_bounds, orig_images) -> float:
    """Worst relative image difference over cycles both chains cut identically."""
    position = {name.split("/")[-1]: i for i, name in enumerate(bags.names)}
    worst, row_orig = 0.0, 0
    for name, bounds in zip(names, orig_bounds, strict=True):
        i = position[name]
        mine = {tuple(b): k for k, b in enumerate(bags.bounds[i].tolist())}
        for b in bounds.tolist():
            if tuple(b) in mine:
                a = spec[i][mine[tuple(b)]]
                ref = orig_images[row_orig]
                worst = max(worst, float(np.abs(a - ref).max() / ref.max()))
            row_orig += 1
    return worst


def run() -> list[dict]:
    torch.set_num_threads(1)
    paths = sorted(str(p) for p in SEED_DIR.glob("*/*.WAV"))
    audio_seconds = None
    t_orig, (orig_bounds, orig_images) = best_time(lambda: original_chain(paths))
    rows = []
    names = [p.split("/")[-1] for p in paths]
    exact, near = parity(names, orig_bounds)
    rows.append(
        {
            "chain": "original recipe (medfilt, torch.stft per cycle)",
            "seconds": t_orig,
            "ratio": 1.0,
            "cycles": len(orig_images),
            "parity exact": exact,
            "parity 100": near,
            "image error": 0.0,
        }
    )
    for label, method, n_jobs in [
        ("library, median (default, full parity)", "median", None),
        ("library, median, n_jobs=2 (2 cores)", "median", 2),
        ("library, mean (faster mode)", "mean", None),
        ("library, mean, n_jobs=2 (2 cores)", "mean", 2),
    ]:
        seconds, (data, bags, spec) = best_time(_library(method, n_jobs))
        audio_seconds = float(data.recordings.durations.sum())
        exact, near = parity(data.recordings.names, bags.bounds)
        rows.append(
            {
                "chain": label,
                "seconds": seconds,
                "ratio": t_orig / seconds,
                "cycles": int(bags.n_cycles.sum()),
                "parity exact": exact,
                "parity 100": near,
                "image error": _image_error(
                    names, bags, spec, orig_bounds, orig_images
                ),
            }
        )
    for row in rows:
        row["x-realtime"] = audio_seconds / row["seconds"]
    rows += _step_times()
    return [_rounded(r) for r in rows]


def _step_times() -> list[dict]:
    """Where the default chain's time goes, step by step."""
    seconds, data = best_time(lambda: load_recordings(SEED_DIR), repeats=1)
    rows = [{"chain": "  step: read 49 WAVs", "seconds": seconds}]
    X = data.recordings
    for step in [LowpassFilter(), MeanSmoother(), PeakCycleCutter(), STFTSpectrogram()]:
        seconds, out = best_time(lambda s=step, x=X: s.fit_transform(x), repeats=1)
        rows.append({"chain": f"  step: {type(step).__name__}", "seconds": seconds})
        X = out
    return rows


def _rounded(row: dict) -> dict:
    return {k: (f"{v:.4g}" if isinstance(v, float) else v) for k, v in row.items()}


if __name__ == "__main__":
    for r in run():
        print(r)
