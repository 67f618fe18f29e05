"""The device-robust steps: the noise-floor harmonizer and recorder augmentation."""

import copy
import dataclasses

import numpy as np
import pytest
from scipy.signal import welch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from vascular_sklearn import (
    LowpassFilter,
    MeanSmoother,
    PeakCycleCutter,
    RecordingError,
    STFTSpectrogram,
    make_stenosis_pipeline,
)
from vascular_sklearn.containers import CycleBags, Signals, object_array
from vascular_sklearn.datasets import make_recordings
from vascular_sklearn.recorder import (
    LOUD_SESSION,
    QUIET_SESSION,
    Recorder,
    RecorderRanges,
)
from vascular_sklearn.robustness import (
    NoiseFloorHarmonizer,
    RecorderAugmentation,
    noise_floor_psd,
)


@pytest.fixture(scope="module")
def bags(data):
    chain = [LowpassFilter(), MeanSmoother(method="median"), PeakCycleCutter()]
    Xt = data.recordings
    for step in chain:
        Xt = step.fit_transform(Xt)
    return Xt


def _noise_db(x, rate, lo=600.0, hi=900.0) -> float:
    """Mean power density between the burst's band and the lowpass, in dB."""
    f, psd = welch(np.asarray(x, np.float64), rate, nperseg=1024)
    return 10 * np.log10(psd[(f >= lo) & (f < hi)].mean() + 1e-30)


def _fine_and_coarse(rate: float) -> CycleBags:
    """One vessel on a 16-bit converter and on the seed's quiet recorder."""
    t = np.arange(int(8 * rate)) / rate
    # a clean pulse every 0.8 s with a 400 Hz burst in systole: no floor of its own
    phase = (t % 0.8) / 0.8
    x = np.exp(-0.5 * ((phase - 0.3) / 0.05) ** 2)
    x = x + 0.05 * x * np.sin(2 * np.pi * 400 * t)
    x *= 0.17 / x.std()  # as loud as the seed's loud sessions
    fine = Recorder(step=1).apply(x, rate)
    # the seed's quiet-recorder audit: x0.1 on a converter with 32-level steps
    coarse = Recorder(gain=0.1, step=32).apply(x, rate) / np.float32(0.1)
    return PeakCycleCutter().fit_transform(Signals.from_arrays([fine, coarse], rate))


def test_harmonizer_brings_fine_and_coarse_devices_to_one_floor():
    rate = 22050.0
    cut = _fine_and_coarse(rate)
    fine = cut.signals.data[0]
    before = [_noise_db(s, rate) for s in cut.signals.data]
    assert before[1] - before[0] > 10  # the coarse converter's floor shows
    even = NoiseFloorHarmonizer(snr_db=30).fit_transform(cut)
    after = [_noise_db(s, rate) for s in even.signals.data]
    assert abs(after[1] - after[0]) < 1.0
    # the target: a white floor 30 dB below the recording's power in each kHz
    rms2 = np.var(fine.astype(np.float64))
    assert after[0] == pytest.approx(10 * np.log10(rms2 * 1e-3 / 1000), abs=1.5)
    for a, b in zip(even.bounds, cut.bounds, strict=True):
        np.testing.assert_array_equal(a, b)  # the cuts stay


def test_harmonizer_floor_is_the_same_at_every_rate():
    # a density per Hz: a total up to the Nyquist frequency would put the floor
    # of the same vessel 13 dB lower at 44.1 kHz than at 2 kHz
    floors = []
    for rate in (2000.0, 8000.0, 22050.0, 44100.0):
        cut = _fine_and_coarse(rate)
        even = NoiseFloorHarmonizer(snr_db=30).fit_transform(cut)
        power = 10 * np.log10(np.var(cut.signals.data[0].astype(np.float64)))
        floors.append(_noise_db(even.signals.data[0], rate) - power)
    # 30 dB below the power in each 1000 Hz: -60 dB per Hz
    np.testing.assert_allclose(floors, -60.0, atol=1.0)


