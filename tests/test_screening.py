"""Streaming prediction over folders and manifests: one CSV row per file."""

import copy
import csv
import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import joblib
import numpy as np
import pytest
import sklearn
import soundfile as sf
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import FixedThresholdClassifier
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import Pipeline, make_pipeline

from vascular_sklearn import (
    LowpassFilter,
    MeanSmoother,
    NoPulseWarning,
    PeakCycleCutter,
    RecordingClassifier,
    Signals,
    make_seed_pipeline,
    make_stenosis_pipeline,
)
from vascular_sklearn._output import check_output
from vascular_sklearn.audio import resample
from vascular_sklearn.cycle_quality import PULSE_LIMIT_DB
from vascular_sklearn.datasets import make_recordings
from vascular_sklearn.features import BeatEnvelopeFeatures
from vascular_sklearn.recorder import quantise, rounding_snr_db
from vascular_sklearn.screening import (
    COARSE_LIMIT_DB,
    COLUMNS,
    _write_table,
    external_validation,
    predict_files,
    score_files,
)

REPO = Path(__file__).resolve().parents[1]
N_FILES = 200


@pytest.fixture(scope="module")
def model_and_folder(tmp_path_factory):
    """A fast fitted pipeline, and a folder of 200 synthetic 16-bit WAVs.

    Eight distinct recordings are written 25 times each under other names:
    the streaming path cannot tell, and writing stays quick.
    """
    data = make_recordings(
        n_patients=4, recordings_per_patient=2, duration=8.0, random_state=4
    )
    model = make_seed_pipeline().set_params(
        classifier=RecordingClassifier(GaussianNB())
    )
    model.fit(data.recordings, data.target)
    root = tmp_path_factory.mktemp("screen")
    folder = root / "archive"
    folder.mkdir()
    for k in range(N_FILES):
        x = data.recordings.data[k % len(data.target)]
        sf.write(folder / f"rec{k:03d}.wav", x, 22050, subtype="PCM_16")
    joblib.dump(model, root / "model.joblib")
    return model, folder


def _read(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_outputs_are_checked_first_and_nothing_of_the_users_is_written_over(
    model_and_folder, tmp_path
):
    model, folder = model_and_folder
    one = [folder / "rec000.wav"]
    # a file of the user's that happens to bear the old temporary name
    (tmp_path / "screen.csv.partial").write_text("my notes")
    predict_files(model, one, tmp_path / "screen.csv")
    assert (tmp_path / "screen.csv.partial").read_text() == "my notes"
    assert len(_read(tmp_path / "screen.csv")) == 1
    with pytest.raises(FileExistsError, match=r"screen\.csv exists"):
        predict_files(model, one, tmp_path / "screen.csv")
    with pytest.raises(FileNotFoundError, match=r"the folder .*nodir does not exist"):
        predict_files(model, one, tmp_path / "nodir" / "screen.csv")
    with pytest.raises(FileNotFoundError, match=r"screen\.csv is a file, not a"):
        predict_files(model, one, tmp_path / "screen.csv" / "again.csv")
    with pytest.raises(IsADirectoryError, match="is a folder"):
        predict_files(model, one, tmp_path, overwrite=True)
    # overwrite replaces the table, never a recording being screened
    sound = one[0].read_bytes()
    with pytest.raises(FileExistsError, match="is read by this run"):
        predict_files(model, folder, one[0], overwrite=True)
    assert one[0].read_bytes() == sound
    # nor the label file of a PhysioNet folder that score reads
    labels = tmp_path / "REFERENCE.csv"
    labels.write_text("a0001,-1\n")
    with pytest.raises(FileExistsError, match="is read by this run"):
        check_output(labels, overwrite=True, inputs=[tmp_path])
    assert check_output(tmp_path / "screen.csv", overwrite=True, inputs=[tmp_path])
    labels.unlink()
    # a folder is read with its subfolders (PhysioNet: ROOT/training-a/...)
    site = tmp_path / "training-a"
    site.mkdir()
    for name in ("REFERENCE.csv", "a0001.wav"):
        (site / name).write_text("")
        with pytest.raises(FileExistsError, match="is read by this run"):
            check_output(site / name, overwrite=True, inputs=[tmp_path])
    shutil.rmtree(site)
    # a label folder or a recording reached through a link is read too: the
    # resolved path alone lay outside the folder, and overwrite replaced it
    store = tmp_path / "store"
    store.mkdir()
    for name in ("a.wav", "REFERENCE.csv"):
        (store / name).write_text("kept")
    data = tmp_path / "data"
    data.mkdir()
    (data / "normal").symlink_to(store)
    (data / "abnormal").mkdir()
    (data / "abnormal" / "b.wav").symlink_to(store / "a.wav")
    for out in (data / "normal" / "a.wav", data / "normal" / "REFERENCE.csv"):
        with pytest.raises(FileExistsError, match="is read by this run"):
            check_output(out, overwrite=True, inputs=[data])
    with pytest.raises(FileExistsError, match="is read by this run"):
        check_output(data / "abnormal" / "b.wav", overwrite=True, inputs=[data])
    assert check_output(store / "a.csv", overwrite=True, inputs=[data])
    shutil.rmtree(data)
    shutil.rmtree(store)
    # a name the file system refuses, refused before the work, not after it
    with pytest.raises(OSError, match=r"a{9}\.vsk: a file name longer than 255"):
        check_output(tmp_path / ("a" * 252 + ".vsk"))
    # a write stopped part-way leaves nothing behind

    def stopped(out):
        out.write("path,probability_stenosis\n")
        raise RuntimeError("stopped")

    with pytest.raises(RuntimeError, match="stopped"):
        _write_table(tmp_path / "t.csv", stopped)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "screen.csv",
        "screen.csv.partial",
    ]


