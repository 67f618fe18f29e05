"""The command line: demo, evaluate, train, predict."""

import csv
import errno
import io
import os
import re
import shutil
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import joblib
import numpy as np
import pytest
import soundfile as sf
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import FixedThresholdClassifier
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from vascular_sklearn import RecordingClassifier, cli, make_seed_pipeline, screening
from vascular_sklearn.audio import resample
from vascular_sklearn.cli import main
from vascular_sklearn.corpus import RecordingFiles
from vascular_sklearn.datasets import make_recordings
from vascular_sklearn.exceptions import MixedSampleRateWarning
from vascular_sklearn.model_card import read_model_card
from vascular_sklearn.persistence import load_model
from vascular_sklearn.recorder import quantise

from .conftest import weights_cut_short


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A small synthetic data set written in the original folder layout."""
    root = tmp_path_factory.mktemp("recordings")
    data = make_recordings(
        n_patients=4, recordings_per_patient=2, duration=8.0, random_state=1
    )
    for k, (x, label, patient) in enumerate(
        zip(data.recordings.data, data.target, data.groups, strict=True)
    ):
        sub = root / ("abnormal" if label else "normal")
        sub.mkdir(exist_ok=True)
        sf.write(
            sub / f"{patient}_{k}_before.wav",
            x,
            int(data.sample_rate),
            subtype="PCM_16",
        )
    return root


FAST = ["--max-epochs", "1", "--arch", "resnet18"]


@pytest.fixture(scope="module")
def trained(folder, tmp_path_factory):
    """A model ``train`` wrote from ``folder``, for the tests that only read it."""
    model = tmp_path_factory.mktemp("trained") / "m.vsk"
    assert main(["train", str(folder), "-o", str(model), *FAST]) == 0
    return model


def test_train_then_predict(folder, tmp_path, capsys):
    model = tmp_path / "model.vsk"
    assert (
        main(["train", str(folder), "-o", str(model), *FAST, "--device", "auto"]) == 0
    )
    assert model.exists()
    # "auto" is kept: the model picks its device wherever it is used next
    assert load_model(model).get_params()["classifier__estimator__device"] == "auto"
    # training shows its progress, one line per epoch on stderr (stdout is
    # for results), and saves a quiet model
    captured = capsys.readouterr()
    assert "train_loss" in captured.err and not captured.out
    assert load_model(model).get_params()["classifier__estimator__verbose"] == 0
    # the model's card says what it heard: whoever is given it can compare
    assert main(["describe", str(model)]) == 0
    card = capsys.readouterr().out
    for line in (
        f"trained_on         {folder}",
        "recordings         8",
        "patients           4",
        "labels             normal 4, stenosis 4",
        "sample_rates_hz    22050",
        "converter_step     min 1, median 1, max 1",
        "coarse_recordings  0",
        "file_digests       8, one per distinct training file",
        f"command            vascular-sklearn train {folder} -o {model}",
    ):
        assert line in card
    # score sets the files beside what the card says the model heard: its
    # own training files lie inside, a recorder 40 dB quieter outside
    assert main(["score", str(model), str(folder)]) == 0
    out, err = capsys.readouterr()
    assert "in training: 0 of 8 recordings read lie outside them" in out
    assert "sample rate 22050 Hz here, 22050 Hz in training" in out
    assert "resampled to the model" not in err  # at the model's rate
    # and are told, first, for what they are: no external validation
    assert out.startswith("WARNING: 8 of 8 recordings are files this model")
    quiet = tmp_path / "quiet" / "normal"
    quiet.mkdir(parents=True)
    first = sorted(folder.glob("normal/*.wav"))[0]
    x, rate = sf.read(first)
    sf.write(quiet / "P9_0_before.wav", 0.01 * x, rate, subtype="PCM_16")
    assert main(["score", str(model), str(quiet.parent)]) == 0
    out = capsys.readouterr().out
    assert "in training: 1 of 1 recordings read lie outside them" in out
    assert "dBFS in training" in out  # loudness against full scale
    assert "WARNING" not in out  # another recording: new bytes
    # a rate never heard marks another recorder too, however loud: the count
    # said "0 of 1" and no word told how the file reached the model
    fast = tmp_path / "fast" / "normal"
    fast.mkdir(parents=True)
    sf.write(fast / "P9_0.wav", resample(x, rate, 2 * rate), 2 * rate, subtype="PCM_16")
    assert main(["score", str(model), str(fast.parent)]) == 0
    said = capsys.readouterr()
    assert "sample rate 44100 Hz here, 22050 Hz in training" in said.out
    assert "in training: 1 of 1 recordings read lie outside them" in said.out
    # and how it reached the model, which no table shows, as predict says too
    resampled = "1 recorded at 44100 Hz, resampled to the model's 22050 Hz"
    assert resampled in said.err
    assert main(["predict", str(model), str(fast.parent)]) == 0
    assert resampled in capsys.readouterr().err
    # one without a cycle was read at the model's rate too (its rate may be
    # why it had none): counted, as score counts it
    silent = tmp_path / "silent" / "normal"
    silent.mkdir(parents=True)
    sf.write(silent / "P9_1.wav", np.zeros(8 * 2 * rate), 2 * rate, subtype="PCM_16")
    assert main(["predict", str(model), str(silent.parent)]) == 1
    assert resampled in capsys.readouterr().err
    # a training file copied under another name is still a training file
    shutil.copy(first, quiet / "P8_0_before.wav")
    assert main(["score", str(model), str(quiet.parent)]) == 0
    assert "WARNING: 1 of 2 recordings are files" in capsys.readouterr().out
    # a file that cannot be read is counted neither inside nor outside
    (quiet / "P7_0_before.wav").write_bytes(b"RIFF, but not audio")
    assert main(["score", str(model), str(quiet.parent)]) == 1
    assert "in training: 1 of 2 recordings read lie outside" in capsys.readouterr().out
    files = sorted(str(p) for p in folder.glob("*/*.wav"))[:3]
    assert main(["predict", str(model), *files]) == 0
    captured = capsys.readouterr()
    assert "resampled" not in captured.err  # at the model's rate
    rows = list(csv.DictReader(io.StringIO(captured.out)))
    assert len(rows) == 3
    # each file's answer is the saved model's, labelled at 0.5
    expected = load_model(model).predict_proba(RecordingFiles.from_paths(files))[:, 1]
    for row, path, p in zip(rows, files, expected, strict=True):
        assert row["path"] == path and row["probability_stenosis"] == f"{p:.4f}"
        assert row["label"] == ("stenosis" if float(f"{p:.4f}") >= 0.5 else "normal")
        assert int(row["cycles_used"]) > 0 and row["quality"] in {"ok", "clipped"}
    assert main(["predict", str(model), *files, "--threshold", "0"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [row["label"] for row in rows] == ["stenosis"] * 3
    # an existing model file is never replaced without --force
    before = model.stat().st_mtime_ns
    assert main(["train", str(folder), "-o", str(model), *FAST]) == 2
    assert model.stat().st_mtime_ns == before
    assert "use --force" in capsys.readouterr().err
    # so is export's, and a folder that is not there stops before the training
    kept = tmp_path / "kept.onnx"
    kept.write_bytes(b"keep")
    assert main(["export", str(model), "-o", str(kept)]) == 2
    assert "use --force" in capsys.readouterr().err and kept.read_bytes() == b"keep"
    # a model file named .onnx (a copy) exported onto itself
    named_onnx = tmp_path / "copy.onnx"
    shutil.copy(model, named_onnx)
    # --force replaces no file the command reads: the model, a recording given
    # or one in a folder given
    recording = files[0]
    sound = Path(recording).read_bytes()
    for argv in (
        ["export", str(named_onnx), "-o", str(named_onnx)],
        ["predict", str(model), recording, "-o", str(model)],
        ["predict", str(model), recording, "-o", recording],
        ["predict", str(model), str(folder), "-o", recording],
    ):
        assert main([*argv, "--force"]) == 2
        assert "is read by this run" in capsys.readouterr().err
    assert model.stat().st_mtime_ns == before
    assert Path(recording).read_bytes() == sound
    nowhere = tmp_path / "nodir" / "m.vsk"
    assert main(["train", str(folder), "-o", str(nowhere), *FAST]) == 2
    err = capsys.readouterr().err
    assert "nodir does not exist" in err and "training on" not in err


def test_set_reaches_the_saved_model_in_order(folder, tmp_path, capsys):
    model = tmp_path / "heart.vsk"
    options = ["--set", "spectrogram__subtract_mean=False", "--set", "harmonize=off"]
    assert main(["train", str(folder), "-o", str(model), *FAST, *options]) == 2
    assert "--set harmonize=passthrough" in capsys.readouterr().err
    options[-1] = "harmonize=passthrough"
    options += ["--set", "spectrogram__floor_db=60"]
    assert main(["train", str(folder), "-o", str(model), *FAST, *options]) == 0
    fitted = load_model(model)
    assert fitted.named_steps["harmonize"] == "passthrough"
    spectrogram = fitted.named_steps["spectrogram"]
    assert spectrogram.subtract_mean is False and spectrogram.floor_db == 60
    # once a step is off, its parameters are gone: named, and nothing written
    capsys.readouterr()
    late = ["--set", "augment=passthrough", "--set", "augment__ranges=None"]
    assert main(["train", str(folder), "-o", str(tmp_path / "m.vsk"), *late]) == 2
    assert "no parameter 'augment__ranges'" in capsys.readouterr().err
    assert not (tmp_path / "m.vsk").exists()
    # a value the step refuses is named before any recording is read
    wrong = ["--set", "classifier__estimator__max_epochs=abc"]
    assert main(["train", str(folder), "-o", str(tmp_path / "m.vsk"), *wrong]) == 2
    assert "error: The 'max_epochs' parameter" in capsys.readouterr().err
    assert not (tmp_path / "m.vsk").exists()
    with pytest.raises(SystemExit):
        main(["train", str(folder), "-o", str(model), "--set", "floor_db"])
    # a backbone through --set was written over by --force and left out of the
    # card; a checkpoint under evaluate was refused by the second fold
    model.write_bytes(b"a backbone")
    for command, name in [
        ("train", "classifier__estimator__weights_path"),
        ("evaluate", "classifier__estimator__checkpoint_path"),
    ]:
        out = ["-o", str(model), "--force"] if command == "train" else []
        given = [command, str(folder), *out, "--set", f"{name}={model}"]
        assert main(given) == 2
        assert f"--set {name}" in capsys.readouterr().err
    assert model.read_bytes() == b"a backbone"


def test_train_leaves_recordings_without_a_cycle_out_of_the_card(
    folder, tmp_path, capsys
):
    """With --on-empty prior, a recording without a cycle trains nothing: the
    card counted it among the recordings, patients and loudness the model
    heard (a silent file's converter step of 0 too), without a word."""
    data = tmp_path / "data"
    shutil.copytree(folder, data)
    sf.write(data / "normal" / "P9_0_before.wav", np.zeros(22050 * 6), 22050)
    model = tmp_path / "m.vsk"
    argv = ["train", str(data), "-o", str(model), *FAST, "--on-empty", "prior"]
    assert main(argv) == 0
    assert "left out of training: 1 recording without a heart cycle" in (
        capsys.readouterr().err
    )
    card = read_model_card(model)["card"]
    assert card["recordings"] == 8 and card["patients"] == 4
    assert card["converter_step"]["min"] > 0


def test_a_cut_short_file_is_told_once(folder, tmp_path):
    # the filter that keeps the device audit quiet matched the message's
    # start, which is the path: every train or pretrain told it twice
    data = tmp_path / "data"
    shutil.copytree(folder, data)
    cut = sorted(data.glob("*/*.wav"))[0]
    cut.write_bytes(cut.read_bytes()[: 44 + 2 * 22050 * 4])
    with pytest.warns(UserWarning, match="ends after"):
        loaded, _ = cli._labelled_data(str(data))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cli._heard(loaded)


def test_predict_names_a_bad_file_and_fails(
    trained, folder, tmp_path, capsys, monkeypatch
):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x00\x00not audio at all")
    good = sorted(folder.glob("*/*.wav"))[0]
    capsys.readouterr()
    assert main(["predict", str(trained), str(bad), str(good)]) == 1
    out, err = capsys.readouterr()
    assert f"error: {bad}: not a readable audio file" in err
    assert f"{bad}: {bad}" not in err  # named once before the reason
    assert str(good) in out  # the good file still gets its answer
    # the file not scored is not counted as a flagged answer
    assert "2 recordings: 1 scored (0 flagged), 1 not scored" in err
    # a file name that is no UTF-8 is scored and written, not the table lost
    latin = tmp_path / os.fsdecode(b"caf\xe9.wav")
    latin.write_bytes(good.read_bytes())
    raw = io.BytesIO()
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(raw, encoding="utf-8"))
    assert main(["predict", str(trained), str(latin)]) == 0
    sys.stdout.flush()
    assert b"/caf\xe9.wav," in raw.getvalue()