def test_harmonizer_brings_fine_and_coarse_devices_to_one_resolution():
    cut = _fine_and_coarse(22050.0)
    levels = [len(np.unique(s)) for s in cut.signals.data]
    assert levels[0] > 20 * levels[1]  # 16-bit against 32-level steps
    # a floor far below both converters: the common step alone acts
    even = NoiseFloorHarmonizer(snr_db=200, step_snr_db=20).fit_transform(cut)
    levels = []
    for x, before in zip(even.signals.data, cut.signals.data, strict=True):
        rms = np.std(before.astype(np.float64))
        q = rms * np.sqrt(12) / 10  # rounding noise 20 dB below the power
        np.testing.assert_allclose(x / q, np.round(x / q), atol=1e-3)
        levels.append(len(np.unique(np.round(x / q))))
    assert abs(levels[0] - levels[1]) <= 1 and levels[0] < 40


@pytest.mark.parametrize(
    ("subtract_mean", "floor_db", "axes", "left"),
    # the cycle's soft floor lies 40 dB below its mean power: the rows a dull
    # microphone pushes towards it keep part of the tilt (measured 0.25)
    [(True, 80.0, (0, 2), 0.2), ("cycle", 40.0, (2,), 0.3)],
    ids=["recording", "cycle"],
)
def test_mean_subtraction_removes_a_microphone_but_keeps_the_beat(
    bags, subtract_mean, floor_db, axes, left
):
    rate = bags.sample_rate
    x = bags.signals.data[0].astype(np.float64)
    x *= 0.3 / np.abs(x).max()
    # a dull stethoscope (-3 dB per octave) at a tenth of the gain, 16-bit
    dull = Recorder(gain=0.1, tilt_db_per_octave=-3.0).apply(x, rate)
    fine = Recorder().apply(x, rate)

    def images(signal, subtract_mean, floor_db=80.0):
        one = CycleBags(
            Signals.from_arrays([signal], rate), bags.bounds[:1], bags.n_peaks[:1]
        )
        step = STFTSpectrogram(
            log=True,
            floor_db=floor_db,
            max_frequency=1000.0,
            subtract_mean=subtract_mean,
        )
        return step.fit_transform(one).images[:, 0]

    plain = np.abs(images(dull, False) - images(fine, False)).mean()
    fine_img = images(fine, subtract_mean, floor_db)
    kept = np.abs(images(dull, subtract_mean, floor_db) - fine_img).mean()
    assert plain > 1.0  # log units: the tilt moves the image by several dB
    assert kept < left * plain
    # each row of the recording (or of each cycle) averages zero (but where
    # the floor lifts a bin); what is left changes over the beat
    np.testing.assert_allclose(fine_img.mean(axis=axes), 0.0, atol=0.01)
    assert fine_img.std(axis=2).mean() > 0.5
    with pytest.raises(ValueError, match="log=True"):
        STFTSpectrogram(subtract_mean=subtract_mean).fit(bags)


@pytest.mark.parametrize("subtract_mean", ["cycle", False])
def test_a_dc_offset_leaves_the_image_alone_once_removed(bags, subtract_mean):
    """An offset of half the cycle's peak: with ``remove_dc`` every image is
    that of the sound alone; without it the offset's power lifts the floor,
    which moves the rows above the offset's own (0 and 50 Hz) too."""
    signal = bags.signals.data[0]
    offset = 0.5 * np.abs(signal).max()

    def images(x, remove_dc):
        one = CycleBags(
            Signals.from_arrays([x], bags.sample_rate),
            bags.bounds[:1],
            bags.n_peaks[:1],
        )
        step = STFTSpectrogram(
            log=True,
            floor_db=40.0,
            subtract_mean=subtract_mean,
            remove_dc=remove_dc,
            max_frequency=1000.0,
        )
        return step.fit_transform(one).images

    for remove_dc, moved in [(True, False), (False, True)]:
        change = np.abs(images(signal + offset, remove_dc) - images(signal, remove_dc))
        assert bool(change[:, :, 2:].max() > 0.1) is moved, (remove_dc, change.max())


def test_default_network_answers_alike_at_any_dc_offset(data, fitted_default):
    """The default ResNet50 with its harmonizer and augmentation: an offset of
    a twentieth of full scale (larger than any in the seed recordings, which
    reach a hundredth) moves no answer, while the same network reading the
    offset in its images (``remove_dc=False``) is moved by it."""
    model = copy.deepcopy(fitted_default)
    assert model.get_params()["spectrogram__remove_dc"] is True
    X = data.recordings
    offset = Signals.from_arrays([x + np.float32(0.05) for x in X.data], X.sample_rate)
    p = model.predict_proba(X)[:, 1]
    assert np.ptp(p) > 1e-2, np.ptp(p)  # answers that tell the recordings apart
    np.testing.assert_allclose(model.predict_proba(offset)[:, 1], p, atol=2e-3)
    model.set_params(spectrogram__remove_dc=False)
    moved = model.predict_proba(offset)[:, 1] - model.predict_proba(X)[:, 1]
    assert np.abs(moved).max() > 2e-3, np.abs(moved).max()


