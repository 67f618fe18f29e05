"""Lowpass filtering: the original study's biquad and a zero-phase Butterworth."""

from __future__ import annotations

import math
from collections.abc import Callable
from numbers import Integral, Real
from typing import Literal

import numpy as np
from scipy import signal as sps
from sklearn.utils._param_validation import Interval, StrOptions

from ._base import SignalTransformer, map_recordings
from .audio import _read_with_note, resample, to_rate, warn_cut_short
from .containers import Signals, object_array
from .cycle_quality import clip_counts, counts_at_rate
from .exceptions import RecordingError
from .recorder import rounding_snr_db

__all__ = ["LowpassFilter", "lowpass_biquad", "lowpass_butterworth", "resample"]


def lowpass_biquad(
    x: np.ndarray, sample_rate: float, cutoff: float = 1000.0, q: float = 0.707
) -> np.ndarray:
    """Second-order lowpass as torchaudio's ``lowpass_biquad``, in float32.

    The RBJ cookbook biquad with :math:`w_0 = 2\\pi f_c / f_s` and
    :math:`\\alpha = \\sin(w_0) / 2Q`:
    :math:`b = ((1 - \\cos w_0)/2,\\ 1 - \\cos w_0,\\ (1 - \\cos w_0)/2)`,
    :math:`a = (1 + \\alpha,\\ -2\\cos w_0,\\ 1 - \\alpha)`, run forward only from
    rest, and the output clamped to [-1, 1]. Coefficients and the recursion are
    float32 as in the original, which is what makes its cycle cuts reproducible.
    The price is a cutoff far under the rate: below about a thousandth of it
    (a few Hz at 44.1 kHz) the float32 recursion rounds the gain at 0 Hz away
    from 1, by a quarter at 3 Hz for a level of 0.1, differently at each
    level; :func:`lowpass_butterworth` (float64) has no such limit.

    Parameters
    ----------
    x : ndarray of shape (n_samples,)
        Signal in full-scale units.
    sample_rate : float
        Samples per second.
    cutoff : float, default=1000.0
        Cutoff frequency in Hz. At or above the Nyquist frequency
        ``sample_rate / 2`` (1000 Hz for 2 kHz heart sounds) the signal comes
        back unfiltered, as :class:`LowpassFilter` passes it: the recorder's
        own anti-aliasing already holds it below that frequency.
    q : float, default=0.707
        Quality factor.

    Returns
    -------
    ndarray of float32, shape (n_samples,)
        The filtered signal, clamped to [-1, 1]; a float32 copy of ``x``,
        neither filtered nor clamped, if ``cutoff`` is at or above the Nyquist
        frequency.

    Raises
    ------
    ValueError
        If ``cutoff`` is so close to 0 Hz, or just below the Nyquist frequency,
        that the float32 biquad would be unstable (or output silence).

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(22050) / 22050
    >>> low = lowpass_biquad(np.sin(2 * np.pi * 100 * t), 22050)
    >>> high = lowpass_biquad(np.sin(2 * np.pi * 8000 * t), 22050)
    >>> bool(np.abs(low[1000:]).max() > 0.9 > 0.05 > np.abs(high[1000:]).max())
    True
    """
    if cutoff >= sample_rate / 2:
        # a copy, as the filtered output is: the caller may write into it
        return np.array(x, dtype=np.float32)
    b, a = _biquad_coefficients(sample_rate, cutoff, q)
    y = sps.lfilter(b, a, np.asarray(x, dtype=np.float32))
    return np.clip(y, -1.0, 1.0, out=y)


def _biquad_coefficients(
    sample_rate: float, cutoff: float, q: float
) -> tuple[np.ndarray, np.ndarray]:
    """The original's float32 coefficients, refused where they are unstable."""
    f32 = np.float32
    w0 = f32(2 * math.pi) * f32(cutoff) / f32(sample_rate)
    cos_w0 = np.cos(w0)
    alpha = np.sin(w0) / f32(2) / f32(q)
    b = np.array([(1 - cos_w0) / 2, 1 - cos_w0, (1 - cos_w0) / 2], dtype=f32)
    a = np.array([1 + alpha, -2 * cos_w0, 1 - alpha], dtype=f32)
    # within float32 rounding of 0 Hz or of the Nyquist frequency a pole
    # reaches z = 1 or -1, and the output grows until it is clipped; nearer
    # 0 Hz still, 1 - cos(w0) rounds to 0 and the output is silence
    if np.abs(np.roots(a)).max() >= 1 or not b.any():
        edge = "0 Hz" if cutoff < sample_rate / 4 else "the Nyquist frequency"
        raise ValueError(
            f"cutoff {cutoff:g} Hz is too close to {edge} for the biquad at "
            f"{sample_rate:g} Hz, which would be unstable; a cutoff at or above "
            f"{sample_rate / 2:g} Hz means no filtering."
        )
    return b / a[0], a / a[0]


