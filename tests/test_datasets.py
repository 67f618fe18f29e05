"""Reading recordings from disk, and the synthetic data set."""

import os
import re
import shutil
import struct
import wave

import numpy as np
import pytest
import soundfile as sf

from vascular_sklearn import MixedSampleRateWarning, RecordingError, make_seed_pipeline
from vascular_sklearn.audio import check_header, file_sample_rate
from vascular_sklearn.corpus import read_manifest
from vascular_sklearn.datasets import load_recordings, make_recordings, read_recording

RATE = 22050


@pytest.fixture(scope="module")
def seed_data(seed_dir):
    return load_recordings(seed_dir)


def test_seed_folder_layout(seed_data, seed_dir):
    assert len(seed_data.recordings) == 49 and seed_data.sample_rate == RATE
    assert len(np.unique(seed_data.groups)) == 12
    assert seed_data.target.sum() == 14
    name = "abnormal/10_7_before(1)(stenosis).WAV"
    i = list(seed_data.recordings.names).index(name)
    assert seed_data.groups[i] == "10" and seed_data.target[i] == 1
    with wave.open(str(seed_dir / name)) as w:
        raw = np.frombuffer(w.readframes(1000), dtype="<i2")
    np.testing.assert_array_equal(seed_data.recordings[i][:1000], raw / 32768)


@pytest.mark.parametrize(
    ("subtype", "fmt", "tolerance"),
    [
        ("PCM_U8", "WAV", 1 / 128),
        ("PCM_16", "WAV", 1 / 32768),
        ("PCM_24", "WAV", 1 / 2**23),
        ("PCM_32", "WAV", 1e-7),
        ("FLOAT", "WAV", 0),
        ("PCM_16", "FLAC", 1 / 32768),
    ],
)
def test_bit_depths_read_to_full_scale(tmp_path, subtype, fmt, tolerance):
    x = (0.5 * np.sin(np.linspace(0, 20, 2000))).astype(np.float32)
    path = tmp_path / f"1_1_after.{fmt.lower()}"
    sf.write(path, x, RATE, subtype=subtype, format=fmt)
    got, rate = read_recording(path)
    assert rate == RATE and got.dtype == np.float32
    np.testing.assert_allclose(got, x, atol=tolerance + 1e-7)


def test_stereo_is_mixed_or_refused(tmp_path):
    left, right = np.full(500, 0.2), np.full(500, 0.4)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.column_stack([left, right]), RATE, subtype="FLOAT")
    got, _ = read_recording(path)
    np.testing.assert_allclose(got, 0.3, rtol=1e-6)
    with pytest.raises(RecordingError, match=r"stereo\.wav: 2 channels"):
        read_recording(path, channels="error")
    # a dead input (digital silence) is left out: it halved the level
    dead = tmp_path / "dead.wav"
    sf.write(dead, np.column_stack([left, np.zeros(500)]), RATE, subtype="FLOAT")
    np.testing.assert_allclose(read_recording(dead)[0], 0.2, rtol=1e-6)
    # one channel the other inverted: the mean is silence, not the recording
    inverted = tmp_path / "inverted.wav"
    sf.write(inverted, np.column_stack([left, -left]), RATE, subtype="FLOAT")
    with pytest.raises(RecordingError, match=r"inverted\.wav: its 2 channels cancel"):
        read_recording(inverted)
    empty = tmp_path / "empty.wav"  # and an empty one is still named as empty
    sf.write(empty, np.zeros((0, 2)), RATE, subtype="FLOAT")
    with pytest.raises(RecordingError, match=r"empty\.wav: the file holds no audio"):
        read_recording(empty)
    # an encoding libsndfile cannot seek in is read all the same
    gsm = tmp_path / "gsm.wav"
    tone = 0.5 * np.sin(2 * np.pi * 200 * np.arange(RATE) / RATE)
    sf.write(gsm, tone, RATE, subtype="GSM610")
    assert len(read_recording(gsm)[0]) == pytest.approx(RATE, abs=400)  # in blocks
    # a lazy corpus is refused when it is listed, not mixed later by the pipeline
    # (a corpus of its own: the files above would lie beside its label folders)
    (tmp_path / "corpus" / "normal").mkdir(parents=True)
    path.rename(tmp_path / "corpus" / "normal" / "stereo.wav")
    with pytest.raises(RecordingError, match=r"stereo\.wav: 2 channels"):
        load_recordings(tmp_path / "corpus", channels="error", lazy=True)
    with pytest.raises(RecordingError, match="a folder, not an audio file"):
        file_sample_rate(tmp_path)