def test_spectrum_of_each_cycle_needs_a_floor(bags):
    with pytest.raises(ValueError, match="floor_db"):
        STFTSpectrogram(log=True, subtract_mean="cycle").fit(bags)


def test_harmonizer_treats_each_augmented_run_as_a_recording(bags):
    one = bags[[0]]
    x, b = one.signals.data[0], one.bounds[0]
    quiet = (0.01 * x).astype(np.float32)
    both = CycleBags(
        Signals.from_arrays([np.concatenate([x, quiet])], bags.sample_rate),
        bounds=np.array([np.concatenate([b, b + len(x)])], dtype=object),
    )
    step = NoiseFloorHarmonizer(random_state=0).fit(one)
    runs = dataclasses.replace(both, runs=object_array([np.array([0, len(x)])]))
    apart = [
        step.transform(
            CycleBags(Signals.from_arrays([s], bags.sample_rate), one.bounds)
        ).signals.data[0]
        for s in (x, quiet)
    ]
    np.testing.assert_array_equal(
        step.transform(runs).signals.data[0], np.concatenate(apart)
    )
    # as one recording, the quiet run would get the loud run's floor
    whole = step.transform(both).signals.data[0]
    assert (
        _noise_db(whole[len(x) :], bags.sample_rate)
        > _noise_db(apart[1], bags.sample_rate) + 10
    )


@pytest.mark.parametrize(
    "param, value",
    [
        ("snr_db", np.nan),
        ("snr_db", -np.inf),
        ("step_snr_db", np.inf),
        ("step_snr_db", -50.0),
        ("random_state", 2**32),
    ],
)
def test_harmonizer_refuses_a_level_that_is_no_level(bags, param, value):
    """Each gave a silently wrong answer (NaN signals, a recording rounded to
    0) or numpy's error from inside fit_transform."""
    step = NoiseFloorHarmonizer(**{param: value})
    with pytest.raises(ValueError, match=f"The '{param}' parameter"):
        step.fit_transform(bags[[0]])


def test_harmonizer_noise_follows_the_recording_not_the_batch(bags):
    step = NoiseFloorHarmonizer(random_state=3).fit(bags)
    whole = step.transform(bags)
    alone = step.transform(bags[[2]])
    np.testing.assert_array_equal(whole.signals.data[2], alone.signals.data[0])
    other = NoiseFloorHarmonizer(random_state=4).fit(bags).transform(bags[[2]])
    assert not np.array_equal(other.signals.data[0], alone.signals.data[0])


def test_harmonizer_gives_each_training_recording_noise_of_its_own(bags):
    """In training, two recordings of one length (here one recording twice)
    draw noise of their own, the same again for the same ``random_state``, at
    the floor they meet at predict, where they share their length's noise."""
    twice = bags[[0, 0]]
    step = NoiseFloorHarmonizer(random_state=0)
    fitted = step.fit_transform(twice).signals.data
    assert not np.array_equal(fitted[0], fitted[1])
    again = clone(step).fit_transform(twice).signals.data
    np.testing.assert_array_equal(again[1], fitted[1])
    served = step.transform(twice).signals.data
    np.testing.assert_array_equal(served[0], served[1])
    rate = bags.sample_rate
    assert abs(_noise_db(fitted[1], rate) - _noise_db(served[1], rate)) < 1.0