def test_predict_flags_a_silent_file(trained, folder, tmp_path, capsys):
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(22050 * 5), 22050)
    capsys.readouterr()
    assert main(["predict", str(trained), str(silent)]) == 1
    err = capsys.readouterr().err
    assert "no heart cycle was found" in err and "silent.wav" in err
    # a warning reads as what happened, in a fresh process as a user runs it
    cut = tmp_path / "cut.wav"
    whole = sorted(folder.glob("*/*.wav"))[0]
    cut.write_bytes(whole.read_bytes()[: 44 + 2 * 22050 * 4])
    done = subprocess.run(
        [sys.executable, "-m", "vascular_sklearn", "predict", str(trained), str(cut)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    assert done.stderr.startswith(f"warning: {cut}: the file ends after 4.00 s")
    assert "UserWarning" not in done.stderr and "lowpass.py" not in done.stderr


def test_train_validates_on_whole_patients(folder, tmp_path, monkeypatch):
    """With early stopping, the network's validation split holds out patients
    (from the file names), never one recording of a patient it trains on."""
    import vascular_sklearn.persistence

    fitted = []
    monkeypatch.setattr(
        vascular_sklearn.persistence,
        "save_model",
        lambda model, *args, **kwargs: fitted.append(model),
    )
    stop = ["--set", "classifier__estimator__early_stopping=1"]
    train = ["train", str(folder), "-o", str(tmp_path / "m.vsk")]
    assert main([*train, *FAST, *stop]) == 0
    held_out = fitted[0][-1].estimator_.validation_groups_
    patients = {p.name.split("_")[0] for p in folder.glob("*/*.wav")}
    assert len(held_out) >= 1 and set(held_out.tolist()) <= patients


def test_train_from_a_manifest_and_screen_a_folder_to_csv(folder, tmp_path, capsys):
    files = sorted(folder.glob("*/*.wav"))
    lines = ["path,label,patient"] + [
        f"{p},{int(p.parent.name == 'abnormal')},{p.name.split('_')[0]}" for p in files
    ]
    (tmp_path / "corpus.csv").write_text("\n".join(lines) + "\n")
    model = tmp_path / "m.vsk"
    assert main(["train", str(tmp_path / "corpus.csv"), "-o", str(model), *FAST]) == 0
    out = tmp_path / "screen.csv"
    assert main(["predict", str(model), str(folder), "-o", str(out)]) == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert sorted(r["path"] for r in rows) == sorted(map(str, files))
    assert "8 recordings: 8 scored" in capsys.readouterr().err
    # the table is never written over without --force
    assert main(["predict", str(model), str(folder), "-o", str(out)]) == 2
    # a clinic's list without patient ids scores (recordings resampled), but
    # cannot train: no split could keep a patient on one side
    # (from two recorders, reported each alone; one recorded far too quietly)
    quiet = tmp_path / "quiet.wav"
    sf.write(quiet, quantise(0.02 * sf.read(files[0])[0], 33), 22050, "PCM_16")
    lines[1] = lines[1].replace(str(files[0]), str(quiet))
    clinic = [line.rsplit(",", 1)[0] for line in lines]
    clinic = [clinic[0] + ",recorder"] + [
        f"{line},{'phone' if k % 2 else 'stethoscope'}"
        for k, line in enumerate(clinic[1:])
    ]
    (tmp_path / "clinic.csv").write_text("\n".join(clinic) + "\n")
    capsys.readouterr()
    table = tmp_path / "answers.csv"
    score = ["score", str(model), str(tmp_path / "clinic.csv"), "-o", str(table)]
    assert main(score) == 0
    out, err = capsys.readouterr()
    assert "on 8 recordings (4 stenosis)\n" in err
    assert "Recordings scored: 8 of 8\nScored but flagged: 1 coarse (each" in out
    assert "resampling the recordings: roc_auc" in out
    # a list's recordings resampled alone: said to read narrower, with no -o
    # the flagged ones are named nowhere, so the way to them is given
    assert "(each recording resampled alone: narrower than the truth" in out
    assert main(score[:-2]) == 0
    flagged = "Scored but flagged: 1 coarse (give -o TABLE.csv for which and why)"
    assert flagged in capsys.readouterr().out
    per_recorder = out.split("Per recorder:\n")[1].splitlines()
    assert [row.split()[:3] for row in per_recorder[:2]] == [
        ["recorder", "phone", "n=4"],
        ["recorder", "stethoscope", "n=4"],
    ]
    # the two devices recorded as many stenoses: the device tells nothing
    assert per_recorder[2].startswith("The recorder alone tells the label with ")
    # against the same labels shuffled among the recorders (a share learnt
    # from 4 recordings scores above 0.50 by chance, and never below it)
    said = re.search(
        r"roc_auc 0\.50 \(the labels shuffled among the same recorders: "
        r"(0\.\d\d), p = 1\.000\), scoring each recording by its recorder's "
        r"share of stenosis: phone 50%, stethoscope 50%$",
        per_recorder[2],
    )
    assert said and float(said[1]) > 0.5
    # what the device left in the files: the quiet copy is one of 4 stenoses
    # (16 pairs with the normals: 4 won on its coarser step, 12 ties)
    device = per_recorder[3]
    assert device.startswith("What the device left in the files tells the label")
    assert "converter step 0.62, rounding noise" in device
    assert ", DC offset " in device
    assert per_recorder[4].startswith("  within one recorder, the furthest from 0.50: ")
    # each answer beside its label, in the manifest's order, never written over
    answers = list(csv.DictReader(io.StringIO(table.read_text())))
    assert [r["path"] for r in answers] == [str(quiet)] + [str(p) for p in files[1:]]
    assert [r["quality"] for r in answers] == ["coarse"] + ["ok"] * 7
    truth = ["stenosis" if p.parent.name == "abnormal" else "normal" for p in files]
    assert [r["true_label"] for r in answers] == truth
    assert {r["group"] for r in answers} == {""}
    assert all(r["label"] in ("normal", "stenosis") for r in answers)
    assert main(score) == 2
    clinic = ["train", str(tmp_path / "clinic.csv"), "-o", str(tmp_path / "n.vsk")]
    assert main(clinic) == 2
    assert "need a 'patient' column" in capsys.readouterr().err


def test_evaluate_reports_recording_and_cycle_metrics(
    folder, tmp_path, capsys, monkeypatch
):
    from vascular_sklearn import evaluation

    results, evaluate = [], evaluation.evaluate_by_patient

    def kept(*args, **kwargs):  # the evaluation the command ran, to compare
        results.append(evaluate(*args, **kwargs))
        return results[-1]

    monkeypatch.setattr(evaluation, "evaluate_by_patient", kept)
    # a manifest that names two recorders, two patients each
    files = sorted(folder.glob("*/*.wav"), key=lambda p: p.name)
    patients = sorted({p.name.split("_")[0] for p in files})
    lines = ["path,label,patient,recorder"] + [
        f"{p},{int(p.parent.name == 'abnormal')},{p.name.split('_')[0]},"
        + ("phone" if patients.index(p.name.split("_")[0]) < 2 else "stethoscope")
        for p in files
    ]
    (tmp_path / "corpus.csv").write_text("\n".join(lines) + "\n")
    assert main(["evaluate", str(tmp_path / "corpus.csv"), "--folds", "6", *FAST]) == 0
    out, err = capsys.readouterr()
    assert "split by patient" in out
    # 4 patients make at most 4 folds: said, not done unsaid
    assert "GroupKFold(4) by patient (--folds 6, but one patient is the " in err
    # the printed metrics are the pooled out-of-fold answers' own
    (result,) = results
    y = np.array([int(line.split(",")[1]) for line in lines[1:]])
    for level, truth, proba in (
        ("recording", y, result.recording_proba),
        ("cycle", result.cycle_y, result.cycle_proba),
    ):
        row = next(x for x in out.splitlines() if x.startswith(level))
        printed = dict(re.findall(r"(\w+) (\d\.\d{3})", row))
        flagged = proba >= 0.5
        assert float(printed["roc_auc"]) == round(roc_auc_score(truth, proba), 3)
        assert float(printed["sensitivity"]) == round(flagged[truth == 1].mean(), 3)
        assert float(printed["specificity"]) == round(1 - flagged[truth == 0].mean(), 3)
    interval = next(x for x in out.splitlines() if "95 % interval" in x)
    low, high = (float(v) for v in interval.split(": ")[1][:12].split(" to "))
    assert "the 4 patients" in interval and 0.0 <= low <= high <= 1.0
    # three patients a class: told it reads narrower than the truth
    assert interval.endswith(
        "(a class holds 3 patients: an interval resampled from "
        "so few reads narrower than the truth)"
    )
    # each recorder's recordings reported alone, after the pooled numbers
    per_recorder = out.split("Per recorder (folds split by patient")[1]
    rows = [x.split()[:3] for x in per_recorder.splitlines() if x.startswith("rec")]
    assert rows == [["recorder", "phone", "n=4"], ["recorder", "stethoscope", "n=4"]]
    # one converter for every file: its step tells nothing
    assert "converter step 0.50" in out.split("What the device left in the files")[1]


def test_evaluate_split_by_recorder_holds_out_each_recorder_and_its_patients(
    folder, tmp_path, capsys
):
    files = sorted(folder.glob("*/*.wav"), key=lambda p: p.name)
    patient = [p.name.split("_")[0] for p in files]
    # P00 and one recording of P01 on the phone, the rest on a stethoscope:
    # holding the phone out takes P01's stethoscope recording out of training
    phone = [k < 3 for k in range(len(files))]
    lines = ["path,label,patient,recorder"] + [
        f"{p},{int(p.parent.name == 'abnormal')},{who},"
        + ("phone" if on_phone else "stethoscope")
        for p, who, on_phone in zip(files, patient, phone, strict=True)
    ]
    manifest = tmp_path / "corpus.csv"
    manifest.write_text("\n".join(lines) + "\n")
    evaluate = ["evaluate", str(manifest), *FAST, "--split-by", "recorder"]
    assert main(evaluate) == 0
    out, err = capsys.readouterr()
    assert "8 recordings, 4 patients, leave-one-recorder-out (2 recorders)" in err
    assert "fold 1/2: 3 test recordings" in err and "fold 2/2: 5 test" in err
    assert "split by recorder (its patients held out with it)" in out
    per_recorder = out.split("Per recorder (each scored by models that never ")[1]
    rows = [x.split()[:3] for x in per_recorder.splitlines() if x.startswith("rec")]
    assert rows == [["recorder", "phone", "n=3"], ["recorder", "stethoscope", "n=5"]]
    labels = [int(p.parent.name == "abnormal") for p in files]
    share = sum(labels[:3]) / 3, sum(labels[3:]) / 5
    assert f"phone {share[0]:.0%}, stethoscope {share[1]:.0%}" in per_recorder
    # data that name no recorder cannot be split by one, nor data with one
    assert main(["evaluate", str(folder), *FAST, "--split-by", "recorder"]) == 2
    assert "names no recorders" in capsys.readouterr().err
    manifest.write_text(manifest.read_text().replace("stethoscope", "phone"))
    assert main(evaluate) == 2
    assert "error: LeaveOneRecorderOut needs two recorders or more, got 1" in (
        capsys.readouterr().err
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["predict", "m.vsk", "a.wav", "--threshold", "nan"], "give a probability"),
        (["score", "m.vsk", "data", "--threshold", "5"], "give a probability"),
        (["predict", "m.vsk", "a.wav", "--batch-size", "0"], "0: give 1 or more"),
        (["predict", "m.vsk", "a.wav", "--n-jobs", "0"], "or -1 for every core"),
        (["evaluate", "data", "--folds", "1"], "--folds: 1: give 2 or more"),
        (["pretrain", "data", "-o", "b.pt", "--max-epochs", "0"], "give 1 or more"),
    ],
)
def test_numbers_out_of_range_are_refused_by_the_parser(argv, message, capsys):
    # a threshold of NaN labelled a probability of 1.0 "normal" without a word
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["demo", "--seed=-1"], "-1: give a whole number, 0 to 2**32 - 1"),
        (["train", "data", "-o", "m.vsk", "--seed", "4294967296"], "0 to 2**32"),
        (["demo", "--seed", "abc"], "invalid int value: 'abc'"),
        (["predict", "m.vsk", "a.wav", "--threshold", "x"], "invalid float value"),
    ],
)
def test_seeds_numpy_cannot_take_are_refused_by_the_parser(argv, message, capsys):
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2 and message in capsys.readouterr().err


