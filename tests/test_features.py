"""BeatEnvelopeFeatures: one row per recording, gain-free, floor-robust, separating."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pytest
import sklearn
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from vascular_sklearn import LowpassFilter, MeanSmoother, PeakCycleCutter
from vascular_sklearn.containers import CycleBags, Signals, object_array
from vascular_sklearn.datasets import make_recordings
from vascular_sklearn.exceptions import RecordingError
from vascular_sklearn.features import BeatEnvelopeFeatures
from vascular_sklearn.spectrogram import stft_magnitude

BANDS = ((25.0, 150.0), (150.0, 400.0), (400.0, 1000.0))


@pytest.fixture(scope="module")
def data():
    """4 patients (both kinds, normal only, stenosis only), 8 recordings of 6 s."""
    return make_recordings(
        n_patients=4, recordings_per_patient=2, duration=6.0, random_state=0
    )


@pytest.fixture(scope="module")
def bags(data):
    x = LowpassFilter().fit_transform(data.recordings)
    x = MeanSmoother(method="median").fit_transform(x)
    return PeakCycleCutter().fit_transform(x)


@pytest.fixture(scope="module")
def features(bags):
    est = BeatEnvelopeFeatures().fit(bags)
    return est, est.transform(bags)


def _with_data(bags: CycleBags, fn) -> CycleBags:
    """The same cuts over signals changed by ``fn``."""
    data = object_array([fn(x) for x in bags.signals.data])
    return CycleBags(replace(bags.signals, data=data), bags.bounds, bags.n_peaks)


def test_one_row_per_recording_in_input_order(bags, features):
    est, out = features
    assert out.shape == (len(bags), len(BANDS) * (8 + 2)) == (8, 30)
    assert out.dtype == np.float64 and np.isfinite(out).all()
    names = est.get_feature_names_out()
    assert len(names) == out.shape[1] == est.n_features_out_
    assert names[0] == "envelope_25-150Hz_bin0"
    assert names[8 * 3 - 1] == "envelope_400-1000Hz_bin7"
    assert list(names[-6:]) == [
        "sys_dia_25-150Hz",
        "sys_dia_150-400Hz",
        "sys_dia_400-1000Hz",
        "share_25-150Hz",
        "share_150-400Hz",
        "share_400-1000Hz",
    ]
    order = np.array([5, 2, 7, 0, 1, 6, 3, 4])
    np.testing.assert_allclose(est.transform(bags[order]), out[order], rtol=1e-12)


def _band_power(cycle: np.ndarray, rate: float) -> tuple[np.ndarray, np.ndarray]:
    """Power per band and frame (bands, frames), and each frame's place in the
    cycle (0 to 1), with the default 0.02 s window and 0.01 s hop at 22050 Hz."""
    n_fft, hop = 441, 220
    power = stft_magnitude(cycle, n_fft, hop) ** 2
    freqs = np.fft.rfftfreq(n_fft, 1 / rate)
    bands = [power[(freqs >= lo) & (freqs < hi)].sum(0) for lo, hi in BANDS]
    return np.stack(bands), np.arange(power.shape[1]) * hop / len(cycle)


def _reference(bags: CycleBags, i: int, aggregate) -> np.ndarray:
    """The features of recording ``i``, one cycle and one frame at a time."""
    energies, positions = [], []
    for cycle in bags.cycles(i):
        cycle = np.asarray(cycle, np.float64)
        e, pos = _band_power(cycle - cycle.mean(), bags.sample_rate)
        energies.append(e)
        positions.append(pos)
    floor = np.percentile(np.concatenate(energies, axis=1), 10, axis=1)[:, None]
    rows = []
    for e, pos in zip(energies, positions, strict=True):
        a = np.maximum(e - floor, 0) + 1e-6 * e.sum() / e.shape[1]
        time_bin = np.minimum((pos * 8).astype(int), 7)
        binned = np.stack([a[:, time_bin == j].sum(1) for j in range(8)], axis=1)
        envelope = np.log(binned / binned.sum(1, keepdims=True))
        sys_dia = np.log(a[:, pos < 0.35].mean(1) / a[:, pos >= 0.35].mean(1))
        total = a.sum(1)
        rows.append(np.r_[envelope.ravel(), sys_dia, np.log(total / total.sum())])
    return aggregate(rows, axis=0)


@pytest.mark.parametrize("aggregate", ["median", "mean"])
def test_matches_a_cycle_by_cycle_computation(aggregate):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(16000) * (1 + np.sin(np.arange(16000) / 900.0))
    # 4400 samples is exactly 20 hops: the frame count must still be right
    bounds = np.array([[0, 4400], [4400, 9000], [9000, 15001]])
    bags = CycleBags(
        Signals.from_arrays([x.astype(np.float32)], 22050.0),
        object_array([bounds]),
        np.array([4]),
    )
    out = BeatEnvelopeFeatures(aggregate=aggregate).fit_transform(bags)
    agg = np.median if aggregate == "median" else np.mean
    np.testing.assert_allclose(out[0], _reference(bags, 0, agg), rtol=1e-9)


def test_a_gain_change_cancels(bags, features):
    est, out = features
    quiet = _with_data(bags, lambda x: x * np.float32(0.1))
    np.testing.assert_allclose(est.transform(quiet), out, rtol=1e-3, atol=1e-9)


def test_a_dc_offset_changes_nothing(bags, features):
    """An offset of a twentieth of full scale: the 20 ms window's lowest bin
    (50 Hz, in the 25-150 Hz band) would count its leakage as sound."""
    est, out = features
    offset = _with_data(bags, lambda x: x + np.float32(0.05))
    np.testing.assert_allclose(est.transform(offset), out, rtol=1e-3, atol=1e-3)


def _naive(bags: CycleBags) -> np.ndarray:
    """sys/dia and band-share features as above, but with no floor subtracted."""
    rows = []
    for i in range(len(bags)):
        per_cycle = []
        for cycle in bags.cycles(i):
            e, pos = _band_power(cycle, bags.sample_rate)
            systolic = pos < 0.35
            sys_dia = np.log(e[:, systolic].mean(1) / e[:, ~systolic].mean(1))
            per_cycle.append(np.r_[sys_dia, np.log(e.sum(1) / e.sum())])
        rows.append(np.median(per_cycle, axis=0))
    return np.array(rows)


def test_a_stationary_noise_floor_moves_the_features_less(data, bags, features):
    # Hiss 30 dB below each recording's RMS. Floor subtraction can only protect
    # bands that carry sound: in a band of pure noise (400-1000 Hz in a normal
    # access) what lies above any percentile floor is the noise's own
    # fluctuation, which grows with it, so those columns are left out.
    est, out = features
    rng = np.random.default_rng(1)

    def hiss(x):
        rms = np.sqrt(np.mean(np.square(x, dtype=np.float64)))
        noise = rng.standard_normal(len(x)) * rms * 10 ** (-30 / 20)
        return x + noise.astype(np.float32)

    noisy = _with_data(bags, hiss)
    ours = np.abs(est.transform(noisy)[:, -6:] - out[:, -6:])
    naive = np.abs(_naive(noisy) - _naive(bags))
    carries_sound = np.ones_like(ours, dtype=bool)
    carries_sound[data.target == 0, 2::3] = False  # sys_dia and share at 400-1000
    ratio = ours[carries_sound].mean() / naive[carries_sound].mean()
    assert ratio < 0.75, f"floor subtraction only cut the change to {ratio:.0%}"


def test_the_stenotic_jet_raises_the_high_band_share(data, features):
    est, out = features
    share = out[:, list(est.get_feature_names_out()).index("share_400-1000Hz")]
    stenosis, normal = share[data.target == 1], share[data.target == 0]
    # a clear gap, not just a difference of means: log shares about 4 apart
    assert stenosis.min() > normal.max() + 2, (stenosis, normal)


def test_errors_name_the_problem(bags):
    est = BeatEnvelopeFeatures()
    with pytest.raises(NotFittedError):
        est.transform(bags)
    with pytest.raises(NotFittedError):
        est.get_feature_names_out()
    with pytest.raises(TypeError, match="CycleBags"):
        est.fit([np.zeros(22050, np.float32)])
    est.fit(bags)
    with pytest.raises(TypeError, match="list"):
        est.transform(list(bags.signals.data))

    bounds = bags.bounds.copy()
    bounds[3] = np.empty((0, 2), dtype=np.int64)
    no_cycle = CycleBags(bags.signals, bounds, bags.n_peaks)
    with pytest.raises(RecordingError, match=re.escape(f"{bags.name(3)}: no heart")):
        est.transform(no_cycle)
    marked = est.set_params(on_empty="nan").transform(no_cycle)
    assert np.isnan(marked[3]).all()
    np.testing.assert_array_equal(
        np.delete(marked, 3, 0), np.delete(est.transform(bags), 3, 0)
    )

    above = BeatEnvelopeFeatures(bands=((25, 150), (400, 12000)))
    with pytest.raises(ValueError, match=r"\(400, 12000\) Hz.*22050 Hz"):
        above.fit(bags)
    with pytest.raises(NotFittedError):  # it looked fitted: an AttributeError
        above.transform(bags)
    with pytest.raises(ValueError, match=r"0 <= low < high"):
        BeatEnvelopeFeatures(bands=((150, 25),)).fit(bags)
    with pytest.raises(ValueError, match="aggregate"):
        BeatEnvelopeFeatures(aggregate="max").fit(bags)


def test_silence_gives_finite_features():
    silent = np.zeros(30000, np.float32)
    bags = CycleBags(
        Signals.from_arrays([silent], 22050.0),
        object_array([np.array([[0, 12000], [12000, 25000]])]),
        np.array([3]),
    )
    out = BeatEnvelopeFeatures().fit_transform(bags)  # warnings are errors here
    # nothing above the floor anywhere: flat envelopes, equal parts and shares
    np.testing.assert_allclose(out[0, 24:27], 0.0, atol=1e-12)
    np.testing.assert_allclose(out[0, 27:], np.log(1 / 3))


def test_in_a_pipeline_across_patients(data):
    pipe = make_pipeline(
        LowpassFilter(),
        MeanSmoother(method="median"),
        PeakCycleCutter(),
        BeatEnvelopeFeatures(),
        LogisticRegression(max_iter=1000),
    )
    fresh = clone(pipe)
    assert fresh.get_params()["beatenvelopefeatures__systole"] == 0.35
    assert not hasattr(fresh[-2], "n_features_out_")

    train = np.flatnonzero(data.groups != "P03")
    test = np.flatnonzero(data.groups == "P03")  # one stenotic, one normal
    fresh.fit(data.recordings[train], data.target[train])
    proba = fresh.predict_proba(data.recordings[test])
    assert proba.shape == (2, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    stenotic = proba[:, 1][data.target[test] == 1]
    normal = proba[:, 1][data.target[test] == 0]
    assert stenotic.min() > normal.max()
    # the pipeline names the table's columns through the recording steps, and
    # its output setting passes them by (it raised "set_output is not available")
    names = fresh[:-1].get_feature_names_out()
    np.testing.assert_array_equal(names, fresh[-2].get_feature_names_out())
    assert fresh.set_output(transform="default") is fresh
    with sklearn.config_context(transform_output="default"):
        assert isinstance(fresh[0].transform(data.recordings[test]), Signals)


def _bags(x: np.ndarray, name: str = "a.wav") -> CycleBags:
    """Three cycles of 4000 samples at 22050 Hz over ``x``."""
    bounds = np.array([[0, 4000], [4000, 8000], [8000, 12000]])
    return CycleBags(
        Signals.from_arrays([x.astype(np.float32)], 22050.0, names=[name]),
        object_array([bounds]),
        np.array([4]),
    )


def test_each_run_an_augmentation_appended_has_its_own_floor():
    """A run heard through another device (here at 1/100 of the gain) gives
    the features of the recording alone: one floor over both runs made the
    quiet run's cycles, and so the recording's row, depend on the loud one."""
    t = np.arange(12000)
    beat = 0.02 + np.sin(np.pi * (t % 4000) / 4000) ** 8
    x = np.random.default_rng(1).standard_normal(12000) * beat
    one = _bags(x)
    est = BeatEnvelopeFeatures().fit(one)
    two = replace(
        one,
        signals=Signals.from_arrays([np.concatenate([x, 0.01 * x])], 22050.0),
        bounds=object_array([np.concatenate([one.bounds[0], one.bounds[0] + 12000])]),
        runs=object_array([np.array([0, 12000])]),
    )
    np.testing.assert_allclose(est.transform(two), est.transform(one), atol=1e-5)


def _noise() -> np.ndarray:
    return np.random.default_rng(0).standard_normal(12000) * 0.01


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("on_empty", ["error", "nan"])
def test_a_bad_sample_in_a_cycle_is_named(bad, on_empty):
    est = BeatEnvelopeFeatures(on_empty=on_empty).fit(_bags(_noise()))
    x = _noise()
    x[5000] = bad  # cycle 1; a NaN made the whole row NaN, an inf warned
    message = re.escape("bad.wav, cycle 1 (samples 4000 to 8000): NaN or infinite")
    with pytest.raises(RecordingError, match=message):
        est.transform(_bags(x, "bad.wav"))


def test_changing_the_columns_after_fit_asks_for_a_refit():
    bags = _bags(_noise())
    est = BeatEnvelopeFeatures().fit(bags)
    assert est.transform(bags).shape == (1, 30)
    est.set_params(n_bins=4)  # numpy's "could not be broadcast" before
    with pytest.raises(ValueError, match=r"fitted for 30 columns.*now give 18"):
        est.transform(bags)
    with pytest.raises(ValueError, match="fit it again"):
        est.get_feature_names_out()  # gave 18 names for n_features_out_ = 30
    assert est.fit(bags).transform(bags).shape == (1, 18)
    assert len(est.get_feature_names_out()) == est.n_features_out_ == 18
