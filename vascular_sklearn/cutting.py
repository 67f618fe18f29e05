"""Cycle cutting: one peak per heartbeat, the signal cut from peak to peak."""

from __future__ import annotations

import warnings
from dataclasses import replace
from numbers import Integral, Real
from typing import Literal

import numpy as np
from scipy.signal import find_peaks
from sklearn.utils._param_validation import Interval, StrOptions

from ._base import SEED_SAMPLE_RATE, SignalTransformer, map_recordings, to_samples
from .beats import find_beats
from .containers import DROP_REASONS, CycleBags, Signals, object_array
from .cycle_quality import PULSE_LIMIT_DB, cycle_quality, failed_cycles, pulse_db
from .exceptions import NoPulseWarning, _is_left_to_caller

__all__ = ["PeakCycleCutter", "find_cycle_bounds"]


def find_cycle_bounds(
    reference: np.ndarray,
    min_distance: int,
    max_gap: int,
    threshold: float = 0.9,
) -> tuple[np.ndarray, int]:
    """Find cycle boundaries between consecutive peaks of a smoothed signal.

    Peaks are the local maxima of ``reference`` above
    :math:`\\mu + k\\,\\sigma` (mean and standard deviation of ``reference``),
    at least ``min_distance`` samples apart (:func:`scipy.signal.find_peaks`).
    Each pair of consecutive peaks less than ``max_gap`` samples apart bounds
    one cycle ``[start, stop)``; a longer gap means a missed beat or an artefact
    and is skipped.

    Parameters
    ----------
    reference : ndarray of shape (n_samples,)
        The smoothed signal.
    min_distance : int
        Minimum spacing of peaks in samples.
    max_gap : int
        Consecutive peaks this far apart or farther do not make a cycle.
    threshold : float, default=0.9
        ``k`` in the height threshold, in standard deviations above the mean.

    Returns
    -------
    bounds : ndarray of int64, shape (n_cycles, 2)
        ``[start, stop)`` of each cycle in samples, in order.
    n_peaks : int
        Number of peaks found (cycles plus gaps plus one, when there are peaks).

    Examples
    --------
    >>> import numpy as np
    >>> ref = np.zeros(100, np.float32)
    >>> ref[[10, 40, 90, 95]] = 1.0
    >>> bounds, n_peaks = find_cycle_bounds(ref, min_distance=5, max_gap=40)
    >>> bounds.tolist(), n_peaks  # the 50-sample gap is skipped
    ([[10, 40], [90, 95]], 4)
    """
    ref = np.asarray(reference)
    height = ref.mean() + threshold * ref.std()
    peaks = _peaks_above(ref, height)
    peaks = _select_by_distance(peaks, ref[peaks], min_distance)
    keep = np.diff(peaks) < max_gap
    bounds = np.column_stack([peaks[:-1][keep], peaks[1:][keep]])
    return bounds.reshape(-1, 2), len(peaks)


def _peaks_above(ref: np.ndarray, height: float) -> np.ndarray:
    """``find_peaks(ref, height=height)[0]`` as int64, a block at a time.

    Each block ends on a sample below ``height``, which the next block starts
    on: a peak of at least ``height`` (the middle of a plateau higher than
    the samples either side of it) and both its neighbours then lie within
    one block, so the blocks hold exactly the peaks of the whole signal. On
    the whole signal ``find_peaks`` makes a float64 copy of it and three work
    arrays of half its length each, about 1 GB for an hour at 22050 Hz.
    """
    n = len(ref)
    found = [np.empty(0, np.int64)]
    start = 0
    while start < n:
        stop = start + _PEAK_BLOCK
        while stop < n:
            low = np.flatnonzero(ref[stop : stop + _PEAK_BLOCK] < height)
            if len(low):
                stop += int(low[0])
                break
            stop += _PEAK_BLOCK
        stop = min(stop, n)
        peaks, _ = find_peaks(ref[start : stop + 1], height=height)
        found.append(peaks.astype(np.int64) + start)
        start = stop
    return np.concatenate(found)


