"""What the pipeline does with bad input: one row per case, each outcome exact."""

import os
import tracemalloc
import warnings

import numpy as np
import pytest
import soundfile as sf
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, cross_validate

from vascular_sklearn import (
    LowpassFilter,
    MeanSmoother,
    PeakCycleCutter,
    RecordingError,
    Signals,
    make_seed_pipeline,
)
from vascular_sklearn.audio import (
    check_header,
    file_sample_rate,
    read_recording,
    resample,
)
from vascular_sklearn.corpus import RecordingFiles, find_recordings
from vascular_sklearn.datasets import load_recordings, make_recordings
from vascular_sklearn.robustness import RecorderAugmentation

RATE = 22050


def _pipeline(**params):
    pipe = make_seed_pipeline(**params)
    return pipe.set_params(
        classifier__estimator=LogisticRegression(C=0.01, max_iter=5000)
    )


@pytest.fixture(scope="module")
def fitted(data):
    return _pipeline().fit(data.recordings, data.target)


def _one(x, rate=RATE, name="bad.wav"):
    return Signals.from_arrays([np.asarray(x, np.float32)], rate, names=[name])


NO_CYCLE = r"no heart cycle was found in bad\.wav"


@pytest.mark.parametrize(
    ("recording", "error", "message"),
    [
        (np.zeros(6 * RATE), RecordingError, NO_CYCLE),  # all zero
        (np.full(6 * RATE, 0.3), RecordingError, NO_CYCLE),  # constant (DC)
        (
            0.001 * np.random.default_rng(0).normal(size=RATE),
            RecordingError,
            NO_CYCLE,
        ),  # one second: too short for two beats
        (
            np.r_[np.zeros(3 * RATE), [np.nan], np.zeros(RATE)],
            RecordingError,
            r"bad\.wav: 1 samples are NaN",
        ),
        (
            np.r_[np.zeros(3 * RATE), [np.inf], np.zeros(RATE)],
            RecordingError,
            r"bad\.wav: 1 samples are NaN or infinite",
        ),
        (np.zeros(0), RecordingError, r"bad\.wav: the recording is empty"),
    ],
    ids=["all-zero", "constant", "too-short", "nan", "inf", "empty"],
)
def test_unusable_recordings_are_named(fitted, recording, error, message):
    with pytest.raises(error, match=message):
        fitted.predict_proba(_one(recording))


@pytest.mark.parametrize("shape", ["ramp", "one-beat"])
def test_fewer_than_two_peaks_is_no_cycle(fitted, shape):
    # a drift has no peak at all; a lone thump has one: neither bounds a cycle
    x = np.linspace(0, 0.5, 6 * RATE)
    if shape == "one-beat":
        x = np.zeros(6 * RATE)
        x[3 * RATE : 3 * RATE + 2000] = 0.4
    with pytest.raises(RecordingError, match=NO_CYCLE):
        fitted.predict_proba(_one(x))


def test_no_cycle_can_be_answered_by_the_prior_explicitly(fitted, data):
    fitted.set_params(classifier__on_empty="prior")
    try:
        with pytest.warns(UserWarning, match=r"bad\.wav: returned the class prior"):
            proba = fitted.predict_proba(_one(np.zeros(6 * RATE)))
    finally:
        fitted.set_params(classifier__on_empty="error")
    np.testing.assert_allclose(proba[0], fitted[-1].class_prior_)


@pytest.mark.parametrize("rate", [4000, 8000, 16000, 44100, 48000, 96000])
def test_any_common_rate_is_brought_to_the_training_rate(fitted, data, rate):
    x = data.recordings[0]
    resampled = np.interp(
        np.arange(int(len(x) * rate / RATE)) * RATE / rate, np.arange(len(x)), x
    )
    proba = fitted.predict_proba(_one(resampled, rate=rate))
    brought = fitted[0].transform(_one(resampled, rate=rate))
    assert brought.sample_rate == RATE
    # resampled, not relabelled: the same seconds, and about the same answer
    assert abs(len(brought.data[0]) - len(x)) <= RATE * 0.001
    np.testing.assert_allclose(proba, fitted.predict_proba(_one(x)), atol=0.02)


