"""The recorder model: each device effect measured on a known signal."""

import numpy as np
import pytest
import soundfile as sf

from vascular_sklearn.containers import Signals
from vascular_sklearn.corpus import RecordingFiles
from vascular_sklearn.datasets import make_recordings
from vascular_sklearn.evaluation import rescaled
from vascular_sklearn.exceptions import RecordingError
from vascular_sklearn.recorder import (
    LEVEL,
    LOUD_SESSION,
    QUIET_SESSION,
    Recorder,
    RecorderRanges,
    converter_step,
    microphone_response,
    quantise,
    rounding_snr_db,
)

RATE = 22050.0


def _tone_amplitude(y: np.ndarray, freq: float) -> float:
    """Amplitude of an exact-bin sinusoid in a 1-s signal."""
    return 2 * np.abs(np.fft.rfft(y))[int(freq)] / len(y)


@pytest.fixture(scope="module")
def busy():
    """One second of a signal moving over many 16-bit levels."""
    return 0.1 * np.random.default_rng(0).standard_normal(int(RATE))


@pytest.mark.parametrize("step", [1, 8, 64])
def test_quantisation_noise_power_is_step_squared_over_12(busy, step):
    error = Recorder(step=step).apply(busy, RATE).astype(np.float64) - busy
    expected = (step * LEVEL) ** 2 / 12
    assert error.var() == pytest.approx(expected, rel=0.05)
    levels = np.round(Recorder(step=step).apply(busy, RATE) / LEVEL)
    assert np.allclose(levels % step, 0)


@pytest.mark.parametrize("step", [1, 33])
def test_the_converter_step_and_its_rounding_noise_are_read_from_the_samples(
    busy, step
):
    quiet = Recorder(gain=0.05, step=step, dc_offset=0.01).apply(busy, RATE)
    assert converter_step(quiet) == pytest.approx(step * LEVEL)
    # the power over the rounding noise q**2 / 12, the share in 0-1 kHz counted
    snr = 10 * np.log10(np.var(0.05 * busy) / ((step * LEVEL) ** 2 / 12))
    assert rounding_snr_db(quiet, RATE) == pytest.approx(
        snr + 10 * np.log10(RATE / 2 / 1000), abs=0.1
    )
    # at 2 kHz all of the noise falls in the band
    assert rounding_snr_db(quiet, 2000.0) == pytest.approx(snr, abs=0.1)
    assert rounding_snr_db(0.05 * busy, RATE) > 80  # unquantised: no grid
    assert rounding_snr_db(np.full(100, 0.5), RATE) == -np.inf


def test_the_converter_step_of_integer_samples_does_not_wrap():
    # np.diff of int16 levels 60000 apart wrapped to -5536: a negative step
    pcm = np.array([-30000, 30000] * 1000, np.int16)
    assert converter_step(pcm) == 60000.0


def test_gain_is_exact_and_dc_offset_adds():
    x = np.linspace(-1, 1, 101)
    y = Recorder(gain=0.37, step=None, clip_level=None).apply(x, RATE)
    np.testing.assert_allclose(y, (0.37 * x).astype(np.float32))
    shifted = Recorder(step=None, dc_offset=0.01).apply(0.5 * x, RATE)
    np.testing.assert_allclose(shifted - 0.5 * x, 0.01, atol=1e-7)


@pytest.mark.parametrize("tilt", [-3.0, 4.5])
def test_microphone_tilt_in_db_per_octave(tilt):
    t = np.arange(int(RATE)) / RATE
    freqs = [250.0, 500.0, 1000.0, 2000.0]
    x = sum(0.1 * np.sin(2 * np.pi * f * t) for f in freqs)
    y = Recorder(step=None, tilt_db_per_octave=tilt).apply(x, RATE)
    db = [20 * np.log10(_tone_amplitude(y, f) / 0.1) for f in freqs]
    np.testing.assert_allclose(np.diff(db), tilt, atol=0.05)
    assert db[2] == pytest.approx(0.0, abs=0.05)  # 1 kHz is the reference