def test_folder_of_200_files_gives_200_rows_in_order(model_and_folder, tmp_path):
    model, folder = model_and_folder
    out = tmp_path / "screen.csv"
    summary = predict_files(model, folder, out, batch_size=16)
    rows = _read(out)
    assert summary.n_files == summary.n_scored == len(rows) == N_FILES
    assert list(rows[0]) == list(COLUMNS)
    assert [Path(r["path"]).name for r in rows] == [
        f"rec{k:03d}.wav" for k in range(N_FILES)
    ]
    assert [p.name for p in tmp_path.iterdir()] == ["screen.csv"]  # no .partial
    # the same answer as the pipeline on the files loaded at once
    files = [r["path"] for r in rows[:8]]
    from vascular_sklearn.corpus import RecordingFiles

    expected = model.predict_proba(RecordingFiles.from_paths(files).load())[:, 1]
    got = np.array([float(r["probability_stenosis"]) for r in rows[:8]])
    np.testing.assert_allclose(got, expected, atol=5e-5)
    labels = {r["label"] for r in rows}
    assert labels <= {"normal", "stenosis"}


def test_parallel_batches_write_the_same_table(model_and_folder, tmp_path):
    model, folder = model_and_folder
    files = sorted(folder.glob("*.wav"))[:24]
    predict_files(model, files, tmp_path / "one.csv", batch_size=5)
    predict_files(model, files, tmp_path / "two.csv", batch_size=5, n_jobs=2)
    assert (tmp_path / "one.csv").read_text() == (tmp_path / "two.csv").read_text()


