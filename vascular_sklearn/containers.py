"""Containers that carry recordings through the pipeline, one item per recording.

Every step of the pipeline takes and returns one item per recording, so ``X``, ``y``
and ``groups`` never fall out of step. Signals carry their sample rate with them, so
it is stated once. The containers expose ``shape`` and accept integer-array indexing,
which is all :func:`sklearn.utils._safe_indexing` and ``cross_validate`` need.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from math import nan
from typing import Any

import numpy as np

from .audio import RATE_RANGE, _finite_above_zero
from .cycle_quality import clipped_samples, cycle_quality, pulse_db
from .exceptions import RecordingError

__all__ = ["CycleBags", "Signals", "Spectrograms", "clipped_fraction", "object_array"]


#: Reasons a cutter drops a cycle between two peaks, besides a long gap.
DROP_REASONS = ("short", "clipped", "noisy")


def object_array(items: Sequence[Any]) -> np.ndarray:
    """Return a 1-D object array holding ``items`` as they are.

    ``np.asarray(list_of_equal_length_arrays, dtype=object)`` silently builds a
    2-D array; filling an empty object array never does.

    Parameters
    ----------
    items : sequence
        The items, typically one 1-D array per recording.

    Returns
    -------
    ndarray of object, shape (len(items),)
        ``out[i] is items[i]`` for every ``i``.

    Examples
    --------
    >>> import numpy as np
    >>> object_array([np.zeros(3), np.ones(3)]).shape
    (2,)
    """
    out = np.empty(len(items), dtype=object)
    for i, item in enumerate(items):
        out[i] = item
    return out


def clipped_fraction(x: np.ndarray) -> float:
    """Compute the share of samples on flat tops at the recording's peak level.

    Clipping leaves flat tops at the peak level (often well below full
    scale): the rule of :func:`~vascular_sklearn.cycle_quality.clipped_samples`.

    Parameters
    ----------
    x : ndarray of shape (n_samples,)
        One recording.

    Returns
    -------
    float
        Fraction of samples in [0, 1]; 1.0 for an empty or all-zero recording.

    Examples
    --------
    >>> import numpy as np
    >>> clipped_fraction(np.clip(np.sin(np.linspace(0, 20, 1000)), -0.5, 0.5)) > 0.3
    True
    """
    if not len(x):
        return 1.0
    return float(np.count_nonzero(clipped_samples(x))) / len(x)


#: A 2-D array of at most this many columns and at least this many rows (a
#: second at 2 kHz, PhysioNet's rate; two at the lowest rate read) is one
#: recording, its channels in
#: columns (as soundfile reads them), not thousands of recordings of a few
#: samples each.
_MOST_CHANNELS, _CHANNELS_ROWS = 8, 2000


def _refuse_channels(shape: tuple[int, int], what: str) -> None:
    """Refuse a 2-D array of one recording per row that is one recording with
    its channels in columns.

    Parameters
    ----------
    shape : tuple of int
        The array's shape.
    what : str
        Its name in the message.

    Raises
    ------
    RecordingError
        A few columns and many rows.

    Examples
    --------
    >>> _refuse_channels((3, 22050), "X")  # three recordings of a second
    """
    n, length = shape
    if length <= _MOST_CHANNELS and n >= _CHANNELS_ROWS:
        raise RecordingError(
            f"{what} has shape {tuple(shape)}: one recording per row would make "
            f"{n} recordings of {length} samples. For one recording with "
            "channels in columns, mix them (x.mean(axis=1)) or pass the "
            "channels as recordings (x.T)."
        )


def _subset_index(index: Any, n: int) -> np.ndarray:
    """Turn a slice, boolean mask or integer array into integer positions."""
    if isinstance(index, slice):
        return np.arange(n)[index]
    index = np.asarray(index)
    if index.dtype == bool:
        if index.shape != (n,):
            raise IndexError(f"boolean index of shape {index.shape} for {n} recordings")
        return np.flatnonzero(index)
    if index.size == 0:
        # np.asarray([]) is float: an empty list selects nothing
        return np.empty(0, np.int64)
    if index.ndim != 1 or not np.issubdtype(index.dtype, np.integer):
        raise IndexError(
            "index recordings with an int, a slice, an int array or a mask"
        )
    if index.min() < -n or index.max() >= n:
        raise IndexError(f"recording index out of range for {n} recordings")
    # Spectrograms' offsets hold n + 1 entries: a negative position must not
    # count from their end (in intp: index + n overflows an int8 index)
    index = index.astype(np.intp, copy=False)
    return np.where(index < 0, index + n, index)


def _check_sample_rate(rate: Any) -> None:
    """Refuse a sample rate that is not a number of Hz a recorder writes.

    A rate of 0, below 0 or NaN would otherwise fail deep in scipy's resampling
    or in a division, far from where it was given; one in kHz (22.05) would
    resample each recording to a thousand times its length without a word.

    Raises
    ------
    ValueError
        Saying what was given.

    Examples
    --------
    >>> _check_sample_rate(22050)
    >>> try:
    ...     _check_sample_rate(float("nan"))
    ... except ValueError as err:
    ...     print(str(err)[-7:])
    got nan
    """
    if not _finite_above_zero(rate):
        raise ValueError(
            "sample_rate must be a finite number of samples per second above 0, "
            f"got {rate!r}"
        )
    low, high = RATE_RANGE
    if not low <= rate <= high:
        hint = f" (a rate in kHz? give it in Hz: {rate * 1000:g})" if rate < 400 else ""
        raise ValueError(
            f"sample_rate={rate!r} Hz lies outside the {low / 1000:g} to "
            f"{high / 1000:g} kHz of sound recorders{hint}"
        )


class _RecordingSequence:
    """Shared behaviour: length, ``shape``, names, and indexing by recording."""

    names: np.ndarray | None

    def __len__(self) -> int:
        raise NotImplementedError

    def __repr__(self) -> str:
        # a summary: every recording's arrays ran to megabytes in a notebook
        named = "" if self.names is None else ", named"
        return f"{type(self).__name__}({len(self)} recordings{self._summary()}{named})"

    def _summary(self) -> str:
        return ""

    def _check_names(self) -> None:
        """Names as an array of one per recording: a list could not be indexed
        by position, and a short one would fail while a message is built."""
        if self.names is None:
            return
        names = np.asarray(self.names, dtype=object)
        if names.shape != (len(self),):
            got = f"{len(names)} names" if names.ndim == 1 else repr(self.names)
            raise ValueError(
                f"names: {got} for {len(self)} recordings; give a sequence of "
                "one name per recording"
            )
        object.__setattr__(self, "names", names)

    def _check_fields(self, **dtypes: Any) -> None:
        """Per-recording fields as arrays of one entry per recording.

        A list (of arrays, notes or numbers) could not be indexed by the
        positions of a subset (``X[train]``), and one of another length would
        describe recording ``i`` by another's entry, or fail far from where it
        was given. ``dtypes`` maps each field to ``object`` (an array or a
        note per recording) or to the dtype of its numbers (``None``: as
        given); ``None`` values are left alone.
        """
        for key, dtype in dtypes.items():
            value = getattr(self, key)
            if value is None:
                continue
            if not isinstance(value, np.ndarray):
                if isinstance(value, (str, bytes)) or not np.iterable(value):
                    value = np.asarray(value, dtype=object)  # not its characters
                elif dtype is object:
                    value = object_array(list(value))
                else:
                    value = np.asarray(value, dtype=dtype)
                object.__setattr__(self, key, value)
            # a number per recording is one column: a table would pass by length
            one_d = dtype is object or value.ndim == 1
            if value.ndim == 0 or len(value) != len(self) or not one_d:
                got = (
                    "a scalar"
                    if value.ndim == 0
                    else f"{len(value)} entries"
                    if value.ndim == 1
                    else f"shape {value.shape}"
                )
                raise ValueError(
                    f"{key}: {got} for {len(self)} recordings; give one entry "
                    "per recording"
                )

    @property
    def shape(self) -> tuple[int]:
        return (len(self),)

    def _names_of(self, positions: np.ndarray, detail=None) -> str:
        """The names of the recordings at ``positions`` for a message: the
        first five (each with ``detail(i)`` in brackets, when given), then how
        many more."""
        shown = ", ".join(
            self.name(i) + ("" if detail is None else f" ({detail(i)})")
            for i in positions[:5]
        )
        return shown + (f" and {len(positions) - 5} more" if len(positions) > 5 else "")

    def name(self, i: int) -> str:
        """Return a human-readable name of recording ``i`` for messages.

        Parameters
        ----------
        i : int
            Position of the recording.

        Returns
        -------
        str
            Its entry in ``names`` when there are names, else ``"recording i"``.
        """
        if self.names is not None:
            return str(self.names[i])
        return f"recording {i}"

    def _take(self, positions: np.ndarray) -> _RecordingSequence:
        raise NotImplementedError

    def _item(self, i: int) -> Any:
        raise NotImplementedError

    def __getitem__(self, index: Any) -> Any:
        # sklearn's _safe_indexing asks for X[indices, ...]
        if isinstance(index, tuple):
            if any(i is not Ellipsis for i in index[1:]):
                # np.asarray made X[1, 2] the recordings 1 and 2
                raise IndexError(
                    f"too many indices: recordings are indexed by one ({index!r})"
                )
            index = index[0]
        if isinstance(index, np.ndarray) and index.ndim == 0:  # an int as an array
            index = index[()]
        if isinstance(index, (int, np.integer)) and not isinstance(index, bool):
            return self._item(int(_subset_index(np.array([index]), len(self))[0]))
        return self._take(_subset_index(index, len(self)))

    def __iter__(self):
        return (self._item(i) for i in range(len(self)))


def _take_optional(values: Any, positions: np.ndarray) -> Any:
    """``values[positions]``, or ``None`` where a container holds no such field."""
    return None if values is None else values[positions]


def _offsets(counts: Any) -> np.ndarray:
    """Where each recording's rows start, from their counts, and one past the last."""
    return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