def test_augmentation_acts_in_fit_only_and_repeats(bags):
    aug = RecorderAugmentation(n_copies=2, cycles_per_copy=4, random_state=0)
    grown = aug.fit_transform(bags)
    assert len(grown) == len(bags)
    np.testing.assert_array_equal(
        grown.n_cycles, bags.n_cycles + 2 * np.minimum(bags.n_cycles, 4)
    )
    assert aug.transform(bags) is bags  # nothing is augmented at predict
    again = clone(aug).fit_transform(bags)
    for a, b in zip(grown.signals.data, again.signals.data, strict=True):
        np.testing.assert_array_equal(a, b)
    other = clone(aug).set_params(random_state=1).fit_transform(bags)
    assert not np.array_equal(grown.signals.data[0], other.signals.data[0])
    # the augmented runs are the recording's own cycles through another device
    first = grown.cycles(0)
    n = bags.n_cycles[0]
    own = zip(first[:n], bags.cycles(0), strict=True)
    assert all(np.array_equal(a, b) for a, b in own)
    assert not any(np.array_equal(c, bags.cycles(0)[0]) for c in first[n:])
    # each run's start is recorded, and survives indexing
    starts = grown.runs[0]
    assert starts[0] == 0 and len(starts) == 3
    assert starts[1] == len(bags.signals.data[0])
    np.testing.assert_array_equal(grown[[0]].runs[0], starts)
    # the quality report describes what was recorded, not the training copies
    assert grown.quality() == bags.quality()


def test_augmentation_in_a_pipeline_fit_changes_only_training(data):
    from sklearn.pipeline import make_pipeline

    chain = make_pipeline(
        LowpassFilter(),
        MeanSmoother(method="median"),
        PeakCycleCutter(),
        RecorderAugmentation(n_copies=1, cycles_per_copy=2, random_state=0),
    )
    trained = chain.fit_transform(data.recordings)
    predicted = chain.transform(data.recordings)
    cut = chain[:-1].transform(data.recordings)
    np.testing.assert_array_equal(predicted.n_cycles, cut.n_cycles)
    assert (trained.n_cycles > cut.n_cycles).all()


def test_augmentation_devices_come_from_the_ranges(bags):
    loud_only = RecorderRanges(
        gain=(1.0, 1.0),
        step=None,
        white_noise_db=None,
        pink_noise_db=None,
        tilt_db_per_octave=(0.0, 0.0),
        resonance_hz=None,
        clip_level=None,
        dc_offset=(0.0, 0.0),
    )
    aug = RecorderAugmentation(n_copies=1, cycles_per_copy=None, ranges=loud_only)
    grown = aug.fit_transform(bags[[0]])
    # an identity device at unit peak gain: the same recording, scaled to peak 1
    b = bags.bounds[0]
    heard = bags.signals.data[0][b[0, 0] : b[-1, 1]]
    again = grown.signals.data[0][grown.runs[0][1] :]
    np.testing.assert_allclose(again, heard / np.abs(heard).max(), atol=1e-6)
    np.testing.assert_array_equal(
        grown.bounds[0][len(b) :] - grown.runs[0][1], b - b[0, 0]
    )


def test_steps_refuse_other_input_and_need_fit(bags):
    for step in (NoiseFloorHarmonizer(), RecorderAugmentation()):
        with pytest.raises(TypeError, match="CycleBags"):
            clone(step).fit([np.zeros(10)])
        with pytest.raises(NotFittedError):
            clone(step).transform(bags)


def _nan_in_cycle_1(x, bounds):
    x = x.copy()
    x[bounds[1, 0]] = np.nan
    return x


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda x, b: np.round(x * 32767).astype(np.int16), ": int16 samples"),
        (_nan_in_cycle_1, r", cycle 1 \(samples \d+ to \d+\): NaN or infinite"),
        (lambda x, b: np.r_[x[:-1], np.inf], ": 1 samples are NaN or infinite"),
    ],
)
@pytest.mark.parametrize("step", [NoiseFloorHarmonizer(), RecorderAugmentation()])
def test_hand_made_bags_of_counts_or_nan_are_refused_by_name(bags, make, message, step):
    # int16 bags came out of the augmentation in counts with its added runs in
    # full-scale units, 30000 times apart; NaN spread through the harmonizer
    one = bags[[0]]
    x, bounds = one.signals.data[0], one.bounds[0]
    assert bounds[-1, 1] < len(x)  # the last sample lies in no cycle
    bad = dataclasses.replace(
        one,
        signals=Signals.from_arrays(
            [make(x, bounds)], one.sample_rate, names=["b.wav"]
        ),
    )
    with pytest.raises(RecordingError, match=r"^b\.wav" + message):
        clone(step).fit_transform(bad)
    with pytest.raises(RecordingError, match=r"^b\.wav" + message):
        clone(step).fit(one).transform(bad)