def test_a_cut_short_copy_is_scored_on_what_is_there_and_flagged(
    model_and_folder, tmp_path
):
    model, folder = model_and_folder
    whole = sorted(folder.glob("*.wav"))[0]
    raw = whole.read_bytes()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(raw[: 44 + (len(raw) - 44) // 2])  # an interrupted copy
    part = tmp_path / "part.wav"  # the same samples in a sound file
    sf.write(part, sf.read(cut, dtype="int16")[0], 22050, subtype="PCM_16")
    with pytest.warns(UserWarning, match=r"cut\.wav: the file ends after 4\.00 s"):
        rows = score_files(model, [whole, cut, part])
    assert [r["quality"] for r in rows] == ["ok", "cut_short", "ok"]
    assert rows[1]["message"].startswith(
        "the file ends after 4.00 s of the 8.00 s its header declares"
    )
    assert rows[1]["probability_stenosis"] == rows[2]["probability_stenosis"] != ""
    # in worker processes no warning reaches the caller: the row still says it
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        predict_files(
            model, [cut, whole, cut], tmp_path / "s.csv", n_jobs=2, batch_size=1
        )
    table = _read(tmp_path / "s.csv")
    assert [r["quality"] for r in table] == ["cut_short", "ok", "cut_short"]
    # a cut too short to hold a beat says both
    stub = tmp_path / "stub.wav"
    stub.write_bytes(raw[: 44 + 2 * 2205])
    with pytest.warns(UserWarning, match="stub.wav"):
        (row,) = score_files(model, [stub])
    assert row["quality"] == "too_few_cycles"
    assert "no heart cycle" in row["message"]
    assert "0.10 s of the 8.00 s" in row["message"]
    assert "only 0.10 s long" in row["message"]
    # and a file of a few samples, how many milliseconds (it said 0.00 s)
    speck = tmp_path / "speck.wav"
    sf.write(speck, np.full(11, 0.1), 22050, subtype="PCM_16")
    (row,) = score_files(model, [speck])
    assert "only 0.5 ms long" in row["message"]
    # under the 3 s limit, said under it (2.999 s read "only 3.00 s long")
    sf.write(speck, np.full(66128, 0.1), 22050, subtype="PCM_16")
    (row,) = score_files(model, [speck])
    assert "only 2.99 s long" in row["message"]


def test_a_file_name_that_is_no_utf8_is_read_and_written_back(
    model_and_folder, tmp_path
):
    """Names from an old stick can be Latin-1 bytes; the table was lost."""
    model, folder = model_and_folder
    name = os.fsdecode(b"caf\xe9.wav")  # what os.listdir gives for it
    shutil.copy(sorted(folder.glob("*.wav"))[0], tmp_path / name)
    counts = predict_files(model, [tmp_path], tmp_path / "t.csv")
    assert counts.n_scored == 1
    assert b"/caf\xe9.wav," in (tmp_path / "t.csv").read_bytes()


def test_a_recording_too_coarse_for_its_converter_is_scored_and_flagged(
    model_and_folder, tmp_path
):
    model, folder = model_and_folder
    whole = sorted(folder.glob("*.wav"))[0]
    x = sf.read(whole)[0]
    gain, step = 0.02, 33
    sf.write(tmp_path / "fine.wav", quantise(gain * x, 1), 22050, "PCM_16")
    sf.write(tmp_path / "coarse.wav", quantise(gain * x, step), 22050, "PCM_16")
    # measured on the samples as read: resampling takes them off the grid
    fast = quantise(resample(gain * x, 22050, 44100), step)
    sf.write(tmp_path / "fast.wav", fast, 44100, "PCM_16")
    files = [whole] + [tmp_path / f"{n}.wav" for n in ("fine", "coarse", "fast")]
    rows = score_files(model, files)
    assert [r["quality"] for r in rows] == ["ok", "ok", "coarse", "coarse"]
    assert rows[2]["probability_stenosis"] != ""
    # the message says how far below the sound the rounding noise lies
    snr = rounding_snr_db(quantise(gain * x, step), 22050)
    assert snr < COARSE_LIMIT_DB < rounding_snr_db(quantise(gain * x, 1), 22050)
    assert rows[2]["message"].startswith(
        f"the converter's rounding noise lies {snr:.0f} dB below the sound"
    )
    assert "record again with more gain" in rows[2]["message"]


def test_bad_and_silent_files_get_a_reason_and_the_rest_are_scored(
    model_and_folder, tmp_path
):
    model, folder = model_and_folder
    good = sorted(folder.glob("*.wav"))[:3]
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x00\x00not audio at all")
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(22050 * 5), 22050)
    slow = tmp_path / "slow.wav"
    heart = make_recordings(1, 1, duration=10.0, heart_rate=(45, 45), random_state=0)
    sf.write(slow, heart.recordings[0], 22050, subtype="FLOAT")
    rows = score_files(model, [good[0], bad, good[1], silent, good[2], slow])
    quality = [r["quality"] for r in rows]
    assert quality == ["ok", "error", "ok", "too_few_cycles", "ok", "too_few_cycles"]
    assert rows[1]["message"].startswith("not a readable audio file")
    assert "no heart cycle" in rows[3]["message"]
    assert "silent (every sample holds the same value)" in rows[3]["message"]
    assert "max_gap" not in rows[3]["message"]
    # a slow heart is told what finds its beats
    assert "further apart than the cutter's max_gap" in rows[5]["message"]
    assert "method='period'" in rows[5]["message"]
    # and following the advice scores it
    period = copy.deepcopy(model).set_params(cut__method="period")
    assert score_files(period, [slow])[0]["quality"] == "ok"
    assert rows[1]["probability_stenosis"] == rows[3]["probability_stenosis"] == ""
    # the good files' answers do not depend on their neighbours
    alone = score_files(model, good)
    assert [r["probability_stenosis"] for r in alone] == [
        rows[i]["probability_stenosis"] for i in (0, 2, 4)
    ]


def test_a_feature_model_does_not_score_a_recording_without_cycles(
    model_and_folder, tmp_path
):
    """Features with a NaN row for a recording without a cycle, imputed, would
    be scored and called "ok" with 1 cycle used."""
    _, folder = model_and_folder
    files = sorted(folder.glob("*.wav"))[:8]
    data = [sf.read(f, dtype="float32")[0] for f in files]  # at 22050 Hz
    features = make_pipeline(
        LowpassFilter(),
        MeanSmoother(),
        PeakCycleCutter(),
        BeatEnvelopeFeatures(on_empty="nan"),
        SimpleImputer(),
        LogisticRegression(),
    ).fit(data, [0, 1] * 4)
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(22050 * 5), 22050)
    rows = score_files(features, [files[0], silent])
    assert [r["quality"] for r in rows] == ["ok", "too_few_cycles"]
    assert rows[1]["probability_stenosis"] == ""
    assert int(rows[0]["cycles_used"]) > 1  # the recording's, not a row's 1
    # features that refuse a recording without cycles (their default) give
    # the same rows: the file's was an error saying so, after the batch was
    # scored again file by file
    refusing = clone(features).set_params(beatenvelopefeatures__on_empty="error")
    assert score_files(refusing.fit(data, [0, 1] * 4), [files[0], silent]) == rows
    # features as a table (pandas output) are scored by row, not by column
    with sklearn.config_context(transform_output="pandas"):
        table = clone(features).fit(data, [0, 1] * 4)
        assert score_files(table, [files[0], silent]) == rows


