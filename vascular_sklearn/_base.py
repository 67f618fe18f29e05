"""Input validation and the per-recording loop shared by the signal steps."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
from scipy.sparse import issparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
)

from ._parallel import map_recordings
from .audio import check_full_scale
from .containers import CycleBags, Signals, _refuse_channels, object_array
from .corpus import RecordingFiles
from .exceptions import RecordingError

__all__ = [
    "SEED_SAMPLE_RATE",
    "CycleBagTransformer",
    "CycleImageClassifier",
    "SignalTransformer",
    "check_images",
    "check_recording",
    "check_sample_weight",
    "map_recordings",
    "to_samples",
    "validate_params_within",
]

#: Sample rate of the seed recordings; parameters in seconds reproduce the original
#: study's sample counts exactly at this rate.
SEED_SAMPLE_RATE = 22050.0


def _missing_id(value: Any) -> bool:
    """Whether an id is missing: None, NaN (unequal to itself), pandas' NA."""
    if value is None:
        return True
    try:
        return bool(value != value)
    except TypeError:  # pandas' NA is neither equal nor unequal to itself
        return True


def _refuse_missing(values: Any, what: str, unit: str = "recording") -> None:
    """Refuse ``values`` (ids or labels, one per ``unit``) holding a missing
    one (None, NaN): NaN equals nothing, so a NaN patient sat on both sides of
    a split unseen, and numpy's sort of None among text failed unnamed."""
    if not isinstance(values, np.ndarray):
        # before np.asarray, which makes ["a", nan] the texts "a", "nan"
        values = np.asarray(values, dtype=object)
    if values.dtype.kind not in "fcO":  # no other kind holds a missing value
        return
    missing = [i for i, v in enumerate(values.tolist()) if _missing_id(v)]
    if missing:
        raise ValueError(
            f"{what} (None or NaN) for {unit}s {missing[:5]} (of {len(missing)}): "
            f"give every {unit} one"
        )


def to_samples(seconds: float, sample_rate: float, *, odd: bool = False) -> int:
    """Convert a duration to a whole number of samples (at least 1).

    Examples
    --------
    >>> to_samples(11000 / 22050, 22050), to_samples(1000 / 22050, 22050, odd=True)
    (11000, 1001)
    """
    n = max(1, round(seconds * sample_rate))
    return n + 1 if odd and n % 2 == 0 else n