def lowpass_butterworth(
    x: np.ndarray, sample_rate: float, cutoff: float = 1000.0, order: int = 4
) -> np.ndarray:
    """Zero-phase Butterworth lowpass (forward and backward, no delay).

    Filtering twice squares the magnitude response, so the effective order is
    ``2 * order`` and the -3 dB point sits slightly below ``cutoff``.

    Parameters
    ----------
    x : ndarray of shape (n_samples,)
        The signal.
    sample_rate : float
        Samples per second.
    cutoff : float, default=1000.0
        Cutoff in Hz; must be below the Nyquist frequency.
    order : int, default=4
        Order of the Butterworth design (before doubling by the two passes).

    Returns
    -------
    ndarray of float32, shape (n_samples,)
        The filtered signal.

    Raises
    ------
    ValueError
        If ``cutoff`` is not between 0 and the Nyquist frequency
        ``sample_rate / 2`` (from :func:`scipy.signal.butter`).

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(22050) / 22050
    >>> y = lowpass_butterworth(np.sin(2 * np.pi * 100 * t), 22050)
    >>> bool(np.allclose(y[2000:-2000], np.sin(2 * np.pi * 100 * t)[2000:-2000],
    ...                  atol=1e-3))
    True
    """
    sos = sps.butter(order, cutoff, fs=sample_rate, output="sos")
    x64 = np.asarray(x, dtype=np.float64)
    # sosfiltfilt needs more samples than its edge padding; shorter input is
    # padded as much as it allows.
    padlen = min(3 * (2 * len(sos) + 1), len(x64) - 1)
    return sps.sosfiltfilt(sos, x64, padlen=max(padlen, 0)).astype(np.float32)


