"""Clinical metrics as scikit-learn scorers."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import get_scorer, make_scorer, recall_score

__all__ = ["clinical_scoring", "sensitivity_score", "specificity_score"]


def sensitivity_score(y_true: Any, y_pred: Any, *, pos_label: Any = 1) -> float:
    """Fraction of stenotic recordings flagged: TP / (TP + FN).

    Examples
    --------
    >>> sensitivity_score([1, 1, 0, 0], [1, 0, 0, 1])
    0.5
    """
    return float(
        recall_score(y_true, y_pred, pos_label=pos_label, zero_division=np.nan)
    )


def specificity_score(y_true: Any, y_pred: Any, *, pos_label: Any = 1) -> float:
    """Fraction of normal recordings cleared: TN / (TN + FP).

    Examples
    --------
    >>> specificity_score([1, 1, 0, 0, 0], [1, 0, 0, 0, 1])
    0.6666666666666666
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    negatives = y_true != pos_label
    if not negatives.any():
        return float("nan")
    return float(np.mean(y_pred[negatives] != pos_label))


def clinical_scoring(pos_label: Any = 1) -> dict:
    """Scorers for ``cross_validate``/``GridSearchCV``: accuracy, sensitivity,
    specificity, balanced accuracy and ROC AUC.

    A fold whose test patients hold one class only has no defined sensitivity
    (or specificity) or AUC; those come out NaN. Pool out-of-fold predictions
    (``cross_val_predict``) before computing them over such splits.

    Examples
    --------
    >>> sorted(clinical_scoring())
    ['accuracy', 'balanced_accuracy', 'roc_auc', 'sensitivity', 'specificity']
    """
    return {
        "accuracy": get_scorer("accuracy"),
        "sensitivity": make_scorer(sensitivity_score, pos_label=pos_label),
        "specificity": make_scorer(specificity_score, pos_label=pos_label),
        "balanced_accuracy": get_scorer("balanced_accuracy"),
        "roc_auc": get_scorer("roc_auc"),
    }