def test_augmenting_augmented_bags_keeps_the_earlier_runs(bags):
    # the earlier original-and-copy signal became one run, so a harmonizer
    # after levelled two devices' floors together, and quality() read the
    # copy as part of the recording
    once = RecorderAugmentation(n_copies=1, random_state=0).fit_transform(bags[[0]])
    twice = RecorderAugmentation(n_copies=1, random_state=1).fit_transform(once)
    assert len(once.runs[0]) == 2
    np.testing.assert_array_equal(twice.runs[0][:2], once.runs[0])
    assert len(twice.runs[0]) == 3 and twice.runs[0][2] == len(once.signals.data[0])
    assert twice.quality() == once.quality() == bags[[0]].quality()


def test_augmented_beats_a_device_silenced_are_left_out(bags):
    # a device so quiet that its converter rounds every beat to one level (as
    # at 2 kHz, where no lowpass shapes the rounding error): its cycles would
    # be constant images, so none is added
    mute = RecorderRanges(
        gain=(1e-4, 1e-4),
        step=(40.0, 40.0),
        white_noise_db=None,
        pink_noise_db=None,
        resonance_hz=None,
        clip_level=None,
    )
    # and as at 22.05 kHz, where the lowpassed rounding error leaves a faint,
    # never quite flat copy of the sound: read from what the converter wrote
    for cutoff in (None, 1000.0):
        aug = RecorderAugmentation(
            n_copies=2,
            cycles_per_copy=4,
            ranges=mute,
            lowpass_cutoff=cutoff,
            random_state=0,
        )
        grown = aug.fit_transform(bags)
        added = grown.n_cycles - bags.n_cycles
        assert (added < 2 * np.minimum(bags.n_cycles, 4)).all()
        STFTSpectrogram().fit_transform(grown)  # no constant cycle to refuse


def test_augmentation_makes_the_network_deaf_to_a_microphone_with_the_label():
    """The default ResNet50 with and without recorder augmentation, trained
    where a duller microphone goes with stenosis: recorded again through that
    microphone, loud test vessels are pushed toward stenosis without
    augmentation, and less with it (0.11 against 0.38 here; how much less
    varies with the machine, so only "less" is asserted).

    The measure is the mean *signed* change of the answer: a network that
    learned the microphone moves every vessel one way; one that did not moves
    them by its own training noise, both ways. That noise changes with
    floating point from one machine to the next: an earlier form of this test
    (the unsigned median, on the 80 dB spectrogram) measured 0.06 with
    augmentation against 0.28 without on one machine, 0.19 against 0.26 on
    another. The confound benchmark (12 patients, three seeds) measures how
    far the microphone moves the answer.
    """
    dull = dataclasses.replace(
        LOUD_SESSION, tilt_db_per_octave=QUIET_SESSION.tilt_db_per_octave
    )
    kwargs = {"duration": 6.0, "heart_rate": (55.0, 110.0)}
    train = make_recordings(
        n_patients=6,
        random_state=1,
        recorder=(LOUD_SESSION, dull),
        confound=1.0,
        **kwargs,
    )
    assert (train.session_kind == train.target).all()
    test, again = (
        make_recordings(n_patients=6, random_state=2, recorder=r, **kwargs)
        for r in (LOUD_SESSION, dull)
    )
    np.testing.assert_array_equal(again.target, test.target)

    def push(random_state: int, **params) -> float:
        # three epochs, not the default five: the trap shows as well (see
        # below), and each fit takes about 25 s rather than 34 on 2 cores
        model = make_stenosis_pipeline(
            random_state=random_state,
            device="cpu",
            max_epochs=3,
            harmonize="passthrough",
            **params,
        )
        model.fit(train.recordings, train.target, classifier__groups=train.groups)
        p, p_again = (model.predict_proba(d.recordings)[:, 1] for d in (test, again))
        return float(np.mean(p_again - p))

    # A network trained on 6 patients takes the bait on most seeds, not all,
    # and its push changes with floating point from one machine to the next
    # and with any change to training, so each arm is the mean of four seeds.
    # Measured on 2026-12-06, once the class weights followed the cycles drawn
    # and the copies' gain was set after their microphone, seeds 0-3: without
    # augmentation 0.12, 0.06, 0.80, 0.54; with it 0.22, 0.09, 0.10, 0.04
    # (two seeds, the earlier form of this test, said the opposite). Before
    # those two fixes, on 2026-11-30, seeds 0-6:
    # without augmentation 0.18, 0.66, 0.56, 0.59, 0.67, 0.32, 0.14; with it
    # 0.12, 0.02, 0.05, -0.01, 0.08, -0.17, 0.20 (five epochs: 0.63, 0.19,
    # 0.53, 0.16, 0.33, 0.04, 0.24 against 0.07, -0.15, 0.03, -0.01, 0.07,
    # 0.05, 0.14). The per-cycle spectrum alone does not cancel the microphone:
    # its soft floor sits at another height against each band of a tilted sound.
    seeds = (0, 1, 2, 3)
    without = np.mean([push(seed, augment="passthrough") for seed in seeds])
    assert without > 0.05  # the trap is there to be shown (0.38)
    assert np.mean([push(seed) for seed in seeds]) < without  # 0.11


