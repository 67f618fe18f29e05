"""Beat finding from the beat period: one peak per heartbeat at any gain or rate.

:func:`find_beats` is the ``method="period"`` of
:class:`~vascular_sklearn.PeakCycleCutter`. It first estimates how long a beat
lasts in this recording (the autocorrelation of the smoothed pulse), then picks
one peak per beat with spacings relative to that period and keeps the cycles
whose length agrees with the local beat period. Every threshold is relative to
robust percentiles of the recording itself, so gain, converter step and
clipping do not move them, and every duration is in seconds, so any sample rate
works.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.fft import next_fast_len
from scipy.ndimage import (
    maximum_filter1d,
    median_filter,
    minimum_filter1d,
    uniform_filter1d,
)
from scipy.signal import find_peaks

from .audio import _finite_above_zero

__all__ = ["beat_scores", "estimate_period", "find_beats"]

#: Rate at which the period is estimated and peaks are first picked (Hz); the
#: smoothed pulse holds nothing faster, and peaks are refined at full rate.
_ANALYSIS_RATE = 200.0


#: Periods searched reach this factor beyond ``min_bpm`` and ``max_bpm``.
_MARGIN = 1.15
#: Normalised autocorrelation over which a lag counts as a repeat of the
#: signal, not noise: a period's peak and the resemblance a period later.
_MIN_CORRELATION = 0.1


def _check_search(sample_rate: float, min_bpm: float, max_bpm: float) -> None:
    """Refuse a rate or heart-rate range that no beat could be searched in:
    they failed deep in numpy and scipy (min_bpm=0 divided by zero) or found
    nothing without a word (min_bpm above max_bpm)."""
    for name, value in (
        ("sample_rate", sample_rate),
        ("min_bpm", min_bpm),
        ("max_bpm", max_bpm),
    ):
        if not _finite_above_zero(value):
            raise ValueError(f"{name}={value!r}: give a finite number above 0")
    if min_bpm >= max_bpm:
        raise ValueError(
            f"min_bpm={min_bpm!r} is not below max_bpm={max_bpm!r}: no heart "
            "rate lies between them"
        )


def _robust_scale(x: np.ndarray) -> float:
    """Spread of ``x`` between its 1st and 99th percentiles (0 when flat)."""
    lo, hi = np.percentile(x, [1.0, 99.0])
    return float(hi - lo)


def _blocks(x: np.ndarray, sample_rate: float) -> tuple[np.ndarray, int]:
    """``x`` as rows of about 1 / 200 s (a view without the tail), and the length."""
    x = np.asarray(x)
    block = max(1, round(sample_rate / _ANALYSIS_RATE))
    n = len(x) // block
    return x[: n * block].reshape(n, block), block


def _normalised(
    coarse: np.ndarray, rate: float, min_bpm: float
) -> tuple[np.ndarray, float]:
    """``coarse`` (at ``rate`` Hz) over its percentile range, its drift removed,
    and that range."""
    scale = _robust_scale(coarse) if len(coarse) else 0.0
    if scale <= 0:
        return np.zeros(len(coarse)), 0.0
    # dividing by a percentile range makes the rest independent of gain
    coarse = (coarse - np.median(coarse)) / scale
    # a drifting baseline (a loosening contact, breathing) is slower than the
    # slowest beat; a running mean over 1.5 slowest periods removes it
    window = round(1.5 * 60.0 / min_bpm * rate)
    if window < len(coarse):
        coarse = coarse - uniform_filter1d(coarse, window, mode="nearest")
    return coarse, scale


def _analysis_signal(
    reference: np.ndarray, sample_rate: float, min_bpm: float
) -> tuple[np.ndarray, int, float]:
    """The reference normalised, detrended and averaged down to about 200 Hz.

    Returns the signal, the block length in samples of ``reference`` and the
    1st-99th percentile range it was divided by.
    """
    rows, block = _blocks(reference, sample_rate)
    # no float64 copy of the full-rate signal: only the block means need it
    y, scale = _normalised(
        rows.mean(axis=1, dtype=np.float64), sample_rate / block, min_bpm
    )
    return y, block, scale


#: Smoothing (seconds) of the loudness envelope: the length of a beat's sound.
_LOUDNESS_SMOOTHING = 0.1


def _loudness(signal: np.ndarray, sample_rate: float, min_bpm: float) -> np.ndarray:
    """The signal's log loudness at about 200 Hz, smoothed, normalised, detrended.

    Some recordings show the beat only in how loud the flow sound is, not in
    the smoothed waveform; a logarithm makes the envelope's shape independent
    of gain.
    """
    rows, block = _blocks(signal, sample_rate)
    # a sum of squares per block, with no squared copy of the signal; int16
    # squares summed as int16 wrapped negative, and the period was lost
    kind = rows.dtype if rows.dtype.kind == "f" else np.float64
    power = np.einsum("ij,ij->i", rows, rows, dtype=kind).astype(np.float64) / block
    rate = sample_rate / block
    # the 1st percentile of the blocks with sound keeps digital silence finite
    # without moving the rest (over all blocks, a dropout of 1 % made it 0, and
    # the silence, at log(tiny), outweighed every beat)
    sound = power[power > 0]
    floor = np.percentile(sound, 1.0) if len(sound) else 0.0
    loud = np.log(power + max(floor, np.finfo(np.float64).tiny))
    loud = uniform_filter1d(loud, max(1, round(_LOUDNESS_SMOOTHING * rate)))
    return _normalised(loud, rate, min_bpm)[0]


def estimate_period(
    reference: np.ndarray,
    sample_rate: float,
    min_bpm: float = 35.0,
    max_bpm: float = 180.0,
) -> float | None:
    """Estimate the beat period of a smoothed pulse from its autocorrelation.

    The reference is normalised by its 1st to 99th percentile range and
    detrended, so the estimate does not depend on gain, quantisation or
    clipping. The lag of the highest autocorrelation peak between
    ``60 / max_bpm`` and ``60 / min_bpm`` seconds (with a 15 % margin) wins,
    except that a shorter lag whose peak reaches 60 % of it and divides it is
    preferred: a signal periodic with period ``T`` is periodic with ``2 T`` too.

    Parameters
    ----------
    reference : ndarray of shape (n_samples,)
        The smoothed signal (:class:`~vascular_sklearn.MeanSmoother`'s
        ``reference``).
    sample_rate : float
        Rate of ``reference`` in Hz.
    min_bpm, max_bpm : float, default=35.0, 180.0
        Range of heart rates searched, in beats per minute.

    Returns
    -------
    float or None
        The period in seconds, or ``None`` when the recording is flat, shows
        no periodicity, or is shorter than two slowest beats with the margin
        (``2 * 1.15 * 60 / min_bpm`` seconds: 3.9 s at 35 beats per minute,
        whatever the heart's own rate).

    Raises
    ------
    ValueError
        When ``sample_rate``, ``min_bpm`` or ``max_bpm`` is not a finite
        number above 0, or ``min_bpm`` is not below ``max_bpm``.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(0, 20, 1 / 1000)
    >>> round(estimate_period(np.cos(np.pi * t / 0.8) ** 8, 1000.0), 2)  # 75 bpm
    0.8
    """
    _check_search(sample_rate, min_bpm, max_bpm)
    y, block, _ = _analysis_signal(reference, sample_rate, min_bpm)
    return _periodicity(y, sample_rate / block, min_bpm, max_bpm)[0]


def _autocorrelation(y: np.ndarray, n_lags: int) -> np.ndarray:
    """Normalised autocorrelation of ``y`` at lags 0 to ``n_lags - 1``."""
    size = next_fast_len(2 * len(y), real=True)  # 2 * len(y) may be a slow prime
    spectrum = np.fft.rfft(y, size)
    ac = np.fft.irfft(np.abs(spectrum) ** 2, size)[:n_lags]
    # divide by the overlap so long lags are not penalised
    return ac / (ac[0] * (len(y) - np.arange(len(ac))) / len(y))


def _resembles_itself(ac: np.ndarray, rate: float, period: float) -> bool:
    """Whether a signal of autocorrelation ``ac`` (at ``rate`` lags a second)
    correlates with itself a ``period`` (within 10 %) later."""
    lo, hi = int(0.9 * period * rate), int(np.ceil(1.1 * period * rate))
    return bool(np.max(ac[lo : hi + 1]) > _MIN_CORRELATION)


def _periodicity(
    y: np.ndarray, rate: float, min_bpm: float, max_bpm: float
) -> tuple[float | None, float, np.ndarray]:
    """The period of ``y`` (or None), how periodic it is, and its autocorrelation.

    The strength is the highest normalised autocorrelation peak in the range
    searched (1 for a strictly periodic signal, 0 for none); the
    autocorrelation reaches just past that range (empty when ``y`` is flat or
    shorter than twice the longest lag searched).
    """
    # a margin around the range: a heart at 35 bpm with a little jitter beats
    # slower than 35 bpm at times, and its peak must stay inside the search
    lo = max(1, int(np.floor(60.0 / max_bpm / _MARGIN * rate)))
    hi = int(np.ceil(60.0 / min_bpm * _MARGIN * rate))
    if len(y) < 2 * hi or not np.any(y):
        return None, 0.0, np.zeros(0)
    ac = _autocorrelation(y, hi + 2)
    lags, _ = find_peaks(ac)
    lags = lags[(lags >= lo) & (lags <= hi)]
    lags = lags[ac[lags] > _MIN_CORRELATION]
    if len(lags) == 0:
        return None, 0.0, ac
    best = lags[np.argmax(ac[lags])]
    strength = float(ac[best])
    for lag in lags[lags < best]:
        ratio = best / lag
        # early beats with a compensatory pause keep twice the period exact
        # while smearing the period itself: its peak can fall well below
        if ac[lag] >= 0.6 * ac[best] and abs(ratio - round(ratio)) < 0.1:
            best = lag
            break
    # parabolic interpolation: the lag grid is 5 ms, periods need better
    a, b, c = ac[best - 1], ac[best], ac[best + 1]
    denom = a - 2 * b + c
    shift = 0.5 * (a - c) / denom if denom < 0 else 0.0
    return float((best + shift) / rate), strength, ac


#: Where on a flat top (clipping, coarse quantisation) the beat is placed, as a
#: share of the way from its start to its end. A pressure pulse rises faster
#: than it falls, so its true peak lies in the first half of a clipped top; on
#: the simulator's pulses the middle came 64 ms late at x20 clipping.
_PLATEAU_POINT = 0.33


def _plateau_point(
    ref: np.ndarray, start: int, stop: int, tolerance: float, reach: int
) -> int:
    """A consistent point on the top of the peak between ``start`` and ``stop``.

    The top is the run of samples within ``tolerance`` of the maximum around
    it, followed up to ``reach`` samples either way: on a clipped or coarsely
    quantised recording the maximum is a plateau, and a fixed point of it does
    not depend on which of its samples happens to be highest.
    """
    start, stop = max(start, 0), min(stop, len(ref))
    top = start + int(np.argmax(ref[start:stop]))
    level = ref[top] - tolerance
    left = ref[max(top - reach, 0) : top + 1][::-1] < level
    right = ref[top : top + reach + 1] < level
    first = top - (int(np.argmax(left)) - 1 if left.any() else len(left) - 1)
    last = top + (int(np.argmax(right)) - 1 if right.any() else len(right) - 1)
    return first + int(_PLATEAU_POINT * (last - first))


#: Periods over which the pulse's local amplitude is measured.
_LEVEL_WINDOW = 3.0
#: Most a quiet stretch is amplified to the recording's typical level: enough
#: for a stethoscope pressed less firmly, too little to make beats of noise.
_MAX_LEVEL_GAIN = 5.0


def _level_out(y: np.ndarray, window: int) -> np.ndarray:
    """Bring every stretch of the pulse to the recording's typical amplitude.

    The amplitude is the running range (maximum minus minimum) over ``window``
    samples, smoothed over as many; quiet stretches (a stethoscope pressed
    less firmly, a patient who moved) are amplified by up to
    ``_MAX_LEVEL_GAIN`` so that one threshold finds their beats too.
    """
    if window < 2 or len(y) < window:
        return y
    spread = maximum_filter1d(y, window) - minimum_filter1d(y, window)
    spread = uniform_filter1d(spread, window, mode="nearest")
    typical = float(np.median(spread))
    if not typical > 0:
        return y
    return y * (typical / np.maximum(spread, typical / _MAX_LEVEL_GAIN))


def _place_peaks(
    ref: np.ndarray, coarse: np.ndarray, block: int, tolerance: float, reach: int
) -> np.ndarray:
    """Each coarse peak (in blocks) placed on the full-rate reference.

    The maximum within two blocks of it, or on a flat top the
    :func:`_plateau_point`: all maxima at once, the rare plateaus one by one.
    """
    n = len(ref)
    lo = np.maximum((coarse - 2) * block, 0)
    hi = np.minimum((coarse + 3) * block, n)
    index = lo[:, None] + np.arange(5 * block)
    window = np.where(index < hi[:, None], ref[np.minimum(index, n - 1)], -np.inf)
    tops = lo + np.argmax(window, axis=1)
    level = ref[tops] - tolerance
    # a smoothed reference has short flat tops at most peaks: measure those
    # within a few blocks at once, and follow only the long ones one by one
    near = min(reach, 10 * block)
    steps = np.arange(1, near + 1)
    left, right = tops[:, None] - steps, tops[:, None] + steps
    below_left = (left < 0) | (ref[np.maximum(left, 0)] < level[:, None])
    below_right = (right >= n) | (ref[np.minimum(right, n - 1)] < level[:, None])
    ends_left, ends_right = below_left.any(axis=1), below_right.any(axis=1)
    first = tops - np.argmax(below_left, axis=1)
    last = tops + np.argmax(below_right, axis=1)
    peaks = first + (_PLATEAU_POINT * (last - first)).astype(np.int64)
    for k in np.flatnonzero(~(ends_left & ends_right)):
        peaks[k] = _plateau_point(ref, lo[k], hi[k], tolerance, reach)
    return peaks.astype(np.int64)


#: Weight of the rhythm against peak height in :func:`_one_per_beat`. At 1.5 a
#: peak anywhere from 0.3 to 0.7 of the way through a beat costs more than the
#: tallest peak earns (``1.5 * (log f ** 2 + log(1 - f) ** 2) >= 1.44``), while
#: an early beat with its compensatory pause (0.6-0.7 then 1.3-1.4 periods)
#: costs less than leaving it out (a gap of 2 periods).
_RHYTHM_WEIGHT = 1.5
#: Largest cost of one interval (a gap of 3 periods): a dropout does not break
#: the chain of beats.
_MAX_COST = np.log(3.0) ** 2


def _one_per_beat(times: np.ndarray, heights: np.ndarray) -> np.ndarray:
    """The chain of candidate peaks that best trades height against rhythm.

    Dynamic programming as in Ellis's beat tracker (2007): a chain scores the
    heights of its peaks (prominence over the 90th percentile of the
    candidates', at most 1) minus ``_RHYTHM_WEIGHT * log(interval / period)**2``
    per interval, so a second wave within a beat (two intervals of about half
    a period) is left out and an early beat is kept.

    Parameters
    ----------
    times : ndarray of shape (n,)
        Candidate peak times in periods, increasing.
    heights : ndarray of shape (n,)
        Their prominences.

    Returns
    -------
    ndarray of int64
        Indices of the chosen peaks, increasing.
    """
    reward = np.minimum(heights / np.percentile(heights, 90.0), 1.0).tolist()
    n = len(times)
    # predecessors 0.3 to 3 periods back are weighed one by one; any further
    # back cost the capped amount, so only the best of them matters
    first = np.searchsorted(times, times - 3.0, side="left").tolist()
    stop = np.searchsorted(times, times - 0.3, side="right").tolist()
    # plain floats: a handful of predecessors per peak is too few for numpy
    t = times.tolist()
    score, back = [0.0] * n, [-1] * n
    top, top_at = [0.0] * n, [0] * n  # running best score and where
    far_cost = _RHYTHM_WEIGHT * _MAX_COST
    for i in range(n):
        best, link = 0.0, -1
        if first[i] > 0 and top[first[i] - 1] - far_cost > best:
            best, link = top[first[i] - 1] - far_cost, top_at[first[i] - 1]
        near_best, near_at = -math.inf, -1
        for j in range(first[i], stop[i]):
            linked = score[j] - _RHYTHM_WEIGHT * math.log(t[i] - t[j]) ** 2
            if linked > near_best:
                near_best, near_at = linked, j
        if near_best > best:
            best, link = near_best, near_at
        score[i], back[i] = reward[i] + best, link
        if i == 0 or score[i] > top[i - 1]:
            top[i], top_at[i] = score[i], i
        else:
            top[i], top_at[i] = top[i - 1], top_at[i - 1]
    chain = [int(np.argmax(score))]
    while back[chain[-1]] >= 0:
        chain.append(back[chain[-1]])
    return np.array(chain[::-1], dtype=np.int64)


def _alternates(heights: np.ndarray) -> bool:
    """Whether every other peak is consistently lower (by over 20 %)."""
    m = len(heights) // 2
    if m < 3:
        return False
    even, odd = heights[0 : 2 * m : 2], heights[1 : 2 * m : 2]
    taller = float(np.mean(even > odd))
    a, b = np.median(even), np.median(odd)
    return (taller >= 0.8 or taller <= 0.2) and min(a, b) < 0.8 * max(a, b)


def find_beats(
    reference: np.ndarray,
    sample_rate: float,
    min_bpm: float = 35.0,
    max_bpm: float = 180.0,
    prominence: float = 0.3,
    cycle_range: tuple[float, float] = (0.7, 1.5),
    signal: np.ndarray | None = None,
) -> tuple[np.ndarray, int, int]:
    """Find one peak per heartbeat and the cycles between them.

    1. Estimate the beat period ``T`` (:func:`estimate_period`). When
       ``signal`` is given, its loudness (log power, smoothed over 0.1 s) is
       searched too, and its period is taken when it is shorter and the more
       periodic of the two (a waveform that shows every other beat clearly
       peaks at twice the period), or about half the waveform's where the
       waveform still resembles itself that much later (early beats with
       their compensatory pauses), unless the waveform's peaks then fall at
       every other beat of the loudness (two sounds a beat); when the
       reference shows no period at all, or the loudness's period is over
       10 % longer and its highest autocorrelation peak at least twice the
       waveform's (a waveform with more bumps than beats, as a heart sound's
       smoothed waveform has), steps 1 and 2 run on the loudness and its
       peaks are the beats.
    2. On the normalised, detrended reference at about 200 Hz, its quiet
       stretches brought up to its typical level (by at most 5 times), take as
       candidates the peaks at least ``T / 4`` apart that rise ``prominence``
       times its 1st-99th percentile range above their surroundings, and keep
       the chain of them that best trades peak height against a steady rhythm
       (dynamic programming, as in Ellis's beat tracker): a second wave within
       a beat is left out, an early beat (at 0.6 T) is kept. When every
       other peak of the chain is consistently lower, the autocorrelation
       found half the period (a second wave within each beat): the period is
       doubled (where twice it is still a heart rate searched) and the chain
       chosen again.
    3. Place each peak on the full-rate reference, a third of the way along
       its flat top when it has one (clipping, quantisation).
    4. Keep each pair of consecutive peaks as a cycle when its length lies in
       ``cycle_range`` times the local period (the median of the 9 nearest
       intervals between peaks), so a missed beat, an early beat or an
       artefact drops one or two cycles rather than the recording.

    Parameters
    ----------
    reference : ndarray of shape (n_samples,)
        The smoothed signal (:class:`~vascular_sklearn.MeanSmoother`'s
        ``reference``).
    sample_rate : float
        Rate of ``reference`` in Hz.
    min_bpm, max_bpm : float, default=35.0, 180.0
        Range of heart rates searched, in beats per minute.
    prominence : float, default=0.3
        Minimum prominence of a beat's peak, as a share of the 1st to 99th
        percentile range of the signal searched in step 2 (the levelled
        reference, or the loudness where it stands in).
    cycle_range : (float, float), default=(0.7, 1.5)
        Shortest and longest cycle kept, relative to the local period.
    signal : ndarray of shape (n_samples,) or None, default=None
        The filtered signal the reference was smoothed from: its loudness
        corrects a doubled period, and stands in when the smoothed waveform
        shows no beat or beats far less regularly at a shorter lag (step 1).

    Returns
    -------
    bounds : ndarray of int64, shape (n_cycles, 2)
        ``[start, stop)`` of each cycle in samples, in order.
    n_peaks : int
        Number of peaks found.
    n_short : int
        Cycles dropped as shorter than ``cycle_range[0]`` local periods (the
        others not kept were too long).

    Raises
    ------
    ValueError
        When ``sample_rate``, ``min_bpm`` or ``max_bpm`` is not a finite
        number above 0, or ``min_bpm`` is not below ``max_bpm``.

    Examples
    --------
    >>> import numpy as np
    >>> rate = 1000.0
    >>> t = np.arange(0, 12, 1 / rate)
    >>> pulse = np.exp(-0.5 * ((t % 1.5 - 0.2) / 0.05) ** 2)  # 40 beats a minute
    >>> bounds, n_peaks, n_short = find_beats(1e-3 * pulse, rate)
    >>> bounds[:3].tolist(), n_peaks, n_short
    ([[199, 1699], [1699, 3199], [3199, 4699]], 8, 0)
    """
    _check_search(sample_rate, min_bpm, max_bpm)
    ref = np.asarray(reference)
    empty = np.zeros((0, 2), dtype=np.int64)
    y, block, scale = _analysis_signal(ref, sample_rate, min_bpm)
    rate = sample_rate / block
    period, strength, ac = _periodicity(y, rate, min_bpm, max_bpm)
    on_loudness, waveform_period = False, None
    if signal is not None:
        loud = _loudness(signal, sample_rate, min_bpm)
        loud_period, loud_strength, _ = _periodicity(loud, rate, min_bpm, max_bpm)
        # a waveform far less periodic than the loudness, at a shorter lag,
        # beats with its bumps (a heart's S1 and S2), not with the heart
        on_loudness = period is None or (
            loud_period is not None
            and loud_period > 1.1 * period
            and loud_strength >= 2 * strength
        )
        if on_loudness:
            y, period = loud, loud_period
        elif (
            loud_period is not None
            and loud_period < 0.9 * period
            and (
                loud_strength > strength
                or (
                    abs(period / loud_period - 2) < 0.15
                    and _resembles_itself(ac, rate, loud_period)
                )
            )
        ):
            # a signal periodic in T is periodic in 2 T too, and a waveform
            # that shows every other beat clearly peaks at 2 T; the loudness,
            # beating more clearly at the shorter period, corrects it. At
            # half the waveform's period it corrects it even beating less
            # clearly, where the waveform still resembles itself a loudness
            # period later: early beats with a compensatory pause keep 2 T
            # exact and smear T in both. A waveform in a trough half its
            # period later (a second wave within the beat, which the flow
            # sound follows) keeps its period; the chain below undoes a
            # loudness at two sounds a beat
            period, waveform_period = loud_period, period
    if period is None:
        return empty, 0, 0
    y = _level_out(y, int(_LEVEL_WINDOW * period * rate))
    # padded with the signal's low level so that a beat near either end of
    # the recording is as prominent as the others; the ends themselves
    # (a recording cut in the middle of a beat) are no peaks
    pad = int(period * rate)
    padded = np.pad(y, pad, constant_values=np.percentile(y, 1.0))
    # candidates a quarter period apart: a second wave within the beat is a
    # candidate too, and the chain below decides which peaks are beats
    coarse, found = find_peaks(
        padded,
        distance=max(1, int(0.25 * period * rate)),
        prominence=prominence * _robust_scale(y),
    )
    inside = (coarse > pad) & (coarse < pad + len(y) - 1)
    coarse, heights = coarse[inside] - pad, found["prominences"][inside]
    if len(coarse):
        chain = _one_per_beat(coarse / (period * rate), heights)
        if (
            waveform_period is not None
            and len(chain) > 1
            and np.median(np.diff(coarse[chain])) > 1.5 * period * rate
        ):
            # the waveform peaks at every other beat of the loudness: two
            # sounds a beat (a slow heart's systole and diastole), not a
            # waveform showing every other beat, which would peak between
            period = waveform_period
            chain = _one_per_beat(coarse / (period * rate), heights)
        if _alternates(heights[chain]) and 2 * period <= 60.0 / min_bpm * _MARGIN:
            # tall, short, tall, short: the short ones are a second wave within
            # each beat that made the autocorrelation find half the period
            period *= 2
            chain = _one_per_beat(coarse / (period * rate), heights)
        coarse = coarse[chain]
    if on_loudness:
        # a loudness peak is as precise as its 5 ms block
        peaks = np.asarray(coarse, dtype=np.int64) * block + block // 2
    else:
        peaks = _place_peaks(
            ref,
            np.asarray(coarse, np.int64),
            block,
            1e-3 * scale,
            int(0.25 * period * sample_rate),
        )
    peaks = np.unique(peaks)
    if len(peaks) < 2:
        return empty, len(peaks), 0
    intervals = np.diff(peaks).astype(np.float64)
    size = min(9, len(intervals))
    local = median_filter(intervals, size=size, mode="nearest")
    # with few intervals the median is all there is; the estimate guards it
    local = np.where(len(intervals) < 3, period * sample_rate, local)
    short = intervals < cycle_range[0] * local
    keep = ~short & (intervals <= cycle_range[1] * local)
    bounds = np.column_stack([peaks[:-1][keep], peaks[1:][keep]])
    return bounds.reshape(-1, 2).astype(np.int64), len(peaks), int(short.sum())


def beat_scores(
    bounds: np.ndarray,
    beats: np.ndarray,
    sample_rate: float,
    n_samples: int,
    tolerance: float = 0.06,
) -> dict[str, float]:
    """Score cycles against known beat times.

    The found beats are the cycle boundaries (starts and stops of the kept
    cycles, each counted once): the last beat of a run of cycles is a stop only.

    Parameters
    ----------
    bounds : ndarray of shape (n_cycles, 2)
        Cycles ``[start, stop)`` in samples.
    beats : ndarray of shape (n_beats,)
        True beat times in samples.
    sample_rate : float
        Rate of the recording in Hz.
    n_samples : int
        Length of the recording in samples.
    tolerance : float, default=0.06
        A found beat within this many seconds of a true one matches it.

    Returns
    -------
    dict
        ``recall`` (share of true beats with a found beat within
        ``tolerance``), ``precision`` (share of found beats with a true beat
        within ``tolerance``; 1 when nothing was found) and ``coverage`` (share
        of the recording inside kept cycles).

    Examples
    --------
    >>> import numpy as np
    >>> scores = beat_scores(np.array([[100, 200]]), np.array([101, 199, 300]),
    ...                      sample_rate=1000.0, n_samples=400, tolerance=0.01)
    >>> [round(scores[k], 3) for k in ("recall", "precision", "coverage")]
    [0.667, 1.0, 0.25]
    """
    bounds = np.asarray(bounds, dtype=np.int64).reshape(-1, 2)
    found = np.unique(bounds)
    beats = np.sort(np.asarray(beats, dtype=np.int64))
    tol = tolerance * sample_rate

    def near(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        if len(b) == 0:
            return np.zeros(len(a), dtype=bool)
        i = np.clip(np.searchsorted(b, a), 1, len(b) - 1) if len(b) > 1 else 0
        left = np.abs(a - b[i - 1]) if len(b) > 1 else np.abs(a - b[0])
        right = np.abs(a - b[i]) if len(b) > 1 else left
        return np.minimum(left, right) <= tol

    inside = np.zeros(n_samples, dtype=bool)
    for start, stop in bounds:
        inside[start:stop] = True
    return {
        "recall": float(near(beats, found).mean()) if len(beats) else 1.0,
        "precision": float(near(found, beats).mean()) if len(found) else 1.0,
        "coverage": float(inside.mean()) if n_samples else 0.0,
    }