#: Samples per block of :func:`_peaks_above` (12 s at 22050 Hz).
_PEAK_BLOCK = 2**18


def _select_by_distance(
    peaks: np.ndarray, heights: np.ndarray, distance: int
) -> np.ndarray:
    """Keep the highest peaks, dropping any closer than ``distance`` to a kept one.

    The rule of ``find_peaks(distance=...)``, with ties between equal heights
    (common on the flat tops of a running median) going to the later peak
    every time. SciPy breaks them with an unstable sort whose result depends on
    the CPU's SIMD sort; this keeps the cuts identical on every machine.
    """
    keep = np.ones(len(peaks), dtype=bool)
    # peaks are sorted: the ones within ``distance`` of each are a slice
    first = np.searchsorted(peaks, peaks - distance, side="right")
    stop = np.searchsorted(peaks, peaks + distance, side="left")
    for j in np.argsort(heights, kind="stable")[::-1]:
        if keep[j]:
            keep[first[j] : j] = False
            keep[j + 1 : stop[j]] = False
    return peaks[keep]


class PeakCycleCutter(SignalTransformer):
    """Cut each recording into heart cycles: a bag of cycles per recording.

    Peaks are found on the smoothed reference that
    :class:`~vascular_sklearn.MeanSmoother` adds (on the signal itself when
    there is none); the cycles are cut from the signal, peak to peak. The
    output is a :class:`~vascular_sklearn.containers.CycleBags`: still one item
    per recording, with the cycle boundaries of recording ``i`` in
    ``output.bounds[i]`` (int64, shape (n_cycles, 2), ``[start, stop)``).

    Plain arrays carry no rate (its windows and spacings are in seconds): in
    ``fit`` they are taken at 22050 Hz, the seed recordings' rate, and once
    fitted at the rate seen in ``fit`` (``sample_rate_``). Give recordings at
    another rate as a :class:`~vascular_sklearn.containers.Signals`
    (``Signals.from_arrays(arrays, rate)``), or through a
    :class:`~vascular_sklearn.LowpassFilter` first, as the pipelines do.

    Two methods find the peaks:

    - ``"seed"`` (default), the original study's rule
      (:func:`find_cycle_bounds`): peaks above mean + ``threshold`` standard
      deviations, ``min_distance`` apart, cycles shorter than ``max_gap``. Its
      fixed spacings lose every cycle of a heart slower than about 53 beats per
      minute and half the beats of a fast one;
    - ``"period"`` (:func:`~vascular_sklearn.beats.find_beats`): estimates each
      recording's beat period (35 to 180 beats per minute) from the
      autocorrelation of the reference, picks one peak per beat with spacings
      relative to it and keeps cycles 0.7 to 1.5 times the local period long.
      A recording shorter than 3.9 s (two beats at 35 per minute, with the
      search's margin) gets no period and so no cycles. Its thresholds are
      relative to percentiles of the recording, so gain, converter step and
      clipping do not move them; ``threshold``, ``min_distance`` and
      ``max_gap`` are not used. Each cycle is then
      measured against its recording
      (:func:`~vascular_sklearn.cycle_quality.cycle_quality`) and dropped when
      a transient clipped it or it holds no beat above the noise floor
      (``max_clipped``, ``min_snr_db``); ``quality()`` counts each reason.

    Either method cuts stationary noise into "cycles" too (a microphone off
    the access, mains hum); the cutter measures how far each recording's
    loudness swings with the heartbeat
    (:func:`~vascular_sklearn.cycle_quality.pulse_db`, kept as
    ``output.pulse_db``) and names those that swing less than
    :data:`~vascular_sklearn.cycle_quality.PULSE_LIMIT_DB` in a
    :class:`~vascular_sklearn.NoPulseWarning` whenever it cuts (``transform``:
    a pipeline's fit and predict alike). A recording under 3 s is too short to
    measure (``pulse_db`` NaN) and is not warned of.

    Parameters
    ----------
    threshold : float, default=0.9
        Peaks must rise above mean + ``threshold`` standard deviations of the
        reference (``method="seed"`` only).
    min_distance : float, default=11000 / 22050
        Minimum spacing of peaks in seconds (11000 samples at 22050 Hz, about
        120 beats per minute at most; ``method="seed"`` only).
    max_gap : float, default=25000 / 22050
        Consecutive peaks at least this many seconds apart do not make a cycle
        (25000 samples at 22050 Hz; ``method="seed"`` only).
    method : {"seed", "period"}, default="seed"
        How peaks are found (see above). ``"seed"`` reproduces the original
        study's cycles (3747 of its 3751 cuts on the seed recordings).
    min_snr_db : float or None, default=1.0
        Cycles whose power is less than this many dB above the recording's
        noise floor are dropped (``method="period"`` only; ``None`` keeps them).
    max_clipped : float or None, default=0.01
        Cycles with more than this share of clipped samples are dropped when
        the recording's median cycle has no more (``method="period"`` only;
        ``None`` keeps them). A recording clipped throughout keeps its cycles.
    n_jobs : int or None, default=None
        Recordings cut in parallel through joblib.

    Attributes
    ----------
    sample_rate_ : float
        Rate of the training recordings.

    Examples
    --------
    >>> import numpy as np
    >>> from vascular_sklearn import PeakCycleCutter
    >>> beats = np.zeros(22050 * 4, np.float32)
    >>> beats[::16000] = 1.0
    >>> bags = PeakCycleCutter().fit_transform([beats])
    >>> bags.bounds[0].tolist()
    [[16000, 32000], [32000, 48000], [48000, 64000], [64000, 80000]]
    """

    _parameter_constraints: dict = {
        "threshold": [Interval(Real, None, None, closed="neither")],
        "min_distance": [Interval(Real, 0, None, closed="neither")],
        "max_gap": [Interval(Real, 0, None, closed="neither")],
        "method": [StrOptions({"seed", "period"})],
        "min_snr_db": [Interval(Real, None, None, closed="neither"), None],
        "max_clipped": [Interval(Real, 0, 1, closed="both"), None],
        "n_jobs": [Integral, None],
    }

    def __init__(
        self,
        threshold: float = 0.9,
        min_distance: float = 11000 / SEED_SAMPLE_RATE,
        max_gap: float = 25000 / SEED_SAMPLE_RATE,
        method: Literal["seed", "period"] = "seed",
        min_snr_db: float | None = 1.0,
        max_clipped: float | None = 0.01,
        n_jobs: int | None = None,
    ) -> None:
        self.threshold = threshold
        self.min_distance = min_distance
        self.max_gap = max_gap
        self.method = method
        self.min_snr_db = min_snr_db
        self.max_clipped = max_clipped
        self.n_jobs = n_jobs

    def fit(self, X, y=None) -> PeakCycleCutter:
        """Check the input and remember its sample rate.

        Parameters
        ----------
        X : Signals or sequence of 1-D arrays
            The training recordings, typically from
            :class:`~vascular_sklearn.MeanSmoother`.
        y : None
            Ignored; present for the scikit-learn API.

        Returns
        -------
        PeakCycleCutter
            The fitted cutter (``self``).

        Raises
        ------
        ValueError
            If a parameter is invalid, or (``method="seed"``) ``min_distance``
            or ``max_gap`` is longer than a minute (a value in samples) or
            ``min_distance`` is not shorter than ``max_gap``.
        RecordingError
            If ``X`` is a single 1-D array rather than a sequence of them, or a
            recording is not valid audio (empty, not 1-D, NaN or infinite,
            integer, complex or non-numeric samples, or far beyond full scale).
        """
        return super().fit(X, y)

    def _check_params(self) -> None:
        # The original code gave both spacings in samples; the same numbers
        # read as seconds cut nothing, silently, so they are refused here.
        if self.method != "seed":
            return
        for name in ("min_distance", "max_gap"):
            value = getattr(self, name)
            if value > _LONGEST_BEAT:
                raise ValueError(
                    f"{name}={value:g} is in seconds, longer than any heartbeat "
                    f"(over {_LONGEST_BEAT:g} s); a spacing in samples divides by "
                    f"the rate, e.g. {name}={value:g} / 22050"
                )
        if self.min_distance >= self.max_gap:
            raise ValueError(
                f"min_distance={self.min_distance:g} s is not shorter than "
                f"max_gap={self.max_gap:g} s, so no two peaks could make a cycle"
            )

    def _transform_signals(self, signals: Signals) -> CycleBags:
        rate = signals.sample_rate
        distance = to_samples(self.min_distance, rate)
        gap = to_samples(self.max_gap, rate)
        refs = signals.data if signals.reference is None else signals.reference
        if self.method == "period":
            clipped = signals.clipped
            if clipped is None:
                clipped = [None] * len(signals)
            found = map_recordings(
                _period_cycles,
                list(zip(refs, signals.data, clipped, strict=True)),
                self.n_jobs,
                rate,
                self.min_snr_db,
                self.max_clipped,
            )
            dropped = {
                reason: np.array([f[2][reason] for f in found], dtype=np.int64)
                for reason in DROP_REASONS
            }
        else:
            found = map_recordings(
                _seed_cycles,
                list(zip(refs, signals.data, strict=True)),
                self.n_jobs,
                rate,
                distance,
                gap,
                self.threshold,
            )
            # the seed cutter's minimum distance keeps short cycles from arising
            dropped = None
        bounds = object_array([f[0] for f in found])
        n_peaks = np.array([f[1] for f in found], dtype=np.int64)
        pulse = np.array([f[-1] for f in found], dtype=np.float64)
        # the smoothed copy has served; dropping it halves what the bags hold
        bags = CycleBags(
            replace(signals, reference=None), bounds, n_peaks, dropped, pulse_db=pulse
        )
        _warn_no_pulse(bags)
        return bags