def test_harmonizer_keeps_a_gain(bags):
    """A recording at a tenth of the gain comes out at a tenth, sample for
    sample: its noise is drawn alike, not from its (other) samples."""
    quiet = dataclasses.replace(
        bags,
        signals=Signals.from_arrays(
            [np.float32(0.1) * x for x in bags.signals.data], bags.sample_rate
        ),
    )
    step = NoiseFloorHarmonizer(random_state=0).fit(bags)
    for loud, soft in zip(
        step.transform(bags).signals.data,
        step.transform(quiet).signals.data,
        strict=True,
    ):
        np.testing.assert_allclose(soft, 0.1 * loud, rtol=1e-4, atol=1e-7)


def test_default_network_answers_alike_at_any_gain(data, fitted_default):
    """The default ResNet50, its harmonizer included: a tenth of the gain moves
    no answer, while another noise draw of the harmonizer does (the size of
    shift a noise draw seeded by the samples gave every gain change)."""
    model = copy.deepcopy(fitted_default)
    X = data.recordings
    quiet = Signals.from_arrays([0.1 * x for x in X.data], X.sample_rate)
    p = model.predict_proba(X)[:, 1]
    np.testing.assert_allclose(model.predict_proba(quiet)[:, 1], p, atol=1e-4)
    model.set_params(harmonize__random_state=1)
    assert np.abs(model.predict_proba(X)[:, 1] - p).max() > 1e-3


def test_harmonizer_adds_nothing_where_the_floor_is_above_the_target():
    # a floor already above the target is left alone, not added to
    hiss = (0.1 * np.random.default_rng(0).standard_normal(4 * 22050)).astype(
        np.float32
    )
    bounds = object_array([np.array([[0, 22050], [22050, 44100]])])
    one = CycleBags(Signals.from_arrays([hiss], 22050.0), bounds, np.array([3]))
    out = NoiseFloorHarmonizer(snr_db=40, random_state=0).fit(one).transform(one)
    np.testing.assert_allclose(out.signals.data[0], hiss, atol=1e-4)


def test_augmentation_at_2_khz_leaves_the_noise_unfiltered():
    # at 2 kHz a 1 kHz lowpass would sit at Nyquist (an error): none is applied
    data = make_recordings(2, 1, duration=8.0, random_state=0, sample_rate=2000.0)
    cut = PeakCycleCutter().fit_transform(data.recordings)
    grown = RecorderAugmentation(n_copies=1, cycles_per_copy=2, random_state=0)
    assert (grown.fit_transform(cut).n_cycles > cut.n_cycles).all()


def test_augmentation_passes_a_recording_without_cycles(bags):
    # a recording without cycles passes through instead of breaking the whole fit
    x = bags.signals.data[0]
    both = CycleBags(
        Signals.from_arrays([x, np.zeros(22050, np.float32)], bags.sample_rate),
        bounds=object_array([bags.bounds[0], np.zeros((0, 2), np.int64)]),
        n_peaks=np.array([bags.n_peaks[0], 0]),
    )
    grown = RecorderAugmentation(n_copies=2, cycles_per_copy=3, random_state=0)
    n_cycles = grown.fit_transform(both).n_cycles
    assert n_cycles[0] > bags.n_cycles[0] and n_cycles[1] == 0


