"""A physical model of the recording device: what a microphone and sound card do.

A recording is the vessel's sound seen through a chain of device effects, applied
in the order the hardware applies them:

1. the microphone or stethoscope response, a smooth spectral tilt (dB per octave
   about ``reference_hz``) and one resonance (a bump of ``resonance_db`` on a
   log-frequency axis, ``resonance_octaves`` wide);
2. the gain (amplitude factor) and a DC offset;
3. additive analogue noise: white and 1/f ("pink"), each with its RMS in dB
   relative to full scale (dBFS);
4. clipping at ``clip_level`` (the amplifier or converter saturates);
5. the converter, at its own ``sample_rate`` (the sound is resampled to it
   before the noise, clipping and rounding, which happen at that rate):
   quantisation to multiples of ``step`` 16-bit levels (``step=1`` is a
   16-bit recorder, ``step=64`` one that resolves 10 bits).

The same :class:`Recorder` serves the simulator
(:func:`~vascular_sklearn.datasets.make_recordings`), training-time augmentation
(:class:`~vascular_sklearn.robustness.RecorderAugmentation`) and the audits
(:func:`~vascular_sklearn.evaluation.rescaled`); :class:`RecorderRanges` draws
random recorders from ``random_state``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from numbers import Real

import numpy as np
from scipy.fft import next_fast_len
from sklearn.utils import check_random_state

from ._base import check_recording
from .audio import _finite_above_zero, resample
from .containers import Signals
from .corpus import RecordingFiles

__all__ = [
    "LOUD_SESSION",
    "QUIET_SESSION",
    "Recorder",
    "RecorderRanges",
    "converter_step",
    "microphone_response",
    "quantise",
    "rounding_snr_db",
]

#: One 16-bit level in full-scale units.
LEVEL = 2.0**-15

#: The largest magnitude a recording's float32 samples hold.
_FLOAT32_MAX = float(np.finfo(np.float32).max)


def quantise(x: np.ndarray, step: float) -> np.ndarray:
    """Round a signal to multiples of ``step`` 16-bit levels.

    For a signal that moves over many levels the error is close to uniform on
    ``[-q/2, q/2]`` with ``q = step * 2**-15``, so its power is :math:`q^2/12`.

    Parameters
    ----------
    x : ndarray
        Signal in full-scale units.
    step : float
        Converter step in 16-bit levels (1 to 64 in practice).

    Returns
    -------
    ndarray of float64
        The quantised signal.

    Examples
    --------
    >>> import numpy as np
    >>> (quantise(np.array([0.1, -0.2]), 3276.8) / 0.1).round(6).tolist()
    [1.0, -2.0]
    """
    _check_step(step)
    q = step * LEVEL
    return np.round(np.asarray(x, np.float64) / q) * q


def _check_step(step) -> None:
    """Refuse a converter step that would round every sample to NaN or 0."""
    if not _finite_above_zero(step):
        raise ValueError(
            f"step={step!r}: give the converter step in 16-bit levels, "
            "a finite number above 0"
        )


#: Samples (evenly spaced over the recording) whose values give the converter's
#: step: enough to fill a coarse converter's grid, few enough to sort at once.
_STEP_SAMPLES = 2**15


def converter_step(x: np.ndarray) -> float:
    """Estimate the converter step of a recording from its sample values.

    A converter rounds every sample to a multiple of its step, so the distinct
    values of a recording lie on that grid. The step is the median gap between
    consecutive distinct values: the grid's middle is filled, while the rarely
    reached extremes leave wider gaps. It is read from
    ``2**15`` samples spread over the recording. An unquantised (float)
    recording has no grid: its values' gaps shrink with their number, to a
    ten-thousandth of its RMS or less with ``2**15`` samples (unless its
    values repeat, as a synthetic tone's do).

    Parameters
    ----------
    x : ndarray of shape (n_samples,)
        The recording as read, in full-scale units (before any filter or
        resampling, which take its samples off the grid).

    Returns
    -------
    float
        The step in full-scale units (``32 * 2**-15``, say, for a converter
        that resolves 32 16-bit levels at a time); ``0.0`` for a recording that
        holds a single value.

    Raises
    ------
    ValueError
        When the samples read hold NaN or infinite ones (they have no grid).

    Examples
    --------
    >>> import numpy as np
    >>> x = quantise(0.01 * np.sin(np.arange(22050) / 7.0), step=32)
    >>> converter_step(x) / LEVEL
    32.0
    """
    x = np.asarray(x)
    # only the samples read: a whole pass over an hour-long recording would
    # cost more than the estimate, and the others do not change it
    levels = np.unique(_check_finite(x[:: max(1, len(x) // _STEP_SAMPLES)], "x"))
    if len(levels) == 1:
        # a few clicks on a constant fall between the samples read: the
        # recording read as one value, "silent" (its other values are few)
        others = _check_finite(x[x != levels[0]], "x")
        levels = np.unique(np.append(others, levels[0]))
    if len(levels) < 2:
        return 0.0
    # as floats: int16 gaps over 32767 wrapped negative
    return float(np.median(np.diff(levels.astype(np.float64))))


def rounding_snr_db(x: np.ndarray, sample_rate: float, band: float = 1000.0) -> float:
    """How far a recording's power lies above its converter's rounding noise.

    The rounding noise of a step ``q`` has power :math:`q^2/12`, spread evenly
    up to the Nyquist frequency; the part of it in the lowest ``band`` Hz
    (the band the pipeline keeps) is compared with the recording's power
    (its variance: a DC offset is not sound). A converter at a higher rate
    spreads the same rounding noise wider, and less of it falls in the band
    the pipeline hears: the measure counts that part. Below 40 dB in the
    1 kHz band (30 dB over the whole band of a 22.05 kHz recording) the
    rounding noise reaches the floor
    :class:`~vascular_sklearn.robustness.NoiseFloorHarmonizer` brings every
    recording to; on the confounded simulator the default's answers moved by
    a median of 0.50 at 32 dB and 0.002 or less from 44 dB (``bench_coarse``).

    Parameters
    ----------
    x : ndarray of shape (n_samples,)
        The recording as read (see :func:`converter_step`).
    sample_rate : float
        Its rate in Hz.
    band : float, default=1000.0
        Width in Hz of the band the rounding noise is counted in (all of it
        when the Nyquist frequency is lower).

    Returns
    -------
    float
        Decibels: for an unquantised (float) recording, the gaps between its
        values read as a step (:func:`converter_step`), about 90 or more from
        2**15 samples on and less for fewer (78 for 3 s of noise at 2 kHz,
        still far above the 40 dB under which screening flags ``coarse``);
        ``-inf`` for one that holds a single value.

    Raises
    ------
    ValueError
        When ``sample_rate`` or ``band`` is not a finite number above 0, or
        ``x`` holds NaN or infinite samples.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = quantise(0.01 * rng.standard_normal(22050), step=32)
    >>> round(rounding_snr_db(x, 22050, band=11025))  # 10 log10(327.68**2 * 12 / 32**2)
    31
    """
    for name, value in (("sample_rate", sample_rate), ("band", band)):
        if not _finite_above_zero(value):
            raise ValueError(f"{name}={value!r}: give a finite number of Hz above 0")
    x = np.asarray(x)
    step = converter_step(x)
    with np.errstate(invalid="ignore", over="ignore"):
        power = float(np.var(x, dtype=np.float64))
    if not np.isfinite(power):  # a NaN or inf converter_step did not read
        _check_finite(x, "x")
    if step == 0.0 or power == 0.0:
        return -np.inf
    share = min(1.0, band / (sample_rate / 2))
    with np.errstate(divide="ignore"):
        return float(10 * np.log10(power / (step**2 / 12 * share)))


def microphone_response(
    freqs: np.ndarray,
    tilt_db_per_octave: float = 0.0,
    resonance_hz: float | None = None,
    resonance_db: float = 0.0,
    resonance_octaves: float = 0.5,
    reference_hz: float = 1000.0,
    lowest_hz: float = 10.0,
) -> np.ndarray:
    """Gain in dB of a smooth microphone response at ``freqs``.

    :math:`G(f) = t \\log_2(f / f_r) + R \\exp(-\\tfrac12 (\\log_2(f/f_0) / w)^2)`
    with tilt :math:`t`, reference :math:`f_r`, resonance gain :math:`R` at
    :math:`f_0` and width :math:`w` octaves; frequencies below ``lowest_hz`` get
    the gain at ``lowest_hz`` (a tilt would otherwise diverge at 0 Hz).

    Parameters
    ----------
    freqs : ndarray
        Frequencies in Hz.
    tilt_db_per_octave : float, default=0.0
        Slope; negative values dull the sound (a stethoscope's bell).
    resonance_hz : float or None, default=None
        Centre of the resonance; ``None`` for none.
    resonance_db : float, default=0.0
        Its gain at the centre (negative for a notch).
    resonance_octaves : float, default=0.5
        Its width (standard deviation) in octaves.
    reference_hz : float, default=1000.0
        Frequency the tilt leaves unchanged.
    lowest_hz : float, default=10.0
        Frequencies below it get its gain.

    Returns
    -------
    ndarray of float64
        Gain in dB per frequency.

    Raises
    ------
    ValueError
        When ``reference_hz``, ``lowest_hz`` or, for a resonance, its
        ``resonance_hz`` or ``resonance_octaves`` is not a finite number above 0.

    Examples
    --------
    >>> import numpy as np
    >>> microphone_response(np.array([250.0, 500.0, 1000.0]), -3.0).tolist()
    [6.0, 3.0, -0.0]
    """
    resonant = resonance_hz is not None and bool(resonance_db)
    axis = {"reference_hz": reference_hz, "lowest_hz": lowest_hz}
    if resonant:
        axis.update(resonance_hz=resonance_hz, resonance_octaves=resonance_octaves)
    _check_log_axis(axis)
    octaves = np.log2(np.maximum(np.asarray(freqs, np.float64), lowest_hz))
    gain = tilt_db_per_octave * (octaves - np.log2(reference_hz))
    if resonant:
        distance = (octaves - np.log2(resonance_hz)) / resonance_octaves
        gain = gain + resonance_db * np.exp(-0.5 * distance**2)
    return gain


def _check_log_axis(values: dict[str, object], owner: str = "") -> None:
    """Refuse a frequency or width of the microphone response that is not a
    finite number above 0: on its log-frequency axis, 0 Hz or 0 octaves made
    every gain infinite or NaN."""
    for name, value in values.items():
        if not _finite_above_zero(value):
            raise ValueError(f"{owner}{name}={value!r}: give a finite number above 0")


def _check_finite(x: np.ndarray, name: str) -> np.ndarray:
    """Return ``x``, refused when it holds NaN or infinite samples."""
    finite = np.isfinite(x)
    if not finite.all():
        bad = finite.size - np.count_nonzero(finite)
        raise ValueError(
            f"{name} holds {bad} NaN or infinite samples: repair or drop it"
        )
    return x


def _noise(rng, n: int, rate: float, white_db, pink_db) -> np.ndarray:
    """White plus 1/f noise with the given RMS in dBFS (None: that part absent)."""
    out = np.zeros(n)
    if white_db is not None:
        out += 10 ** (white_db / 20) * rng.standard_normal(n)
    if pink_db is not None and n > 1:
        pink = _shaped_noise(rng, n, rate, _one_over_f)
        out += 10 ** (pink_db / 20) * pink / (pink.std() + 1e-30)
    return out


def _one_over_f(freqs: np.ndarray) -> np.ndarray:
    """Amplitude whose power falls as 1/f, none at 0 Hz."""
    amplitude = np.zeros_like(freqs)
    amplitude[1:] = freqs[1:] ** -0.5
    return amplitude


def _shaped_noise(
    rng: np.random.Generator | np.random.RandomState,
    n: int,
    rate: float,
    amplitude: Callable[[np.ndarray], np.ndarray],
    elementwise: bool = False,
) -> np.ndarray:
    """``n`` samples of unit white noise shaped by ``amplitude(freqs)``.

    Drawn at a length whose FFT is fast, then cut: noise of the same spectrum
    at any length (a prime length's FFT takes 30 times longer). With
    ``elementwise``, ``amplitude`` gives each frequency's value from that
    frequency alone, and is applied a block of frequencies at a time: its
    work arrays then stay small for an hour-long recording.
    """
    m = next_fast_len(n)
    spectrum = np.fft.rfft(rng.standard_normal(m))
    freqs = np.fft.rfftfreq(m, 1 / rate)
    step = _AMPLITUDE_BLOCK if elementwise else len(freqs)
    for start in range(0, len(freqs), step):
        spectrum[start : start + step] *= amplitude(freqs[start : start + step])
    del freqs
    return np.fft.irfft(spectrum, m)[:n]


#: Frequencies given to an elementwise amplitude at a time in
#: :func:`_shaped_noise` (1 MB of float64 per work array).
_AMPLITUDE_BLOCK = 2**17


def _filtered(x: np.ndarray, rate: float, device: Recorder) -> np.ndarray:
    """``x`` through ``device``'s microphone response (zero phase).

    ``x`` is mirrored at both ends by about half its length, up to a length
    whose FFT is fast, and cut back after: the jump where the FFT wraps round
    lies far from ``x``, which an FFT of ``x`` alone would put at its edges
    (its start ringing with its end).
    """
    n = len(x)
    m = next_fast_len(2 * n)
    before = (m - n) // 2
    padded = np.pad(x, (before, m - n - before), mode="symmetric")
    db = microphone_response(
        np.fft.rfftfreq(m, 1 / rate),
        device.tilt_db_per_octave,
        device.resonance_hz,
        device.resonance_db,
        device.resonance_octaves,
        device.reference_hz,
    )
    return np.fft.irfft(np.fft.rfft(padded) * 10 ** (db / 20), m)[before : before + n]


@dataclass(frozen=True)
class Recorder:
    """One recording device, as physical parameters.

    Parameters
    ----------
    gain : float, default=1.0
        Amplitude factor from the sound to full-scale units.
    step : float or None, default=1.0
        Converter step in 16-bit levels: 1 is a 16-bit recorder, 64 one that
        resolves 10 bits; ``None`` leaves the signal unquantised (float).
    white_noise_db, pink_noise_db : float or None, default=None
        RMS of additive white and 1/f noise, in dB relative to full scale.
    tilt_db_per_octave : float, default=0.0
        Microphone tilt about ``reference_hz`` (see :func:`microphone_response`).
    resonance_hz : float or None, default=None
        Microphone resonance centre.
    resonance_db : float, default=0.0
        Resonance gain.
    resonance_octaves : float, default=0.5
        Resonance width in octaves.
    reference_hz : float, default=1000.0
        Frequency the tilt leaves unchanged.
    clip_level : float or None, default=1.0
        Samples beyond +-``clip_level`` are clipped (full scale is 1.0);
        ``None`` never clips.
    dc_offset : float, default=0.0
        Constant added before the converter.
    sample_rate : float or None, default=None
        Rate of the output; ``None`` keeps the input's rate.

    Examples
    --------
    >>> import numpy as np
    >>> quiet = Recorder(gain=0.1, step=32)
    >>> y = quiet.apply(np.sin(np.arange(1000) / 10), sample_rate=1000.0)
    >>> len(np.unique(y))  # a coarse converter resolves few levels
    205
    """

    gain: float = 1.0
    step: float | None = 1.0
    white_noise_db: float | None = None
    pink_noise_db: float | None = None
    tilt_db_per_octave: float = 0.0
    resonance_hz: float | None = None
    resonance_db: float = 0.0
    resonance_octaves: float = 0.5
    reference_hz: float = 1000.0
    clip_level: float | None = 1.0
    dc_offset: float = 0.0
    sample_rate: float | None = None

    @property
    def shapes_spectrum(self) -> bool:
        """Whether the microphone response is other than flat."""
        return bool(self.tilt_db_per_octave) or (
            self.resonance_hz is not None and bool(self.resonance_db)
        )

    def apply(
        self,
        x: np.ndarray,
        sample_rate: float,
        random_state: int | np.random.RandomState | None = None,
        error_filter: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> np.ndarray:
        """Record signal ``x`` through this device.

        Parameters
        ----------
        x : ndarray of shape (n_samples,)
            The sound, in the units the gain maps to full scale.
        sample_rate : float
            Rate of ``x`` in Hz.
        random_state : int, RandomState or None, default=None
            Seeds the noise.
        error_filter : callable or None, default=None
            Applied to what the device adds (noise and quantisation error) before
            it is added, at the device's rate: the augmentation uses it to pass
            that error through a lowpass, as it would have been on a real
            recording.

        Returns
        -------
        ndarray of float32
            The recording, at ``self.sample_rate`` if set.

        Raises
        ------
        RecordingError
            When ``x`` holds integer (PCM), boolean or complex samples.
        ValueError
            When ``x`` is not 1-D or holds NaN or infinite samples, the gain
            takes it past the range of float32 (no ``clip_level`` holds it),
            ``sample_rate`` is not a rate, or the device itself cannot record
            (a gain of 0, a level or frequency that is not finite, or 0 Hz,
            0 octaves, a step or clip level of 0 or less).

        Examples
        --------
        >>> import numpy as np
        >>> Recorder(gain=0.5, step=None).apply(np.array([0.5, -1.0]), 100.0).tolist()
        [0.25, -0.5]
        """
        return _heard(*self._convert(x, sample_rate, random_state), error_filter)

    def _convert(
        self,
        x: np.ndarray,
        sample_rate: float,
        random_state: int | np.random.RandomState | None = None,
        name: str = "x",
    ) -> tuple[np.ndarray, np.ndarray]:
        """The sound before the converter's errors, and what the converter wrote.

        :meth:`apply` without ``error_filter`` returns the second as float32;
        with it, the first plus the filtered difference. Whether a span holds
        sound at all is read from the second (a device too quiet for its
        converter rounds it to one level), which the filter would hide.

        Parameters
        ----------
        x : ndarray of shape (n_samples,)
        sample_rate : float
        random_state : int, RandomState or None, default=None
        name : str, default="x"
            What messages call ``x`` (the recording's name in :meth:`record`).

        Returns
        -------
        clean, written : ndarray of float64
            Both at ``self.sample_rate`` if set.
        """
        self._check()
        if not _finite_above_zero(sample_rate):
            raise ValueError(
                f"sample_rate={sample_rate!r}: give the rate of x in Hz, "
                "a finite number above 0"
            )
        x = np.asarray(x)
        if x.dtype.kind in "biuc":
            # 16-bit PCM taken as full-scale units was clipped to +-1, and a
            # complex sound lost its imaginary part: check_recording refuses
            # such samples, in the pipeline's words
            check_recording(x, name)
        x = np.asarray(x, np.float64)
        if x.ndim != 1:
            raise ValueError(
                f"{name} of shape {x.shape}: give one recording, an array of "
                "shape (n_samples,)"
            )
        # the microphone's FFT spread one NaN over the whole recording, and
        # clipping wrote inf as full scale
        _check_finite(x, name)
        # past float64's range the sound turns inf or NaN: refused below, with
        # the gain named, rather than warned about on the way
        with np.errstate(over="ignore", invalid="ignore"):
            if self.shapes_spectrum and len(x) > 1:
                x = _filtered(x, sample_rate, self)
            clean = self.gain * x + self.dc_offset
            rate = sample_rate
            if self.sample_rate is not None and self.sample_rate != sample_rate:
                # the converter samples at its own rate, and clips and rounds
                # there: its samples lie on its grid
                clean = np.asarray(resample(clean, rate, self.sample_rate), np.float64)
                rate = self.sample_rate
            noisy = clean
            if self._noisy:
                # at the converter's rate: its noise fills the whole band it
                # samples, at the RMS stated (made first and resampled, it lost
                # the band above the new Nyquist frequency: -47.6 dBFS for -40
                # at 4 kHz)
                rng = check_random_state(random_state)
                noisy = clean + _noise(
                    rng, len(clean), rate, self.white_noise_db, self.pink_noise_db
                )
            if self.clip_level is not None:
                clean = np.clip(clean, -self.clip_level, self.clip_level)
                noisy = np.clip(noisy, -self.clip_level, self.clip_level)
            y = noisy if self.step is None else quantise(noisy, self.step)
        self._check_float32(clean, y, name)
        return clean, y

    def _check_float32(self, clean: np.ndarray, y: np.ndarray, name: str) -> None:
        """Refuse a recording the float32 output cannot hold: the cast wrote
        inf with no more than a warning."""
        # min and max, not abs: no copy of an hour-long recording (NaN fails)
        if all(
            not len(a) or (-_FLOAT32_MAX <= a.min() and a.max() <= _FLOAT32_MAX)
            for a in (clean, y)
        ):
            return
        top = float(np.max([np.max(np.abs(a), initial=0.0) for a in (clean, y)]))
        offset = f" and dc_offset={self.dc_offset!r}" if self.dc_offset else ""
        unclipped = self.clip_level is None or np.isinf(self.clip_level)
        hold = ", or a finite clip_level to hold it" if unclipped else ""
        raise ValueError(
            f"Recorder gain={self.gain!r}{offset} takes {name} to {top:.3g} "
            f"full scale, past the float32 output's range ({_FLOAT32_MAX:.3g}): "
            f"give a smaller gain{hold}"
        )

    def record(
        self,
        X: Signals | RecordingFiles,
        random_state: int | np.random.RandomState | None = None,
    ) -> Signals:
        """Record every recording of ``X`` through this device.

        Parameters
        ----------
        X : Signals or RecordingFiles
            The recordings; files on disk (a manifest's, a lazy corpus's) are
            read first.
        random_state : int, RandomState or None, default=None
            Seeds the noise (one draw per recording).

        Returns
        -------
        Signals
            The recordings as this device gives them, with the names of ``X``.

        Raises
        ------
        TypeError
            When ``X`` is neither :class:`~vascular_sklearn.containers.Signals`
            nor :class:`~vascular_sklearn.corpus.RecordingFiles`.
        RecordingError
            Naming the recording, when it holds integer (PCM), boolean or
            complex samples.
        ValueError
            As :meth:`apply`, naming the recording.

        Examples
        --------
        >>> import numpy as np
        >>> X = Signals.from_arrays([np.array([0.1, -0.2, 0.3])], sample_rate=1000)
        >>> (Recorder(gain=0.1, step=32.768).record(X).data[0] / 1e-3).round().tolist()
        [10.0, -20.0, 30.0]
        """
        if not isinstance(X, Signals) and hasattr(X, "load"):
            X = X.load()
        if not isinstance(X, Signals):
            # a list of arrays has no sample rate to record at
            raise TypeError(
                f"X is a {type(X).__name__}: give Signals or RecordingFiles; "
                "wrap arrays with Signals.from_arrays(arrays, sample_rate=...)"
            )
        rng = check_random_state(random_state)
        rate = X.sample_rate
        data = [
            _heard(
                *self._convert(
                    x, rate, rng.randint(2**31) if self._noisy else None, X.name(i)
                )
            )
            for i, x in enumerate(X.data)
        ]
        return Signals.from_arrays(data, self.sample_rate or rate, names=X.names)

    def _check(self) -> None:
        """Refuse, at call, a device that would write NaN or a constant."""
        for name in ("gain", "dc_offset", "tilt_db_per_octave", "resonance_db"):
            value = getattr(self, name)
            if not (isinstance(value, Real) and np.isfinite(value)):
                raise ValueError(f"Recorder {name}={value!r}: give a finite number")
        if self.gain == 0:
            # every sample the DC offset: a device that heard nothing
            raise ValueError(
                "Recorder gain=0 writes a constant: give a gain other than 0 "
                "(a negative one inverts the sound)"
            )
        for name in ("white_noise_db", "pink_noise_db"):
            value = getattr(self, name)
            finite = isinstance(value, Real) and np.isfinite(value)
            if value is not None and not finite:
                raise ValueError(
                    f"Recorder {name}={value!r}: give a finite level in dB, or "
                    "None for no such noise"
                )
        # a log-frequency axis: 0 Hz or 0 octaves made every sample NaN (or 0)
        frequencies = ["reference_hz", "resonance_octaves"]
        if self.resonance_hz is not None:
            frequencies.append("resonance_hz")
        _check_log_axis(
            {name: getattr(self, name) for name in frequencies}, "Recorder "
        )
        if self.step is not None:
            _check_step(self.step)
        level = self.clip_level
        # inf is a level too: it never clips
        if level is not None and not (isinstance(level, Real) and level > 0):
            raise ValueError(
                f"Recorder clip_level={level!r}: give a level above 0 (full scale "
                "is 1.0), or None never to clip"
            )

    @property
    def _noisy(self) -> bool:
        return self.white_noise_db is not None or self.pink_noise_db is not None


def _heard(
    clean: np.ndarray,
    written: np.ndarray,
    error_filter: Callable[[np.ndarray], np.ndarray] | None = None,
) -> np.ndarray:
    """What :meth:`Recorder.apply` returns from its ``_convert`` parts: what
    the converter wrote, or the clean sound plus the filtered error."""
    if error_filter is not None:
        written = clean + np.asarray(error_filter(written - clean), np.float64)
    return written.astype(np.float32)


@dataclass(frozen=True)
class RecorderRanges:
    """Ranges to draw random :class:`Recorder` s from.

    Each field is a ``(low, high)`` range. Gain, step and resonance frequency are
    drawn log-uniformly (they act multiplicatively), the rest uniformly. A
    range with ``low == high`` fixes the value; ``None`` leaves the effect out
    (a gain of 1, no tilt, resonance or offset).

    Parameters
    ----------
    gain : (float, float) or None, default=(0.03, 1.0)
    step : (float, float) or None, default=(1.0, 40.0)
        Converter step in 16-bit levels.
    white_noise_db, pink_noise_db : (float, float) or None, default=(-100.0, -70.0)
        Noise RMS in dBFS.
    tilt_db_per_octave : (float, float) or None, default=(-4.0, 4.0)
    resonance_hz : (float, float) or None, default=(100.0, 1500.0)
    resonance_db : (float, float) or None, default=(-6.0, 9.0)
    clip_level : (float, float) or None, default=(0.5, 1.0)
    dc_offset : (float, float) or None, default=(0.0, 0.0)
        Most recorders are AC-coupled.

    Examples
    --------
    >>> r = RecorderRanges().draw(random_state=0)
    >>> 0.03 <= r.gain <= 1.0 and 1.0 <= r.step <= 40.0
    True
    """

    gain: tuple[float, float] | None = (0.03, 1.0)
    step: tuple[float, float] | None = (1.0, 40.0)
    white_noise_db: tuple[float, float] | None = (-100.0, -70.0)
    pink_noise_db: tuple[float, float] | None = (-100.0, -70.0)
    tilt_db_per_octave: tuple[float, float] | None = (-4.0, 4.0)
    resonance_hz: tuple[float, float] | None = (100.0, 1500.0)
    resonance_db: tuple[float, float] | None = (-6.0, 9.0)
    clip_level: tuple[float, float] | None = (0.5, 1.0)
    dc_offset: tuple[float, float] | None = (0.0, 0.0)

    _LOG = frozenset({"gain", "step", "resonance_hz"})

    def __post_init__(self) -> None:
        # refused where it is given, not when the augmentation first draws
        for f in dataclasses.fields(self):
            bounds = getattr(self, f.name)
            if bounds is None:
                continue
            try:
                # text is iterable too: "12" would be the range (1.0, 2.0)
                if isinstance(bounds, (str, bytes)):
                    raise TypeError
                low, high = map(float, bounds)
            except (TypeError, ValueError):
                raise ValueError(
                    f"{f.name}={bounds!r}: give a range (low, high) or None"
                ) from None
            positive = f.name in self._LOG or f.name == "clip_level"
            floor = 0.0 if positive else -np.inf
            if not (floor < low <= high < np.inf):
                if f.name in self._LOG:
                    drawn = "a range is drawn log-uniformly, so 0 < low"
                elif positive:
                    # a level at or below 0 is refused by the Recorder drawn,
                    # at the first draw that reaches it
                    drawn = "a clip level lies above 0 (full scale is 1.0), so 0 < low"
                else:
                    drawn = "a range is drawn low"
                raise ValueError(f"{f.name}={bounds!r}: {drawn} <= high, both finite")

    #: What leaving an effect out means where the Recorder takes no ``None``.
    _NEUTRAL = {
        "gain": 1.0,
        "tilt_db_per_octave": 0.0,
        "resonance_db": 0.0,
        "dc_offset": 0.0,
    }

    def draw(self, random_state: int | np.random.RandomState | None = None) -> Recorder:
        """Draw one recorder.

        Parameters
        ----------
        random_state : int, RandomState or None, default=None
            Same seed, same recorder.

        Returns
        -------
        Recorder
            A device with every parameter drawn from its range.
        """
        rng = check_random_state(random_state)
        values = {}
        for f in dataclasses.fields(self):
            bounds = getattr(self, f.name)
            if bounds is None:
                values[f.name] = self._NEUTRAL.get(f.name)
                continue
            low, high = map(float, bounds)
            if f.name in self._LOG:
                value = float(np.exp(rng.uniform(np.log(low), np.log(high))))
            else:
                value = float(rng.uniform(low, high))
            # a fixed range gives its value as given (exp(log(3)) is
            # 3.0000000000000004); drawn all the same, so the stream is unchanged
            values[f.name] = low if low == high else value
        return Recorder(**values)


#: A loud session: what most normal seed recordings sound like. The seed
#: recorder's converter step is about 33 16-bit levels in every file;
#: at these gains a simulated vessel's RMS lies 47 to 65 dB above that
#: quantisation noise (full band).
LOUD_SESSION = RecorderRanges(
    gain=(0.3, 0.9),
    step=(24.0, 40.0),
    white_noise_db=(-100.0, -90.0),
    pink_noise_db=None,
    tilt_db_per_octave=(-1.0, 1.0),
    resonance_hz=None,
    clip_level=None,
    dc_offset=(0.0, 0.0),
)
#: A quiet session on the same coarse converter with a duller microphone: how
#: most stenosis-only seed patients were recorded (their RMS 20 to 35 dB above
#: the quantisation noise; a simulated vessel's lies about 23 to 50 dB above it,
#: the duller microphone lifting the pulse below 10 Hz by 7 to 20 dB).
QUIET_SESSION = RecorderRanges(
    gain=(0.005, 0.03),
    step=(24.0, 40.0),
    white_noise_db=(-100.0, -90.0),
    pink_noise_db=None,
    tilt_db_per_octave=(-3.0, -1.0),
    resonance_hz=None,
    clip_level=None,
    dc_offset=(0.0, 0.0),
)