def test_usage_errors_stop_before_the_work_without_a_traceback(
    folder, tmp_path, capsys, monkeypatch
):
    model = str(tmp_path / "m.vsk")
    devices = [
        ("bogus", "--device 'bogus' is not a device name: "),
        ("cuda:7", "--device 'cuda:7': 0 CUDA GPUs are visible; use 'cpu'"),
        # devices torch parses but nothing here runs on
        ("meta", "--device meta: use cpu, cuda, cuda:N or auto"),
        ("mps", "--device mps: use cpu, cuda, cuda:N or auto"),
    ]
    for device, said in devices:
        if device.startswith("cuda"):
            monkeypatch.setattr("torch.cuda.is_available", lambda: False)
        assert main(["train", str(folder), "-o", model, "--device", device]) == 2
        err = capsys.readouterr().err
        assert said in err and "training on" not in err
    # one patient: nothing to hold out
    one = folder.parent / "one_patient.csv"
    first = sorted(folder.glob("*/*.wav"))[:2]
    rows = "".join(f"{p},{k},A\n" for k, p in enumerate(first))  # both classes
    one.write_text("path,label,patient\n" + rows)
    assert main(["evaluate", str(one)]) == 2
    assert "1 patient: an evaluation holds some out" in capsys.readouterr().err

    # a folder nothing can be written in is found before the training
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    # a name that ends as a folder's, or no name, is refused before the work:
    # "models/" was written as a file named models
    (tmp_path / "kept").write_text("keep")
    for output in (str(tmp_path / "kept") + "/", str(tmp_path / "models") + "/", ""):
        assert main(["train", str(folder), "-o", output, *FAST]) == 2
        err = capsys.readouterr().err
        assert "names a folder; give the name of a file" in err
        assert "training on" not in err
    assert (tmp_path / "kept").read_text() == "keep"
    assert not (tmp_path / "models").exists()

    monkeypatch.setattr("tempfile.TemporaryFile", refuse)
    assert main(["train", str(folder), "-o", model, *FAST]) == 2
    err = capsys.readouterr().err
    assert f"m.vsk: cannot write in {tmp_path}" in err and "training on" not in err


