"""CPU speed levers of the cycle network, each against the plain setting."""

from __future__ import annotations

import time

import numpy as np
import torch

from vascular_sklearn.network import CycleResNet, _torch_threads

TITLE = "Network speed levers (ResNet50 on 1 x 40 x 100 cycles, CPU)"
DESCRIPTION = (
    "Training (forward, backward, Adam step) and inference throughput in cycles per "
    "second, batch 32, random inputs, torch threads = cores; best of 2 timed "
    "batches after one warm-up batch. Each lever is compared with the plain "
    "setting measured in the same run. Cycle sampling is not a throughput lever: "
    "it cuts the cycles per epoch (see the classifier benchmark)."
)

LEVERS = {
    "plain": {},
    "channels_last": {"channels_last": True},
    "bf16 autocast": {"autocast": True},
    "no stem max-pool": {"keep_maxpool": False},
    # what each joblib worker should get when two fits run side by side
    "1 torch thread": {"torch_threads": 1},
}


def _throughput(
    module: torch.nn.Module,
    X,
    y,
    train: bool,
    repeats: int = 2,
    warmup: int = 1,
    steps: int = 1,
) -> float:
    """Cycles per second: the best of ``repeats`` timings of ``steps`` batches."""
    opt = torch.optim.Adam(module.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    module.train(train)

    def step():
        if train:
            opt.zero_grad()
            loss_fn(module(X), y).backward()
            opt.step()
        else:
            with torch.inference_mode():
                module(X)

    # a GPU queues work and returns at once: wait for it before reading the clock
    sync = torch.cuda.synchronize if X.is_cuda else lambda: None
    for _ in range(warmup):
        step()
    best = np.inf
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        for _ in range(steps):
            step()
        sync()
        best = min(best, time.perf_counter() - start)
    return steps * len(X) / best


def run(arch: str = "resnet50", batch: int = 32) -> list[dict]:
    torch.manual_seed(0)
    X = torch.randn(batch, 1, 40, 100)
    y = torch.randint(0, 2, (batch,))
    rows, base = [], None
    cores = torch.get_num_threads()
    for name, options in LEVERS.items():
        options = dict(options)
        threads = options.pop("torch_threads", cores)
        module = CycleResNet(arch, **options)
        with _torch_threads(threads):
            train = _throughput(module, X, y, train=True)
            infer = _throughput(module, X, y, train=False)
        base = base or (train, infer)
        rows.append(
            {
                "setting": name,
                "train cycles/s": round(train, 1),
                "train ratio": round(train / base[0], 2),
                "inference cycles/s": round(infer, 1),
                "inference ratio": round(infer / base[1], 2),
            }
        )
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
