"""scikit-learn's estimator checks, and our own invariants for the bag steps."""

from functools import partial

import pytest
from sklearn.utils.estimator_checks import estimator_checks_generator

from vascular_sklearn import LowpassFilter, MeanSmoother

# Checks that do not apply, with the reason. The array-API check only runs when
# SCIPY_ARRAY_API is set and would otherwise report a skip; the signal steps take
# NumPy input only.
NOT_APPLICABLE = {"check_array_api_input": "NumPy input only"}


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
        _checks([LowpassFilter(), LowpassFilter(method="butterworth"), MeanSmoother()])
    ),
)
def test_sklearn_compatible_filters(estimator, check):
    check(estimator)
