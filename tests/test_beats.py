"""The period beat finder (PeakCycleCutter(method="period")) on known beats."""

import numpy as np
import pytest
from scipy.ndimage import uniform_filter1d
from sklearn.pipeline import make_pipeline

from vascular_sklearn import (
    LowpassFilter,
    MeanSmoother,
    NoPulseWarning,
    PeakCycleCutter,
    Signals,
)
from vascular_sklearn.beats import beat_scores, estimate_period, find_beats
from vascular_sklearn.containers import CycleBags
from vascular_sklearn.cycle_quality import (
    PULSE_LIMIT_DB,
    cycle_quality,
    failed_cycles,
    pulse_db,
)
from vascular_sklearn.datasets import make_recordings
from vascular_sklearn.recorder import quantise


def _recordings(**params):
    """Four 15 s recordings (one per patient) and their true beat samples."""
    kwargs = dict(n_patients=4, recordings_per_patient=1, duration=15.0)
    kwargs.update(params)
    kwargs.setdefault("random_state", 1)
    data = make_recordings(**kwargs)
    arrays = [np.asarray(x, np.float64) for x in data.recordings.data]
    return arrays, list(data.beat_times), data.sample_rate


def _cut(arrays, rate, method="period") -> CycleBags:
    chain = make_pipeline(
        LowpassFilter(), MeanSmoother(method="median"), PeakCycleCutter(method=method)
    )
    return chain.fit_transform(Signals.from_arrays(arrays, rate))


def _scores(arrays, beats, rate, method="period") -> dict[str, float]:
    """Recall and precision over all beats of all recordings, and the cycles."""
    bags = _cut(arrays, rate, method)
    hits = found = n_beats = n_found = 0
    for bounds, true, x in zip(bags.bounds, beats, arrays, strict=True):
        s = beat_scores(bounds, true, rate, len(x))
        n_true, n_points = len(true), len(np.unique(bounds))
        hits += s["recall"] * n_true
        found += s["precision"] * n_points
        n_beats += n_true
        n_found += n_points
    return {
        "recall": hits / n_beats,
        "precision": found / n_found if n_found else 1.0,
        "cycles": int(bags.n_cycles.sum()),
    }


@pytest.fixture(scope="module")
def base():
    return _recordings()


def _assert_finds_beats(scores, at_least=0.97):
    assert scores["recall"] >= at_least, scores
    assert scores["precision"] >= at_least, scores


def test_slow_hearts_keep_their_cycles():
    arrays, beats, rate = _recordings(heart_rate=(35.0, 50.0), duration=20.0)
    _assert_finds_beats(_scores(arrays, beats, rate))
    # the seed cutter's 1.13 s gap drops every cycle of a heart this slow
    assert _scores(arrays, beats, rate, "seed")["cycles"] == 0


def test_fast_hearts_keep_every_beat():
    arrays, beats, rate = _recordings(heart_rate=(150.0, 150.0))
    _assert_finds_beats(_scores(arrays, beats, rate))
    # 0.5 s minimum spacing: the seed cutter keeps about every other beat
    assert _scores(arrays, beats, rate, "seed")["recall"] < 0.6


def test_irregular_rhythm_drops_cycles_not_recordings():
    arrays, beats, rate = _recordings(beat_variability=0.1, ectopic_rate=0.1)
    intervals = np.concatenate([np.diff(b) for b in beats])
    early = intervals < 0.75 * np.median(intervals)
    assert early.sum() >= 5  # the data do hold early beats
    _assert_finds_beats(_scores(arrays, beats, rate))
    bags = _cut(arrays, rate)
    tol = 0.06 * rate
    n_early = 0
    for bounds, true in zip(bags.bounds, beats, strict=True):
        assert len(bounds) >= 0.7 * (len(true) - 1)
        gaps = np.diff(true)
        for j in np.flatnonzero(gaps < 0.65 * np.median(gaps)):
            n_early += 1
            # the cycle that ends on an early beat is dropped...
            ends_early = np.abs(bounds[:, 1] - true[j + 1]) <= tol
            assert not np.any(ends_early & (np.abs(bounds[:, 0] - true[j]) <= tol))
            # ...and the beats around it still bound cycles
            assert np.min(np.abs(bounds - true[j + 1])) <= tol
    assert n_early >= 3
    # quality() gives the early beats as the reason for the cycles they cost
    quality = bags.quality()
    assert sum(row["dropped_short"] for row in quality) >= n_early
    for row in quality:
        assert row["dropped_short"] + row["dropped_long_gap"] + row["cycles"] == (
            row["peaks"] - 1
        )


