"""The four signal steps on signals whose answer is known."""

import pickle
from dataclasses import fields

import numpy as np
import pytest
import torch
from scipy.signal import medfilt
from sklearn.base import clone
from sklearn.pipeline import make_pipeline

from vascular_sklearn import (
    CycleBags,
    LowpassFilter,
    MeanSmoother,
    PeakCycleCutter,
    RecordingError,
    Signals,
    Spectrograms,
    STFTSpectrogram,
)
from vascular_sklearn.containers import object_array
from vascular_sklearn.cutting import find_cycle_bounds
from vascular_sklearn.cycle_quality import (
    FLAT_TOP_RATIO,
    clip_counts,
    clipped_samples,
    counts_at_rate,
    cycle_quality,
    failed_cycles,
)
from vascular_sklearn.lowpass import lowpass_biquad
from vascular_sklearn.recorder import (
    LEVEL,
    Recorder,
    converter_step,
    quantise,
    rounding_snr_db,
)
from vascular_sklearn.robustness import NoiseFloorHarmonizer, RecorderAugmentation
from vascular_sklearn.smoothing import smooth
from vascular_sklearn.spectrogram import cycle_spectrogram, stft_magnitude

from .conftest import RATE, pulse_train

# pulse_train's bruit is stationary by design (its beats are pressure pulses
# below 25 Hz), so the cutter's NoPulseWarning is expected; these tests are
# about the cuts, and tests/test_beats.py tests the warning
pytestmark = pytest.mark.filterwarnings("ignore::vascular_sklearn.NoPulseWarning")


def _tone(freq: float, seconds: float = 1.0, rate: float = RATE) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _direct_form_biquad(x, b, a):
    """The textbook difference equation, one sample at a time, in float64."""
    y = np.zeros(len(x))
    for n in range(len(x)):
        y[n] = b[0] * x[n] - a[1] * y[n - 1] - a[2] * y[n - 2] if n >= 2 else 0.0
        if n >= 1:
            y[n] += b[1] * x[n - 1]
        if n >= 2:
            y[n] += b[2] * x[n - 2]
        elif n == 1:
            y[n] = b[0] * x[1] + b[1] * x[0] - a[1] * y[0]
        else:
            y[n] = b[0] * x[0]
    return y


def test_biquad_matches_difference_equation():
    x = np.random.default_rng(1).uniform(-0.5, 0.5, 3000).astype(np.float32)
    w0 = 2 * np.pi * 1000 / RATE
    alpha = np.sin(w0) / 2 / 0.707
    b = np.array([(1 - np.cos(w0)) / 2, 1 - np.cos(w0), (1 - np.cos(w0)) / 2])
    a = np.array([1 + alpha, -2 * np.cos(w0), 1 - alpha])
    expected = _direct_form_biquad(x, b / a[0], a / a[0])
    got = lowpass_biquad(x, RATE, 1000.0)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=2e-6)


def test_biquad_too_close_to_nyquist_is_refused_not_unstable():
    x = np.random.default_rng(0).normal(0, 0.01, 44100).astype(np.float32)
    # float32 rounds cos(w0) to -1 there: a pole on the unit circle
    with pytest.raises(ValueError, match="too close to the Nyquist"):
        LowpassFilter(cutoff=22049.0, sample_rate=44100).fit_transform([x])
    # refused at fit, where the rate is known, not first at transform
    with pytest.raises(ValueError, match="1 Hz is too close to 0 Hz"):
        LowpassFilter(cutoff=1.0, sample_rate=44100).fit([x])
    # nearer 0 Hz the coefficients round to a filter that outputs silence
    with pytest.raises(ValueError, match="too close to 0 Hz"):
        LowpassFilter(cutoff=0.001, sample_rate=2000).fit([x[:4000]])
    out = LowpassFilter(cutoff=22040.0, sample_rate=44100).fit_transform([x])
    assert np.std(out.data[0]) < 1.01 * np.std(x)


def test_biquad_clamps_like_torchaudio():
    loud = np.full(2000, 5.0, np.float32)
    assert lowpass_biquad(loud, RATE).max() == 1.0


@pytest.mark.parametrize("method", ["biquad", "butterworth"])
def test_lowpass_passes_low_and_stops_high(method):
    X = [_tone(100), _tone(10000)]
    out = LowpassFilter(method=method).fit_transform(X)
    assert isinstance(out, Signals) and out.sample_rate == RATE
    low, high = (np.abs(x[4000:-4000]).max() for x in out.data)
    assert low > 0.45 and high < 0.01


def test_samples_beyond_full_scale_count_as_clipped_where_the_biquad_clamps():
    loud = 4 * _tone(100)  # a float recording peaking at 2, unclipped in itself
    share = {
        method: LowpassFilter(method=method).fit_transform([loud]).clipped[0].sum()
        / len(loud)
        for method in ("biquad", "butterworth")
    }
    # the biquad clamps everything beyond 1: two thirds of a sine peaking at 2;
    # the Butterworth filter clamps nothing (a sine's crests: 3 % of samples)
    assert share["biquad"] == pytest.approx(np.mean(np.abs(loud) > 1), abs=0.03)
    assert share["biquad"] > 0.6 and share["butterworth"] < 0.05