def test_noise_without_a_pulse_is_scored_and_flagged(model_and_folder, tmp_path):
    """A microphone off the access hears noise; the cutter still cuts it."""
    model, folder = model_and_folder
    whole = sorted(folder.glob("*.wav"))[0]
    rng = np.random.default_rng(0)
    sf.write(tmp_path / "hiss.wav", 0.1 * rng.standard_normal(22050 * 8), 22050)
    rows = score_files(model, [whole, tmp_path / "hiss.wav"])
    assert [r["quality"] for r in rows] == ["ok", "no_pulse"]
    assert int(rows[1]["cycles_used"]) > 0 and rows[1]["probability_stenosis"] != ""
    swing = float(rows[1]["message"].split(" dB")[0].rsplit(" ", 1)[1])
    assert swing < PULSE_LIMIT_DB
    assert "microphone sits on the access" in rows[1]["message"]
    # measured on the sound as cut, not after a harmonizer adds its noise
    # floor (here as loud as the sound, which would hide any pulse)
    robust = make_stenosis_pipeline(random_state=0, harmonize__snr_db=0.0)
    robust.set_params(classifier=RecordingClassifier(GaussianNB()))
    data = make_recordings(
        n_patients=2, recordings_per_patient=2, duration=8.0, random_state=0
    )
    robust.fit(data.recordings, data.target)
    rows = score_files(robust, [whole, tmp_path / "hiss.wav"])
    assert [r["quality"] for r in rows] == ["ok", "no_pulse"]
    assert f"swings {swing:.1f} dB" in rows[1]["message"]


class _FiltersSeen(BaseEstimator):
    """A step that records the warning filters in force while it runs."""

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        self.seen_.append(list(warnings.filters))
        return X


def test_screening_leaves_the_warning_filters_of_other_threads_alone(
    model_and_folder, tmp_path
):
    """Filters are one per process: batches side by side in threads must not
    change them (a user's warning elsewhere lost) to keep the no-pulse rows
    quiet."""
    model = model_and_folder[0]
    rng = np.random.default_rng(1)
    for k in range(4):
        sf.write(tmp_path / f"hiss{k}.wav", 0.1 * rng.standard_normal(22050 * 8), 22050)
    probe = _FiltersSeen()
    probe.seen_ = []
    probed = Pipeline([*model.steps[:-1], ("probe", probe), model.steps[-1]])
    before = list(warnings.filters)
    with joblib.parallel_config(backend="threading"):
        predict_files(probed, [tmp_path], tmp_path / "rows.csv", batch_size=1, n_jobs=2)
    rows = _read(tmp_path / "rows.csv")
    assert [r["quality"] for r in rows] == ["no_pulse"] * 4
    assert len(probe.seen_) == 4 and all(seen == before for seen in probe.seen_)


def test_the_default_network_warns_when_asked_about_noise(data, fitted_default):
    """Outside screening, predict_proba answers about a hiss as readily as
    about a vessel: the warning is what tells the user."""
    rate = data.recordings.sample_rate
    hiss = 0.1 * np.random.default_rng(0).standard_normal(int(8 * rate))
    X = Signals.from_arrays(
        [data.recordings.data[0], hiss], rate, names=["vessel", "hiss"]
    )
    with pytest.warns(NoPulseWarning, match=r"^hiss \(0\.\d dB\)"):
        proba = fitted_default.predict_proba(X)
    assert proba.shape == (2, 2) and np.all(np.isfinite(proba))


def test_clipped_recordings_are_flagged(model_and_folder, tmp_path):
    model, folder = model_and_folder
    x, rate = sf.read(sorted(folder.glob("*.wav"))[0], dtype="float32")
    level = 0.3 * np.abs(x).max()
    sf.write(tmp_path / "loud.wav", np.clip(x, -level, level), rate)
    (row,) = score_files(model, [tmp_path / "loud.wav"])
    assert row["quality"] == "clipped" and "% of samples clipped" in row["message"]
    assert "rescale such a file" in row["message"]  # float samples beyond 1.0
    assert row["probability_stenosis"] != ""


def test_a_rate_below_the_models_band_is_flagged(model_and_folder, tmp_path):
    """At 1 kHz a recording holds nothing above 500 Hz, where the model hears
    up to 1 kHz: scored, but not without saying so; 2 kHz holds the band."""
    model, folder = model_and_folder
    x, rate = sf.read(sorted(folder.glob("*.wav"))[0], dtype="float32")
    rows = {}
    for new_rate in (1000, 2000):
        path = tmp_path / f"at_{new_rate}.wav"
        sf.write(path, resample(x, rate, new_rate), new_rate)
        (rows[new_rate],) = score_files(model, [path])
    assert rows[1000]["quality"] == "low_rate" and rows[1000]["label"] != ""
    assert "holds nothing above 500 Hz" in rows[1000]["message"]
    assert "record at 2000 Hz or more" in rows[1000]["message"]
    assert "low_rate" not in rows[2000]["quality"] + rows[2000]["message"]