def test_early_beats_do_not_double_the_period():
    # a fifth of the beats early, each with a compensatory pause: two beats
    # keep their exact length while one is smeared, so the waveform's
    # autocorrelation can peak at 2 T; the loudness, at T, is taken then
    recall = []
    for seed in range(4):
        arrays, beats, rate = _recordings(
            n_patients=6, duration=20.0, ectopic_rate=0.2, random_state=seed
        )
        bags = _cut(arrays, rate)
        recall += [
            beat_scores(bounds, true, rate, len(x))["recall"]
            for bounds, true, x in zip(bags.bounds, beats, arrays, strict=True)
        ]
    assert min(recall) >= 0.9, np.round(recall, 2)


def test_the_flow_sound_does_not_halve_a_strong_second_wave():
    # a second wave 0.9 the pulse's height, which the flow sound follows: the
    # loudness can beat at half the period, where the waveform sits in a
    # trough; the beats the waveform gives alone stay the beats
    ratios = []
    for seed in range(3):
        data = make_recordings(8, 1, duration=20.0, random_state=seed, second_wave=0.9)
        lowpassed = LowpassFilter().fit_transform(data.recordings)
        smoothed = MeanSmoother(method="median").fit_transform(lowpassed)
        for reference, signal in zip(smoothed.data, lowpassed.data, strict=True):
            alone = find_beats(reference, data.sample_rate)[1]
            with_sound = find_beats(reference, data.sample_rate, signal=signal)[1]
            ratios.append(with_sound / alone)
    assert max(ratios) < 1.2, np.round(ratios, 2)


@pytest.mark.parametrize("heart_rate", [(35.0, 50.0), (50.0, 110.0)])
def test_a_second_wave_within_the_beat_is_not_a_beat(heart_rate):
    arrays, beats, rate = _recordings(
        second_wave=0.6, heart_rate=heart_rate, duration=20.0
    )
    _assert_finds_beats(_scores(arrays, beats, rate))


@pytest.mark.parametrize("step", [1, 64])
def test_quiet_quantised_recordings(base, step):
    arrays, beats, rate = base
    quiet = [quantise(0.01 * x, step).astype(np.float32) for x in arrays]
    assert len(np.unique(quiet[0])) < 400  # few levels: flat tops, ties
    _assert_finds_beats(_scores(quiet, beats, rate))


def test_clipped_recordings(base):
    arrays, beats, rate = base
    clipped = [np.clip(20 * x, -1.0, 1.0) for x in arrays]
    assert np.mean([np.mean(np.abs(x) == 1.0) for x in clipped]) > 0.3
    _assert_finds_beats(_scores(clipped, beats, rate))
    # the seed cutter lands off the beat on the flat tops
    assert _scores(clipped, beats, rate, "seed")["recall"] < 0.95


# 0 dB of the whole recording's power drowns the flow sound in the band the
# network hears (its loudness no longer swings: a NoPulseWarning), while the
# beats still show in the smoothed signal the cutter reads
@pytest.mark.filterwarnings("ignore::vascular_sklearn.NoPulseWarning")
def test_noisy_recordings(base):
    arrays, beats, rate = base
    rng = np.random.default_rng(0)
    noisy = [x + np.sqrt(np.mean(x**2)) * rng.standard_normal(len(x)) for x in arrays]
    _assert_finds_beats(_scores(noisy, beats, rate))  # 0 dB white noise


@pytest.mark.parametrize("rate", [8000.0, 44100.0])
def test_other_sample_rates(rate):
    arrays, beats, rate = _recordings(sample_rate=rate, n_patients=3, duration=12.0)
    _assert_finds_beats(_scores(arrays, beats, rate))


def test_gain_does_not_move_the_cycles(base):
    arrays, _, rate = base
    loud = _cut([x.astype(np.float32) for x in arrays], rate)
    quiet = _cut([(0.01 * x).astype(np.float32) for x in arrays], rate)
    for a, b in zip(loud.bounds, quiet.bounds, strict=True):
        assert a.shape == b.shape and len(a) > 5
        # float32 rounding may move a flat top's edge by one sample
        assert np.abs(a - b).max() <= 1