@dataclass(frozen=True, eq=False, repr=False)
class Signals(_RecordingSequence):
    """Recordings (1-D float arrays of any lengths) with their sample rate.

    Parameters
    ----------
    data : ndarray of object, shape (n_recordings,)
        One 1-D float array per recording.
    sample_rate : float
        Samples per second, shared by all recordings.
    reference : ndarray of object or None
        Optional smoothed copy of each recording (set by
        :class:`~vascular_sklearn.MeanSmoother`); peaks are found on it.
    names : ndarray of str or None
        Optional name per recording (file names), used in error messages.
    clipped : ndarray of object or None
        Per recording, the raw samples at its peak level (flat tops of
        clipping) counted in blocks of 10 ms
        (:func:`~vascular_sklearn.cycle_quality.clip_counts`), set by
        :class:`~vascular_sklearn.LowpassFilter` before filtering rounds them
        off.
    notes : ndarray of object or None
        Per recording, what reading its file noted (a file that ends before
        the audio its header declares), ``""`` for nothing; set by
        :class:`~vascular_sklearn.LowpassFilter` when it reads files.
    rounding_snr_db : ndarray of float or None
        Per recording, how far its power lies above its converter's rounding
        noise in the 1 kHz band
        (:func:`~vascular_sklearn.recorder.rounding_snr_db`), measured by
        :class:`~vascular_sklearn.LowpassFilter` on the samples as read.
    source_rates : ndarray of float or None
        Per recording, the sample rate it was recorded at, before
        :class:`~vascular_sklearn.LowpassFilter` brought it to
        ``sample_rate``.

    Examples
    --------
    >>> import numpy as np
    >>> s = Signals.from_arrays([np.zeros(5), np.ones(7)], sample_rate=22050)
    >>> len(s), s[1].shape, len(s[[1]])
    (2, (7,), 1)
    """

    data: np.ndarray
    sample_rate: float
    reference: np.ndarray | None = None
    names: np.ndarray | None = None
    clipped: np.ndarray | None = None
    notes: np.ndarray | None = None
    rounding_snr_db: np.ndarray | None = None
    source_rates: np.ndarray | None = None

    def __post_init__(self) -> None:
        _check_sample_rate(self.sample_rate)
        if not isinstance(self.data, np.ndarray):  # a list, as from_arrays takes
            object.__setattr__(self, "data", object_array(self.data))
        self._check_names()
        self._check_fields(
            reference=object,
            clipped=object,
            notes=object,
            rounding_snr_db=np.float64,
            source_rates=np.float64,
        )

    @classmethod
    def from_arrays(
        cls,
        arrays: Sequence[np.ndarray],
        sample_rate: float,
        names: Sequence[str] | None = None,
    ) -> Signals:
        """Build from a sequence of 1-D arrays (or the rows of a 2-D array).

        Parameters
        ----------
        arrays : sequence of ndarray of shape (n_samples_i,)
            One recording per item; lengths may differ.
        sample_rate : float
            Samples per second, shared by all recordings.
        names : sequence of str or None, default=None
            Optional name per recording, used in error messages.

        Returns
        -------
        Signals
            The recordings, unchanged, with no reference and no clipping measure.

        Raises
        ------
        RecordingError
            A 2-D array that is one recording, its channels in columns.
        """
        if getattr(arrays, "ndim", None) == 2:
            _refuse_channels(arrays.shape, "arrays")
        if getattr(arrays, "ndim", None) == 1 and arrays.dtype != object:
            # its samples became as many recordings of one sample each
            raise RecordingError(
                f"arrays is one 1-D array of {len(arrays)} samples; pass a list "
                "of recordings ([x] for one)"
            )
        return cls(
            data=object_array(list(arrays)),
            sample_rate=float(sample_rate),
            names=names,
        )

    def __len__(self) -> int:
        return len(self.data)

    def _summary(self) -> str:
        seconds = sum(len(x) for x in self.data) / self.sample_rate
        return f" at {self.sample_rate:g} Hz, {seconds:.1f} s in all"

    def _item(self, i: int) -> np.ndarray:
        return self.data[i]

    def _take(self, positions: np.ndarray) -> Signals:
        return replace(
            self,
            data=self.data[positions],
            reference=_take_optional(self.reference, positions),
            names=_take_optional(self.names, positions),
            clipped=_take_optional(self.clipped, positions),
            notes=_take_optional(self.notes, positions),
            rounding_snr_db=_take_optional(self.rounding_snr_db, positions),
            source_rates=_take_optional(self.source_rates, positions),
        )

    @property
    def durations(self) -> np.ndarray:
        """Length of each recording in seconds."""
        return np.array([len(x) for x in self.data]) / self.sample_rate