def test_manifest_source_and_existing_output_is_kept(model_and_folder, tmp_path):
    model, folder = model_and_folder
    names = [p.name for p in sorted(folder.glob("*.wav"))[:4]]
    manifest = tmp_path / "m.csv"
    manifest.write_text("path\n" + "".join(f"{folder / n}\n" for n in names))
    out = tmp_path / "out.csv"
    out.write_text("precious")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        predict_files(model, manifest, out)
    assert out.read_text() == "precious"
    predict_files(model, manifest, out, overwrite=True)
    assert [Path(r["path"]).name for r in _read(out)] == names
    # a listed file gone since the list was made gets its own row, as one
    # named on the command line does: it stopped the whole run
    with manifest.open("a") as f:
        f.write(f"{folder / 'gone.wav'}\n")
    summary = predict_files(model, manifest, out, overwrite=True)
    rows = _read(out)
    assert (summary.n_files, summary.n_scored) == (5, 4)
    assert rows[-1]["path"] == str(folder / "gone.wav")
    assert (rows[-1]["quality"], rows[-1]["message"]) == ("error", "no such file.")
    # none of them there: the list is read from elsewhere, and said so
    (tmp_path / "elsewhere.csv").write_text("path\nnormal/a.wav\n")
    with pytest.raises(FileNotFoundError, match=r"elsewhere\.csv, line 2"):
        predict_files(model, tmp_path / "elsewhere.csv", tmp_path / "none.csv")
    # a mistyped folder or an empty list is refused, not a table of one error
    for source, message in [
        (tmp_path / "archve", "archve: no such folder or file"),
        ([], "no recordings given"),
    ]:
        with pytest.raises(FileNotFoundError, match=message):
            predict_files(model, source, tmp_path / "none.csv")
    assert not (tmp_path / "none.csv").exists()


# VmHWM, not ru_maxrss: a child's ru_maxrss starts at the parent's (pytest's) peak
_MEASURE = """
import glob, json, re, sys, joblib
from vascular_sklearn.screening import predict_files
model = joblib.load(sys.argv[1])
files = sorted(glob.glob(sys.argv[2] + "/*.wav"))[: int(sys.argv[3])]
summary = predict_files(model, files, sys.argv[4], batch_size=16)
status = open("/proc/self/status").read()
peak = int(re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1)) / 1024
print(json.dumps({"rows": summary.n_files, "peak_mib": peak}))
"""


def test_streaming_memory_stays_flat_with_the_corpus(model_and_folder, tmp_path):
    """Peak memory for 200 files is within 40 MiB of that for 20 (stated bound).

    The 200 files' audio alone is 135 MiB as float32 and the chain holds about
    three copies, so reading the corpus at once would add hundreds of MiB.
    """
    _, folder = model_and_folder
    peaks = {}
    for n in (20, N_FILES):
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                _MEASURE,
                str(folder.parent / "model.joblib"),
                str(folder),
                str(n),
                str(tmp_path / f"{n}.csv"),
            ],
            capture_output=True,
            text=True,
            check=True,
            cwd=REPO,
        )
        result = json.loads(done.stdout)
        assert result["rows"] == n
        peaks[n] = result["peak_mib"]
    assert peaks[N_FILES] - peaks[20] < 40, peaks
    assert peaks[N_FILES] < 300, peaks


class _JustUnderHalf(ClassifierMixin, BaseEstimator):
    """Answers p = 0.49996 for every recording: written as 0.5000."""

    def fit(self, X, y):
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X):
        return np.tile([0.50004, 0.49996], (len(X), 1))


def test_labels_and_metrics_agree_with_the_probability_as_written(tmp_path):
    rng = np.random.default_rng(0)
    paths = [tmp_path / f"{i}.wav" for i in range(4)]
    for path in paths:
        sf.write(path, 0.1 * rng.standard_normal(22050), 22050)
    model = Pipeline([("classifier", _JustUnderHalf())]).fit(np.zeros((2, 9)), [0, 1])
    result = external_validation(model, paths, [1, 1, 0, 0], n_resamples=20)
    assert {r["probability_stenosis"] for r in result.rows} == {"0.5000"}
    assert {r["label"] for r in result.rows} == {"stenosis"}
    assert result.report["sensitivity"] == 1.0 and result.report["specificity"] == 0.0


def test_one_path_alone_is_one_file_and_a_threshold_is_a_probability(
    model_and_folder, tmp_path
):
    model, folder = model_and_folder
    path = folder / "rec000.wav"
    # a string is one file, not a sequence of one-letter paths; bytes too
    for one in (str(path), path, os.fsencode(path), [os.fsencode(path)]):
        (row,) = score_files(model, one)
        assert row["path"] == str(path) and row["quality"] != "error"
    for threshold in (50, 2, -0.1, float("nan"), "high"):
        with pytest.raises(ValueError, match="give a probability from 0 to 1"):
            score_files(model, [path], threshold=threshold)
        with pytest.raises(ValueError, match="give a probability from 0 to 1"):
            external_validation(model, [path], [1], threshold=threshold)
    out = tmp_path / "rows.csv"
    with pytest.raises(ValueError, match=r"an integer of at least 1, got 2\.5"):
        predict_files(model, folder, out, batch_size=2.5)
    with pytest.raises(ValueError, match="give a probability"):
        predict_files(model, folder, out, threshold=50)
    assert not out.exists()  # refused before any file was read
    with pytest.raises(FileNotFoundError, match="no recordings given"):
        external_validation(model, [], [])
    # a missing patient: refused after every file was scored, or np.unique's
    # TypeError where None sat among text ids
    scored = []
    with pytest.raises(ValueError, match=r"hold no id .* recordings \[1\]"):
        external_validation(
            model, [path, path], [1, 0], ["P1", None], progress=scored.append
        )
    assert scored == []


class _AlwaysPoint3(_JustUnderHalf):
    """Answers p = 0.3 for every recording."""

    def predict_proba(self, X):
        return np.tile([0.7, 0.3], (len(X), 1))


