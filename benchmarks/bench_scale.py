"""Scale-out: signal-chain throughput, streaming memory, grid search on engines."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
from joblib import parallel_config
from sklearn.model_selection import GridSearchCV, GroupKFold

from benchmarks.common import REPO, SEED_DIR
from vascular_sklearn import make_stenosis_pipeline
from vascular_sklearn.corpus import RecordingFiles
from vascular_sklearn.datasets import load_recordings, make_recordings
from vascular_sklearn.persistence import save_model

TITLE = "Scale-out: workers, streaming, and grid search on Dask"
N_CORPUS = 1000
CORPUS_SECONDS = 10.0
BATCH = 50
DESCRIPTION = (
    "Signal chain = the default pipeline's four signal steps (1 kHz biquad, "
    "1001-sample median, peak cutting, log spectrogram), n_jobs on every step, "
    "joblib's loky processes; x-realtime = seconds of audio per second of wall "
    "time (best of 2). Seed: the 49 recordings in memory. Synthetic corpus: "
    f"{N_CORPUS} make_recordings files of {CORPUS_SECONDS:.0f} s written as "
    f"16-bit WAVs, read lazily (RecordingFiles) {BATCH} at a time, reading "
    "included. Streaming: `predict_files` with the default pipeline (ResNet50, "
    "16 cycles per recording, trained for 1 epoch on 8 synthetic recordings: "
    "speed and memory only) over the first 100 and all 1000 corpus files, "
    "batches of 32, in a fresh process; peak = VmHWM. Grid search: "
    "GridSearchCV over 8 candidates (lowpass cutoff 800/1000 Hz x lr 1e-3, "
    "3e-4, 1e-4, 3e-5; resnet18, 1 epoch, 8 cycles per recording) with "
    "GroupKFold(3) by patient on 24 synthetic recordings of 10 s, refit=False: "
    "sequential, loky (n_jobs=2) and a Dask LocalCluster of 2 worker processes "
    "x 1 thread (started before timing), each without and with the Pipeline's "
    "memory= (an empty joblib cache per run). Ratios: against the row named in "
    "their cell, same run."
)

_STREAM = """
import json, re, sys, time
from vascular_sklearn.persistence import load_model
from vascular_sklearn.screening import predict_files
files = json.loads(open(sys.argv[2]).read())[: int(sys.argv[3])]
start = time.perf_counter()
model = load_model(sys.argv[1], device="cpu")
summary = predict_files(model, files, sys.argv[4], batch_size=32)
seconds = time.perf_counter() - start
hwm = re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read())
print(json.dumps({"rows": summary.n_files, "seconds": seconds,
                  "peak_mib": int(hwm.group(1)) / 1024}))
