"""Pretrain, save, start from weights_path: the backbone loads, only safe files do."""

import csv
import io
import os
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from sklearn.pipeline import Pipeline
from torchvision import models

from vascular_sklearn import (
    RecordingClassifier,
    WeightsFileError,
    make_stenosis_pipeline,
)
from vascular_sklearn.cli import main
from vascular_sklearn.corpus import RecordingFiles
from vascular_sklearn.datasets import load_physionet2016, make_recordings
from vascular_sklearn.model_card import read_model_card
from vascular_sklearn.network import (
    CARD_KEY,
    CycleResNet,
    ResNetClassifier,
    read_weights,
)
from vascular_sklearn.persistence import load_model
from vascular_sklearn.pretraining import partial_path, pretrain, save_backbone
from vascular_sklearn.recorder import quantise

from .conftest import weights_cut_short


def _small(**params):
    return make_stenosis_pipeline(
        max_epochs=1, random_state=0, device="cpu", batch_size=8, **params
    )


def _interrupted(out, data, **params):
    """Leave what a pretrain to ``out`` stopped after an epoch leaves: its
    partial file, a checkpoint of this corpus (a finished backbone is none)."""
    checkpoint = {"classifier__estimator__checkpoint_path": partial_path(out)}
    _small(**params, **checkpoint).fit(data.recordings, data.target)


@pytest.fixture(scope="module")
def heart_sounds():
    """Four simulated recordings at 2 kHz, the heart-sound corpus's rate."""
    return make_recordings(2, 2, 4.0, sample_rate=2000.0, random_state=0)


@pytest.fixture(scope="module")
def backbone(tmp_path_factory, heart_sounds):
    path = tmp_path_factory.mktemp("pretrain") / "backbone.pt"
    card = {"trained_on": "simulated heart sounds", "recordings": 4}
    model = pretrain(
        heart_sounds.recordings,
        heart_sounds.target,
        path,
        pipeline=_small(),
        card=card,
    )
    return path, model


def _features(module: CycleResNet, x: torch.Tensor) -> torch.Tensor:
    """The backbone's output before the head, in eval mode."""
    net = module.net
    head, net.fc = net.fc, torch.nn.Identity()
    try:
        with torch.no_grad():
            return net.eval()(x)
    finally:
        net.fc = head


def test_pretrained_weights_load_into_a_new_network(backbone):
    path, model = backbone
    assert path.exists() and not partial_path(path).exists()
    state = read_weights(path)
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    trained = model[-1].estimator_.net_.module_
    x = torch.randn(3, 1, 20, 100)
    torch.manual_seed(0)
    loaded = CycleResNet(weights_path=str(path))
    torch.manual_seed(0)
    fresh = CycleResNet()
    reference = _features(trained, x)  # values up to hundreds
    # the same weights, up to the memory format's rounding
    assert (_features(loaded, x) - reference).abs().max() < 0.01
    assert (_features(fresh, x) - reference).abs().max() > 1.0
    # the file says what it learnt on, and a fine-tune on other images is told
    assert state["image_shape"].tolist() == [1, 20, 100]
    info = read_model_card(path)
    assert info["card"] == {"trained_on": "simulated heart sounds", "recordings": 4}
    assert (info["kind"], info["network"]) == ("backbone", "resnet50")
    assert info["image_shape"] == [1, 20, 100] and info["classes"] is None
    with pytest.warns(UserWarning, match=r"of 20 x 100 .*, these are 40 x 100"):
        CycleResNet(weights_path=str(path), image_shape=(1, 40, 100))


def test_a_backbone_card_is_refused_before_training_or_named_when_damaged(
    backbone, heart_sounds, tmp_path
):
    out = tmp_path / "b.pt"
    with pytest.raises(ValueError, match="card\\['fitted'\\]"):
        pretrain(
            heart_sounds.recordings,
            heart_sounds.target,
            out,
            pipeline=_small(),  # no fit: the card is checked first
            card={"fitted": object()},
        )
    assert not out.exists() and not partial_path(out).exists()
    # a backbone saved without a card loads and says so
    state = read_weights(backbone[0])
    torch.save({k: v for k, v in state.items() if k != CARD_KEY}, out)
    assert read_model_card(out)["card"] == {}
    state[CARD_KEY] = torch.tensor([0xFF, 0x7B], dtype=torch.uint8)
    torch.save(state, out)
    with pytest.raises(WeightsFileError, match=f"{out}: its card is damaged"):
        read_model_card(out)


