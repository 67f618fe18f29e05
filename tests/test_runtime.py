"""ONNX export and the torch-free runtime: same cycles, same answers, no torch."""

import copy
import csv
import json
import pickle
import re
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import soundfile as sf
from sklearn.metrics import roc_auc_score
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import Pipeline

from vascular_sklearn import RecordingClassifier, make_stenosis_pipeline
from vascular_sklearn.cli import main
from vascular_sklearn.corpus import RecordingFiles
from vascular_sklearn.datasets import load_recordings, make_recordings
from vascular_sklearn.model_card import read_model_card
from vascular_sklearn.persistence import ModelFileError, export_onnx, save_model
from vascular_sklearn.runtime import load_onnx, read_metadata
from vascular_sklearn.screening import external_validation, predict_files

NETWORK_MODULES = ("torch", "torchvision", "skorch")
CARD = {"trained_on": "synthetic", "labels": {"normal": 4, "stenosis": 4}}


@pytest.fixture(scope="module")
def exported(tmp_path_factory, fitted_default, data):
    """The default ResNet50 pipeline, one epoch, saved and exported by the CLI."""
    pipe = fitted_default
    folder = tmp_path_factory.mktemp("export")
    save_model(pipe, folder / "model.vsk", card=CARD)
    onnx_path = folder / "screening.onnx"
    assert main(["export", str(folder / "model.vsk"), "-o", str(onnx_path)]) == 0
    return pipe, onnx_path, data


def test_export_stores_what_the_answer_depends_on(exported):
    pipe, onnx_path, data = exported
    meta = read_metadata(onnx_path)
    names = [name for name, _ in meta["steps"]]
    assert names == [name for name, _ in pipe.steps]
    classifier = meta["steps"][-1][1]
    assert classifier["params"]["max_cycles"] == pipe[-1].max_cycles
    assert classifier["params"]["aggregate"] == pipe[-1].aggregate
    assert meta["steps"][0][1]["fitted"]["sample_rate_"] == 22050.0
    assert meta["network"]["fitted"]["classes_"]["ndarray"] == [0, 1]
    assert meta["versions"]["vascular_sklearn"]
    images = pipe[:-1].transform(data.recordings[[0]]).images
    assert meta["input"]["shape"][1:] == list(images.shape[1:])