class LowpassFilter(SignalTransformer):
    """Lowpass every recording; the first step of the pipeline.

    The sample rate is stated here (or carried by a :class:`Signals` input) and
    travels with the output. The fitted filter remembers the rate it was trained
    at: recordings at another rate are resampled to it, or refused.

    Parameters
    ----------
    cutoff : float, default=1000.0
        Cutoff frequency in Hz. At or above the Nyquist frequency of the
        training recordings (1000 Hz for 2 kHz heart sounds) the step does not
        filter: the recorder's own anti-aliasing already limits the band to
        below the Nyquist frequency, so the recordings are in the band the
        cutoff asks for, and the step only resamples.
    method : {"biquad", "butterworth"}, default="biquad"
        ``"biquad"`` is the original study's filter (:func:`lowpass_biquad`:
        float32, forward only, clamped to [-1, 1]); ``"butterworth"`` is a
        zero-phase filter of order ``order`` (:func:`lowpass_butterworth`).
    q : float, default=0.707
        Quality factor of the biquad.
    order : int, default=4
        Order of the Butterworth filter.
    sample_rate : float or None, default=None
        Rate of plain-array input in Hz; ``None`` means the rate seen in
        ``fit`` once fitted, and 22050 Hz (the seed recordings' rate) in
        ``fit``. A :class:`Signals` input carries its own rate.
    resample : bool, default=True
        At ``transform``, resample recordings whose rate differs from the rate
        seen in ``fit`` (``True``), or raise :class:`RecordingError` (``False``).
    n_jobs : int or None, default=None
        Recordings processed in parallel through joblib (``-1``: all cores);
        honours ``joblib.parallel_config``, so Dask and Ray backends work.

    Attributes
    ----------
    sample_rate_ : float
        Rate of the training recordings; the output is always at this rate.

    Raises
    ------
    RecordingError
        At ``transform``, if ``resample=False`` and the recordings' rate is not
        the rate seen in ``fit``; in ``fit`` and ``transform``, if a recording
        is not valid audio (empty, not 1-D, NaN or infinite, integer, complex
        or non-numeric samples, or far beyond full scale). Files
        (:class:`~vascular_sklearn.corpus.RecordingFiles`) are read at
        ``transform``, so their errors come there.

    Examples
    --------
    >>> import numpy as np
    >>> from vascular_sklearn import LowpassFilter
    >>> X = 0.1 * np.random.default_rng(0).normal(size=(2, 2000)).astype(np.float32)
    >>> out = LowpassFilter(cutoff=500, sample_rate=8000).fit_transform(X)
    >>> len(out), out.data[0].shape, out.sample_rate
    (2, (2000,), 8000.0)
    """

    _reads_files = True  # RecordingFiles are read file by file in the workers

    _parameter_constraints: dict = {
        "cutoff": [Interval(Real, 0, None, closed="neither")],
        "method": [StrOptions({"biquad", "butterworth"})],
        "q": [Interval(Real, 0, None, closed="neither")],
        "order": [Interval(Integral, 1, None, closed="left")],
        "sample_rate": [Interval(Real, 0, None, closed="neither"), None],
        "resample": ["boolean"],
        "n_jobs": [Integral, None],
    }

    def __init__(
        self,
        cutoff: float = 1000.0,
        method: Literal["biquad", "butterworth"] = "biquad",
        q: float = 0.707,
        order: int = 4,
        sample_rate: float | None = None,
        resample: bool = True,
        n_jobs: int | None = None,
    ) -> None:
        self.cutoff = cutoff
        self.method = method
        self.q = q
        self.order = order
        self.sample_rate = sample_rate
        self.resample = resample
        self.n_jobs = n_jobs

    def fit(self, X, y=None) -> LowpassFilter:
        """Check the input and the cutoff, and remember the sample rate.

        Parameters
        ----------
        X : Signals, sequence of 1-D arrays, or ndarray of shape (n_recordings, n)
            The training recordings.
        y : None
            Ignored; present for the scikit-learn API.

        Returns
        -------
        LowpassFilter
            The fitted filter (``self``).

        Raises
        ------
        ValueError
            If a parameter is invalid.
        RecordingError
            If a recording is not valid audio (empty, not 1-D, NaN or infinite,
            integer, complex or non-numeric samples, or far beyond full scale).
        """
        super().fit(X, y)
        self._filter(self.sample_rate_)  # a cutoff the biquad cannot take
        return self

    def _filter(self, rate: float) -> tuple[Callable, tuple]:
        """The filter at ``rate`` and its arguments; an unstable biquad is
        refused here, before any work."""
        if self.cutoff >= rate / 2:
            return _unfiltered, (rate,)
        if self.method == "biquad":
            _biquad_coefficients(rate, self.cutoff, self.q)
            return lowpass_biquad, (rate, self.cutoff, self.q)
        return lowpass_butterworth, (rate, self.cutoff, self.order)

    def _transform_signals(self, signals) -> Signals:
        # One worker call per recording reads (for files), resamples, filters and
        # measures clipping, so each recording crosses to a worker and back once.
        rate = self.sample_rate_
        if len(signals) and signals.sample_rate != rate and not self.resample:
            raise RecordingError(
                f"{signals.name(0)} and the rest of this batch are at "
                f"{signals.sample_rate:g} Hz but the filter was fitted at "
                f"{rate:g} Hz; resample them or use LowpassFilter(resample=True)."
            )
        filt, args = self._filter(rate)
        paths = getattr(signals, "paths", None)  # RecordingFiles: read in workers
        if paths is None:
            items, names = list(signals.data), signals.names
        else:
            items = list(paths)
            names = object_array([signals.name(i) for i in range(len(signals))])
        done = map_recordings(
            _filter_one,
            items,
            self.n_jobs,
            signals.sample_rate,
            self.resample,
            filt,
            args,
        )
        filtered, clipped, notes, rounding, rates = (
            [r[k] for r in done] for k in range(5)
        )
        # warned here, not in the worker: a warning raised in a worker process
        # never reaches the caller, so n_jobs would decide whether it is seen
        if paths is not None:
            for path, note in zip(items, notes, strict=True):
                warn_cut_short(path, note, stacklevel=4)
        return Signals(
            object_array(filtered),
            rate,
            None,
            names,
            object_array(clipped),
            None if paths is None else object_array(notes),
            np.array(rounding, dtype=np.float64),
            np.array(rates, dtype=np.float64),
        )


def _unfiltered(x: np.ndarray, rate: float) -> np.ndarray:
    return np.asarray(x, np.float32)


def _filter_one(
    item, source_rate: float, resample_ok: bool, filt, args: tuple
) -> tuple:
    """Filter one recording (an array, or a path read here); measure its
    clipping and its converter's rounding noise, and return what reading
    noted (a file cut short) and the rate it was recorded at."""
    rate, name, note = args[0], "", ""
    if isinstance(item, str):
        name = item
        x, source_rate, note = _read_with_note(item)  # the caller warns
    else:  # the batch was checked against ``resample``
        x, resample_ok = item, True
    # on the samples as read: resampling and filtering take them off the grid,
    # and resampling rings over the flat tops of clipping
    rounding = rounding_snr_db(x, source_rate)
    # counted per 10 ms block, so the cutter can tell a clipped beat from the
    # rest; the biquad clamps at full scale, so samples beyond it clip as well
    full_scale = 1.0 if filt is lowpass_biquad else None
    clipped = clip_counts(x, source_rate, full_scale)
    x, _ = to_rate(name, x, source_rate, rate, resample_ok)
    if source_rate != rate:
        clipped = counts_at_rate(clipped, source_rate, rate, len(x))
    return filt(x, *args), clipped, note, rounding, source_rate