def test_evaluate_audits_the_files_as_stored(tmp_path, capsys, monkeypatch):
    data = make_recordings(n_patients=4, recordings_per_patient=2, random_state=1)
    for k, (x, label, patient) in enumerate(
        zip(data.recordings.data, data.target, data.groups, strict=True)
    ):
        sub = tmp_path / ("abnormal" if label else "normal")
        sub.mkdir(exist_ok=True)
        # one converter step (40 levels) on both recorders; the stenotic ones
        # at 44.1 kHz, which evaluate loads at the first file's 22050 Hz
        x, rate = quantise(0.5 * x / np.abs(x).max(), 40), 22050 * (1 + label)
        sf.write(sub / f"{patient}_{k}.wav", np.repeat(x, 1 + label), rate, "PCM_16")
    monkeypatch.setattr(  # evaluate's audit, without its models
        cli, "_evaluate", lambda pipe, data, *a, **k: cli._device_lines(data, "patient")
    )
    with pytest.warns(MixedSampleRateWarning, match="come at 2 sample rates"):
        assert main(["evaluate", str(tmp_path)]) == 0
    # before: the resampled recordings' step (0.1 levels) read as a converter
    # that told the label, roc_auc 0.00
    assert "converter step 0.50, rounding noise" in capsys.readouterr().out


def test_evaluate_takes_a_manifests_patients_as_given(folder, capsys, monkeypatch):
    """One recording per patient is a fact in a manifest, not a sign of file
    names without patient ids; and without a patient column,
    --no-patient-groups splits by recording as it says."""
    seen = []
    monkeypatch.setattr(
        "vascular_sklearn.cli._evaluate",
        lambda pipe, data, folds, started, unit, **kw: seen.append((data, unit)) or [],
    )
    files = sorted(folder.glob("*/*.wav"))
    rows = [f"{p},{p.parent.name},{k}\n" for k, p in enumerate(files)]
    each = folder.parent / "one_each.csv"
    each.write_text("path,label,patient\n" + "".join(rows))
    assert main(["evaluate", str(each)]) == 0
    data, unit = seen.pop()
    assert unit == "patient" and len(set(data.groups)) == len(files)
    bare = folder.parent / "no_patients.csv"
    bare.write_text("path,label\n" + "".join(f"{p},{p.parent.name}\n" for p in files))
    assert main(["evaluate", str(bare), "--no-patient-groups"]) == 0
    data, unit = seen.pop()
    assert unit == "recording" and len(set(data.groups)) == len(files)


def test_a_reader_that_stops_reading_is_no_error(monkeypatch, capsys):
    def piped(args):  # predict ... | head -1
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr("vascular_sklearn.cli._cmd_demo", piped)
    assert main(["demo"]) == 1
    assert capsys.readouterr().err == ""


def test_an_error_from_outside_the_library_says_where(monkeypatch, capsys):
    def broken(args):
        return np.zeros(2).reshape(3)  # numpy's ValueError: perhaps our bug

    monkeypatch.setattr("vascular_sklearn.cli._cmd_demo", broken)
    assert main(["demo"]) == 2
    err = capsys.readouterr().err
    assert "error: cannot reshape" in err
    assert "ValueError at " in err and "VASCULAR_SKLEARN_DEBUG=1" in err
    monkeypatch.setenv("VASCULAR_SKLEARN_DEBUG", "1")
    with pytest.raises(ValueError, match="cannot reshape"):
        main(["demo"])
    monkeypatch.delenv("VASCULAR_SKLEARN_DEBUG")

    # torch's errors (no CUDA driver, out of memory) were a traceback, exit 1
    def no_driver(args):
        raise RuntimeError("Found no NVIDIA driver on your system")

    monkeypatch.setattr("vascular_sklearn.cli._cmd_demo", no_driver)
    assert main(["demo"]) == 2
    assert "error: Found no NVIDIA driver" in capsys.readouterr().err

    # a full disk named no file: say what was being written
    def full(args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("vascular_sklearn.cli._cmd_predict", full)
    assert main(["predict", "m.vsk", "a.wav"]) == 2
    err = capsys.readouterr().err
    assert "error: standard output: [Errno 28] No space left on device" in err
    assert main(["predict", "m.vsk", "a.wav", "-o", "t.csv"]) == 2
    assert "error: t.csv: [Errno 28] No space" in capsys.readouterr().err
    monkeypatch.setattr("vascular_sklearn.cli._cmd_demo", full)  # writes no file
    assert main(["demo"]) == 2
    assert "error: [Errno 28] No space" in capsys.readouterr().err

    # a RuntimeError that is a bug of ours is not dressed as torch's
    def recursing(args):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr("vascular_sklearn.cli._cmd_demo", recursing)
    with pytest.raises(RecursionError):
        main(["demo"])


def test_missing_folder_is_a_clear_error(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path / "nope")]) == 2
    assert "nope" in capsys.readouterr().err
    # a label file at fault: its line named, no traceback
    sf.write(tmp_path / "a.wav", np.zeros(100), 22050)
    (tmp_path / "m.csv").write_text("path,label\na.wav,yes\n")
    assert main(["evaluate", str(tmp_path / "m.csv")]) == 2
    assert "m.csv, line 2: unknown label 'yes'" in capsys.readouterr().err
    # data of one class: named, before any audio is read (a.wav holds silence)
    (tmp_path / "m.csv").write_text("path,label,patient\na.wav,normal,P1\n")
    for command in (["train", "-o", str(tmp_path / "m.vsk")], ["evaluate"]):
        assert main([command[0], str(tmp_path / "m.csv"), *command[1:]]) == 2
        err = capsys.readouterr().err
        assert "m.csv: all 1 recordings are labelled 'normal'; training needs" in err


def test_demo_separates_the_synthetic_classes():
    """The README's main job, end to end, in a fresh process: two folds
    rather than four (the same code; 110 s against 246 s on 2 cores)."""
    done = subprocess.run(
        [sys.executable, "-m", "vascular_sklearn", "demo", "--folds", "2"],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stdout.splitlines() if x.startswith("recording"))
    auc = float(line.split("roc_auc")[1].split()[0])
    assert auc >= 0.95, done.stdout
    assert np.isfinite(auc)
    # the perfect synthetic score comes with what it does not mean
    assert "not for clinical decisions" in done.stdout