def test_fine_tuning_starts_from_the_backbone(backbone):
    path, _ = backbone
    vessels = make_recordings(2, 2, 4.0, random_state=1)  # 22.05 kHz
    start = read_weights(path)
    tuned = _small(weights_path=str(path), freeze_stages=2, backbone_lr=1e-5)
    tuned.fit(vessels.recordings, vessels.target)
    net = tuned[-1].estimator_.net_
    layers = net.module_.net
    # frozen stages keep the pretrained weights; later stages train
    assert torch.equal(
        layers.layer2[0].conv1.weight, start["net.layer2.0.conv1.weight"]
    )
    assert not torch.equal(
        layers.layer4[0].conv1.weight, start["net.layer4.0.conv1.weight"]
    )
    # frozen stages keep the backbone's BatchNorm statistics too, through
    # training and the recalibration after it; the later stages' move
    for key in ("bn1.running_mean", "layer2.1.bn2.running_var"):
        assert torch.equal(layers.state_dict()[key], start[f"net.{key}"])
    assert not torch.equal(
        layers.layer4[0].bn1.running_mean, start["net.layer4.0.bn1.running_mean"]
    )
    lrs = sorted(group["lr"] for group in net.optimizer_.param_groups)
    assert lrs == [1e-5, 1e-3]  # the backbone's, then the new head's
    # and the answers differ from the same fit without the backbone
    scratch = _small(freeze_stages=2, backbone_lr=1e-5)
    scratch.fit(vessels.recordings, vessels.target)
    assert not np.allclose(
        tuned.predict_proba(vessels.recordings),
        scratch.predict_proba(vessels.recordings),
        atol=1e-3,
    )


def test_resume_starts_from_the_last_epoch(tmp_path, backbone, heart_sounds):
    out = tmp_path / "again.pt"
    _interrupted(out, heart_sounds)
    start = read_weights(partial_path(out))
    # everything but the head frozen: the result shows where training started
    model = pretrain(
        heart_sounds.recordings,
        heart_sounds.target,
        out,
        pipeline=_small(freeze_stages=4),
        resume=True,
    )
    assert not partial_path(out).exists()
    layers = model[-1].estimator_.net_.module_.net
    assert torch.equal(
        layers.layer3[1].conv2.weight, start["net.layer3.1.conv2.weight"]
    )
    # the returned pipeline refits from its own settings, not the removed partial
    params = model.get_params()
    assert params["classifier__estimator__weights_path"] is None
    assert params["classifier__estimator__checkpoint_path"] is None
    with pytest.raises(FileExistsError, match="exists"):
        pretrain(heart_sounds.recordings, heart_sounds.target, out, pipeline=_small())
    with pytest.raises(TypeError, match="RecordingClassifier around a ResNetClassif"):
        pretrain(
            heart_sounds.recordings,
            heart_sounds.target,
            tmp_path / "other.pt",
            pipeline=_small()[:-1],
        )
    # a bare RecordingClassifier (save_backbone takes one) has no signal steps:
    # it was an AttributeError, "no attribute 'steps'"
    with pytest.raises(TypeError, match=r"ResNetClassifier \(its signal .* got Rec"):
        pretrain(
            heart_sounds.recordings,
            heart_sounds.target,
            tmp_path / "other.pt",
            pipeline=_small()[-1],
        )


def test_weights_that_are_not_tensor_only_are_refused(tmp_path, heart_sounds):
    pickled = tmp_path / "model.pt"
    torch.save(torch.nn.Linear(2, 2), pickled)  # a whole module: runs code to load
    tensor = tmp_path / "tensor.pt"
    torch.save(torch.zeros(3), tensor)
    junk = tmp_path / "junk.pt"
    junk.write_text("not weights")
    for bad, message in [
        (pickled, "not a tensor-only weights file"),
        (junk, "not a tensor-only weights file"),
        (tensor, "not a state dict of tensors"),
    ]:
        with pytest.raises(ValueError, match=message) as err:
            _small(weights_path=str(bad)).fit(
                heart_sounds.recordings, heart_sounds.target
            )
        assert str(bad) in str(err.value)


def test_weights_of_another_shape_or_cut_short_are_named(tmp_path, backbone):
    path, _ = backbone  # a resnet50's
    small = tmp_path / "resnet18.pt"
    torch.save(CycleResNet("resnet18").state_dict(), small)
    no_stem = tmp_path / "no_stem.pt"
    torch.save(
        {k: v for k, v in read_weights(path).items() if k != "net.conv1.weight"},
        no_stem,
    )
    # our own one-channel stem, of another kernel size
    odd_stem = tmp_path / "odd_stem.pt"
    state = CycleResNet("resnet50").state_dict()
    state["net.conv1.weight"] = torch.zeros(64, 1, 7, 7)
    torch.save(state, odd_stem)
    cut = tmp_path / "cut.pt"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    empty = tmp_path / "empty.pt"
    empty.touch()
    for bad, message in [
        (small, "another size"),
        (no_stem, r"missing: \['conv1\.weight'\]"),
        (odd_stem, r"conv1\.weight: \(64, 1, 7, 7\) here \(64, 1, 5, 5\)"),
        (cut, "not a tensor-only weights file"),
        (empty, "is empty"),
    ]:
        with pytest.raises(WeightsFileError, match=message) as err:
            CycleResNet(weights_path=str(bad))
        assert str(bad) in str(err.value)