def test_output_contract(base):
    arrays, _, rate = base
    bags = _cut(arrays[:2], rate)
    assert isinstance(bags, CycleBags) and bags.signals.reference is None
    assert bags.n_peaks.dtype == np.int64
    for bounds, n_peaks in zip(bags.bounds, bags.n_peaks, strict=True):
        assert bounds.dtype == np.int64 and bounds.shape[1] == 2
        assert np.all(bounds[:, 0] < bounds[:, 1]) and len(bounds) <= n_peaks - 1
    assert PeakCycleCutter().method == "seed"
    with pytest.raises(ValueError, match="method"):
        PeakCycleCutter(method="fft").fit([arrays[0]])


def test_beats_near_the_ends_are_found():
    rate = 1000.0
    t = np.arange(0, 10, 1 / rate)
    beats = np.arange(0.08, 10, 0.8)  # the last 40 ms before the end
    pulse = sum(np.exp(-0.5 * ((t - b) / 0.03) ** 2) for b in beats)
    bounds, n_peaks, _ = find_beats(pulse, rate)
    assert n_peaks == len(beats) and len(bounds) == len(beats) - 1
    assert np.abs(bounds[:, 0] - beats[:-1] * rate).max() <= 2


def test_find_beats_on_nothing_periodic():
    rate = 1000.0
    assert find_beats(np.zeros(20_000), rate)[1] == 0
    assert find_beats(np.ones(500), rate)[0].shape == (0, 2)
    assert estimate_period(np.zeros(20_000), rate) is None


@pytest.mark.parametrize("bpm", [35.0, 60.0, 170.0])
def test_estimate_period(bpm):
    rate = 500.0
    t = np.arange(0, 20, 1 / rate)
    pulse = np.exp(-0.5 * ((t % (60 / bpm) - 0.1) / 0.04) ** 2)
    assert estimate_period(pulse, rate) == pytest.approx(60 / bpm, rel=0.01)


def test_make_recordings_rhythm_parameters():
    plain = make_recordings(2, 1, duration=10.0, random_state=3)
    zero = make_recordings(
        2,
        1,
        duration=10.0,
        random_state=3,
        beat_variability=0.0,
        ectopic_rate=0.0,
        second_wave=0.0,
    )
    for a, b in zip(plain.recordings.data, zero.recordings.data, strict=True):
        np.testing.assert_array_equal(a, b)
    varied = make_recordings(2, 1, duration=30.0, random_state=3, beat_variability=0.15)
    steady = make_recordings(2, 1, duration=30.0, random_state=3)
    spread = [np.std(np.diff(b)) / np.mean(np.diff(b)) for b in varied.beat_times]
    base_spread = [np.std(np.diff(b)) / np.mean(np.diff(b)) for b in steady.beat_times]
    assert min(spread) > 0.1 > max(base_spread)
    ectopic = make_recordings(2, 1, duration=30.0, random_state=3, ectopic_rate=0.3)
    for beats in ectopic.beat_times:
        ratio = np.diff(beats) / np.median(np.diff(beats))
        # an early beat, then a compensatory pause
        short = np.flatnonzero(ratio < 0.75)
        assert len(short) >= 2
        short = short[short + 1 < len(ratio)]
        assert np.all(ratio[short + 1] > 1.2)
    waved = make_recordings(2, 1, duration=10.0, random_state=3, second_wave=0.5)
    for a, b in zip(plain.recordings.data, waved.recordings.data, strict=True):
        assert not np.array_equal(a, b)
    for bad in [{"beat_variability": 0.2}, {"ectopic_rate": -0.1}, {"second_wave": 2}]:
        with pytest.raises(ValueError):
            make_recordings(1, 1, duration=2.0, **bad)


def _near(found: np.ndarray, true: np.ndarray, rate: float) -> np.ndarray:
    """Whether each true beat has a found one within 60 ms."""
    if len(found) == 0:
        return np.zeros(len(true), dtype=bool)
    return np.min(np.abs(true[:, None] - found[None, :]), axis=1) <= 0.06 * rate


