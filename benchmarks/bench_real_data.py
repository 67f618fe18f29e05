"""Patient-grouped evaluation on the 49 seed recordings, against baselines.

A first measurement for the evaluation issue: the recommended pipeline and two
baselines on the same GroupKFold(5) splits by patient, out-of-fold probabilities
pooled over the folds (several patients have one class only).
"""

from __future__ import annotations

import time

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, LeaveOneGroupOut, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from vascular_sklearn import make_stenosis_pipeline
from vascular_sklearn.datasets import load_recordings
from vascular_sklearn.evaluation import (
    check_group_split,
    clinical_report,
    evaluate_by_patient,
)

from .common import SEED_DIR

TITLE = "Seed recordings: patient-grouped 5-fold evaluation against baselines"
DESCRIPTION = (
    "49 recordings, 12 patients; GroupKFold(5) and leave-one-patient-out over "
    "patient ids, the same splits for every row of a protocol; out-of-fold "
    "recording probabilities pooled before computing "
    "the metrics (threshold 0.5). Loudness: logistic regression on the log RMS of "
    "the raw recording (it should not work: it measures the recording session). "
    "Band powers: logistic regression on the log share of power in 100 Hz bands "
    "from 0 to 2 kHz (scale-invariant). Wall time on 2 cores."
)


def _log_rms(signals) -> np.ndarray:
    return np.array(
        [
            [np.log(np.sqrt(np.mean(x.astype(np.float64) ** 2)) + 1e-9)]
            for x in signals.data
        ]
    )


def _band_shares(signals) -> np.ndarray:
    rows = []
    for x in signals.data:
        power = np.abs(np.fft.rfft(x.astype(np.float64))) ** 2
        freqs = np.fft.rfftfreq(len(x), 1 / signals.sample_rate)
        bands = [
            power[(freqs >= lo) & (freqs < lo + 100)].sum()
            for lo in range(0, 2000, 100)
        ]
        rows.append(np.log(np.array(bands) / power.sum() + 1e-12))
    return np.array(rows)


def _baseline(features):
    return make_pipeline(
        FunctionTransformer(features),
        StandardScaler(),
        LogisticRegression(C=1.0, class_weight="balanced"),
    )


def run() -> list[dict]:
    data = load_recordings(SEED_DIR)
    X, y, groups = data.recordings, data.target, data.groups
    rows = []
    for protocol, cv in [
        ("GroupKFold(5)", GroupKFold(5)),
        ("leave one patient out", LeaveOneGroupOut()),
    ]:
        splits = check_group_split(cv, X, y, groups)
        start = time.perf_counter()
        pipe = make_stenosis_pipeline(random_state=0, device="cpu")
        result = evaluate_by_patient(pipe, X, y, groups, cv=splits)
        seconds = time.perf_counter() - start
        rows.append(
            _row(protocol, "recommended pipeline (ResNet50)", result.recording, seconds)
        )
        rows.append(_row(protocol, "  same, per cycle", result.cycle, None))
        for name, features in [
            ("loudness only (log RMS)", _log_rms),
            ("band powers (log shares)", _band_shares),
        ]:
            start = time.perf_counter()
            proba = cross_val_predict(
                _baseline(features), X, y, cv=splits, method="predict_proba"
            )[:, 1]
            rows.append(
                _row(
                    protocol,
                    name,
                    clinical_report(y, proba),
                    time.perf_counter() - start,
                )
            )
    return rows


def _row(protocol: str, name: str, report: dict, seconds: float | None) -> dict:
    keys = ["roc_auc", "balanced_accuracy", "sensitivity", "specificity", "accuracy"]
    row = {"protocol": protocol, "model": name, "n": report["n"]}
    row.update({k: round(report[k], 3) for k in keys})
    row["seconds"] = "" if seconds is None else round(seconds, 1)
    return row