def test_mp3_files_in_a_folder_are_read(tmp_path):
    # the bundled libsndfile reads MP3; a folder's .mp3 files were left out
    assert "MP3" in sf.available_formats()
    x = make_recordings(1, 2, duration=4, random_state=0).recordings
    for k, label in enumerate(("normal", "abnormal")):
        (tmp_path / label).mkdir()
        sf.write(tmp_path / label / "P1_a.mp3", x[k], RATE, format="MP3")
    data = load_recordings(tmp_path)
    assert sorted(data.target.tolist()) == [0, 1] and len(data.recordings[0]) > RATE


def test_other_rates_are_resampled_or_refused(tmp_path):
    root = tmp_path / "data"
    (root / "normal").mkdir(parents=True)
    (root / "abnormal").mkdir()
    tone = np.sin(2 * np.pi * 100 * np.arange(44100) / 44100).astype(np.float32)
    sf.write(root / "normal" / "1_1_after.wav", tone[::2], RATE)
    sf.write(root / "abnormal" / "1_1_before.wav", tone, 44100)
    # the rate marks the recorder, and here it tells the label: said, per label
    rates = "22050 Hz: 1 normal, 0 stenosis; 44100 Hz: 0 normal, 1 stenosis"
    for lazy in (False, True):
        with pytest.warns(
            MixedSampleRateWarning, match=f"2 sample rates \\({rates}\\)"
        ):
            load_recordings(root, lazy=lazy)
    with pytest.warns(MixedSampleRateWarning, match="all read at 22050 Hz") as caught:
        data = load_recordings(root)
    assert caught[0].filename == __file__  # the user's call, not the library's
    assert data.sample_rate == RATE
    assert [len(x) for x in data.recordings] == [RATE, RATE]
    np.testing.assert_allclose(
        data.recordings[1][500:-500], tone[::2][500:-500], atol=2e-3
    )
    for lazy in (False, True):
        with pytest.raises(RecordingError, match=r"1_1_before\.wav: recorded at 44100"):
            load_recordings(root, resample=False, lazy=lazy)
    # one rate, however it compares with the rate asked for, is no mark
    sf.write(root / "normal" / "1_1_after.wav", -tone, 44100)
    assert load_recordings(root, sample_rate=RATE).sample_rate == RATE
    # numpy's floats are rates too
    for lazy in (False, True):
        data = load_recordings(root, sample_rate=np.float32(RATE), lazy=lazy)
        assert [len(x) for x in data.recordings] == [RATE, RATE]
    # what no file could meet is refused where it is given, before any reading
    for options, message in [
        ({"sample_rate": 0}, "sample_rate=0: recordings are read at 1 to 384 kHz"),
        ({"sample_rate": float("nan")}, "sample_rate=nan"),
        ({"sample_rate": 100}, "sample_rate=100"),
        ({"channels": "left"}, "channels='left': use 'mean'"),
    ]:
        with pytest.raises(ValueError, match=re.escape(message)):
            load_recordings(root, **options)
        with pytest.raises(ValueError, match=re.escape(message)):
            read_recording(root / "normal" / "1_1_after.wav", **options)
    # audio only, in subfolders too: a note beside the files is no recording
    (root / "normal" / "README.txt").write_text("recorded on the ward")
    (root / "abnormal" / "day2").mkdir()
    sf.write(root / "abnormal" / "day2" / "2_1_before.wav", tone / 2, 44100)
    with pytest.warns(UserWarning, match="patient ids come from the file names"):
        data = load_recordings(root)
    assert data.filenames.tolist() == [
        str(root / "normal" / "1_1_after.wav"),
        str(root / "abnormal" / "1_1_before.wav"),
        str(root / "abnormal" / "day2" / "2_1_before.wav"),
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not a readable audio file"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", "not a readable audio file"),
        (bytes(range(256)) * 4, "not a readable audio file"),
    ],
    ids=["empty", "truncated-header", "not-audio"],
)
def test_broken_files_are_named(tmp_path, content, message):
    path = tmp_path / "broken.wav"
    path.write_bytes(content)
    for read in (read_recording, file_sample_rate):  # the header alone, too
        with pytest.raises(RecordingError, match=rf"broken\.wav: {message}"):
            read(path)


