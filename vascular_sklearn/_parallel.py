"""The per-recording loop every step runs through joblib."""

from __future__ import annotations

from typing import Any

from joblib import Parallel, delayed

__all__ = ["map_recordings"]


def map_recordings(fn, items, n_jobs: int | None, *args: Any) -> list:
    """``[fn(item, *args) for item in items]``, in parallel through joblib.

    Runs under the active ``joblib.parallel_config`` (loky processes by
    default; Dask or Ray when configured), recordings batched automatically,
    results in input order.

    Examples
    --------
    >>> map_recordings(pow, [1, 2, 3], 2, 2)
    [1, 4, 9]
    """
    if n_jobs in (None, 1) and len(items) < 2:
        return [fn(item, *args) for item in items]
    return Parallel(n_jobs=n_jobs)(delayed(fn)(item, *args) for item in items)
