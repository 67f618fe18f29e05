"""Property-based tests of the signal chain (hypothesis)."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.pipeline import make_pipeline

from vascular_sklearn import (
    LowpassFilter,
    MeanSmoother,
    PeakCycleCutter,
    Signals,
    STFTSpectrogram,
)

from .conftest import pulse_train

# pulse_train's bruit is stationary by design (its beats are pressure pulses
# below 25 Hz), so the cutter's NoPulseWarning is expected; these tests are
# about the cuts, and tests/test_beats.py tests the warning
pytestmark = pytest.mark.filterwarnings("ignore::vascular_sklearn.NoPulseWarning")

CHAIN = make_pipeline(LowpassFilter(), MeanSmoother(), PeakCycleCutter())


@st.composite
def recordings(draw):
    rate = draw(st.sampled_from([8000.0, 16000.0, 22050.0, 44100.0]))
    seconds = draw(st.floats(0.05, 6.0))
    bpm = draw(st.floats(45, 115))
    n = max(int(seconds * rate), 1)
    period = int(rate * 60 / bpm)
    start = draw(st.integers(0, period))
    beats = np.arange(start, n, period) * 22050 // int(rate)
    x = pulse_train(beats, n * 22050 // int(rate), seed=draw(st.integers(0, 99)))
    x = np.interp(np.arange(n) * 22050 / rate, np.arange(len(x)), x) if len(x) else x
    gain = draw(st.floats(1e-3, 2.0))
    return Signals.from_arrays([np.clip(gain * x, -1, 1)], rate), bpm, seconds


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,  # the same examples on every CI run
    suppress_health_check=[HealthCheck.too_slow],
)
@given(recordings())
def test_bounds_are_sorted_disjoint_and_inside(drawn):
    signals, bpm, seconds = drawn
    bags = CHAIN.fit_transform(signals)
    bounds = bags.bounds[0]
    n = len(signals.data[0])
    assert bounds.dtype == np.int64 and bounds.ndim == 2 and bounds.shape[1] == 2
    assert np.all(bounds[:, 0] < bounds[:, 1])
    assert np.all(bounds[:, 0] >= 0) and np.all(bounds[:, 1] <= n)
    assert np.all(bounds[1:, 0] >= bounds[:-1, 1])
    # the seed rule's spacings lose every cycle of a heart under about 53 bpm;
    # above it, a few seconds of beats are cut, so the checks have cycles
    if bpm >= 60 and seconds >= 3:
        assert len(bounds) >= 1
    if len(bounds):
        spec = STFTSpectrogram().fit_transform(bags)
        assert spec.images.shape == (len(bounds), 1, 40, 100)
        assert np.isfinite(spec.images).all()


@settings(max_examples=25, deadline=None, derandomize=True)
@given(st.floats(1e-3, 1e2), st.integers(0, 1000))
def test_gain_leaves_the_cycles_unchanged(gain, seed):
    beats = np.arange(3000, 6 * 22050, int(0.8 * 22050))
    x = pulse_train(beats, 6 * 22050, seed=seed)
    x = x * (0.009 / np.abs(x).max())  # a gain of 100 stays within full scale
    base = CHAIN.fit_transform([x]).bounds[0]
    scaled = CHAIN.fit_transform([x * np.float32(gain)]).bounds[0]
    assert len(base) >= 5  # 7 beats: cycles to compare, not two empty cuts
    np.testing.assert_array_equal(scaled, base)