def test_external_validation_reports_at_the_threshold_given(tmp_path):
    """The report and its intervals are at the user's threshold, as the label
    column is, not at 0.5."""
    rng = np.random.default_rng(0)
    paths = [tmp_path / f"{i}.wav" for i in range(4)]
    for path in paths:
        sf.write(path, 0.1 * rng.standard_normal(22050), 22050)
    model = Pipeline([("classifier", _AlwaysPoint3())]).fit(np.zeros((2, 9)), [0, 1])
    result = external_validation(
        model, paths, [1, 1, 0, 0], threshold=0.25, n_resamples=20
    )
    assert {r["label"] for r in result.rows} == {"stenosis"}
    assert "sensitivity_ci" in result.report  # the bootstrap path
    assert result.report["sensitivity"] == 1.0 and result.report["specificity"] == 0.0
    assert result.report["sensitivity_ci"] == (1.0, 1.0)
    # no intervals when one class comes from a single patient: its resamples
    # would hold that patient or none
    one_patient = external_validation(
        model, paths, [1, 1, 0, 0], groups=["a", "a", "b", "c"], threshold=0.25
    )
    assert "sensitivity_ci" not in one_patient.report
    assert one_patient.report["sensitivity"] == 1.0


def test_a_table_made_by_someone_else_during_the_write_is_kept(tmp_path):
    """Without overwrite, a file that appears at the output while the table is
    written (another run, the user) is kept."""
    target = tmp_path / "screen.csv"

    def write(out):
        out.write("path\n")
        target.write_text("someone else's table")  # appears mid-run

    with pytest.raises(FileExistsError, match="overwrite=True"):
        _write_table(target, write)
    assert target.read_text() == "someone else's table"
    assert [p.name for p in tmp_path.iterdir()] == ["screen.csv"]


def test_cycles_used_counts_only_the_cycles_max_cycles_lets_through(
    model_and_folder,
):
    """cycles_used counts the cycles the classifier scored, after max_cycles'
    cap, not every cycle found."""
    model, folder = model_and_folder
    path = folder / "rec000.wav"
    (row,) = score_files(model, [path])
    assert int(row["cycles_used"]) > 2
    capped = copy.deepcopy(model).set_params(classifier__max_cycles=2)
    (row,) = score_files(capped, [path])
    assert int(row["cycles_used"]) == 2 and row["quality"] == "ok"


def test_a_missing_recording_gets_its_own_row_and_the_others_are_scored(
    model_and_folder, tmp_path
):
    """A missing .wav in a list gets an error row, not counted as scored, and
    does not stop the run: the other recordings are still scored."""
    model, folder = model_and_folder
    gone = tmp_path / "gone.wav"
    out = tmp_path / "t.csv"
    summary = predict_files(model, [folder / "rec000.wav", gone], out)
    rows = _read(out)
    assert [r["quality"] for r in rows] == ["ok", "error"]
    assert rows[1]["path"] == str(gone) and "no such file" in rows[1]["message"]
    assert summary.n_files == 2 and summary.n_scored == 1


def test_a_recording_reached_through_a_link_is_not_written_over(
    model_and_folder, tmp_path
):
    """A recording given through a link is known as the output too: else with
    overwrite=True the table would replace the recording."""
    model, folder = model_and_folder
    recording = tmp_path / "rec.wav"
    shutil.copy(folder / "rec000.wav", recording)
    sound = recording.read_bytes()
    link = tmp_path / "link.wav"
    link.symlink_to(recording)
    with pytest.raises(FileExistsError, match="is read by this run"):
        predict_files(model, [link], recording, overwrite=True)
    assert recording.read_bytes() == sound


def test_clipping_is_flagged_from_one_percent_of_the_samples(
    model_and_folder, tmp_path
):
    """A recording is flagged as clipped from 1 % of its samples, the
    documented limit: 3 % clipped is not "ok"."""
    model, folder = model_and_folder
    x, rate = sf.read(folder / "rec000.wav", dtype="float32")
    rows = {}
    for share in (0.005, 0.03):
        level = np.quantile(np.abs(x), 1 - share)
        sf.write(tmp_path / f"{share}.wav", np.clip(x, -level, level), rate)
        (rows[share],) = score_files(model, [tmp_path / f"{share}.wav"])
    assert rows[0.005]["quality"] == "ok"
    assert rows[0.03]["quality"] == "clipped"
    assert rows[0.03]["message"].startswith("3.0 % of samples clipped")


def test_a_recording_under_min_cycles_is_flagged_and_the_others_scored(
    model_and_folder, tmp_path
):
    """A recording with fewer cycles than the classifier's ``min_cycles`` is
    not sent to it (its refusal would take the whole batch): it is flagged,
    and the recording beside it keeps the answer it had."""
    model, folder = model_and_folder
    x, rate = sf.read(folder / "rec000.wav", dtype="float32")
    sf.write(tmp_path / "short.wav", x[: int(3 * rate)], rate)
    paths = [tmp_path / "short.wav", folder / "rec000.wav"]
    short, full = score_files(model, paths)
    few = int(short["cycles_used"])
    assert 0 < few < int(full["cycles_used"])
    strict = copy.deepcopy(model).set_params(classifier__min_cycles=few + 1)
    short, full_strict = score_files(strict, paths)
    assert short["quality"] == "too_few_cycles"
    assert short["probability_stenosis"] == ""
    assert full_strict["quality"] == "ok"
    assert full_strict["probability_stenosis"] == full["probability_stenosis"]


