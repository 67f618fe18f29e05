"""A clinic's files and the tables it opens in a spreadsheet.

The fixtures are small: a GaussianNB pipeline fitted on four synthetic
recordings, written under the names a clinic's files can have.
"""

import csv
import io
import unicodedata

import joblib
import numpy as np
import pytest
import soundfile as sf
from sklearn.naive_bayes import GaussianNB

from vascular_sklearn import RecordingClassifier, make_seed_pipeline
from vascular_sklearn.cli import main
from vascular_sklearn.corpus import read_manifest
from vascular_sklearn.datasets import make_recordings
from vascular_sklearn.exceptions import LabelFileError
from vascular_sklearn.screening import predict_files


@pytest.fixture(scope="module")
def recordings():
    """Four synthetic recordings of 8 s (two of each class) and a fast model."""
    data = make_recordings(
        n_patients=2, recordings_per_patient=2, duration=8.0, random_state=4
    )
    model = make_seed_pipeline().set_params(
        classifier=RecordingClassifier(GaussianNB())
    )
    return data, model.fit(data.recordings, data.target)


def _write(folder, names, data):
    for name, x in zip(names, data.recordings, strict=False):
        sf.write(folder / name, x, int(data.sample_rate), subtype="PCM_16")


def test_a_table_opened_in_a_spreadsheet_runs_no_formula(
    recordings, tmp_path, monkeypatch
):
    """A recording named ``=1+1.wav`` was written as the cell ``=1+1.wav``,
    which Excel and LibreOffice run as a formula (OWASP, CSV injection)."""
    data, model = recordings
    names = ["=1+1.wav", "@SUM(A1).wav", "+1.wav", "-1.wav"]
    _write(tmp_path, names, data)
    monkeypatch.chdir(tmp_path)  # paths as given: the cell starts with the name
    predict_files(model, names, "table.csv")
    with open("table.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [row["path"] for row in rows] == ["'" + name for name in names]
    assert all(float(row["probability_stenosis"]) >= 0 for row in rows)


def test_names_with_a_carriage_return_or_quotes_round_trip(recordings, tmp_path):
    """A file name holding a lone CR (legal on Linux and macOS) was written
    unquoted: every CSV reader ended the row there."""
    data, model = recordings
    names = ["cr\rx.wav", "new\nline.wav", 'a, "b".wav', "ok.wav"]
    _write(tmp_path, names, data)
    out = io.StringIO()
    predict_files(model, [tmp_path / name for name in names], out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue(), newline="")))
    assert [row["path"] for row in rows] == [str(tmp_path / n) for n in names]
    assert out.getvalue().count("\n") == 1 + len(names) + 1  # one name holds \n


def test_score_writes_a_manifests_patient_as_text(recordings, tmp_path, capsys):
    """A manifest's patient ``=HYPERLINK(...)`` went into the group column of
    ``score -o`` as it was: a link in the clinic's spreadsheet."""
    data, model = recordings
    names = [f"r{k}.wav" for k in range(4)]
    _write(tmp_path, names, data)
    joblib.dump(model, tmp_path / "m.joblib")
    patients = ['=HYPERLINK("http://x","y")', "+P2", "-P3", "P4"]
    with open(tmp_path / "m.csv", "w", newline="", encoding="utf-8") as f:
        table = csv.writer(f)
        table.writerow(["path", "label", "patient"])
        table.writerows(zip(names, data.target, patients, strict=True))
    argv = ["score", "--trust-pickle", str(tmp_path / "m.joblib")]
    assert main([*argv, str(tmp_path / "m.csv"), "-o", str(tmp_path / "s.csv")]) == 0
    with open(tmp_path / "s.csv", newline="", encoding="utf-8") as f:
        groups = [row["group"] for row in csv.DictReader(f)]
    assert groups == ["'" + p for p in patients[:3]] + ["P4"]


def test_a_recording_named_like_an_option_is_not_taken_for_the_table(
    recordings, tmp_path, monkeypatch, capsys
):
    """``predict model a.wav -o.wav`` is argparse's ``-o .wav``: it screened
    a.wav alone, wrote the table to a hidden .wav and exited 0."""
    data, model = recordings
    _write(tmp_path, ["a.wav", "-o.wav"], data)
    joblib.dump(model, tmp_path / "m.joblib")
    monkeypatch.chdir(tmp_path)
    assert main(["predict", "--trust-pickle", "m.joblib", "a.wav", "-o.wav"]) == 2
    assert not (tmp_path / ".wav").exists()
    assert "./-o.wav or after --" in capsys.readouterr().err
    # as the message says
    assert main(["predict", "--trust-pickle", "m.joblib", "a.wav", "./-o.wav"]) == 0
    assert len(list(csv.DictReader(io.StringIO(capsys.readouterr().out)))) == 2


def test_the_empty_rows_a_spreadsheet_leaves_are_skipped(tmp_path):
    """Excel writes ``;;;`` rows below a table it once held more of, and empty
    columns beside it: "line 4: no path" stopped the read."""
    for name in ("a.wav", "b.wav"):
        sf.write(tmp_path / name, np.zeros(100), 22050)
    (tmp_path / "m.csv").write_bytes(
        b"path;label;patient;;\r\na.wav;0;P1;;\r\nb.wav;1;P2;;\r\n;;;;\r\n;;;;\r\n"
    )
    data = read_manifest(tmp_path / "m.csv")
    assert data.target.tolist() == [0, 1] and data.groups.tolist() == ["P1", "P2"]
    # a row with a field is no empty row
    (tmp_path / "m.csv").write_text("path,label\na.wav,0\n,1\n")
    with pytest.raises(LabelFileError, match="line 3: no path"):
        read_manifest(tmp_path / "m.csv")


def test_a_manifest_made_on_windows_reads_its_backslashes(tmp_path):
    """A folder copied from Windows with its manifest: ``sub\\b.wav`` named no
    file on Linux or macOS."""
    (tmp_path / "sub").mkdir()
    sf.write(tmp_path / "sub" / "b.wav", np.zeros(100), 22050)
    (tmp_path / "m.csv").write_text("path,patient\nsub\\b.wav,P1\n")
    data = read_manifest(tmp_path / "m.csv")
    assert data.filenames.tolist() == [str(tmp_path / "sub" / "b.wav")]


def test_an_accented_name_is_found_in_either_unicode_form(tmp_path):
    """A file named on macOS (decomposed, NFD) and listed from a keyboard
    (composed, NFC): "line 2: Müller.wav: no such file" beside that very name."""
    sf.write(tmp_path / unicodedata.normalize("NFD", "Müller.wav"), np.zeros(100), 8000)
    (tmp_path / "m.csv").write_text("path\nMüller.wav\n", encoding="utf-8")
    assert len(read_manifest(tmp_path / "m.csv").recordings) == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # Excel's "CSV" in a Western locale: cp1252, an accented patient
        ("path;patient\r\na.wav;P1\r\na.wav;Ren\xe9e\r\n".encode("cp1252"), "line 3"),
        # Excel's "Unicode Text"; without its BOM, read as a header without path
        ("path\ta\r\n".encode("utf-16"), "UTF-16"),
        ("path\ta\r\n".encode("utf-16-le"), "UTF-16"),
    ],
)
def test_a_manifest_in_another_encoding_is_named_as_such(tmp_path, text, message):
    (tmp_path / "m.csv").write_bytes(text)
    with pytest.raises(LabelFileError, match=f"m.csv.*{message}.*save it as UTF-8"):
        read_manifest(tmp_path / "m.csv")
