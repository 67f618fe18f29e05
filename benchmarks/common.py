"""Helpers shared by the benchmarks: data location, timing, parity."""

from __future__ import annotations

import csv
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SEED_DIR = REPO.parent / "shared" / "data" / "seed_recordings"


def best_time(fn: Callable[[], object], repeats: int = 3) -> tuple[float, object]:
    """Best wall time of ``repeats`` calls, and the last result."""
    best, result = np.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


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