def _no_pulse(bags: CycleBags) -> np.ndarray:
    """Positions of the recordings cut from noise: cycles, but a loudness that
    does not swing with a heartbeat (one without cycles, digital silence say,
    gets no answer, so it needs no warning)."""
    return np.flatnonzero((bags.pulse_db < PULSE_LIMIT_DB) & (bags.n_cycles > 0))


def _warn_no_pulse(bags: CycleBags) -> None:
    """:class:`NoPulseWarning` naming the recordings cut from noise: the
    classifier would answer about them as confidently as about any other."""
    quiet = _no_pulse(bags)
    if not len(quiet) or _is_left_to_caller(NoPulseWarning):
        return
    names = bags._names_of(quiet, lambda i: f"{bags.pulse_db[i]:.1f} dB")
    warnings.warn(
        f"{names}: the loudness swings less than {PULSE_LIMIT_DB:g} dB with "
        "the heartbeat, as noise does, not a pulse. Such a sound is still cut into "
        "cycles and a classifier answers about it all the same: check that the "
        "microphone sits on the access.",
        NoPulseWarning,
        stacklevel=2,
    )


#: Longest spacing of beats the seed cutter takes, in seconds (1 per minute).
_LONGEST_BEAT = 60.0


def _seed_cycles(
    item: tuple, rate: float, min_distance: int, max_gap: int, threshold: float
) -> tuple[np.ndarray, int, float]:
    """One recording's cycles (:func:`find_cycle_bounds`) and its pulse."""
    reference, signal = item
    bounds, n_peaks = find_cycle_bounds(reference, min_distance, max_gap, threshold)
    return bounds, n_peaks, pulse_db(signal, rate)


def _period_cycles(
    item: tuple, rate: float, min_snr_db: float | None, max_clipped: float | None
) -> tuple[np.ndarray, int, dict[str, int], float]:
    """One recording's beats (:func:`find_beats`) less the cycles that fail
    quality, and its pulse."""
    reference, signal, clipped = item
    bounds, n_peaks, n_short = find_beats(reference, rate, signal=signal)
    failed = failed_cycles(
        cycle_quality(signal, bounds, rate, clipped), min_snr_db, max_clipped
    )
    keep = ~(failed["clipped"] | failed["noisy"])
    counts = {k: int(v.sum()) for k, v in failed.items()}
    return bounds[keep], n_peaks, {"short": n_short, **counts}, pulse_db(signal, rate)