def _integers(values: np.ndarray) -> bool:
    """Whether an object array holds integers only (as ``np.array([bounds],
    dtype=object)`` makes of one recording's bounds)."""
    return values.dtype == object and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool)
        for v in values.flat
    )


@dataclass(frozen=True, eq=False, repr=False)
class CycleBags(_RecordingSequence):
    """Each recording as a bag of heart cycles, cut from its filtered signal.

    Parameters
    ----------
    signals : Signals
        The signals the cycles were cut from.
    bounds : ndarray of object, shape (n_recordings,)
        Per recording an int64 array of shape (n_cycles, 2): ``[start, stop)``
        in samples of that recording.
    n_peaks : ndarray of int, shape (n_recordings,), or None, default=None
        Peaks found per recording (cycles kept are at most ``n_peaks - 1``);
        ``None``: :meth:`quality` counts one peak more than cycles kept and
        dropped (no long gap).
    dropped : dict of str to ndarray of int, or None
        Per reason, the cycles between consecutive peaks each recording lost
        besides long gaps: ``"short"`` (too short for one beat: an early
        beat), ``"clipped"`` and ``"noisy"``
        (:func:`~vascular_sklearn.cycle_quality.failed_cycles`); ``None`` when
        the cutter drops no cycle but across long gaps.
    runs : ndarray of object, or None
        Per recording an int64 array of the samples where each run of its
        signal starts: ``[0]`` for the recording itself, then one start per
        run that :class:`~vascular_sklearn.robustness.RecorderAugmentation`
        appended (the same vessel heard through another device). ``None``
        when every signal is one run.
    pulse_db : ndarray of float, shape (n_recordings,), or None
        How far each recording's loudness swings with the heartbeat
        (:func:`~vascular_sklearn.cycle_quality.pulse_db`), as the cutter
        measured it; ``None``: :meth:`quality` measures it.

    Examples
    --------
    >>> import numpy as np
    >>> s = Signals.from_arrays([np.arange(10.0)], sample_rate=1000)
    >>> bags = CycleBags(s, bounds=object_array([np.array([[2, 5], [5, 9]])]),
    ...                  n_peaks=np.array([3]))
    >>> [c.tolist() for c in bags.cycles(0)]
    [[2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]]
    """

    signals: Signals
    bounds: np.ndarray
    n_peaks: np.ndarray | None = None
    dropped: dict[str, np.ndarray] | None = None
    runs: np.ndarray | None = None
    pulse_db: np.ndarray | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.bounds, np.ndarray):  # a list, one array each
            object.__setattr__(self, "bounds", object_array(list(self.bounds)))
        if len(self.bounds) != len(self.signals):
            raise ValueError(
                f"bounds: {len(self.bounds)} entries for {len(self.signals)} "
                "recordings; give one array of cycles per recording"
            )
        self._check_fields(n_peaks=None, runs=object, pulse_db=np.float64)
        self._check_bounds()
        if self.dropped is not None:
            dropped = {k: np.asarray(v) for k, v in self.dropped.items()}
            for reason, counts in dropped.items():
                if reason not in DROP_REASONS:  # its cycles were counted as gaps
                    raise ValueError(
                        f"dropped[{reason!r}]: not a reason a cutter drops a "
                        f"cycle for; use {', '.join(map(repr, DROP_REASONS))}"
                    )
                if counts.shape != (len(self),):
                    raise ValueError(
                        f"dropped[{reason!r}]: shape {counts.shape} for "
                        f"{len(self)} recordings; give one count per recording"
                    )
            object.__setattr__(self, "dropped", dropped)
        self._check_counts()

    def _check_bounds(self) -> None:
        """Refuse cycles that are no ``[start, stop)`` within their recording:
        bags built by hand (from one's own beat annotations, say) would be
        sliced with float indices, or cut short at the recording's end. Each
        is kept as an int64 array of shape (n_cycles, 2): an empty list, or a
        list of pairs, failed where the augmentation sliced it."""
        kept = []
        for i, (bounds, x) in enumerate(
            zip(self.bounds, self.signals.data, strict=True)
        ):
            bounds = np.asarray(bounds)
            if not len(bounds):
                kept.append(np.zeros((0, 2), np.int64))
                continue
            problem = None
            if bounds.ndim != 2 or bounds.shape[1] != 2:
                problem = f"shape {bounds.shape}, not (n_cycles, 2)"
            elif bounds.dtype.kind not in "iu" and not _integers(bounds):
                problem = f"{bounds.dtype} values, not integer sample positions"
            elif (bounds[:, 0] < 0).any() or (bounds[:, 1] > len(x)).any():
                problem = f"a cycle outside the recording's {len(x)} samples"
            elif (bounds[:, 0] >= bounds[:, 1]).any():
                problem = "a cycle whose start is not before its stop"
            if problem is not None:
                raise ValueError(
                    f"bounds of {self.signals.name(i)}: {problem}; give each "
                    "recording an int64 array of [start, stop) rows within it"
                )
            kept.append(bounds.astype(np.int64, copy=False))
        object.__setattr__(self, "bounds", object_array(kept))

    def _check_counts(self) -> None:
        """Refuse peak and drop counts that no cutting gives: quality() read a
        negative number of long gaps from them."""
        dropped = self.dropped or {}
        fields = {
            "n_peaks": self.n_peaks,
            **{f"dropped[{k!r}]": v for k, v in dropped.items()},
        }
        for key, counts in fields.items():
            if counts is None:
                continue
            counts = np.asarray(counts)
            if counts.dtype.kind not in "iu" and not _integers(counts):
                raise ValueError(f"{key}: {counts.dtype} values, not counts")
            if (counts < 0).any():
                raise ValueError(f"{key}: a negative count")
        if self.dropped is not None:
            dropped = {k: v.astype(np.int64) for k, v in self.dropped.items()}
            object.__setattr__(self, "dropped", dropped)
        if self.n_peaks is None:
            return
        object.__setattr__(self, "n_peaks", self.n_peaks.astype(np.int64))
        # the cycles of the recording itself: an augmentation's runs add more
        kept = (
            self.n_cycles
            if self.runs is None
            else np.array(
                [
                    np.count_nonzero(b[:, 1] <= (r[1] if len(r) > 1 else len(x)))
                    for b, r, x in zip(
                        self.bounds, self.runs, self.signals.data, strict=True
                    )
                ]
            )
        )
        cut = kept + sum(np.asarray(v) for v in dropped.values())
        # a cycle kept or dropped lies between two peaks
        short = np.flatnonzero((cut > 0) & (self.n_peaks < cut + 1))
        if len(short):
            i = int(short[0])
            raise ValueError(
                f"n_peaks of {self.signals.name(i)}: {self.n_peaks[i]} peaks cannot "
                f"bound its {cut[i]} cycles kept and dropped"
            )

    @property
    def names(self) -> np.ndarray | None:  # type: ignore[override]
        return self.signals.names

    @property
    def sample_rate(self) -> float:
        return self.signals.sample_rate

    def _summary(self) -> str:
        return f" at {self.sample_rate:g} Hz, {int(self.n_cycles.sum())} cycles"

    @property
    def n_cycles(self) -> np.ndarray:
        """Number of cycles per recording."""
        return np.array([len(b) for b in self.bounds], dtype=np.int64)

    def quality(self, min_cycles: int = 1, per_cycle: bool = False) -> list[dict]:
        """Report per recording what was found, what was kept, and why not the rest.

        Every pair of consecutive peaks is one candidate cycle; those not kept
        are counted by reason: ``dropped_short`` (too close to be one beat: the
        cycle that ends on an early beat), ``dropped_clipped`` (a transient
        drove it into the rails), ``dropped_noisy`` (no beat above the noise
        floor: contact lost) and ``dropped_long_gap`` (too far apart: a missed
        beat or an artefact). ``clipped_fraction`` is the share of the raw
        recording's samples on flat tops at its peak level
        (:func:`~vascular_sklearn.cycle_quality.clipped_samples`: a top 0.1 %
        band far fuller than the one below it), and beyond full scale where
        the filter counted those; ``snr_db`` the median over kept cycles of their
        power above the noise floor; ``rounding_snr_db`` the recording's power
        above its converter's rounding noise in the 1 kHz band (``nan`` when
        no :class:`~vascular_sklearn.LowpassFilter` read it); ``pulse_db`` how
        far its loudness swings with the heartbeat
        (:func:`~vascular_sklearn.cycle_quality.pulse_db`: under 1 dB, a
        stationary noise rather than a pulse); ``flagged``
        marks recordings with fewer than ``min_cycles`` cycles, which a
        classifier should not guess on.

        Parameters
        ----------
        min_cycles : int, default=1
            Recordings with fewer cycles than this are flagged.
        per_cycle : bool, default=False
            Add ``cycle_quality``, the kept cycles' measures from
            :meth:`cycle_quality`.

        Returns
        -------
        list of dict
            One dict per recording with keys ``recording`` (name), ``seconds``,
            ``peaks``, ``cycles``, ``dropped_short``, ``dropped_clipped``,
            ``dropped_noisy``, ``dropped_long_gap``, ``clipped_fraction``,
            ``snr_db``, ``rounding_snr_db``, ``pulse_db`` and ``flagged`` (and
            ``cycle_quality`` on request).

        Examples
        --------
        >>> import numpy as np
        >>> s = Signals.from_arrays([np.sin(np.arange(100.0))], sample_rate=1000)
        >>> bags = CycleBags(s, object_array([np.array([[2, 5]])]), np.array([3]))
        >>> row = bags.quality(min_cycles=2)[0]
        >>> row["cycles"], row["dropped_long_gap"], row["flagged"]
        (1, 1, True)
        """
        if self.runs is not None:  # training bags: describe what was recorded
            return self._as_recorded().quality(min_cycles, per_cycle)
        rows, rounding = [], self.signals.rounding_snr_db
        for i, x in enumerate(self.signals.data):
            n_cycles = len(self.bounds[i])
            counts = self.dropped or {}
            dropped = {
                f"dropped_{reason}": int(counts[reason][i]) if reason in counts else 0
                for reason in DROP_REASONS
            }
            n_dropped = sum(dropped.values())
            # without peaks given, no long gap: a peak before each cycle kept
            # or dropped, and one after the last
            n_peaks = (
                int(self.n_peaks[i])
                if self.n_peaks is not None
                else n_cycles + n_dropped + 1
            )
            measures = self.cycle_quality(i)
            row = {
                "recording": self.name(i),
                "seconds": len(x) / self.sample_rate,
                "peaks": n_peaks,
                "cycles": n_cycles,
                **dropped,
                "dropped_long_gap": max(n_peaks - 1, 0) - n_cycles - n_dropped,
                "clipped_fraction": self._clipped_fraction(i),
                "snr_db": float(np.median(measures["snr_db"])) if n_cycles else nan,
                "rounding_snr_db": nan if rounding is None else float(rounding[i]),
                "pulse_db": pulse_db(x, self.sample_rate)
                if self.pulse_db is None
                else float(self.pulse_db[i]),
                "flagged": n_cycles < min_cycles,
            }
            if per_cycle:
                row["cycle_quality"] = measures
            rows.append(row)
        return rows

    def _clipped_fraction(self, i: int) -> float:
        x = self.signals.data[i]
        if self.signals.clipped is None:
            return clipped_fraction(x)
        return float(np.sum(self.signals.clipped[i])) / max(len(x), 1)

    def cycle_quality(self, i: int) -> dict[str, np.ndarray]:
        """Measure each kept cycle of recording ``i`` against the recording.

        Parameters
        ----------
        i : int
            Position of the recording.

        Returns
        -------
        dict of ndarray of shape (n_cycles,)
            ``period_deviation``, ``clipped`` and ``snr_db``, as
            :func:`~vascular_sklearn.cycle_quality.cycle_quality` defines them
            (clipping from the raw recording when the filter counted it).
        """
        if self.runs is not None:
            return self._as_recorded().cycle_quality(i)
        counts = None if self.signals.clipped is None else self.signals.clipped[i]
        return cycle_quality(
            self.signals.data[i], self.bounds[i], self.sample_rate, counts
        )

    def _as_recorded(self) -> CycleBags:
        """These bags without the runs an augmentation appended: each signal
        up to its first appended run, and the cycles within it."""
        ends = [
            r[1] if len(r) > 1 else len(x)
            for x, r in zip(self.signals.data, self.runs, strict=True)
        ]
        data = object_array(
            [x[:end] for x, end in zip(self.signals.data, ends, strict=True)]
        )
        bounds = object_array(
            [b[b[:, 1] <= end] for b, end in zip(self.bounds, ends, strict=True)]
        )
        return replace(
            self, signals=replace(self.signals, data=data), bounds=bounds, runs=None
        )

    def cycles(self, i: int) -> list[np.ndarray]:
        """Return the cycles of recording ``i`` as views into its signal.

        Parameters
        ----------
        i : int
            Position of the recording.

        Returns
        -------
        list of ndarray
            One 1-D array per cycle, ``signal[start:stop]`` for each row of
            ``bounds[i]``.
        """
        x = self.signals.data[i]
        return [x[a:b] for a, b in self.bounds[i]]

    def __len__(self) -> int:
        return len(self.bounds)

    def _item(self, i: int) -> list[np.ndarray]:
        return self.cycles(i)

    def _take(self, positions: np.ndarray) -> CycleBags:
        dropped = None
        if self.dropped is not None:
            dropped = {k: v[positions] for k, v in self.dropped.items()}
        return CycleBags(
            self.signals._take(positions),
            self.bounds[positions],
            _take_optional(self.n_peaks, positions),
            dropped,
            _take_optional(self.runs, positions),
            _take_optional(self.pulse_db, positions),
        )