def test_a_coarse_converters_top_step_is_no_clip_unless_it_is_flat():
    """A quiet session's loudest beats round to the converter's top step; they
    were dropped as clipped, though nothing clipped them."""
    t = np.arange(10 * RATE) / RATE
    taller = np.where((t // 1) % 4 == 2, 1.12, 1.0)  # every fourth beat
    beats = taller * np.exp(-0.5 * ((t % 1.0 - 0.3) / 0.05) ** 2)
    bounds = np.array([[k * RATE, (k + 1) * RATE] for k in range(10)])
    quiet = Recorder(gain=0.006, step=32, clip_level=None).apply(beats, RATE)
    assert not failed_cycles(cycle_quality(quiet, bounds, RATE))["clipped"].any()
    assert clip_counts(quiet, RATE).sum() == 0
    # the taller beats clipped on the same converter (33 steps up): flat tops
    railed = Recorder(gain=0.03, step=32, clip_level=0.032).apply(beats, RATE)
    failed = failed_cycles(cycle_quality(railed, bounds, RATE))["clipped"]
    np.testing.assert_array_equal(failed, taller[bounds[:, 0]] > 1)
    # a loud recording keeps the rule of 0.1 % of its peak
    loud = np.clip(2 * beats, 0, 1.5)
    assert clip_counts(loud, RATE).sum() == np.sum(loud >= 0.999 * 1.5)
    # whose crests a steady tone fills without a flat top: 3 % read "clipped"
    # 0.3 of full scale on a 16-bit converter, with a little hiss: a pure
    # tone of a few hundred values would read as a coarser converter
    hiss = 3e-4 * np.random.default_rng(0).standard_normal(int(RATE))
    tone = quantise(0.6 * _tone(50) + hiss, 1)
    assert clipped_samples(tone).sum() == 0
    # and a quiet one, -54 to -30 dBFS, whose crests round to its top step
    for steps in (65, 300, 999):
        assert not clipped_samples(quantise(2 * steps * LEVEL * _tone(200.3), 1)).any()
    clipped_tone = np.clip(1.2 * tone, -0.3, 0.3)
    assert clipped_samples(clipped_tone).mean() > 0.3


def test_clipping_is_counted_as_read_when_the_filter_resamples():
    def clipped(rate):
        t = np.arange(int(2 * rate)) / rate
        return np.clip(2 * np.sin(2 * np.pi * 3 * t), -1, 1).astype(np.float32)

    lowpass = LowpassFilter().fit([clipped(RATE)])
    share = {
        rate: lowpass.transform(Signals.from_arrays([clipped(rate)], rate))
        .clipped[0]
        .sum()
        / (2 * RATE)
        for rate in (RATE, 2 * RATE)
    }
    # resampled first, the ringing over the flat tops hid most of them
    assert share[RATE] > 0.6
    assert share[2 * RATE] == pytest.approx(share[RATE], abs=0.01)

    # placed by time: a minute in, a knock is still where it was (blocks are
    # 441 samples at 44.1 kHz but 220, not 220.5, at 22.05 kHz)
    x = np.full(60 * 2 * RATE, 0.1, np.float32)
    x[30 * 2 * RATE : int(30.05 * 2 * RATE)] = 1.0
    carried = counts_at_rate(clip_counts(x, 2 * RATE), 2 * RATE, RATE, 60 * RATE)
    seconds = np.flatnonzero(carried) * 220 / RATE
    assert seconds.min() == pytest.approx(30.0, abs=0.01)
    assert seconds.max() == pytest.approx(30.04, abs=0.01)
    assert carried.sum() == pytest.approx(0.05 * RATE, rel=0.01)


def test_butterworth_is_zero_phase():
    x = _tone(50, 2.0)
    y = LowpassFilter(method="butterworth").fit_transform([x]).data[0]
    lags = np.arange(-50, 51)
    corr = [np.dot(x[5000:-5000], np.roll(y, k)[5000:-5000]) for k in lags]
    assert lags[int(np.argmax(corr))] == 0


def test_lowpass_resamples_other_rates_to_the_fitted_rate():
    lp = LowpassFilter().fit(Signals.from_arrays([_tone(100)], RATE))
    at_44k = Signals.from_arrays([_tone(100, rate=44100)], 44100)
    out = lp.transform(at_44k)
    assert out.sample_rate == RATE and len(out.data[0]) == RATE
    # the 100 Hz tone must still be a 100 Hz tone at the fitted rate
    spectrum = np.abs(np.fft.rfft(out.data[0][2000:-2000]))
    freqs = np.fft.rfftfreq(len(out.data[0]) - 4000, 1 / RATE)
    assert abs(freqs[spectrum.argmax()] - 100) < 2
    lp.set_params(resample=False)
    with pytest.raises(RecordingError, match="44100 Hz but the filter was fitted"):
        lp.transform(at_44k)
    assert len(lp.transform(at_44k[[]])) == 0  # nothing to resample, nothing to name


def test_lowpass_measures_the_converter_on_the_samples_as_given():
    lp = LowpassFilter().fit(Signals.from_arrays([_tone(100)], RATE))
    coarse = quantise(0.01 * _tone(100, rate=44100), 32)
    hiss = 0.1 * np.random.default_rng(0).standard_normal(44100)
    out = lp.transform(Signals.from_arrays([coarse, hiss], 44100))
    # resampled to the fitted rate, but measured at 44.1 kHz, on the grid
    assert out.rounding_snr_db[0] == rounding_snr_db(coarse, 44100) < 40
    assert out.rounding_snr_db[1] > 80  # float noise has no converter grid
    assert out[[1]].rounding_snr_db.tolist() == [out.rounding_snr_db[1]]
    assert len(lp.transform(Signals.from_arrays([], RATE)).rounding_snr_db) == 0


def test_lowpass_at_or_above_nyquist_only_resamples():
    # 2 kHz heart sounds with the default 1 kHz cutoff: the recorder's own
    # anti-aliasing already holds the band, so the step passes them through
    x = np.random.default_rng(0).normal(size=4000).astype(np.float32)
    lp = LowpassFilter(cutoff=1000).fit(Signals.from_arrays([x], 2000.0))
    np.testing.assert_array_equal(
        lp.transform(Signals.from_arrays([x], 2000.0)).data[0], x
    )
    # recordings at another rate are brought to the fitted rate (and band)
    out = lp.transform(Signals.from_arrays([_tone(1500)], RATE))
    assert out.sample_rate == 2000.0
    assert np.abs(out.data[0][200:-200]).max() < 0.01


@pytest.mark.parametrize("cutoff", [1000.0, 1500.0])
def test_biquad_at_or_above_nyquist_passes_the_signal_as_the_filter_does(cutoff):
    # lowpass_biquad refused what its docstring and LowpassFilter pass through
    x = np.random.default_rng(0).normal(0, 0.5, 4000)  # float64, beyond 1 at times
    got = lowpass_biquad(x, 2000.0, cutoff)
    step = LowpassFilter(cutoff=cutoff, sample_rate=2000.0).fit_transform([x])
    assert got.dtype == np.float32 and np.abs(got).max() > 1.0  # not clamped
    np.testing.assert_array_equal(got, step.data[0])
    x32 = x.astype(np.float32)
    assert not np.shares_memory(lowpass_biquad(x32, 2000.0, cutoff), x32)


def test_smoother_keeps_signal_and_matches_medfilt():
    x = np.random.default_rng(2).normal(size=5000).astype(np.float32)
    sig = Signals.from_arrays([x], RATE)
    out = MeanSmoother().fit_transform(sig)
    assert out.data[0] is sig.data[0]
    np.testing.assert_array_equal(out.reference[0], medfilt(x, 1001))


def test_smoother_window_is_physical():
    x = np.zeros(9000, np.float32)
    x[4000:4010] = 1.0
    at_22k = MeanSmoother(method="mean").fit_transform([x]).reference[0]
    sig_44k = Signals.from_arrays([np.repeat(x, 2)], 2 * RATE)
    at_44k = MeanSmoother(method="mean").fit_transform(sig_44k).reference[0]
    # the same 45 ms window: 1001 samples at 22050 Hz, 2003 at 44100 Hz
    assert np.count_nonzero(at_22k) == 1001 + 9
    assert np.count_nonzero(at_44k) == 2003 + 19


@pytest.mark.parametrize("method", ["median", "mean"])
def test_cutter_finds_known_beats(known_beats, method):
    x, beats = known_beats
    pipe = make_pipeline(
        LowpassFilter(), MeanSmoother(method=method), PeakCycleCutter()
    )
    bags = pipe.fit_transform([x])
    bounds = bags.bounds[0]
    assert bounds.dtype == np.int64 and bounds.shape == (len(beats) - 1, 2)
    # lowpass delay and the flat top of the median allow a few ms of error
    np.testing.assert_allclose(bounds[:, 0], beats[:-1], atol=0.005 * RATE)
    np.testing.assert_allclose(bounds[:, 1], beats[1:], atol=0.005 * RATE)
    cycles = bags.cycles(0)
    assert [len(c) for c in cycles] == list(np.diff(bounds, axis=1)[:, 0])


def test_cutter_skips_long_gaps():
    beats = np.array([5000, 20000, 35000, 80000, 95000])  # a 2 s pause
    x = pulse_train(beats, 110000)
    bags = PeakCycleCutter().fit_transform(MeanSmoother().fit_transform([x]))
    starts = bags.bounds[0][:, 0]
    assert len(starts) == 3 and not np.any((starts > 30000) & (starts < 60000))


@pytest.mark.parametrize(
    "spacings, match",
    [
        ({"min_distance": 11000, "max_gap": 25000}, "in seconds.*11000 / 22050"),
        ({"min_distance": 1.5, "max_gap": 1.2}, "not shorter than max_gap"),
    ],
)
def test_cutter_refuses_spacings_that_cut_nothing(spacings, match):
    x = pulse_train(np.arange(5000, 100000, 15000), 110000)
    with pytest.raises(ValueError, match=match):
        PeakCycleCutter(**spacings).fit([x])
    # the period finder does not use them
    PeakCycleCutter(method="period", **spacings).fit([x])


def test_cutter_ties_go_to_the_later_peak():
    ref = np.zeros(30000, np.float32)
    ref[[10000, 10100, 25000]] = 1.0  # two equal peaks closer than min_distance
    bags = PeakCycleCutter().fit_transform([ref])
    assert bags.bounds[0].tolist() == [[10100, 25000]]


def test_cutter_keeps_scipys_peaks_where_heights_do_not_tie():
    from scipy.signal import find_peaks

    from vascular_sklearn.cutting import _select_by_distance

    ref = np.random.default_rng(0).random(200_000)  # dense peaks, no ties
    peaks, _ = find_peaks(ref)
    for distance in (2, 7, 500):
        want, _ = find_peaks(ref, distance=distance)
        got = _select_by_distance(peaks.astype(np.int64), ref[peaks], distance)
        np.testing.assert_array_equal(got, want)


def test_bags_keep_one_item_per_recording_in_order(known_beats):
    x, _ = known_beats
    X = [x, x[: 4 * RATE], x[RATE:]]
    chain = make_pipeline(LowpassFilter(), MeanSmoother(), PeakCycleCutter())
    bags = chain.fit_transform(X)
    assert len(bags) == 3 and bags.shape == (3,)
    subset = bags[[2, 0]]
    assert isinstance(subset, CycleBags)
    np.testing.assert_array_equal(subset.bounds[0], bags.bounds[2])
    np.testing.assert_array_equal(subset.bounds[1], bags.bounds[0])
    spec = STFTSpectrogram().fit_transform(bags)
    assert isinstance(spec, Spectrograms) and len(spec) == 3
    assert spec.n_cycles.tolist() == bags.n_cycles.tolist()
    again = spec[[2, 0]]
    np.testing.assert_array_equal(again[0], spec[2])
    np.testing.assert_array_equal(again[1], spec[0])


def test_containers_count_negative_indices_from_the_last_recording():
    # Spectrograms keep n + 1 offsets: -1 must still mean the last recording
    bags = [np.full((k + 1, 1, 2, 2), k, np.float32) for k in range(4)]
    spec = Spectrograms.from_bags(bags, names=["r0", "r1", "r2", "r3"])
    assert spec[-1][0, 0, 0, 0] == 3 and len(spec[-1]) == 4
    picked = spec[np.array([-3, 0])]
    assert picked.names.tolist() == ["r1", "r0"]
    assert picked[0][0, 0, 0, 0] == 1 and picked.n_cycles.tolist() == [2, 1]
    assert len(spec[[]]) == 0
    for bad in (4, -5, [0, 4]):
        with pytest.raises(IndexError, match="out of range"):
            spec[bad]
    # a small integer type holds the position, not the position plus the count
    many = Signals.from_arrays([np.full(3, k, np.float32) for k in range(200)], 1000)
    assert many[np.array([5, -1], np.int8)].data[1][0] == 199
    assert many[np.int8(7)][0] == 7


def test_spectrograms_refuse_offsets_or_names_that_do_not_fit():
    images = np.zeros((3, 1, 4, 3), np.float32)
    spec = Spectrograms(images, np.array([0, 1, 3]), names=["a", "b"])
    assert spec[[1]].names.tolist() == ["b"]  # a list of names is indexable
    with pytest.raises(ValueError, match="names: 1 names for 2 recordings"):
        Spectrograms(images, np.array([0, 1, 3]), names=["a"])
    for offsets in ([0, 1, 2], [1, 3], [0, 2, 1, 3]):
        with pytest.raises(
            ValueError, match=r"must be integers rising from 0 .* \(3\)"
        ):
            Spectrograms(images, np.array(offsets))


def test_spectrogram_matches_torch_stft():
    rng = np.random.default_rng(3)
    cycle = np.cumsum(rng.normal(size=13000)).astype(np.float32) * 1e-3
    image = cycle_spectrogram(cycle)
    x = torch.from_numpy(cycle / (cycle.max() - cycle.min()))
    ref = torch.stft(
        x,
        440,
        hop_length=220,
        window=torch.hann_window(440),
        center=True,
        pad_mode="reflect",
        return_complex=True,
    ).abs()[:40]
    ref = torch.nn.functional.interpolate(ref[None, None], size=(40, 100))[0, 0]
    err = np.abs(image - ref.numpy()).max() / ref.numpy().max()
    assert image.shape == (40, 100) and err < 1e-5


def test_stft_refuses_a_signal_it_cannot_reflect():
    """torch.stft refuses a signal of n_fft // 2 samples or fewer; so does its
    numpy twin, rather than reflect it again and again."""
    ok = stft_magnitude(np.arange(221.0), n_fft=440, hop=220)
    x = torch.from_numpy(np.arange(221.0))
    window = torch.hann_window(440, dtype=torch.float64)
    ref = torch.stft(x, 440, 220, window=window, return_complex=True).abs()
    np.testing.assert_allclose(ok, ref.numpy(), atol=1e-9)
    for bad in (np.arange(220.0), np.ones((2, 1000))):
        with pytest.raises(ValueError, match="more than n_fft // 2 = 220"):
            stft_magnitude(bad, n_fft=440, hop=220)
    # a negative hop walked the frames backwards: an image reversed in time
    for n_fft, hop in ((440, -220), (440, 0), (440, 2.5), (0, 220)):
        name, value = ("hop", hop) if n_fft == 440 else ("n_fft", n_fft)
        for stft in (stft_magnitude, cycle_spectrogram):
            with pytest.raises(ValueError, match=f"{name}={value}: give a whole"):
                stft(np.sin(np.arange(2200.0)), n_fft=n_fft, hop=hop)


def test_spectrogram_options(known_beats):
    x, _ = known_beats
    bags = make_pipeline(MeanSmoother(), PeakCycleCutter()).fit_transform([x])
    spec = STFTSpectrogram(max_frequency=500, n_frames=64, log=True).fit_transform(bags)
    # 50.1 Hz bins: 0 to 500 Hz is 10 bins plus the 0 Hz bin
    assert spec.images.shape[1:] == (1, 10, 64)
    assert spec.images.min() < 0  # log magnitude
    scaled = STFTSpectrogram().fit_transform(
        make_pipeline(MeanSmoother(), PeakCycleCutter()).fit_transform([x * 0.01])
    )
    plain = STFTSpectrogram().fit_transform(bags)
    np.testing.assert_allclose(scaled.images, plain.images, rtol=1e-4, atol=1e-6)


def test_spectrogram_names_the_recording_with_a_silent_cycle():
    sig = Signals.from_arrays([np.zeros(30000, np.float32)], RATE, names=["quiet.wav"])
    bags = CycleBags(sig, bounds=np.array([np.array([[100, 12000]])], dtype=object))
    with pytest.raises(RecordingError, match=r"quiet\.wav, cycle 0.*constant"):
        STFTSpectrogram().fit_transform(bags)


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_spectrogram_names_the_cycle_with_a_nan_or_infinite_sample(bad):
    # an infinite sample made a NaN image (a RuntimeWarning alone), a NaN one
    # was called a constant cycle
    x = np.sin(np.arange(8000) / 5).astype(np.float32)
    x[5000] = bad
    bounds = object_array([np.array([[0, 4000], [4000, 8000]])])
    bags = CycleBags(Signals.from_arrays([x], 8000, names=["a.wav"]), bounds)
    match = r"a\.wav, cycle 1 \(samples 4000 to 8000\): NaN or infinite samples"
    with pytest.raises(RecordingError, match=match):
        STFTSpectrogram().fit_transform(bags)
    with pytest.raises(ValueError, match="NaN or infinite"):
        cycle_spectrogram(x)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ([np.array([0.0, np.nan, 1.0])], "recording 0: 1 samples are NaN"),
        ([np.zeros(0)], "recording 0: the recording is empty"),
        ([np.zeros((2, 100))], "expected a 1-D signal"),
        (np.zeros(100), "Reshape your data"),
        ("file.wav", "X must be a sequence of recordings"),
    ],
)
def test_bad_input_is_named(bad, message):
    with pytest.raises(RecordingError, match=message):
        LowpassFilter().fit(bad)


