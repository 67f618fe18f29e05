"""Helpers shared by the benchmarks: data location, timing, parity."""

from __future__ import annotations

import csv
import hashlib
import json
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy import signal as sps

REPO = Path(__file__).resolve().parents[1]
SEED_DIR = REPO.parent / "shared" / "data" / "seed_recordings"
PHYSIONET_DIR = REPO.parent / "shared" / "data" / "physionet2016"


#: Bands (Hz) of the sound audits: the simulated stenosis jet's, and the low flow
#: sound that carries most of a beat's power.
JET_BAND, FLOW_BAND = (300.0, 1000.0), (25.0, 150.0)


def jet_levels(x: np.ndarray, rate: float, moments=None) -> tuple[list, tuple]:
    """Sound in the jet band in the beat and between beats, in dB against the
    beat's flow-band power (-100: digital silence), and the share of the frames
    between beats that are digitally silent (100 dB below it); 20 ms frames.

    The beat is the loudest fifth of frames in the flow band, between beats the
    quietest 30 %; ``moments`` (the second value returned) reuses another
    recording's, to compare one vessel heard through two recorders."""
    freqs, _, power = sps.spectrogram(np.asarray(x, np.float64), rate, nperseg=441)
    jet, flow = (
        power[(freqs >= lo) & (freqs <= hi)].sum(axis=0)
        for lo, hi in (JET_BAND, FLOW_BAND)
    )
    if moments is None:
        order = np.argsort(flow)
        moments = order[-len(order) // 5 :], order[: len(order) * 3 // 10]
    beat, between = moments
    level = flow[beat].mean()
    levels = [
        10 * np.log10(jet[beat].mean() / level),
        10 * np.log10(max(jet[between].mean() / level, 1e-10)),
        float(np.mean(jet[between] + flow[between] < 1e-10 * level)),
    ]
    return levels, moments


def fmt_interval(value: float, ci=None) -> str:
    """A metric to two decimals, with its interval in brackets; NaN as n/a."""
    if value != value:
        return "n/a"
    return f"{value:.2f}" if ci is None else f"{value:.2f} [{ci[0]:.2f}, {ci[1]:.2f}]"


def _source_hash() -> str:
    digest = hashlib.sha1()
    for folder in ("vascular_sklearn", "benchmarks"):
        for path in sorted((REPO / folder).rglob("*.py")):
            digest.update(path.relative_to(REPO).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


#: The source as this process imported it (the benchmarks import this module
#: first): a file edited during an hours-long run must not label its results.
_SOURCE_AT_START = _source_hash()


def code_fingerprint() -> str:
    """A short hash of the library's and the benchmarks' source as this run
    imported them: results kept between runs are valid only for that code."""
    return _SOURCE_AT_START


def cache_key(*arrays: np.ndarray) -> str:
    """What cached results are valid for: the code as imported, the data
    (``arrays``: labels, groups, ...) and the numerical libraries' versions.

    Raises
    ------
    RuntimeError
        If the source changed on disk since the run started: what it computes
        belongs to neither version.
    """
    if _source_hash() != _SOURCE_AT_START:
        raise RuntimeError(
            "the library or benchmark source changed during this run; run again"
        )
    import sklearn
    import torch

    digest = hashlib.sha1(code_fingerprint().encode())
    for part in (np.__version__, sklearn.__version__, torch.__version__):
        digest.update(part.encode())
    for a in arrays:
        digest.update(np.asarray(a).astype(str).tobytes())
    return digest.hexdigest()[:12]


def best_time(fn: Callable[[], object], repeats: int = 3) -> tuple[float, object]:
    """Best wall time of ``repeats`` calls, and the last result."""
    best, result = np.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def paired_auc_difference(
    y, proba_a, proba_b, groups, n_boot: int = 2000, random_state: int = 0
) -> tuple[float, tuple[float, float]]:
    """ROC AUC of ``proba_a`` minus that of ``proba_b``, with a 95 % interval.

    The interval is a paired bootstrap over patients: each draw resamples
    whole patients and scores both models on the same recordings, so what the
    two share (which patients are hard) cancels.
    """
    from sklearn.metrics import roc_auc_score

    y, groups = np.asarray(y), np.asarray(groups)
    a, b = np.asarray(proba_a), np.asarray(proba_b)
    point = roc_auc_score(y, a) - roc_auc_score(y, b)
    patients = np.unique(groups)
    members = [np.flatnonzero(groups == g) for g in patients]
    rng = np.random.default_rng(random_state)
    draws = []
    for _ in range(n_boot):
        idx = np.concatenate(
            [members[k] for k in rng.integers(len(patients), size=len(patients))]
        )
        if len(np.unique(y[idx])) < 2:
            continue
        draws.append(roc_auc_score(y[idx], a[idx]) - roc_auc_score(y[idx], b[idx]))
    lo, hi = np.percentile(draws, [2.5, 97.5])
    return float(point), (float(lo), float(hi))


def seed_cycles() -> dict[str, list[tuple[int, int]]]:
    """The original scripts' cycles per recording file name."""
    ref = defaultdict(list)
    with open(SEED_DIR / "seed_cycles.csv", newline="") as f:
        for row in csv.DictReader(f):
            ref[row["recording"]].append((int(row["start"]), int(row["stop"])))
    return ref


def parity(names, bounds_list) -> tuple[float, float]:
    """Fractions of seed_cycles.csv reproduced exactly and within 100 samples."""
    ref = seed_cycles()
    total = exact = near = 0
    for name, bounds in zip(names, bounds_list, strict=True):
        expected = ref[Path(name).name]
        total += len(expected)
        found = set(map(tuple, np.asarray(bounds).tolist()))
        exact += sum(c in found for c in expected)
        b = np.asarray(bounds).reshape(-1, 2)
        for start, stop in expected:
            near += bool(
                np.any((abs(b[:, 0] - start) <= 100) & (abs(b[:, 1] - stop) <= 100))
            )
    return exact / total, near / total


_STREAM = """
import json, re, sys, time
from vascular_sklearn.screening import predict_files
files = json.loads(open(sys.argv[2]).read())[: int(sys.argv[3])]
start = time.perf_counter()
if sys.argv[1].endswith(".onnx"):
    from vascular_sklearn.runtime import load_onnx
    model = load_onnx(sys.argv[1])
else:
    from vascular_sklearn.persistence import load_model
    model = load_model(sys.argv[1], device="cpu")
summary = predict_files(model, files, sys.argv[4], batch_size=32)
seconds = time.perf_counter() - start
hwm = re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read())
print(json.dumps({"rows": summary.n_files, "seconds": seconds,
                  "peak_mib": int(hwm.group(1)) / 1024,
                  "torch_loaded": "torch" in sys.modules}))
"""


def stream_screening(model: Path, files_json: Path, n: int, output: Path) -> dict:
    """``predict_files`` over the first ``n`` files of a JSON list, in a fresh
    process: its rows, seconds, peak resident memory (VmHWM, MiB) and whether
    torch was imported. A ``.onnx`` model is scored by the torch-free runtime."""
    done = subprocess.run(
        [sys.executable, "-c", _STREAM, *map(str, (model, files_json, n, output))],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    return json.loads(done.stdout)


def default_image_shape() -> tuple[int, ...]:
    """The shape of one cycle's image in the default pipeline (channels, rows,
    frames), as its spectrogram step makes it."""
    from vascular_sklearn import make_stenosis_pipeline
    from vascular_sklearn.datasets import make_recordings

    data = make_recordings(n_patients=1, recordings_per_patient=1, random_state=0)
    bags = make_stenosis_pipeline()[:-1].fit_transform(data.recordings, data.target)
    return bags[0].shape[1:]