def _distinct(model_and_folder):
    """The model and the eight distinct recordings of its folder."""
    model, folder = model_and_folder
    return model, [folder / f"rec{k:03d}.wav" for k in range(8)]


def test_a_manifest_is_not_written_over_by_its_own_table(model_and_folder, tmp_path):
    """overwrite=True replaces a table, never the manifest being screened
    (the command line refused it; the function wrote over it)."""
    model, paths = _distinct(model_and_folder)
    manifest = tmp_path / "corpus.csv"
    manifest.write_text(f"path,label\n{paths[0]},1\n{paths[1]},0\n")
    before = manifest.read_text()
    for source in (manifest, [os.fsencode(manifest)]):  # bytes named it "b'...'"
        with pytest.raises(FileExistsError, match="is read by this run"):
            predict_files(model, source, manifest, overwrite=True)
    assert manifest.read_text() == before
    # a table beside it is still replaced
    out = tmp_path / "screen.csv"
    out.write_text("old")
    assert predict_files(model, manifest, out, overwrite=True).n_files == 2


def test_a_recording_too_short_for_the_period_cutter_is_called_short(
    model_and_folder, tmp_path
):
    """3.5 s holds beats (the seed cutter scores it), but the period cutter
    needs 3.9 s to find a period: the reason is the length, not the
    microphone."""
    model, paths = _distinct(model_and_folder)
    x, rate = sf.read(paths[0], dtype="float32")
    short = tmp_path / "short.wav"
    sf.write(short, x[: int(3.5 * rate)], rate, subtype="PCM_16")
    assert score_files(model, [short])[0]["quality"] == "ok"
    period = copy.deepcopy(model).set_params(cut__method="period")
    (row,) = score_files(period, [short])
    assert row["quality"] == "too_few_cycles"
    assert "only 3.50 s long" in row["message"]
    assert "needs 3.94 s" in row["message"]  # 3.90 s read "needs 3.9 s"
    assert "microphone" not in row["message"]


def test_too_few_cycles_for_min_cycles_says_record_longer(model_and_folder):
    """A clean recording whose beats give fewer cycles than ``min_cycles`` is
    told so, not that no beat stood out (check the microphone)."""
    model, paths = _distinct(model_and_folder)
    (row,) = score_files(model, [paths[4]])
    found = int(row["cycles_used"])
    strict = copy.deepcopy(model).set_params(classifier__min_cycles=found + 1)
    (row,) = score_files(strict, [paths[4]])
    assert row["quality"] == "too_few_cycles"
    assert "no beat stood out" not in row["message"]
    assert f"min_cycles={found + 1}" in row["message"]
    assert "record longer" in row["message"]


class _WordsClassifier(ClassifierMixin, BaseEstimator):
    """Trained on words: scikit-learn sorts them, so the abnormal class comes
    first beside normal (or healthy). Answers P(abnormal) = 0.8."""

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        return np.tile([0.8, 0.2], (len(X), 1))


@pytest.mark.parametrize("other", ["normal", "healthy"])
def test_a_model_trained_on_the_words_abnormal_normal_reports_abnormal(
    model_and_folder, tmp_path, other
):
    """probability_stenosis is the abnormal class's probability, whatever
    column scikit-learn's sorting puts it in, and the metrics follow."""
    _, paths = _distinct(model_and_folder)
    model = Pipeline([("classifier", _WordsClassifier())]).fit(
        np.zeros((2, 9)), [other, "abnormal"]
    )
    rows = score_files(model, paths[:4])
    assert {r["probability_stenosis"] for r in rows} == {"0.8000"}
    assert {r["label"] for r in rows} == {"abnormal"}
    result = external_validation(model, paths[:4], [1, 1, 0, 0], n_resamples=20)
    assert result.report["sensitivity"] == 1.0
    assert result.report["specificity"] == 0.0
    # the truth in the label column's words, so the two compare
    truth = [r["true_label"] for r in result.rows]
    assert truth == ["abnormal", "abnormal", other, other]
    out = tmp_path / "t.csv"
    predict_files(model, paths[:2], out, threshold=0.9)
    with open(out, newline="") as f:
        table = list(csv.DictReader(f))
    assert [r["label"] for r in table] == [other, other]


def test_numbered_classes_keep_stenosis_second(model_and_folder):
    """A number names no class: with classes 1 (normal) and 2 (stenosis), "1"
    was read as the word for stenosis and P(normal) written as stenosis's."""
    _, paths = _distinct(model_and_folder)
    for classes in ([1, 2], ["1", "2"], [0, 1]):
        model = Pipeline([("classifier", _WordsClassifier())]).fit(
            np.zeros((2, 9)), classes
        )
        rows = score_files(model, paths[:2])
        assert {r["probability_stenosis"] for r in rows} == {"0.2000"}


class _NaNClassifier(_WordsClassifier):
    """A plain scikit-learn step that answers NaN (GaussianNB at a variance
    of 0 does)."""

    def predict_proba(self, X):
        return np.full((len(X), 2), np.nan)