@dataclass(frozen=True, eq=False, repr=False)
class Spectrograms(_RecordingSequence):
    """All cycles' images in one contiguous array, with per-recording offsets.

    Parameters
    ----------
    images : ndarray of float32, shape (n_cycles_total, 1, n_freqs, n_frames)
        One image per cycle, recordings one after the other.
    offsets : ndarray of int64, shape (n_recordings + 1,)
        Recording ``i`` owns ``images[offsets[i]:offsets[i + 1]]``.
    names : ndarray of str or None
        Optional name per recording.
    bounds : ndarray of object or None
        The cycle bounds the images came from, kept for analysis.

    Examples
    --------
    >>> import numpy as np
    >>> spec = Spectrograms(np.zeros((5, 1, 4, 3), np.float32), np.array([0, 2, 5]))
    >>> len(spec), spec[1].shape, spec.recording_index.tolist()
    (2, (3, 1, 4, 3), [0, 0, 1, 1, 1])
    """

    images: np.ndarray
    offsets: np.ndarray
    names: np.ndarray | None = None
    bounds: np.ndarray | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.images, np.ndarray):  # a list: no subset took rows
            object.__setattr__(self, "images", np.asarray(self.images))
        offsets = np.asarray(self.offsets)
        whole = offsets.dtype.kind == "f" and np.isfinite(offsets).all()
        if whole and np.array_equal(offsets, offsets.round()):
            offsets = offsets.astype(np.int64)  # whole numbers, as floats
        elif offsets.dtype.kind == "u":  # uint64's diff wrapped instead of falling
            offsets = offsets.astype(np.int64)
        if (
            offsets.dtype.kind not in "iu"  # slice bounds (floats failed in [i])
            or offsets.ndim != 1
            or not len(offsets)
            or offsets[0] != 0
            or offsets[-1] != len(self.images)
            or np.any(np.diff(offsets) < 0)
        ):
            raise ValueError(
                f"offsets must be integers rising from 0 to the number of images "
                f"({len(self.images)}), one more entry than recordings"
            )
        # as an array: a subset takes the starts of its recordings by position
        object.__setattr__(self, "offsets", offsets)
        self._check_names()
        self._check_fields(bounds=object)

    @classmethod
    def from_bags(
        cls,
        bags: Sequence[np.ndarray],
        names: Sequence[str] | None = None,
    ) -> Spectrograms:
        """Stack per-recording arrays of shape (n_cycles_i, ...) into one container.

        Parameters
        ----------
        bags : sequence of ndarray of shape (n_cycles_i, ...)
            One array of images per recording; all but the first axis must agree.
        names : sequence of str or None, default=None
            Optional name per recording.

        Returns
        -------
        Spectrograms
            The images concatenated in order, with ``offsets`` marking where each
            recording starts.

        Examples
        --------
        >>> import numpy as np
        >>> bags = [np.zeros((2, 1, 4, 3)), np.ones((1, 1, 4, 3))]
        >>> spec = Spectrograms.from_bags(bags, names=["a.wav", "b.wav"])
        >>> spec.offsets.tolist(), spec.n_cycles.tolist(), spec.name(1)
        ([0, 2, 3], [2, 1], 'b.wav')
        """
        bags = [np.asarray(b) for b in bags]
        offsets = _offsets([len(b) for b in bags])
        images = np.concatenate(bags) if bags else np.empty((0,))
        return cls(
            images, offsets, None if names is None else np.asarray(names, object)
        )

    @property
    def n_cycles(self) -> np.ndarray:
        """Number of cycles per recording."""
        return np.diff(self.offsets)

    @property
    def recording_index(self) -> np.ndarray:
        """For every cycle, the position of its recording."""
        return np.repeat(np.arange(len(self)), self.n_cycles)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def _summary(self) -> str:
        shape = " x ".join(map(str, self.images.shape[1:]))
        return f", {len(self.images)} images of {shape}"

    def _item(self, i: int) -> np.ndarray:
        return self.images[self.offsets[i] : self.offsets[i + 1]]

    def _take(self, positions: np.ndarray) -> Spectrograms:
        counts = self.n_cycles[positions]
        starts = self.offsets[positions]
        if len(positions):
            rows = np.concatenate(
                [np.arange(s, s + c) for s, c in zip(starts, counts, strict=True)]
            ).astype(np.int64)
        else:
            rows = np.empty(0, np.int64)
        return Spectrograms(
            self.images[rows],
            _offsets(counts),
            _take_optional(self.names, positions),
            _take_optional(self.bounds, positions),
        )
