"""The PhysioNet/CinC 2016 loader: REFERENCE files through the manifest path."""

import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from vascular_sklearn.corpus import RecordingFiles, read_manifest
from vascular_sklearn.datasets import load_physionet2016
from vascular_sklearn.exceptions import LabelFileError, MixedSampleRateWarning

RATE = 2000
PHYSIONET_DIR = (
    Path(__file__).resolve().parents[1].parent / "shared" / "data" / "physionet2016"
)


def _write(path: Path, value: float, n: int = 200) -> None:
    sf.write(path, np.full(n, value), RATE, subtype="PCM_16")


@pytest.fixture
def root(tmp_path):
    """training-a: three listed records (one only as WAV, one as FLAC and WAV)
    plus an unlisted file; training-b: one record. The REFERENCE file of a has a
    byte order mark, blank lines and spaces around fields."""
    a, b = tmp_path / "training-a", tmp_path / "training-b"
    a.mkdir()
    b.mkdir()
    _write(a / "a0001.flac", 0.125)
    _write(a / "a0002.flac", 0.25)
    _write(a / "a0002.wav", -0.5)  # the FLAC copy is the one loaded
    _write(a / "a0003.wav", 0.375)
    _write(a / "a9999.flac", 0.5)  # not in REFERENCE.csv: ignored
    (a / "RECORDS").write_text("a0001\na0002\na0003\n")
    (a / "REFERENCE.csv").write_bytes(
        b"\xef\xbb\xbfa0001,1\r\n\r\n a0002 , -1\n   \na0003,1\n"
    )
    _write(b / "b0001.flac", -0.125)
    (b / "REFERENCE.csv").write_text("b0001,-1\n")
    return tmp_path


def test_a_database_at_its_own_rate_is_named_by_its_labels(root):
    sf.write(root / "training-b" / "b0001.flac", np.zeros(400), 4000)
    message = "2000 Hz: 1 normal, 2 abnormal; 4000 Hz: 1 normal, 0 abnormal"
    with pytest.warns(MixedSampleRateWarning, match=re.escape(message)):
        data = load_physionet2016(root)
    assert data.sample_rate == RATE


def _no_decoding(monkeypatch):
    """Make any decoding of samples fail: the library reads them through
    SoundFile.read (sf.read too goes there); headers are read without it."""

    def no_audio(*args, **kwargs):
        raise AssertionError("the loader read audio")

    monkeypatch.setattr(sf.SoundFile, "read", no_audio)
    monkeypatch.setattr(sf, "read", no_audio)


def test_bunch_lists_records_lazily(root, monkeypatch):
    _no_decoding(monkeypatch)
    data = load_physionet2016(root)
    with pytest.raises(AssertionError, match="read audio"):
        data.recordings[0]  # the guard bites where samples are read
    monkeypatch.undo()
    assert isinstance(data.recordings, RecordingFiles)
    assert data.target.tolist() == [1, 0, 1, 0]
    assert data.groups.tolist() == ["a", "a", "a", "b"]
    assert data.record.tolist() == ["a0001", "a0002", "a0003", "b0001"]
    names = ["training-a/a0001.flac", "training-a/a0002.flac"]
    names += ["training-a/a0003.wav", "training-b/b0001.flac"]
    assert [data.recordings.name(i) for i in range(4)] == names
    assert data.filenames.tolist() == [str(root / n) for n in names]
    assert data.sample_rate == 2000.0 and data.recordings.sample_rate == 2000.0
    assert data.target_names.tolist() == ["normal", "abnormal"]
    assert "Physiol Meas 37(12):2181-2213, 2016" in data.DESCR
    assert re.search(r"^a\s+3\s+2\s+1$", data.DESCR, re.MULTILINE)
    assert re.search(r"^b\s+1\s+0\s+1$", data.DESCR, re.MULTILINE)
    # each record reads its own file: the WAV-only one, the FLAC of a pair
    np.testing.assert_allclose(data.recordings[2], 0.375)
    np.testing.assert_allclose(data.recordings[1], 0.25)


def test_sample_rate_resamples_when_read(root):
    data = load_physionet2016(root, sample_rate=4000)
    assert data.sample_rate == 4000.0
    assert len(data.recordings[0]) == 400


@pytest.mark.parametrize(
    "databases", [["b"], ["training-b"], "b", ("B",), iter(["training-b"])]
)
def test_databases_choose_a_subset(root, databases):
    data = load_physionet2016(root, databases=databases)
    assert data.record.tolist() == ["b0001"] and data.groups.tolist() == ["b"]
    assert "a0001" not in data.DESCR and "b " in data.DESCR


def test_a_database_folder_in_capitals_is_chosen_in_any_case(root):
    (root / "training-b").rename(root / "training-B")
    for name in ("B", "b", "training-B"):
        data = load_physionet2016(root, databases=name)
        assert data.record.tolist() == ["b0001"] and data.groups.tolist() == ["B"]
    # the prefix in capitals too: the folder was left out unsaid
    (root / "training-B").rename(root / "TRAINING-B")
    assert "b0001" in load_physionet2016(root).record.tolist()
    (root / "Training-b").mkdir()
    with pytest.raises(ValueError, match="TRAINING-B/ and Training-b/ are one"):
        load_physionet2016(root)


def test_databases_keep_folder_order_once(root):
    data = load_physionet2016(root, databases=["b", "a", "training-b"])
    assert data.record.tolist() == ["a0001", "a0002", "a0003", "b0001"]