def test_the_card_travels_from_the_model_file_to_the_export(exported, capsys):
    onnx_path = exported[1]
    from_file = read_model_card(onnx_path.parent / "model.vsk")
    from_export = read_model_card(onnx_path)
    assert from_file["card"] == from_export["card"] == CARD
    assert (from_file["kind"], from_export["kind"]) == ("model file", "ONNX export")
    facts = ("network", "classes", "sample_rate", "cycles_scored", "versions")
    assert [from_export[k] for k in facts] == [from_file[k] for k in facts]
    assert from_export["network"] == "resnet50" and from_export["sample_rate"] == 22050
    assert main(["describe", str(onnx_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{onnx_path}: ONNX export, saved with vascular_sklearn")
    assert "classes: normal (0), stenosis (1)" in out
    assert re.search(r"\n  labels +normal 4, stenosis 4\n", out)


def test_runtime_matches_torch_on_the_seed_recordings(exported, seed_dir):
    pipe, onnx_path, _ = exported
    seed = load_recordings(seed_dir, lazy=True)
    # one recording of each of the 12 patients: every recorder, a quarter of
    # the suite time of all 49
    _, first = np.unique(seed.groups, return_index=True)
    files = seed.recordings[np.sort(first)]
    assert isinstance(files, RecordingFiles) and len(files) == 12
    light = load_onnx(onnx_path)
    images = pipe[:-1].transform(files)
    light_images = light[:-1].transform(files)
    # the rebuilt signal chain cuts the same cycles into the same images
    np.testing.assert_array_equal(light_images.offsets, images.offsets)
    np.testing.assert_array_equal(light_images.images, images.images)
    expected = pipe[-1].predict_proba(images)
    got = light[-1].predict_proba(light_images)
    np.testing.assert_allclose(got, expected, atol=1e-4)
    # a model that answers alike for every input would pass the check vacuously
    assert np.ptp(expected[:, 1]) > 1e-3


def _without_torch(body: str) -> dict:
    """What a script prints last (JSON), run where torch, torchvision and
    skorch cannot be imported: a clinic's box with the runtime extra only."""
    block = f"""
import importlib.abc, sys

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {NETWORK_MODULES!r}:
            raise ImportError("No module named " + repr(name))

sys.meta_path.insert(0, Block())
"""
    done = subprocess.run(
        [sys.executable, "-c", block + textwrap.dedent(body)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.stdout, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_runtime_scores_files_without_torch(exported, tmp_path):
    pipe, onnx_path, data = exported
    paths = []
    for i in range(3):
        paths.append(tmp_path / f"r{i}.wav")
        sf.write(paths[-1], data.recordings[i], 22050, subtype="FLOAT")
    paths.append(tmp_path / "broken.wav")
    paths[-1].write_bytes(b"not audio")
    out = tmp_path / "screen.csv"
    result = _without_torch(
        f"""
        import json, sys
        from vascular_sklearn.cli import main

        status = main(["predict", {str(onnx_path)!r}, *{[str(p) for p in paths]!r},
                       "-o", {str(out)!r}])
        assert main(["describe", {str(onnx_path)!r}]) == 0  # its card too
        loaded = sorted(
            m for m in sys.modules if m.split(".")[0] in {NETWORK_MODULES!r}
        )
        print(json.dumps({{"status": status, "loaded": loaded}}))
        """
    )
    assert result == {"status": 1, "loaded": []}  # 1: broken.wav
    rows = list(csv.DictReader(out.read_text().splitlines()))
    reference = list(csv.DictReader(_torch_table(pipe, paths, tmp_path)))
    assert [r["path"] for r in rows] == [str(p) for p in paths]
    for row, ref in zip(rows, reference, strict=True):
        assert (row["cycles_used"], row["quality"], row["label"]) == (
            ref["cycles_used"],
            ref["quality"],
            ref["label"],
        )
    expected = pipe.predict_proba(RecordingFiles.from_paths(paths[:3]))[:, 1]
    got = [float(r["probability_stenosis"]) for r in rows[:3]]
    np.testing.assert_allclose(got, expected, atol=1e-4 + 5e-5)  # + CSV rounding
    assert rows[3]["quality"] == "error" and "broken.wav" in rows[3]["message"]


def test_commands_needing_torch_name_the_extra_without_it(tmp_path):
    """train and export said only "error: No module named 'torch'" on a
    torch-free install, and importing persistence (load_model) or pretraining
    raised a bare ModuleNotFoundError, with no word of the extra to install."""
    model = str(tmp_path / "model.vsk")  # never read: the import fails first
    commands = {
        "train": ["train", str(tmp_path), "-o", str(tmp_path / "m.vsk")],
        "export": ["export", model, "-o", str(tmp_path / "s.onnx")],
        "predict": ["predict", model, str(tmp_path), "-o", str(tmp_path / "p.csv")],
        "pretrain": ["pretrain", str(tmp_path), "-o", str(tmp_path / "b.pt")],
    }
    result = _without_torch(
        f"""
        import contextlib, importlib, io, json
        from vascular_sklearn.cli import main

        out = {{}}
        for name, argv in {commands!r}.items():
            err = io.StringIO()
            with contextlib.redirect_stderr(err):
                status = main(argv)
            out[name] = [status, err.getvalue()]
        for module in ("persistence", "pretraining"):
            try:
                importlib.import_module("vascular_sklearn." + module)
                out[module] = [0, "imported"]
            except ImportError as error:
                out[module] = [2, str(error)]
        print(json.dumps(out))
        """
    )
    for name, (status, said) in result.items():
        extra = "[export]" if name == "export" else "[network]"
        assert status == 2 and f"pip install 'vascular-sklearn{extra}'" in said, name
        assert "Traceback" not in said and said.count("needs torch") <= 1, name


def _torch_table(pipe, paths, folder):
    out = folder / "torch.csv"
    predict_files(pipe, paths, out)
    return out.read_text().splitlines()


def test_onnx_network_pickles_for_joblib_workers(exported, monkeypatch, tmp_path):
    _, onnx_path, data = exported
    monkeypatch.chdir(onnx_path.parent)
    light = load_onnx(onnx_path.name)  # a worker's copy opens it from elsewhere
    monkeypatch.chdir(tmp_path)
    again = pickle.loads(pickle.dumps(light))
    X = data.recordings[:2]
    np.testing.assert_array_equal(again.predict_proba(X), light.predict_proba(X))
    for bad in (0, -1, True):  # True was taken as 1
        with pytest.raises(ValueError, match=f"batch_size={bad}: give 1 or more"):
            load_onnx(onnx_path, batch_size=bad)
    with pytest.raises(NotImplementedError, match="only predicts"):
        light[-1].estimator_.fit(None)
    # a spectrogram changed after loading is named, not onnxruntime's refusal
    light.set_params(spectrogram__n_frames=50)
    with pytest.raises(ValueError, match="trained on images of shape"):
        light.predict_proba(X)


def test_export_refuses_what_it_cannot_export(exported, tmp_path, monkeypatch):
    pipe, onnx_path, data = exported
    other = make_stenosis_pipeline().set_params(
        classifier=RecordingClassifier(GaussianNB())
    )
    other.fit(data.recordings, data.target)
    with pytest.raises(ModelFileError, match=r"ResNetClassifier \(GaussianNB\)"):
        export_onnx(other, tmp_path / "nb.onnx")
    with pytest.raises(ModelFileError, match="not fitted"):
        export_onnx(make_stenosis_pipeline(), tmp_path / "unfitted.onnx")
    no_images = [*pipe[:-2].steps, pipe.steps[-1]]
    with pytest.raises(ModelFileError, match="STFTSpectrogram"):
        export_onnx(Pipeline(no_images), tmp_path / "no_images.onnx")
    with pytest.raises(ValueError, match="opset_version=17: torch's exporter"):
        export_onnx(pipe, tmp_path / "old.onnx", opset_version=17)
    # one beyond onnx's own: torch's traceback, then "use 18 or later"
    with pytest.raises(ValueError, match=r"opset_version=99: the installed onnx"):
        export_onnx(pipe, tmp_path / "new.onnx", opset_version=99)
    # a spectrogram changed since training would make a graph for other images
    changed = copy.deepcopy(pipe).set_params(spectrogram__n_frames=50)
    with pytest.raises(ValueError, match="trained on images of shape"):
        export_onnx(changed, tmp_path / "changed.onnx")
    # without onnxscript, the install hint rather than torch's bare ImportError
    monkeypatch.setitem(sys.modules, "onnxscript", None)
    with pytest.raises(ImportError, match=r"vascular-sklearn\[export\]"):
        export_onnx(pipe, tmp_path / "none.onnx")
    before = onnx_path.read_bytes()
    with pytest.raises(FileExistsError, match="overwrite"):
        export_onnx(pipe, onnx_path)
    assert onnx_path.read_bytes() == before
    assert not list(tmp_path.glob("*.onnx*"))


def test_an_edited_export_is_refused_on_loading(exported, tmp_path):
    """A spectrogram edited to make other images: every batch failed deep in
    onnxruntime; an edited value of a step fails its own check."""
    import onnx

    from vascular_sklearn.runtime import METADATA_KEY

    _, onnx_path, _ = exported
    proto = onnx.load(onnx_path)
    meta = read_metadata(onnx_path)
    for name, edit, message in [
        ("maxf", {"max_frequency": 500.0}, r"images of \d+ x 100, but the network"),
        ("cutoff", {"floor_db": "loud"}, "floor_db"),
    ]:
        edited = json.loads(json.dumps(meta))
        edited["steps"][-2][1]["params"].update(edit)
        onnx.helper.set_model_props(proto, {METADATA_KEY: json.dumps(edited)})
        onnx.save(proto, tmp_path / f"{name}.onnx")
        with pytest.raises(ModelFileError, match=message):
            load_onnx(tmp_path / f"{name}.onnx")


def test_load_onnx_refuses_other_files(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "foreign",
        [x],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    # an IR version and opset every supported onnxruntime reads (>= 1.18)
    model = helper.make_model(
        graph, ir_version=8, opset_imports=[helper.make_opsetid("", 13)]
    )
    onnx.save(model, tmp_path / "foreign.onnx")
    with pytest.raises(ModelFileError, match="not a vascular_sklearn export"):
        load_onnx(tmp_path / "foreign.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"junk")
    with pytest.raises(ModelFileError, match=r"junk\.onnx: not a readable ONNX model"):
        load_onnx(tmp_path / "junk.onnx")


def test_score_validates_a_model_on_labelled_recordings_from_elsewhere(
    exported, tmp_path, capsys
):
    pipe, onnx_path, _ = exported
    new = make_recordings(  # 3 stenotic and 2 normal patients
        n_patients=5, recordings_per_patient=1, duration=8.0, random_state=2
    )
    root = tmp_path / "clinic"
    for i, (x, label, patient) in enumerate(
        zip(new.recordings, new.target, new.groups, strict=True)
    ):
        folder = root / ("abnormal" if label else "normal")
        folder.mkdir(parents=True, exist_ok=True)
        sf.write(folder / f"{patient}_1_{i}.wav", x, 22050, subtype="FLOAT")
    sf.write(root / "normal" / "P99_1_silent.wav", np.zeros(4 * 22050), 22050)
    data = load_recordings(root, lazy=True)
    with pytest.raises(ValueError, match="6 recordings, 5 labels"):
        external_validation(pipe, data.filenames, data.target[:5])
    with pytest.raises(ValueError, match=r"labels \['normal', 'stenosis'\]"):
        external_validation(pipe, data.filenames, data.target_names[data.target])
    # refused before the scoring, which takes a while
    with pytest.raises(ValueError, match="n_resamples=0: give a whole number"):
        external_validation(pipe, data.filenames, data.target, n_resamples=0)
    # a manifest's patients come as Python str in an object array
    result = external_validation(
        pipe, data.filenames, data.target, data.groups.astype(object), n_resamples=200
    )
    scored = ~np.isnan(result.proba)
    assert result.n_scored == scored.sum() == 5
    assert [p.rsplit("/", 1)[-1] for p, _ in result.failed] == ["P99_1_silent.wav"]
    assert type(result.failed[0][0]) is str  # not numpy's, which prints as np.str_
    # the probabilities predict writes, pooled into the metrics
    direct = pipe.predict_proba(data.recordings[np.flatnonzero(scored)])[:, 1]
    np.testing.assert_allclose(result.proba[scored], direct, atol=5e-5)
    auc = roc_auc_score(data.target[scored], result.proba[scored])
    assert result.report["roc_auc"] == auc and result.report["n"] == 5
    low, high = result.report["roc_auc_ci"]
    assert low <= auc <= high
    # the per-recording table: each answer beside its label and patient
    assert [r["group"] for r in result.rows] == data.groups.tolist()
    assert [r["true_label"] == "stenosis" for r in result.rows] == data.target.tolist()
    flagged = [r["path"] for r in result.rows if r["quality"] == "too_few_cycles"]
    assert flagged == [path for path, _ in result.failed]
    # the CLI, from the saved model and from the torch-free runtime, which at
    # threshold 0 calls every recording stenosis (the AUC does not move)
    for model, threshold in [(onnx_path.parent / "model.vsk", "0.5"), (onnx_path, "0")]:
        # 1: some recordings could not be scored, as predict says
        assert main(["score", str(model), str(root), "--threshold", threshold]) == 1
        out, err = capsys.readouterr()
        assert "on 6 recordings (3 stenosis) of 6 patients" in err
        assert "not scored: " in err and "P99_1_silent.wav" in err
        assert "Recordings scored: 5 of 6" in out
        assert f"roc_auc {auc:.3f}" in out
        assert "95 % intervals, resampling the 5 patients: roc_auc" in out
    assert "sensitivity 1.000  specificity 0.000" in out
    # an unreadable file in the folder is a row of the scores, not their end
    broken = root / "normal" / "P98_1_broken.wav"
    broken.write_bytes(b"RIFF, but not audio")
    assert main(["score", str(onnx_path), str(root)]) == 1
    out, err = capsys.readouterr()
    assert f"not scored: {broken}: not a readable audio file" in err
    assert "Recordings scored: 5 of 7" in out and f"roc_auc {auc:.3f}" in out
    broken.unlink()
    # one normal patient: no interval over patients, and the reason said
    table = list(zip(data.filenames, data.target, data.groups, strict=True))
    rows = [r for r in table if r[1] == 1] + [r for r in table if r[1] == 0][:1]
    manifest = tmp_path / "one_normal.csv"
    manifest.write_text(
        "path,label,patient\n" + "".join(f"{p},{t},{g}\n" for p, t, g in rows)
    )
    assert main(["score", str(onnx_path), str(manifest)]) == 0
    out = capsys.readouterr().out
    assert "No 95 % intervals: the scored normal recordings come from 1 patient;" in out
    # the challenge's layout: REFERENCE.csv beside the audio, one site
    site = tmp_path / "site"
    site.mkdir()
    lines = []
    for path, label in zip(data.filenames[scored], data.target[scored], strict=True):
        name = path.rsplit("/", 1)[-1].removesuffix(".wav")
        shutil.copy(path, site / f"{name}.wav")
        lines.append(f"{name},{1 if label else -1}")
    (site / "REFERENCE.csv").write_text("\n".join(lines) + "\n")
    assert main(["score", str(onnx_path), str(site)]) == 0
    out, err = capsys.readouterr()
    assert "on 5 recordings (3 abnormal) of 1 database" in err
    assert f"roc_auc {auc:.3f}" in out and "resampling the recordings" in out


def test_load_onnx_batch_size_reaches_the_network_and_changes_no_answer(exported):
    """load_onnx's batch_size reaches the network and changes no answer, and the
    class labels keep their order: else the per-cycle network names the wrong
    class while the recording-level answer stays right."""
    pipe, onnx_path, data = exported
    light = load_onnx(onnx_path, batch_size=3, n_threads=1)
    network, torch_network = light[-1].estimator_, pipe[-1].estimator_
    assert network.batch_size == 3
    assert network.session_.get_session_options().intra_op_num_threads == 1
    images = pipe[:-1].transform(data.recordings[[0, 1]]).images
    assert len(images) > 3  # several calls of 3 cycles
    proba = network.predict_proba(images)
    assert proba.dtype == np.float64  # as scikit-learn's classifiers answer
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(proba, torch_network.predict_proba(images), atol=1e-4)
    np.testing.assert_array_equal(network.classes_, torch_network.classes_)
    assert (proba[:, 0] != 0.5).all()  # no tie: the labels below are decided
    np.testing.assert_array_equal(
        network.predict(images), torch_network.predict(images)
    )
    # set_params reaches the session (the cached one kept its threads)
    network.set_params(n_threads=2)
    assert network.session_.get_session_options().intra_op_num_threads == 2
    for bad in (2.5, "2", -1, True):  # onnxruntime's pybind error, or taken
        with pytest.raises(ValueError, match=f"n_threads={bad!r}: give 1 or more"):
            load_onnx(onnx_path, n_threads=bad)


def test_a_step_after_the_spectrogram_is_exported_and_loaded(exported, tmp_path):
    """load_onnx took the step before the network for the spectrogram: an
    export that torch ran and export_onnx wrote was read as damaged."""
    pipe, _, data = exported
    steps = [*pipe.steps[:-1], ("after", "passthrough"), pipe.steps[-1]]
    export_onnx(Pipeline(steps), tmp_path / "after.onnx")
    light = load_onnx(tmp_path / "after.onnx")
    np.testing.assert_allclose(
        light.predict_proba(data.recordings[[0]]),
        pipe.predict_proba(data.recordings[[0]]),
        atol=1e-4,
    )


def test_an_opset_version_that_is_no_whole_number_is_named(tmp_path):
    # refused before the model is even looked at: no network needed
    model = make_stenosis_pipeline().set_params(
        classifier=RecordingClassifier(GaussianNB())
    )
    for bad in ("18", 18.5, True):
        with pytest.raises(ValueError, match=f"opset_version={bad!r}"):
            export_onnx(model, tmp_path / "m.onnx", opset_version=bad)
    assert not list(tmp_path.iterdir())