def test_a_header_that_lists_no_samples_of_a_full_file_is_told(tmp_path):
    """A recorder stopped before writing the data's size back leaves 0 there."""
    path = tmp_path / "stopped.wav"
    sf.write(path, np.zeros(RATE), RATE, subtype="PCM_16")
    raw = bytearray(path.read_bytes())
    at = raw.find(b"data") + 4
    raw[at : at + 4] = bytes(4)
    path.write_bytes(bytes(raw))
    with pytest.raises(RecordingError, match=r"stopped\.wav: its header lists no "):
        read_recording(path)
    path.write_bytes(bytes(raw[: at + 4]))  # the header and nothing after it
    with pytest.raises(RecordingError, match=r"stopped\.wav: the file holds no audio"):
        read_recording(path)


def test_missing_file_or_folder_is_named_as_such(tmp_path):
    with pytest.raises(RecordingError, match=r"gone\.wav: no such file"):
        read_recording(tmp_path / "gone.wav")
    (tmp_path / "takes.wav").mkdir()
    with pytest.raises(RecordingError, match=r"takes\.wav: a folder, not an audio"):
        read_recording(tmp_path / "takes.wav")
    os.mkfifo(tmp_path / "pipe.wav")  # ls lists it: "no such file" misled
    with pytest.raises(RecordingError, match=r"pipe\.wav: not a regular file, so "):
        read_recording(tmp_path / "pipe.wav")


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24", "FLOAT"])
def test_a_cut_short_copy_is_read_as_far_as_it_goes_and_named(tmp_path, subtype):
    x = np.sin(np.arange(2 * RATE) / 10) / 2
    sf.write(tmp_path / "whole.wav", x, RATE, subtype=subtype)
    raw = (tmp_path / "whole.wav").read_bytes()
    (tmp_path / "cut.wav").write_bytes(raw[: 44 + (len(raw) - 44) // 2])
    with pytest.warns(UserWarning, match=r"cut\.wav: the file ends after 1\.0\d s "):
        y, _ = read_recording(tmp_path / "cut.wav")
    whole, _ = read_recording(tmp_path / "whole.wav")
    np.testing.assert_array_equal(y, whole[: len(y)])
    # a writer that cannot seek back leaves the size unknown: that is no cut
    data = raw.index(b"data") + 4
    streamed = raw[:data] + b"\xff\xff\xff\xff" + raw[data + 4 :]
    (tmp_path / "streamed.wav").write_bytes(streamed)
    np.testing.assert_array_equal(read_recording(tmp_path / "streamed.wav")[0], whole)


def test_a_header_off_by_less_than_a_sample_is_no_cut(tmp_path):
    x = np.sin(np.arange(RATE) / 10) / 2
    sf.write(tmp_path / "whole.wav", x, RATE, subtype="PCM_16")
    raw = bytearray((tmp_path / "whole.wav").read_bytes())
    size = raw.index(b"data") + 4
    declared = struct.unpack_from("<I", raw, size)[0]
    struct.pack_into("<I", raw, size, declared + 1)  # half a sample more
    (tmp_path / "odd.wav").write_bytes(raw)
    y, _ = read_recording(tmp_path / "odd.wav")  # no warning: nothing is lost
    assert len(y) == RATE
    (tmp_path / "cut.wav").write_bytes(raw[: len(raw) - 4])  # two samples lost
    with pytest.warns(UserWarning, match=r"declares, 2 samples short \("):
        assert len(read_recording(tmp_path / "cut.wav")[0]) == RATE - 2


def test_a_cut_short_aiff_is_named_too(tmp_path):
    sf.write(tmp_path / "whole.aiff", np.zeros(2 * RATE), RATE, subtype="PCM_16")
    raw = (tmp_path / "whole.aiff").read_bytes()
    (tmp_path / "cut.aiff").write_bytes(raw[: len(raw) // 2])
    with pytest.warns(UserWarning, match=r"cut\.aiff: the file ends after 1\.00 s "):
        read_recording(tmp_path / "cut.aiff")


@pytest.mark.parametrize("rate", [1, 10**9])
def test_a_header_with_an_impossible_rate_is_refused(tmp_path, rate):
    sf.write(tmp_path / "ok.wav", np.zeros(RATE, np.int16), RATE)
    raw = bytearray((tmp_path / "ok.wav").read_bytes())
    struct.pack_into("<I", raw, 24, rate)  # the fmt chunk's rate field
    (tmp_path / "bad.wav").write_bytes(raw)
    # obeyed, 1 Hz would turn this one-second file into 486 million samples
    for read in (read_recording, lambda p: read_recording(p, RATE), file_sample_rate):
        with pytest.raises(RecordingError, match=r"bad\.wav: its header gives a "):
            read(tmp_path / "bad.wav")


def test_nan_samples_are_refused(tmp_path):
    path = tmp_path / "nan.wav"
    sf.write(path, np.array([0.0, np.nan, 0.1], np.float32), RATE, subtype="FLOAT")
    with pytest.raises(RecordingError, match=r"nan\.wav: NaN"):
        read_recording(path)


def test_label_folders_in_any_case_and_other_folders_said(tmp_path):
    for folder, name in [("Normal", "1_a.wav"), ("ABNORMAL", "2_a.wav")]:
        (tmp_path / folder).mkdir()
        sf.write(tmp_path / folder / name, np.zeros(100), RATE)
    (tmp_path / "README.txt").write_text("not audio: nothing to say")
    assert load_recordings(tmp_path).target.tolist() == [0, 1]
    # audio in a folder that names no class would leave it out without a word
    (tmp_path / "stenosis").mkdir()
    sf.write(tmp_path / "stenosis" / "3_a.wav", np.zeros(100), RATE)
    (tmp_path / "notes").mkdir()  # no audio: nothing to say
    with pytest.warns(UserWarning, match=r"the audio in stenosis/ is not read"):
        data = load_recordings(tmp_path, lazy=True)
    assert data.groups.tolist() == ["1", "2"]
    # and so would a recording beside the label folders (it was not said)
    sf.write(tmp_path / "x.wav", np.zeros(100), RATE)
    said = r"the audio in stenosis/ and x\.wav beside the label folders is not"
    with pytest.warns(UserWarning, match=said):
        assert load_recordings(tmp_path).groups.tolist() == ["1", "2"]
    sf.write(tmp_path / "y.flac", np.zeros(100), RATE)
    with pytest.warns(UserWarning, match=r"2 files beside the label folders \(x"):
        load_recordings(tmp_path)


def test_recordings_left_out_of_a_label_folder_are_said(tmp_path, monkeypatch):
    """A field recorder's .bwf was read as nothing, a name ending in a space
    too, and an unreadable folder was passed over: a class could vanish."""
    for folder, name in [("normal", "1_a.wav"), ("abnormal", "2_a.bwf")]:
        (tmp_path / folder).mkdir()
        sf.write(tmp_path / folder / name, np.zeros(100), RATE, format="WAV")
    (tmp_path / "abnormal" / "notes.txt").write_text("no recording: not said")
    # what Windows leaves in a folder it showed: no recording either
    (tmp_path / "normal" / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0")
    (tmp_path / "normal" / "desktop.ini").write_text("[.ShellClassInfo]")
    assert load_recordings(tmp_path).target.tolist() == [0, 1]
    sf.write(tmp_path / "abnormal" / "3_a.WAV ", np.zeros(100), RATE, format="WAV")
    with pytest.warns(UserWarning, match=r"1 file with an ending not read as audio"):
        assert load_recordings(tmp_path).groups.tolist() == ["1", "2"]
    walk = os.scandir

    def locked(path):
        if os.fspath(path).endswith("abnormal"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return walk(path)

    monkeypatch.setattr(os, "scandir", locked)
    with pytest.raises(PermissionError, match=r"abnormal: this folder cannot be read"):
        load_recordings(tmp_path)


def test_subfolders_named_otherwise_than_the_patients_are_said(tmp_path):
    """normal/P01/2023-01-05_after.wav was patient "2023-01-05", shared with
    another patient's recording of that day, without a word."""
    for k, (folder, name) in enumerate(
        [("normal/P01", "P01_a.wav"), ("abnormal/P02", "P02_b.wav")]
    ):
        (tmp_path / folder).mkdir(parents=True)
        sf.write(tmp_path / folder / name, np.full(100, 0.1 * (k + 1)), RATE)
    assert load_recordings(tmp_path).groups.tolist() == ["P01", "P02"]  # alike
    (tmp_path / "normal/P02").mkdir()
    sf.write(tmp_path / "normal/P02/2023-01-05_after.wav", np.full(100, 0.3), RATE)
    said = r"1 recording\(s\) in subfolders .*normal/P02/2023-01-05_after\.wav: pa"
    with pytest.warns(UserWarning, match=said):
        load_recordings(tmp_path)


def test_one_name_in_two_unicode_forms_is_one_patient(tmp_path):
    """macOS writes "ö" as o and a combining diaeresis: two patients."""
    composed, decomposed = "J\u00f6ns", "Jo\u0308ns"
    for folder, name in [
        ("normal", f"{composed}_a.wav"),
        ("abnormal", f"{decomposed}_b.wav"),
    ]:
        (tmp_path / folder).mkdir()
        sf.write(
            tmp_path / folder / name,
            0.1 * np.sin(np.arange(9000.0 + len(folder))),
            RATE,
        )
    assert load_recordings(tmp_path).groups.tolist() == [composed, composed]
    (tmp_path / "m.csv").write_text(
        f"path,label,patient\nnormal/{composed}_a.wav,0,{composed}\n"
        f"abnormal/{decomposed}_b.wav,1,{decomposed}\n",
        encoding="utf-8",
    )
    assert read_manifest(tmp_path / "m.csv").groups.tolist() == [composed, composed]


def test_a_file_name_without_a_patient_id_is_refused_not_pooled(tmp_path):
    for folder, name in [("normal", " 1_a.wav"), ("abnormal", "1_b.wav")]:
        (tmp_path / folder).mkdir()
        sf.write(tmp_path / folder / name, np.zeros(100), RATE)
    # a space before the id is no other patient (who would then sit on both
    # sides of a split)
    assert load_recordings(tmp_path).groups.tolist() == ["1", "1"]
    sf.write(tmp_path / "abnormal" / "_2.wav", np.zeros(100), RATE)
    # before: patient "", shared by every file so named, whoever it was of
    for lazy in (False, True):
        with pytest.raises(ValueError, match=r"abnormal/_2\.wav: no patient id"):
            load_recordings(tmp_path, lazy=lazy)


def test_a_copy_of_a_recording_under_another_name_is_refused(tmp_path):
    x = make_recordings(2, 1, duration=4, random_state=0).recordings
    for label, patient in [("normal", "P1"), ("abnormal", "P2")]:
        (tmp_path / label).mkdir()
        sf.write(tmp_path / label / f"{patient}_a.wav", x[int(patient == "P2")], RATE)
    assert load_recordings(tmp_path).groups.tolist() == ["P1", "P2"]
    # before: read as patient P3's, on the other side of a split from P1's
    shutil.copy(tmp_path / "normal" / "P1_a.wav", tmp_path / "abnormal" / "P3_b.wav")
    for lazy in (False, True):
        with pytest.raises(
            ValueError, match=r"P3_b\.wav holds the same bytes as .*normal/P1_a\.wav"
        ):
            load_recordings(tmp_path, lazy=lazy)
    (tmp_path / "m.csv").write_text(
        "path,label,patient\nnormal/P1_a.wav,0,P1\nabnormal/P3_b.wav,1,P3\n"
    )
    with pytest.raises(ValueError, match=r"m\.csv, line 3: .*P3_b\.wav holds the sa"):
        read_manifest(tmp_path / "m.csv")


def test_empty_or_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="no folder"):
        load_recordings(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="holds no recordings"):
        load_recordings(tmp_path)


def test_synthetic_data_is_repeatable_and_shaped_like_the_real():
    a = make_recordings(
        n_patients=3, recordings_per_patient=2, duration=6, random_state=3
    )
    b = make_recordings(
        n_patients=3, recordings_per_patient=2, duration=6, random_state=3
    )
    c = make_recordings(
        n_patients=3, recordings_per_patient=2, duration=6, random_state=4
    )
    for x, y in zip(a.recordings, b.recordings, strict=True):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a.recordings[0], c.recordings[0])
    assert set(a.target) == {0, 1} and len(a.groups) == len(a.target) == 6
    for x in a.recordings:
        assert x.dtype == np.float32 and len(x) == 6 * RATE
        assert np.abs(x).max() <= 1.0
        # like the seed recordings: nearly all energy in the pulse below 50 Hz
        power = np.abs(np.fft.rfft(x)) ** 2
        freqs = np.fft.rfftfreq(len(x), 1 / RATE)
        assert power[freqs < 50].sum() / power.sum() > 0.9
    for beats in a.beat_times:
        rate_bpm = 60 * RATE / np.median(np.diff(beats))
        assert 45 <= rate_bpm <= 120


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"sample_rate": 500}, "sample_rate must lie in 2000"),  # the jet cut away
        ({"sample_rate": 0}, "sample_rate must lie in 2000"),
        ({"n_patients": 0}, "n_patients must be a whole number from 1 up"),
        ({"recordings_per_patient": -1}, "recordings_per_patient must be"),
        ({"duration": float("nan")}, "duration must be a positive number"),
        ({"heart_rate": (110, 50)}, "0 < low <= high"),
        ({"heart_rate": (-60, -50)}, "0 < low <= high"),
        ({"heart_rate": (50, float("inf"))}, "0 < low <= high"),
        ({"duration": 1e-5}, "duration 1e-05 s holds no sample at 22050 Hz"),
    ],
)
def test_synthetic_data_refuses_sizes_that_make_nothing_or_lose_the_label(
    params, message
):
    with pytest.raises(ValueError, match=re.escape(message)):
        make_recordings(**{"n_patients": 2, "duration": 4, **params})


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"duration": "5"}, "duration must be a number, got '5'"),
        ({"sample_rate": None}, "sample_rate must be a number, got None"),
        ({"heart_rate": (60,)}, "heart_rate must be a pair (low, high), got (60,)"),
        ({"heart_rate": "60-90"}, "heart_rate must be a pair"),
        ({"heart_rate": (60, "90")}, "heart_rate must be a number, got '90'"),
        ({"confound": "high"}, "confound must be a number, got 'high'"),
        ({"second_wave": True}, "second_wave must be a number, got True"),
    ],
)
def test_synthetic_data_names_a_badly_typed_argument(params, message):
    with pytest.raises(TypeError, match=re.escape(message)):
        make_recordings(**{"n_patients": 2, "duration": 4, **params})


