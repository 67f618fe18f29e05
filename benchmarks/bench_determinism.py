"""Same model on every backend: what pinning torch's threads costs."""

from __future__ import annotations

import time

import numpy as np
from joblib import Parallel, delayed, parallel_config
from sklearn.metrics import log_loss, make_scorer
from sklearn.model_selection import GridSearchCV, GroupKFold

from vascular_sklearn import make_seed_pipeline
from vascular_sklearn.datasets import make_recordings

TITLE = "Same answers on every backend: the cost of pinned torch threads"
DESCRIPTION = (
    "GridSearchCV of the seed pipeline (ResNet50, max_epochs=1, random_state=0) "
    "over lowpass cutoff 300/1000 Hz, GroupKFold(3) by patient on "
    "make_recordings(n_patients=6, recordings_per_patient=2, duration=8, "
    "random_state=1), scored by log-loss with labels [0, 1], refit=False. "
    "Pinned: the default of a seeded ResNetClassifier, min(8, cores) torch "
    "threads in every process; '1 thread' sets torch_threads=1. loky workers "
    "are started before timing. Difference: the largest |split score - the "
    "sequential pinned run's| (0 = the same models). Ratios: against the "
    "sequential pinned row, same run."
)

LOG_LOSS = make_scorer(
    log_loss, labels=[0, 1], response_method="predict_proba", greater_is_better=False
)


def _search(data, threads):
    pipe = make_seed_pipeline(max_epochs=1, random_state=0)
    pipe.set_params(classifier__estimator__torch_threads=threads)
    search = GridSearchCV(
        pipe,
        {"lowpass__cutoff": [300.0, 1000.0]},
        cv=GroupKFold(3),
        scoring=LOG_LOSS,
        refit=False,
    )
    start = time.perf_counter()
    search.fit(data.recordings, data.target, groups=data.groups)
    seconds = time.perf_counter() - start
    splits = [k for k in search.cv_results_ if k.startswith("split")]
    return seconds, np.array([search.cv_results_[k] for k in splits])


def run() -> list[dict]:
    data = make_recordings(
        n_patients=6, recordings_per_patient=2, duration=8.0, random_state=1
    )
    runs = {}
    runs["sequential, pinned"] = _search(data, None)
    runs["sequential, pinned, again"] = _search(data, None)
    with parallel_config(backend="loky", n_jobs=2):
        Parallel()(delayed(abs)(i) for i in range(4))  # start the workers
        runs["loky x 2 workers, pinned"] = _search(data, None)
        runs["loky x 2 workers, 1 thread each"] = _search(data, 1)
    runs["sequential, 1 thread"] = _search(data, 1)
    base_seconds, base_scores = runs["sequential, pinned"]
    return [
        {
            "run": name,
            "seconds": f"{seconds:.1f}",
            "ratio": f"{base_seconds / seconds:.2f}x the speed of sequential pinned",
            "difference": f"{np.abs(scores - base_scores).max():.2g}",
        }
        for name, (seconds, scores) in runs.items()
    ]