def test_a_checkpoint_cut_off_while_written_keeps_the_last_epoch(
    tmp_path, monkeypatch, heart_sounds
):
    partial = tmp_path / "run.pt.partial"
    save, calls = torch.save, []

    def power_cut(obj, f, *args, **kwargs):  # the second epoch's write stops
        calls.append(f)
        if len(calls) == 2:
            Path(f).write_bytes(b"PK\x03\x04 half a file")
            raise OSError("the power went")
        return save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", power_cut)
    pipe = _small(classifier__estimator__arch="resnet18")
    pipe.set_params(classifier__estimator__max_epochs=2)
    pipe.set_params(classifier__estimator__checkpoint_path=str(partial))
    with pytest.raises(OSError, match="the power went"):
        pipe.fit(heart_sounds.recordings, heart_sounds.target)
    assert "net.layer4.1.conv2.weight" in read_weights(partial)  # the first epoch
    assert [p.name for p in tmp_path.iterdir()] == [partial.name]


def test_save_backbone_needs_a_fitted_network(tmp_path, backbone):
    with pytest.raises(
        TypeError, match=r"fitted ResNetClassifier.*; got Pipeline not fitted"
    ):
        save_backbone(_small(), tmp_path / "b.pt")
    path, model = backbone
    with pytest.raises(FileExistsError):
        save_backbone(model, path)


def _write_database(root, letter: str, recordings, labels) -> Path:
    """A PhysioNet 2016 database folder: 2 kHz FLACs and REFERENCE.csv."""
    folder = root / f"training-{letter}"
    folder.mkdir()
    lines = []
    for i, (x, label) in enumerate(zip(recordings, labels, strict=True)):
        name = f"{letter}{9999 if label is None else i:04d}"
        sf.write(folder / f"{name}.flac", x, 2000, subtype="PCM_16")
        lines.append(f"{name},{1 if label else -1}\n")
    (folder / "REFERENCE.csv").write_text("".join(lines))
    return folder


def test_cli_pretrain_refuses_a_wrong_setting_before_reading(tmp_path, capsys):
    out = tmp_path / "backbone.pt"
    missing = str(tmp_path / "no-such-corpus")
    assert main(["pretrain", missing, "-o", str(out), "--set", "floor=80"]) == 2
    assert "--set floor: the pipeline has no parameter" in capsys.readouterr().err
    assert not out.exists()


