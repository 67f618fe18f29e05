"""Per-cycle quality: how regular, how clipped and how far above the noise a cycle is.

A recording can be good while a few of its cycles are not: a knock drives one
beat into the converter's rails, the stethoscope loses contact for a second.
:func:`cycle_quality` measures every cycle against its own recording, and
:func:`failed_cycles` says which ones a classifier should not hear and why.
:class:`~vascular_sklearn.PeakCycleCutter` (``method="period"``) drops them and
:meth:`~vascular_sklearn.CycleBags.quality` counts each reason.

:func:`pulse_db` measures the whole recording: whether its sound swings with
a heartbeat at all, or is a stationary noise (a microphone off the access, an
unplugged lead, mains hum) that any cutter would still cut into cycles.

Every measure is relative to the recording itself (a share of its samples, a
ratio of its powers), so gain, converter step and sample rate do not move them.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, sosfilt, sosfiltfilt

__all__ = [
    "CLIP_BLOCK",
    "PULSE_LIMIT_DB",
    "clip_counts",
    "clipped_samples",
    "counts_at_rate",
    "cycle_quality",
    "failed_cycles",
    "pulse_db",
]

#: How many times as many samples the top band of a recording's magnitudes
#: (one converter step, or 0.1 % of the peak) must hold as the band below it
#: to be a flat top: a smooth (locally quadratic) maximum holds about 2.4
#: times as many, a steady tone's crests too, while clipping piles every
#: sample beyond the rail onto it.
FLAT_TOP_RATIO = 4.0
#: Duration in seconds of the blocks in which clipped samples are counted: fine
#: enough to place a knock within a beat, coarse enough to cost nothing to keep.
CLIP_BLOCK = 0.01
#: Decibels of loudness swing with the heartbeat (:func:`pulse_db`) under
#: which a recording holds no pulse: stationary noise (white to pink, mains
#: hum) stays under it, every seed recording swings twice as far
#: (``bench_pulse``). The cutter still cuts such a sound into "cycles", and the
#: network still answers; the answer is about noise, so the cutter warns
#: (:class:`~vascular_sklearn.NoPulseWarning`) and screening flags the
#: recording ``no_pulse``.
PULSE_LIMIT_DB = 1.0
#: Frames (seconds, whole blocks) whose power gives the noise floor, and the
#: percentile taken: the quietest moments of a recording are its floor.
_FLOOR_FRAME, _FLOOR_PERCENTILE = 0.03, 5.0


def _clip_block(sample_rate: float) -> int:
    """Samples per :data:`CLIP_BLOCK` at ``sample_rate`` (at least 1)."""
    return max(1, round(CLIP_BLOCK * sample_rate))


def clipped_samples(x: np.ndarray) -> np.ndarray:
    """Mark the samples on the flat tops clipping leaves at the peak level.

    A sample counts when it lies within 0.1 % of the recording's largest
    magnitude (the flat tops of clipping, wherever the clipping level is).
    Where that band spans a converter step or more (a peak of 1000 steps or
    more: a 16-bit recording above -30 dBFS), it counts only when it holds
    more than :data:`FLAT_TOP_RATIO` times the samples of the 0.1 % band
    below it: a steady tone's crests hold about 2.4 times as many, a flat top
    all that went beyond it (a loud tone read 3 % "clipped"). Under 1000
    steps (:func:`~vascular_sklearn.recorder.converter_step`) the 0.1 % band
    holds the top step alone, which every smooth maximum reaches as it rounds
    (a beat 50 ms wide spends 1 % of its cycle there at 100 steps; a steady
    tone of 64 to 999 steps read 2 to 8 % "clipped"): the bands are one step
    wide there, compared alike (a quiet session lost its loudest beats as
    "clipped"). Under 4 steps every sample within 0.1 % of the peak counts.

    Parameters
    ----------
    x : ndarray of shape (n_samples,)
        One raw recording, before any filter rounds the flat tops off.

    Returns
    -------
    ndarray of bool, shape (n_samples,)
        Every sample of an all-zero recording is marked.

    Raises
    ------
    ValueError
        When ``x`` holds NaN or infinite samples.

    Examples
    --------
    >>> import numpy as np
    >>> from vascular_sklearn.recorder import quantise
    >>> beats = 0.02 * np.sin(np.linspace(0, 200, 20000)) ** 2  # 20 steps of 32
    >>> int(clipped_samples(quantise(beats, 32)).sum())  # its top step: no clip
    0
    >>> int(clipped_samples(quantise(np.clip(beats, 0, 0.01), 32)).sum()) > 9000
    True
    """
    # here, not at the top: recorder's Recorder works on containers' Signals,
    # and containers measure clipping with this module
    from .recorder import converter_step

    x = np.asarray(x)
    # as floats: -x.min() of int16's -32768 wrapped to -32768
    peak = max(float(x.max()), -float(x.min())) if len(x) else 0.0
    if not np.isfinite(peak):  # NaN read as "all clipped"
        raise ValueError("x holds NaN or infinite samples: nothing to measure")
    if not peak > 0:
        return np.ones(len(x), bool)
    step = converter_step(x)
    # boolean masks, not an |x| copy: hour-long recordings are large
    if peak < 4 * step:
        # a few values only (a knock on a constant): no band below the top
        # is a smooth maximum's to compare with
        level = 0.999 * peak
        return (x >= level) | (x <= -level)
    edge, floor = 0.999 * peak, 0.998 * peak
    if peak - edge >= step:  # 0.1 % bands, each a step or more wide
        top = (x >= edge) | (x <= -edge)
        below = np.count_nonzero((x >= floor) & (x < edge)) + np.count_nonzero(
            (x <= -floor) & (x > -edge)
        )
    else:  # one step each: the top step, the one below
        edge, floor = peak - step, peak - 2 * step
        top = (x > edge) | (x < -edge)
        below = np.count_nonzero((x > floor) & (x <= edge)) + np.count_nonzero(
            (x < -floor) & (x >= -edge)
        )
    if np.count_nonzero(top) > FLAT_TOP_RATIO * below:
        return top
    return np.zeros(len(x), bool)


def clip_counts(
    x: np.ndarray, sample_rate: float, full_scale: float | None = None
) -> np.ndarray:
    """Count the clipped samples in each 10 ms block.

    A sample counts when it lies on a flat top at the recording's peak level
    (:func:`clipped_samples`), the rule of
    :func:`~vascular_sklearn.containers.clipped_fraction`; without
    ``full_scale`` the counts sum to that share times the length.

    Parameters
    ----------
    x : ndarray of shape (n_samples,)
        One raw recording, before any filter rounds the flat tops off.
    sample_rate : float
        Its rate in Hz.
    full_scale : float or None, default=None
        Samples beyond ``±full_scale`` count too: a filter that clamps its
        output there (the original's biquad, at 1) clips them.

    Returns
    -------
    ndarray of int32, shape (ceil(n_samples / block),)
        Clipped samples per block of :data:`CLIP_BLOCK` seconds. Every sample
        of an all-zero recording counts.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.clip(2 * np.sin(np.linspace(0, 6, 4000)), -1, 1)
    >>> counts = clip_counts(x, 10000.0)
    >>> len(counts), int(counts.sum()) == int(np.sum(np.abs(x) >= 0.999))
    (40, True)
    """
    x = np.asarray(x)
    block = _clip_block(sample_rate)
    if len(x) == 0:
        return np.zeros(0, np.int32)
    at_peak = clipped_samples(x)
    if full_scale is not None:
        # two comparisons, not |x|: no float copy of a long recording
        at_peak |= x > full_scale
        at_peak |= x < -full_scale
    # counted block by block as rows: np.add.reduceat would cast the whole
    # mask to int64 first, 8 bytes a sample
    full = len(x) // block
    counts = np.empty(-(-len(x) // block), np.int32)
    counts[:full] = np.count_nonzero(at_peak[: full * block].reshape(full, block), 1)
    if full < len(counts):
        counts[full] = np.count_nonzero(at_peak[full * block :])
    return counts


def counts_at_rate(
    counts: np.ndarray, from_rate: float, to_rate: float, n_samples: int
) -> np.ndarray:
    """Carry :func:`clip_counts` of a recording as read over to its resampled copy.

    Each 10 ms block keeps its share of clipped samples, placed by time (the
    blocks are whole samples long, so their lengths in seconds differ between
    rates: by index, counts drifted 0.14 s a minute from 44.1 to 22.05 kHz).
    Counted after resampling, the ringing over the flat tops hides them (a
    recording 6 % clipped read 0.7 % at twice the rate).

    Parameters
    ----------
    counts : ndarray of int
        :func:`clip_counts` of the recording at ``from_rate``.
    from_rate : float
        The rate it was read at, in Hz.
    to_rate : float
        The rate of its resampled copy, in Hz.
    n_samples : int
        The length of the resampled copy.

    Returns
    -------
    ndarray of int32, shape (ceil(n_samples / block),)
        Clipped samples per block of the copy.

    Examples
    --------
    >>> counts_at_rate(np.array([441, 0, 100], np.int32), 44100, 22050, 600).tolist()
    [220, 0, 50]
    """
    block = _clip_block(to_rate)
    n_blocks = -(-n_samples // block)
    # clipped samples read by each block edge's time, spread evenly in a block
    edges = np.arange(len(counts) + 1) * (_clip_block(from_rate) / from_rate)
    if len(counts):  # the last block ends with the recording, often part-way
        edges[-1] = max(edges[-2], min(edges[-1], n_samples / to_rate))
    total = np.concatenate([[0], np.cumsum(counts, dtype=np.float64)])
    at = np.interp(np.arange(n_blocks + 1) * (block / to_rate), edges, total)
    scaled = np.round(np.diff(at) * (to_rate / from_rate))
    return np.clip(scaled, 0, block).astype(np.int32)


def _per_cycle_mean(
    per_block: np.ndarray, bounds: np.ndarray, block: int, n_samples: int
) -> np.ndarray:
    """Per cycle, ``per_block`` summed over the blocks it touches, per sample."""
    total = np.concatenate([[0.0], np.cumsum(per_block, dtype=np.float64)])
    lo = bounds[:, 0] // block
    hi = np.minimum(-(-bounds[:, 1] // block), len(per_block))
    span = np.minimum(hi * block, n_samples) - lo * block
    return (total[hi] - total[lo]) / np.maximum(span, 1)


#: Samples per pass of :func:`_block_energies`: a float64 copy of this many,
#: not of an hour-long recording.
_ENERGY_CHUNK = 1 << 16


def _block_energies(x: np.ndarray, block: int) -> np.ndarray:
    """Energy about the recording's mean in each ``block`` samples of ``x`` (the
    last block may be shorter), float64; 0 for a block of digital silence."""
    # a DC offset is no sound: measured with it, every block holds the offset's
    # power and the beats sink towards the floor (0 dB). The mean comes off
    # before squaring, in float64: sum(x^2) - 2 m sum(x) + n m^2 in float32
    # lost a quiet beat under a large offset to rounding (7 dB at a peak of
    # 1e-4 under an offset of 0.5)
    mean = np.mean(x, dtype=np.float64) if len(x) else 0.0
    energy = np.empty(-(-len(x) // block))
    rows = max(1, _ENERGY_CHUNK // block)  # whole blocks per pass
    for first in range(0, len(energy), rows):
        part = x[first * block : (first + rows) * block]
        starts = np.arange(0, len(part), block)
        centred = np.subtract(part, mean, dtype=np.float64)
        here = np.add.reduceat(np.square(centred, out=centred), starts)
        if mean != 0:  # a dropout of digital silence stays silent
            here[~np.logical_or.reduceat(part != 0, starts)] = 0.0
        energy[first : first + len(here)] = here
    return energy


def cycle_quality(
    signal: np.ndarray,
    bounds: np.ndarray,
    sample_rate: float,
    clipped: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Measure each cycle of one recording against the recording itself.

    Parameters
    ----------
    signal : ndarray of shape (n_samples,)
        The filtered recording the cycles are cut from.
    bounds : ndarray of shape (n_cycles, 2)
        Cycles ``[start, stop)`` in samples.
    sample_rate : float
        Rate of ``signal`` in Hz.
    clipped : ndarray of int or None, default=None
        :func:`clip_counts` of the raw recording (at ``sample_rate``). Without
        it, clipping is measured on ``signal`` itself, where a lowpass has
        rounded the flat tops off.

    Returns
    -------
    dict of ndarray of shape (n_cycles,)
        - ``period_deviation``: cycle length over the recording's median cycle
          length, minus 1 (0.2: 20 % longer than the typical beat);
        - ``clipped``: share of the cycle's samples at the clipping level;
        - ``snr_db``: the cycle's mean power over the recording's noise floor
          (the 5th percentile of the power in 30 ms frames), in dB. A beat
          stands well above it (real vascular recordings: 5 dB or more, median
          17 dB); a cycle where the stethoscope lost contact does not.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(0, 5, 1e-3)
    >>> x = np.sin(2 * np.pi * 40 * t) * (1.2 + np.cos(2 * np.pi * t))
    >>> x[3000:4000] *= 0.01  # contact lost in the fourth second
    >>> q = cycle_quality(x, np.array([[0, 1000], [1000, 2000], [3000, 4000]]), 1e3)
    >>> (q["snr_db"] > 10).tolist(), q["period_deviation"].tolist()
    ([True, True, False], [0.0, 0.0, 0.0])
    """
    x = np.asarray(signal)
    bounds = np.asarray(bounds, dtype=np.int64).reshape(-1, 2)
    if len(bounds) == 0:
        empty = np.zeros(0)
        return {"period_deviation": empty, "clipped": empty, "snr_db": empty}
    if clipped is None:
        clipped = clip_counts(x, sample_rate)
    # energies per 10 ms block: cycle edges within 10 ms are precise enough for
    # a quality measure
    block = _clip_block(sample_rate)
    n_full = len(x) // block
    energy = _block_energies(x, block)
    power = _per_cycle_mean(energy, bounds, block, len(x))
    frames = max(1, round(_FLOOR_FRAME / CLIP_BLOCK))
    if n_full >= frames:
        framed = np.convolve(energy[:n_full], np.ones(frames), "valid")
        # the floor of the sound: a dropout of digital silence (3 % of the
        # recording did) would make it 0, and every cycle clean
        sound = framed[framed > 0]
        floor = (
            float(np.percentile(sound, _FLOOR_PERCENTILE)) / (frames * block)
            if len(sound)
            else 0.0
        )
    else:
        floor = float(np.sum(energy)) / max(len(x), 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        snr = 10.0 * np.log10(power / floor)
    # digital silence: a silent cycle has nothing, a beat over a zero floor all
    snr = np.where(power > 0, np.nan_to_num(snr, nan=np.inf, posinf=np.inf), -np.inf)
    lengths = np.diff(bounds, axis=1).ravel()
    return {
        "period_deviation": lengths / np.median(lengths) - 1.0,
        "clipped": _per_cycle_mean(np.asarray(clipped), bounds, block, len(x)),
        "snr_db": snr,
    }


def failed_cycles(
    quality: dict[str, np.ndarray],
    min_snr_db: float | None = 1.0,
    max_clipped: float | None = 0.01,
) -> dict[str, np.ndarray]:
    """Say which cycles fail, and why.

    Parameters
    ----------
    quality : dict of ndarray
        :func:`cycle_quality` of one recording.
    min_snr_db : float or None, default=1.0
        Cycles less than this far above the noise floor are ``"noisy"``: they
        are no louder than the recording's quietest moments, so they hold no
        beat. Beats of the real vascular recordings stand 5 dB or more above
        it (median 17 dB), and still 2 dB when clipped x20, which compresses
        loud and quiet alike. ``None`` keeps them.
    max_clipped : float or None, default=0.01
        When the recording's median cycle is clipped no more than this share,
        cycles clipped more are ``"clipped"``: a transient (a knock, a bumped
        stethoscope) drove them into the rails and put its spectrum in place
        of the vessel's. A recording clipped throughout keeps its cycles, for
        none is better than the rest (screening flags the recording as
        clipped). ``None`` keeps them.

    Returns
    -------
    dict of ndarray of bool
        ``"clipped"`` and ``"noisy"`` masks over the cycles; a cycle failing
        both counts as clipped only.

    Examples
    --------
    >>> import numpy as np
    >>> q = {"clipped": np.array([0.0, 0.0, 0.2, 0.0]),
    ...      "snr_db": np.array([15.0, 0.5, 15.0, 14.0])}
    >>> {k: v.tolist() for k, v in failed_cycles(q).items()}
    {'clipped': [False, False, True, False], 'noisy': [False, True, False, False]}
    """
    share, snr = quality["clipped"], quality["snr_db"]
    clipped = np.zeros(len(share), dtype=bool)
    if max_clipped is not None and len(share) and np.median(share) <= max_clipped:
        clipped = share > max_clipped
    noisy = np.zeros(len(snr), dtype=bool)
    if min_snr_db is not None:
        noisy = (snr < min_snr_db) & ~clipped
    return {"clipped": clipped, "noisy": noisy}


#: :func:`pulse_db`'s loudness envelope: frames of 20 ms, sound above 25 Hz
#: (below it a stethoscope hears the body's movement, not the flow), and the
#: band of the envelope's swing, 0.3-8 Hz: a beat's rise and fall at 20 to 180
#: beats per minute, without slower drift (breathing, a loosening contact).
_PULSE_FRAME, _PULSE_HIGHPASS, _PULSE_SWING = 0.02, 25.0, (0.3, 8.0)
#: Seconds a recording needs before its swing means anything: a few beats.
_PULSE_MIN_SECONDS = 3.0
#: Seconds the highpass takes to settle, left out of the envelope: from a DC
#: offset it starts with a step larger than any beat (noise swung 1-2 dB).
_PULSE_SETTLE = 0.2
#: Sound above 25 Hz this far under the recording's peak (120 dB) is none: a
#: constant (a dead lead at an offset) leaves the highpass a decaying residue
#: of about 1e-10 of it, which divided by its own peak read as a 9 dB swing.
_PULSE_RESIDUE = 1e-6


def pulse_db(signal: np.ndarray, sample_rate: float) -> float:
    """How far the sound's loudness swings with the heartbeat, in dB.

    The flow sound of a vascular access (and a heart's sounds) grows loud with
    each beat and quiets between beats. This is the standard deviation of the
    recording's loudness envelope (dB in 20 ms frames of the sound above
    25 Hz, after the filter's first 0.2 s) over the swings of 0.3 to 8 Hz, a
    beat's pace. A stationary noise swings only by chance: white to pink
    noise and mains hum stay under 1 dB
    (``bench_pulse``); every one of the 49 seed recordings swings 2 dB or more.

    Parameters
    ----------
    signal : ndarray of shape (n_samples,)
        One recording, lowpassed (the sound the cycles are cut from).
    sample_rate : float
        Its rate in Hz.

    Returns
    -------
    float
        The swing in dB: the same at any gain, and 0 for digital silence or
        a constant; ``nan`` for a recording shorter than 3 s or sampled at
        50 Hz or less (it holds no sound above 25 Hz).

    Raises
    ------
    ValueError
        When ``signal`` holds NaN or infinite samples (read as silence, 0).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> t = np.arange(0, 20, 1 / 2000)
    >>> noise = rng.normal(size=len(t))
    >>> beating = noise * 10 ** (6 * np.sin(2 * np.pi * 1.2 * t) / 20)  # +-6 dB
    >>> round(pulse_db(beating, 2000.0)), pulse_db(noise, 2000.0) < 1
    (4, True)
    """
    x = np.asarray(signal)
    frame = max(1, round(_PULSE_FRAME * sample_rate))
    if len(x) < _PULSE_MIN_SECONDS * sample_rate or sample_rate <= 2 * _PULSE_HIGHPASS:
        return float("nan")
    # a causal filter suffices for a loudness envelope, in the signal's own
    # precision: no float64 copy of a long recording
    # as floats: -x.min() of int16's -32768 wrapped
    scale = max(float(x.max()), -float(x.min()))
    if not np.isfinite(scale):
        raise ValueError("signal holds NaN or infinite samples: nothing to measure")
    highpass = butter(2, _PULSE_HIGHPASS, "high", fs=sample_rate, output="sos")
    y = sosfilt(highpass.astype(x.dtype) if x.dtype == np.float32 else highpass, x)
    y = y[round(_PULSE_SETTLE * sample_rate) :]
    n_frames = len(y) // frame
    # the extremes, not |y|: no copy of a long recording (a float's magnitude
    # is exact, so the peak is the same number)
    peak = max(y.max(), -y.min())
    if not peak > _PULSE_RESIDUE * scale:
        return 0.0
    # at its own scale: squares of a float recording near 1e-20 underflow
    # float32 (every frame read as silence, a swing of 0 dB)
    y /= peak
    rows = y[: n_frames * frame].reshape(n_frames, frame)
    power = np.einsum("ij,ij->i", rows, rows).astype(np.float64)
    if not power.max() > 0:
        return 0.0
    # frames of digital silence sit 60 dB down, not at minus infinity
    loudness = 10.0 * np.log10(np.maximum(power, 1e-6 * power.max()))
    swing = butter(2, _PULSE_SWING, "band", fs=sample_rate / frame, output="sos")
    return float(np.std(sosfiltfilt(swing, loudness - loudness.mean())))
