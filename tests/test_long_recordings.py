"""Long recordings: the same answers as the whole-signal code, in less memory.

The memory bounds use :mod:`tracemalloc`, which sees every numpy and SciPy
array allocation (not the FFT library's scratch), so they are deterministic
and need no subprocess; each bound lies about halfway between the fixed code's peak and
the peak before the fix, both measured as multiples of the signal's length.
"""

import tracemalloc

import numpy as np
import pytest
from scipy import signal as sps
from scipy.fft import next_fast_len
from scipy.signal import find_peaks

from vascular_sklearn import PeakCycleCutter, cutting, recorder, robustness
from vascular_sklearn._base import to_samples
from vascular_sklearn.containers import Signals
from vascular_sklearn.cutting import find_cycle_bounds
from vascular_sklearn.cycle_quality import clip_counts, clipped_samples, pulse_db
from vascular_sklearn.robustness import NoiseFloorHarmonizer, noise_floor_psd

RATE = 22050.0


def _peak_bytes(func, *args, **kwargs) -> int:
    """Peak of the memory ``func`` allocates, over what was held before it."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        func(*args, **kwargs)
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def _pulses(n: int, seed: int = 0) -> np.ndarray:
    """A beat every 0.8 s, its bruit swelling with it over a faint floor."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / RATE
    beat = np.sin(np.pi * t / 0.8) ** 16
    bruit = (0.002 + 0.05 * beat) * rng.standard_normal(n)
    return (0.3 * beat + bruit).astype(np.float32)