def test_every_augmented_run_hears_noise_of_its_own(bags):
    # each augmented run draws its own device noise, not one shared sequence
    hiss_only = RecorderRanges(
        gain=(1.0, 1.0),
        step=None,
        white_noise_db=(-30.0, -30.0),
        pink_noise_db=None,
        tilt_db_per_octave=(0.0, 0.0),
        resonance_hz=None,
        clip_level=None,
        dc_offset=(0.0, 0.0),
    )
    aug = RecorderAugmentation(
        n_copies=2,
        cycles_per_copy=None,
        ranges=hiss_only,
        lowpass_cutoff=None,
        random_state=0,
    )
    grown = aug.fit_transform(bags[[0, 0]])
    runs = [
        np.split(s, r[1:])[k]
        for s, r in zip(grown.signals.data, grown.runs, strict=True)
        for k in (1, 2)
    ]
    # the same cycles through the same device: only the noise tells them apart
    for other in runs[1:]:
        assert not np.array_equal(other, runs[0])


@pytest.mark.parametrize("tilt", [-4.0, 0.0, 4.0])
def test_augmentation_gain_is_relative_to_the_peak_the_microphone_leaves(bags, tilt):
    # the pulse lies below 50 Hz: a dull microphone (pivoting at 1 kHz) lifted
    # it 26 dB past a gain set from the raw peak, and clipped the copy to a
    # square wave; a bright one left it at -23 dB, not the -6 dB drawn
    tilted = RecorderRanges(
        gain=(0.5, 0.5),
        step=None,
        white_noise_db=None,
        pink_noise_db=None,
        tilt_db_per_octave=(tilt, tilt),
        resonance_hz=None,
        resonance_db=None,
        clip_level=(1.0, 1.0),
        dc_offset=None,
    )
    aug = RecorderAugmentation(
        n_copies=1, cycles_per_copy=None, ranges=tilted, random_state=0
    )
    grown = aug.fit_transform(bags[[0]])
    run = grown.signals.data[0][grown.runs[0][1] :]
    assert np.abs(run).max() == pytest.approx(0.5, rel=0.03)


@pytest.mark.parametrize(
    ("x", "rate", "window", "message"),
    [
        (np.zeros((2, 4000)), 2000.0, 0.05, r"shape \(2, 4000\)"),
        (np.zeros(4000), 0.0, 0.05, r"sample_rate=0\.0"),
        (np.zeros(4000), float("nan"), 0.05, "sample_rate=nan"),
        (
            np.zeros(4000),
            2000.0,
            0.0004,
            r"window=0\.0004 s at 2000\.0 Hz .*\(8 samples\)",
        ),
    ],
)
def test_noise_floor_psd_refuses_what_it_cannot_frame(x, rate, window, message):
    with pytest.raises(ValueError, match=message):
        noise_floor_psd(x, rate, window)


def test_noise_floor_psd_refuses_counts_and_nan():
    # int16 counts read a floor 1e9 too high in the documented full-scale
    # units; one NaN sample made the whole floor NaN
    x = 0.01 * np.random.default_rng(0).standard_normal(4000)
    with pytest.raises(RecordingError, match="x: int16 samples"):
        noise_floor_psd((x * 32768).astype(np.int16), 4000)
    with pytest.raises(RecordingError, match="x: 1 samples are NaN"):
        noise_floor_psd(np.r_[np.nan, x], 4000)


def test_harmonizer_refuses_a_window_under_a_frame():
    # a frame under one sample (raised to 1) read no floor: the whole target
    # noise was added to a recording whose floor lay far above it
    hiss = (0.1 * np.random.default_rng(0).standard_normal(8000)).astype(np.float32)
    one = CycleBags(
        Signals.from_arrays([hiss], 2000.0), object_array([np.array([[0, 8000]])])
    )
    harmonizer = NoiseFloorHarmonizer(window=0.0004, random_state=0)
    with pytest.raises(ValueError, match=r"window=0\.0004 s at 2000\.0 Hz"):
        harmonizer.fit_transform(one)
    # refused by fit, before anything is set: not a step that looks fitted
    # and fails at its first transform
    with pytest.raises(ValueError, match=r"window=0\.0004 s at 2000\.0 Hz"):
        harmonizer.fit(one)
    assert not hasattr(harmonizer, "sample_rate_")
