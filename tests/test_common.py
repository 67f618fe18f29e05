"""scikit-learn's estimator checks, and our own invariants for the bag steps."""

from functools import partial

import pytest
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import estimator_checks_generator

from vascular_sklearn import (
    LowpassFilter,
    MeanSmoother,
    PeakCycleCutter,
    STFTSpectrogram,
)
from vascular_sklearn.robustness import NoiseFloorHarmonizer, RecorderAugmentation

# Checks that do not apply, with the reason. The array-API check only runs when
# SCIPY_ARRAY_API is set and would otherwise report a skip; the signal steps take
# NumPy input only. The others are checks of tabular transformers: the signal
# steps take recordings (a 2-D array is one recording per row) and return
# Signals, which carry what a bare array would lose (the sample rate, the
# smoothed reference the cutter finds peaks on, the clipping measured before
# filtering); a 2-D array gave other answers than the same recordings as a list.
_TABULAR = "recordings in, Signals out: not a tabular transformer"
NOT_APPLICABLE = {
    "check_array_api_input": "NumPy input only",
    "check_transformer_general": _TABULAR,
    "check_transformer_preserve_dtypes": _TABULAR,
    # recordings of any length: no number of features to remember
    "check_n_features_in": _TABULAR,
    "check_n_features_in_after_fitting": _TABULAR,
    # integer samples are refused: 16-bit PCM as it is is 32768 times too loud
    "check_estimators_dtypes": "integer samples refused",
    # their data lie near 100, far beyond full scale (±1): refused as 16-bit
    # counts cast to float (audio.PEAK_LIMIT); fits are repeatable and leave
    # the step fitted in tests/test_signal_steps.py
    "check_fit_idempotent": "samples far beyond full scale refused",
    "check_fit_check_is_fitted": "samples far beyond full scale refused",
    # errors name the recording in words of their own (tests/test_bad_input.py)
    "check_complex_data": "own error message",
    "check_dtype_object": "own error message",
    "check_estimators_empty_data_messages": "own error message",
}


def _check_name(check) -> str:
    return (check.func if isinstance(check, partial) else check).__name__


def _checks(estimators):
    for est in estimators:
        for estimator, check in estimator_checks_generator(est, mark="skip"):
            if _check_name(check) not in NOT_APPLICABLE:
                yield pytest.param(estimator, check, id=f"{est!r}-{_check_name(check)}")


@pytest.mark.parametrize(
    ("estimator", "check"),
    list(
        _checks(
            [
                LowpassFilter(),
                LowpassFilter(method="butterworth"),
                MeanSmoother(),
                PeakCycleCutter(),
            ]
        )
    ),
)
def test_sklearn_compatible_signal_steps(estimator, check):
    check(estimator)


@pytest.mark.parametrize(
    "step",
    [
        LowpassFilter(),
        MeanSmoother(),
        PeakCycleCutter(),
        NoiseFloorHarmonizer(),
        RecorderAugmentation(),
        STFTSpectrogram(),
    ],
    ids=lambda step: type(step).__name__,
)
def test_recording_steps_name_no_features_before_fit(step):
    with pytest.raises(NotFittedError):
        step.get_feature_names_out()
