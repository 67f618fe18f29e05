"""Patient-grouped evaluation with predictions pooled over folds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupKFold
from sklearn.utils import Bunch, _safe_indexing

from .metrics import sensitivity_score, specificity_score

__all__ = ["check_group_split", "clinical_report", "evaluate_by_patient"]


def check_group_split(cv: Any, X: Any, y: Any, groups: Any) -> list[tuple]:
    """The splits of ``cv``, after checking no group is on both sides of any.

    Raises
    ------
    ValueError
        Naming the fold and the groups found on both sides.

    Examples
    --------
    >>> from sklearn.model_selection import GroupKFold
    >>> X, g = list(range(6)), ["a", "a", "b", "b", "c", "c"]
    >>> len(check_group_split(GroupKFold(3), X, None, g))
    3
    >>> check_group_split([([0, 1, 2], [3, 4, 5])], X, None, g)
    Traceback (most recent call last):
    ...
    ValueError: fold 0 puts patients ['b'] on both sides: split by patient (GroupKFold)
    """
    groups = np.asarray(groups)
    # a splitter, or an iterable of (train, test) index arrays as sklearn accepts
    splits = list(cv.split(X, y, groups) if hasattr(cv, "split") else cv)
    splits = [(np.asarray(a), np.asarray(b)) for a, b in splits]
    for k, (train, test) in enumerate(splits):
        shared = np.intersect1d(groups[train], groups[test])
        if len(shared):
            raise ValueError(
                f"fold {k} puts patients {shared[:5].tolist()} on both sides: "
                "split by patient (GroupKFold)"
            )
    return splits


def clinical_report(y_true: Any, proba: Any, threshold: float = 0.5) -> dict:
    """Accuracy, sensitivity, specificity, balanced accuracy and ROC AUC.

    Examples
    --------
    >>> r = clinical_report([0, 0, 1, 1], [0.1, 0.6, 0.7, 0.9])
    >>> r["sensitivity"], r["specificity"], r["roc_auc"]
    (1.0, 0.5, 1.0)
    """
    y_true, proba = np.asarray(y_true), np.asarray(proba, dtype=float)
    y_pred = (proba >= threshold).astype(int)
    sens = sensitivity_score(y_true, y_pred)
    spec = specificity_score(y_true, y_pred)
    both = len(np.unique(y_true)) == 2
    return {
        "n": len(y_true),
        "accuracy": float(np.mean(y_pred == y_true)),
        "sensitivity": sens,
        "specificity": spec,
        "balanced_accuracy": (sens + spec) / 2,
        "roc_auc": float(roc_auc_score(y_true, proba)) if both else float("nan"),
    }


def evaluate_by_patient(
    pipeline: Any,
    X: Any,
    y: Any,
    groups: Any,
    cv: Any = None,
    progress: Callable[[str], None] | None = None,
) -> Bunch:
    """Out-of-fold predictions by patient, pooled, per recording and per cycle.

    Several patients have one class only, so per-fold sensitivity or AUC is often
    undefined; pooling the out-of-fold probabilities first is the honest summary.

    Parameters
    ----------
    pipeline : Pipeline
        Signal steps followed by a :class:`RecordingClassifier`.
    X, y, groups
        Recordings, labels, patient ids.
    cv : splitter, default=GroupKFold(5)
    progress : callable or None
        Called with a line of text after each fold.

    Returns
    -------
    result : Bunch
        ``recording_proba``, ``cycle_proba``, ``cycle_y``, ``cycle_recording``
        and ``fold`` arrays, and ``recording``/``cycle`` reports
        (:func:`clinical_report`).
    """
    y = np.asarray(y)
    cv = GroupKFold(5) if cv is None else cv
    splits = check_group_split(cv, X, y, groups)
    recording_proba = np.full(len(y), np.nan)
    fold = np.full(len(y), -1)
    cycle_parts = []
    for k, (train, test) in enumerate(splits):
        model = clone(pipeline).fit(_safe_indexing(X, train), y[train])
        features = model[:-1].transform(_safe_indexing(X, test))
        proba, rec = model[-1].predict_cycle_proba(features)
        recording_proba[test] = model[-1].predict_proba(features)[:, 1]
        fold[test] = k
        cycle_parts.append((proba[:, 1], test[rec]))
        if progress is not None:
            progress(f"fold {k + 1}/{len(splits)}: {len(test)} test recordings")
    cycle_proba = np.concatenate([p for p, _ in cycle_parts])
    cycle_recording = np.concatenate([r for _, r in cycle_parts])
    cycle_y = y[cycle_recording]
    return Bunch(
        recording_proba=recording_proba,
        fold=fold,
        cycle_proba=cycle_proba,
        cycle_y=cycle_y,
        cycle_recording=cycle_recording,
        recording=clinical_report(y, recording_proba),
        cycle=clinical_report(cycle_y, cycle_proba),
    )