def test_unknown_or_no_database_is_refused(root):
    with pytest.raises(ValueError, match=r"unknown database 'g': .* holds a, b"):
        load_physionet2016(root, databases=["a", "g"])
    with pytest.raises(ValueError, match="no database chosen"):
        load_physionet2016(root, databases=[])
    with pytest.raises(TypeError, match="a database's letter or a list of them"):
        load_physionet2016(root, databases=5)


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        ("a0001,1\na0002\n", LabelFileError, r"line 2: expected two fields.*got 1"),
        ("a0001,1,good\n", LabelFileError, r"line 1: expected two fields.*got 3"),
        ("a0001,1\n,-1\n", LabelFileError, r"line 2: empty record"),
        ("a0001,\n", LabelFileError, r"line 1: empty label"),
        ("a0001,0\n", LabelFileError, r"line 1: unknown label '0'; .* only 1 .* -1"),
        ("a0001,normal\n", LabelFileError, r"line 1: unknown label 'normal'"),
        (
            "a0001,1\n\na0001,-1\n",
            LabelFileError,
            r"line 3: record 'a0001' listed again \(first on line 1\)",
        ),
        (
            "a0001,1\na0005,-1\n",
            FileNotFoundError,
            r"line 2: no audio for record 'a0005'; expected .*a0005\.flac or \.wav",
        ),
        ("\n  \n", LabelFileError, r"lists no recordings"),
        ("a0001,1\n".encode("utf-16"), LabelFileError, r"not UTF-8 text"),
        # a quote that never closes: csv's bare error, or the line it ran to
        ('"a0001,1\n' + "a0002,-1\n" * 20000, LabelFileError, r"line 1: field la"),
        ('a0001,1\n"a0002,-1\na0003,1\n', LabelFileError, r"line 2: a quote"),
    ],
)
def test_reference_errors_name_file_and_line(root, text, error, message):
    reference = root / "training-a" / "REFERENCE.csv"
    if isinstance(text, bytes):
        reference.write_bytes(text)
    else:
        reference.write_text(text)
    with pytest.raises(error, match=re.escape(str(reference)) + ".*" + message):
        load_physionet2016(root)


def test_missing_reference_or_folders(root, tmp_path_factory):
    (root / "training-a" / "REFERENCE.csv").unlink()
    with pytest.raises(FileNotFoundError, match=r"training-a has no REFERENCE\.csv"):
        load_physionet2016(root)
    # only the chosen databases need one
    assert load_physionet2016(root, databases=["b"]).record.tolist() == ["b0001"]
    empty = tmp_path_factory.mktemp("empty")
    (empty / "validation").mkdir()
    with pytest.raises(FileNotFoundError, match=r"holds no training-\* folders"):
        load_physionet2016(empty)
    with pytest.raises(FileNotFoundError, match="no folder at"):
        load_physionet2016(empty / "gone")


def test_one_database_folder_on_its_own(root, tmp_path_factory, monkeypatch):
    alone = load_physionet2016(root / "training-a")
    assert alone.record.tolist() == ["a0001", "a0002", "a0003"]
    assert alone.groups.tolist() == ["a"] * 3 and alone.target.tolist() == [1, 0, 1]
    assert alone.recordings.name(0) == "training-a/a0001.flac"
    # another site's recordings in the challenge's layout, at their own rate
    site = tmp_path_factory.mktemp("site") / "clinic8k"
    site.mkdir()
    sf.write(site / "x1.wav", np.zeros(800), 8000)
    (site / "REFERENCE.csv").write_text("x1,-1\n")
    data = load_physionet2016(site)
    assert data.groups.tolist() == ["clinic8k"] and data.sample_rate == 8000.0
    # from inside the folder: "." has no name of its own
    monkeypatch.chdir(site)
    here = load_physionet2016(".")
    assert here.groups.tolist() == ["clinic8k"]
    assert here.recordings.name(0) == "clinic8k/x1.wav"


def test_a_manifest_of_the_same_files_gives_the_same_bunch(root):
    """Both loaders share the manifest path; read_manifest takes -1 as normal."""
    data = load_physionet2016(root)
    lines = ["path,label,patient"]
    lines += [
        f"{f},{'1' if y else '-1'},{g}"
        for f, y, g in zip(data.filenames, data.target, data.groups, strict=True)
    ]
    (root / "manifest.csv").write_text("\n".join(lines) + "\n")
    manifest = read_manifest(root / "manifest.csv")
    assert manifest.target.tolist() == data.target.tolist()
    assert manifest.groups.tolist() == data.groups.tolist()
    assert manifest.filenames.tolist() == data.filenames.tolist()
    assert manifest.sample_rate == data.sample_rate


def test_real_corpus_counts_without_reading_audio(monkeypatch):
    assert PHYSIONET_DIR.is_dir(), (
        f"the PhysioNet 2016 corpus must sit at {PHYSIONET_DIR}"
    )

    _no_decoding(monkeypatch)
    data = load_physionet2016(PHYSIONET_DIR)
    assert len(data.recordings) == len(data.target) == 1699
    assert data.sample_rate == 2000.0
    letters, counts = np.unique(data.groups, return_counts=True)
    assert letters.tolist() == list("abcdef")
    assert counts.tolist() == [409, 490, 31, 55, 600, 114]
    abnormal = [int(data.target[data.groups == g].sum()) for g in letters]
    assert abnormal == [292, 104, 24, 28, 183, 34]
    assert data.recordings.name(0) == "training-a/a0001.flac"
    assert len(set(data.record)) == 1699