@pytest.mark.parametrize(
    "step", [LowpassFilter(cutoff=800), MeanSmoother(method="mean"), PeakCycleCutter()]
)
def test_steps_clone_and_pickle(step, known_beats):
    x, _ = known_beats
    fitted = clone(step).fit([x])
    restored = pickle.loads(pickle.dumps(fitted))
    assert restored.get_params() == step.get_params()
    a, b = fitted.transform([x]), restored.transform([x])
    key = "bounds" if isinstance(a, CycleBags) else "data"
    np.testing.assert_array_equal(getattr(a, key)[0], getattr(b, key)[0])


def test_n_jobs_gives_identical_results(known_beats):
    x, _ = known_beats
    X = [x, x[::-1].copy(), x[RATE:]]

    def chain(n_jobs):
        return make_pipeline(
            LowpassFilter(n_jobs=n_jobs),
            MeanSmoother(n_jobs=n_jobs),
            PeakCycleCutter(n_jobs=n_jobs),
            NoiseFloorHarmonizer(random_state=0, n_jobs=n_jobs),
            # its devices are drawn in one order before the parallel work
            RecorderAugmentation(random_state=0, n_jobs=n_jobs),
            STFTSpectrogram(n_jobs=n_jobs),
        )

    one, two = chain(1).fit_transform(X), chain(2).fit_transform(X)
    assert (one.n_cycles > chain(1)[:3].fit_transform(X).n_cycles).all()
    np.testing.assert_array_equal(one.images, two.images)
    np.testing.assert_array_equal(one.offsets, two.offsets)