def test_a_knock_drops_its_cycle_and_says_so(base):
    arrays, beats, rate = base
    x, true = arrays[0].copy(), beats[0]
    # a 30 ms knock at full scale between two beats in the middle
    j = len(true) // 2
    start = int((true[j] + true[j + 1]) / 2)
    x[start : start + int(0.03 * rate)] = np.sign(np.sin(np.arange(int(0.03 * rate))))
    clean, knocked = _cut([arrays[0]], rate), _cut([x], rate)
    row = knocked.quality()[0]
    assert row["dropped_clipped"] == 1 and clean.quality()[0]["dropped_clipped"] == 0
    assert row["cycles"] == clean.quality()[0]["cycles"] - 1
    dropped = {tuple(b) for b in clean.bounds[0]} - {
        tuple(b) for b in knocked.bounds[0]
    }
    ((a, b),) = dropped
    assert a <= start < b
    parts = ("cycles", "dropped_short", "dropped_clipped", "dropped_noisy")
    assert sum(row[k] for k in parts) + row["dropped_long_gap"] == row["peaks"] - 1
    # the clipping was counted on the raw recording, before the lowpass
    assert row["clipped_fraction"] == pytest.approx(0.03 * rate / len(x), rel=0.1)
    shares = knocked.quality(per_cycle=True)[0]["cycle_quality"]["clipped"]
    assert shares.max() < 0.01 and len(shares) == row["cycles"]
    # a recording clipped throughout keeps its cycles: none is worse than the rest
    loud = _cut([np.clip(20 * x, -1.0, 1.0)], rate).quality()[0]
    assert loud["cycles"] >= 0.9 * row["cycles"] and loud["clipped_fraction"] > 0.3


def test_cycle_quality_measures():
    rate = 1000.0
    t = np.arange(0, 8, 1 / rate)
    x = np.sin(2 * np.pi * 40 * t) * (1.2 + np.cos(2 * np.pi * t))
    x[5000:6000] = 1e-3 * np.sin(2 * np.pi * 40 * t[:1000])  # contact lost
    x[2000:2050] = 1e3 * np.sign(x[2000:2050])  # a knock into the rails
    bounds = np.array(
        [[0, 1000], [1000, 2000], [2000, 3000], [5000, 6000], [6000, 7500]]
    )
    q = cycle_quality(x, bounds, rate)
    np.testing.assert_allclose(q["period_deviation"], [0, 0, 0, 0, 0.5])
    np.testing.assert_allclose(q["clipped"], [0, 0, 0.05, 0, 0], atol=0.002)
    assert q["snr_db"][3] < 1.0 < 10.0 < q["snr_db"][[0, 1, 4]].min()
    failed = failed_cycles(q)
    assert failed["clipped"].tolist() == [False, False, True, False, False]
    assert failed["noisy"].tolist() == [False, False, False, True, False]
    # gain does not move any measure
    quiet = cycle_quality(1e-3 * x, bounds, rate)
    for key in q:
        np.testing.assert_allclose(quiet[key], q[key], atol=0.01)
    kept = failed_cycles(q, min_snr_db=None, max_clipped=None)
    assert not kept["clipped"].any() and not kept["noisy"].any()


@pytest.mark.parametrize("rate", [2000.0, 22050.0])
def test_pulse_db_measures_the_loudness_swing_at_any_rate_and_gain(rate):
    rng = np.random.default_rng(0)
    t = np.arange(0, 20, 1 / rate)
    noise = rng.standard_normal(len(t))
    # loudness swinging +-6 dB at 72 bpm: a standard deviation of 6 / sqrt(2) dB
    beating = noise * 10 ** (6 * np.sin(2 * np.pi * 1.2 * t) / 20)
    swing = pulse_db(beating, rate)
    assert abs(swing - 6 / np.sqrt(2)) < 0.3
    assert pulse_db(1e-3 * beating, rate) == pytest.approx(swing, abs=1e-4)
    # a float32 recording far below any converter: its squares underflowed
    tiny = (1e-25 * beating).astype(np.float32)
    assert pulse_db(tiny, rate) == pytest.approx(swing, abs=1e-3)
    assert pulse_db(noise, rate) < 0.6 < PULSE_LIMIT_DB
    hum = np.sin(2 * np.pi * 50 * t) + 0.01 * noise
    assert pulse_db(hum, rate) < 0.6
    assert pulse_db(np.zeros(len(t)), rate) == 0.0
    # the highpass starting from rest on an offset: a step that swung 1-2 dB
    for offset in (0.003, 0.2):
        hiss = offset + 1e-3 * noise
        assert pulse_db(hiss, rate) == pytest.approx(pulse_db(noise, rate), abs=0.05)
    assert np.isnan(pulse_db(beating[: int(2 * rate)], rate))
    assert np.isnan(pulse_db(beating, 40.0))  # at 40 Hz nothing lies above 25 Hz