@pytest.mark.parametrize("rate", [0.0, -RATE, float("nan"), float("inf")])
def test_a_rate_that_is_no_rate_is_refused_where_it_is_given(tmp_path, rate):
    # it failed in a division or deep in scipy's resampling, far from the cause
    with pytest.raises(ValueError, match=r"sample_rate must be a finite number"):
        _one(np.zeros(RATE), rate=rate)
    with pytest.raises(ValueError, match=r"sample_rate must be a finite number"):
        RecordingFiles(np.array(["a.wav"], dtype=object), rate)


def test_a_rate_in_khz_or_names_that_do_not_fit_are_refused_when_given():
    # 22.05 would have resampled each recording to a thousand times its length
    with pytest.raises(ValueError, match=r"22\.05 Hz .* give it in Hz: 22050"):
        _one(np.zeros(RATE), rate=22.05)
    x = np.zeros(RATE, np.float32)
    # a short list of names failed later, while the message of another error
    # was built, and hid that error
    with pytest.raises(ValueError, match="names: 1 names for 2 recordings"):
        Signals.from_arrays([x, x], RATE, names=["a.wav"])
    with pytest.raises(ValueError, match=r"names: 'a\.wav' for 1 recordings"):
        Signals.from_arrays([x], RATE, names="a.wav")
    assert Signals([x, x], RATE, names=["a", "b"])[[1]].names.tolist() == ["b"]


def test_pcm_counts_stored_as_float_are_refused_not_clipped(fitted, data, tmp_path):
    counts = np.round(data.recordings[0] * 32767)  # cast to float to pass the int check
    with pytest.raises(RecordingError, match=r"recording 0: samples reach .* PCM"):
        fitted.predict_proba([counts])

    path = tmp_path / "counts.wav"
    sf.write(path, counts / 10, RATE, subtype="FLOAT")  # a float WAV may pass ±1
    with pytest.raises(RecordingError, match=r"counts\.wav: samples reach .* PCM"):
        fitted.predict_proba(RecordingFiles.from_paths([path]))
    sf.write(path, np.clip(2 * data.recordings[0], -1.5, 1.5), RATE, subtype="FLOAT")
    assert fitted.predict_proba(RecordingFiles.from_paths([path])).shape == (1, 2)


def test_complex_or_scalar_recordings_are_named(fitted, data):
    x = data.recordings[0]
    with pytest.raises(RecordingError, match=r"recording 0: complex samples"):
        fitted.predict_proba([x + 1j * x])
    for thing in (None, 0.5):
        with pytest.raises(RecordingError, match=r"shape \(\); pass one 1-D array"):
            fitted.predict_proba([thing])
    with pytest.raises(RecordingError, match=r"shape \(2, \d+\); mix multi"):
        fitted.predict_proba([np.stack([x, x])])
    pcm = np.round(x * 32767).astype(np.int16)  # 32768 times too loud as it is
    with pytest.raises(RecordingError, match=r"recording 0: int16 samples; .* 32768"):
        fitted.predict_proba([pcm])
    with pytest.raises(RecordingError, match=r"recording 1: 1 samples are NaN"):
        fitted.predict_proba(np.stack([x, np.r_[x[:-1], np.nan]]))
    with pytest.raises(RecordingError, match=r"recording 0: not numeric audio"):
        fitted.predict_proba([[0.1, [0.2]]])
    # soundfile reads stereo as (n, 2): not n recordings of 2 samples each
    with pytest.raises(RecordingError, match=r"shape \(\d+, 2\).*x\.mean\(axis=1\)"):
        fitted.predict_proba(np.stack([x, x], axis=1))
    # more channels, or a Signals made of them, were thousands of recordings
    with pytest.raises(RecordingError, match=r"shape \(\d+, 6\)"):
        fitted.predict_proba(np.stack([x] * 6, axis=1))
    with pytest.raises(RecordingError, match=r"arrays has shape \(\d+, 2\)"):
        Signals.from_arrays(np.stack([x, x], axis=1), RATE)
    for number in (np.array(0.5), np.float32(0.5)):  # was len()'s TypeError
        with pytest.raises(RecordingError, match="X is a single number"):
            LowpassFilter().fit(number)
    with pytest.raises(RecordingError, match="holds no recordings"):
        make_seed_pipeline().fit(Signals.from_arrays([], 22050), [])
    # nor files, which the first step reads itself, nor bags after the cutter
    nothing = RecordingFiles(np.array([], dtype=object), 22050)
    with pytest.raises(RecordingError, match="holds no recordings"):
        LowpassFilter().fit(nothing)
    bags = PeakCycleCutter().fit_transform(MeanSmoother().fit_transform([x]))
    with pytest.raises(RecordingError, match="holds no recordings"):
        RecorderAugmentation(random_state=0).fit_transform(bags[[]])