def test_cutter_takes_a_2d_array_of_recordings_and_returns_bags(known_beats):
    x, _ = known_beats
    bags = PeakCycleCutter().fit_transform(np.stack([x, x]))
    assert isinstance(bags, CycleBags) and len(bags) == 2
    alone = PeakCycleCutter().fit_transform([x]).bounds[0]
    assert len(alone)
    for bounds in bags.bounds:  # each row cut as the recording alone
        np.testing.assert_array_equal(bounds, alone)


def test_quality_report_explains_dropped_cycles():
    beats = np.array([5000, 20000, 35000, 80000, 95000])  # a 2 s pause
    x = pulse_train(beats, 110000)
    clipped = np.clip(x, -0.2, 0.2)
    chain = make_pipeline(MeanSmoother(), PeakCycleCutter())
    rows = chain.fit_transform(
        Signals.from_arrays(
            [x, clipped, np.zeros(5000, np.float32)],
            RATE,
            names=["a.wav", "clipped.wav", "silent.wav"],
        )
    ).quality(min_cycles=2)
    assert [r["recording"] for r in rows] == ["a.wav", "clipped.wav", "silent.wav"]
    assert (rows[0]["peaks"], rows[0]["cycles"], rows[0]["dropped_long_gap"]) == (
        5,
        3,
        1,
    )
    assert not rows[0]["flagged"] and rows[2]["flagged"] and rows[2]["cycles"] == 0
    assert rows[1]["clipped_fraction"] > 10 * rows[0]["clipped_fraction"]


