"""Lowpass filtering: the original study's biquad and a zero-phase Butterworth."""

from __future__ import annotations

import math
from fractions import Fraction
from numbers import Integral, Real
from typing import Literal

import numpy as np
from scipy import signal as sps
from sklearn.utils._param_validation import Interval, StrOptions

from ._base import SignalTransformer, map_recordings
from .containers import Signals, clipped_fraction, object_array
from .exceptions import RecordingError

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

    Parameters
    ----------
    x : ndarray of shape (n_samples,)
        Signal in full-scale units.
    sample_rate : float
        Samples per second.
    cutoff : float, default=1000.0
        Cutoff frequency in Hz.
    q : float, default=0.707
        Quality factor.

    Returns
    -------
    y : ndarray of float32, shape (n_samples,)

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(22050) / 22050
    >>> low = lowpass_biquad(np.sin(2 * np.pi * 100 * t), 22050)
    >>> high = lowpass_biquad(np.sin(2 * np.pi * 8000 * t), 22050)
    >>> bool(np.abs(low[1000:]).max() > 0.9 > 0.05 > np.abs(high[1000:]).max())
    True
    """
    f32 = np.float32
    w0 = f32(2 * math.pi) * f32(cutoff) / f32(sample_rate)
    cos_w0 = np.cos(w0)
    alpha = np.sin(w0) / f32(2) / f32(q)
    b = np.array([(1 - cos_w0) / 2, 1 - cos_w0, (1 - cos_w0) / 2], dtype=f32)
    a = np.array([1 + alpha, -2 * cos_w0, 1 - alpha], dtype=f32)
    y = sps.lfilter(b / a[0], a / a[0], np.asarray(x, dtype=f32))
    return np.clip(y, -1.0, 1.0, out=y)


def lowpass_butterworth(
    x: np.ndarray, sample_rate: float, cutoff: float = 1000.0, order: int = 4
) -> np.ndarray:
    """Zero-phase Butterworth lowpass (forward and backward, no delay).

    Filtering twice squares the magnitude response, so the effective order is
    ``2 * order`` and the -3 dB point sits slightly below ``cutoff``.

    Parameters
    ----------
    x : ndarray of shape (n_samples,)
    sample_rate : float
    cutoff : float, default=1000.0
        Cutoff in Hz; must be below the Nyquist frequency.
    order : int, default=4

    Returns
    -------
    y : ndarray of float32, shape (n_samples,)

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


def resample(x: np.ndarray, from_rate: float, to_rate: float) -> np.ndarray:
    """Polyphase resampling between two rates (``scipy.signal.resample_poly``).

    Examples
    --------
    >>> import numpy as np
    >>> resample(np.zeros(44100, np.float32), 44100, 22050).shape
    (22050,)
    """
    ratio = Fraction(to_rate / from_rate).limit_denominator(10_000)
    y = sps.resample_poly(np.asarray(x, np.float64), ratio.numerator, ratio.denominator)
    return y.astype(np.float32)


class LowpassFilter(SignalTransformer):
    """Lowpass every recording; the first step of the pipeline.

    The sample rate is stated here (or carried by a :class:`Signals` input) and
    travels with the output. The fitted filter remembers the rate it was trained
    at: recordings at another rate are resampled to it, or refused.

    Parameters
    ----------
    cutoff : float, default=1000.0
        Cutoff frequency in Hz.
    method : {"biquad", "butterworth"}, default="biquad"
        ``"biquad"`` is the original study's filter (:func:`lowpass_biquad`:
        float32, forward only, clamped to [-1, 1]); ``"butterworth"`` is a
        zero-phase filter of order ``order`` (:func:`lowpass_butterworth`).
    q : float, default=0.707
        Quality factor of the biquad.
    order : int, default=4
        Order of the Butterworth filter.
    sample_rate : float or None, default=None
        Rate of plain-array input in Hz; ``None`` means 22050 Hz, the seed
        recordings' rate. A :class:`Signals` input carries its own rate.
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

    Examples
    --------
    >>> import numpy as np
    >>> from vascular_sklearn import LowpassFilter
    >>> X = np.random.default_rng(0).normal(size=(2, 2000)).astype(np.float32)
    >>> LowpassFilter(cutoff=500).fit_transform(X).shape
    (2, 2000)
    """

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
        y : ignored

        Returns
        -------
        self : LowpassFilter
        """
        self._validate_params()
        super().fit(X, y)
        if self.cutoff >= self.sample_rate_ / 2:
            raise ValueError(
                f"cutoff={self.cutoff} Hz must be below the Nyquist frequency "
                f"({self.sample_rate_ / 2} Hz) of the training recordings."
            )
        return self

    def _transform_signals(self, signals: Signals) -> Signals:
        rate = self.sample_rate_
        data = list(signals.data)
        if signals.sample_rate != rate:
            if not self.resample:
                raise RecordingError(
                    f"{signals.name(0)} and the rest of this batch are at "
                    f"{signals.sample_rate:g} Hz but the filter was fitted at "
                    f"{rate:g} Hz; resample them or use LowpassFilter(resample=True)."
                )
            data = map_recordings(
                resample, data, self.n_jobs, signals.sample_rate, rate
            )
        if self.method == "biquad":
            args = (lowpass_biquad, data, self.n_jobs, rate, self.cutoff, self.q)
        else:
            args = (
                lowpass_butterworth,
                data,
                self.n_jobs,
                rate,
                self.cutoff,
                self.order,
            )
        out = map_recordings(*args)
        clipped = np.array(map_recordings(clipped_fraction, data, self.n_jobs))
        return Signals(object_array(out), rate, None, signals.names, clipped)