def check_recording(x: Any, name: str) -> np.ndarray:
    """Return recording ``x`` as a finite, non-empty 1-D float32 array.

    Raises
    ------
    RecordingError
        Naming the recording when it is a file name, complex, integer or
        boolean (not in full-scale units), not 1-D, empty, holds NaN or inf,
        or reaches far beyond full scale (:data:`~vascular_sklearn.audio.PEAK_LIMIT`).

    Examples
    --------
    >>> check_recording([0.0, 0.5], "a.wav").dtype
    dtype('float32')
    """
    if isinstance(x, (str, os.PathLike)):
        raise RecordingError(
            f"{name}: a file name ({os.fspath(x)!r}), not audio samples; pass "
            "RecordingFiles.from_paths(paths) (from vascular_sklearn.corpus: the "
            "pipeline reads them) or load_recordings(folder).recordings, or "
            "screen files with predict_files."
        )
    try:  # a ragged nested list fails here, strings in the cast below
        arr = np.asarray(x)
        if arr.dtype.kind not in "biucf":
            arr = arr.astype(np.float64)
    except (TypeError, ValueError) as err:
        raise RecordingError(f"{name}: not numeric audio samples ({err}).") from err
    if arr.dtype.kind == "c":  # numpy would drop the imaginary part
        raise RecordingError(
            f"{name}: complex samples; a recording is real (pass its real part)."
        )
    if arr.dtype.kind in "biu":  # 16-bit PCM taken as it is: 32768 times too loud
        raise RecordingError(
            f"{name}: {arr.dtype} samples; a recording is float audio in "
            "full-scale units: divide integer PCM by 2 ** (bits - 1) (x / 32768 "
            "for 16-bit), as load_recordings does."
        )
    arr = arr.astype(np.float32, copy=False)
    if arr.ndim != 1:
        hint = (
            "mix multi-channel audio to mono first (load_recordings(channels='mean') "
            "does)"
            if arr.ndim == 2
            else "pass one 1-D array of samples per recording"
        )
        raise RecordingError(
            f"{name}: expected a 1-D signal, got shape {arr.shape}; {hint}."
        )
    if arr.size == 0:
        raise RecordingError(f"{name}: the recording is empty.")
    if not np.isfinite(arr).all():
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise RecordingError(
            f"{name}: {bad} samples are NaN or infinite; repair or drop the recording."
        )
    check_full_scale(name, arr)
    return arr


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds (labels of object dtype
    are Python values already)."""
    return value.item() if isinstance(value, np.generic) else value


def check_sample_weight(sample_weight: Any, y: Any) -> np.ndarray:
    """Non-negative weights, one per sample, at least one of them above zero.

    scikit-learn checks the last from 1.7 on; under 1.6, which we support,
    weights of zero everywhere reached a division by their sum.

    Examples
    --------
    >>> check_sample_weight([0.0, 2.0], [0, 1]).tolist()
    [0.0, 2.0]
    """
    weight = _check_sample_weight(sample_weight, y, ensure_non_negative=True)
    if not np.any(weight > 0):
        raise ValueError("Sample weights must contain at least one non-zero number.")
    return weight


def check_images(X: Any) -> np.ndarray:
    """Return a network's input as float32 of shape (n, 1, F, T).

    Examples
    --------
    >>> check_images(np.zeros((2, 40, 100))).shape
    (2, 1, 40, 100)
    """
    X = np.asarray(X, dtype=np.float32)
    if X.ndim == 3:
        X = X[:, None]
    if X.ndim != 4 or X.shape[1] != 1:
        raise ValueError(
            f"expected spectrograms of shape (n, 1, F, T) or (n, F, T), got {X.shape}"
        )
    if not np.isfinite(X).all():
        raise ValueError("spectrograms hold NaN or infinite values")
    return X


def as_probabilities(proba: np.ndarray) -> np.ndarray:
    """A network's float32 softmax rows in float64, each summing to 1: cast
    alone, they missed 1 by up to 9e-8, and scikit-learn's log_loss warned
    that the library's own answers were no probabilities."""
    proba = np.asarray(proba, np.float64)
    return proba / proba.sum(axis=1, keepdims=True)


def check_image_shape(shape: tuple[int, ...], trained: Any) -> None:
    """Refuse images of ``shape`` (n, channels, rows, frames) of another size
    than the network's: its pooling would answer for any size, without a
    word. ``trained``: the (channels, rows, frames) it takes, or None."""
    if trained is not None and shape[0] and tuple(shape[1:]) != tuple(trained):
        raise ValueError(
            f"the network was trained on images of shape {tuple(trained)[1:]} "
            f"(frequency rows, frames) but got {tuple(shape[2:])}: make the "
            "spectrograms with the settings it was trained with"
        )