def test_synthetic_stenosis_adds_systolic_high_pitched_bruit():
    data = make_recordings(
        n_patients=6, recordings_per_patient=2, duration=6, random_state=0
    )
    share = []
    for x in data.recordings:
        power = np.abs(np.fft.rfft(x)) ** 2
        freqs = np.fft.rfftfreq(len(x), 1 / RATE)
        share.append(power[(freqs > 300) & (freqs < 1000)].sum() / power.sum())
    share = np.array(share)
    assert share[data.target == 1].min() > 10 * share[data.target == 0].max()


def test_synthetic_beats_are_found_by_the_seed_chain():
    data = make_recordings(
        n_patients=4, recordings_per_patient=2, duration=10, random_state=5
    )
    bags = make_seed_pipeline()[:-2].fit_transform(data.recordings)
    found = spurious = total = 0
    for bounds, beats in zip(bags.bounds, data.beat_times, strict=True):
        total += len(beats)
        for peak in np.unique(bounds):
            if np.min(np.abs(beats - peak)) < 0.05 * RATE:
                found += 1
            else:
                spurious += 1
    assert found >= 0.9 * total and spurious <= 0.05 * total


def test_lazy_loading_reads_the_same_recordings(seed_dir):
    from vascular_sklearn.corpus import RecordingFiles

    eager = load_recordings(seed_dir)
    lazy = load_recordings(seed_dir, lazy=True)
    assert isinstance(lazy.recordings, RecordingFiles)
    np.testing.assert_array_equal(lazy.target, eager.target)
    np.testing.assert_array_equal(lazy.groups, eager.groups)
    assert lazy.recordings.name(3) == eager.recordings.name(3)
    np.testing.assert_array_equal(lazy.recordings[3], eager.recordings.data[3])