def test_cli_pretrains_on_a_physionet_layout(
    tmp_path, heart_sounds, capsys, monkeypatch
):
    # a large corpus holds recordings without a beat (x9999, normal): left out
    noise = np.random.default_rng(0).normal(0, 0.01, 600)
    recordings = [*heart_sounds.recordings.data, noise]
    labels = [*heart_sounds.target.tolist(), None]
    folder = _write_database(tmp_path, "x", recordings, labels)
    out = tmp_path / "backbone.pt"
    used = []

    def spy(*args, pipeline, **kwargs):
        used.append(pipeline)
        return pretrain(*args, pipeline=pipeline, **kwargs)

    monkeypatch.setattr("vascular_sklearn.pretraining.pretrain", spy)
    args = ["pretrain", str(tmp_path), "-o", str(out), "--max-epochs", "1"]
    more = ["--cycles-per-recording", "2", "--arch", "resnet18", "--n-jobs", "2"]
    cycles = "classifier__estimator__max_cycles_per_group=3"  # overrides the flag
    sets = ["--set", "spectrogram__floor_db=30", "--set", cycles]
    assert main([*args, *more, *sets]) == 0
    assert used[0].get_params()["spectrogram__floor_db"] == 30
    assert "net.layer4.1.conv2.weight" in read_weights(out)
    captured = capsys.readouterr()
    abnormal = int(heart_sounds.target.sum())
    assert f"pretraining resnet18 on 5 recordings ({abnormal} abnormal)" in captured.err
    assert "1 epoch of 3 cycles per recording, spectrogram__floor_db=30" in (
        captured.err
    )
    # skorch's progress table is progress: on stderr, without colour codes
    assert "train_loss" in captured.err and "\x1b[" not in captured.err
    assert not captured.out
    # the backbone says what it heard, as train's model does
    assert main(["describe", str(out)]) == 0
    described = capsys.readouterr().out
    rows = dict(line.split(None, 1) for line in described.splitlines()[3:-1])
    assert rows["trained_on"] == str(tmp_path) and rows["databases"] == "1"
    assert rows["recordings"] == "5" and rows["sample_rates_hz"] == "2000"
    assert rows["command"] == f"vascular-sklearn pretrain {' '.join(args[1:])} " + (
        " ".join([*more, *sets])
    )
    assert main(args) == 2  # the file exists: nothing is written over
    # a screening model trained on the same layout, from the backbone
    model = tmp_path / "model.vsk"
    train = ["train", str(tmp_path), "-o", str(model)]
    junk = tmp_path / "junk.pt"
    junk.write_text("not weights")
    capsys.readouterr()
    assert main([*train, "--weights", str(junk)]) == 2 and not model.exists()
    assert f"error: {junk} is not a tensor-only weights file" in capsys.readouterr().err
    # a backbone of another network (resnet18; train's default is resnet50),
    # or a backbone rate without a backbone, stop before the data are read
    assert main([*train, "--weights", str(out)]) == 2
    err = capsys.readouterr().err
    assert "does not hold weights for this arch" in err and "training on" not in err
    assert "it holds a resnet18: pass arch='resnet18' (--arch resnet18 on" in err
    assert main([*train, "--backbone-lr", "0.1"]) == 2
    assert "--backbone-lr sets the rate of a backbone" in capsys.readouterr().err
    fine = ["--weights", str(out), "--arch", "resnet18", "--max-epochs", "1"]
    assert main([*train, *fine]) == 2 and not model.exists()
    assert "x9999" in capsys.readouterr().err  # the beatless recording, named
    assert main([*train, *fine, "--on-empty", "prior"]) == 0 and model.exists()
    assert "training on 5 recordings of 1 database\n" in capsys.readouterr().err
    # scored at another site's rate: the model reads 8 kHz files at its own 2 kHz
    external = make_recordings(1, 1, 4.0, sample_rate=8000.0, random_state=3)
    wav = tmp_path / "external.wav"
    sf.write(wav, external.recordings.data[0], 8000, subtype="PCM_16")
    assert main(["predict", str(model), str(wav), str(folder / "x9999.flac")]) == 1
    out, err = capsys.readouterr()
    out_rows = out.splitlines()
    assert "1 recorded at 8000 Hz, resampled to the model's 2000 Hz" in err
    at_2k = RecordingFiles.from_paths([wav], sample_rate=2000.0)
    expected = load_model(model).predict_proba(at_2k)[0, 1]
    assert out_rows[1].split(",")[1] == f"{expected:.4f}"
    assert out_rows[2].split(",")[1] == ""  # no beat: no answer, not the prior
    # a second database: evaluation leaves whole databases out, and says so
    # another site's recordings (a sample later: the same bytes would be one
    # recording in two databases, which the loader refuses)
    other = [np.roll(x, 1) for x in heart_sounds.recordings.data]
    _write_database(tmp_path, "y", other, heart_sounds.target)
    small = ["--arch", "resnet18", "--max-epochs", "1", "--on-empty", "prior"]
    with pytest.warns(
        UserWarning, match="no heart cycle was found in training-x/x9999"
    ):
        assert main(["evaluate", str(tmp_path), "--folds", "2", *small]) == 0
    captured = capsys.readouterr()
    assert "9 recordings, 2 databases, GroupKFold(2) by database" in captured.err
    assert "split by database:" in captured.out
    # and reports each database alone, as the site that never trained it sees it
    per_site = captured.out.split("Per database (each scored by models that never")[1]
    rows = [x for x in per_site.splitlines() if x.startswith("database ")]
    assert [row.split()[1] for row in rows] == ["x", "y"]
    assert [int(row.split("n=")[1].split()[0]) for row in rows] == [5, 4]
    # scoring the two databases reports each alone, on the recordings it scored
    # (1: one recording could not be scored, as predict says)
    table = tmp_path / "scores.csv"
    assert main(["score", str(model), str(tmp_path), "-o", str(table)]) == 1
    captured = capsys.readouterr()
    # the table in the corpus's words, each recording beside its database
    rows = list(csv.DictReader(io.StringIO(table.read_text())))
    assert {row["group"] for row in rows} == {"x", "y"}
    assert {row["true_label"] for row in rows} == {"normal", "abnormal"}
    assert {row["label"] for row in rows} <= {"normal", "abnormal", ""}
    assert "not scored: " in captured.err and "x9999" in captured.err
    per_site = captured.out.split("Per database:\n")[1].splitlines()
    assert [row.split()[:3] for row in per_site[:2]] == [
        ["database", "x", "n=4"],
        ["database", "y", "n=4"],
    ]
    assert per_site[2].startswith("The database alone tells the label with roc_auc")


def test_pretrain_trains_with_sample_weight(tmp_path, heart_sounds):
    """The weights reach the network as the pipeline's own fit takes them
    (the same answers, to the bit), and change the backbone. (Weighed 0 is not
    left out to the bit here: the harmoniser's and augmentation's draws run
    over every recording given, as the network's cycle sampler does not.)"""
    X, y = heart_sounds.recordings, heart_sounds.target
    weights, answers = [], []
    for i, weight in enumerate(([1.0] * 4, [1.0, 0.0, 1.0, 1.0])):
        model = pretrain(
            X, y, tmp_path / f"{i}.pt", pipeline=_small(), sample_weight=weight
        )
        weights.append(read_weights(tmp_path / f"{i}.pt"))
        answers.append(model.predict_proba(X))
    assert not all(torch.equal(v, weights[1][k]) for k, v in weights[0].items())
    fitted = _small().fit(X, y, classifier__sample_weight=[1.0, 0.0, 1.0, 1.0])
    np.testing.assert_array_equal(answers[1], fitted.predict_proba(X))