class CycleImageClassifier:
    """``predict`` and tags shared by the classifiers of cycle images.

    A mixin placed before :class:`~sklearn.base.ClassifierMixin`; the class
    defines ``classes_`` and ``predict_proba`` on (n, 1, F, T) images.
    """

    def predict(self, X) -> np.ndarray:
        """Most probable class per cycle.

        Parameters
        ----------
        X : array-like of shape (n_cycles, 1, F, T) or (n_cycles, F, T)

        Returns
        -------
        labels : ndarray of shape (n_cycles,)
        """
        proba = self.predict_proba(X)  # checks first that the model is fitted
        return self.classes_[proba.argmax(axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        return tags


class RecordingsOut:
    """For steps whose output is recordings or their cycles, not a table.

    A pipeline's ``set_output`` and ``get_feature_names_out`` pass through such
    a step to the table a later step makes (the columns of
    :class:`~vascular_sklearn.features.BeatEnvelopeFeatures`, say), so that an
    estimator after it sees their names.
    """

    def __init_subclass__(cls, **kwargs):
        # scikit-learn would wrap transform to give DataFrames under
        # transform_output="pandas": recordings are no table
        super().__init_subclass__(auto_wrap_output_keys=None, **kwargs)

    def set_output(self, *, transform: str | None = None):
        """Take a pipeline's output setting; recordings stay recordings.

        Parameters
        ----------
        transform : {"default", "pandas", "polars"} or None, default=None
            Ignored: the output is recordings, not a table.

        Returns
        -------
        self
            The step, unchanged.
        """
        return self

    def get_feature_names_out(self, input_features=None):
        """Pass the names on: recordings have none of their own.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Returned as given.

        Returns
        -------
        array-like of str or None
            ``input_features``; a pipeline then asks the step that makes a
            table for its columns.

        Raises
        ------
        NotFittedError
            Before ``fit``, as scikit-learn's transformers do.
        """
        check_is_fitted(self)
        return input_features


def validate_params_within(estimator: Any) -> None:
    """Check the parameters of ``estimator`` and of every estimator in it (a
    pipeline's steps, a wrapper's network) against their stated rules.

    Raises
    ------
    sklearn.utils._param_validation.InvalidParameterError
        Naming the parameter and the estimator (a ``ValueError``).
    """
    for each in [estimator, *estimator.get_params().values()]:
        # the estimators that state their rules (all of ours, most of sklearn's)
        if isinstance(each, BaseEstimator) and hasattr(each, "_parameter_constraints"):
            each._validate_params()


class SignalTransformer(RecordingsOut, TransformerMixin, BaseEstimator):
    """Base of the steps that map each recording to one output.

    ``fit`` and ``transform`` validate the input and loop over recordings; subclasses
    implement ``_transform_signals``. Input is a :class:`Signals`, a sequence of 1-D
    arrays, or a 2-D array with one recording per row; the output is a
    :class:`Signals` (or bags) whatever came in, as a bare array would lose what
    travels with the recordings (their sample rate, the smoothed reference the
    cutter finds peaks on, the clipping measured before filtering).
    """

    #: Steps that read :class:`~vascular_sklearn.corpus.RecordingFiles` themselves,
    #: file by file in their workers; the others get the files loaded.
    _reads_files = False

    def _to_signals(self, X: Any, *, fit: bool) -> Signals:
        """Validate ``X`` and return it as Signals.

        Plain arrays carry no rate: ``sample_rate`` gives it, else the rate
        the step was fitted at (after ``fit``), else 22050 Hz.
        """
        rate = getattr(self, "sample_rate", None)
        if not rate and not fit:
            rate = getattr(self, "sample_rate_", None)
        rate = rate or SEED_SAMPLE_RATE
        if isinstance(X, (RecordingFiles, Signals)) and len(X) == 0 and fit:
            # an empty batch may pass through transform
            raise RecordingError("X holds no recordings.")
        if isinstance(X, RecordingFiles):
            if self._reads_files:
                return X
            X = X.load(getattr(self, "n_jobs", None))
        if isinstance(X, Signals):
            data = [check_recording(x, X.name(i)) for i, x in enumerate(X.data)]
            return replace(X, data=object_array(data))
        if hasattr(X, "__array__") and not hasattr(X, "__len__"):
            X = np.asarray(X)
        if getattr(X, "ndim", None) == 0:  # len() of it is a TypeError
            raise RecordingError(
                f"X is a single number ({X!r}), not recordings: pass a list of "
                "1-D arrays."
            )
        if getattr(X, "ndim", None) == 2:  # one recording per row
            if issparse(X):
                raise RecordingError(
                    "X is a sparse matrix; recordings are dense audio: pass "
                    "X.toarray() or a list of 1-D arrays."
                )
            _refuse_channels(X.shape, "X")
            X = list(np.asarray(X))  # each row checked below, named by its number
        if isinstance(X, np.ndarray) and X.ndim == 1 and X.dtype != object:
            raise RecordingError(
                "X is one 1-D array. Reshape your data: pass a list of recordings "
                "([x]) or x.reshape(1, -1) for a single recording."
            )
        if isinstance(X, Mapping):  # iterating it would give its keys
            raise RecordingError(
                f"X is a {type(X).__name__} of recordings; pass its values as a "
                "list (list(X.values())) and the keys as names: "
                "Signals.from_arrays(list(X.values()), rate, names=list(X))."
            )
        if isinstance(X, (str, bytes)) or not hasattr(X, "__len__"):
            raise RecordingError(
                "X must be a sequence of recordings (1-D arrays), a 2-D array with "
                f"one recording per row, or a Signals; got {type(X).__name__}."
            )
        if len(X) == 0:
            raise RecordingError("X holds no recordings.")
        data = [check_recording(x, f"recording {i}") for i, x in enumerate(X)]
        return Signals.from_arrays(data, rate)

    def fit(self, X: Any, y: Any = None) -> SignalTransformer:
        """Check the input and remember its sample rate.

        Parameters
        ----------
        X : Signals, sequence of 1-D arrays, or ndarray of shape (n_recordings, n)
            Recordings. Plain arrays carry no rate: they are taken at the
            step's ``sample_rate`` where it has one, else at 22050 Hz (the
            seed recordings'); a :class:`Signals` carries its own
            (``Signals.from_arrays(arrays, rate)``).
        y : ignored

        Returns
        -------
        self : object
        """
        self._validate_params()
        self._check_params()
        signals = self._to_signals(X, fit=True)
        self.sample_rate_ = signals.sample_rate
        return self

    def _check_params(self) -> None:
        """Checks across parameters, or of units, that one constraint each
        cannot express."""

    def transform(self, X: Any) -> Any:
        """Apply the step to every recording.

        Parameters
        ----------
        X : Signals, sequence of 1-D arrays, or ndarray of shape (n_recordings, n)
            Recordings; plain arrays at the step's ``sample_rate`` where it
            has one, else at the rate it was fitted at.

        Returns
        -------
        Xt : Signals or CycleBags
            One output per recording, in the input's order.
        """
        check_is_fitted(self)
        # parameters set after fit: min_distance=11000 (samples) cut nothing
        self._validate_params()
        self._check_params()
        return self._transform_signals(self._to_signals(X, fit=False))

    def _transform_signals(self, signals: Signals) -> Any:
        raise NotImplementedError

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags


#: What a cycle's error says of NaN or infinite samples (a recording checked
#: on the way in has none; a CycleBags built by hand may).
NOT_FINITE = "NaN or infinite samples; repair or drop the recording"


def _refuse_not_finite(x: np.ndarray, bounds: np.ndarray, name: str) -> None:
    """Name the first cycle of ``x`` holding a NaN or infinite sample, else
    the recording."""
    first = int(np.flatnonzero(~np.isfinite(x))[0])
    for k, (a, b) in enumerate(np.asarray(bounds).reshape(-1, 2)):
        if a <= first < b:
            raise RecordingError(
                f"{name}, cycle {k} (samples {a} to {b}): {NOT_FINITE}."
            )
    check_recording(x, name)


class CycleBagTransformer(TransformerMixin, BaseEstimator):
    """Base of the steps that take the cycle bags :class:`PeakCycleCutter` makes."""

    def _check_bags(self, X: Any) -> CycleBags:
        if not isinstance(X, CycleBags):
            raise TypeError(
                f"{type(self).__name__} takes the CycleBags that PeakCycleCutter "
                f"returns, got {type(X).__name__}."
            )
        # the cutter's bags hold float audio; bags built by hand can hold int16
        # counts (mixed with full-scale copies by an augmentation) or NaN
        for i, x in enumerate(X.signals.data):
            x = np.asarray(x)
            if x.dtype.kind != "f":
                check_recording(x, X.name(i))
            elif not np.isfinite(x).all():
                _refuse_not_finite(x, X.bounds[i], X.name(i))
        return X

    def fit(self, X: CycleBags, y: Any = None):
        """Check the parameters and the input; remember its sample rate.

        Parameters
        ----------
        X : CycleBags
            The training recordings' cycles, from
            :class:`~vascular_sklearn.PeakCycleCutter`.
        y : None
            Ignored; present for the scikit-learn API.

        Returns
        -------
        self
            The fitted step.

        Raises
        ------
        TypeError
            If ``X`` is not a :class:`~vascular_sklearn.containers.CycleBags`.
        ValueError
            If a parameter is invalid, or two parameters do not go together.
        RecordingError
            If ``X`` holds no recordings.
        """
        self._validate_params()
        self._check_params()
        if not len(self._check_bags(X)):
            raise RecordingError("X holds no recordings.")
        # before anything is set: a step refused at this rate looked fitted
        self._check_rate(X.sample_rate)
        self.sample_rate_ = X.sample_rate
        return self

    def _check_rate(self, sample_rate: float) -> None:
        """Refuse parameters that do not go with the recordings' rate."""

    def _check_params(self) -> None:
        """Checks across parameters that one constraint each cannot express."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        return tags