@pytest.mark.parametrize("kind", ["noise", "plateaus", "steps", "beats"])
def test_peaks_are_find_peaks_block_by_block(kind, monkeypatch):
    # small blocks, so that many block edges fall on plateaus and slopes
    monkeypatch.setattr(cutting, "_PEAK_BLOCK", 64)
    rng = np.random.default_rng(1)
    for _ in range(40):
        n = int(rng.integers(1, 3000))
        if kind == "noise":
            x = rng.standard_normal(n)
        elif kind == "plateaus":
            x = np.round(2 * rng.standard_normal(n))
        elif kind == "steps":
            x = np.repeat(rng.integers(0, 4, n // 7 + 1), 7)[:n]
        else:
            x = np.abs(np.sin(np.arange(n) / 30)) + (rng.random(n) < 0.01)
        x = x.astype(np.float32)
        for height in (x.mean() + 0.9 * x.std(), x.min(), x.max(), np.float32(-1e9)):
            expected, _ = find_peaks(x, height=height)
            found = cutting._peaks_above(x, height)
            assert found.dtype == np.int64
            np.testing.assert_array_equal(found, expected)


def test_find_cycle_bounds_copies_no_long_recording():
    ref = _pulses(2**21)
    height = ref.mean() + 0.9 * ref.std()
    peaks, _ = find_peaks(ref, height=height)
    bounds, n_peaks = find_cycle_bounds(ref, 11000, 25000)
    # the rule as before: every peak find_peaks sees on the whole signal, and
    # each pair of consecutive peaks under 25000 samples apart a cycle
    kept = cutting._select_by_distance(peaks, ref[peaks], 11000)
    assert n_peaks == len(kept)
    pairs = np.stack([kept[:-1], kept[1:]], axis=1)
    np.testing.assert_array_equal(bounds, pairs[pairs[:, 1] - pairs[:, 0] < 25000])
    assert len(bounds) > 100
    # find_peaks on the whole signal: a float64 copy and three half-length
    # int64 arrays, 20 bytes a sample; now the std's float32 work array
    assert _peak_bytes(find_cycle_bounds, ref, 11000, 25000) < 8 * len(ref)


@pytest.mark.parametrize("n", [1, 219, 220, 221, 44100 * 3 + 17])
def test_clip_counts_are_reduceat_of_the_clipped_mask(n):
    rng = np.random.default_rng(n)
    x = np.clip(1.5 * rng.standard_normal(n), -1.2, 1.2).astype(np.float32)
    for full_scale in (None, 1.0):
        mask = clipped_samples(x)
        if full_scale is not None:
            mask |= np.abs(x) > full_scale
        block = round(0.01 * RATE)
        expected = np.add.reduceat(mask, np.arange(0, n, block)).astype(np.int32)
        counts = clip_counts(x, RATE, full_scale)
        assert counts.dtype == np.int32
        np.testing.assert_array_equal(counts, expected)


def test_clip_counts_and_pulse_copy_no_long_recording():
    x = _pulses(2**22)
    # before: |x| (4 bytes a sample) and the mask cast to int64 (8)
    assert _peak_bytes(clip_counts, x, RATE, 1.0) < 6 * len(x)
    # before: the filtered copy and its |y| (8 bytes a sample)
    assert _peak_bytes(pulse_db, x, RATE) < 6 * len(x)


def _floor_whole(x, rate, window=0.05, percentile=10.0):
    """The noise floor as computed before: one spectrogram of the whole."""
    nperseg = min(to_samples(window, rate), len(x))
    freqs, _, power = sps.spectrogram(
        np.asarray(x, np.float64), rate, nperseg=nperseg, scaling="density"
    )
    return freqs, np.percentile(power, percentile, axis=1)


def _harmonized_whole(x, seed, rate, snr_db, band, step_snr_db, window, percentile):
    """One recording harmonised as before, in whole float64 arrays."""
    x = np.asarray(x, np.float64)
    rms = np.sqrt(np.mean(np.square(x - x.mean())))
    if step_snr_db is not None and rms > 0:
        q = rms * np.sqrt(12) * 10 ** (-step_snr_db / 20) / recorder.LEVEL
        x = recorder.quantise(x, q)
    target = rms**2 * 10 ** (-snr_db / 10) / band
    freqs, floor = _floor_whole(x, rate, window, percentile)
    m = next_fast_len(len(x))
    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(m))
    grid = np.fft.rfftfreq(m, 1 / rate)
    deficit = np.maximum(target - np.interp(grid, freqs, floor), 0.0)
    spectrum *= np.sqrt(deficit * rate / 2)
    return (x + np.fft.irfft(spectrum, m)[: len(x)]).astype(np.float32)


@pytest.mark.parametrize("frames", [16, 1024])
def test_noise_floor_is_the_whole_spectrogram_block_by_block(frames, monkeypatch):
    monkeypatch.setattr(robustness, "_PSD_FRAMES", frames)
    rng = np.random.default_rng(2)
    for n in (4, 5, 1101, 1102, 1103, 22050 * 3 + 17, 22050 * 20 + 5):
        x = (0.1 * rng.standard_normal(n)).astype(np.float32)
        for rate in (22050.0, 8000.0, 2000.0):
            expected = _floor_whole(x, rate)
            found = noise_floor_psd(x, rate)
            np.testing.assert_array_equal(found[0], expected[0])
            np.testing.assert_array_equal(found[1], expected[1])


def test_shaped_noise_is_the_same_applied_block_by_block(monkeypatch):
    def amplitude(f):
        return np.sqrt(np.maximum(1e-3 - np.interp(f, [0, 500, 9000], [1, 0, 2]), 0))

    whole = recorder._shaped_noise(np.random.default_rng(5), 50_001, RATE, amplitude)
    monkeypatch.setattr(recorder, "_AMPLITUDE_BLOCK", 1000)
    rng = np.random.default_rng(5)
    blocks = recorder._shaped_noise(rng, 50_001, RATE, amplitude, elementwise=True)
    np.testing.assert_array_equal(blocks, whole)


@pytest.mark.parametrize("step_snr_db", [None, 45.0])
def test_harmonizer_gives_the_whole_float64_recipe(step_snr_db):
    x = [_pulses(int(RATE * s), seed=s) for s in (7, 31)]
    bags = PeakCycleCutter().fit_transform(Signals.from_arrays(x, RATE))
    step = NoiseFloorHarmonizer(step_snr_db=step_snr_db, random_state=3).fit(bags)
    params = (RATE, 40.0, 1000.0, step_snr_db, 0.05, 10.0)
    for signal, done in zip(x, step.transform(bags).signals.data, strict=True):
        seed = robustness._dither_seed(len(signal), 3)
        np.testing.assert_array_equal(done, _harmonized_whole(signal, seed, *params))


def test_harmonizer_works_in_one_float64_copy():
    x = _pulses(int(RATE * 240))
    bags = PeakCycleCutter().fit_transform(Signals.from_arrays([x], RATE))
    step = NoiseFloorHarmonizer(random_state=0).fit(bags)
    seed = robustness._dither_seed(len(x), 0)
    params = (RATE, 40.0, 1000.0, None, 0.05, 10.0)
    whole = _peak_bytes(_harmonized_whole, x, seed, *params)
    # against the whole-array recipe in the same numpy (whose FFT keeps 16
    # bytes a sample more in 1.26 than in 2.x): at least one and a half
    # float64 copies fewer (the copies to centre and square it, the whole
    # spectrogram's work arrays, x + noise). Before the fix the step peaked 8
    # bytes a sample under the recipe, now 24 (numpy 2.4) or 16 (1.26).
    assert _peak_bytes(step.transform, bags) < whole - 12 * len(x)
