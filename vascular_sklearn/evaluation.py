"""Patient-grouped evaluation with predictions pooled over folds."""

from __future__ import annotations

import ctypes
import dataclasses
import gc
from collections.abc import Callable
from numbers import Integral
from typing import Any

import numpy as np
from scipy.stats import rankdata
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import BaseCrossValidator, GroupKFold
from sklearn.pipeline import Pipeline
from sklearn.utils import Bunch, _safe_indexing, check_random_state
from sklearn.utils.validation import (
    _check_method_params,
    check_consistent_length,
)

from ._base import _refuse_missing, check_recording
from .audio import read_recording
from .containers import Signals
from .corpus import RecordingFiles
from .exceptions import RecordingError
from .metrics import sensitivity_score, specificity_score
from .recorder import LEVEL, Recorder, converter_step, rounding_snr_db
from .recording_classifier import _fit_keyword

__all__ = [
    "LeaveOneRecorderOut",
    "bootstrap_report",
    "check_group_split",
    "clinical_report",
    "device_confound",
    "device_properties",
    "evaluate_by_patient",
    "patient_level",
    "recorder_confound",
    "report_by_group",
    "rescaled",
]


def _numbered(X: Any) -> Any:
    """``X``, its recordings named by their place in it where they have no
    names: a fold's subset would number them from 0 in its messages."""
    if isinstance(X, Signals) and X.names is None:
        return dataclasses.replace(X, names=[f"recording {i}" for i in range(len(X))])
    return X


def _in_fold(
    error: RecordingError, k: int, part: str, positions: np.ndarray, X: Any
) -> RecordingError:
    """``error``, raised on fold ``k``'s ``part`` recordings, said of the
    fold; where the recordings have no names (a list of arrays), the number
    in the message counts within the fold, so X's numbers go beside it."""
    note = ""
    if getattr(X, "names", None) is None and not isinstance(X, RecordingFiles):
        shown = ", ".join(map(str, positions[:10])) + ", ..." * (len(positions) > 10)
        note = (
            f" (a recording's number counts within the fold's {part} recordings, "
            f"X's recordings {shown})"
        )
    return type(error)(f"fold {k}: {error}{note}")


def _release_memory() -> None:
    """Return the fold's freed memory to the system before the next fold.

    glibc keeps freed heap pages of a fold (audio copies, images, the network)
    in its arenas, fragmented, so resident memory grew by about 0.35 GiB per
    fold; ``malloc_trim`` hands them back. Elsewhere this is only a collection.
    """
    gc.collect()
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc
        return
    trim = getattr(libc, "malloc_trim", None)
    if trim is not None:
        trim(0)


def _ids(values: Any, what: str) -> np.ndarray:
    """``values`` (a patient or recorder per recording) as an array, refused
    when missing or holding a missing id: NaN equals nothing, so a NaN
    patient sat on both sides of a split unseen."""
    if values is None:
        raise ValueError(f"{what} are needed: one per recording")
    # looked for before np.asarray, which makes ["a", nan] the ids "a", "nan"
    raw = np.asarray(values, dtype=object)
    if raw.ndim != 1:  # a column of ids failed later, deep inside numpy
        raise ValueError(
            f"{what}: one id per recording in one dimension, not an array of "
            f"shape {raw.shape}"
        )
    _refuse_missing(raw, f"{what} hold no id")
    if len({isinstance(v, str) for v in raw.tolist()}) > 1:
        # np.asarray writes the numbers as text: 1 and "1" became one id
        raise ValueError(f"{what} mix numbers and text: give ids of one kind")
    return np.asarray(values)