def test_synthetic_names_carry_each_recordings_label():
    """Each synthetic recording's name ends in its own label word."""
    from vascular_sklearn.datasets import TARGET_NAMES, make_recordings

    data = make_recordings(
        n_patients=3, recordings_per_patient=2, duration=1.0, random_state=0
    )
    for name, label in zip(data.filenames, data.target, strict=True):
        assert name.endswith("_" + TARGET_NAMES[label])
    assert data.recordings.names.tolist() == data.filenames.tolist()


def test_synthetic_data_refuses_a_rate_just_under_2000_hz():
    """Rates under 2000 Hz are refused: they cut away the 1 kHz jet that
    carries the label, and the data would be made without a word."""
    with pytest.raises(ValueError, match="sample_rate must lie in 2000"):
        make_recordings(n_patients=2, duration=4, sample_rate=1999)
    data = make_recordings(n_patients=2, duration=1, sample_rate=2000)
    assert data.sample_rate == 2000


def test_synthetic_duration_is_rounded_to_samples_not_cut():
    # int(2.01 * 2000) is 4019: a sample lost where the product falls under
    # a whole number (about one two-decimal duration in seven)
    data = make_recordings(n_patients=1, duration=2.01, sample_rate=2000)
    assert {x.size for x in data.recordings.data} == {4020}