def test_a_dc_offset_leaves_a_quiet_recordings_snr_unchanged():
    # energies were summed in float32 and the mean taken out afterwards: under
    # an offset of 0.5 a beat of 1e-4 lost several dB to rounding
    beats = np.arange(4000, 8 * RATE, int(0.75 * RATE))
    x = pulse_train(beats, 8 * RATE)
    x = 1e-4 * (x - x.mean()) / np.abs(x - x.mean()).max()
    bounds = np.column_stack([beats[:-1], beats[1:]])
    plain = cycle_quality(x.astype(np.float32), bounds, RATE)["snr_db"]
    offset = cycle_quality((x + 0.5).astype(np.float32), bounds, RATE)["snr_db"]
    np.testing.assert_allclose(offset, plain, atol=0.1)


def test_floor_db_hides_the_noise_floor():
    rng = np.random.default_rng(0)
    t = np.arange(12000) / RATE
    tone = np.sin(2 * np.pi * 200 * t)
    quiet = tone + 1e-4 * rng.normal(size=t.size)
    noisy = tone + 1e-2 * rng.normal(size=t.size)
    free = [cycle_spectrogram(x, log=True) for x in (quiet, noisy)]
    # without a floor the two noise levels show in the empty bins...
    assert np.median(free[1] - free[0]) > 2.0
    floored = [cycle_spectrogram(x, log=True, floor_db=30) for x in (quiet, noisy)]
    # ...with a 30 dB floor both sit at the floor, 30 dB below each peak
    for image in floored:
        floor = image.max() - 30 * np.log(10) / 20
        assert np.median(image) == pytest.approx(floor, abs=1e-5)
        assert np.mean(np.isclose(image, floor, atol=1e-5)) > 0.8
    linear = cycle_spectrogram(noisy, floor_db=30)
    assert linear.min() == pytest.approx(linear.max() * 10 ** (-30 / 20), rel=1e-5)