def test_pulse_db_of_a_constant_is_0_and_of_nan_an_error():
    # a dead lead at an offset left the highpass a residue of 1e-10 of it,
    # which divided by its own peak swung 9 dB: a "pulse"
    for constant in (np.full(20000, 3.0), np.full(40000, -1, np.int16)):
        assert pulse_db(constant, 2000.0) < 0.1
    # one NaN or inf sample read as digital silence, 0 dB: "no pulse"
    x = np.random.default_rng(0).normal(size=20000)
    for bad in (np.nan, np.inf):
        x[5000] = bad
        with pytest.raises(ValueError, match="NaN or infinite"):
            pulse_db(x, 2000.0)


def test_simulated_vessels_have_a_pulse(base):
    arrays, _, rate = base
    lowpassed = LowpassFilter().fit_transform(Signals.from_arrays(arrays, rate))
    swings = [row["pulse_db"] for row in _cut(arrays, rate, "seed").quality()]
    assert min(swings) > 3 * PULSE_LIMIT_DB
    assert swings == [pulse_db(x, rate) for x in lowpassed.data]


@pytest.mark.parametrize("method", ["seed", "period"])
def test_cutter_names_a_recording_without_a_pulse(base, method):
    """A microphone off the access hears noise, which is cut into cycles all
    the same: the cutter names it, and only it, in a warning."""
    arrays, _, rate = base
    hiss = 0.1 * np.random.default_rng(0).standard_normal(len(arrays[0]))
    X = Signals.from_arrays(
        [arrays[0], hiss, arrays[1]], rate, names=["vessel.wav", "hiss.wav", "b.wav"]
    )
    chain = make_pipeline(
        LowpassFilter(), MeanSmoother(method="median"), PeakCycleCutter(method=method)
    )
    start = r"^hiss\.wav \(0\.\d dB\): the loudness swings less than 1 dB"
    with pytest.warns(NoPulseWarning, match=start) as record:
        bags = chain.fit_transform(X)
    assert len(record) == 1 and "vessel" not in str(record[0].message)
    assert bags.pulse_db[1] < PULSE_LIMIT_DB < bags.pulse_db[[0, 2]].min()
    # the swing measured while cutting is the one quality() reports
    swings = [row["pulse_db"] for row in bags[[2, 1]].quality()]
    assert swings == bags.pulse_db[[2, 1]].tolist()
    assert swings[1] == pulse_db(LowpassFilter().fit_transform(X).data[1], rate)
    chain.transform(X[[0, 2]])  # beating recordings alone: no warning (an error here)


def test_a_quiet_stretch_keeps_its_beats():
    arrays, beats, rate = _recordings(n_patients=2, duration=30.0)
    for x, true in zip(arrays, beats, strict=True):
        y = x.copy()
        y[int(20 * rate) :] *= 0.3  # the stethoscope pressed less firmly
        bags = _cut([y], rate)
        late = true[true > 21 * rate]
        assert np.mean(_near(np.unique(bags.bounds[0]), late, rate)) >= 0.97


def test_beats_found_in_the_loudness_when_the_waveform_shows_none():
    rate = 4000.0
    t = np.arange(0, 30, 1 / rate)
    true = np.arange(0.3, 30, 0.9)
    loudness = 0.1 + sum(np.exp(-0.5 * ((t - b) / 0.06) ** 2) for b in true)
    x = np.random.default_rng(0).standard_normal(len(t)) * loudness
    reference = np.zeros_like(x)  # a flow sound whose smoothed waveform is flat
    assert find_beats(reference, rate)[1] == 0
    dropout = x.copy()
    dropout[int(15 * rate) : int(15.6 * rate)] = 0.0  # 2 % digital silence
    for y in (x, dropout):
        found = np.unique(find_beats(reference, rate, signal=y)[0])
        assert np.mean(_near(found, true * rate, rate)) >= 0.97
        assert np.mean(_near(true * rate, found, rate)) >= 0.97
        assert (found % 20 == 10).all()  # mid-block: 5 ms blocks of 20 samples


