"""Corpora on disk: manifests, lazy RecordingFiles, and pipelines that read them."""

import csv
import warnings

import numpy as np
import pytest
import soundfile as sf
from sklearn.model_selection import GroupKFold, cross_validate
from sklearn.naive_bayes import GaussianNB

import vascular_sklearn.corpus as corpus_module
from vascular_sklearn import (
    LowpassFilter,
    RecordingClassifier,
    RecordingError,
    make_seed_pipeline,
)
from vascular_sklearn.corpus import RecordingFiles, find_recordings, read_manifest
from vascular_sklearn.datasets import make_recordings
from vascular_sklearn.exceptions import LabelFileError, MixedSampleRateWarning
from vascular_sklearn.screening import recording_paths


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Synthetic recordings as 16-bit WAVs plus a manifest with relative paths."""
    root = tmp_path_factory.mktemp("corpus")
    data = make_recordings(
        n_patients=4, recordings_per_patient=2, duration=6.0, random_state=4
    )
    (root / "audio").mkdir()
    lines = ["path,label,patient,recorder,site,time"]
    for i, (x, label, patient) in enumerate(
        zip(data.recordings.data, data.target, data.groups, strict=True)
    ):
        sf.write(root / "audio" / f"r{i}.wav", x, 22050, subtype="PCM_16")
        device = "phone" if i % 2 else "stethoscope"
        lines.append(
            f"audio/r{i}.wav,{label},{patient},{device},left arm,2026-11-{i + 1:02d}"
        )
    (root / "manifest.csv").write_text("\n".join(lines) + "\n")
    return root, data


def test_manifest_reads_columns_without_reading_audio(corpus):
    root, data = corpus
    got = read_manifest(root / "manifest.csv")
    assert isinstance(got.recordings, RecordingFiles)
    assert got.target.tolist() == data.target.tolist()
    assert got.groups.tolist() == data.groups.tolist()
    assert got.site[0] == "left arm" and got.time[2] == "2026-11-03"
    assert got.recorder.tolist()[:3] == ["stethoscope", "phone", "stethoscope"]
    assert got.sample_rate == 22050.0
    # indexing by positions keeps paths; an int reads the file
    sub = got.recordings[[1, 3]]
    assert isinstance(sub, RecordingFiles) and sub.paths[1].endswith("r3.wav")
    # the file holds the recording quantised to 16 bits
    assert np.abs(got.recordings[2] - data.recordings[2]).max() < 2 / 32768


def test_files_listed_by_relative_paths_are_read_from_anywhere(corpus, monkeypatch):
    """The files are read later, in a worker or after a change of folder."""
    root, data = corpus
    monkeypatch.chdir(root)
    files = read_manifest("manifest.csv").recordings
    assert files.name(0) == "audio/r0.wav"  # messages name them as given
    monkeypatch.chdir(root / "audio")
    assert np.abs(files[0] - data.recordings[0]).max() < 2 / 32768


def test_manifest_warns_of_mixed_rates_without_failing_on_a_bad_header(
    tmp_path, monkeypatch
):
    for name, rate in [("a.wav", 8000), ("b.wav", 22050), ("c.wav", 22050)]:
        sf.write(tmp_path / name, np.zeros(100), rate)
    (tmp_path / "d.wav").write_bytes(b"not audio")  # its reader will name it
    (tmp_path / "m.csv").write_text("path\na.wav\nb.wav\nc.wav\nd.wav\n")
    message = r"2 sample rates \(8000 Hz: 1; 22050 Hz: 2; 1 unreadable\)"
    with pytest.warns(MixedSampleRateWarning, match=message) as caught:
        data = read_manifest(tmp_path / "m.csv")
    assert data.sample_rate == 8000.0 and len(data.recordings) == 4
    assert caught[0].filename == __file__
    # screening expects a mix: it resamples each file and scores it alone,
    # so no header is read for a warning nobody sees, nor for a corpus rate
    headers = []
    read_rate = corpus_module.file_sample_rate
    monkeypatch.setattr(
        corpus_module,
        "file_sample_rate",
        lambda path: headers.append(path) or read_rate(path),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", MixedSampleRateWarning)
        assert len(recording_paths(tmp_path / "m.csv")) == 4
    assert headers == []


def test_manifest_accepts_label_words_and_no_label(tmp_path):
    for name in ("a.wav", "b.wav"):
        sf.write(tmp_path / name, np.zeros(100), 22050)
    (tmp_path / "m.csv").write_text("path,label\na.wav,Stenosis\nb.wav,normal\n")
    assert read_manifest(tmp_path / "m.csv").target.tolist() == [1, 0]
    # Excel in many locales separates by ';', other exports by tabs
    (tmp_path / "semi.csv").write_text("path;label\na.wav;Stenosis\nb.wav;normal\n")
    (tmp_path / "tab.csv").write_text("path\tlabel\na.wav\tStenosis\nb.wav\t0\n")
    for name in ("semi.csv", "tab.csv"):
        assert read_manifest(tmp_path / name).target.tolist() == [1, 0]
    # a spreadsheet's capitalised header names the same columns
    (tmp_path / "caps.csv").write_text("Path,Label,Patient\na.wav,1,P1\nb.wav,0,P2\n")
    caps = read_manifest(tmp_path / "caps.csv")
    assert caps.target.tolist() == [1, 0] and caps.groups.tolist() == ["P1", "P2"]
    (tmp_path / "bare.csv").write_text("path\na.wav\n")
    bare = read_manifest(tmp_path / "bare.csv")
    assert bare.target is None and bare.groups is None and len(bare.recordings) == 1
    # Excel for Mac's "CSV (Macintosh)" ends lines with a lone CR
    (tmp_path / "mac.csv").write_bytes(b"path,label\ra.wav,1\rb.wav,0\r")
    assert read_manifest(tmp_path / "mac.csv").target.tolist() == [1, 0]


def test_a_column_named_near_a_known_one_is_said_to_be_unread(tmp_path):
    sf.write(tmp_path / "a.wav", np.zeros(100), 22050)
    (tmp_path / "m.csv").write_text(
        "path,label,Subject ID,Device,notes\na.wav,1,P1,phone,left arm\n"
    )
    # before: without a word, no patients (every recording its own) and no
    # recorders for the per-recorder reports
    with pytest.warns(UserWarning) as said:
        data = read_manifest(tmp_path / "m.csv")
    assert data.groups is None and data.recorder is None
    assert [str(w.message).split(": ", 1)[1] for w in said] == [
        "no 'patient' column, and 'subject id' is not read: rename the column "
        "'patient' if it holds that",
        "no 'recorder' column, and 'device' is not read: rename the column "
        "'recorder' if it holds that",
    ]
    (tmp_path / "typo.csv").write_text("path,lable,patient\na.wav,1,P1\n")
    with pytest.warns(UserWarning, match=r"no 'label' column, and 'lable' is not"):
        read_manifest(tmp_path / "typo.csv")
    with warnings.catch_warnings():  # nothing near a column it is asked for
        warnings.simplefilter("error")
        assert read_manifest(tmp_path / "typo.csv", columns=("patient",)).groups[0]
        read_manifest(tmp_path / "m.csv", columns=())


def test_manifest_reads_quotes_as_csv_writers_escape_them(tmp_path):
    sf.write(tmp_path / 'say "a".wav', np.zeros(100), 22050)
    with open(tmp_path / "m.csv", "w", newline="") as f:
        csv.writer(f).writerows([["path", "site"], ['say "a".wav', 'the "B" ward']])
    data = read_manifest(tmp_path / "m.csv")
    assert data.filenames[0].endswith('say "a".wav')
    assert data.site.tolist() == ['the "B" ward']


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("file,label\na.wav,0\n", "'path' column"),
        ("\npath,label\na.wav,0\n", "'path' column on its first line"),
        ("path,label\na.wav,0\nb.wav,maybe\n", "line 3: unknown label 'maybe'"),
        # blank lines are skipped but still counted
        ("path,label\na.wav,0\n\n\nb.wav,maybe\n", "line 5: unknown label"),
        ("path,patient\na.wav,\n", "line 2: empty patient"),
        ("path,recorder\na.wav,phone\nb.wav,\n", "line 3: empty recorder"),
        ("path,label\n", "lists no recordings"),
        # one file twice weighs double, or sits on both sides of a patient split
        (
            "path,patient\na.wav,P1\n./a.wav,P2\n",
            r"line 3: .*a\.wav is listed again "
            r"\(.*m\.csv, line 2\)",
        ),
        # and through a link to it
        ("path,patient\na.wav,P1\nlink.wav,P2\n", r"line 3: .*link\.wav is listed"),
        ("path\n\xe9.wav\n".encode("latin-1"), "not UTF-8 text"),
        # DictReader would keep the last 'label' and drop extra fields
        ("path,label,label\na.wav,0,1\n", "the header names label twice"),
        ("Path,Label,label\na.wav,0,1\n", "the header names label twice"),
        # a row that ends before its path, and an empty path
        ("label,path\n0,a.wav\n1\n", "line 3: no path"),
        ("path,label\n,0\n", "line 2: no path"),
        ("path,label\na.wav,0\nb,c.wav,1\n", "line 3: 3 fields under a header of 2"),
    ],
)
def test_manifest_errors_name_the_line(tmp_path, text, message):
    for name in ("a.wav", "b.wav"):
        sf.write(tmp_path / name, np.zeros(100), 22050)
    (tmp_path / "link.wav").symlink_to(tmp_path / "a.wav")
    if isinstance(text, bytes):
        (tmp_path / "m.csv").write_bytes(text)
    else:
        (tmp_path / "m.csv").write_text(text)
    with pytest.raises(LabelFileError, match=message):
        read_manifest(tmp_path / "m.csv")


def test_files_by_path_name_what_is_no_file(tmp_path):
    sf.write(tmp_path / "ok.wav", np.zeros(100), 8000)
    (tmp_path / "day1").mkdir()
    paths = [tmp_path / "ok.wav", tmp_path / "day1", tmp_path / "gone.wav"]
    with pytest.raises(FileNotFoundError, match="2 of the 3 paths name no file") as err:
        RecordingFiles.from_paths(paths)
    assert "day1: a folder, not an audio file" in str(err.value)
    assert "gone.wav: no such file" in str(err.value)
    # one path is not a sequence of its characters
    with pytest.raises(TypeError, match=r"is one path: give a list \(\[path\]\)"):
        RecordingFiles.from_paths(str(tmp_path / "ok.wav"))


def test_manifest_names_missing_files(tmp_path):
    sf.write(tmp_path / "ok.wav", np.zeros(100), 8000)
    (tmp_path / "folder.wav").mkdir()
    for listed, what in [("gone.wav", "no such file"), ("folder.wav", "a folder")]:
        (tmp_path / "m.csv").write_text(f"path\nok.wav\n{listed}\n")
        with pytest.raises(FileNotFoundError, match=rf"m\.csv, line 3: .*{what}"):
            read_manifest(tmp_path / "m.csv")


def test_a_corrupt_first_file_is_left_to_its_reader(tmp_path, corpus):
    # the rate came from the first file's header: listed first, one damaged
    # file stopped the whole corpus, and screening scored none
    root, _ = corpus
    (tmp_path / "bad.wav").write_bytes(b"RIFF but not audio")
    good = root / "audio" / "r0.wav"
    (tmp_path / "m.csv").write_text(f"path,label\nbad.wav,0\n{good},1\n")
    data = read_manifest(tmp_path / "m.csv")
    assert data.sample_rate == 22050 and len(data.recordings) == 2
    with pytest.raises(RecordingError, match=r"bad\.wav: not a readable audio file"):
        data.recordings[0]


def test_a_corrupt_file_fails_where_it_is_read_and_is_named(tmp_path):
    (tmp_path / "bad.wav").write_bytes(b"RIFF but not audio")
    files = RecordingFiles.from_paths([tmp_path / "bad.wav"], sample_rate=22050)
    with pytest.raises(RecordingError, match=r"bad\.wav: not a readable audio file"):
        LowpassFilter().fit_transform(files)


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_signal_chain_on_files_equals_chain_on_loaded_audio(corpus, n_jobs):
    root, _ = corpus
    files = read_manifest(root / "manifest.csv").recordings
    chain = make_seed_pipeline()[:-1].set_params(
        lowpass__n_jobs=n_jobs, smooth__n_jobs=n_jobs, cut__n_jobs=n_jobs
    )
    lazy = chain.fit_transform(files)
    eager = chain.fit_transform(files.load())
    assert np.array_equal(lazy.offsets, eager.offsets)
    assert np.array_equal(lazy.images, eager.images)
    assert list(lazy.names) == list(files.paths)


def test_grouped_cross_validation_runs_on_files(corpus):
    root, _ = corpus
    data = read_manifest(root / "manifest.csv")
    pipe = make_seed_pipeline().set_params(classifier=RecordingClassifier(GaussianNB()))
    kwargs = {"groups": data.groups, "cv": GroupKFold(2), "scoring": "roc_auc"}
    lazy = cross_validate(pipe, data.recordings, data.target, **kwargs)
    eager = cross_validate(pipe, data.recordings.load(), data.target, **kwargs)
    assert np.array_equal(lazy["test_score"], eager["test_score"])


def test_files_at_another_rate_are_resampled_or_refused(tmp_path):
    t = np.arange(44100) / 44100
    sf.write(tmp_path / "fast.wav", 0.3 * np.sin(2 * np.pi * 50 * t), 44100)
    files = RecordingFiles.from_paths([tmp_path / "fast.wav"], sample_rate=22050)
    out = LowpassFilter().fit(files).transform(files)
    assert out.sample_rate == 22050 and len(out.data[0]) == 22050
    strict = LowpassFilter(resample=False).fit(files)
    with pytest.raises(RecordingError, match=r"fast\.wav: recorded at 44100 Hz"):
        strict.transform(files)


def test_find_recordings_searches_subfolders_for_audio_only(tmp_path):
    (tmp_path / "day2").mkdir()
    sf.write(tmp_path / "day2" / "x.flac", np.zeros(10), 22050)
    sf.write(tmp_path / "y.wav", np.zeros(10), 22050)
    (tmp_path / "notes.txt").write_text("not audio")
    # macOS's metadata beside a recording on a FAT stick, and hidden folders
    (tmp_path / "._y.wav").write_bytes(b"\x00\x05\x16\x07 AppleDouble")
    (tmp_path / ".trash").mkdir()
    sf.write(tmp_path / ".trash" / "z.wav", np.zeros(10), 22050)
    found = find_recordings(tmp_path)
    assert [p.rsplit("/", 1)[1] for p in found] == ["x.flac", "y.wav"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="holds no audio"):
        find_recordings(tmp_path / "empty")


def test_a_replaced_file_changes_the_cache_key(tmp_path):
    """Pipeline(memory=) keys on the object: a new file under an old path misses."""
    import os

    import joblib

    path = tmp_path / "a.wav"
    sf.write(path, np.zeros(2000), 22050)
    before = RecordingFiles.from_paths([path])
    sf.write(path, np.ones(3000) * 0.1, 22050)
    os.utime(path, ns=(0, 10**18))  # a distinct time even on coarse clocks
    after = RecordingFiles.from_paths([path])
    assert joblib.hash(before) != joblib.hash(after)
    assert joblib.hash(after[[0]]) == joblib.hash(after)


def test_manifest_reads_abnormal_as_stenosis(tmp_path):
    """A manifest's "abnormal" label is read as stenosis: else every abnormal
    recording would be trained on and scored as normal, without a word."""
    for name in ("a.wav", "b.wav"):
        sf.write(tmp_path / name, np.zeros(100), 22050)
    (tmp_path / "m.csv").write_text("path,label\na.wav,Abnormal\nb.wav,normal\n")
    assert read_manifest(tmp_path / "m.csv").target.tolist() == [1, 0]


def test_files_taken_by_position_keep_their_own_names_and_stamps(corpus):
    """A subset of files (a cross-validation fold) keeps each file's own name
    and stamp: else its messages and loaded Signals would name other files."""
    root, _ = corpus
    files = read_manifest(root / "manifest.csv").recordings
    sub = files[[1, 3]]
    assert [sub.name(i) for i in range(2)] == [files.name(1), files.name(3)]
    assert list(sub.load().names) == [files.name(1), files.name(3)]
    np.testing.assert_array_equal(sub.stamps, files.stamps[[1, 3]])


def test_a_stray_quote_does_not_swallow_the_rows_after_it(tmp_path):
    """An opening quote never closed (a site '"left arm') made one field of
    every line after it: 3 rows read as 2 without a word, and a long manifest
    failed with csv's own traceback (field larger than field limit)."""
    for name in ("a.wav", "b.wav", "c.wav"):
        sf.write(tmp_path / name, np.zeros(100), 22050)
    (tmp_path / "m.csv").write_text(
        'path,label,site\na.wav,0,arm\nb.wav,1,"left arm\nc.wav,0,arm\n'
    )
    with pytest.raises(LabelFileError, match=r"m\.csv, line 3: .*quote"):
        read_manifest(tmp_path / "m.csv")
    rows = "".join(f"c{k}.wav,0,arm\n" for k in range(12000))  # > 131072 chars
    (tmp_path / "m.csv").write_text(f'path,label,site\nb.wav,1,"left arm\n{rows}')
    with pytest.raises(LabelFileError, match=r"m\.csv, line 2: .*quote"):
        read_manifest(tmp_path / "m.csv")
    # csv skips empty lines without counting them: the line named was blank
    (tmp_path / "m.csv").write_text('path,label\n\n\n"a.wav,1\nb.wav,0\n')
    with pytest.raises(LabelFileError, match=r"m\.csv, line 4: .*quote"):
        read_manifest(tmp_path / "m.csv")