def test_file_names_without_patients_train_on_recordings_said_so(
    folder, tmp_path, capsys, monkeypatch
):
    """train said "8 recordings of 8 patients" and wrote 8 patients into the
    card, where the names carried no patient id; and evaluate refused names
    that carry one, one recording a patient (P1_a.wav)."""
    bare, named = tmp_path / "bare", tmp_path / "named"
    for k, wav in enumerate(sorted(folder.glob("*/*.wav"))):
        for root, name in ((bare, f"rec{k}.wav"), (named, f"P{k}_a.wav")):
            (root / wav.parent.name).mkdir(parents=True, exist_ok=True)
            shutil.copy(wav, root / wav.parent.name / name)
    out = tmp_path / "m.vsk"
    assert main(["train", str(bare), "-o", str(out), *FAST]) == 0
    err = capsys.readouterr().err
    assert "WARNING: no two recordings share a patient id" in err
    assert "training on 8 recordings\n" in err and "of 8 patients" not in err
    card = read_model_card(out)["card"]
    assert card["recordings"] == 8 and "patients" not in card
    seen = []
    monkeypatch.setattr(
        "vascular_sklearn.cli._evaluate",
        lambda pipe, data, folds, started, unit, **kw: seen.append(unit) or [],
    )
    assert main(["evaluate", str(named)]) == 0 and seen == ["patient"]
    assert main(["evaluate", str(bare)]) == 2  # no ids: refused, as before