def test_a_resampled_read_returns_the_rate_it_was_read_at(tmp_path):
    # the rate returned is that of the samples returned, not the file's
    path = tmp_path / "a.wav"
    sf.write(path, np.zeros(44100, np.float32), 44100)
    x, rate = read_recording(path, sample_rate=RATE)
    assert rate == RATE and len(x) == RATE


def test_a_file_at_the_rate_asked_for_needs_no_resampling(tmp_path):
    # a file already at the rate asked for is read as it is, not refused
    path = tmp_path / "a.wav"
    x = (0.5 * np.sin(np.linspace(0, 20, 2000))).astype(np.float32)
    sf.write(path, x, RATE, subtype="FLOAT")
    got, rate = read_recording(path, sample_rate=RATE, resample_to_rate=False)
    assert rate == RATE
    np.testing.assert_array_equal(got, x)


def test_a_lazy_corpus_refuses_a_slower_file_when_listed(tmp_path):
    # without resampling, a file slower than the rate asked for is refused too
    path = tmp_path / "slow.wav"
    sf.write(path, np.zeros(8000, np.float32), 8000)
    with pytest.raises(RecordingError, match=r"slow\.wav: recorded at 8000 Hz"):
        check_header(path, float(RATE), resample_to_rate=False)


def test_resample_that_is_no_bool_is_refused_not_taken_as_true(tmp_path):
    root = tmp_path / "data"
    (root / "normal").mkdir(parents=True)
    (root / "abnormal").mkdir()
    sf.write(root / "normal" / "1_1_after.wav", np.zeros(4410), 44100)
    sf.write(root / "abnormal" / "1_1_before.wav", np.zeros(4410), 44100)
    # "no" is a true string: the files would be resampled against the wish
    with pytest.raises(TypeError, match="resample='no'"):
        load_recordings(root, sample_rate=RATE, resample="no")
    for read in (read_recording, check_header):  # the readers it calls, alike
        with pytest.raises(TypeError, match="resample_to_rate='no'"):
            read(root / "normal" / "1_1_after.wav", RATE, resample_to_rate="no")


@pytest.mark.parametrize("recorder", [123, 3.5])
def test_a_recorder_of_no_kind_is_named_not_iterated(recorder):
    # tuple(123) said "'int' object is not iterable", of no argument
    with pytest.raises(TypeError, match=re.escape(f"recorder={recorder!r}: give")):
        make_recordings(n_patients=2, duration=1, recorder=recorder)


@pytest.mark.parametrize("name", ["n_patients", "recordings_per_patient"])
def test_a_count_given_as_a_bool_is_refused(name):
    # True was one patient, where duration=True is refused as a slip
    with pytest.raises(ValueError, match=f"{name} must be a whole number.*got True"):
        make_recordings(**{"n_patients": 2, "duration": 1, name: True})


def test_wide_beat_variability_keeps_beating_to_the_end():
    # a fixed number of intervals drawn could run out before the recording
    # did: at 0.15, one of these 60-s recordings lay 1.94 s without a beat
    data = make_recordings(
        12, 2, duration=60, sample_rate=2000, random_state=0, beat_variability=0.15
    )
    tails = [60 - beats[-1] / 2000 for beats in data.beat_times]
    # the slowest heart (50 bpm) beats every 1.2 s, 0.15 wider at most by chance
    assert max(tails) < 1.5