def test_a_note_may_hold_lines_of_its_own_but_not_rows(tmp_path):
    """A note typed with Alt+Enter (a quoted field over two lines, as csv
    writes it) made the whole manifest unreadable, blamed on a quote left
    open; a note whose quote took the next row in is still refused."""
    for name in ("a.wav", "b.wav", "c.wav"):
        sf.write(tmp_path / name, np.zeros(100), 22050)
    with open(tmp_path / "m.csv", "w", newline="") as f:
        csv.writer(f).writerows(
            [
                ["path", "label", "note"],
                ["a.wav", 1, "murmur\nre-check"],
                ["b.wav", 0, ""],
            ]
        )
    data = read_manifest(tmp_path / "m.csv")
    assert data.target.tolist() == [1, 0] and len(data.recordings) == 2
    (tmp_path / "m.csv").write_text(
        'path,label,note\na.wav,1,"murmur\nb.wav,0,ok"\nc.wav,0,\n'
    )
    with pytest.raises(LabelFileError, match=r"m\.csv, line 2: .*runs to line 3"):
        read_manifest(tmp_path / "m.csv")


def test_columns_are_named_in_any_case_and_an_unknown_one_is_refused(corpus):
    # columns=("label", "Patient") gave groups=None without a word: a
    # cross-validation not grouped by patient could follow
    root, data = corpus
    got = read_manifest(root / "manifest.csv", columns=("Label", " PATIENT"))
    assert got.groups.tolist() == data.groups.tolist() and got.recorder is None
    with pytest.raises(ValueError, match="'patient_id' not among the optional"):
        read_manifest(root / "manifest.csv", columns=("label", "patient_id"))
    with pytest.raises(TypeError, match="give a sequence of names"):
        read_manifest(root / "manifest.csv", columns="patient,label")