def test_file_names_or_a_dict_of_recordings_get_the_way_to_pass_them(
    fitted, data, tmp_path
):
    path = tmp_path / "a.wav"
    sf.write(path, data.recordings[0], RATE, subtype="FLOAT")
    for name in (str(path), path):
        with pytest.raises(
            RecordingError, match=r"recording 0: a file name \('.*a\.wav'"
        ):
            fitted.predict_proba([name])
    # the way the message gives answers as the array does
    np.testing.assert_allclose(
        fitted.predict_proba(RecordingFiles.from_paths([path])),
        fitted.predict_proba([data.recordings[0]]),
        rtol=1e-6,
    )
    recordings = {"left": data.recordings[0], "right": data.recordings[1]}
    with pytest.raises(RecordingError, match=r"X is a dict of recordings.*names=list"):
        fitted.predict_proba(recordings)
    named = Signals.from_arrays(list(recordings.values()), RATE, names=list(recordings))
    np.testing.assert_allclose(
        fitted.predict_proba(named),
        fitted.predict_proba(list(recordings.values())),
        rtol=1e-6,
    )


def test_one_recording_one_answer_whatever_holds_it():
    # plain arrays carry no rate: a fitted pipeline takes them at its own, and
    # a 2-D array keeps what travels with the recordings (the smoothed
    # reference the cutter finds peaks on, the rate)
    data = make_recordings(
        n_patients=2,
        recordings_per_patient=2,
        duration=6,
        sample_rate=8000,
        random_state=0,
    )
    pipe = _pipeline().fit(data.recordings, data.target)
    arrays = [np.asarray(x) for x in data.recordings]
    expected = pipe.predict_proba(data.recordings)
    np.testing.assert_array_equal(pipe.predict_proba(arrays), expected)
    np.testing.assert_array_equal(pipe.predict_proba(np.stack(arrays)), expected)


def test_heavy_clipping_still_answers_and_is_reported(fitted, data):
    x = np.clip(data.recordings[0] * 20, -0.5, 0.5)
    proba = fitted.predict_proba(_one(x))
    assert np.isfinite(proba).all()
    quality = fitted[:3].transform(_one(x)).quality()[0]
    assert quality["clipped_fraction"] > 0.05


def test_lengths_of_x_y_groups_must_agree(data):
    with pytest.raises(ValueError, match="8 recordings but y has shape"):
        _pipeline().fit(data.recordings, data.target[:-1])
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        cross_validate(
            _pipeline(),
            data.recordings,
            data.target,
            groups=data.groups[:-1],
            cv=GroupKFold(2),
        )


def test_single_class_training_fold_is_refused(data):
    normal = np.flatnonzero(data.target == 0)
    # the label as the user wrote it, not numpy's repr of it
    with pytest.raises(
        ValueError, match=r"recordings are labelled 0 \(in cross-validation"
    ):
        _pipeline().fit(data.recordings[normal], data.target[normal])
    with pytest.raises(ValueError, match=r"labelled 'normal' \(in"):
        _pipeline().fit(data.recordings[normal], np.full(len(normal), "normal"))
    with pytest.raises(ValueError, match="training needs two classes"):
        make_seed_pipeline(max_epochs=1, device="cpu").fit(
            data.recordings[normal], data.target[normal]
        )