def test_cli_skip_coarse_weighs_the_coarse_recordings_0(
    tmp_path, heart_sounds, capsys, monkeypatch
):
    recordings = list(heart_sounds.recordings.data)
    # quiet on a converter of 64 levels: rounding noise 18 dB under the sound
    recordings[1] = quantise(0.1 * recordings[1], 64)
    _write_database(tmp_path, "x", recordings, heart_sounds.target)
    seen = {}
    monkeypatch.setattr(
        "vascular_sklearn.pretraining.pretrain",
        lambda *args, **kwargs: seen.update(kwargs),
    )
    args = ["pretrain", str(tmp_path), "-o", str(tmp_path / "b.pt")]
    assert main(args) == 0 and seen["sample_weight"] is None
    assert seen["card"]["recordings"] == 4 and seen["card"]["coarse_left_out"] == 0
    assert seen["card"]["coarse_recordings"] == 1
    loudness = seen["card"]["loudness_db"]
    assert main([*args, "--skip-coarse"]) == 0
    assert seen["sample_weight"].tolist() == [1, 0, 1, 1]
    message = "left out of training: 1 coarse recording (0 abnormal; rounding noise"
    assert message in capsys.readouterr().err
    # the card tells what the backbone heard: not the recording left out
    card = seen["card"]
    assert (card["recordings"], card["coarse_recordings"]) == (3, 0)
    assert card["coarse_left_out"] == 1 and sum(card["labels"].values()) == 3
    assert card["loudness_db"]["min"] > loudness["min"]  # the quiet one is out
    # train too: a screening model
    fitted = {}

    def fit(self, X, y, **kw):  # as a fit that trained every recording
        fitted.update(kw)
        self[-1].recordings_trained_ = np.ones(len(y), bool)
        return self

    monkeypatch.setattr("sklearn.pipeline.Pipeline.fit", fit)
    monkeypatch.setattr(
        "vascular_sklearn.persistence.save_model",
        lambda *a, card, **k: seen.update(card=card),
    )
    train = ["train", str(tmp_path), "-o", str(tmp_path / "m.vsk"), "--skip-coarse"]
    assert main(train) == 0
    assert fitted["classifier__sample_weight"].tolist() == [1, 0, 1, 1]
    assert seen["card"]["recordings"] == 3 and seen["card"]["coarse_left_out"] == 1
    assert message in capsys.readouterr().err

    # evaluate: every training fold without them, every recording scored
    class Seen(Exception):
        pass

    def spy(*args, params, **kwargs):
        raise Seen(params["classifier__sample_weight"].tolist())

    monkeypatch.setattr("vascular_sklearn.evaluation.evaluate_by_patient", spy)
    # another site's recordings (a sample later: the same bytes would be one
    # recording in two databases, which the loader refuses)
    other = [np.roll(x, 1) for x in heart_sounds.recordings.data]
    _write_database(tmp_path, "y", other, heart_sounds.target)
    with pytest.raises(Seen, match=r"\[1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0\]"):
        main(["evaluate", str(tmp_path), "--skip-coarse"])


