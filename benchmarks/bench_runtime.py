"""Screening without torch: the ONNX export against the torch pipeline."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from importlib import metadata
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from benchmarks.bench_scale import N_CORPUS, _write_corpus
from benchmarks.common import SEED_DIR, stream_screening
from vascular_sklearn import Signals, make_stenosis_pipeline
from vascular_sklearn.audio import read_recording
from vascular_sklearn.corpus import RecordingFiles, find_recordings
from vascular_sklearn.datasets import make_recordings
from vascular_sklearn.persistence import export_onnx, save_model
from vascular_sklearn.runtime import load_onnx

TITLE = "Screening without torch: ONNX export and runtime"
DESCRIPTION = (
    "Model: the default pipeline (ResNet50, 16 cycles per recording) trained for "
    "1 epoch on 8 synthetic recordings of 10 s (agreement, speed and memory "
    "only), saved, and exported with `export_onnx` (float32 graph). Agreement: "
    "both pipelines on the 49 seed recordings; cycles = the spectrogram images "
    "of the rebuilt signal chain against the torch pipeline's, compared exactly. "
    "Speed: 512 real cycles (seed spectrograms) in batches of 64, best of 3, "
    "torch threads and onnxruntime threads = cores; torch bf16 = the same "
    "network under CPU bf16 autocast. Latency: `predict_proba` on the first 60 s "
    "of a seed recording, reading excluded, best of 5. Screening: "
    f"`predict_files` over {N_CORPUS} synthetic 10-s WAVs in batches of 32, in a "
    "fresh process each (peak = VmHWM). Install size: the files on disk of "
    "every distribution a `pip install` of the extra pulls in (its requirement "
    "closure, this package's own files excluded), measured in the benchmark's "
    "environment. Ratios: against the torch fp32 row of the same run."
)

_NOTES: list[str] = []


def _fitted(folder: Path):
    data = make_recordings(
        n_patients=4, recordings_per_patient=2, duration=10.0, random_state=0
    )
    model = make_stenosis_pipeline(max_epochs=1, random_state=0)
    model.fit(data.recordings, data.target)
    save_model(model, folder / "model.vsk")
    start = time.perf_counter()
    export_onnx(model, folder / "screening.onnx")
    seconds = time.perf_counter() - start
    return model, load_onnx(folder / "screening.onnx"), seconds


def _closure(extras: set[str]) -> set[str]:
    """Distributions ``pip install vascular-sklearn[extras]`` installs."""
    found, todo = set(), [("vascular-sklearn", frozenset(extras))]
    while todo:
        name, wanted = todo.pop()
        key = (canonicalize_name(name), wanted)
        if key in found:
            continue
        found.add(key)
        for line in metadata.distribution(name).requires or []:
            req = Requirement(line)
            envs = [{"extra": e} for e in wanted] or [{"extra": ""}]
            if req.marker is None or any(req.marker.evaluate(env) for env in envs):
                todo.append((req.name, frozenset(req.extras)))
    return {name for name, _ in found} - {"vascular-sklearn"}


def _installed_mib(names: set[str]) -> float:
    total = 0
    for name in names:
        dist = metadata.distribution(name)
        for f in dist.files or []:
            path = Path(dist.locate_file(f))
            if path.is_file():
                total += path.stat().st_size
    return total / 2**20


def _cycles_per_second(predict, images: np.ndarray) -> float:
    best = np.inf
    predict(images[:64])  # warm-up
    for _ in range(3):
        start = time.perf_counter()
        for i in range(0, len(images), 64):
            predict(images[i : i + 64])
        best = min(best, time.perf_counter() - start)
    return len(images) / best


def _latency(model, minute) -> float:
    times = []
    for _ in range(5):
        start = time.perf_counter()
        model.predict_proba(minute)
        times.append(time.perf_counter() - start)
    return min(times)


def run() -> list[dict]:
    threads = torch.get_num_threads()
    torch.set_num_threads(len(os.sched_getaffinity(0)))
    try:  # given back: the benchmarks after this one run in the same process
        return _run()
    finally:
        torch.set_num_threads(threads)


def _run() -> list[dict]:
    _NOTES.clear()
    folder = Path(tempfile.mkdtemp(prefix="bench_runtime_"))
    model, light, export_seconds = _fitted(folder)
    files = RecordingFiles.from_paths(find_recordings(SEED_DIR))
    images = model[:-1].transform(files)
    light_images = light[:-1].transform(files)
    same = np.array_equal(images.offsets, light_images.offsets) and np.array_equal(
        images.images, light_images.images
    )
    expected = model[-1].predict_proba(images)[:, 1]
    got = light[-1].predict_proba(light_images)[:, 1]
    rows = [
        {
            "measure": "agreement on the 49 seed recordings",
            "torch fp32": f"p(stenosis) {expected.min():.3f} to {expected.max():.3f}",
            "torch bf16": "",
            "onnxruntime": "largest difference in p(stenosis) "
            f"{np.abs(got - expected).max():.1e}; "
            f"{int(images.n_cycles.sum())} cycles cut, "
            + ("identical images" if same else "DIFFERENT cycles or images"),
        }
    ]

    network = model[-1].estimator_
    module = network.net_.module_
    cycles = images.images[:512]

    def bf16(X):
        module.autocast, module.autocast_dtype = True, torch.bfloat16
        try:
            return network.predict_proba(X)
        finally:
            module.autocast = False

    speed = {
        "torch fp32": _cycles_per_second(network.predict_proba, cycles),
        "torch bf16": _cycles_per_second(bf16, cycles),
        "onnxruntime": _cycles_per_second(light[-1].estimator_.predict_proba, cycles),
    }
    rows.append(
        {"measure": "inference, cycles/s"}
        | {
            k: f"{v:.0f} ({v / speed['torch fp32']:.2f}x torch fp32)"
            for k, v in speed.items()
        }
    )
    longest = next(p for p in files.paths if sf.info(p).duration >= 60)
    x, rate = read_recording(longest, 22050)
    minute = Signals.from_arrays([x[: int(60 * rate)]], rate)
    module.autocast = False
    latency = {"torch fp32": _latency(model, minute)}
    module.autocast = True
    latency["torch bf16"] = _latency(model, minute)
    module.autocast = False
    latency["onnxruntime"] = _latency(light, minute)
    rows.append(
        {"measure": "60-s recording, predict_proba seconds"}
        | {
            k: f"{v:.2f} ({v / latency['torch fp32']:.2f}x torch fp32)"
            for k, v in latency.items()
        }
    )

    corpus = folder / "corpus"
    corpus.mkdir()
    (folder / "files.json").write_text(json.dumps(_write_corpus(corpus)))
    screened = {
        name: stream_screening(
            folder / model_file, folder / "files.json", N_CORPUS, folder / f"{name}.csv"
        )
        for name, model_file in [
            ("torch fp32", "model.vsk"),
            ("onnxruntime", "screening.onnx"),
        ]
    }
    rows.append(
        {"measure": f"screening {N_CORPUS} files: peak memory, time"}
        | {
            k: f"{v['peak_mib']:.0f} MiB, {v['seconds']:.0f} s"
            f" ({v['peak_mib'] / screened['torch fp32']['peak_mib']:.2f}x memory)"
            + ("" if v["torch_loaded"] else "; torch never imported")
            for k, v in screened.items()
        }
    )
    sizes = {
        "torch fp32": _installed_mib(_closure({"network"})),
        "onnxruntime": _installed_mib(_closure({"runtime"})),
    }
    rows.append(
        {"measure": "install size (requirement closure on disk)"}
        | {k: f"{v:.0f} MiB ({v / sizes['torch fp32']:.3f}x)" for k, v in sizes.items()}
    )
    onnx_mib = (folder / "screening.onnx").stat().st_size / 2**20
    _NOTES.append(
        f"The export took {export_seconds:.0f} s and the file is {onnx_mib:.0f} MiB "
        f"(the model file: {(folder / 'model.vsk').stat().st_size / 2**20:.0f} MiB). "
        "The runtime install is `vascular-sklearn[runtime]`: "
        + ", ".join(sorted(_closure({"runtime"})))
        + "."
    )
    shutil.rmtree(folder)
    return rows


def notes() -> str:
    return "\n".join(_NOTES)