def test_labels_come_back_as_given(data):
    labels = np.where(data.target == 1, "stenosis", "normal")
    pipe = _pipeline().fit(data.recordings, labels)
    assert list(pipe.classes_) == ["normal", "stenosis"]
    proba = pipe.predict_proba(data.recordings)[:, 1]
    expected = np.where(proba >= 0.5, "stenosis", "normal")
    np.testing.assert_array_equal(pipe.predict(data.recordings), expected)
    assert len(set(expected)) == 2  # both words, each where its probability says


def test_predict_before_fit_is_not_fitted_error(data):
    with pytest.raises(NotFittedError):
        _pipeline().predict(data.recordings)


def test_recording_classifier_predict_before_fit_is_not_fitted_error(data):
    from vascular_sklearn import RecordingClassifier

    with pytest.raises(NotFittedError):
        RecordingClassifier().predict(data.recordings)


def test_one_hour_recording_keeps_memory_bounded(fitted):
    beats = make_recordings(
        n_patients=1, recordings_per_patient=1, duration=60, random_state=3
    ).recordings[0]
    hour = np.tile(beats, 60)  # 79 million samples, 318 MB as float32
    signals = _one(hour)
    tracemalloc.start()
    try:
        proba = fitted.predict_proba(signals)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert np.isfinite(proba).all()
    # linear in the recording: the lowpassed signal and its smoothed reference
    # (float32), plus find_peaks' float64 copy while cutting; spectrograms are
    # computed 128 cycles at a time. Measured: about 7 times the float32 input.
    assert peak < 8 * hour.nbytes


@pytest.mark.parametrize("rates", [(8000, 22050), (22050, 8000), (2000, 44100)])
def test_a_one_sample_recording_resamples_to_its_value_not_nan(tmp_path, rates):
    # scipy's "line" padding divides by len - 1: one sample came back as NaN,
    # past every NaN check, from read_recording, load_recordings and the files
    # the lowpass step reads
    from_rate, to_rate = rates
    y = resample(np.array([0.3]), from_rate, to_rate)
    assert len(y) >= 1 and np.allclose(y, 0.3, atol=1e-3)
    sf.write(tmp_path / "one.wav", np.array([0.3]), from_rate)
    x, rate = read_recording(tmp_path / "one.wav", sample_rate=to_rate)
    assert rate == to_rate and np.allclose(x, 0.3, atol=1e-3)
    files = RecordingFiles.from_paths([tmp_path / "one.wav"], sample_rate=to_rate)
    assert np.allclose(files[0], 0.3, atol=1e-3)


def test_a_one_sample_recording_in_a_corpus_loads_finite(tmp_path):
    for folder in ("normal", "abnormal"):
        (tmp_path / folder).mkdir()
    t = np.arange(22050) / 22050
    sf.write(tmp_path / "normal" / "1_a.wav", 0.3 * np.sin(2 * np.pi * 5 * t), 22050)
    sf.write(tmp_path / "abnormal" / "2_a.wav", np.array([0.3]), 8000)
    with pytest.warns(UserWarning, match="sample rates"):
        data = load_recordings(tmp_path)
    assert all(np.isfinite(x).all() for x in data.recordings.data)


def test_a_label_folder_twice_in_different_case_is_refused(tmp_path):
    (tmp_path / "normal").mkdir()
    (tmp_path / "Normal").mkdir()  # CI's disk tells case apart
    (tmp_path / "abnormal").mkdir()
    sf.write(tmp_path / "normal" / "1_a.wav", np.zeros(100), 8000)
    sf.write(tmp_path / "Normal" / "2_a.wav", np.zeros(100), 8000)
    sf.write(tmp_path / "abnormal" / "3_a.wav", np.zeros(100), 8000)
    # before: Normal/'s recording was dropped without a word
    with pytest.raises(ValueError, match=r"Normal/ and normal/"):
        load_recordings(tmp_path)
    with pytest.raises(ValueError, match=r"Normal/ and normal/"):
        load_recordings(tmp_path, lazy=True)


