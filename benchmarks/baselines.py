"""Baseline models every evaluation scores beside the network, on the same splits.

All are logistic regressions with balanced class weights and C chosen by
StratifiedGroupKFold(3) inside the training data (nested: never on a test fold).
"""

from __future__ import annotations

import numpy as np
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from vascular_sklearn import LowpassFilter, MeanSmoother, PeakCycleCutter
from vascular_sklearn.features import BeatEnvelopeFeatures


def log_rms(signals) -> np.ndarray:
    """Loudness: the log RMS of each raw recording (one column)."""
    return np.array(
        [
            [np.log(np.sqrt(np.mean(np.square(x, dtype=np.float64))) + 1e-9)]
            for x in signals.data
        ]
    )


def band_shares(signals) -> np.ndarray:
    """Log share of each recording's power in 100 Hz bands from 0 to 2 kHz;
    NaN (the imputer's missing marker) for a silent recording, which has none.
    Bands above a recording's Nyquist frequency hold no power and are constant
    (at 2 kHz, the 1-2 kHz bands: the scaler gives them no weight)."""
    rows = []
    for x in signals.data:
        power = np.abs(np.fft.rfft(np.asarray(x, np.float64))) ** 2
        freqs = np.fft.rfftfreq(len(x), 1 / signals.sample_rate)
        bands = [
            power[(freqs >= lo) & (freqs < lo + 100)].sum()
            for lo in range(0, 2000, 100)
        ]
        total = power.sum()
        if not total > 0:
            rows.append(np.full(len(bands), np.nan))
            continue
        rows.append(np.log(np.array(bands) / total + 1e-12))
    return np.array(rows)


def tuned_logistic() -> GridSearchCV:
    """Imputer, scaler and balanced logistic regression, C tuned by
    StratifiedGroupKFold(3) on the ``groups`` given to ``fit``."""
    # the imputer gives a recording without features (no cycle cut) the
    # training mean: a "don't know" near the prior, as the network's on_empty
    return GridSearchCV(
        make_pipeline(
            SimpleImputer(),
            StandardScaler(),
            LogisticRegression(class_weight="balanced", max_iter=1000),
        ),
        {"logisticregression__C": [0.01, 0.1, 1.0, 10.0]},
        cv=StratifiedGroupKFold(3),
        scoring="roc_auc",
    )


def _on(features) -> Pipeline:
    return Pipeline(
        [("features", FunctionTransformer(features)), ("model", tuned_logistic())]
    )


def band_power_model() -> Pipeline:
    """Logistic regression on :func:`band_shares`."""
    return _on(band_shares)


def loudness_model() -> Pipeline:
    """Logistic regression on :func:`log_rms`."""
    return _on(log_rms)


def envelope_model() -> Pipeline:
    """Logistic regression on the recorder-robust beat-envelope features."""
    return Pipeline(
        [
            ("lowpass", LowpassFilter()),
            ("smooth", MeanSmoother(method="median")),
            ("cut", PeakCycleCutter()),
            ("features", BeatEnvelopeFeatures(on_empty="nan")),
            ("model", tuned_logistic()),
        ]
    )
