"""Training levers of the recommended pipeline, end to end on synthetic data."""

from __future__ import annotations

import tempfile
import time

import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, GroupKFold

from vascular_sklearn import make_stenosis_pipeline
from vascular_sklearn.datasets import make_recordings

TITLE = "Recommended pipeline: training levers (synthetic data, one patient fold)"
DESCRIPTION = (
    "make_recordings(random_state=0): 32 recordings of 8 patients (their cycles "
    "counted under the table). The "
    "first GroupKFold(4) split by patient whose test patients hold both classes "
    "(24 training, 8 test recordings); fit and "
    "predict wall time on 2 cores, and the test recordings' ROC AUC. Each row "
    "changes one lever of make_stenosis_pipeline(random_state=0) (the linear "
    "image three settings: log, subtract_mean and floor_db); ratio = "
    "default time / row time, same run. Grid-search rows: GridSearchCV over 4 "
    "network candidates (lr x max_epochs, resnet18) with GroupKFold(3) by "
    "patient on all 32 recordings, refit included, with and without the "
    "Pipeline's memory= (a joblib cache in a temporary folder, empty at the "
    "start), so candidates that share the signal steps reuse them; ratio = "
    "uncached / cached."
)

ROWS = {
    "default (8 cycles/recording/epoch, 5 epochs, log, channels-last)": {},
    "every cycle each epoch": {"classifier__estimator__max_cycles_per_group": None},
    "without channels-last": {"classifier__estimator__channels_last": False},
    # the own-spectrum image is a log ratio: the linear image drops it too
    "linear magnitude (no log, no own-spectrum division)": {
        "spectrogram__log": False,
        "spectrogram__subtract_mean": False,
        "spectrogram__floor_db": None,
    },
    "early stopping (patience 1, a fifth of the training patients held out)": {
        "classifier__estimator__early_stopping": 1,
    },
    "smaller input (50 frames: 20 x 50)": {"spectrogram__n_frames": 50},
}


_NOTES: list[str] = []


def run() -> list[dict]:
    data = make_recordings(random_state=0)
    cycles = make_stenosis_pipeline()[:3].fit_transform(data.recordings).n_cycles
    _NOTES[:] = [f"The 32 recordings hold {cycles.sum()} cycles as the default cuts."]
    splits = GroupKFold(4).split(data.recordings, data.target, data.groups)
    # the first fold whose test patients hold both classes, so AUC is defined
    train, test = next((a, b) for a, b in splits if len(set(data.target[b])) == 2)
    rows, base = [], None
    for name, params in ROWS.items():
        pipe = make_stenosis_pipeline(random_state=0, device="cpu").set_params(**params)
        start = time.perf_counter()
        # the patients reach the network's validation split, which holds out
        # whole patients (their recordings otherwise sit on both sides of it)
        pipe.fit(
            data.recordings[train],
            data.target[train],
            classifier__groups=data.groups[train],
        )
        proba = pipe.predict_proba(data.recordings[test])[:, 1]
        seconds = time.perf_counter() - start
        base = base or seconds
        y = data.target[test]
        auc = roc_auc_score(y, proba) if len(np.unique(y)) == 2 else float("nan")
        rows.append(
            {
                "setting": name,
                "seconds": round(seconds, 1),
                "ratio": round(base / seconds, 2),
                "test AUC": round(auc, 3),
            }
        )
    return rows + _grid_rows(data)


def _grid_rows(data) -> list[dict]:
    grid = {
        "classifier__estimator__lr": [1e-3, 3e-4],
        "classifier__estimator__max_epochs": [1, 2],
    }
    rows, base = [], None
    for label in ("grid search, signal steps recomputed", "grid search, memory="):
        with tempfile.TemporaryDirectory() as cache:
            pipe = make_stenosis_pipeline(
                memory=cache if label.endswith("memory=") else None,
                random_state=0,
                device="cpu",
            ).set_params(classifier__estimator__arch="resnet18")
            search = GridSearchCV(pipe, grid, cv=GroupKFold(3), scoring="accuracy")
            start = time.perf_counter()
            search.fit(data.recordings, data.target, groups=data.groups)
            seconds = time.perf_counter() - start
        base = base or seconds
        rows.append(
            {
                "setting": f"{label} (4 candidates x 3 folds + refit)",
                "seconds": round(seconds, 1),
                "ratio": round(base / seconds, 2),
                "test AUC": "",
            }
        )
    return rows


def notes() -> str:
    return "\n".join(_NOTES)