def test_bytes_paths_are_read_and_named(tmp_path):
    path = tmp_path / "a.wav"
    sf.write(path, np.array([0.0, 0.5]), 8000)
    raw = os.fsencode(path)
    # before: AttributeError: 'bytes' object has no attribute 'encode'
    x, rate = read_recording(raw)
    assert x.tolist() == [0.0, 0.5] and rate == 8000.0
    assert file_sample_rate(raw) == 8000.0
    check_header(raw, 8000.0)
    with pytest.raises(FileNotFoundError, match=r"^[^b].*missing\.wav: no such"):
        file_sample_rate(os.fsencode(tmp_path / "missing.wav"))


def test_a_dangling_link_in_a_corpus_folder_is_named(tmp_path):
    for folder in ("normal", "abnormal"):
        (tmp_path / folder).mkdir()
    sf.write(tmp_path / "normal" / "1_a.wav", np.zeros(100), 8000)
    sf.write(tmp_path / "abnormal" / "2_a.wav", np.zeros(100), 8000)
    link = tmp_path / "abnormal" / "3_a.wav"
    os.symlink(tmp_path / "gone.wav", link)
    # before: the recording was left out of the corpus without a word
    assert str(link) in find_recordings(tmp_path)
    why = r"3_a\.wav: a link to .*gone\.wav, which does not exist"
    with pytest.raises(RecordingError, match=why):
        load_recordings(tmp_path)
    with pytest.raises(FileNotFoundError, match=why):
        load_recordings(tmp_path, lazy=True)
    with pytest.raises(FileNotFoundError, match=why):  # "no such file" before
        file_sample_rate(link)


def test_a_linked_folder_is_read_and_a_recording_found_twice_is_refused(tmp_path):
    """Path.rglob passed a linked folder by, its recordings with it, unsaid;
    a recording reached twice weighed double, or sat on both sides of a split
    under two patients' names; a phone's .m4a was passed over unsaid."""
    root, archive = tmp_path / "corpus", tmp_path / "archive" / "batch"
    for folder in (root / "normal", root / "abnormal", archive):
        folder.mkdir(parents=True)
    sf.write(root / "normal" / "1_a.wav", np.zeros(100), 8000)
    sf.write(root / "abnormal" / "2_a.wav", np.zeros(100), 8000)
    sf.write(archive / "3_a.wav", np.zeros(100), 8000)
    os.symlink(archive, root / "abnormal" / "batch")
    os.symlink(root / "abnormal", root / "abnormal" / "loop")  # read once
    nested = r"abnormal/batch/3_a\.wav: patient '3'"  # said of a subfolder
    with pytest.warns(UserWarning, match=nested):
        data = load_recordings(root)
    assert data.groups.tolist() == ["1", "2", "3"]
    assert data.target.tolist() == [0, 1, 1]
    (root / "normal" / "4_a.m4a").write_bytes(b"not read")
    with (
        pytest.warns(UserWarning, match=nested),
        pytest.warns(UserWarning, match=r"1 file in a format .* \(normal/4_a\.m4a\)"),
    ):
        load_recordings(root)
    os.symlink(root / "normal" / "1_a.wav", root / "abnormal" / "9_b.wav")
    for lazy in (False, True):
        with pytest.raises(ValueError, match=r"9_b\.wav is .*1_a\.wav again"):
            load_recordings(root, lazy=lazy)


