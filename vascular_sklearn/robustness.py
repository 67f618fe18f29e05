"""Steps that keep the recording device out of the answer.

Both act on the bags of cycles between :class:`~vascular_sklearn.PeakCycleCutter`
and :class:`~vascular_sklearn.STFTSpectrogram`, so the cuts stay those of the
plain chain:

- :class:`NoiseFloorHarmonizer` raises every recording's noise floor to one
  level relative to its own loudness, at fit and at predict, so that a quiet
  session on a coarse converter and a loud one on a fine converter look alike;
- :class:`RecorderAugmentation` adds copies of training cycles recorded through
  random devices (:class:`~vascular_sklearn.recorder.RecorderRanges`); it acts
  in ``fit_transform`` only and passes recordings through unchanged at predict.
"""

from __future__ import annotations

from dataclasses import replace
from numbers import Integral, Real

import numpy as np
from scipy import signal as sps
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from ._base import (
    CycleBagTransformer,
    RecordingsOut,
    check_recording,
    map_recordings,
    to_samples,
)
from .audio import _finite_above_zero
from .containers import CycleBags, object_array
from .lowpass import lowpass_butterworth
from .recorder import (
    LEVEL,
    Recorder,
    RecorderRanges,
    _filtered,
    _heard,
    _shaped_noise,
    quantise,
)

__all__ = ["NoiseFloorHarmonizer", "RecorderAugmentation", "noise_floor_psd"]


