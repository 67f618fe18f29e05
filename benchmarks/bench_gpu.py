"""The cycle network on a CUDA GPU: mixed precision against float32, and the
wall time of a pretraining run the size of the heart-sound corpus.

Runs only where CUDA is present (``unavailable()`` says why not); on a machine
without a GPU the runner keeps this section from its last run.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from sklearn.base import clone

from vascular_sklearn import make_stenosis_pipeline
from vascular_sklearn.datasets import make_recordings
from vascular_sklearn.network import CycleResNet

from .bench_network import _throughput
from .common import default_image_shape

TITLE = "GPU: network throughput and pretraining wall time (CUDA)"
# the corpus of the transfer benchmark: 1699 recordings, 10.2 h at 2 kHz
CORPUS = {"n_recordings": 1699, "duration": 21.6, "sample_rate": 2000.0}
PRETRAIN_EPOCHS, PRETRAIN_CYCLES = 2, 4
DESCRIPTION = (
    "Part 1, throughput: ResNet50 (the default CycleResNet) on random inputs of "
    "the default pipeline's image shape, training (forward, backward, Adam step) "
    "and inference in cycles per second, the best of 5 timings of 20 "
    "consecutive batches after 5 warm-up batches, the GPU synchronised before "
    "and after each timing; every GPU setting is "
    "compared with float32 at the same batch size, and the CPU row (the GPU "
    "machine's own cores, torch threads = cores) with float32 at batch 32. "
    "Part 2, pretraining: the pipeline vascular_sklearn.pretraining.pretrain "
    f"fits in the transfer benchmark ({PRETRAIN_EPOCHS} epochs of "
    f"{PRETRAIN_CYCLES} cycles per recording, make_stenosis_pipeline("
    "random_state=0, classifier__on_empty='prior')) but device='cuda', with "
    "bfloat16 autocast (the default on a GPU that has it) and without, on a "
    f"synthetic corpus of the heart-sound corpus's size ({CORPUS['n_recordings']} "
    f"recordings of {CORPUS['duration']} s at {CORPUS['sample_rate']:.0f} Hz, "
    "make_recordings(random_state=0)): the PhysioNet files (80 MiB) cannot "
    "travel to the GPU machine, and the cost of a cycle does not depend on what "
    "it sounds like. The signal steps (before the classifier; CPU whatever the "
    "device) run once and are timed apart, then again with n_jobs=-1 on each "
    "step that takes it (joblib, all cores); each network row is the classifier's "
    "fit on their output, and 'with signal steps' the pretraining's wall time."
)

_NOTES: list[str] = []


def unavailable() -> str | None:
    """Why this benchmark cannot run here, or None."""
    return None if torch.cuda.is_available() else "no CUDA device"


def _throughput_rows(shape: tuple[int, ...]) -> list[dict]:
    settings = {
        "float32": {},
        "bf16 autocast": {"autocast": True},
        "bf16 autocast + channels_last": {"autocast": True, "channels_last": True},
    }
    rows = []
    # the CPU reference is timed as the GPU rows are: its ratio compares them
    timed = {"repeats": 5, "warmup": 5, "steps": 20}
    for batch in (32, 256):
        torch.manual_seed(0)
        X = torch.randn(batch, *shape, device="cuda")
        y = torch.randint(0, 2, (batch,), device="cuda")
        base = None
        for name, options in settings.items():
            module = CycleResNet("resnet50", **options).to("cuda")
            train = _throughput(module, X, y, train=True, **timed)
            infer = _throughput(module, X, y, train=False, **timed)
            base = base or (train, infer)
            rows.append(_row(f"cuda, {name}", batch, train, infer, base))
    torch.manual_seed(0)
    X, y = torch.randn(32, *shape), torch.randint(0, 2, (32,))
    module = CycleResNet("resnet50")
    train = _throughput(module, X, y, train=True, **timed)
    infer = _throughput(module, X, y, train=False, **timed)
    gpu = rows[0]
    cpu_base = (gpu["train cycles/s"], gpu["inference cycles/s"])
    rows.append(_row("cpu, float32 (reference)", 32, train, infer, cpu_base))
    return rows


def _row(setting, batch, train, infer, base) -> dict:
    return {
        "setting": setting,
        "batch": batch,
        "train cycles/s": round(train, 1),
        "train ratio": round(train / base[0], 2),
        "inference cycles/s": round(infer, 1),
        "inference ratio": round(infer / base[1], 2),
    }


def _pretraining_rows(corpus: dict, device: str = "cuda") -> list[dict]:
    per_patient = 4
    data = make_recordings(
        n_patients=-(-corpus["n_recordings"] // per_patient),
        recordings_per_patient=per_patient,
        duration=corpus["duration"],
        sample_rate=corpus["sample_rate"],
        random_state=0,
    )
    X = data.recordings[: corpus["n_recordings"]]
    y = data.target[: corpus["n_recordings"]]
    pipe = make_stenosis_pipeline(
        random_state=0,
        device=device,
        max_epochs=PRETRAIN_EPOCHS,
        classifier__estimator__max_cycles_per_group=PRETRAIN_CYCLES,
        classifier__on_empty="prior",
    )
    # pretrain() fits this pipeline; its signal steps run once on the CPU
    # whatever the device, so they are timed once and the network apart
    start = time.perf_counter()
    bags = pipe[:-1].fit_transform(X, y)
    signal = time.perf_counter() - start
    rows = [{"setting": "pretraining: signal steps (CPU)", "seconds": round(signal, 1)}]
    # the same steps with every core: what a GPU machine's idle CPUs can give
    parallel = make_stenosis_pipeline(random_state=0, n_jobs=-1)[:-1]
    start = time.perf_counter()
    parallel.fit_transform(X, y)
    seconds = time.perf_counter() - start
    rows.append(
        {
            "setting": "pretraining: signal steps (CPU), n_jobs=-1 where taken",
            "seconds": round(seconds, 1),
            "ratio": round(signal / seconds, 2),
        }
    )
    base = None
    for name, autocast in [("float32", False), ("bf16 autocast", True)]:
        network = clone(pipe[-1]).set_params(estimator__autocast=autocast)
        if device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        network.fit(bags, y)
        seconds = time.perf_counter() - start
        base = base or seconds
        rows.append(
            {
                "setting": f"pretraining: network on {device}, {name}",
                "seconds": round(seconds, 1),
                "ratio": round(base / seconds, 2),
                "with signal steps s": round(seconds + signal, 1),
                "peak GPU MiB": round(torch.cuda.max_memory_allocated() / 2**20)
                if device == "cuda"
                else "",
            }
        )
    return rows


def run(corpus: dict | None = None) -> list[dict]:
    _NOTES.clear()
    reason = unavailable()
    if reason:
        raise RuntimeError(f"bench_gpu needs a CUDA GPU: {reason}")
    shape = default_image_shape()
    rows = _throughput_rows(shape)
    rows += _pretraining_rows(corpus or CORPUS)
    props = torch.cuda.get_device_properties(0)
    _NOTES.append(
        f"GPU: {props.name}, {props.total_memory / 2**30:.0f} GiB, "
        f"bfloat16 supported: {torch.cuda.is_bf16_supported()}; images "
        f"{' x '.join(map(str, shape))}; {np.prod(shape)} values per cycle."
    )
    return rows


def notes() -> str:
    return "\n".join(_NOTES)


if __name__ == "__main__":
    for row in run():
        print(row)