@pytest.mark.parametrize(
    "step", [LowpassFilter(), LowpassFilter(method="butterworth"), MeanSmoother()]
)
def test_a_second_fit_changes_nothing_and_leaves_the_step_fitted(step):
    # scikit-learn's check_fit_idempotent and check_fit_check_is_fitted draw
    # data near 100, beyond full scale; the same on recordings
    from sklearn.utils.validation import check_is_fitted

    rng = np.random.default_rng(0)
    X = [0.3 * rng.standard_normal(RATE // 2), 0.2 * rng.standard_normal(RATE)]
    step = clone(step).fit(X)
    check_is_fitted(step)
    first = step.transform(X)
    again = step.fit(X).transform(X)
    for a, b in zip(first.data, again.data, strict=True):
        np.testing.assert_array_equal(a, b)


def test_mean_smoothing_is_zero_padded():
    # mean smoothing pads with zeros: the ends fall, they are not held
    out = smooth(np.ones(5, np.float32), 3, "mean")
    np.testing.assert_allclose(out, [2 / 3, 1, 1, 1, 2 / 3], rtol=1e-6)


def test_smoothing_returns_float32():
    # float32 out whatever the input's type
    assert smooth(np.ones(9), 3).dtype == np.float32
    assert smooth(np.ones(9), 3, "mean").dtype == np.float32


@pytest.mark.parametrize("method", ["median", "mean"])
@pytest.mark.parametrize("size", [0, -1, 2.5, True])
def test_smoothing_refuses_a_window_of_no_samples(size, method):
    # scipy and numpy said "incorrect filter size" or "negative dimensions"
    with pytest.raises(ValueError, match=rf"size={size!r}: give a window of 1"):
        smooth(np.ones(9), size, method)


def test_smoothing_refuses_an_unknown_method():
    # anything but "median" was a running mean, silently
    with pytest.raises(ValueError, match="method='max': use 'mean' or 'median'"):
        smooth(np.ones(9), 3, "max")


def test_peaks_exactly_max_gap_apart_make_no_cycle():
    # documented: peaks "this far apart or farther" make no cycle, so equal too
    ref = np.zeros(100, np.float32)
    ref[[10, 50, 80]] = 1.0
    bounds, n_peaks = find_cycle_bounds(ref, min_distance=5, max_gap=40)
    assert bounds.tolist() == [[50, 80]] and n_peaks == 3


def test_max_gap_is_in_seconds_at_any_rate():
    # max_gap is in seconds at any rate: at 2 kHz a 2-s gap (a missed beat) makes
    # no cycle
    rate = 2000.0
    ref = np.zeros(int(7 * rate), np.float32)
    beats = (np.array([1.0, 1.7, 2.4, 4.4, 5.1]) * rate).astype(int)
    ref[beats] = 1.0
    bags = PeakCycleCutter().fit_transform(Signals.from_arrays([ref], rate))
    assert bags.bounds[0].tolist() == [[2000, 3400], [3400, 4800], [8800, 10200]]


@pytest.mark.parametrize(
    ("spacings", "message"),
    [
        ({"min_distance": 0.5, "max_gap": 0.5}, "is not shorter than max_gap=0.5"),
        ({"max_gap": 100.0}, r"max_gap=100 is in seconds, longer than any heartbeat"),
        ({"min_distance": 1000.0}, r"min_distance=1000 is in seconds"),
    ],
)
def test_seed_cutter_refuses_spacings_that_cut_nothing(spacings, message):
    # equal spacings would silently cut no cycle; a spacing is at most 60 s
    with pytest.raises(ValueError, match=message):
        PeakCycleCutter(**spacings).fit([np.ones(100, np.float32)])
    # the period finder has no such spacings: it is not refused for them
    PeakCycleCutter(method="period", **spacings).fit([np.ones(100, np.float32)])


def test_normalized_spectrogram_reads_half_the_amplitude():
    # divided by the window's sum, not n_fft (2x off): a sine reads half its amplitude
    n = 22050
    f = 10 * RATE / 440  # exactly on bin 10
    x = np.sin(2 * np.pi * f * np.arange(n) / RATE)  # range 2: scaled amplitude 0.5
    img = cycle_spectrogram(x, normalize=True)
    assert img[10, 5:95].mean() == pytest.approx(0.25, rel=0.01)


def test_only_normalized_or_mean_subtracted_images_agree_across_rates():
    # the window's samples sum into each magnitude: 40 at 2 kHz, 880 at 44.1 kHz
    def row(rate, **params):
        # a cosine: its crests fall on samples at 2 kHz, so range scaling is alike
        x = 0.3 * np.cos(2 * np.pi * 200 * np.arange(int(0.5 * rate)) / rate)
        step = STFTSpectrogram(max_frequency=1000.0, **params)
        # 200 Hz is row 4 at every rate; the edge frames hold the padding
        return step.fit_transform(_one_bag(x, rate)).images[0, 0, 4, 5:95]

    np.testing.assert_allclose(row(44100) / row(2000), 880 / 40, rtol=0.01)
    np.testing.assert_allclose(
        row(44100, normalize=True), row(2000, normalize=True), rtol=0.01
    )
    stenosis = dict(log=True, floor_db=40.0, subtract_mean="cycle", remove_dc=True)
    np.testing.assert_allclose(row(44100, **stenosis), row(2000, **stenosis), atol=0.01)


def test_cycle_of_half_a_window_is_refused():
    # a cycle needs more than half a window: exactly half is refused
    with pytest.raises(ValueError, match="too short"):
        cycle_spectrogram(np.arange(220.0), n_fft=440)


def _one_bag(x, rate=RATE):
    bounds = np.empty(1, dtype=object)
    bounds[0] = np.array([[0, len(x)]], dtype=np.int64)
    return CycleBags(Signals.from_arrays([x], rate), bounds, np.array([2]))


def test_remove_dc_subtracts_the_cycles_mean():
    # the mean, not the median: they differ for a skewed cycle
    rng = np.random.default_rng(0)
    x = np.exp(rng.standard_normal(8000))  # skewed: median far from mean
    step = STFTSpectrogram(remove_dc=True)
    got = step.fit_transform(_one_bag(x)).images
    want = STFTSpectrogram().fit_transform(_one_bag(x - x.mean())).images
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_recording_mean_floor_is_floor_db_below_the_peak():
    # floor_db is in magnitude dB, not power dB: 20 dB is a factor 10 below the peak
    rng = np.random.default_rng(0)
    x = 1e-4 * rng.standard_normal(8000)
    x[3000:4000] += np.sin(np.arange(1000) / 3.0)  # a loud beat over quiet noise
    step = STFTSpectrogram(log=True, floor_db=20.0, subtract_mean="recording")
    img = step.fit_transform(_one_bag(x)).images[0, 0]
    assert img.min() == pytest.approx(img.max() - np.log(10), abs=1e-4)


def test_a_coarse_clipped_recording_marks_its_rail_alone():
    # only samples at the rail are clipped, not those one step below it
    beats = 0.02 * np.sin(np.linspace(0, 200, 20000)) ** 2
    x = quantise(np.clip(beats, 0, 0.01), 32)  # about 10 steps of 32 to the rail
    np.testing.assert_array_equal(clipped_samples(x), x == x.max())


def test_a_subset_keeps_everything_of_its_recordings_together():
    """A subset takes every per-recording field at its positions: else
    recording 0 of ``x[[2, 0]]`` would be described by the original recording
    0's smoothed copy, clipping or counts."""
    n = 4
    per = [np.full(10 + k, k, np.float32) for k in range(n)]
    signals = Signals(
        data=object_array(per),
        sample_rate=2000.0,
        reference=object_array([x + 100 for x in per]),
        names=np.array([f"r{k}.wav" for k in range(n)], object),
        clipped=object_array([np.array([k]) for k in range(n)]),
        notes=np.array([f"note {k}" for k in range(n)], object),
        rounding_snr_db=np.arange(n, dtype=float) + 50,
        source_rates=np.array([8000.0, 4000.0, 2000.0, 44100.0]),
    )
    bags = CycleBags(
        signals,
        bounds=object_array([np.array([[0, 5 + k]]) for k in range(n)]),
        n_peaks=np.arange(n) * 11 + 2,  # a peak more than cycles cut
        dropped={"short": np.arange(n), "noisy": np.arange(n) * 10},
        runs=object_array([np.array([0, 3 + k]) for k in range(n)]),
        pulse_db=np.arange(n) + 0.5,
    )
    spec = Spectrograms.from_bags(
        [np.full((k + 1, 1, 2, 2), k, np.float32) for k in range(n)]
    )
    spec = Spectrograms(spec.images, spec.offsets, bounds=bags.bounds)
    picked = [2, 0]
    for whole, part in [(signals, signals[picked]), (bags, bags[picked])]:
        for f in fields(whole):
            value = getattr(whole, f.name)
            if isinstance(value, np.ndarray):
                got = getattr(part, f.name)
                assert len(got) == 2, f.name
                for i, k in enumerate(picked):
                    np.testing.assert_array_equal(got[i], value[k], err_msg=f.name)
    sub = bags[picked]
    for reason, counts in bags.dropped.items():
        assert sub.dropped[reason].tolist() == counts[picked].tolist()
    for i, k in enumerate(picked):
        np.testing.assert_array_equal(sub.signals.reference[i], signals.reference[k])
    assert [b.tolist() for b in spec[picked].bounds] == [[[0, 7]], [[0, 5]]]
    assert spec[picked].recording_index.tolist() == [0, 0, 0, 1]


def _tone_and_noise_bags(rate=22050):
    """Cycles that alternate between a pure 200 Hz tone (a tall spectral peak)
    and white noise (a flat, low one), cut at clicks 0.5 s apart."""
    rng = np.random.default_rng(0)
    n = int(0.5 * rate)
    t = np.arange(n) / rate
    parts = []
    for k in range(8):
        part = np.sin(2 * np.pi * 200 * t) if k % 2 else rng.standard_normal(n)
        parts.append(0.1 * part / np.abs(part).max())
    x = np.concatenate(parts).astype(np.float32)
    x[::n] = 0.9
    return PeakCycleCutter().fit_transform(Signals.from_arrays([x], rate))


def test_the_floor_lies_below_each_cycles_own_peak():
    """floor_db is a dynamic range under each cycle's own peak, with or without
    the recording's mean spectrum removed: a cycle's image must not depend on
    how loud the other cycles of the batch are."""
    bags = _tone_and_noise_bags()
    plain = STFTSpectrogram(log=True, floor_db=20.0).fit_transform(bags).images[:, 0]
    np.testing.assert_allclose(
        plain.max(axis=(1, 2)) - plain.min(axis=(1, 2)), np.log(10), rtol=1e-3
    )
    step = STFTSpectrogram(log=True, floor_db=20.0, subtract_mean="recording")
    images = step.fit_transform(bags).images[:, 0]
    np.testing.assert_allclose(
        images.max(axis=(1, 2)) - images.min(axis=(1, 2)), np.log(10), rtol=1e-4
    )


def test_a_window_or_hop_in_samples_is_refused_at_fit():
    # window=1001 was a MemoryError in scipy's median filter; hop=220 one
    # frame per cycle, stretched into a constant image
    x = np.zeros(RATE, np.float32)
    with pytest.raises(ValueError, match=r"window=1001 s .*in seconds"):
        MeanSmoother(window=1001).fit([x])
    sig = Signals.from_arrays([x], RATE)
    bags = CycleBags(sig, bounds=np.array([np.array([[0, 12000]])], dtype=object))
    with pytest.raises(ValueError, match=r"hop=220 s is longer than window"):
        STFTSpectrogram(hop=220).fit(bags)
    # and set after fit: constant images, or a TypeError of numpy's
    for late in ({"hop": 0.5}, {"floor_db": None}):
        spec = STFTSpectrogram(log=True, subtract_mean="cycle", floor_db=40.0)
        with pytest.raises(ValueError, match=r"longer than window|needs floor_db"):
            spec.fit(bags).set_params(**late).transform(bags)


@pytest.mark.parametrize(
    ("step", "late", "message"),
    [
        (PeakCycleCutter(), {"min_distance": 11000}, r"min_distance=11000 is in sec"),
        (PeakCycleCutter(method="period"), {"method": "bogus"}, "'method' param"),
        (MeanSmoother(), {"window": 1001}, r"window=1001 s .*in seconds"),
        (MeanSmoother(), {"window": -1.0}, "'window' param"),
        (LowpassFilter(), {"order": 0}, "'order' param"),
    ],
)
def test_a_signal_step_checks_parameters_set_after_fit(step, late, message):
    # the cutter cut no cycle at min_distance=11000 (samples) and ran the seed
    # rule for method="bogus", where fit refused both
    x = [np.zeros(RATE, np.float32)]
    step = clone(step).fit(x).set_params(**late)
    with pytest.raises(ValueError, match=message):
        step.transform(x)


@pytest.mark.parametrize("param", [{"threshold": np.nan}, {"min_snr_db": np.nan}])
def test_cutter_refuses_a_nan_threshold(param):
    # NaN found no peak: every recording "had no heart cycle"
    with pytest.raises(ValueError, match="parameter of PeakCycleCutter"):
        PeakCycleCutter(**param).fit([np.zeros(RATE, np.float32)])


def _on_the_grid(peak: int, n_top: int, n_below: int) -> np.ndarray:
    """Every level from ``2 - peak`` to ``peak - 2`` steps three times, then
    ``n_below`` samples one step under the peak and ``n_top`` at it."""
    levels = np.repeat(np.arange(2 - peak, peak - 1), 3)
    steps = np.concatenate([levels, np.full(n_below, peak - 1), np.full(n_top, peak)])
    return steps * LEVEL


@pytest.mark.parametrize(
    "peak, marked",
    [
        (3, True),  # under 4 steps: every sample at the top counts
        (4, False),  # 4 to 999 steps: the top step against the one below
        (64, False),  # (64 to 999 counted the top level alone: a steady
        (999, False),  # tone read 2 to 8 % "clipped")
        (1000, False),  # from 1000: the 0.1 % band against the one below
    ],
)
def test_clipped_samples_rule_changes_at_4_and_1000_steps(peak, marked):
    # two samples at the peak over ten one step below: no flat top by the
    # ratio, so they count only where there is no band to compare with
    x = _on_the_grid(peak, n_top=2, n_below=10)
    assert converter_step(x) == LEVEL
    clipped = clipped_samples(x)
    np.testing.assert_array_equal(clipped, (x == x.max()) & marked)
    # the negative rail alike
    np.testing.assert_array_equal(clipped_samples(-x), clipped)


def test_clipped_samples_of_int16_at_its_rail_and_of_nan():
    # -x.min() of -32768 wrapped to -32768 in int16: 43 % "clipped" for 35 %
    t = np.arange(20000) / 4000
    wave = np.round(np.sin(2 * np.pi * 1.2 * t) * 40000 - 15000)
    x16 = np.clip(wave, -32768, 32767).astype(np.int16)
    np.testing.assert_array_equal(
        clipped_samples(x16), clipped_samples(x16.astype(np.int32))
    )
    assert np.mean(clipped_samples(x16)) == pytest.approx(
        np.mean(x16 == -32768), abs=1e-3
    )
    # a NaN sample read as every sample clipped
    with pytest.raises(ValueError, match="NaN or infinite"):
        clipped_samples(np.r_[np.sin(t), np.nan])


@pytest.mark.parametrize("peak", [4, 63, 64, 999])
def test_a_coarse_flat_top_holds_more_than_four_times_the_step_below(peak):
    below = 10
    at_ratio = _on_the_grid(peak, n_top=int(FLAT_TOP_RATIO * below), n_below=below)
    assert not clipped_samples(at_ratio).any()
    over = _on_the_grid(peak, n_top=int(FLAT_TOP_RATIO * below) + 1, n_below=below)
    np.testing.assert_array_equal(clipped_samples(over), over == over.max())


def test_a_fine_flat_top_holds_more_than_four_times_the_band_below():
    # unquantised: the 0.1 % band at the peak, [0.999, 1], against [0.998, 0.999)
    quiet = np.linspace(-0.5, 0.5, 10001)
    edge = 0.999 * 1.0

    def recording(n_top):
        top = np.r_[np.ones(n_top - 1), edge]  # the band's lower edge is in it
        below = np.r_[np.full(9, 0.9985), 0.998, np.nextafter(edge, 0.0)]
        return np.concatenate([quiet, below, top])

    at_ratio = recording(44)  # 11 samples below the band: 44 is 4 times
    assert not clipped_samples(at_ratio).any()
    over = recording(45)
    np.testing.assert_array_equal(clipped_samples(over), over >= edge)
    assert clipped_samples(over).sum() == 45
    # the negative rail alike
    assert not clipped_samples(-at_ratio).any()
    np.testing.assert_array_equal(clipped_samples(-over), over >= edge)


def test_under_four_steps_every_sample_within_a_thousandth_of_the_peak_counts():
    # a knock on a constant: too few values for a band below to compare with
    x = np.zeros(100)
    x[[10, 11, 12, 50]] = [1.0, 0.999, np.nextafter(0.999, 0.0), -1.0]
    assert converter_step(x) < 1.0 < 4 * converter_step(x)
    assert np.flatnonzero(clipped_samples(x)).tolist() == [10, 11, 50]
    assert clipped_samples(np.zeros(5)).all()  # all zero: all marked