def test_int16_flow_sound_finds_the_beats_of_its_float_copy():
    # squares summed as int16 wrapped negative: the loudness was NaN, and a
    # flow sound whose waveform shows no beat gave no cycle
    rate = 4000.0
    t = np.arange(0, 20, 1 / rate)
    loudness = 0.02 + np.exp(-0.5 * ((t % 0.8 - 0.2) / 0.05) ** 2)
    sound = 0.3 * loudness * np.random.default_rng(0).standard_normal(len(t))
    counts = np.round(sound * 32767).astype(np.int16)
    reference = 1e-3 * np.random.default_rng(1).standard_normal(len(t))
    bounds = find_beats(reference, rate, signal=sound / 1.0)[0]
    assert len(bounds) >= 20
    np.testing.assert_array_equal(find_beats(reference, rate, signal=counts)[0], bounds)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"min_bpm": 0}, "min_bpm=0: give a finite number above 0"),
        ({"min_bpm": np.nan}, "min_bpm=nan"),
        ({"sample_rate": 0.0}, "sample_rate=0.0"),
        ({"min_bpm": 100, "max_bpm": 50}, "min_bpm=100 is not below max_bpm=50"),
    ],
)
def test_beat_search_refuses_rates_no_beat_lies_in(params, message):
    # min_bpm=0 divided by zero, a rate of 0 failed in scipy, and a range
    # upside down found nothing without a word
    params = {"sample_rate": 1000.0, **params}
    x = np.zeros(20_000)
    for search in (find_beats, estimate_period):
        with pytest.raises(ValueError, match=message):
            search(x, **params)


def test_digital_silence_does_not_hide_a_noisy_cycle():
    rate = 1000.0
    t = np.arange(0, 16, 1 / rate)
    x = np.random.default_rng(0).standard_normal(len(t)) * (1.2 + np.cos(2 * np.pi * t))
    x[3000:4000] *= 0.001  # contact lost for a second
    x[12000:12500] = 0.0  # and a dropout of zeros (3 % of the recording)
    bounds = np.array([[1000 * k, 1000 * (k + 1)] for k in range(15)])
    quality = cycle_quality(x, bounds, rate)
    assert quality["snr_db"][3] < 0
    assert np.flatnonzero(failed_cycles(quality)["noisy"]).tolist() == [3]


def _pulses(beats, n_samples, rate=1000.0, heights=None):
    """Gaussian pulses 30 ms wide at ``beats`` (seconds)."""
    t = np.arange(n_samples) / rate
    heights = np.ones(len(beats)) if heights is None else heights
    return sum(
        h * np.exp(-0.5 * ((t - b) / 0.03) ** 2)
        for h, b in zip(heights, beats, strict=True)
    )


def test_a_missed_beat_drops_its_long_cycle():
    # a cycle spanning a missed beat is twice too long to describe one beat
    rate = 1000.0
    beats = np.delete(np.arange(0.3, 12, 0.8), 7)  # one beat missing
    bounds, n_peaks, n_short = find_beats(_pulses(beats, 12000), rate)
    assert n_peaks == len(beats) and n_short == 0
    assert len(bounds) == n_peaks - 2  # the 1.6 s gap is no cycle
    assert np.diff(bounds, axis=1).max() <= 1.5 * 800


def test_a_dropout_longer_than_three_beats_keeps_the_beats_before_it():
    # a gap of several beats must not cost the beats found before it
    rate = 1000.0
    beats = np.concatenate([np.arange(0.3, 8, 0.8), np.arange(12.3, 20, 0.8)])
    bounds, n_peaks, _ = find_beats(_pulses(beats, 20000), rate)
    assert n_peaks == len(beats)
    assert bounds[0, 0] == pytest.approx(300, abs=2)


def test_a_recording_cut_just_after_a_beat_starts_no_cycle():
    # a recording that starts on a falling edge has no peak at its first sample
    rate = 1000.0
    beats = np.arange(-0.02, 10, 0.8)  # the recording starts 20 ms past a top
    bounds, n_peaks, _ = find_beats(_pulses(beats, 10000), rate)
    assert n_peaks == len(beats) - 1
    assert bounds[0, 0] == pytest.approx(780, abs=2)


def test_alternating_beats_of_a_slow_heart_are_all_kept():
    # weaker alternate beats of a slow heart are beats: the period is not doubled
    rate = 1000.0
    beats = np.arange(0.3, 20, 60 / 55)  # 55 bpm, every other beat 40 % lower
    heights = np.where(np.arange(len(beats)) % 2 == 0, 1.0, 0.6)
    bounds, n_peaks, _ = find_beats(_pulses(beats, 20000, heights=heights), rate)
    assert n_peaks == len(beats) and len(bounds) == len(beats) - 1


def test_a_drifting_baseline_does_not_hide_the_beats():
    # the signal is detrended: else a slow drift (breathing) hides the period
    rate = 1000.0
    beats = np.arange(0.3, 20, 0.8)
    t = np.arange(20000) / rate
    x = _pulses(beats, 20000) + 3 * np.sin(2 * np.pi * 0.1 * t)  # breathing
    assert estimate_period(x, rate) == pytest.approx(0.8, rel=0.01)
    bounds, n_peaks, _ = find_beats(x, rate)
    assert n_peaks == len(beats) and len(bounds) == len(beats) - 1