def check_group_split(cv: Any, X: Any, y: Any, groups: Any) -> list[tuple]:
    """Return the splits of ``cv``, after checking no group is on both sides of any.

    Parameters
    ----------
    cv : int, cross-validation splitter or iterable of (train, test) index arrays
        A splitter with a ``split(X, y, groups)`` method, or the splits
        themselves, as scikit-learn's ``cv=`` accepts; an int ``k`` means
        ``GroupKFold(k)``, ``k`` folds by patient.
    X : array-like or Signals of length n_recordings
        The recordings (only passed on to ``cv.split``).
    y : array-like of shape (n_recordings,) or None
        The labels (only passed on to ``cv.split``).
    groups : array-like of shape (n_recordings,)
        Patient of each recording.

    Returns
    -------
    list of tuple of ndarray
        ``(train, test)`` index arrays per fold.

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
    groups = _ids(groups, "groups (the patients)")
    # a list of splits bypasses the splitter's own check of the lengths
    check_consistent_length(*(a for a in (X, y, groups) if a is not None))
    if isinstance(cv, Integral):
        # scikit-learn's cv=k splits samples; here the samples are split by patient
        cv = GroupKFold(int(cv))
    # a splitter, or an iterable of (train, test) index arrays as sklearn accepts
    splits = list(cv.split(X, y, groups) if hasattr(cv, "split") else cv)
    if not splits:
        raise ValueError(f"cv={cv!r} gives no split: give folds that test recordings")
    # an empty list is float to numpy, and no index
    splits = [
        tuple(np.asarray(p) if len(p) else np.zeros(0, np.intp) for p in split)
        for split in splits
    ]
    n = len(groups)
    for k, (train, test) in enumerate(splits):
        if not test.size:
            raise ValueError(f"fold {k} tests no recording: give folds that test some")
        for part in (train, test):
            if part.size and not (
                part.dtype.kind in "iu" and 0 <= part.min() and part.max() < n
            ):
                raise ValueError(
                    f"fold {k} holds {part.dtype} indices from {part.min()} to "
                    f"{part.max()}: give the positions of recordings, integers "
                    f"from 0 to {n - 1}"
                )
        shared = np.intersect1d(groups[train], groups[test])
        if len(shared):
            raise ValueError(
                f"fold {k} puts patients {shared[:5].tolist()} on both sides: "
                "split by patient (GroupKFold)"
            )
    return splits


class LeaveOneRecorderOut(BaseCrossValidator):
    """Score each recorder's recordings by models that never heard it.

    Like scikit-learn's ``LeaveOneGroupOut`` over the recorders (the device,
    clinic or database of each recording), with one more rule: the patients
    of the held-out recorder leave training as well, so that a patient
    recorded on two devices is never on both sides of a split. This is the
    honest estimate of what a clinic with another device would see; patient
    folds (``GroupKFold``) let the model hear every recorder in training.

    The recorders are given here, as ``PredefinedSplit`` takes its folds; the
    patients come as ``groups`` to :meth:`split`, as to every other splitter
    of the library, so ``cross_validate(..., groups=patients, cv=splitter)``
    and :func:`evaluate_by_patient` take it unchanged.

    Parameters
    ----------
    recorders : array-like of shape (n_recordings,)
        The recorder of each recording.

    Examples
    --------
    >>> splitter = LeaveOneRecorderOut(["phone", "phone", "steth", "steth"])
    >>> patients = ["p1", "p2", "p2", "p3"]  # p2 was recorded on both devices
    >>> [(tr.tolist(), te.tolist()) for tr, te in splitter.split(groups=patients)]
    [([3], [0, 1]), ([0], [2, 3])]
    """

    def __init__(self, recorders: Any) -> None:
        self.recorders = recorders

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        """Number of recorders: one split each.

        Parameters
        ----------
        X, y, groups : object
            Ignored; present for the scikit-learn API.

        Returns
        -------
        int
            The number of distinct recorders.

        Raises
        ------
        ValueError
            If a recorder is missing (None or NaN), as :meth:`split` says.
        """
        return len(np.unique(_ids(self.recorders, "recorders")))

    def split(self, X: Any = None, y: Any = None, groups: Any = None):
        """Yield the training and test indices of each recorder's split.

        Parameters
        ----------
        X : array-like of length n_recordings or None
            Only its length is checked against the recorders.
        y : array-like of shape (n_recordings,) or None
            The labels: where given, a split whose training recordings hold
            one class only is refused.
        groups : array-like of shape (n_recordings,) or None
            The patient of each recording; ``None`` leaves out the recorder
            alone.

        Yields
        ------
        train, test : ndarray
            Indices of the recordings of the other recorders (less the held-out
            recorder's patients) and of the held-out recorder.

        Raises
        ------
        ValueError
            If there are fewer than two recorders, the lengths differ, a
            recorder's patients were recorded on every other recorder too, so
            that nothing is left to train on, or (given ``y``) what is left
            holds one class only.
        """
        recorders = _ids(self.recorders, "recorders")
        names = np.unique(recorders)
        if len(names) < 2:
            raise ValueError(
                f"LeaveOneRecorderOut needs two recorders or more, got {len(names)}"
            )
        check_consistent_length(
            recorders, *(a for a in (X, y, groups) if a is not None)
        )
        patients = (
            np.arange(len(recorders))
            if groups is None
            else _ids(groups, "groups (the patients)")
        )
        labels = None if y is None else np.asarray(y)
        for name in names.tolist():
            test = np.flatnonzero(recorders == name)
            train = np.flatnonzero(
                (recorders != name) & ~np.isin(patients, patients[test])
            )
            if len(train) == 0:
                raise ValueError(
                    f"recorder {name!r}: its patients were recorded on every "
                    "other recorder too, so a model that never heard them has "
                    "no recordings left to train on"
                )
            if labels is not None and len(np.unique(labels[train])) < 2:
                raise ValueError(
                    f"recorder {name!r}: the recordings left to train on (the "
                    "other recorders', less its patients) hold one class only; "
                    "leaving one recorder out needs recorders that each heard "
                    "both classes, or patients recorded on one recorder each"
                )
            yield train, test


def recorder_confound(
    y_true: Any,
    recorders: Any,
    *,
    n_permutations: int = 1000,
    random_state: int | np.random.RandomState | None = 0,
) -> Bunch:
    """How far the recorder alone tells the label: the audit before any model.

    Where one device recorded mostly stenotic vessels and another mostly
    normal ones, a model can score well by recognising the device, and fail
    at a clinic whose device is new. This reports each recorder's share of
    stenosis and the ROC AUC of that share as a score: 1.0 when the recorder
    gives the label away. The share is learnt from the labels it scores, so
    its AUC is above 0.5 by chance alone, the more so the fewer recordings
    each recorder made (random labels on 20 recorders of 5 recordings score
    0.74 on average): ``chance_auc`` and ``p_value`` compare it with the same
    labels shuffled among the same recorders.

    Parameters
    ----------
    y_true : array-like of shape (n_recordings,)
        True labels, 0 (normal) or 1 (stenotic).
    recorders : array-like of shape (n_recordings,)
        The recorder of each recording.
    n_permutations : int, default=1000
        Shuffles of the labels for ``chance_auc`` and ``p_value``.
    random_state : int, RandomState instance or None, default=0
        Seeds the shuffles.

    Returns
    -------
    Bunch
        ``recorders`` (sorted), ``n`` and ``stenosis_share`` (arrays, one entry
        per recorder), ``roc_auc`` (float), ``chance_auc`` (its mean over the
        shuffles) and ``p_value`` (the share of shuffles, counting the labels
        as given, whose AUC reaches ``roc_auc``); all three NaN with one class.

    Examples
    --------
    >>> audit = recorder_confound([1, 1, 1, 0, 0, 0], ["a", "a", "a", "a", "b", "b"])
    >>> audit.stenosis_share.tolist(), round(audit.roc_auc, 3)
    ([0.75, 0.0], 0.833)
    >>> bool(0.5 < audit.chance_auc < audit.roc_auc), bool(audit.p_value > 0.05)
    (True, True)
    """
    recorders = _ids(recorders, "recorders")
    check_consistent_length(y_true, recorders)
    y_true = _binary_labels(y_true)  # a share of stenosis needs 0 and 1
    if isinstance(n_permutations, bool) or not isinstance(n_permutations, Integral):
        raise TypeError(f"n_permutations={n_permutations!r}: give a whole number")
    if n_permutations < 1:
        raise ValueError(f"n_permutations={n_permutations}: give 1 or more")
    names, index = np.unique(recorders, return_inverse=True)
    n = np.bincount(index)
    share = np.bincount(index, weights=y_true) / n
    audit = Bunch(
        recorders=names,
        n=n,
        stenosis_share=share,
        roc_auc=float("nan"),
        chance_auc=float("nan"),
        p_value=float("nan"),
    )
    if len(np.unique(y_true)) < 2:
        return audit
    audit.roc_auc = _share_auc(y_true, index, n)
    rng = check_random_state(random_state)
    shuffled = np.array(
        [_share_auc(rng.permutation(y_true), index, n) for _ in range(n_permutations)]
    )
    audit.chance_auc = float(shuffled.mean())
    # the labels as given count as one of the draws (Phipson & Smyth 2010):
    # a p-value of 0 would claim more than the shuffles can tell
    reached = np.sum(shuffled >= audit.roc_auc - 1e-12)
    audit.p_value = float((1 + reached) / (1 + n_permutations))
    return audit


def _share_auc(y: np.ndarray, index: np.ndarray, n: np.ndarray) -> float:
    """ROC AUC of each recording scored by its recorder's share of ``y``, from
    the counts per recorder (``index``: each recording's recorder, ``n``: each
    recorder's recordings): many shuffles of thousands of recordings cost
    milliseconds, where ``roc_auc_score`` ranks every recording each time."""
    positive = np.bincount(index, weights=y, minlength=len(n))
    share = positive / n
    order = np.argsort(share, kind="stable")
    # recorders of one share tie: their recordings are pooled
    _, first = np.unique(share[order], return_index=True)
    pos = np.add.reduceat(positive[order], first)
    neg = np.add.reduceat((n - positive)[order], first)
    below = np.cumsum(neg) - neg
    return float(np.sum(pos * (below + 0.5 * neg)) / (pos.sum() * neg.sum()))


#: What a device leaves in every file: :func:`device_confound`'s name for each
#: property, and the words a report gives it.
DEVICE_PROPERTIES = {
    "loudness_db": "loudness",
    "converter_step": "converter step",
    "rounding_snr_db": "rounding noise",
    "dc_offset": "DC offset",
}


def _properties_of(x: np.ndarray, rate: float) -> tuple[float, ...]:
    x64 = np.asarray(x, np.float64)
    rms = float(np.std(x64))
    loudness = 20 * np.log10(rms) if rms > 0 else -np.inf
    snr = rounding_snr_db(x, rate)
    return loudness, converter_step(x) / LEVEL, snr, abs(float(np.mean(x64)))


def _auc_or_nan(y: np.ndarray, score: np.ndarray) -> float:
    """AUC over the scores that are not NaN (unreadable files); -inf (the
    loudness of digital silence) ranks lowest rather than being left out."""
    keep = ~np.isnan(score)
    if len(np.unique(y[keep])) < 2:
        return float("nan")
    return float(roc_auc_score(y[keep], rankdata(score[keep])))


def device_properties(X: Any) -> dict[str, np.ndarray]:
    """Read what the device left in each recording, from its samples as stored.

    Parameters
    ----------
    X : Signals or RecordingFiles
        The recordings as stored. Files are read one at a time at their own
        rate; a file that cannot be read gets NaN.

    Returns
    -------
    dict
        Per property of :data:`DEVICE_PROPERTIES`, an array with one value per
        recording: loudness (RMS about the mean in dB full scale: the DC
        offset, reported apart, is left out), converter step (16-bit
        levels, :func:`~vascular_sklearn.recorder.converter_step`), the
        sound over the converter's rounding noise in the 1 kHz band (dB,
        :func:`~vascular_sklearn.recorder.rounding_snr_db`) and the size of
        its DC offset (the absolute mean of its samples as a fraction of full
        scale: a sound card's or amplifier's, since a microphone records
        none).
        Screening flags a recording whose ``rounding_snr_db`` is under
        :data:`~vascular_sklearn.screening.COARSE_LIMIT_DB` as coarse.

    Raises
    ------
    TypeError
        If ``X`` is neither Signals nor RecordingFiles.
    RecordingError
        Naming an in-memory recording that is not in full-scale units
        (integer samples) or holds NaN or inf samples.

    Examples
    --------
    >>> import numpy as np
    >>> from vascular_sklearn.containers import Signals
    >>> from vascular_sklearn.recorder import quantise
    >>> noise = 0.1 * np.random.default_rng(0).standard_normal((2, 22050))
    >>> X = Signals.from_arrays([quantise(noise[0], 1), quantise(noise[1], 40)], 22050)
    >>> device_properties(X)["converter_step"].tolist()
    [1.0, 40.0]
    """
    if not isinstance(X, (Signals, RecordingFiles)):
        # an array's .data is its memory buffer: numpy's NotImplementedError
        raise TypeError(
            f"X is {type(X).__name__}: give Signals or RecordingFiles (the "
            "recordings with their sample rate: Signals.from_arrays(x, rate))"
        )
    paths = getattr(X, "paths", None)
    rows = []
    for i in range(len(X)):
        if paths is None:
            # refused as the steps refuse them: int16 samples were measured as
            # full-scale units (+70 dBFS), a NaN stopped the audit unnamed
            check_recording(X.data[i], X.name(i))
            rows.append(_properties_of(X.data[i], X.sample_rate))
            continue
        try:
            rows.append(_properties_of(*read_recording(paths[i])))
        except RecordingError:
            rows.append((np.nan,) * len(DEVICE_PROPERTIES))
    # no recording: four empty columns (-1 could not be told from 0 rows)
    table = np.array(rows, dtype=np.float64).reshape(len(X), len(DEVICE_PROPERTIES))
    return dict(zip(DEVICE_PROPERTIES, table.T, strict=True))


def device_confound(X: Any, y_true: Any, groups: Any = None) -> Bunch:
    """How far what the device leaves in the files tells the label.

    The audit before any model, beside :func:`recorder_confound` for corpora
    that do not name their devices. Four properties of each recording are
    read from its samples as stored (:func:`device_properties`): its loudness
    (RMS about its mean in dB full scale), its converter step (16-bit levels
    between the values it holds), how far its sound lies above that converter's
    rounding noise in the 1 kHz band, and its DC offset (absolute mean, as a
    fraction of full scale). None of them is about the vessel or the heart.
    Each is scored as a predictor of label 1 by ROC AUC: 0.5 when it says
    nothing, far from 0.5 on either side when it gives the label away (under
    0.5: the lower the value, the likelier label 1). A model trained on such
    files can learn the device.

    Parameters
    ----------
    X : Signals or RecordingFiles
        The recordings as stored. Files are read one at a time at their own
        rate; a file that cannot be read gets NaN and is left out of the AUCs.
    y_true : array-like of shape (n_recordings,)
        True labels, 0 or 1 (others are refused).
    groups : array-like of shape (n_recordings,) or None, default=None
        Sites, databases or recorders: each is also audited alone, where a
        device can give the label away although the pooled AUC does not show
        it.

    Returns
    -------
    Bunch
        ``properties``: per property (:data:`DEVICE_PROPERTIES`) an array
        with one value per recording; ``roc_auc``: per property, a float
        (NaN with one class); with ``groups``, ``roc_auc_by_group``: per
        property, a dict from each group to its AUC.

    Examples
    --------
    >>> import numpy as np
    >>> from vascular_sklearn.containers import Signals
    >>> from vascular_sklearn.recorder import quantise
    >>> noise = np.random.default_rng(0).standard_normal((4, 22050))
    >>> steps = [1, 1, 40, 40]  # the two labelled 1 on a coarse converter
    >>> X = Signals.from_arrays(
    ...     [quantise(0.1 * x, s) for x, s in zip(noise, steps)], 22050)
    >>> audit = device_confound(X, [0, 0, 1, 1])
    >>> audit.properties["converter_step"].tolist(), audit.roc_auc["converter_step"]
    ([1.0, 1.0, 40.0, 40.0], 1.0)
    >>> audit.roc_auc["rounding_snr_db"]  # lower on the coarse converter
    0.0
    """
    # which label is 1 must be known: roc_auc_score takes the larger of two
    # labels as positive, so "normal"/"abnormal" would invert every AUC
    y_true = _binary_labels(y_true)
    check_consistent_length(X, y_true)
    if groups is not None:  # before reading every file
        # a NaN group equals nothing: its recordings fell out of every group
        groups = _ids(groups, "groups")
        check_consistent_length(y_true, groups)
    values = device_properties(X)
    audit = Bunch(
        properties=values,
        roc_auc={name: _auc_or_nan(y_true, v) for name, v in values.items()},
    )
    if groups is not None:
        audit.roc_auc_by_group = {
            name: {
                g: _auc_or_nan(y_true[groups == g], v[groups == g])
                for g in np.unique(groups)
            }
            for name, v in values.items()
        }
    return audit


def clinical_report(y_true: Any, proba: Any, threshold: float = 0.5) -> dict:
    """Compute accuracy, sensitivity, specificity, balanced accuracy and ROC AUC.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels, 0 (normal) or 1 (stenotic).
    proba : array-like of shape (n_samples,)
        Predicted probability of stenosis.
    threshold : float, default=0.5
        Probabilities at or above it count as stenotic.

    Returns
    -------
    dict
        ``n`` (number of samples) and the five metrics as floats; a metric that
        is undefined for these labels (ROC AUC with one class, say) is NaN.

    Raises
    ------
    ValueError
        If the arrays are empty or differ in length, ``y_true`` holds labels
        other than 0 and 1, ``proba`` is not one probability per sample
        (``predict_proba``'s two columns, say), holds NaN (a NaN is neither
        flagged nor cleared) or values outside [0, 1] (scores, not
        probabilities), or ``threshold`` is not a probability.

    Examples
    --------
    >>> r = clinical_report([0, 0, 1, 1], [0.1, 0.6, 0.7, 0.9])
    >>> r["sensitivity"], r["specificity"], r["roc_auc"]
    (1.0, 0.5, 1.0)
    """
    check_consistent_length(y_true, proba)
    y_true, proba = _binary_labels(y_true), _scored(proba)
    y_pred = (proba >= _check_threshold(threshold)).astype(int)
    sens = sensitivity_score(y_true, y_pred)
    spec = specificity_score(y_true, y_pred)
    both = len(np.unique(y_true)) == 2
    return _report(
        len(y_true),
        float(np.mean(y_pred == y_true)),
        sens,
        spec,
        float(roc_auc_score(y_true, proba)) if both else float("nan"),
    )


def report_by_group(
    y_true: Any, proba: Any, groups: Any, threshold: float = 0.5
) -> dict[Any, dict]:
    """:func:`clinical_report` for each group (site, database, recorder) alone.

    A ROC AUC pooled over sites mixes how well a model orders the recordings
    within each site with where each site's answers sit as a whole; under
    leave-one-site-out the report of each site alone is what a new clinic
    would see.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels, 0 (normal) or 1 (stenotic).
    proba : array-like of shape (n_samples,)
        Predicted probability of stenosis.
    groups : array-like of shape (n_samples,)
        The site (or any grouping) of each sample.
    threshold : float, default=0.5
        Probabilities at or above it count as stenotic.

    Returns
    -------
    dict
        Each group, in sorted order, mapped to its report (NaN where a metric
        is undefined, ROC AUC for a site with one class, say).

    Raises
    ------
    ValueError
        If the three arrays do not have one entry per sample, a group is
        missing (None, NaN), or as :func:`clinical_report`.

    Examples
    --------
    >>> r = report_by_group([0, 1, 0, 1], [0.2, 0.8, 0.6, 0.9], ["a", "a", "b", "b"])
    >>> {site: (rep["roc_auc"], rep["specificity"]) for site, rep in r.items()}
    {'a': (1.0, 1.0), 'b': (1.0, 0.0)}
    """
    groups = _ids(groups, "groups (the sites)")
    check_consistent_length(y_true, proba, groups)
    y_true, proba = np.asarray(y_true), _scored(proba)
    return {
        group: clinical_report(
            y_true[groups == group], proba[groups == group], threshold
        )
        for group in np.unique(groups).tolist()
    }


def _report(n: int, accuracy: float, sens: float, spec: float, auc: float) -> dict:
    """The report's keys, in one place."""
    return {
        "n": n,
        "accuracy": accuracy,
        "sensitivity": sens,
        "specificity": spec,
        "balanced_accuracy": (sens + spec) / 2,
        "roc_auc": auc,
    }


def rescaled(
    X: Signals | RecordingFiles,
    factor: float,
    step: float = 2.0**-15,
    clip: bool = True,
) -> Signals:
    """Multiply recordings by ``factor`` and re-quantise them to multiples of ``step``.

    The loudness audit, a :class:`~vascular_sklearn.recorder.Recorder` with only
    a gain, a converter step and full-scale clipping: a model of the vessel must
    not change its answer when the microphone gain changes. The default
    ``step`` is one 16-bit level; a coarser one emulates a device whose
    converter resolves fewer levels. With
    ``clip``, values are limited to full scale [-1, 1] as in a 16-bit file, so
    scaling a loud recording up clips it, as a louder recording would.

    Parameters
    ----------
    X : Signals or RecordingFiles
        The recordings, in full-scale units (files are read first).
    factor : float
        Gain applied to every sample.
    step : float, default=2**-15
        Quantisation step after scaling (one 16-bit level by default).
    clip : bool, default=True
        Limit the result to [-1, 1].

    Returns
    -------
    Signals
        The altered recordings in float32, with the sample rate and names of
        ``X``.

    Raises
    ------
    ValueError
        If ``factor`` is 0 or not finite, or ``step`` is not above 0 (as
        :meth:`Recorder.apply <vascular_sklearn.recorder.Recorder.apply>`).

    Examples
    --------
    >>> import numpy as np
    >>> X = Signals.from_arrays([np.array([0.1, -0.2, 0.3])], sample_rate=1000)
    >>> (rescaled(X, 0.1, step=0.01).data[0] / 0.01).round().tolist()
    [1.0, -2.0, 3.0]
    """
    limit = 1.0 if clip else None
    return Recorder(gain=factor, step=step / LEVEL, clip_level=limit).record(X)


def patient_level(y: Any, proba: Any, groups: Any) -> tuple[np.ndarray, ...]:
    """Average recording probabilities per patient and label.

    A patient with normal and stenotic recordings (before and after angioplasty)
    counts once in each class.

    Parameters
    ----------
    y : array-like of shape (n_recordings,)
        Label of each recording.
    proba : array-like of shape (n_recordings,)
        Predicted probability of each recording.
    groups : array-like of shape (n_recordings,)
        Patient of each recording.

    Returns
    -------
    y : ndarray
        The label of each (patient, label) pair, sorted by patient then label.
    proba : ndarray of float
        The mean probability of that patient's recordings with that label.
    groups : ndarray
        The patient of each pair.

    Raises
    ------
    ValueError
        If the lengths differ, a patient or a label is missing (None, NaN),
        or ``proba`` is refused as by :func:`clinical_report`.

    Examples
    --------
    >>> groups = ["a", "a", "a", "b"]
    >>> y, p, g = patient_level([0, 0, 1, 1], [0.2, 0.4, 0.9, 0.7], groups)
    >>> y.tolist(), p.round(2).tolist(), g.tolist()
    ([0, 1, 1], [0.3, 0.9, 0.7], ['a', 'a', 'b'])
    """
    groups = _ids(groups, "groups (the patients)")
    check_consistent_length(y, proba, groups)
    y, proba = _labels_given(y), _scored(proba)
    keys = sorted(set(zip(groups.tolist(), y.tolist(), strict=True)))
    out = [(label, proba[(groups == g) & (y == label)].mean(), g) for g, label in keys]
    return tuple(np.array(column) for column in zip(*out, strict=True))


def _two_class_report(y: np.ndarray, proba: np.ndarray, threshold: float) -> dict:
    """:func:`clinical_report` of 0/1 labels holding both classes, in numpy
    alone: the bootstrap calls it a thousand times, and scikit-learn's checks
    made that take seconds. ROC AUC is the Mann-Whitney statistic, with ties
    at their mean rank, which equals the area under the ROC curve."""
    positive = y == 1
    n_pos = int(positive.sum())
    n_neg = len(y) - n_pos
    flagged = proba >= threshold
    sens = float(np.mean(flagged[positive]))
    spec = float(np.mean(~flagged[~positive]))
    pos_ranks = rankdata(proba)[positive].sum()
    return _report(
        len(y),
        float(np.mean(flagged == positive)),
        sens,
        spec,
        float((pos_ranks - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)),
    )


def _patients_per_class(y: Any, groups: Any, labels: Any = None) -> np.ndarray:
    """How many patients hold recordings of each of ``labels`` (those in
    ``y`` by default): under 2 for one, an interval that resamples patients
    (:func:`bootstrap_report`) cannot be had."""
    y, groups = np.asarray(y), np.asarray(groups)
    labels = np.unique(y) if labels is None else labels
    return np.array([len(np.unique(groups[y == label])) for label in labels])


def bootstrap_report(
    y: Any,
    proba: Any,
    groups: Any,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    threshold: float = 0.5,
    random_state: Any = None,
) -> dict:
    """:func:`clinical_report` with confidence intervals from resampling patients.

    Patients, not recordings or cycles, are drawn with replacement: units of one
    patient are not independent, and resampling them one by one would give
    intervals far too narrow. Resamples holding one class only are redrawn, so
    each class must be held by two patients or more (with one, every resample
    holds that patient's recordings as they are, and the interval leaves out
    how much they could differ).

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        True labels, 0 (normal) or 1 (stenotic), of two classes.
    proba : array-like of shape (n_samples,)
        Predicted probability of stenosis.
    groups : array-like of shape (n_samples,)
        Patient of each sample; the unit of resampling.
    n_resamples : int, default=1000
        Number of bootstrap resamples holding both classes.
    confidence : float, default=0.95
        Coverage of the percentile intervals.
    threshold : float, default=0.5
        Probabilities at or above it count as stenotic.
    random_state : int, RandomState instance or None, default=None
        Seeds the resampling.

    Returns
    -------
    dict
        The point estimates, and ``(low, high)`` percentile intervals under
        ``"<metric>_ci"``.

    Raises
    ------
    ValueError
        If ``y`` holds one class only, or a class is held by one patient, or
        as :func:`clinical_report`, or the arrays differ in length,
        ``n_resamples < 1`` or ``confidence`` is not between 0 and 1.

    Examples
    --------
    >>> y = [0, 0, 1, 1, 0, 1]
    >>> r = bootstrap_report(y, [.1, .3, .8, .6, .4, .9], [1, 1, 2, 2, 3, 4],
    ...                      n_resamples=200, random_state=0)
    >>> r["roc_auc"], r["roc_auc_ci"]
    (1.0, (1.0, 1.0))
    """
    check_consistent_length(y, proba, groups)
    # a whole number: None compared with 1 was a TypeError, 10.5 drew 11
    whole = isinstance(n_resamples, Integral) and not isinstance(n_resamples, bool)
    if not (whole and n_resamples >= 1 and 0 < confidence < 1):
        raise ValueError(
            f"need n_resamples >= 1 (a whole number) and 0 < confidence < 1, got "
            f"{n_resamples!r} and {confidence}"
        )
    threshold = _check_threshold(threshold)  # "0.5" met the resamples as text
    report = clinical_report(y, proba, threshold)
    groups = _ids(groups, "groups (the patients)")
    y, proba = np.asarray(y), np.asarray(proba, float)
    if len(np.unique(y)) < 2:  # no resample could ever hold both classes
        raise ValueError("bootstrap_report needs recordings of both classes in y")
    fewest = int(_patients_per_class(y, groups).min())
    if fewest < 2:
        raise ValueError(
            "bootstrap_report needs two patients or more holding each class: "
            f"one class is held by {fewest} patient, so every resample holds "
            "its recordings as they are; report the point estimates alone"
        )
    rng = check_random_state(random_state)
    patients = np.unique(groups)
    members = [np.flatnonzero(groups == g) for g in patients]
    draws = {k: [] for k in report if k != "n"}
    while len(draws["roc_auc"]) < n_resamples:
        rows = np.concatenate(
            [members[i] for i in rng.randint(len(patients), size=len(patients))]
        )
        if len(np.unique(y[rows])) < 2:
            continue
        for key, value in _two_class_report(y[rows], proba[rows], threshold).items():
            if key != "n":
                draws[key].append(value)
    tail = 100 * (1 - confidence) / 2
    for key, values in draws.items():
        low, high = np.nanpercentile(values, [tail, 100 - tail])
        report[f"{key}_ci"] = (float(low), float(high))
    return report


def _scored(proba: Any) -> np.ndarray:
    """``proba`` as floats, refused when empty, not one probability per
    sample, or holding NaN or values outside [0, 1]."""
    proba = np.asarray(proba)
    if proba.ndim == 2 and proba.shape[1] >= 2:
        # predict_proba's output: its rows would be read as one sample each
        raise ValueError(
            f"proba has shape {proba.shape}, one column per class: give the "
            "probability of stenosis alone, proba[:, 1]"
        )
    if proba.ndim != 1 or np.iscomplexobj(proba):
        raise ValueError(
            f"proba must be one probability of stenosis per sample (a 1-D array "
            f"of floats), got shape {proba.shape} and dtype {proba.dtype}"
        )
    proba = proba.astype(float)
    missing = np.flatnonzero(np.isnan(proba))
    if len(proba) == 0 or len(missing):
        raise ValueError(
            "no probability to score"
            if len(proba) == 0
            else f"{len(missing)} probabilities are NaN (samples "
            f"{missing[:5].tolist()}): a NaN is neither flagged nor cleared"
        )
    outside = np.flatnonzero((proba < 0) | (proba > 1))
    if len(outside):
        raise ValueError(
            f"{len(outside)} values of proba lie outside [0, 1] (samples "
            f"{outside[:5].tolist()}, e.g. {proba[outside[0]]:g}): give "
            "probabilities (predict_proba(X)[:, 1]), not scores or "
            "decision_function values; the threshold is a probability"
        )
    return proba


def _check_threshold(threshold: Any) -> float:
    """``threshold`` as a float, refused unless a probability: 50 (a
    percentage) or NaN would label every recording normal without a word."""
    try:  # a bool is no probability: True was read as 1.0
        value = np.nan if isinstance(threshold, bool) else float(threshold)
    except (TypeError, ValueError):
        value = np.nan
    if not 0 <= value <= 1:  # NaN compares False
        raise ValueError(f"threshold={threshold!r}: give a probability from 0 to 1")
    return value


def _labels_given(y: Any) -> np.ndarray:
    """``y`` as a 1-D array, refused where a label is missing (None, NaN):
    NaN equals nothing, so its recordings were averaged into NaN."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y has shape {y.shape}: give one label per recording")
    _refuse_missing(y, "y holds no label")
    return y


def _binary_labels(y: Any) -> np.ndarray:
    """``y`` as an array, refused unless it holds 0 (normal) and 1 (stenosis)."""
    # a column (n, 1) compared with the predictions made an n x n table:
    # accuracy near 0.5 beside a correct sensitivity
    y = _labels_given(y)
    labels = np.unique(y)
    if not np.isin(labels, [0, 1]).all():
        raise ValueError(
            f"y holds the labels {labels.tolist()}; which of them is stenosis "
            "(or abnormal) must be known for its sensitivity, specificity and "
            "AUC: give 0 (normal) or 1 (stenosis) per recording"
        )
    return y


def _refuse_nan(proba: np.ndarray, index: np.ndarray, where: str, what: str) -> None:
    unscored = index[np.isnan(proba)]
    if len(unscored):
        raise ValueError(
            f"{where}: the model gave NaN probabilities for {what} "
            f"{unscored[:5].tolist()} (of {len(unscored)})"
        )


def evaluate_by_patient(
    pipeline: Any,
    X: Any,
    y: Any,
    groups: Any,
    cv: Any = None,
    progress: Callable[[str], None] | None = None,
    perturbations: dict[str, Callable[[Any], Any]] | None = None,
    pass_groups: bool | None = None,
    params: dict[str, Any] | None = None,
) -> Bunch:
    """Predict out of fold, split by patient, and pool per recording and per cycle.

    Several patients have one class only, so per-fold sensitivity or AUC is often
    undefined; pooling the out-of-fold probabilities first is the honest summary.

    Parameters
    ----------
    pipeline : Pipeline
        Signal steps followed by a
        :class:`~vascular_sklearn.RecordingClassifier` (cycle-level results),
        or any pipeline that takes recordings (recording level only).
    X : Signals, sequence of recordings, or what ``pipeline`` takes
        The recordings.
    y : array-like of shape (n_recordings,)
        Label of each recording.
    groups : array-like of shape (n_recordings,)
        Patient of each recording.
    cv : int, splitter or iterable of (train, test) index arrays, default=None
        ``None`` means ``GroupKFold(5)``, an int ``k`` ``GroupKFold(k)``. Every
        split must keep each patient on one side.
    progress : callable or None, default=None
        Called with a line of text after each fold.
    perturbations : dict of str to callable, or None, default=None
        Audits: each callable turns the fold's test recordings into altered ones
        (rescaled, say) that the same fitted model then scores.
    pass_groups : bool or None, default=None
        Give the training patients to the last step's ``fit`` as ``groups``
        (for its internal validation or a nested ``GridSearchCV``); ``None``
        does so when that ``fit`` takes ``groups``: names it, or is a search
        (or a pipeline ending in one) that hands it to its splitter.
    params : dict or None, default=None
        Fit parameters of ``pipeline``, as ``cross_validate``'s ``params``:
        an array with one entry per recording is cut to each training fold
        (``{"classifier__confounder": recorder}``, weights computed inside
        each fold), anything else is passed as it is.

    Returns
    -------
    Bunch
        ``recording_proba``, ``cycle_proba``, ``cycle_y``, ``cycle_recording``
        and ``fold`` arrays, ``recording``/``cycle`` reports
        (:func:`clinical_report`; ``cycle`` is ``None`` and the cycle arrays
        empty when the last step gives no cycle probabilities), and
        ``perturbed``: for each perturbation, the recording probabilities of
        the altered recordings.

    Raises
    ------
    ValueError
        If ``y`` holds a label other than 0 and 1, a training fold holds one
        class only, a split of ``cv`` puts a patient on both sides
        (:func:`check_group_split`), the test folds do
        not hold every recording exactly once, or the model gives a NaN
        probability for a test recording or an altered one (``perturbations``).
    TypeError
        If ``pipeline`` is not a :class:`~sklearn.pipeline.Pipeline`.
    RecordingError
        As the pipeline raises it, with the fold it was raised in; where
        the recordings have no names, with their places in ``X``.

    Notes
    -----
    When the pipeline's last step gets ``groups`` (see ``pass_groups``), they are
    the training fold's patients: its internal validation (early stopping,
    nested tuning) then holds out whole patients as well, never the test fold.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.model_selection import GroupKFold
    >>> from sklearn.pipeline import make_pipeline
    >>> from vascular_sklearn import RecordingClassifier
    >>> rng = np.random.default_rng(0)
    >>> y = np.array([0, 1] * 4)
    >>> bags = [rng.normal(loc=2 * label, size=(5, 3)) for label in y]
    >>> pipe = make_pipeline("passthrough", RecordingClassifier(LogisticRegression()))
    >>> groups = [0, 0, 1, 1, 2, 2, 3, 3]
    >>> result = evaluate_by_patient(pipe, bags, y, groups, cv=GroupKFold(2))
    >>> result.fold.tolist(), result.cycle_proba.shape
    ([1, 1, 0, 0, 1, 1, 0, 0], (40,))
    >>> result.recording["roc_auc"]
    1.0
    """
    y = _binary_labels(y)  # before any fold trains: the reports are binary
    cv = GroupKFold(5) if cv is None else cv
    splits = check_group_split(cv, X, y, groups)
    # pooled out-of-fold answers need each recording tested once: repeated
    # folds would count cycles twice and keep one repeat's recordings
    tested = np.bincount(
        np.concatenate([test for _, test in splits]).astype(np.intp),
        minlength=len(y),
    )
    if not (tested == 1).all():
        k = int(np.flatnonzero(tested != 1)[0])
        raise ValueError(
            f"the test folds of cv must hold every recording once (as "
            f"cross_val_predict's); recording {k} is in {tested[k]} of them. "
            "For repeated cross-validation, call this once per repeat."
        )
    if not isinstance(pipeline, Pipeline):  # said before a fold trains
        raise TypeError(
            f"pipeline must be a scikit-learn Pipeline, not "
            f"{type(pipeline).__name__}: make_pipeline('passthrough', estimator) "
            "for an estimator that takes the recordings (or bags) itself"
        )
    recording_proba = np.full(len(y), np.nan)
    fold = np.full(len(y), -1)
    groups = np.asarray(groups)
    perturbations = perturbations or {}
    perturbed = {name: np.full(len(y), np.nan) for name in perturbations}
    # a nested search takes **params, which has_fit_parameter cannot see
    # through: its splitter was left without the patients. Asked of the whole
    # pipeline: "<step>__groups", or under metadata routing "groups"
    groups_key = _fit_keyword(pipeline, "groups")
    takes_groups = groups_key is not None if pass_groups is None else pass_groups
    cycle_parts = []
    X = _numbered(X)
    for k, (train, test) in enumerate(splits):
        labels = np.unique(y[train])
        if len(labels) < 2:
            raise ValueError(
                f"fold {k}: its training recordings hold the labels "
                f"{labels.tolist()} only; split so that each training fold holds "
                "both classes (StratifiedGroupKFold)"
            )
        # cross_validate's own slicing: per-recording arrays cut, the rest kept
        fit_params = _check_method_params(X, params or {}, train)
        if takes_groups:
            fit_params[groups_key or f"{pipeline.steps[-1][0]}__groups"] = groups[train]
        try:
            model = clone(pipeline).fit(
                _safe_indexing(X, train), y[train], **fit_params
            )
        except RecordingError as error:
            raise _in_fold(error, k, "training", train, X) from error
        X_test = _safe_indexing(X, test)
        try:
            # a one-step pipeline's model[:-1] holds no step, and no transform
            features = model[:-1].transform(X_test) if len(model.steps) > 1 else X_test
            recording_proba[test] = model[-1].predict_proba(features)[:, 1]
        except RecordingError as error:
            raise _in_fold(error, k, "test", test, X) from error
        # said now, not after training the remaining folds
        _refuse_nan(recording_proba[test], test, f"fold {k}", "recordings")
        for key, alter in perturbations.items():
            perturbed[key][test] = model.predict_proba(alter(X_test))[:, 1]
            # a NaN shift compares False with every limit: an audit that
            # tests max(shift) < limit would pass without an answer
            what = f"the {key!r} alteration of recordings"
            _refuse_nan(perturbed[key][test], test, f"fold {k}", what)
        fold[test] = k
        if hasattr(model[-1], "predict_cycle_proba"):
            proba, rec = model[-1].predict_cycle_proba(features)
            cycle_parts.append((proba[:, 1], test[rec]))
        del model, features, X_test
        _release_memory()
        if progress is not None:
            n = len(test)
            progress(f"fold {k + 1}/{len(splits)}: {n} test recording" + "s" * (n != 1))
    cycle_proba = np.concatenate([[], *(p for p, _ in cycle_parts)])
    cycle_recording = np.concatenate([[], *(r for _, r in cycle_parts)]).astype(int)
    cycle_y = y[cycle_recording]
    return Bunch(
        recording_proba=recording_proba,
        fold=fold,
        cycle_proba=cycle_proba,
        cycle_y=cycle_y,
        cycle_recording=cycle_recording,
        recording=clinical_report(y, recording_proba),
        cycle=clinical_report(cycle_y, cycle_proba) if cycle_parts else None,
        perturbed=perturbed,
    )