def test_a_model_the_table_would_misread_is_refused_or_its_rows_are_errors(
    model_and_folder,
):
    """A NaN was written as a confident "normal" of quality ok; a model of
    three classes had P(normal) written as stenosis's; a threshold wrapped
    around the pipeline failed deep in joblib, and one as its last step was
    ignored (the table decided at 0.5)."""
    _, paths = _distinct(model_and_folder)
    nan = Pipeline([("classifier", _NaNClassifier())]).fit(np.zeros((2, 9)), [0, 1])
    rows = score_files(nan, paths[:2])
    assert [(r["probability_stenosis"], r["quality"]) for r in rows] == [
        ("", "error")
    ] * 2
    assert "no probability" in rows[0]["message"]
    three = Pipeline([("classifier", _WordsClassifier())]).fit(
        np.zeros((3, 9)), ["abnormal", "normal", "unsure"]
    )
    with pytest.raises(ValueError, match=r"tells 3 classes \(abnormal, normal, uns"):
        score_files(three, paths[:1])
    with pytest.raises(ValueError, match="tells 3 classes"):
        external_validation(three, paths[:2], [0, 1])
    words = Pipeline([("classifier", _WordsClassifier())])
    wrapped = FixedThresholdClassifier(words, threshold=0.3)
    wrapped.fit(np.zeros((2, 9)), [0, 1])
    with pytest.raises(TypeError, match="pass the pipeline it wraps"):
        predict_files(wrapped, paths[:1], None)
    last = Pipeline(
        [("classifier", FixedThresholdClassifier(_WordsClassifier(), threshold=0.9))]
    )
    last.fit(np.zeros((2, 9)), [0, 1])
    with pytest.raises(
        ValueError, match=r"decides at 0\.9 and the table at threshold=0\.5"
    ):
        score_files(last, paths[:1])
    assert len(score_files(last, paths[:1], threshold=0.9)) == 1
    # a wrapper deciding on another score than P(stenosis) was read as one:
    # the table labelled every file stenosis where the model said normal
    other = {
        "pos_label": FixedThresholdClassifier(
            _WordsClassifier(), threshold=0.3, pos_label=0
        ),
        "decision_function": FixedThresholdClassifier(
            LogisticRegression(), threshold=0.0, response_method="decision_function"
        ),
    }
    for name, wrapper in other.items():
        model = Pipeline([("classifier", wrapper)]).fit(np.eye(4, 9), [0, 1, 0, 1])
        with pytest.raises(ValueError, match=f"decides on .*{name}"):
            score_files(model, paths[:1], threshold=wrapper.threshold)


def test_a_dangling_link_in_a_screened_folder_gets_its_own_row(
    model_and_folder, tmp_path
):
    model, paths = _distinct(model_and_folder)
    folder = tmp_path / "archive"
    folder.mkdir()
    shutil.copy(paths[0], folder / "rec0.wav")
    os.symlink(tmp_path / "gone.wav", folder / "rec1.wav")
    # before: the screening table had no row for it, as if it were not there
    summary = predict_files(model, folder, tmp_path / "t.csv")
    assert summary.n_files == 2 and summary.n_scored == 1
    with open(tmp_path / "t.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["quality"] for r in rows] == ["ok", "error"]
    assert "a link to" in rows[1]["message"]


def test_progress_is_told_after_each_batch_of_several(model_and_folder, tmp_path):
    _, paths = _distinct(model_and_folder)
    model = model_and_folder[0]
    told = []
    predict_files(model, paths, tmp_path / "a.csv", batch_size=3, progress=told.append)
    assert told == [f"{n} of 8 recordings screened" for n in (3, 6, 8)]
    told.clear()  # one batch: nothing to wait for
    predict_files(model, paths, tmp_path / "b.csv", batch_size=8, progress=told.append)
    assert told == []
    external_validation(
        model, paths, [0, 1] * 4, batch_size=4, n_resamples=10, progress=told.append
    )
    assert told == ["4 of 8 recordings screened", "8 of 8 recordings screened"]


def test_a_recording_too_long_for_memory_gets_its_own_row(
    model_and_folder, tmp_path, monkeypatch
):
    from vascular_sklearn import screening

    model, folder = model_and_folder
    long = tmp_path / "monitoring.wav"
    sf.write(long, np.zeros(3 * 60 * 8000, np.int16), 8000)
    score_batch = screening._score_batch

    def out_of_memory_on_the_long_one(model, files, threshold):
        if str(long) in files.paths.tolist():
            raise MemoryError("Unable to allocate 2.4 GiB")
        return score_batch(model, files, threshold)

    monkeypatch.setattr(screening, "_score_batch", out_of_memory_on_the_long_one)
    ok = sorted(folder.glob("*.wav"))[:2]
    # before: numpy's MemoryError stopped the whole run, naming no file
    rows = score_files(model, [ok[0], long, ok[1]])
    assert [r["quality"] for r in rows] == ["ok", "error", "ok"]
    assert rows[1]["path"] == str(long)
    assert rows[1]["message"].startswith(
        "too long to score in this machine's memory (3 minutes"
    )