def test_microphone_response_keeps_the_start_deaf_to_the_end():
    # an FFT of the recording alone would wrap its end round onto its start
    n = 22051  # a prime length, padded to a fast one
    x = np.linspace(0.0, 0.5, n)
    cut = x.copy()
    cut[-n // 4 :] = 0.0
    dull = Recorder(step=None, tilt_db_per_octave=-3.0, resonance_hz=300.0)
    start = slice(0, n // 2)
    np.testing.assert_allclose(
        dull.apply(x, RATE)[start], dull.apply(cut, RATE)[start], atol=1e-3
    )


def test_resonance_peaks_at_its_centre():
    freqs = np.array([200.0, 400.0, 800.0, 1600.0])
    db = microphone_response(freqs, resonance_hz=400.0, resonance_db=9.0)
    assert db[1] == pytest.approx(9.0)
    np.testing.assert_allclose(db[[0, 2]], 9.0 * np.exp(-0.5 * 2**2))


def test_clipping_limits_the_level():
    x = np.sin(np.linspace(0, 20, 2000))
    y = Recorder(gain=2.0, step=None, clip_level=0.5).apply(x, RATE)
    assert y.max() == pytest.approx(0.5) and y.min() == pytest.approx(-0.5)
    assert np.mean(np.abs(y) == 0.5) > 0.5


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_sample_that_is_no_number_is_refused_not_spread(bad):
    """Through the microphone's FFT one NaN made the whole recording NaN; with
    a flat microphone inf was written as full scale."""
    x = np.zeros(200)
    x[100] = bad
    for device in (Recorder(tilt_db_per_octave=-2.0), Recorder()):
        with pytest.raises(ValueError, match="1 NaN or infinite"):
            device.apply(x, RATE)


def test_noise_levels_in_dbfs_and_pink_slope():
    n = 2**18
    white = Recorder(step=None, white_noise_db=-40.0).apply(np.zeros(n), RATE, 0)
    assert np.sqrt(np.mean(white.astype(np.float64) ** 2)) == pytest.approx(
        0.01, rel=0.02
    )
    pink = Recorder(step=None, pink_noise_db=-40.0).apply(np.zeros(n), RATE, 0)
    power = np.abs(np.fft.rfft(pink)) ** 2
    f = np.fft.rfftfreq(n, 1 / RATE)
    band = [power[(f >= lo) & (f < 2 * lo)].mean() for lo in (100.0, 200.0, 400.0)]
    # 1/f power: -3 dB per octave
    np.testing.assert_allclose(np.diff(10 * np.log10(band)), -3.0, atol=0.3)


def test_output_sample_rate():
    x = np.sin(np.arange(int(RATE)) / 5.0)
    X = Signals.from_arrays([x], RATE, names=["a"])
    out = Recorder(step=None, sample_rate=8000.0).record(X)
    assert out.sample_rate == 8000.0 and len(out.data[0]) == 8000
    # the converter rounds at its own rate: its samples lie on its grid
    coarse = Recorder(gain=0.1, step=32.0, sample_rate=8000.0).record(X).data[0]
    assert converter_step(coarse) == pytest.approx(32 * LEVEL)
    # the noise floor is stated at the converter's rate, whatever came in
    silence = Signals.from_arrays([np.zeros(2 * int(RATE))], RATE)
    for rate in (4000.0, 44100.0):
        hiss = Recorder(step=None, white_noise_db=-40.0, sample_rate=rate)
        y = hiss.record(silence, random_state=0).data[0]
        assert 20 * np.log10(np.std(y)) == pytest.approx(-40.0, abs=0.3)
    # a DC offset is the same at the ends: no click where the recording starts
    for rate in (2000.0, 8000.0, 44100.0):
        offset = Recorder(step=None, dc_offset=0.05, clip_level=None, sample_rate=rate)
        y = offset.record(silence).data[0]
        np.testing.assert_allclose(y, 0.05, atol=1e-4)
    with pytest.raises(ValueError, match=r"recorder\.sample_rate=8000 differs"):
        make_recordings(1, 1, recorder=Recorder(sample_rate=8000.0))


def test_ranges_draw_repeatably_within_bounds():
    ranges = RecorderRanges(step=(1.0, 64.0), resonance_hz=None)
    first = [ranges.draw(np.random.RandomState(5)) for _ in range(2)]
    assert first[0] == first[1]
    many = [ranges.draw(np.random.RandomState(k)) for k in range(200)]
    steps = np.array([r.step for r in many])
    assert steps.min() >= 1.0 and steps.max() <= 64.0
    # log-uniform: the median step is near the geometric mean, 8
    assert 5.0 < np.median(steps) < 12.0
    assert all(r.resonance_hz is None for r in many)
    # None leaves any effect out: the neutral device where it takes no None
    bare = RecorderRanges(**dict.fromkeys(RecorderRanges.__dataclass_fields__))
    x = np.linspace(-0.5, 0.5, 50)
    np.testing.assert_allclose(bare.draw(0).apply(x, RATE), x, atol=1e-7)


@pytest.mark.parametrize(
    ("ranges", "message"),
    [
        ({"gain": (0.0, 1.0)}, r"gain=\(0\.0, 1\.0\): .* log-uniformly, so 0 < low"),
        ({"step": (8.0, 2.0)}, "step=.* low <= high"),
        ({"dc_offset": (0.0, float("inf"))}, "both finite"),
        ({"clip_level": 0.5}, r"clip_level=0\.5: give a range \(low, high\) or None"),
    ],
)
def test_ranges_that_cannot_be_drawn_are_refused_when_made(ranges, message):
    # they failed at the first draw, deep in a fit's augmentation
    with pytest.raises(ValueError, match=message):
        RecorderRanges(**ranges)


def test_rescaled_is_a_recorder(tmp_path):
    X = Signals.from_arrays([np.linspace(-0.5, 0.5, 50)], RATE)
    got = rescaled(X, 0.1, step=33 * LEVEL)
    want = Recorder(gain=0.1, step=33).record(X)
    np.testing.assert_array_equal(got.data[0], want.data[0])
    # the audit of a manifest's or a lazy corpus's files reads them first
    sf.write(tmp_path / "a.wav", X.data[0], int(RATE), subtype="FLOAT")
    files = RecordingFiles.from_paths([tmp_path / "a.wav"])
    np.testing.assert_array_equal(
        rescaled(files, 0.1, step=33 * LEVEL).data[0], got.data[0]
    )


def test_simulator_keeps_the_vessels_and_links_sessions_to_labels():
    kwargs = {"n_patients": 6, "recordings_per_patient": 2, "duration": 3.0}
    plain = make_recordings(random_state=3, **kwargs)
    confounded = make_recordings(
        random_state=3, recorder="sessions", confound=1.0, **kwargs
    )
    independent = make_recordings(
        random_state=3, recorder="sessions", confound=0.0, **kwargs
    )
    for a, b in zip(plain.beat_times, confounded.beat_times, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(confounded.session_kind, confounded.target)
    assert all(isinstance(r, Recorder) for r in confounded.recorders)
    # quiet sessions resolve far fewer levels than loud ones
    levels = [len(np.unique(x)) for x in confounded.recordings.data]
    quiet = np.array(levels)[confounded.session_kind == 1]
    loud = np.array(levels)[confounded.session_kind == 0]
    assert quiet.max() < loud.min()
    assert not np.array_equal(independent.session_kind, independent.target)
    with pytest.raises(ValueError, match="two recorder pools"):
        make_recordings(confound=0.5, **kwargs)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        make_recordings(recorder="sessions", confound=1.5, **kwargs)
    assert LOUD_SESSION.gain[0] > QUIET_SESSION.gain[1]


def test_dc_offset_is_added_after_the_gain():
    # the offset is added after the gain: it does not shrink with a quiet device
    y = Recorder(gain=0.1, step=None, dc_offset=0.01).apply(np.zeros(100), RATE)
    np.testing.assert_allclose(y, 0.01, atol=1e-7)


def test_white_and_pink_noise_add_up():
    # both noises set give both: 3 dB over either alone
    both = Recorder(step=None, white_noise_db=-40.0, pink_noise_db=-40.0)
    y = both.apply(np.zeros(2**16), RATE, 0).astype(np.float64)
    assert 20 * np.log10(y.std()) == pytest.approx(-40.0 + 10 * np.log10(2), abs=0.3)


def test_each_recording_gets_its_own_noise():
    # one random_state still gives each recording noise of its own
    X = Signals.from_arrays([np.zeros(1000), np.zeros(1000)], RATE)
    out = Recorder(step=None, white_noise_db=-40.0).record(X, random_state=0)
    assert not np.array_equal(out.data[0], out.data[1])


def test_rounding_noise_share_is_at_most_all_of_it():
    # the in-band share of the rounding noise is at most 1: a recorder whose
    # Nyquist frequency lies below the band gains no 3 dB (at 1 kHz) for nothing
    x = quantise(0.01 * np.random.default_rng(0).standard_normal(4000), step=32)
    full_band = 10 * np.log10(np.var(x) / ((32 * LEVEL) ** 2 / 12))
    assert rounding_snr_db(x, 1000.0) == pytest.approx(full_band, abs=0.1)


def test_clipping_holds_when_the_error_is_filtered():
    # the clean sound is clipped too: with an error_filter (the augmentation's
    # lowpass) a clipping device must not let the full level through
    x = np.sin(np.linspace(0, 20, 2000))
    y = Recorder(gain=2.0, step=None, clip_level=0.5).apply(
        x, RATE, error_filter=np.zeros_like
    )
    assert np.abs(y).max() == pytest.approx(0.5)


def test_recordings_come_back_as_float32():
    # float32 is the documented return type
    assert Recorder().apply(np.zeros(10), RATE).dtype == np.float32


@pytest.mark.parametrize(
    "params, message",
    [
        ({"step": 0}, "step=0"),
        ({"step": -2.0}, "step=-2.0"),
        ({"step": float("nan")}, "step=nan"),
        ({"gain": float("nan")}, "gain=nan"),
        ({"gain": 0}, "gain=0"),
        ({"dc_offset": float("inf")}, "dc_offset=inf"),
        ({"clip_level": 0.0}, "clip_level=0.0"),
        ({"clip_level": -0.5}, "clip_level=-0.5"),
        # each wrote NaN, infinities or zeros throughout, without a word
        ({"reference_hz": 0, "tilt_db_per_octave": 3.0}, "reference_hz=0"),
        ({"resonance_hz": -100.0, "resonance_db": 6.0}, "resonance_hz=-100.0"),
        ({"resonance_hz": 300.0, "resonance_octaves": 0}, "resonance_octaves=0"),
        ({"white_noise_db": float("nan")}, "white_noise_db=nan"),
        ({"pink_noise_db": float("inf"), "clip_level": None}, "pink_noise_db=inf"),
    ],
)
def test_a_device_that_would_write_nan_or_a_constant_is_refused_at_call(
    params, message
):
    device = Recorder(**params)  # made freely; refused where it is used
    x = 0.1 * np.sin(np.arange(1000) / 10)
    with pytest.raises(ValueError, match=message):
        device.apply(x, RATE)
    X = Signals.from_arrays([x], RATE)
    with pytest.raises(ValueError, match=message):
        device.record(X)


@pytest.mark.parametrize("step", [0, -1.0, float("nan"), float("inf")])
def test_quantise_refuses_a_step_that_rounds_to_nan(step):
    with pytest.raises(ValueError, match="step="):
        quantise(np.array([0.1, -0.2]), step)


@pytest.mark.parametrize("rate", [0, -22050.0, float("nan")])
def test_a_rate_that_is_no_rate_is_named_not_divided_by(rate):
    x = quantise(0.01 * np.sin(np.arange(4000) / 7.0), 32)
    with pytest.raises(ValueError, match="sample_rate="):
        rounding_snr_db(x, rate)
    with pytest.raises(ValueError, match="sample_rate="):
        Recorder(tilt_db_per_octave=2.0).apply(x, rate)


def test_a_device_records_one_recording_not_a_table():
    with pytest.raises(ValueError, match=r"shape \(10, 2\)"):
        Recorder().apply(np.zeros((10, 2)), RATE)


@pytest.mark.parametrize(
    ("ranges", "message"),
    [
        ({"clip_level": (-0.2, 1.0)}, r"clip_level=\(-0\.2, 1\.0\): .* above 0"),
        ({"clip_level": (0.0, 1.0)}, r"clip_level=\(0\.0, 1\.0\): .* 0 < low"),
        ({"gain": "12"}, r"gain='12': give a range \(low, high\) or None"),
    ],
)
def test_ranges_the_drawn_recorder_refuses_are_refused_when_made(ranges, message):
    # a clip level below 0 was refused only when a draw reached it: for some
    # seeds make_recordings ran, for others it failed; "12" was (1.0, 2.0)
    with pytest.raises(ValueError, match=message):
        RecorderRanges(**ranges)


def test_a_fixed_range_draws_its_value_as_given():
    fixed = {"gain": (0.1, 0.1), "step": (24.0, 24.0), "resonance_hz": (3.0, 3.0)}
    device = RecorderRanges(**fixed).draw(0)
    assert (device.gain, device.step, device.resonance_hz) == (0.1, 24.0, 3.0)
    # the fixed fields still take their draw: the others are drawn as before
    other = RecorderRanges(gain=(0.2, 0.2), step=(8.0, 8.0), resonance_hz=(5.0, 5.0))
    assert other.draw(0).tilt_db_per_octave == device.tilt_db_per_octave
    data = make_recordings(
        n_patients=2,
        recordings_per_patient=1,
        duration=0.5,
        sample_rate=2000,
        random_state=0,
        recorder=RecorderRanges(step=(24.0, 24.0)),
    )
    assert [r.step for r in data.recorders] == [24.0, 24.0]
    assert np.isfinite(data.recordings[0]).all()


@pytest.mark.parametrize(
    ("x", "message"),
    [
        (np.array([1000, -2000], np.int16), "int16 samples.*x / 32768"),
        (np.array([True, False]), "bool samples"),
        (np.array([0.1 + 0.1j, 0.2]), "complex samples"),
    ],
)
def test_pcm_and_complex_samples_are_refused_not_saturated(x, message):
    # int16 PCM was taken as full-scale units: every sample clipped to +-1
    with pytest.raises(RecordingError, match=message):
        Recorder().apply(x, RATE)
    X = Signals.from_arrays([x], sample_rate=RATE, names=["pcm.wav"])
    for record in (Recorder().record, lambda X: rescaled(X, 0.5)):
        with pytest.raises(RecordingError, match="pcm.wav: " + message):
            record(X)


def test_record_asks_for_signals_not_a_list():
    for record in (Recorder().record, lambda X: rescaled(X, 0.5)):
        with pytest.raises(TypeError, match=r"Signals\.from_arrays"):
            record([np.zeros(10)])


def test_clicks_on_a_constant_between_the_samples_read_are_not_silence():
    # the step is read from 2**15 samples: a click between them left one
    # value, step 0, and screening called the file "silent (every sample
    # holds the same value)"
    x = np.zeros(int(5 * RATE), np.float32)
    x[1001] = 0.5
    assert converter_step(x) == 0.5
    assert np.isfinite(rounding_snr_db(x, RATE))
    assert converter_step(np.zeros_like(x)) == 0.0  # silence is still silence


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_the_converter_is_not_read_from_samples_that_are_no_number(bad):
    x = np.array([0.1, bad, 0.2, 0.3])
    with pytest.raises(ValueError, match="1 NaN or infinite samples"):
        converter_step(x)
    with pytest.raises(ValueError, match="1 NaN or infinite samples"):
        rounding_snr_db(x, RATE)
    # one between the samples the step is read from still spoils the power
    long = quantise(0.01 * np.sin(np.arange(2**16) / 7.0), 32)
    long[1] = bad
    assert np.isfinite(converter_step(long))
    with pytest.raises(ValueError, match="1 NaN or infinite samples"):
        rounding_snr_db(long, RATE)


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"lowest_hz": 0.0}, "lowest_hz"),
        ({"lowest_hz": float("nan")}, "lowest_hz"),
        ({"reference_hz": 0.0}, "reference_hz"),
        ({"reference_hz": -1000.0}, "reference_hz"),
        ({"resonance_hz": 0.0, "resonance_db": 6.0}, "resonance_hz"),
        (
            {"resonance_hz": 300.0, "resonance_db": 6.0, "resonance_octaves": 0.0},
            "resonance_octaves",
        ),
    ],
)
def test_microphone_response_refuses_a_frequency_off_its_log_axis(params, name):
    # 0 Hz on a log-frequency axis gave gains of +-inf dB
    with pytest.raises(ValueError, match=f"{name}=.*finite number above 0"):
        microphone_response(np.array([0.0, 100.0]), -3.0, **params)


@pytest.mark.parametrize("clip_level", [None, float("inf")])
def test_a_gain_past_float32_is_refused_not_written_as_inf(clip_level):
    x = np.array([0.1, -0.2])
    device = Recorder(gain=1e40, step=None, clip_level=clip_level)
    with pytest.raises(ValueError, match=r"gain=1e\+40 .* float32"):
        device.apply(x, RATE)
    X = Signals.from_arrays([x], sample_rate=RATE)
    with pytest.raises(ValueError, match=r"gain=1e\+40"):
        rescaled(X, 1e40, clip=False)
    # clipped, the same gain writes full scale
    np.testing.assert_array_equal(Recorder(gain=1e40).apply(x, RATE), [1.0, -1.0])