@pytest.mark.parametrize("bpm", [73.0, 170.0])
def test_estimate_period_is_finer_than_its_lag_grid(bpm):
    # the period is interpolated between lags: the 5 ms grid alone is 0.6 % off
    t = np.arange(0, 20, 1 / 1000)
    pulse = np.exp(-0.5 * ((t % (60 / bpm) - 0.1) / 0.04) ** 2)
    assert estimate_period(pulse, 1000.0) == pytest.approx(60 / bpm, rel=2e-3)


def test_a_cycle_both_clipped_and_noisy_counts_as_clipped_only():
    # each failed cycle is counted once, under clipping first
    q = {
        "clipped": np.array([0.0, 0.0, 0.3, 0.0]),
        "snr_db": np.array([10.0, 10, -5, 10]),
    }
    failed = failed_cycles(q)
    assert failed["clipped"].tolist() == [False, False, True, False]
    assert not failed["noisy"].any()


@pytest.mark.parametrize("offset", [0.3, 0.8, -0.8])
def test_a_dc_offset_does_not_make_the_beats_noise(base, offset):
    # a microphone's DC offset is no sound: measured with it, every cycle's
    # power sat on the offset's and the period cutter dropped them as "noisy"
    # (0.1 peak, +0.3 offset: 17 of 37 cycles kept, recall 0.45)
    arrays, beats, rate = base
    quiet = [0.1 * x / np.abs(x).max() for x in arrays]
    shifted = [x + offset for x in quiet]
    _assert_finds_beats(_scores(shifted, beats, rate))
    bags = _cut(shifted, rate)
    assert sum(row["dropped_noisy"] for row in bags.quality()) == 0
    assert bags.n_cycles.tolist() == _cut(quiet, rate).n_cycles.tolist()


def _gauss(t: np.ndarray, centre: float, width: float) -> np.ndarray:
    return np.exp(-0.5 * ((t - centre) / width) ** 2)


def _sound_bursts(times, n_samples: int, rate: float = 1000.0) -> np.ndarray:
    """A 200 Hz bruit, loud for 60 ms around each of ``times`` (seconds) and
    faint in between: its loudness beats at ``times``."""
    t = np.arange(n_samples) / rate
    loudness = 0.1 + sum(_gauss(t, b, 0.06) for b in times)
    return loudness * np.sin(2 * np.pi * 200.0 * t)


def _found_near(found: np.ndarray, true: np.ndarray) -> np.ndarray:
    """Whether each of ``true`` has one of ``found`` within 60 ms (samples)."""
    return np.min(np.abs(true[:, None] - found[None, :]), axis=1) <= 60


def test_the_loudness_corrects_a_waveform_that_peaks_at_twice_the_period():
    # every beat shows in the waveform, but every other one broad: its
    # autocorrelation peaks at 2 T, the loudness (a sound per beat) at T
    rate, n = 1000.0, 20000
    t = np.arange(n) / rate
    true = np.arange(0.3, 20, 0.6)  # 100 beats a minute
    widths = np.where(np.arange(len(true)) % 2 == 0, 0.03, 0.15)
    reference = sum(_gauss(t, b, w) for b, w in zip(true, widths, strict=True))
    assert estimate_period(reference, rate) == pytest.approx(1.2, rel=0.01)
    _, n_alone, _ = find_beats(reference, rate)
    assert n_alone == (len(true) + 1) // 2  # the narrow beats alone
    bounds, n_peaks, n_short = find_beats(
        reference, rate, signal=_sound_bursts(true, n)
    )
    assert n_peaks == len(true) and n_short == 0
    assert len(bounds) == len(true) - 1
    assert _found_near(np.unique(bounds), true * rate).all()