def test_a_path_written_from_the_working_folder_is_explained(tmp_path, monkeypatch):
    """Manifest paths are relative to the manifest's folder; one written from
    the working folder was "lists/data/a.wav: no such file", without why."""
    (tmp_path / "data").mkdir()
    (tmp_path / "lists").mkdir()
    sf.write(tmp_path / "data" / "a.wav", np.zeros(100), 22050)
    (tmp_path / "lists" / "m.csv").write_text("path,label\ndata/a.wav,0\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="relative to the manifest's folder"):
        read_manifest("lists/m.csv")


def test_files_made_directly_refuse_one_path_or_a_table_of_them(tmp_path):
    path = tmp_path / "a.wav"
    sf.write(path, np.zeros(100), 22050)
    for one in (str(path), path):
        with pytest.raises(TypeError, match="is one path: give a list"):
            RecordingFiles(one, 22050.0)
    with pytest.raises(ValueError, match=r"paths of shape \(1, 1\)"):
        RecordingFiles(np.array([[str(path)]], dtype=object), 22050.0)
    with pytest.raises(ValueError, match=r"stamps of shape \(3, 2\) for 1"):
        RecordingFiles([str(path)], 22050.0, stamps=np.zeros((3, 2), np.int64))
    assert len(RecordingFiles([path], 22050.0)) == 1


def test_an_empty_path_is_refused_not_read_as_the_working_folder(tmp_path, monkeypatch):
    """Path("") is ".": a script's unset variable (predict model "$DIR")
    screened, or loaded, whatever lay in the working folder."""
    from vascular_sklearn.datasets import load_physionet2016, load_recordings

    (tmp_path / "normal").mkdir()
    sf.write(tmp_path / "normal" / "P1_0.wav", np.zeros(100), 22050)
    monkeypatch.chdir(tmp_path)
    assert recording_paths(".") == ["normal/P1_0.wav"]  # what "" gave
    for read in (
        recording_paths,
        find_recordings,
        read_manifest,
        load_recordings,
        load_physionet2016,
        lambda path: recording_paths([tmp_path, path]),
    ):
        for empty in ("", b""):
            with pytest.raises(FileNotFoundError, match="an empty path names no"):
                read(empty)