def test_cli_skip_coarse_that_leaves_a_class_out_is_named(
    tmp_path, heart_sounds, capsys
):
    """scikit-learn's "Sample weights must contain at least one non-zero
    number", or a class named without the option, said it before."""
    recordings = [
        quantise(0.1 * x, 64) if label else x
        for x, label in zip(
            heart_sounds.recordings.data, heart_sounds.target, strict=True
        )
    ]
    _write_database(tmp_path, "x", recordings, heart_sounds.target)
    args = ["pretrain", str(tmp_path), "-o", str(tmp_path / "b.pt"), "--skip-coarse"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "--skip-coarse leaves out 1 coarse recording of 4, and with them" in err
    assert "every one labelled abnormal: nothing to learn that class from" in err
    assert "Sample weights" not in err and not (tmp_path / "b.pt").exists()
    # a fold: the abnormal recordings of database y alone are coarse, so the
    # fold that trains on y alone has none to learn from; checked over the
    # whole data only, it failed after the folds before it had trained
    two = tmp_path / "two"
    two.mkdir()
    _write_database(two, "x", list(heart_sounds.recordings.data), heart_sounds.target)
    other = [np.roll(x, 1) for x in recordings]
    _write_database(two, "y", other, heart_sounds.target)
    assert main(["evaluate", str(two), "--skip-coarse"]) == 2
    err = capsys.readouterr().err
    assert re.search(
        r"--skip-coarse leaves fold \d of 2 no recording labelled abn", err
    )


def test_pretrain_gives_back_a_pipeline_whose_network_was_the_default(
    tmp_path, heart_sounds
):
    """RecordingClassifier(estimator=None) means the default network; pretrain
    set one in the caller's pipeline and left it there (here its fit stops at
    once, on one class, and the pipeline is given back all the same)."""
    pipe = _small().set_params(classifier=RecordingClassifier())
    one_class = np.zeros(len(heart_sounds.target), int)
    with pytest.raises(ValueError, match="class"):
        pretrain(heart_sounds.recordings, one_class, tmp_path / "b.pt", pipeline=pipe)
    assert pipe[-1].estimator is None


def test_a_file_at_checkpoint_path_is_not_written_over(tmp_path):
    mine = tmp_path / "mine.pt"
    mine.write_text("a user's file")
    net = ResNetClassifier("resnet18", max_epochs=1, device="cpu", checkpoint_path=mine)
    with pytest.raises(FileExistsError, match=r"mine\.pt exists"):
        net.fit(np.zeros((4, 1, 8, 8), np.float32), [0, 1, 0, 1])
    assert mine.read_text() == "a user's file"
    # a folder that is not there is said before the first epoch, not after it
    net.set_params(checkpoint_path=tmp_path / "no-such-folder" / "run.pt")
    with pytest.raises(FileNotFoundError, match="no-such-folder does not exist"):
        net.fit(np.zeros((4, 1, 8, 8), np.float32), [0, 1, 0, 1])
    assert not hasattr(net, "net_")  # nothing trained, nothing that looks fitted


def test_ctrl_c_stops_pretraining_and_keeps_the_last_epoch(
    tmp_path, heart_sounds, capsys, monkeypatch
):
    """skorch takes Ctrl-C as the end of training: the run saved a
    half-trained backbone, removed the partial file and exited 0."""
    import signal

    from skorch import NeuralNet

    notify = NeuralNet.notify

    def ctrl_c_after_the_first_epoch(self, method_name, **kwargs):
        notify(self, method_name, **kwargs)
        if method_name == "on_epoch_end":  # after its checkpoint is written
            signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(NeuralNet, "notify", ctrl_c_after_the_first_epoch)
    _write_database(tmp_path, "x", heart_sounds.recordings.data, heart_sounds.target)
    out = tmp_path / "backbone.pt"
    argv = ["pretrain", str(tmp_path), "-o", str(out), "--arch", "resnet18"]
    # a suite started in the background (`make test &`) inherits Ctrl-C
    # ignored, which the library leaves so: this is a run that hears it
    ignored = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        code = main([*argv, "--max-epochs", "3", "--cycles-per-recording", "2"])
    finally:
        signal.signal(signal.SIGINT, ignored)
    assert code == 130
    assert not out.exists() and partial_path(out).exists()
    assert "go on with --resume" in capsys.readouterr().err


def test_an_applications_own_ctrl_c_handler_decides(monkeypatch):
    """A handler that lets the fit finish: the network stays trained."""
    import signal

    from skorch import NeuralNet

    notify = NeuralNet.notify

    def ctrl_c(self, method_name, **kwargs):
        notify(self, method_name, **kwargs)
        if method_name == "on_epoch_end":
            signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(NeuralNet, "notify", ctrl_c)
    asked = []
    before = signal.signal(signal.SIGINT, lambda *_: asked.append(1))
    try:
        X = np.random.default_rng(0).random((8, 1, 16, 16), dtype=np.float32)
        clf = ResNetClassifier(
            "resnet18", max_epochs=2, batch_size=4, device="cpu", random_state=0
        ).fit(X, [0, 1] * 4)
    finally:
        signal.signal(signal.SIGINT, before)
    assert asked == [1, 1] and clf.predict_proba(X).shape == (8, 2)
    assert len(clf.net_.history) == 2  # both epochs trained, none cut short
    # a weights file that is no ResNet at all is still named, not a ValueError
    junk = {"layer3.weight": torch.zeros(2), "layer3.bias": torch.zeros(2)}
    with pytest.raises(WeightsFileError, match="does not hold weights"):
        _load_backbone_from(junk, monkeypatch)


def _load_backbone_from(state, monkeypatch):
    monkeypatch.setattr("vascular_sklearn.network.read_weights", lambda path: state)
    return CycleResNet("resnet18", weights_path="junk.pt")


def test_pretrain_does_not_start_afresh_over_an_interrupted_run(
    tmp_path, heart_sounds, capsys
):
    out = tmp_path / "backbone.pt"
    partial_path(out).write_text("epoch 7 of an interrupted run")
    with pytest.raises(FileExistsError, match="resume=True"):
        pretrain(heart_sounds.recordings, heart_sounds.target, out, pipeline=_small())
    missing = str(tmp_path / "no-such-corpus")  # refused before the data is read
    assert main(["pretrain", missing, "-o", str(out)]) == 2
    assert "--resume on the command line" in capsys.readouterr().err
    assert partial_path(out).read_text() == "epoch 7 of an interrupted run"
    assert not out.exists()


def test_a_torchvision_rgb_resnet_loads_with_its_stem_summed_to_one_channel(tmp_path):
    """A torchvision RGB ResNet's stem is kept, not drawn afresh: its 7x7 kernel
    is summed over the colours and cropped to its central 5x5."""
    rgb = models.resnet18(weights=None)
    path = tmp_path / "torchvision.pt"
    torch.save(rgb.state_dict(), path)
    net = CycleResNet("resnet18", weights_path=str(path)).net
    summed = rgb.conv1.weight.sum(dim=1, keepdim=True)[:, :, 1:-1, 1:-1]
    torch.testing.assert_close(net.conv1.weight, summed)
    torch.testing.assert_close(net.layer1[0].conv1.weight, rgb.layer1[0].conv1.weight)
    assert net.fc.out_features == 2  # ImageNet's 1000-class head left out


def test_weights_with_tensors_this_network_lacks_are_refused(tmp_path):
    """Weights holding tensors this network lacks are refused, not ignored."""
    state = CycleResNet("resnet18").state_dict()
    state["net.layer5.0.conv1.weight"] = torch.zeros(1)
    path = tmp_path / "extra.pt"
    torch.save(state, path)
    with pytest.raises(WeightsFileError, match=r"unexpected: \['layer5\.0\.conv1"):
        CycleResNet("resnet18", weights_path=str(path))


def test_cli_pretrain_flags_reach_the_pipeline_and_pretrain(
    tmp_path, heart_sounds, monkeypatch
):
    """pretrain's --seed and --n-jobs reach the pipeline, and --resume and the
    loader's groups (a PhysioNet folder's: its database) reach pretrain."""
    _write_database(tmp_path, "x", heart_sounds.recordings.data, heart_sounds.target)
    calls = []
    monkeypatch.setattr(
        "vascular_sklearn.pretraining.pretrain",
        lambda X, y, path, **kwargs: calls.append(kwargs),
    )
    argv = ["pretrain", str(tmp_path), "-o", str(tmp_path / "b.pt")]
    more = ["--seed", "5", "--n-jobs", "2", "--max-epochs", "2", "--resume"]
    assert main([*argv, *more]) == 0
    (kwargs,) = calls
    params = kwargs["pipeline"].get_params()
    assert params["classifier__estimator__random_state"] == 5
    assert params["augment__random_state"] == 5
    assert params["classifier__estimator__max_epochs"] == 2
    assert params["lowpass__n_jobs"] == params["cut__n_jobs"] == 2
    assert kwargs["resume"] is True
    expected = load_physionet2016(tmp_path).groups.tolist()
    assert kwargs["groups"].tolist() == expected == ["x"] * len(heart_sounds.target)


def test_pretrain_hands_groups_and_weights_to_the_classifier(
    tmp_path, heart_sounds, monkeypatch
):
    """Subjects or sites reach the classifier (its early stopping holds out
    whole groups), and the weights too (0 leaves a recording out)."""
    seen = {}

    class Stop(Exception):
        pass

    def fit(self, X, y=None, **params):
        seen.update(params)
        raise Stop

    monkeypatch.setattr(Pipeline, "fit", fit)
    groups, weight = np.array(["a", "a", "b", "b"]), np.array([1.0, 0.0, 1.0, 1.0])
    X, y = heart_sounds.recordings, heart_sounds.target
    with pytest.raises(Stop):
        pretrain(
            X,
            y,
            tmp_path / "b.pt",
            pipeline=_small(),
            groups=groups,
            sample_weight=weight,
        )
    assert seen.keys() == {"classifier__groups", "classifier__sample_weight"}
    assert seen["classifier__groups"] is groups
    assert seen["classifier__sample_weight"] is weight


def test_weights_cut_short_without_a_message_are_named(tmp_path):
    """torch.load raises a bare EOFError (no text) on a file cut off inside its
    pickle: read_weights took the first line of an empty message and failed
    with IndexError: list index out of range, naming neither file nor fix."""
    cut = weights_cut_short(tmp_path / "cut.pt")
    header_only = tmp_path / "header_only.pt"
    header_only.write_bytes(b"\x80\x02")  # a pickle's protocol mark, nothing more
    for bad in (cut, header_only):
        with pytest.raises(
            WeightsFileError, match="not a tensor-only weights file"
        ) as err:
            read_weights(bad)
        assert str(bad) in str(err.value)


def test_a_pickled_module_is_refused_without_quoting_torchs_advice(tmp_path):
    """torch's refusal starts "Weights only load failed. This file can still be
    loaded, to do so you have two options, <ESC>[1mdo those steps only if you
    trust...": the message quoted that advice (and its terminal escapes),
    which loads the file's code, though it meant to leave it out."""
    pickled = tmp_path / "model.pt"
    torch.save(torch.nn.Linear(2, 2), pickled)
    with pytest.raises(WeightsFileError, match="not a torch state dict") as err:
        read_weights(pickled)
    text = str(err.value)
    assert "can still be loaded" not in text
    assert "\x1b[" not in text


def test_the_fitted_network_pretrain_returns_names_no_partial_file(
    tmp_path, heart_sounds
):
    """pretrain gave the pipeline's settings back, but the fitted network (a
    clone made with them) kept checkpoint_path and, resumed, weights_path at
    OUTPUT.partial, a file it had removed: save_model recorded them, and a
    refit of that network wrote a stale partial file that the next pretrain to
    OUTPUT refused as an interrupted run."""
    small = {"classifier__estimator__arch": "resnet18"}
    first = tmp_path / "first.pt"
    model = pretrain(
        heart_sounds.recordings, heart_sounds.target, first, pipeline=_small(**small)
    )
    assert model[-1].estimator_.checkpoint_path is None
    out = tmp_path / "again.pt"
    _interrupted(out, heart_sounds, **small)
    model = pretrain(
        heart_sounds.recordings,
        heart_sounds.target,
        out,
        pipeline=_small(**small),
        resume=True,
    )
    network = model[-1].estimator_
    assert network.checkpoint_path is None and network.weights_path is None
    X = np.random.default_rng(0).random((4, 1, 8, 8), dtype=np.float32)
    network.set_params(max_epochs=1).fit(X, [0, 1, 0, 1])
    assert not partial_path(out).exists()


def test_two_runs_do_not_write_one_checkpoint(tmp_path, monkeypatch):
    """Two pretrain -o backbone.pt started together both passed the check of
    the checkpoint (no file yet) and replaced each other's epochs in
    backbone.pt.partial: an interrupted one resumed from the other's weights."""
    from skorch import NeuralNet

    checkpoint = tmp_path / "backbone.pt.partial"
    notify = NeuralNet.notify

    def other_run_writes_its_epoch(self, method_name, **kwargs):
        notify(self, method_name, **kwargs)
        if method_name == "on_epoch_end" and len(self.history) == 1:
            other = tmp_path / "other.tmp"
            other.write_bytes(b"the other run's epoch")
            os.replace(other, checkpoint)

    monkeypatch.setattr(NeuralNet, "notify", other_run_writes_its_epoch)
    X = np.random.default_rng(0).random((8, 1, 16, 16), dtype=np.float32)
    clf = ResNetClassifier(
        "resnet18",
        max_epochs=2,
        batch_size=4,
        device="cpu",
        random_state=0,
        checkpoint_path=checkpoint,
    )
    with pytest.raises(FileExistsError, match="written by another run"):
        clf.fit(X, [0, 1] * 4)
    assert checkpoint.read_bytes() == b"the other run's epoch"
    assert [p.name for p in tmp_path.iterdir()] == [checkpoint.name]


def test_a_resume_on_other_recordings_is_refused(tmp_path):
    """A checkpoint records what its run trains on: a resume given another
    corpus (or other labels) went on from the first one's weights and saved
    the mix as trained on the second, without a word."""
    checkpoint = tmp_path / "run.pt"
    X = np.random.default_rng(0).random((8, 1, 16, 16), dtype=np.float32)
    y = np.array([0, 1] * 4)
    params = {"max_epochs": 1, "batch_size": 4, "device": "cpu", "random_state": 0}
    ResNetClassifier("resnet18", checkpoint_path=checkpoint, **params).fit(X, y)
    written = checkpoint.read_bytes()
    # the digest is a run's bookkeeping, not a card that describe would show
    assert read_model_card(checkpoint)["card"] == {}
    resumed = ResNetClassifier(
        "resnet18", checkpoint_path=checkpoint, weights_path=checkpoint, **params
    )
    for X_other, y_other in [(X, y[::-1]), (X[:6], y[:6])]:
        with pytest.raises(ValueError, match="a run on other recordings or labels"):
            resumed.fit(X_other, y_other)
        assert checkpoint.read_bytes() == written
    resumed.fit(X, y)  # the same corpus goes on
    assert checkpoint.read_bytes() != written


def test_a_resume_on_recordings_cut_otherwise_is_refused(tmp_path):
    """As many recordings, labelled alike, in the same order: another corpus
    still differs in how many cycles each recording gives."""
    checkpoint = tmp_path / "run.pt"
    X = np.random.default_rng(0).random((8, 1, 16, 16), dtype=np.float32)
    y = np.array([0, 0, 1, 1, 0, 0, 1, 1])
    params = {"max_epochs": 1, "batch_size": 4, "device": "cpu", "random_state": 0}
    ResNetClassifier("resnet18", checkpoint_path=checkpoint, **params).fit(
        X, y, recordings=np.repeat(np.arange(4), 2)
    )
    written = checkpoint.read_bytes()
    resumed = ResNetClassifier(
        "resnet18", checkpoint_path=checkpoint, weights_path=checkpoint, **params
    )
    with pytest.raises(ValueError, match="a run on other recordings or labels"):
        resumed.fit(X, [0, 1, 1, 1, 0, 1, 1, 1], recordings=[0, 1, 1, 1, 2, 3, 3, 3])
    assert checkpoint.read_bytes() == written


def test_a_backbone_is_not_taken_for_the_checkpoint_it_starts(tmp_path):
    """A backbone passed as both weights_path and checkpoint_path was written
    over by the first epoch, its card (what it was pretrained on) with it."""
    backbone = tmp_path / "backbone.pt"
    X = np.random.default_rng(0).random((8, 1, 16, 16), dtype=np.float32)
    params = {"max_epochs": 1, "batch_size": 4, "device": "cpu", "random_state": 0}
    net = ResNetClassifier("resnet18", **params).fit(X, [0, 1] * 4)
    save_backbone(net, backbone, card={"pretrained_on": "PhysioNet 2016"})
    written = backbone.read_bytes()
    fine_tune = ResNetClassifier(
        "resnet18", weights_path=backbone, checkpoint_path=backbone, **params
    )
    with pytest.raises(FileExistsError, match="no checkpoint of a fit"):
        fine_tune.fit(X, [1, 0] * 4)
    assert backbone.read_bytes() == written


def test_a_name_too_long_for_its_partial_file_is_refused_before_the_work(
    tmp_path, heart_sounds, monkeypatch
):
    # 248 to 255 bytes passed the first check; its .partial was refused by the
    # network's first checkpoint, after the signal chain had run
    monkeypatch.setattr(Pipeline, "fit", lambda *a, **k: pytest.fail("work done"))
    out = tmp_path / ("a" * 250 + ".pt")
    with pytest.raises(OSError, match=r"with \.partial .* longer than 255 bytes"):
        pretrain(heart_sounds.recordings, heart_sounds.target, out, pipeline=_small())
