"""Cycle spectrograms: the image each heart cycle becomes for the network."""

from __future__ import annotations

import functools
from numbers import Integral, Real
from typing import Any, Literal

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.signal import get_window
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._base import (
    NOT_FINITE,
    SEED_SAMPLE_RATE,
    CycleBagTransformer,
    RecordingsOut,
    map_recordings,
    to_samples,
)
from .audio import _count
from .containers import CycleBags, Spectrograms, _offsets
from .exceptions import RecordingError

__all__ = ["STFTSpectrogram", "cycle_spectrogram", "resize_nearest", "stft_magnitude"]


@functools.lru_cache(maxsize=8)
def _hann(n_fft: int) -> np.ndarray:
    return get_window("hann", n_fft, fftbins=True)


def _check_window(n_fft: Any, hop: Any) -> None:
    """Refuse a window or hop that is no whole number of samples above 0: a
    negative hop walked the frames backwards (an image reversed in time, with
    no word), 0 or 2.5 failed in numpy's slicing."""
    for name, value in (("n_fft", n_fft), ("hop", hop)):
        if not _count(value):
            raise ValueError(
                f"{name}={value!r}: give a whole number of samples, 1 or more"
            )


def _frames(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """Centred, reflect-padded frames ``hop`` apart, shape
    (1 + (len + 2 * (n_fft // 2) - n_fft) // hop, n_fft): ``1 + len // hop``
    frames when ``n_fft`` is even."""
    pad = n_fft // 2
    x = np.asarray(x, np.float64)
    # one reflection, as np.pad's without its overhead; the callers refuse a
    # signal of pad samples or fewer, which torch.stft cannot reflect
    padded = np.concatenate([x[pad:0:-1], x, x[-2 : -pad - 2 : -1]])
    return sliding_window_view(padded, n_fft)[::hop]


def _scaled_frames(
    cycle: np.ndarray, n_fft: int, hop: int, remove_dc: bool = False
) -> np.ndarray:
    """Frames of ``cycle / (max - min)``, less its mean if ``remove_dc``;
    ValueError if too short, not finite or constant."""
    x = np.asarray(cycle, dtype=np.float32)
    if len(x) <= n_fft // 2:
        raise ValueError(f"cycle of {len(x)} samples is too short for n_fft={n_fft}")
    low, high = x.min(), x.max()
    # the extremes are needed anyway: finite extremes mean finite samples (a NaN
    # propagates to both), at no extra pass over the cycle
    if not (np.isfinite(low) and np.isfinite(high)):
        raise ValueError(NOT_FINITE)
    span = high - low
    if not span > 0:
        raise ValueError("cycle is constant (silent): nothing to scale")
    if remove_dc:
        x = x - x.mean(dtype=np.float64)
    return _frames(x / span, n_fft, hop)


def stft_magnitude(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """Compute the magnitude STFT as ``torch.stft(center=True, pad_mode="reflect")``.

    The signal is reflect-padded by ``n_fft // 2`` on both sides, cut into frames
    ``hop`` apart, weighted by a periodic Hann window and Fourier transformed:
    :math:`S[f, t] = |\\sum_n w[n]\\,x[tH + n]\\,e^{-2\\pi i f n / N}|`.

    Parameters
    ----------
    x : ndarray of shape (n_samples,)
        The signal, more than ``n_fft // 2`` samples long.
    n_fft : int
        Window (and FFT) length in samples.
    hop : int
        Samples between the starts of consecutive frames.

    Returns
    -------
    ndarray of float64, shape (n_fft // 2 + 1, n_frames)
        The magnitude per frequency bin (rows) and frame (columns), with
        ``n_frames = 1 + (n_samples + 2 * (n_fft // 2) - n_fft) // hop`` (as
        :func:`torch.stft`; ``1 + n_samples // hop`` for an even ``n_fft``).

    Raises
    ------
    ValueError
        If ``x`` is not 1-D or holds ``n_fft // 2`` samples or fewer: its
        reflection would need samples it does not have (``torch.stft``
        refuses it too); or ``n_fft`` or ``hop`` is not a whole number of
        samples, 1 or more.

    Examples
    --------
    >>> import numpy as np
    >>> stft_magnitude(np.ones(1000), n_fft=440, hop=220).shape
    (221, 5)
    """
    _check_window(n_fft, hop)
    x = np.asarray(x)
    if x.ndim != 1 or len(x) <= n_fft // 2:
        raise ValueError(
            f"a signal of shape {x.shape}: stft_magnitude takes a 1-D signal of "
            f"more than n_fft // 2 = {n_fft // 2} samples"
        )
    return np.abs(np.fft.rfft(_frames(x, n_fft, hop) * _hann(n_fft), axis=-1)).T


def resize_nearest(image: np.ndarray, n_frames: int) -> np.ndarray:
    """Resize the last axis to ``n_frames`` by nearest neighbour.

    Source column ``floor(j * T / n_frames)`` with the scale in float32, as
    ``torch.nn.functional.interpolate(mode="nearest")`` computes it.

    Parameters
    ----------
    image : ndarray of shape (..., n_columns)
        The image; only its last axis is resized.
    n_frames : int
        Number of columns wanted.

    Returns
    -------
    ndarray of shape (..., n_frames)
        Columns of ``image``, repeated or skipped; same dtype.

    Examples
    --------
    >>> import numpy as np
    >>> resize_nearest(np.arange(4.0)[None], 6).tolist()
    [[0.0, 0.0, 1.0, 2.0, 2.0, 3.0]]
    """
    t = image.shape[-1]
    scale = np.float32(t) / np.float32(n_frames)
    src = np.floor(np.arange(n_frames, dtype=np.float32) * scale).astype(np.int64)
    return image[..., np.minimum(src, t - 1)]


def cycle_spectrogram(
    cycle: np.ndarray,
    n_fft: int = 440,
    hop: int = 220,
    n_freqs: int = 40,
    n_frames: int = 100,
    log: bool = False,
    floor_db: float | None = None,
    normalize: bool = False,
) -> np.ndarray:
    """The network's input image for one cycle (the original study's recipe).

    The cycle is scaled by its range (``x / (max - min)``, so loudness does not
    enter the image), its magnitude STFT (:func:`stft_magnitude`) keeps the
    ``n_freqs`` lowest bins, and time is resized to ``n_frames`` columns
    (:func:`resize_nearest`).

    Parameters
    ----------
    cycle : ndarray of shape (n_samples,)
        One heart cycle of the filtered signal.
    n_fft : int, default=440
        STFT window length in samples.
    hop : int, default=220
        STFT hop in samples.
    n_freqs : int, default=40
        Frequency bins kept, from 0 Hz up (bin spacing ``sample_rate / n_fft``);
        rows above the Nyquist frequency (``n_freqs > n_fft // 2 + 1``) are
        zero magnitude.
    n_frames : int, default=100
        Output width.
    log : bool, default=False
        Return ``log(magnitude + 1e-6)`` instead of the magnitude.
    floor_db : float or None, default=None
        Raise magnitudes more than ``floor_db`` decibels below the image's peak
        to that level: a fixed dynamic range hides the recording's noise floor
        (quantisation, hiss), which says more about the session than the vessel.
    normalize : bool, default=False
        Divide magnitudes by the window's sum, so that a sinusoid of amplitude
        ``a`` in the cycle scaled to a range of 1 (0.5 for a pure tone) reads
        ``a / 2`` whatever ``n_fft`` (and so the sample rate) is.

    Returns
    -------
    ndarray of float32, shape (n_freqs, n_frames)
        The cycle's image, low frequencies first.

    Raises
    ------
    ValueError
        If the cycle is constant, holds NaN or infinite samples, or is not longer
        than ``n_fft // 2`` samples.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.sin(np.arange(12000) * 2 * np.pi * 200 / 22050).astype(np.float32)
    >>> img = cycle_spectrogram(x)
    >>> img.shape, int(img.mean(axis=1).argmax())  # 200 Hz is bin 4 of 50 Hz bins
    ((40, 100), 4)
    """
    _check_window(n_fft, hop)
    frames = _scaled_frames(cycle, n_fft, hop)
    return _images([frames], n_fft, n_freqs, n_frames, log, floor_db, normalize)[0]


def _images(
    frames: list[np.ndarray],
    n_fft: int,
    n_freqs: int,
    n_frames: int,
    log: bool,
    floor_db: float | None = None,
    normalize: bool = False,
) -> np.ndarray:
    """Images of several cycles' frames through one FFT call (far cheaper than one
    call per cycle); shape (n_cycles, n_freqs, n_frames), float32."""
    window = _hann(n_fft)
    stacked = np.concatenate(frames)
    stacked *= window
    mag = np.abs(np.fft.rfft(stacked, axis=-1)[:, :n_freqs])
    if normalize:
        mag /= window.sum()
    if mag.shape[1] < n_freqs:
        # bins above the Nyquist frequency hold no energy at this rate: the
        # image keeps its shape, so one network takes every rate's images
        mag = np.pad(mag, ((0, 0), (0, n_freqs - mag.shape[1])))
    ends = np.cumsum([len(f) for f in frames])[:-1]
    images = np.stack([resize_nearest(m.T, n_frames) for m in np.split(mag, ends)])
    if floor_db is not None:
        peak = images.max(axis=(1, 2), keepdims=True)
        images = np.maximum(images, peak * 10 ** (-floor_db / 20))
    if log:
        images = np.log(images + 1e-6)
    return images.astype(np.float32)


def _over_own_spectrum(mag: np.ndarray, floor_db: float) -> np.ndarray:
    """Log magnitude images (n_cycles, n_freqs, n_frames) of each cycle over its
    own mean log spectrum, above a soft floor ``floor_db`` below its mean power."""
    power = mag.astype(np.float64) ** 2
    # a floor added, not a clip, and relative to the mean, not the peak: a coarse
    # converter's digital silence and a peaky beat then move no bin far
    power += 10 ** (-floor_db / 10) * power.mean(axis=(1, 2), keepdims=True)
    image = 0.5 * np.log(power)
    # each cycle's own mean per row: augmented runs from other devices within a
    # recording's bag lose their device's response too
    image -= image.mean(axis=2, keepdims=True)
    return image.astype(np.float32)


def _bag_images(
    job,
    n_fft,
    hop,
    n_freqs,
    n_frames,
    log,
    floor_db,
    normalize,
    subtract_mean,
    remove_dc,
):
    """All cycles of one recording; errors name the recording and the cycle."""
    cycles, bounds, name = job
    out = np.empty((len(cycles), n_freqs, n_frames), np.float32)
    # the device's response comes out before the floor: a dull microphone would
    # otherwise push its high rows under the floor, where no mean can lift them
    each_floor = None if subtract_mean else floor_db
    # chunks keep the FFT's float64 work arrays small for hour-long recordings
    for start in range(0, len(cycles), _CHUNK):
        frames = []
        for k in range(start, min(start + _CHUNK, len(cycles))):
            try:
                frames.append(_scaled_frames(cycles[k], n_fft, hop, remove_dc))
            except ValueError as err:
                a, b = bounds[k]
                raise RecordingError(
                    f"{name}, cycle {k} (samples {a} to {b}): {err}."
                ) from err
        if subtract_mean == "cycle":
            mag = _images(frames, n_fft, n_freqs, n_frames, False, None, normalize)
            out[start : start + len(frames)] = _over_own_spectrum(mag, floor_db)
        else:
            out[start : start + len(frames)] = _images(
                frames, n_fft, n_freqs, n_frames, log, each_floor, normalize
            )
    if subtract_mean in (True, "recording") and len(out):
        # a device's frequency response multiplies every frame alike: in log
        # units it is one row offset, which the recording's own mean removes
        out -= out.mean(axis=(0, 2), keepdims=True)
        if floor_db is not None:
            peak = out.max(axis=(1, 2), keepdims=True)
            np.maximum(out, peak - floor_db / 20 * np.log(10), out=out)
    return out


#: Cycles per FFT call in a transform.
_CHUNK = 128


class STFTSpectrogram(RecordingsOut, CycleBagTransformer):
    """Turn each recording's bag of cycles into a bag of spectrogram images.

    Defaults reproduce the original study's input: per-cycle range scaling,
    magnitude STFT with a 440-sample periodic Hann window and 220-sample hop at
    22050 Hz (centred, reflect padding), the 40 lowest bins (0 to 1954 Hz), and
    time resized to 100 frames by nearest neighbour.

    The image's axes are in physical units at every sample rate: the window
    and hop are durations (bins about ``1 / window`` Hz apart:
    ``rate / round(window * rate)``, as the window is a whole number of
    samples; frames ``hop`` seconds apart), ``max_frequency`` is a frequency,
    and the image has the same shape at every rate (rows above a low rate's
    Nyquist frequency are zero magnitude). Its values are not, by default: a
    magnitude sums over the window's samples, so it grows with the rate (a
    sine's peak is about ``n_fft / 8`` after range scaling: 5 at 2 kHz, 110
    at 44.1 kHz with the default window), and a plain ``log=True`` image is
    shifted by the log of the ratio of the rates. Magnitudes agree across
    rates with ``normalize=True``; log images agree with
    ``subtract_mean="cycle"`` (as :func:`~vascular_sklearn.make_stenosis_pipeline`
    sets it), which takes out of each row any factor common to all its
    frames, the rate's among them. Then a band-limited cycle at 2, 8, 22.05
    and 44.1 kHz gives the same image up to the rounding of window and hop to
    whole samples and resampling error. ``True`` or ``"recording"`` take the
    rate out too, but lift the rows the sound leaves empty to the others'
    height, and those rows' edge frames (beside the padding) differ with the
    rate: with ``floor_db=40`` a band-limited cycle at 2 kHz differed from
    22.05 kHz by a mean of 1.0 log units (0.13 at 8 kHz, 0.09 with
    ``"cycle"`` at 2 kHz).

    Parameters
    ----------
    window : float, default=440 / 22050
        STFT window length in seconds (440 samples at 22050 Hz).
    hop : float, default=220 / 22050
        STFT hop in seconds (220 samples at 22050 Hz).
    n_freqs : int, default=40
        Frequency bins kept (the image height). Ignored if ``max_frequency`` is set.
    max_frequency : float or None, default=None
        Keep the bins up to this frequency in Hz instead of ``n_freqs`` bins:
        ``floor(max_frequency * window) + 1`` rows, whatever the rate.
    n_frames : int, default=100
        Image width: each cycle's time axis is resized to it.
    log : bool, default=False
        Log magnitude instead of magnitude.
    floor_db : float or None, default=None
        Dynamic range of each image in decibels below its peak; quieter bins
        are raised to the floor (see :func:`cycle_spectrogram`).
    normalize : bool, default=False
        Divide magnitudes by the window's sum (see :func:`cycle_spectrogram`).
    subtract_mean : bool or {"recording", "cycle"}, default=False
        ``True`` or ``"recording"``: subtract from each log image the
        recording's mean log spectrum (per frequency row, over all its cycles
        and frames), as cepstral mean normalisation does for speech: a
        microphone's or stethoscope's response and the gain multiply every
        frame alike, so they vanish, while the change of the spectrum over the
        beat (a systolic jet, the diastolic flow) stays. The vessel's own
        average spectral shape goes with the device's. The mean is taken
        before ``floor_db``, which then applies to the result.
        ``"cycle"``: each cycle over its own mean log spectrum, so that cycles
        recorded through different devices within one bag (augmented runs)
        each lose theirs; ``floor_db`` is then a soft floor below the cycle's
        *mean power*, added to every bin's power before the log (not a clip
        below the peak): a coarse converter's digital silence and a peaky beat
        move no bin far. Needs ``floor_db``. Either needs ``log=True``.
    remove_dc : bool, default=False
        Subtract each cycle's mean before the STFT. A microphone records
        pressure changes, not a constant: a DC offset comes from the sound
        card or the amplifier, and without this step its power in the lowest
        rows sets the level ``floor_db`` counts from (the image's peak, or
        with ``subtract_mean="cycle"`` the cycle's mean power), so the same
        vessel through an offset converter gives another image. The original
        study kept the mean (``False``).
    n_jobs : int or None, default=None
        Recordings processed in parallel through joblib.

    Attributes
    ----------
    sample_rate_ : float
        Rate of the training recordings.

    Raises
    ------
    TypeError
        In ``fit`` and ``transform``, if ``X`` is not a
        :class:`~vascular_sklearn.containers.CycleBags`.
    RecordingError
        In ``transform``, if a cycle is constant, holds NaN or infinite samples,
        or is too short for the window; the message names the recording and the
        cycle.

    Examples
    --------
    >>> import numpy as np
    >>> from vascular_sklearn import PeakCycleCutter, STFTSpectrogram
    >>> rng = np.random.default_rng(0)
    >>> x = 0.01 * rng.normal(size=22050 * 4).astype(np.float32)
    >>> x[::16000] = 0.9
    >>> bags = PeakCycleCutter().fit_transform([x])
    >>> spec = STFTSpectrogram().fit_transform(bags)
    >>> spec.images.shape, spec.offsets.tolist()
    ((5, 1, 40, 100), [0, 5])
    """

    _parameter_constraints: dict = {
        "window": [Interval(Real, 0, None, closed="neither")],
        "hop": [Interval(Real, 0, None, closed="neither")],
        "n_freqs": [Interval(Integral, 1, None, closed="left")],
        "max_frequency": [Interval(Real, 0, None, closed="neither"), None],
        "n_frames": [Interval(Integral, 1, None, closed="left")],
        "log": ["boolean"],
        "floor_db": [Interval(Real, 0, None, closed="neither"), None],
        "normalize": ["boolean"],
        "subtract_mean": ["boolean", StrOptions({"recording", "cycle"})],
        "remove_dc": ["boolean"],
        "n_jobs": [Integral, None],
    }

    def __init__(
        self,
        window: float = 440 / SEED_SAMPLE_RATE,
        hop: float = 220 / SEED_SAMPLE_RATE,
        n_freqs: int = 40,
        max_frequency: float | None = None,
        n_frames: int = 100,
        log: bool = False,
        floor_db: float | None = None,
        normalize: bool = False,
        subtract_mean: bool | Literal["recording", "cycle"] = False,
        remove_dc: bool = False,
        n_jobs: int | None = None,
    ) -> None:
        self.window = window
        self.hop = hop
        self.n_freqs = n_freqs
        self.max_frequency = max_frequency
        self.n_frames = n_frames
        self.log = log
        self.floor_db = floor_db
        self.normalize = normalize
        self.subtract_mean = subtract_mean
        self.remove_dc = remove_dc
        self.n_jobs = n_jobs

    def _sizes(self, rate: float) -> tuple[int, int, int]:
        n_fft = to_samples(self.window, rate)
        hop = to_samples(self.hop, rate)
        if self.max_frequency is None:
            return n_fft, hop, self.n_freqs
        # from the window's duration, not its samples: the same rows at any rate
        return n_fft, hop, int(np.floor(self.max_frequency * self.window + 1e-9)) + 1

    def _check_params(self) -> None:
        if self.hop > self.window:
            # a hop longer than the cycle gave one frame, stretched into a
            # constant image (hop=220, the original's samples, say)
            raise ValueError(
                f"hop={self.hop!r} s is longer than window={self.window!r} s: "
                "the frames would skip samples. Both are in seconds (the "
                "original's 440-sample window and 220-sample hop at 22050 Hz "
                "are window=440 / 22050, hop=220 / 22050)"
            )
        if self.subtract_mean and not self.log:
            raise ValueError(
                f"subtract_mean={self.subtract_mean!r} removes the device's "
                "response in log units: set log=True as well."
            )
        if self.subtract_mean == "cycle" and self.floor_db is None:
            raise ValueError(
                "subtract_mean='cycle' needs floor_db, the floor below each "
                "cycle's mean power (40 dB, say)."
            )

    def transform(self, X: CycleBags) -> Spectrograms:
        """Compute every cycle's image.

        Parameters
        ----------
        X : CycleBags
            The cycles to turn into images.

        Returns
        -------
        Spectrograms
            All images as one float32 array (n_cycles, 1, n_freqs, n_frames) plus
            per-recording offsets; one item per recording.

        Raises
        ------
        TypeError
            If ``X`` is not a :class:`~vascular_sklearn.containers.CycleBags`.
        RecordingError
            If a cycle is constant, holds NaN or infinite samples, or is not
            longer than half the window; the message names the recording and the
            cycle.
        sklearn.exceptions.NotFittedError
            If the step is not fitted.
        """
        check_is_fitted(self)
        # set_params after fit is checked too: hop > window made constant
        # images, floor_db=None with "cycle" a TypeError of numpy's
        self._validate_params()
        self._check_params()
        bags = self._check_bags(X)
        n_fft, hop, n_freqs = self._sizes(bags.sample_rate)
        counts = bags.n_cycles
        images = np.empty((counts.sum(), 1, n_freqs, self.n_frames), np.float32)
        offsets = _offsets(counts)
        jobs = [
            (bags.cycles(i), bags.bounds[i], bags.name(i)) for i in range(len(bags))
        ]
        sizes = (
            n_fft,
            hop,
            n_freqs,
            self.n_frames,
            self.log,
            self.floor_db,
            self.normalize,
            self.subtract_mean,
            self.remove_dc,
        )
        per_recording = map_recordings(_bag_images, jobs, self.n_jobs, *sizes)
        for i, bag in enumerate(per_recording):
            images[offsets[i] : offsets[i + 1], 0] = bag
        return Spectrograms(images, offsets, bags.names, bags.bounds)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags


def _image_step(steps) -> STFTSpectrogram | None:
    """The last :class:`STFTSpectrogram` among a pipeline's ``(name, step)``
    pairs: it makes the network's input, whatever steps follow it (an export
    and its reader must agree on which one); ``None`` when there is none."""
    images = [s for _, s in steps if isinstance(s, STFTSpectrogram)]
    return images[-1] if images else None