def test_evaluate_names_the_folds_it_was_asked_for(folder, capsys, monkeypatch):
    """Four patients and no --folds: the plan said "--folds 5", a flag never
    given; the plan is said before the evaluation, stopped here."""

    def stop(*args, **kwargs):
        raise ValueError("stopped after the plan")

    monkeypatch.setattr("vascular_sklearn.evaluation.evaluate_by_patient", stop)
    assert main(["evaluate", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "GroupKFold(4) by patient (5 folds by default, but one patient is" in err
    assert "--folds" not in err


def test_evaluate_refuses_files_without_patient_ids(tmp_path, capsys):
    rng = np.random.default_rng(0)
    for folder in ["normal", "abnormal"]:
        (tmp_path / folder).mkdir()
        for k in range(2):
            sf.write(
                tmp_path / folder / f"rec{folder}{k}.wav",
                rng.normal(size=1000) * 0.1,
                22050,
            )
    assert main(["evaluate", str(tmp_path)]) == 2
    assert "--no-patient-groups" in capsys.readouterr().err


def test_a_model_file_that_is_missing_or_not_a_model_is_named(folder, tmp_path, capsys):
    import joblib

    wav = str(sorted(folder.glob("*/*.wav"))[0])
    not_a_pipeline = tmp_path / "dict.joblib"
    joblib.dump({"a": 1}, not_a_pipeline)
    unfitted = tmp_path / "unfitted.joblib"
    joblib.dump(make_pipeline(StandardScaler(), LogisticRegression()), unfitted)
    # a last step with a threshold of its own: the advice names the flag
    data = make_recordings(2, 2, 8.0, random_state=4)
    own = make_seed_pipeline().set_params(
        classifier=FixedThresholdClassifier(
            RecordingClassifier(GaussianNB()), threshold=0.3
        )
    )
    at_03 = tmp_path / "at_03.joblib"
    joblib.dump(own.fit(data.recordings, data.target), at_03)
    no_proba = tmp_path / "no_proba.joblib"
    joblib.dump(make_pipeline(StandardScaler()), no_proba)
    weights = tmp_path / "backbone.pt"  # what pretrain writes, not a model
    torch.save({"net.fc.weight": torch.zeros(2, 3)}, weights)
    onnx = tmp_path / "m.onnx"
    onnx.write_bytes(b"\x08\x07\x12\x07pytorch")  # how an ONNX file begins
    for argv, said in [
        (["predict", str(weights), wav], "a torch weights file (a backbone from"),
        (["predict", str(tmp_path / "gone.vsk"), wav], "gone.vsk: no such file"),
        (["predict", str(tmp_path / "gone.onnx"), wav], "gone.onnx: no such file"),
        # was ignored without a word, even "bogus"
        (["predict", str(onnx), wav, "--device", "bogus"], "a .onnx model runs on"),
        (["predict", "--trust-pickle", wav, wav], "not a joblib or pickle file"),
        (["predict", "--trust-pickle", str(not_a_pipeline), wav], "holds a dict"),
        (["predict", "--trust-pickle", str(no_proba), wav], "gives probabilities"),
        (["predict", "--trust-pickle", str(unfitted), wav], "is not fitted yet"),
        (["predict", "--trust-pickle", str(at_03), wav], "0.5: use --threshold 0.3"),
        # the recordings first: each command's arguments named as it takes them
        (["score", wav, "model.vsk"], "give the model first (score MODEL DATA)"),
        (["predict", wav, "model.vsk"], "(predict MODEL FILES...)"),
    ]:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert said in err and "Traceback" not in err
        assert "VASCULAR_SKLEARN_DEBUG" not in err  # not taken for our bug


def test_score_with_force_replaces_no_labels_it_reads(
    nb_model, folder, tmp_path, capsys
):
    """``score MODEL clinic.csv -o clinic.csv --force`` refuses to write its
    table over the labelled manifest it reads: the labels would be lost."""
    clinic = _manifest(tmp_path / "clinic.csv", sorted(folder.glob("*/*.wav")))
    labels = clinic.read_text()
    score = ["score", *nb_model, str(clinic)]
    assert main([*score, "-o", str(clinic), "--force"]) == 2
    assert "is read by this run" in capsys.readouterr().err
    assert clinic.read_text() == labels
    # without --force, the same reason, not advice that --force then refuses
    assert main([*score, "-o", str(clinic)]) == 2
    err = capsys.readouterr().err
    assert "is read by this run" in err and "--force" not in err


def test_score_says_file_names_without_patients_resample_recordings(
    nb_model, folder, tmp_path, capsys
):
    for k, wav in enumerate(sorted(folder.glob("*/*.wav"))):
        (tmp_path / wav.parent.name).mkdir(exist_ok=True)
        shutil.copy(wav, tmp_path / wav.parent.name / f"rec{k}.wav")
    assert main(["score", *nb_model, str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    # before: "of 8 patients" and "resampling the 8 patients", where the 4
    # patients' recordings were resampled as if each were another's
    assert "WARNING: no two recordings share a patient id" in err
    assert "patients" not in out + err.split("WARNING")[0]
    assert "95 % intervals, resampling the recordings: " in out


def test_predict_gives_a_manifests_missing_file_its_own_row(
    nb_model, folder, tmp_path, capsys
):
    wav = sorted(folder.glob("*/*.wav"))[0]
    listed = tmp_path / "list.csv"
    listed.write_text(f"path\n{wav}\ngone_recording\n")
    table = tmp_path / "answers.csv"
    # before: the CLI walked the manifest's list again as sources, and the
    # missing file (no audio ending) ended the run: "no such folder or file"
    assert main(["predict", *nb_model, str(listed), "-o", str(table)]) == 1
    rows = list(csv.DictReader(io.StringIO(table.read_text())))
    assert [r["quality"] for r in rows] == ["ok", "error"]
    assert rows[1]["path"] == str(tmp_path / "gone_recording")
    assert "2 recordings: 1 scored (0 flagged), 1 not scored" in capsys.readouterr().err


def test_predict_gives_a_folders_phone_memo_its_own_row(
    nb_model, folder, tmp_path, capsys
):
    shutil.copy(sorted(folder.glob("*/*.wav"))[0], tmp_path / "a.wav")
    (tmp_path / "memo.m4a").write_bytes(b"\x00\x00\x00\x20ftypM4A ")
    # before: the memo was left out of the table, exit 0
    assert main(["predict", *nb_model, str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(Path(r["path"]).name, r["quality"]) for r in rows] == [
        ("a.wav", "ok"),
        ("memo.m4a", "error"),
    ]
    assert "2 recordings: 1 scored" in err


def _train_params(argv, tmp_path, monkeypatch):
    """The pipeline parameters ``train`` fits with, without training, and
    under ``"card"`` the card it saves."""
    seen = {}

    def fit(self, X, y=None, **params):
        seen.update(self.get_params())
        self[-1].recordings_trained_ = np.ones(len(y), bool)  # as fit says
        return self

    monkeypatch.setattr(Pipeline, "fit", fit)
    monkeypatch.setattr(
        "vascular_sklearn.persistence.save_model",
        lambda *args, card, **kwargs: seen.update(card=card),
    )
    assert main(["train", *argv, "-o", str(tmp_path / "m.vsk")]) == 0
    return seen


def test_train_flags_reach_the_parameters_they_name(folder, tmp_path, monkeypatch):
    """train's --max-epochs, --seed and --seed-recipe reach the parameters they
    name: a flag dropped would train without a word."""
    flags = ["--max-epochs", "3", "--seed", "7", "--arch", "resnet18"]
    got = _train_params([str(folder), *flags], tmp_path, monkeypatch)
    assert got["classifier__estimator__max_epochs"] == 3
    assert got["classifier__estimator__arch"] == "resnet18"
    # the seed reaches the network and both device steps
    assert got["classifier__estimator__random_state"] == 7
    assert got["augment__random_state"] == got["harmonize__random_state"] == 7
    # without --max-epochs the recipe's own; --seed-recipe is the original study's
    got = _train_params([str(folder), "--seed-recipe"], tmp_path, monkeypatch)
    assert "augment" not in got and got["smooth__method"] == "median"
    assert got["classifier__estimator__max_epochs"] == 50
    assert got["classifier__estimator__standardize"] is False


def test_backbone_lr_reaches_the_network(folder, tmp_path, monkeypatch, capsys):
    """train's --backbone-lr reaches the network; without it, 1e-4. The
    backbone's card goes into the model's: it heard those recorders too."""
    from vascular_sklearn.network import ResNetClassifier
    from vascular_sklearn.pretraining import save_backbone

    X = np.random.default_rng(0).random((8, 1, 16, 16), dtype=np.float32)
    clf = ResNetClassifier(
        "resnet18", max_epochs=1, batch_size=4, device="cpu", random_state=0
    ).fit(X, [0, 1] * 4)
    heard = {"trained_on": "heart sounds", "labels": {"normal": 3, "abnormal": 5}}
    # a backbone of any name: the network reads it by its content, and so is
    # its card read (read_model_card takes .pt and .pth only)
    weights = save_backbone(clf, tmp_path / "backbone.bin", card=heard)
    base = [str(folder), "--arch", "resnet18", "--weights", str(weights)]
    got = _train_params([*base, "--backbone-lr", "0.01"], tmp_path, monkeypatch)
    assert got["classifier__estimator__weights_path"] == str(weights)
    assert got["classifier__estimator__backbone_lr"] == 0.01
    assert got["card"]["trained_on"] == str(folder)
    assert got["card"]["backbone"] == {"file": str(weights), **heard}
    # and describe reads it as the backbone it is, whatever its name
    capsys.readouterr()
    assert main(["describe", str(weights)]) == 0
    described = capsys.readouterr().out
    assert described.startswith(f"{weights}: backbone (tensor-only weights")
    assert "  trained_on  heart sounds" in described
    # describe sets it apart, under its name
    info = {**_info({"normal": 4, "stenosis": 4}), "card": got["card"]}
    lines = cli._card_lines("m.vsk", info)
    at = lines.index("  backbone:")
    assert lines[at + 1 : at + 4] == [
        f"    file        {weights}",
        "    trained_on  heart sounds",
        "    labels      normal 3, abnormal 5",
    ]
    got = _train_params(base, tmp_path, monkeypatch)
    assert got["classifier__estimator__backbone_lr"] == 1e-4  # the stated default


@pytest.fixture(scope="module")
def nb_model(tmp_path_factory):
    """A fitted pipeline without a network, saved for --trust-pickle (fast)."""
    data = make_recordings(
        n_patients=2, recordings_per_patient=2, duration=8.0, random_state=4
    )
    model = make_seed_pipeline().set_params(
        classifier=RecordingClassifier(GaussianNB())
    )
    path = tmp_path_factory.mktemp("model") / "m.joblib"
    joblib.dump(model.fit(data.recordings, data.target), path)
    return ["--trust-pickle", str(path)]


def _manifest(path, files, first=None):
    rows = [
        f"{p},{int(p.parent.name == 'abnormal')},{p.name.split('_')[0]}" for p in files
    ]
    if first is not None:
        rows[0] = first
    path.write_text("path,label,patient\n" + "\n".join(rows) + "\n")
    return path


def test_force_replaces_no_recording_a_manifest_lists(
    nb_model, folder, tmp_path, capsys
):
    """score/train MANIFEST -o REC.wav --force wrote the table (or the model)
    over a recording the manifest lists and the run had just read."""
    files = sorted(folder.glob("*/*.wav"))
    victim = tmp_path / "victim.wav"
    victim.write_bytes(files[0].read_bytes())
    clinic = _manifest(tmp_path / "clinic.csv", files, first=f"{victim},1,P9")
    sound = victim.read_bytes()
    assert main(["score", *nb_model, str(clinic), "-o", str(victim), "--force"]) == 2
    assert "is read by this run" in capsys.readouterr().err
    assert victim.read_bytes() == sound
    train = ["train", str(clinic), "-o", str(victim), "--force", *FAST]
    assert main(train) == 2
    err = capsys.readouterr().err
    assert "is read by this run" in err and "training on" not in err
    assert victim.read_bytes() == sound


def test_a_manifest_not_named_csv_or_one_recording_is_named_as_such(
    nb_model, folder, tmp_path, capsys
):
    """A tab-separated manifest named .tsv (read_manifest reads tabs) was "no
    folder at labels.tsv" for train, evaluate and score, and a recording to
    predict; one recording given to train was "no folder at a.wav"."""
    files = sorted(folder.glob("*/*.wav"))
    tsv = tmp_path / "labels.tsv"
    tsv.write_text(_manifest(tmp_path / "x.csv", files).read_text().replace(",", "\t"))
    for argv in (
        ["train", str(tsv), "-o", str(tmp_path / "m.vsk")],
        ["evaluate", str(tsv)],
        ["train", str(files[0]), "-o", str(tmp_path / "m.vsk")],
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "no folder at" not in err and "manifest" in err
    assert main(["predict", *nb_model, str(tsv)]) == 2
    err = capsys.readouterr().err
    assert "not a readable audio file" not in err and ".csv" in err


def test_a_model_argument_that_is_no_model_gets_the_right_advice(tmp_path, capsys):
    """A recording given as MODEL (the arguments swapped), an ONNX export under
    another name, or one given to export: the message advised --trust-pickle,
    which would unpickle the file."""
    wav = tmp_path / "a.wav"
    sf.write(wav, np.zeros(22050), 22050)
    assert main(["predict", str(wav), str(tmp_path / "m.vsk")]) == 2
    err = capsys.readouterr().err
    assert "--trust-pickle" not in err and "model first" in err
    onnx = tmp_path / "m.onnx"
    onnx.write_bytes(b"\x08\x07\x12\x07pytorch")  # how an ONNX file begins
    assert main(["export", str(onnx), "-o", str(tmp_path / "again.onnx")]) == 2
    err = capsys.readouterr().err
    assert "--trust-pickle" not in err and "already" in err
    # a model file from train named .onnx was "Protobuf parsing failed"
    named = tmp_path / "trained.onnx"
    with zipfile.ZipFile(named, "w") as archive:
        archive.writestr("model.json", "{}")
    assert main(["predict", str(named), str(wav)]) == 2
    assert "Protobuf" not in capsys.readouterr().err
    # and --trust-pickle on a model file from train said nothing of the flag
    assert main(["predict", "--trust-pickle", str(named), str(wav)]) == 2
    assert "without --trust-pickle" in capsys.readouterr().err


def test_options_that_would_be_ignored_or_misread_are_refused(
    nb_model, folder, tmp_path, capsys, monkeypatch
):
    """Each was accepted: an export under another name that predict then
    took for a damaged model file; --device beside a pickle, even 'bogus';
    --folds beside --split-by recorder."""
    out = tmp_path / "x.vsk"
    assert main(["export", str(tmp_path / "m.vsk"), "-o", str(out)]) == 2
    assert "-o " + str(out) + ": name the export *.onnx" in capsys.readouterr().err
    assert not out.exists()
    file = str(next(folder.glob("*/*.wav")))
    assert main(["predict", *nb_model, file, "--device", "bogus"]) == 2
    assert "--device bogus: a pickled pipeline runs" in capsys.readouterr().err
    argv = ["evaluate", str(folder), "--split-by", "recorder", "--folds", "3"]
    assert main(argv) == 2
    assert "--folds: --split-by recorder makes one fold" in capsys.readouterr().err
    # -o - is standard output, where there is a table to print: it wrote "-"
    monkeypatch.chdir(tmp_path)
    assert main(["predict", *nb_model, file, "-o", "-"]) == 0
    assert capsys.readouterr().out.startswith("path,probability_stenosis")
    assert main(["export", str(tmp_path / "m.vsk"), "-o", "-"]) == 2
    assert "-o -: export writes a file; give its name" in capsys.readouterr().err
    assert not (tmp_path / "-").exists()


def test_a_pipe_given_as_output_is_not_replaced(nb_model, folder, tmp_path, capsys):
    """--force renamed a new file over it: a reader of the pipe waited forever
    (and -o /dev/null --force, as root, would replace the system's)."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    file = str(next(folder.glob("*/*.wav")))
    assert main(["predict", *nb_model, file, "-o", str(fifo), "--force"]) == 2
    assert "is no regular file (a pipe or a device)" in capsys.readouterr().err
    assert fifo.is_fifo()


def test_train_refuses_to_name_its_model_onnx(folder, tmp_path, capsys):
    """train -o m.onnx wrote a zip model file under an ONNX name, which predict
    then read as ONNX and refused as a damaged protobuf."""
    assert main(["train", str(folder), "-o", str(tmp_path / "m.onnx"), *FAST]) == 2
    err = capsys.readouterr().err
    assert "export" in err and "training on" not in err
    assert not (tmp_path / "m.onnx").exists()
    # named as data, it was taken for a manifest or a recording by predict and
    # score, and a model in a data folder was read as a recording next run
    for command, name in (("train", "m.csv"), ("pretrain", "b.wav")):
        out = tmp_path / name
        assert main([command, str(folder), "-o", str(out), *FAST]) == 2
        assert f"{command} writes a " in capsys.readouterr().err
        assert not out.exists()


def test_weights_that_are_a_model_or_no_torch_file_get_safe_advice(
    folder, tmp_path, capsys
):
    """--weights given a file torch cannot read, or a model file from train:
    the message quoted torch's advice to load with weights_only=False (which
    runs the file's code); it names the file and why, and a model file as one,
    with pretrain's backbone as the fix."""
    onnx = tmp_path / "m.onnx"
    onnx.write_bytes(b"\x08\x07\x12\x07pytorch")
    model = tmp_path / "m.vsk"
    with zipfile.ZipFile(model, "w") as archive:
        archive.writestr("model.json", "{}")
        archive.writestr("weights.pt", b"")
    out = str(tmp_path / "x.vsk")
    assert main(["train", str(folder), "-o", out, "--weights", str(onnx)]) == 2
    err = capsys.readouterr().err
    assert f"{onnx} is not a tensor-only weights file" in err
    assert "set to `False`" not in err and "can still be loaded" not in err
    assert main(["train", str(folder), "-o", out, "--weights", str(model)]) == 2
    err = capsys.readouterr().err
    assert "model file" in err and "pretrain" in err


def test_score_says_the_rate_it_reads_mixed_recordings_at(
    nb_model, folder, tmp_path, capsys
):
    """score resamples every file to the model's rate, but the loader's warning
    said "all read at" the first file's rate (44100 Hz here)."""
    root = tmp_path / "clinic"
    for p in sorted(folder.glob("*/*.wav")):
        (root / p.parent.name).mkdir(parents=True, exist_ok=True)
        (root / p.parent.name / p.name).write_bytes(p.read_bytes())
    x, rate = sf.read(sorted(folder.glob("normal/*.wav"))[0])
    sf.write(root / "normal" / "A0_1_fast.wav", resample(x, rate, 44100), 44100)
    # pytest catches the warning the command line prints as "warning: ..."
    with pytest.warns(MixedSampleRateWarning, match="all read at 22050 Hz"):
        assert main(["score", *nb_model, str(root)]) == 0


def test_a_one_second_recording_is_not_scored_ok(nb_model, folder, tmp_path, capsys):
    """One second holds one heart cycle at most: it was answered with quality
    "ok" (0.9999 from one cycle), as a 20-s recording is."""
    x, rate = sf.read(sorted(folder.glob("abnormal/*.wav"))[0])
    short = tmp_path / "short.wav"
    sf.write(short, x[: int(rate)], int(rate), subtype="PCM_16")
    main(["predict", *nb_model, str(short)])
    row = next(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert row["quality"] != "ok" and "1.00 s" in row["message"]


def test_predict_reads_only_the_paths_of_a_manifest(nb_model, folder, tmp_path, capsys):
    """Screening needs no label: a clinic's list whose label column is blank
    (or '?') for the recordings to screen was refused ("line 3: empty label")."""
    files = sorted(folder.glob("*/*.wav"))[:2]
    todo = tmp_path / "todo.csv"
    todo.write_text(f"path,label,patient\n{files[0]},normal,P1\n{files[1]},,\n")
    assert main(["predict", *nb_model, str(todo)]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["path"] for r in rows] == [str(p) for p in files]
    # batch by batch, the progress on standard error; the table unchanged
    assert main(["predict", *nb_model, str(todo), "--batch-size", "1"]) == 0
    out, err = capsys.readouterr()
    assert "  1 of 2 recordings screened (" in err
    assert list(csv.DictReader(io.StringIO(out))) == rows


def test_resume_without_a_partial_file_says_it_starts_afresh(
    folder, tmp_path, capsys, monkeypatch
):
    """pretrain --resume with no OUTPUT.partial (a mistyped -o) started afresh
    without a word; the epochs of the interrupted run were not used."""
    monkeypatch.setattr(
        "vascular_sklearn.pretraining.pretrain", lambda *args, **kwargs: None
    )
    out = tmp_path / "backbone.pt"
    assert main(["pretrain", str(folder), "-o", str(out), "--resume", *FAST]) == 0
    assert f"no {out}.partial" in capsys.readouterr().err


def test_train_weights_that_torch_refuses_get_no_unsafe_advice(
    folder, tmp_path, capsys
):
    """A backbone cut off inside its pickle: torch's refusal begins "Weights
    only load failed. This file can still be loaded, to do so you have two
    options, <ESC>[1mdo those steps only if you trust...", and train --weights
    printed that advice (which runs the file's code) with its escapes."""
    cut = weights_cut_short(tmp_path / "cut.pt")
    out = tmp_path / "x.vsk"
    argv = ["train", str(folder), "-o", str(out), "--weights", str(cut), *FAST]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert str(cut) in err and "not a tensor-only weights file" in err
    assert "can still be loaded" not in err and "\x1b[" not in err
    assert not out.exists()


@pytest.mark.parametrize(
    "command, extra, on_empty",
    [
        ("train", ["-o"], "--on-empty prior leaves such recordings out of training;"),
        (
            "evaluate",
            [],
            "--on-empty prior leaves such recordings out of training and answers "
            "them with the class prior",
        ),
        ("pretrain", ["--set", "classifier__on_empty=error", "-o"], None),
    ],
)
def test_no_cycle_in_training_names_the_command_line_flags(
    folder, tmp_path, capsys, command, extra, on_empty
):
    """A silent recording in a training folder: the library's message names
    Python parameters (on_empty='prior', PeakCycleCutter(...)); the command
    line adds the flags it has for the same fixes, and what each does there
    (pretrain: no --on-empty)."""
    root = tmp_path / "data"
    for p in sorted(folder.glob("*/*.wav")):
        (root / p.parent.name).mkdir(parents=True, exist_ok=True)
        (root / p.parent.name / p.name).write_bytes(p.read_bytes())
    sf.write(root / "normal" / "P9_1_silent.wav", np.zeros(22050 * 8), 22050)
    out = tmp_path / "m.pt"
    extra = [*extra, str(out)] if "-o" in extra else extra
    assert main([command, str(root), *extra, *FAST]) == 2
    err = capsys.readouterr().err
    assert "P9_1_silent.wav" in err and "--set cut__method=period" in err
    if on_empty is None:
        assert "--on-empty" not in err
    else:
        assert on_empty in err
    assert not out.exists()


def _info(labels):
    return {
        "kind": "model file",
        "versions": {"vascular_sklearn": "1"},
        "network": "resnet18",
        "classes": [0, 1],
        "sample_rate": 2000.0,
        "cycles_scored": 16,
        "card": {} if labels is None else {"labels": labels},
    }


def test_describe_names_the_classes_as_the_model_was_trained():
    # a model trained on PhysioNet 2016: its 1 is "abnormal", not "stenosis"
    lines = cli._card_lines("m.vsk", _info({"normal": 3, "abnormal": 5}))
    assert "classes: normal (0), abnormal (1)" in lines
    assert "classes: normal (0), stenosis (1)" in cli._card_lines("m.vsk", _info(None))


def test_a_card_of_the_users_own_under_trains_names_is_shown_not_compared():
    """save_model(card=...) takes any JSON: describe and score crashed on
    train's names holding other things (TypeError, numpy's no-loop error)."""
    card = {
        "file_digests": 120,
        "loudness_db": {"min": "-30 dBFS", "max": "-10 dBFS"},
        "sample_rates_hz": ["22 kHz"],
        "backbone": {"file_digests": [1, 2]},
    }
    assert "  file_digests     120" in cli._card_rows(card)
    assert cli._trained_on_these(["a.wav"], card) == []
    here = {
        "sample_rate": np.array([22050.0]),
        "loudness_db": np.array([-20.0]),
        "converter_step": np.array([1.0]),
    }
    assert cli._beside_training(here, card) == []
    # train's own card is still compared
    card = {"loudness_db": {"min": -30.0, "max": -25.0}}
    (line,) = cli._beside_training(here, card)
    assert line.endswith("1 of 1 recordings read lie outside them")


def test_the_recorders_a_backbone_heard_count_as_heard():
    """A model fine-tuned from a backbone heard the backbone's corpus too:
    score said a clinic's files lay outside what the model heard, after
    warning they were the backbone's training files."""
    card = {
        "sample_rates_hz": [22050.0],
        "loudness_db": {"min": -26.0, "max": -12.0},
        "converter_step": {"min": 1.0, "max": 1.0},
        "backbone": {
            "sample_rates_hz": [2000.0],
            "loudness_db": {"min": -33.0, "max": -9.0},
            "converter_step": {"min": 25.0, "max": 39.0},
        },
    }
    here = {
        "sample_rate": np.array([2000.0, 2000.0, 2000.0]),
        "loudness_db": np.array([-20.0, -20.0, -20.0]),
        "converter_step": np.array([30.0, 60.0, 10.0]),
    }
    (line,) = cli._beside_training(here, card)
    assert "(its card and its backbone's)" in line
    assert "1 to 1 and 25 to 39 levels in training" in line
    # 60 levels lies beyond both; 10, between them, was heard by neither
    assert line.endswith("2 of 3 recordings read lie outside them")
    del card["backbone"]
    (line,) = cli._beside_training(here, card)
    assert "(its card)" in line and line.endswith(
        "3 of 3 recordings read lie outside them"
    )


class _Stub:
    """A pipeline that fits at once: train's card is what is looked at."""

    def fit(self, X, y, **given):
        self.recordings_trained_ = np.ones(len(y), bool)  # every one trained
        return self

    def set_params(self, **params):
        return self

    def __getitem__(self, step):  # its own last step
        return self


def test_train_card_reads_converter_steps_as_stored(tmp_path, monkeypatch):
    # a 16-bit file at 44.1 kHz with 40-level steps, loaded at 22.05 kHz with
    # the others: resampled, its samples leave the grid (a step of 0.07)
    rng = np.random.default_rng(0)
    for label in ("normal", "abnormal"):
        (tmp_path / label).mkdir()
        for k, rate in enumerate((22050, 44100)):
            x = np.round(0.05 * rng.standard_normal(2 * rate) * 32768 / 40)
            sf.write(
                tmp_path / label / f"P{k}_{label}.wav", x * 40 / 32768, rate, "PCM_16"
            )
    saved = {}
    monkeypatch.setattr(cli, "_pipeline_for", lambda args, **kw: _Stub())
    monkeypatch.setattr(
        "vascular_sklearn.persistence.save_model",
        lambda model, out, overwrite, card: saved.update(card),
    )
    with pytest.warns(UserWarning, match="2 sample rates"):
        assert cli.main(["train", str(tmp_path), "-o", str(tmp_path / "m.vsk")]) == 0
    assert saved["converter_step"] == {"min": 40.0, "median": 40.0, "max": 40.0}
    assert saved["sample_rates_hz"] == [22050.0, 44100.0]


def test_every_option_of_every_command_says_what_it_does():
    """--help is where a clinic looks first: --max-epochs and --folds said
    nothing, not even their defaults."""
    import argparse

    parser = cli._parser()
    commands = next(
        a for a in parser._actions if isinstance(a, argparse._SubParsersAction)
    )
    silent = [
        f"{name} {'/'.join(action.option_strings) or action.dest}"
        for name, command in commands.choices.items()
        for action in command._actions
        if not action.help and not isinstance(action, argparse._HelpAction)
    ]
    assert silent == []


@pytest.mark.parametrize(
    ("given", "what"), [("visit.wav", "a recording"), ("clinic.csv", "a manifest")]
)
def test_a_recording_or_manifest_given_as_the_model_is_named(given, what, capsys):
    # a manifest was told to try --trust-pickle, which is no fix
    assert main(["predict", given, "model.vsk"]) == 2
    err = capsys.readouterr().err
    assert f"{given} is {what}, not a model: give the model first" in err


def test_predict_walks_its_folders_once(nb_model, folder, monkeypatch, capsys):
    """predict's summary walked the sources a second time for its count of
    resampled files: a folder still being filled gave a count of files that
    were never scored, and a large archive was listed twice."""
    from vascular_sklearn import screening

    walks = []
    real = screening.find_recordings

    def counted(*args, **kwargs):
        walks.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(screening, "find_recordings", counted)
    assert main(["predict", *nb_model, str(folder)]) == 0
    capsys.readouterr()
    assert len(walks) == 1


def test_a_file_without_samples_is_not_outside_the_training_recorders(tmp_path):
    """Its header gives a rate the model never heard, but nothing of it is
    read: it was counted outside and not read ("1 of 0 recordings")."""
    from vascular_sklearn.corpus import RecordingFiles
    from vascular_sklearn.evaluation import device_properties

    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0), 8000, subtype="PCM_16")
    here = dict(device_properties(RecordingFiles.from_paths([empty], 2000.0)))
    here["sample_rate"] = np.array([8000.0])
    card = {
        "sample_rates_hz": [2000.0],
        "loudness_db": {"min": -40.0, "max": -10.0},
        "converter_step": {"min": 1.0, "max": 1.0},
    }
    (line,) = cli._beside_training(here, card)
    assert line.endswith("0 of 0 recordings read lie outside them")


# a process that gets SIGTERM while it writes its table
_TERMINATED_MID_WRITE = """
import signal, sys
from vascular_sklearn import screening
from vascular_sklearn.cli import main

def write_then_terminate(out, rows, counts):
    out.write("path,probability_stenosis\\n")
    out.flush()
    signal.raise_signal(signal.SIGTERM)

screening._write_rows = write_then_terminate
sys.exit(main(sys.argv[1:]))
"""


def test_sigterm_leaves_no_half_written_table(nb_model, folder, tmp_path):
    """SIGTERM (kill, timeout, a batch system's limit) stopped the process
    where it stood: no message, exit -15, and the half-written table left
    beside the output as OUTPUT.<hex>.partial."""
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    wav = sorted(folder.glob("*/*.wav"))[0]
    root = str(Path(cli.__file__).parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, *sys.path])}
    argv = ["predict", *nb_model, str(wav), "-o", str(out_dir / "screen.csv")]
    done = subprocess.run(
        [sys.executable, "-c", _TERMINATED_MID_WRITE, *argv],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 143
    assert done.stderr.strip().splitlines()[-1] == "terminated"
    assert "Traceback" not in done.stderr
    assert list(out_dir.iterdir()) == []


def test_a_link_to_nothing_is_refused_before_the_work(
    nb_model,
    folder,
    tmp_path,
    capsys,
    monkeypatch,
):
    """-o naming a dangling symlink passed the check before the work and was
    refused only after it, in the Python API's words ("pass overwrite=True")."""
    link = tmp_path / "screen.csv"
    link.symlink_to(tmp_path / "nowhere.csv")

    def scored(*args, **kwargs):
        raise AssertionError("the recordings were scored")

    monkeypatch.setattr(screening, "_scored_batches", scored)
    wav = sorted(folder.glob("*/*.wav"))[0]
    assert main(["predict", *nb_model, str(wav), "-o", str(link)]) == 2
    assert f"{link} exists; use --force to replace it" in capsys.readouterr().err
    assert link.is_symlink() and not link.exists()


def test_a_table_made_meanwhile_is_kept_and_said_in_the_commands_words(
    nb_model,
    folder,
    tmp_path,
    capsys,
    monkeypatch,
):
    """Two predict -o same.csv at once: the later one kept the other's table
    but said "exists; ... pass overwrite=True", a parameter the command line
    does not have, as if its own check had been skipped."""
    out = tmp_path / "screen.csv"
    write = screening._write_rows

    def another_run_finishes_first(stream, rows, counts):
        out.write_text("theirs\n")
        write(stream, rows, counts)

    monkeypatch.setattr(screening, "_write_rows", another_run_finishes_first)
    wav = sorted(folder.glob("*/*.wav"))[0]
    assert main(["predict", *nb_model, str(wav), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "made while this run worked" in err and "use --force" in err
    assert "overwrite=True" not in err
    assert out.read_text() == "theirs\n"
    assert [p.name for p in tmp_path.iterdir()] == ["screen.csv"]