@pytest.mark.parametrize("form", ["RF64", "MP3", "W64", "AU"])
def test_an_rf64_or_mp3_file_cut_short_is_named_as_a_wav_one_is(tmp_path, form):
    if form not in sf.available_formats():
        form = "RF64"  # libsndfile before 1.1 reads no MP3
    whole = tmp_path / f"whole.{form.lower()}"
    sf.write(whole, np.sin(np.arange(44100) / 7) * 0.3, 22050, format=form)
    raw = whole.read_bytes()
    cut = tmp_path / f"cut.{form.lower()}"
    cut.write_bytes(raw[: len(raw) // 2])
    with pytest.warns(
        UserWarning, match=r"cut\.\w+: the file ends after \d\.\d\d s of the 2\.00 s"
    ):
        read_recording(cut)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(read_recording(whole)[0]) == 44100


def test_a_dangling_link_in_an_unread_folder_is_no_error(tmp_path):
    for folder in ("normal", "abnormal", "other"):
        (tmp_path / folder).mkdir()
    sf.write(tmp_path / "normal" / "1_a.wav", np.zeros(100), 8000)
    sf.write(tmp_path / "abnormal" / "2_a.wav", np.zeros(100), 8000)
    os.symlink(tmp_path / "gone.wav", tmp_path / "other" / "3_a.wav")
    data = load_recordings(tmp_path)
    assert data.target.tolist() == [0, 1]


@pytest.mark.parametrize("subtype, rate", [("VORBIS", 8000), ("OPUS", 48000)])
def test_an_ogg_file_cut_short_is_named_as_a_wav_one_is(tmp_path, subtype, rate):
    noise = np.random.default_rng(0).uniform(-0.3, 0.3, 4 * rate)
    whole = tmp_path / "whole.ogg"
    sf.write(whole, noise, rate, format="OGG", subtype=subtype)
    raw = whole.read_bytes()
    cut = tmp_path / "cut.ogg"
    cut.write_bytes(raw[: len(raw) * 3 // 4])  # an interrupted copy
    # before: the pages present were read without a word
    with pytest.warns(UserWarning, match=r"cut\.ogg: the file ends after .* s wit"):
        part, _ = read_recording(cut)
    assert 0 < len(part) < len(read_recording(whole)[0])
    head = tmp_path / "head.ogg"  # the codec's headers and no audio page
    third_page = raw.index(b"OggS", raw.index(b"OggS", 4) + 4)
    head.write_bytes(raw[:third_page])
    with pytest.raises(RecordingError, match=r"head\.ogg: the file ends before"):
        read_recording(head)
    # bytes after a whole stream (padding, a tag) are no cut (no warning; as
    # long but for libsndfile 1.2, which then leaves Opus's end trim undone)
    padded = tmp_path / "padded.ogg"
    padded.write_bytes(raw + bytes(100))
    assert len(read_recording(padded)[0]) == pytest.approx(len(noise), abs=200)


def test_a_flac_header_declaring_years_of_audio_is_named_not_allocated(tmp_path):
    whole = tmp_path / "whole.flac"
    noise = np.random.default_rng(0).uniform(-0.3, 0.3, 3 * RATE)
    sf.write(whole, noise, RATE, subtype="PCM_16")
    raw = bytearray(whole.read_bytes())
    # STREAMINFO's last 36 bits before its MD5 (bytes 18-25) count the samples
    fields = int.from_bytes(raw[18:26], "big") | (2**36 - 1)
    raw[18:26] = fields.to_bytes(8, "big")
    damaged = tmp_path / "damaged.flac"
    damaged.write_bytes(bytes(raw))
    assert sf.info(damaged).frames == 2**36 - 1
    # before: numpy's MemoryError (256 GiB), naming no file
    with pytest.raises(
        RecordingError, match=r"damaged\.flac: its header declares 68719476735 samp"
    ):
        read_recording(damaged)
    # 0 is a streaming encoder's "unknown", which libsndfile cannot read either
    raw[18:26] = (fields & ~(2**36 - 1)).to_bytes(8, "big")
    damaged.write_bytes(bytes(raw))
    with pytest.raises(RecordingError, match=r"declares no length, and libsndf"):
        read_recording(damaged)
    assert len(read_recording(whole)[0]) == len(noise)


def test_a_file_that_cannot_be_opened_is_named_not_raised(tmp_path, monkeypatch):
    import builtins

    locked = tmp_path / "locked.wav"
    locked.write_bytes(b"RIFF not really")
    real_open = builtins.open

    def no_permission(file, *args, **kwargs):
        if os.fspath(file) == str(locked):
            raise PermissionError(13, "Permission denied", str(locked))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", no_permission)
    # before: the Ogg check's PermissionError stopped a whole screening run
    with pytest.raises(RecordingError, match=r"locked\.wav: not a readable audio"):
        read_recording(locked)