def noise_floor_psd(
    x: np.ndarray, sample_rate: float, window: float = 0.05, percentile: float = 10.0
) -> tuple[np.ndarray, np.ndarray]:
    """Estimate a recording's stationary noise floor per frequency.

    The floor at each frequency is a low percentile over time of the
    short-time power spectral density (frames of ``window`` seconds,
    :func:`scipy.signal.spectrogram`'s Tukey window and one-eighth overlap):
    the device's hiss and quantisation noise are there in every frame, the
    vessel's sound is not (it comes with the beat). A low percentile of
    single frames reads a steady floor low (the 10th, about 9 dB low for
    white noise), so the floor a recording reaches lies above the target by
    up to 3 dB where its own floor was near it already.

    Parameters
    ----------
    x : ndarray of shape (n_samples,)
        The recording.
    sample_rate : float
        Its rate in Hz.
    window : float, default=0.05
        Frame length in seconds: at least 8 samples at ``sample_rate``. A
        recording shorter than a frame is one frame of its own length.
    percentile : float, default=10.0
        Percentile over frames taken as the floor.

    Returns
    -------
    freqs : ndarray of shape (n_freqs,)
        Frequencies in Hz.
    psd : ndarray of shape (n_freqs,)
        One-sided power spectral density of the floor, in full-scale units
        squared per Hz.

    Raises
    ------
    ValueError
        When ``x`` is not 1-D, ``sample_rate`` is not a finite number above
        0, or ``window`` holds fewer than 8 samples at that rate.
    RecordingError
        When ``x`` holds integer PCM counts (not full-scale units), NaN or
        inf.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = 0.01 * rng.standard_normal(22050)  # white: PSD = var / (rate / 2)
    >>> f, psd = noise_floor_psd(x, 22050, percentile=50)
    >>> round(float(np.median(psd) / (1e-4 / 11025)), 1)  # a median reads low too
    0.7
    """
    x = np.asarray(x)
    if x.ndim != 1:
        raise ValueError(
            f"x of shape {x.shape}: give one recording, an array of shape (n_samples,)"
        )
    if x.dtype.kind != "f" or not np.isfinite(x).all():
        # int16 counts gave a floor 1e9 too high; one NaN made it all NaN
        check_recording(x, "x")
    nperseg = min(_frame_samples(window, sample_rate), len(x))
    if nperseg < 1:  # scipy's own message for an empty signal
        sps.spectrogram(np.asarray(x, np.float64), sample_rate, nperseg=nperseg)
    # scipy's own frames (one-eighth overlap), a block of them at a time: its
    # float64 and complex work arrays for a whole hour-long recording are
    # gigabytes, and every frame's power is computed alone all the same
    step = nperseg - nperseg // 8
    n_frames = (len(x) - nperseg // 8) // step
    power = None
    for first in range(0, n_frames, _PSD_FRAMES):
        stop = min(first + _PSD_FRAMES, n_frames)
        freqs, _, block = sps.spectrogram(
            np.asarray(x[first * step : (stop - 1) * step + nperseg], np.float64),
            sample_rate,
            nperseg=nperseg,
            scaling="density",
        )
        if power is None:
            power = np.empty((len(freqs), n_frames))
        power[:, first:stop] = block
    # row by row: np.percentile would copy the whole table to partition it
    floor = np.array([np.percentile(row, percentile) for row in power])
    return freqs, floor


#: Fewest samples in a frame of :func:`noise_floor_psd`: a frame of one sample
#: (a window under a sample, raised to 1) has one frequency, which holds the
#: whole power of the sound, so the floor read was the sound itself.
_MIN_FRAME = 8


def _frame_samples(window: float, sample_rate: float) -> int:
    """Samples in a frame of ``window`` seconds at ``sample_rate`` Hz, refused
    under :data:`_MIN_FRAME`."""
    if not _finite_above_zero(sample_rate):
        raise ValueError(
            f"sample_rate={sample_rate!r}: give the rate of x in Hz, a finite "
            "number above 0"
        )
    if not _finite_above_zero(window):
        raise ValueError(
            f"window={window!r}: give the frame length in seconds, a finite "
            "number above 0"
        )
    n = to_samples(window, sample_rate)
    if n < _MIN_FRAME:
        raise ValueError(
            f"window={window!r} s at {sample_rate!r} Hz frames {n} sample(s) at "
            f"a time, too few to read a noise floor from: give a window of at "
            f"least {_MIN_FRAME / sample_rate:.3g} s ({_MIN_FRAME} samples)"
        )
    return n


#: Frames of :func:`noise_floor_psd` computed at a time (a multiple of 16, so
#: that the FFT's vectorised and scalar paths take the same frames as in one
#: call); about 9 MB of float64 per work array at 22050 Hz.
_PSD_FRAMES = 1024


def _dither_seed(n: int, random_state: int | None) -> int:
    """The predict-time seed, from the recording's length, not its samples: the
    same recording gets the same noise whatever batch or order it comes in, and
    so does the same recording at another gain (a seed hashed from the samples
    gave it another draw, which moved the answer as far as a change of device)."""
    return (n + (0 if random_state is None else int(random_state))) % 2**32


def _harmonize_one(
    x, seed, rate, snr_db, band, step_snr_db, window, percentile
) -> np.ndarray:
    n = len(x)
    if n < 4:
        return np.asarray(x, np.float64).astype(np.float32)
    # one float64 copy, centred and squared in place: the same pairwise sums
    # as ``mean(square(x - mean))`` without two more copies of a long recording
    power = np.array(x, np.float64)
    power -= power.mean()
    rms = np.sqrt(np.mean(np.square(power, out=power)))
    del power
    if step_snr_db is not None and rms > 0:
        # the step whose rounding noise (q**2 / 12) lies step_snr_db below the
        # recording's power: a coarse converter's staircase and digital silence
        # are not noise, and no added noise hides them
        x = quantise(
            np.asarray(x, np.float64),
            rms * np.sqrt(12) * 10 ** (-step_snr_db / 20) / LEVEL,
        )
    # a density per Hz, not a total up to the Nyquist frequency: the same
    # sound at 2 kHz and at 44.1 kHz then meets the same floor in its band
    target = rms**2 * 10 ** (-snr_db / 10) / band
    freqs, floor = noise_floor_psd(x, rate, window, percentile)

    def to_deficit(grid: np.ndarray) -> np.ndarray:
        # unit white noise has PSD 2 / rate per Hz: shape it to the deficit
        deficit = np.maximum(target - np.interp(grid, freqs, floor), 0.0)
        return np.sqrt(deficit * rate / 2)

    noise = _shaped_noise(np.random.default_rng(seed), n, rate, to_deficit, True)
    # added into the noise's own buffer, x cast to float64 sample by sample:
    # the sums of ``x64 + noise``, without a float64 copy of x
    return np.add(noise, x, out=noise).astype(np.float32)


def _harmonize_runs(item, random_state, *params) -> np.ndarray:
    """One signal, each of its runs harmonised alone (``item = (signal, run
    starts, a seed per run or None)``): a run heard through another device has
    its own floor and level. Without seeds, each run's is its length's."""
    x, starts, seeds = item
    runs = np.split(np.asarray(x), starts[1:]) if starts is not None else [x]
    if seeds is None:
        seeds = [_dither_seed(len(run), random_state) for run in runs]
    if len(runs) == 1:  # a recording at predict: no copy of it to concatenate
        return _harmonize_one(runs[0], seeds[0], *params)
    return np.concatenate(
        [
            _harmonize_one(run, seed, *params)
            for run, seed in zip(runs, seeds, strict=True)
        ]
    )


class NoiseFloorHarmonizer(RecordingsOut, CycleBagTransformer):
    """Bring every recording to one noise floor relative to its own level.

    A recorder's noise floor (hiss, quantisation of a coarse converter at low
    gain) shows in the spectrogram and can stand in for the label when the
    devices of a study go with it. This step estimates each recording's floor
    per frequency (:func:`noise_floor_psd`) and adds Gaussian noise shaped to
    fill it up to a white floor whose power in every ``band`` Hz lies ``snr_db``
    below the recording's power, at fit and at predict. The floor is a density
    per Hz, so the same sound recorded at 2 kHz or at 44.1 kHz meets the same
    floor in its band. Floors above the target stay (noise cannot be removed), so
    choose ``snr_db`` below the worst device you expect to meet. At predict
    (:meth:`transform`) the noise is seeded by the recording's length and
    ``random_state``, not by its samples: the same recording always gets the
    same noise, and a recording at another gain comes out at that gain, sample
    for sample. In training (:meth:`fit_transform`) every recording draws noise
    of its own from ``random_state``. A recording that
    :class:`RecorderAugmentation` extended with runs heard through other
    devices (placed before this step, in fit) has each run harmonised alone,
    as a recording of its own: at fit every device then meets the floor that
    recordings meet at predict.

    A coarse converter at low gain leaves more than a noise floor: a staircase
    on the beat and digital silence between beats. With ``step_snr_db`` set,
    every recording is first rounded to its own converter step, the one whose
    rounding noise lies ``step_snr_db`` below its power, so that all share one
    effective resolution before their floors are raised.

    Parameters
    ----------
    snr_db : float, default=40.0
        Target floor: its power in ``band`` Hz is this many dB below the
        recording's power about its mean (its variance: a DC offset does not
        count).
    band : float, default=1000.0
        Width in Hz of the band ``snr_db`` counts the floor's power in (the
        floor is white up to the Nyquist frequency at that density). The
        default is the band the pipeline's 1 kHz lowpass keeps.
    step_snr_db : float or None, default=None
        Common resolution: the rounding noise of the step (``step**2 / 12``)
        this many dB below the recording's power about its mean; ``None``
        keeps each recording's own resolution.
    window : float, default=0.05
        Frame length in seconds of the floor estimate: at least 8 samples at
        the recordings' rate.
    percentile : float, default=10.0
        Percentile over frames taken as the existing floor.
    random_state : int or None, default=None
        At predict, added to each recording's length to seed its noise
        (recordings of one length share a noise sequence, each shaped to its
        own floor); in training, the seed of every recording's own draw. An
        int, not a RandomState: a stream would be used up, and a recording
        scored twice would get two answers.
    n_jobs : int or None, default=None
        Recordings processed in parallel through joblib.

    Attributes
    ----------
    sample_rate_ : float
        Rate of the training recordings.

    Examples
    --------
    >>> import numpy as np
    >>> from vascular_sklearn import PeakCycleCutter
    >>> from vascular_sklearn.recorder import quantise
    >>> rng = np.random.default_rng(0)
    >>> x = np.zeros(22050 * 4)
    >>> x[::16000] = 1.0
    >>> x = np.convolve(x, np.hanning(3001), "same") + 1e-3 * rng.normal(size=len(x))
    >>> fine, coarse = x.astype(np.float32), quantise(0.1 * x, 32).astype(np.float32)
    >>> bags = PeakCycleCutter().fit_transform([fine, coarse / 0.1])
    >>> even = NoiseFloorHarmonizer(snr_db=20).fit_transform(bags)
    >>> floors = [noise_floor_psd(s, 22050)[1][200:400].mean() for s in even.signals]
    >>> bool(abs(10 * np.log10(floors[0] / floors[1])) < 1.0)  # within 1 dB
    True
    """

    _parameter_constraints: dict = {
        # finite: NaN made every signal NaN without a word
        "snr_db": [Interval(Real, None, None, closed="neither")],
        "band": [Interval(Real, 0, None, closed="neither")],
        # at or under 0 dB the step rounds the whole recording to 0
        "step_snr_db": [Interval(Real, 0, None, closed="neither"), None],
        "window": [Interval(Real, 0, None, closed="neither")],
        "percentile": [Interval(Real, 0, 100, closed="both")],
        # numpy's seeds stop there (training draws from it as given)
        "random_state": [Interval(Integral, 0, 2**32 - 1, closed="both"), None],
        "n_jobs": [Integral, None],
    }

    def __init__(
        self,
        snr_db: float = 40.0,
        band: float = 1000.0,
        step_snr_db: float | None = None,
        window: float = 0.05,
        percentile: float = 10.0,
        random_state: int | None = None,
        n_jobs: int | None = None,
    ) -> None:
        self.snr_db = snr_db
        self.band = band
        self.step_snr_db = step_snr_db
        self.window = window
        self.percentile = percentile
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _check_rate(self, sample_rate: float) -> None:
        _frame_samples(self.window, sample_rate)

    def transform(self, X: CycleBags) -> CycleBags:
        """Raise every recording's floor to the target; the cuts stay.

        The noise of each recording is seeded by its length and
        ``random_state``, so a recording at another gain comes out at that
        gain, sample for sample.

        Parameters
        ----------
        X : CycleBags
            Cycles of the recordings.

        Returns
        -------
        CycleBags
            The same cycles of the harmonised signals.
        """
        check_is_fitted(self)
        return self._harmonize(self._check_bags(X), None)

    def fit_transform(self, X: CycleBags, y=None) -> CycleBags:
        """Fit, then harmonise the training recordings, each with noise of its own.

        Unlike :meth:`transform`, every recording (and every run an
        augmentation added) draws its noise afresh from ``random_state``:
        training recordings of one length would otherwise share one noise
        sequence, and the network should meet as many noise sequences as it
        has recordings (on the confounded simulator the default's shift under
        a quiet recorder did not change beyond the spread of the draws; see
        the docs' evaluation page). As with :class:`RecorderAugmentation`,
        ``fit_transform`` differs from ``fit().transform`` on purpose.

        Parameters
        ----------
        X : CycleBags
            The training recordings' cycles.
        y : None
            Ignored; present for the scikit-learn API.

        Returns
        -------
        CycleBags
            The same cycles of the harmonised signals.
        """
        bags = self.fit(X)._check_bags(X)
        return self._harmonize(bags, check_random_state(self.random_state))

    def _harmonize(self, bags: CycleBags, rng) -> CycleBags:
        """``bags`` harmonised, with seeds drawn from ``rng`` or, if ``None``,
        from each run's length."""
        # refused here, once, rather than in every recording's worker
        _frame_samples(self.window, bags.sample_rate)
        runs = [None] * len(bags) if bags.runs is None else list(bags.runs)
        # drawn here, in one order, so that n_jobs cannot change the noise
        seeds = [
            None if rng is None else rng.randint(2**31, size=1 if r is None else len(r))
            for r in runs
        ]
        data = map_recordings(
            _harmonize_runs,
            list(zip(bags.signals.data, runs, seeds, strict=True)),
            self.n_jobs,
            self.random_state,
            bags.sample_rate,
            self.snr_db,
            self.band,
            self.step_snr_db,
            self.window,
            self.percentile,
        )
        return replace(bags, signals=replace(bags.signals, data=object_array(data)))


def _at_peak_gain(
    x: np.ndarray, rate: float, device: Recorder
) -> tuple[np.ndarray, Recorder]:
    """``x`` through ``device``'s microphone, and the rest of ``device``, its
    gain relative to the peak the microphone leaves.

    The gain is set after the microphone, as the device applies it: the
    vessel's pulse lies below 50 Hz, far from the 1 kHz the tilt pivots about,
    and a gain set from the raw peak met a pulse that a tilt of -4 dB per
    octave had lifted by 26 dB (the copy clipped to a square wave) or one of
    +4 dB had lowered by 17 dB.
    """
    if device.shapes_spectrum and len(x) > 1:
        x = _filtered(np.asarray(x, np.float64), rate, device)
        device = replace(device, tilt_db_per_octave=0.0, resonance_db=0.0)
    peak = float(np.max(np.abs(x))) or 1.0
    return x, replace(device, gain=device.gain / peak)


def _record_again(
    plan: tuple, rate: float, cutoff: float | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One recording followed by its planned runs, each heard through its device.

    ``plan`` is the signal, its cycle bounds, the runs drawn for it (the
    run's cycle bounds, the device drawn, its gain relative to the run's peak
    after its microphone, the device's seed) and where the runs it holds
    already start (``[0]`` unless it was augmented before).
    """
    x, b, runs, held = plan
    error_filter = None
    if cutoff is not None and cutoff < rate / 2:

        def error_filter(e):
            return lowpass_butterworth(e, rate, cutoff)

    parts, cuts, offset, starts = [x], [b], len(x), list(held)
    for run, device, seed in runs:
        starts.append(offset)
        start, stop = run[0, 0], run[-1, 1]
        heard, device = _at_peak_gain(x[start:stop], rate, device)
        clean, written = device._convert(heard, rate, seed)
        local = run - start
        # a device too quiet for its converter can round a whole beat to one
        # level: that cycle holds no sound to learn from (read before the
        # error filter, whose leftover of the sound is never quite flat)
        sound = [np.ptp(written[a:z]) > 0 for a, z in local]
        parts.append(_heard(clean, written, error_filter))
        cuts.append(local[sound] + offset)
        offset += stop - start
    return (
        np.concatenate(parts).astype(np.float32, copy=False),
        np.concatenate(cuts).astype(np.int64),
        np.array(starts, dtype=np.int64),
    )


class RecorderAugmentation(RecordingsOut, CycleBagTransformer):
    """Add training cycles recorded through random devices; none at predict.

    In ``fit_transform`` each recording's bag gains ``n_copies`` runs of up to
    ``cycles_per_copy`` consecutive cycles, each run recorded again through a
    device drawn from ``ranges``
    (:class:`~vascular_sklearn.recorder.RecorderRanges`: gain, converter step,
    noise, microphone tilt and resonance, clipping, DC offset): the number of
    recordings never changes, so ``X``, ``y`` and ``groups`` stay in step, and
    the classifier learns what the devices do not change. Gains are relative
    to each run's own peak as the device's microphone passes it (gain 1
    brings its loudest sample to full scale).
    ``transform`` (prediction) returns its input
    unchanged: as with scikit-learn's ``TargetEncoder``, ``fit_transform``
    differs from ``fit().transform`` on purpose.

    Parameters
    ----------
    n_copies : int, default=2
        Augmented runs per recording (none for a recording without cycles).
    cycles_per_copy : int or None, default=16
        Consecutive cycles per run (a random run of the recording); ``None``
        records all its cycles again (from the first cycle's start to the
        last one's end).
    ranges : RecorderRanges or None, default=None
        Where devices are drawn from; ``None`` means ``RecorderRanges()``.
    lowpass_cutoff : float or None, default=1000.0
        The device's noise and quantisation error are lowpassed at this
        frequency (:func:`~vascular_sklearn.lowpass.lowpass_butterworth`: order
        4, forwards and backwards), standing in for the pipeline's lowpass,
        which would have filtered them on a real recording; ``None``, or a
        cutoff at or above the Nyquist frequency (1 kHz at 2 kHz), adds them
        unfiltered. The stand-in is steeper than the default biquad (at 1.5 kHz
        -29 dB against -8 dB), so augmented images hold less device noise
        above 1 kHz than real ones do.
    random_state : int, RandomState or None, default=None
        Same seed, same augmented cycles.
    n_jobs : int or None, default=None
        Recordings recorded again in parallel through joblib; the devices are
        drawn before, so the cycles are the same for any ``n_jobs``.

    Attributes
    ----------
    sample_rate_ : float
        Rate of the training recordings.

    Examples
    --------
    >>> import numpy as np
    >>> from vascular_sklearn import PeakCycleCutter
    >>> x = np.zeros(22050 * 4, np.float32)
    >>> x[::16000] = 1.0
    >>> bags = PeakCycleCutter().fit_transform([x])
    >>> aug = RecorderAugmentation(n_copies=2, cycles_per_copy=3, random_state=0)
    >>> aug.fit_transform(bags).n_cycles.tolist(), aug.transform(bags).n_cycles.tolist()
    ([10], [4])
    """

    _parameter_constraints: dict = {
        "n_copies": [Interval(Integral, 0, None, closed="left")],
        "cycles_per_copy": [Interval(Integral, 1, None, closed="left"), None],
        "ranges": [RecorderRanges, None],
        "lowpass_cutoff": [Interval(Real, 0, None, closed="neither"), None],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
    }

    def __init__(
        self,
        n_copies: int = 2,
        cycles_per_copy: int | None = 16,
        ranges: RecorderRanges | None = None,
        lowpass_cutoff: float | None = 1000.0,
        random_state: int | np.random.RandomState | None = None,
        n_jobs: int | None = None,
    ) -> None:
        self.n_copies = n_copies
        self.cycles_per_copy = cycles_per_copy
        self.ranges = ranges
        self.lowpass_cutoff = lowpass_cutoff
        self.random_state = random_state
        self.n_jobs = n_jobs

    def transform(self, X: CycleBags) -> CycleBags:
        """Return the recordings unchanged: nothing is augmented at predict.

        Parameters
        ----------
        X : CycleBags
            Cycles of the recordings.

        Returns
        -------
        CycleBags
            ``X`` itself.
        """
        check_is_fitted(self)
        return self._check_bags(X)

    def fit_transform(self, X: CycleBags, y=None) -> CycleBags:
        """Fit, then add the augmented runs to every training recording's bag.

        Parameters
        ----------
        X : CycleBags
            The training recordings' cycles.
        y : None
            Ignored; present for the scikit-learn API.

        Returns
        -------
        CycleBags
            Per recording, its own cycles followed by the augmented ones.
        """
        self.fit(X)
        bags = X
        rng = check_random_state(self.random_state)
        ranges = RecorderRanges() if self.ranges is None else self.ranges
        # every draw is made here, in one order, so that n_jobs cannot change
        # the augmented cycles; the recording-through-a-device work runs after
        plans = []
        # bags augmented before keep their runs: as one run, a harmonizer
        # after would have levelled the earlier devices' floors together
        held = [[0]] * len(bags) if bags.runs is None else bags.runs
        for x, b, starts in zip(bags.signals.data, bags.bounds, held, strict=True):
            runs = []
            for _ in range(self.n_copies if len(b) else 0):
                k = len(b) if self.cycles_per_copy is None else self.cycles_per_copy
                k = min(k, len(b))
                first = rng.randint(len(b) - k + 1)
                run = b[first : first + k]
                # the gain is made relative to the run's peak where it is
                # recorded, after the microphone's response
                runs.append((run, ranges.draw(rng), rng.randint(2**31)))
            plans.append((x, b, runs, starts))
        augmented = map_recordings(
            _record_again, plans, self.n_jobs, bags.sample_rate, self.lowpass_cutoff
        )
        data, bounds, starts = (
            object_array(part) for part in zip(*augmented, strict=True)
        )
        signals = replace(bags.signals, data=data)
        return replace(bags, signals=signals, bounds=bounds, runs=starts)
