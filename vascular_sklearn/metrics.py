"""Clinical metrics as scikit-learn scorers."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import get_scorer, make_scorer, recall_score
from sklearn.utils import check_consistent_length, column_or_1d
from sklearn.utils.multiclass import type_of_target, unique_labels

from ._base import _missing_id

__all__ = [
    "clinical_scoring",
    "sensitivity_score",
    "specificity_at_sensitivity_score",
    "specificity_score",
]


def sensitivity_score(y_true: Any, y_pred: Any, *, pos_label: Any = 1) -> float:
    """Compute the fraction of stenotic recordings flagged: TP / (TP + FN).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_pred : array-like of shape (n_samples,)
        Predicted labels.
    pos_label : int or str, default=1
        The label of the positive (stenotic) class.

    Returns
    -------
    float
        The sensitivity (recall of ``pos_label``); NaN when ``y_true`` holds no
        positive sample.

    Raises
    ------
    ValueError
        If ``y_true`` and ``y_pred`` are empty or differ in length, ``y_pred``
        holds NaN or continuous values (probabilities: threshold them first),
        or ``pos_label`` is not one of the labels of a binary problem (from
        :func:`sklearn.metrics.recall_score`).

    Examples
    --------
    >>> sensitivity_score([1, 1, 0, 0], [1, 0, 0, 1])
    0.5
    """
    _check_not_empty(y_true)
    _check_labels(y_true, "y_true")
    _check_labels(y_pred)
    return float(
        recall_score(y_true, y_pred, pos_label=pos_label, zero_division=np.nan)
    )


def _check_not_empty(y_true: Any) -> None:
    # scikit-learn's recall refuses empty input from 1.7 on; 1.6 gave NaN
    if len(y_true) == 0:
        raise ValueError("Found empty input: no sample to score")


def _check_labels(y: Any, input_name: str = "y_pred") -> None:
    # specificity counted probabilities (or NaN) as "not pos_label": cleared
    # or normal; a None or NaN among words failed in numpy's sort, unnamed
    values = y if isinstance(y, np.ndarray) else np.asarray(y, dtype=object)
    if values.dtype.kind == "f":
        missing = int(np.isnan(values).sum())
    elif values.dtype == object:  # before np.asarray makes NaN the text "nan"
        missing = sum(map(_missing_id, values.ravel()))
    else:
        missing = 0
    if missing:
        neither = (
            "flagged nor cleared" if input_name == "y_pred" else "normal nor stenotic"
        )
        raise ValueError(
            f"{input_name} holds {missing} NaN or None: a missing label is "
            f"neither {neither}"
        )
    y = np.asarray(y)
    if type_of_target(y, input_name=input_name).startswith("continuous"):
        raise ValueError(
            "y_pred holds continuous values (probabilities or scores?): give "
            "predicted labels, e.g. (proba >= 0.5).astype(int), or score "
            "probabilities with evaluation.clinical_report"
            if input_name == "y_pred"
            else "y_true holds continuous values: give the true labels (are "
            "y_true and y_pred swapped?)"
        )


def specificity_score(y_true: Any, y_pred: Any, *, pos_label: Any = 1) -> float:
    """Compute the fraction of normal recordings cleared: TN / (TN + FP).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_pred : array-like of shape (n_samples,)
        Predicted labels.
    pos_label : int or str, default=1
        The label of the positive (stenotic) class; every other label is
        negative.

    Returns
    -------
    float
        The specificity; NaN when ``y_true`` holds no negative sample.

    Raises
    ------
    ValueError
        If ``y_true`` and ``y_pred`` are empty or differ in length, either
        holds NaN or continuous values (probabilities: threshold them first),
        or ``pos_label`` is not one of their labels when they hold two or more
        (as :func:`sensitivity_score`).

    Examples
    --------
    >>> specificity_score([1, 1, 0, 0, 0], [1, 0, 0, 0, 1])
    0.6666666666666666
    """
    check_consistent_length(y_true, y_pred)
    _check_labels(y_true, "y_true")
    _check_labels(y_pred)
    y_true, y_pred = column_or_1d(y_true), column_or_1d(y_pred)
    _check_not_empty(y_true)
    # words against numbers: 1 != "stenosis", so every recording flagged
    # counted as cleared (scikit-learn's own check refuses the mix)
    present = unique_labels(y_true, y_pred).tolist()
    if len(present) >= 2 and not any(label == pos_label for label in present):
        # every label would count as negative: a silently perfect score
        raise ValueError(
            f"pos_label={pos_label!r} is not a valid label. It should be one of "
            f"{present}"
        )
    negatives = y_true != pos_label
    if not negatives.any():
        return float("nan")
    return float(np.mean(y_pred[negatives] != pos_label))


def specificity_at_sensitivity_score(
    y_true: Any, y_pred: Any, *, min_sensitivity: float = 0.9, pos_label: Any = 1
) -> float:
    """Compute the specificity where the sensitivity reaches its target.

    Below ``min_sensitivity`` the score says how far the answers fall short.
    A screening test is held to a sensitivity first, then clears as many
    normal vessels as it can. As the scoring of
    :class:`sklearn.model_selection.TunedThresholdClassifierCV` this picks the
    threshold that does so, instead of the 0.5 that ``predict`` uses, where
    every fold holds both classes: that search averages each fold's score,
    and a fold of one class (a patient split of the seed recordings, say)
    scores NaN, after which it takes the lowest threshold without a word.
    With patient folds, pool the out-of-fold answers instead (``docs``,
    evaluation: "Choose the threshold on the training patients").

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_pred : array-like of shape (n_samples,)
        Predicted labels.
    min_sensitivity : float, default=0.9
        The share of stenotic recordings the answers must flag, in (0, 1].
    pos_label : int or str, default=1
        The label of the positive (stenotic) class.

    Returns
    -------
    float
        The specificity (0 to 1) when the sensitivity reaches
        ``min_sensitivity``; else the sensitivity minus 1 (negative: below
        every threshold that reaches it, and higher the closer it comes). NaN
        when either is undefined (one class only).

    Raises
    ------
    ValueError
        If ``min_sensitivity`` lies outside (0, 1], or as
        :func:`sensitivity_score` and :func:`specificity_score`.

    Examples
    --------
    >>> y_true = [1, 1, 1, 0, 0, 0]
    >>> specificity_at_sensitivity_score(y_true, [1, 1, 1, 1, 0, 0])
    0.6666666666666666
    >>> specificity_at_sensitivity_score(y_true, [1, 1, 0, 0, 0, 0])  # misses one
    -0.33333333333333337

    The threshold for 90 % sensitivity, chosen on out-of-fold answers (for a
    pipeline, give ``cv`` the patient splits:
    ``list(GroupKFold(5).split(X, y, groups))``):

    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.metrics import make_scorer
    >>> from sklearn.model_selection import TunedThresholdClassifierCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 1))
    >>> y = (X[:, 0] + rng.normal(size=200) > 0).astype(int)
    >>> scoring = make_scorer(specificity_at_sensitivity_score, min_sensitivity=0.9)
    >>> tuned = TunedThresholdClassifierCV(LogisticRegression(), scoring=scoring)
    >>> bool(tuned.fit(X, y).best_threshold_ < 0.5)  # flags more to miss fewer
    True
    """
    if not 0 < min_sensitivity <= 1:
        raise ValueError(
            f"min_sensitivity={min_sensitivity!r} is not a share of the stenotic "
            "recordings: give a number in (0, 1], e.g. 0.9"
        )
    sens = sensitivity_score(y_true, y_pred, pos_label=pos_label)
    spec = specificity_score(y_true, y_pred, pos_label=pos_label)
    if np.isnan(sens) or np.isnan(spec):
        return float("nan")
    # k / n against a decimal share: 0.9 reached by 9 of 10 must count
    return spec if sens >= min_sensitivity - 1e-12 else sens - 1.0


def _balanced_accuracy(y_true: Any, y_pred: Any, *, pos_label: Any = 1) -> float:
    """The mean of sensitivity and specificity, NaN where either is undefined:
    scikit-learn's ``balanced_accuracy_score`` gives a one-class fold's single
    recall instead, which would lift the mean over folds."""
    sens = sensitivity_score(y_true, y_pred, pos_label=pos_label)
    return (sens + specificity_score(y_true, y_pred, pos_label=pos_label)) / 2


def clinical_scoring(pos_label: Any = 1) -> dict:
    """Build the clinical scorers for ``cross_validate`` and ``GridSearchCV``.

    Accuracy, sensitivity, specificity, balanced accuracy (their mean, as
    :func:`~vascular_sklearn.evaluation.clinical_report` defines it) and ROC
    AUC. A fold whose test patients hold one class only has no defined
    sensitivity (or specificity), balanced accuracy or AUC; those come out NaN.
    Pool out-of-fold predictions (``cross_val_predict``) before computing them
    over such splits. With string labels, give ``pos_label``: otherwise every
    sensitivity and specificity fails, which ``cross_validate`` reports as NaN
    with a "Scoring failed" warning.

    Parameters
    ----------
    pos_label : int or str, default=1
        The label of the positive (stenotic) class, for sensitivity and
        specificity.

    Returns
    -------
    dict of str to callable
        Scorer per metric name, as ``scoring=`` accepts.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.dummy import DummyClassifier
    >>> scorers = clinical_scoring()
    >>> sorted(scorers)
    ['accuracy', 'balanced_accuracy', 'roc_auc', 'sensitivity', 'specificity']
    >>> X, y = np.zeros((4, 1)), np.array([0, 0, 0, 1])
    >>> always_normal = DummyClassifier(strategy="most_frequent").fit(X, y)
    >>> sens, spec = scorers["sensitivity"], scorers["specificity"]
    >>> sens(always_normal, X, y), spec(always_normal, X, y)
    (0.0, 1.0)
    """
    return {
        "accuracy": get_scorer("accuracy"),
        "sensitivity": make_scorer(sensitivity_score, pos_label=pos_label),
        "specificity": make_scorer(specificity_score, pos_label=pos_label),
        "balanced_accuracy": make_scorer(_balanced_accuracy, pos_label=pos_label),
        "roc_auc": get_scorer("roc_auc"),
    }