@pytest.mark.parametrize("seed", [0, 1])  # the waveform alone: 0.6 s, 0.3 s
def test_a_loudness_far_more_periodic_than_the_waveform_gives_the_beats(seed):
    # a smoothed waveform with three bumps of random height a beat, jittered,
    # in slow noise (as a heart sound's, S1 and S2 among them) repeats weakly,
    # at a lag the heart does not beat at; the loudness beats once a beat
    rate, n = 1000.0, 20000
    t = np.arange(n) / rate
    rng = np.random.default_rng(seed)
    true = np.arange(0.3, 20, 0.9)
    bumps = np.sort(np.concatenate([true, true + 0.3, true + 0.6]))
    bumps = bumps + rng.normal(0, 0.02, len(bumps))
    heights = rng.uniform(0.2, 1.0, len(bumps))
    reference = sum(h * _gauss(t, b, 0.03) for h, b in zip(heights, bumps, strict=True))
    reference += 2.0 * uniform_filter1d(rng.standard_normal(n), 50)
    assert estimate_period(reference, rate) < 0.7  # the waveform alone is wrong
    bounds, n_peaks, n_short = find_beats(
        reference, rate, signal=_sound_bursts(true, n)
    )
    assert n_peaks == len(true) and n_short == 0
    assert len(bounds) == len(true) - 1
    assert _found_near(np.unique(bounds), true * rate).all()


@pytest.mark.parametrize("seed", [1, 3])  # loudness 1.56, 1.67 times as periodic
def test_a_loudness_beating_every_other_beat_leaves_a_clear_waveform_its_beats(seed):
    # a flow sound loud at every other beat (an alternating pulse), in even
    # bursts without noise, repeats more regularly at twice the period than
    # the waveform of every beat, of uneven height in noise, does at the
    # period: the waveform is still periodic enough to keep its beats
    rate, n = 1000.0, 20000
    t = np.arange(n) / rate
    rng = np.random.default_rng(seed)
    on_time = np.arange(0.3, 20, 0.8)
    true = on_time + rng.normal(0, 0.03, len(on_time))
    heights = rng.uniform(0.5, 1.0, len(true))
    reference = sum(h * _gauss(t, b, 0.05) for h, b in zip(heights, true, strict=True))
    reference += 0.15 * np.sqrt(50) * uniform_filter1d(rng.standard_normal(n), 50)
    signal = _sound_bursts(true[::2], n)
    assert estimate_period(reference, rate) == pytest.approx(0.8, rel=0.05)
    assert find_beats(np.zeros(n), rate, signal=signal)[1] == 13  # the loudness
    bounds, n_peaks, n_short = find_beats(reference, rate, signal=signal)
    assert n_peaks == len(true) and n_short == 0
    assert len(bounds) == len(true) - 1
    assert _found_near(np.unique(bounds), true * rate).all()


@pytest.mark.parametrize("heights", [(1.0, 1.0, 1.0), (1.0, 0.8, 0.9)])
def test_two_sounds_per_beat_do_not_halve_a_slow_heart(heights):
    # 40 beats a minute, a sound at each beat and one halfway between: the
    # loudness beats every 0.75 s; halved, the two 1.5 s cycles of this short
    # recording would be two periods long, and dropped. With equal pulses the
    # waveform is the more periodic; with pulses of varying height the
    # loudness is, and the waveform's peaks, one every other loudness beat,
    # undo the correction
    rate, n = 1000.0, 4500
    t = np.arange(n) / rate
    true = np.array([0.3, 1.8, 3.3])
    reference = sum(h * _gauss(t, b, 0.03) for h, b in zip(heights, true, strict=True))
    signal = _sound_bursts(np.concatenate([true, true + 0.75]), n)
    assert find_beats(np.zeros(n), rate, signal=signal)[1] == 6  # the loudness
    bounds, n_peaks, n_short = find_beats(reference, rate, signal=signal)
    assert n_peaks == 3 and n_short == 0
    np.testing.assert_array_equal(bounds, find_beats(reference, rate)[0])
    np.testing.assert_allclose(bounds, [[300, 1800], [1800, 3300]], atol=2)


def test_failed_cycles_clipped_share_is_over_max_clipped():
    # a cycle clipped 1 % is kept, one clipped more fails; a recording whose
    # median cycle is clipped more than 1 % keeps every cycle
    share = np.array([0.0, 0.0, 0.0, 0.01, np.nextafter(0.01, 1.0), 0.2])
    q = {"clipped": share, "snr_db": np.full(6, 10.0)}
    assert failed_cycles(q)["clipped"].tolist() == [0, 0, 0, 0, 1, 1]
    at_limit = {"clipped": np.array([0.01, 0.01, 0.5]), "snr_db": np.full(3, 10.0)}
    assert failed_cycles(at_limit)["clipped"].tolist() == [0, 0, 1]
    over = {"clipped": np.array([0.0101, 0.0101, 0.5]), "snr_db": np.full(3, 10.0)}
    assert not failed_cycles(over)["clipped"].any()