"""

_results: dict = {}


def _chain(n_jobs: int):
    return make_stenosis_pipeline()[:-1].set_params(
        lowpass__n_jobs=n_jobs,
        smooth__n_jobs=n_jobs,
        cut__n_jobs=n_jobs,
        spectrogram__n_jobs=n_jobs,
    )


def _timed(fn, repeats: int = 2) -> float:
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _write_corpus(folder: Path) -> list[str]:
    paths = []
    for chunk in range(N_CORPUS // 100):
        data = make_recordings(
            n_patients=25,
            recordings_per_patient=4,
            duration=CORPUS_SECONDS,
            random_state=chunk,
        )
        for i, x in enumerate(data.recordings):
            paths.append(str(folder / f"c{chunk:02d}_{i:03d}.wav"))
            sf.write(paths[-1], x, 22050, subtype="PCM_16")
    return paths


def _throughput_rows(paths: list[str]) -> list[dict]:
    rows = []
    seed = load_recordings(SEED_DIR).recordings
    seed_seconds = float(seed.durations.sum())
    files = RecordingFiles.from_paths(paths)

    def corpus(n_jobs):
        chain = _chain(n_jobs).fit(files[:2])
        for start in range(0, len(files), BATCH):
            chain.transform(files[start : start + BATCH])

    for name, audio, run in [
        ("seed recordings (49)", seed_seconds, lambda n: _chain(n).fit_transform(seed)),
        (f"synthetic corpus ({N_CORPUS} files)", N_CORPUS * CORPUS_SECONDS, corpus),
    ]:
        one = _timed(lambda run=run: run(1))
        two = _timed(lambda run=run: run(2))
        _results.setdefault("xrt", {})[name] = (audio / one, audio / two)
        for workers, seconds in [(1, one), (2, two)]:
            rows.append(
                {
                    "measure": f"signal chain, {name}, {workers} worker(s)",
                    "value": f"{audio / seconds:.0f} x realtime "
                    f"({audio:.0f} s of audio in {seconds:.1f} s)",
                    "ratio": "" if workers == 1 else f"{one / two:.2f}x 1 worker",
                }
            )
    return rows


def _streaming_rows(paths: list[str], folder: Path) -> list[dict]:
    data = make_recordings(
        n_patients=4, recordings_per_patient=2, duration=10.0, random_state=0
    )
    model = make_stenosis_pipeline(max_epochs=1, device="cpu", random_state=0)
    model.fit(data.recordings, data.target)
    save_model(model, folder / "model.vsk")
    (folder / "files.json").write_text(json.dumps(paths))
    rows, found = [], {}
    for n in (100, N_CORPUS):
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                _STREAM,
                str(folder / "model.vsk"),
                str(folder / "files.json"),
                str(n),
                str(folder / f"screen{n}.csv"),
            ],
            capture_output=True,
            text=True,
            check=True,
            cwd=REPO,
        )
        found[n] = json.loads(done.stdout)
        rows.append(
            {
                "measure": f"streaming prediction, {n} recordings",
                "value": f"peak {found[n]['peak_mib']:.0f} MiB; "
                f"{found[n]['seconds']:.0f} s ({found[n]['seconds'] / n:.2f} s per "
                "recording)",
                "ratio": ""
                if n == 100
                else f"peak {found[n]['peak_mib'] / found[100]['peak_mib']:.2f}x "
                "100 recordings",
            }
        )
    _results["stream"] = found
    return rows


def _grid_rows() -> list[dict]:
    from distributed import Client, LocalCluster

    data = make_recordings(
        n_patients=6, recordings_per_patient=4, duration=10.0, random_state=0
    )
    grid = {
        "lowpass__cutoff": [800.0, 1000.0],
        "classifier__estimator__lr": [1e-3, 3e-4, 1e-4, 3e-5],
    }

    def search(memory, n_jobs=None):
        pipe = make_stenosis_pipeline(
            memory=memory, max_epochs=1, device="cpu", random_state=0
        ).set_params(classifier__estimator__arch="resnet18")
        gs = GridSearchCV(
            pipe, grid, cv=GroupKFold(3), scoring="accuracy", refit=False, n_jobs=n_jobs
        )
        start = time.perf_counter()
        gs.fit(data.recordings, data.target, groups=data.groups)
        return time.perf_counter() - start, gs.cv_results_["mean_test_score"]

    times, scores = {}, {}
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster),
    ):
        for engine in ("sequential", "loky, 2 workers", "Dask LocalCluster, 2 workers"):
            for cached in (False, True):
                with tempfile.TemporaryDirectory() as cache:
                    memory = cache if cached else None
                    if engine.startswith("Dask"):
                        with parallel_config(backend="dask"):
                            t, s = search(memory)
                    else:
                        t, s = search(memory, n_jobs=2 if "loky" in engine else None)
                times[engine, cached], scores[engine, cached] = t, s
    base = times["sequential", False]
    agree = all(np.allclose(s, scores["sequential", False]) for s in scores.values())
    _results["grid"] = (times, agree)
    rows = []
    for (engine, cached), seconds in times.items():
        rows.append(
            {
                "measure": f"grid search 8 x GroupKFold(3), {engine}, "
                + ("memory= cache" if cached else "no cache"),
                "value": f"{seconds:.0f} s",
                "ratio": f"{base / seconds:.2f}x sequential without cache",
            }
        )
    return rows


def _train_rate() -> float:
    """ResNet50 training cycles per second on this machine (default input)."""
    from vascular_sklearn import ResNetClassifier

    X = np.random.default_rng(0).random((96, 1, 40, 100), dtype=np.float32)
    y = np.array([0, 1] * 48)
    net = ResNetClassifier(
        max_epochs=1, batch_size=32, device="cpu", random_state=0, channels_last=True
    )
    net.fit(X[:32], y[:32])  # warm-up
    return len(X) / _timed(lambda: net.fit(X, y), repeats=1)


def run() -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = _write_corpus(folder)
        rows = _throughput_rows(paths)
        rows += _streaming_rows(paths, folder)
    rows += _grid_rows()
    _results["train_rate"] = _train_rate()
    rows.append(
        {
            "measure": "ResNet50 training, default input (40 x 100), 1 process",
            "value": f"{_results['train_rate']:.0f} cycles/s",
            "ratio": "",
        }
    )
    return rows


def notes() -> str:
    xrt1, xrt = _results["xrt"][f"synthetic corpus ({N_CORPUS} files)"]
    stream = _results["stream"]
    per_rec = stream[N_CORPUS]["seconds"] / N_CORPUS
    # the streaming process ran the chain in one worker and torch on both cores
    network = max(per_rec - CORPUS_SECONDS / xrt1, 0.0)
    _, agree = _results["grid"]
    # 100,000 recordings of 60 s on 32 nodes like this one (2 cores each)
    n, seconds, nodes = 100_000, 60.0, 32
    chain_total = n * seconds / xrt / nodes
    net_total = n * network / nodes
    train = n * 8 * 5 / _results["train_rate"] / nodes
    return "\n".join(
        [
            "Grid-search scores were "
            + ("identical" if agree else "NOT identical")
            + " across the six engine/cache runs (same candidates, same folds).",
            "",
            f"**Projection: 100,000 recordings of 60 s on {nodes} nodes like this one "
            "(2 cores each)**, from the costs measured above. Screening: the signal "
            f"chain runs at {xrt:.0f}x realtime per node with 2 workers, so "
            f"{n * seconds / 3600:.0f} h of audio take {chain_total / 3600:.1f} h of "
            f"cluster time; the network scores at most 16 cycles per recording "
            f"whatever its length ({network:.2f} s per recording here, streaming "
            f"total {per_rec:.2f} s per 10-s recording minus the chain), "
            f"{net_total / 3600:.1f} h. Screening the archive: about "
            f"{(chain_total + net_total) / 3600:.1f} h, dominated by the "
            + ("signal chain" if chain_total > net_total else "network")
            + ", with memory flat per worker (streaming above). Training the "
            "default (8 cycles per recording per epoch, 5 epochs) on all of them "
            f"at {_results['train_rate']:.0f} cycles/s per node, data-parallel "
            f"across {nodes} nodes with no communication cost counted: about "
            f"{train / 3600:.1f} h per fit, so a grid search of 8 candidates x 3 "
            f"folds (24 fits, each on two thirds) would take about "
            f"{24 * train * 2 / 3 / 3600:.0f} h: at that scale training dominates "
            "everything, and GPUs (device='cuda', accelerate) are the lever, not "
            "more CPU nodes. These are projections from single-node costs, not "
            "measurements on a cluster: scheduler overhead, file-system reads and "
            "gradient exchange are not in them.",
        ]
    )
