"""Model files: safe to load, identical predictions, clear refusals."""

import contextlib
import copy
import io
import json
import os
import pickle
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from vascular_sklearn import (
    WeightsFileError,
    __version__,
    persistence,
)
from vascular_sklearn._output import replacing
from vascular_sklearn.model_card import check_card, read_model_card
from vascular_sklearn.network import CARD_KEY, IMAGE_SHAPE_KEY, CycleResNet
from vascular_sklearn.persistence import (
    ModelFileError,
    export_onnx,
    load_model,
    save_model,
)
from vascular_sklearn.recorder import RecorderRanges


def test_round_trip_predicts_identically(fitted_resnet18, data, tmp_path):
    pipe = fitted_resnet18
    path = tmp_path / "model.vsk"
    save_model(pipe, path)
    loaded = load_model(path)
    np.testing.assert_array_equal(
        loaded.predict_proba(data.recordings), pipe.predict_proba(data.recordings)
    )
    assert loaded.get_params(deep=True).keys() == pipe.get_params(deep=True).keys()
    assert loaded.named_steps["lowpass"].sample_rate_ == data.sample_rate
    # "auto" is a device too; loading leaves the user's random stream alone
    torch.manual_seed(5)
    expected = torch.rand(1)
    torch.manual_seed(5)
    auto = load_model(path, device="auto")
    assert torch.equal(torch.rand(1), expected)
    np.testing.assert_allclose(
        auto.predict_proba(data.recordings), pipe.predict_proba(data.recordings)
    )
    # the device in words, not "a damaged model file" (nor torch's driver error)
    with pytest.raises(ValueError, match="'gpu' is not a device name") as refused:
        load_model(path, device="gpu")
    assert not isinstance(refused.value, ModelFileError)
    # the training images' size travels with the file: other spectrogram
    # settings are refused, not pooled to an answer
    loaded.set_params(spectrogram__n_frames=50)
    with pytest.raises(ValueError, match=r"trained on images of shape \(20, 100\)"):
        loaded.predict_proba(data.recordings[:1])


def test_existing_file_is_not_replaced(fitted_resnet18, tmp_path):
    path = tmp_path / "model.vsk"
    path.write_bytes(b"precious")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        save_model(fitted_resnet18, path)
    assert path.read_bytes() == b"precious"


def test_a_file_made_during_the_write_is_kept(tmp_path):
    # the check before the work cannot see a file another run writes meanwhile
    path = str(tmp_path / "table.csv")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        with replacing(path, overwrite=False) as tmp:
            Path(tmp).write_text("ours")
            Path(path).write_text("theirs")
    assert Path(path).read_text() == "theirs"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table.csv"]
    with replacing(path) as tmp:
        Path(tmp).write_text("ours")
    assert Path(path).read_text() == "ours"


def test_without_hard_links_a_new_file_is_written_and_none_replaced(
    tmp_path, monkeypatch
):
    # FAT and some network drives refuse os.link: the check is made by name
    def refused(src, dst):
        raise PermissionError("Operation not permitted")

    monkeypatch.setattr("os.link", refused)
    path = str(tmp_path / "table.csv")
    with replacing(path, overwrite=False) as tmp:
        Path(tmp).write_text("ours")
    assert Path(path).read_text() == "ours"
    with pytest.raises(FileExistsError, match="overwrite=True"):
        with replacing(path, overwrite=False) as tmp:
            Path(tmp).write_text("again")
    assert Path(path).read_text() == "ours"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table.csv"]


def test_a_name_near_the_file_systems_limit_is_written_whole(tmp_path):
    # 250 bytes: its temporary name (21 bytes more) failed after the work
    # ("File name too long"), naming a file never given
    for name in ("a" * 246 + ".csv", "é" * 123 + ".csv"):
        path = str(tmp_path / name)
        with replacing(path, overwrite=False) as tmp:
            assert len(os.fsencode(os.path.basename(tmp))) <= 255
            Path(tmp).write_text("ours")
        assert Path(path).read_text() == "ours"
    assert len(list(tmp_path.iterdir())) == 2


class _RunsCode:
    """Unpickling this calls a function: what a malicious model file does."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def _saved_parts(model, tmp_path):
    """The header and weights of a genuine model file, to tamper with."""
    good = tmp_path / "good.vsk"
    save_model(model, good)
    with zipfile.ZipFile(good) as archive:
        return json.loads(archive.read("model.json")), archive.read("weights.pt")


def _zip(path, members, method=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", method) as archive:
        for name, payload in members:
            archive.writestr(name, payload)
    return path


def _model_zip(path, header, weights_payload):
    return _zip(
        path, [("model.json", json.dumps(header)), ("weights.pt", weights_payload)]
    )


def test_crafted_weights_do_not_run_code(fitted_resnet18, tmp_path):
    header, _ = _saved_parts(fitted_resnet18, tmp_path)
    marker = tmp_path / "pwned"
    payload = io.BytesIO()
    torch.save({"x": _RunsCode(marker)}, payload)  # a pickle that calls open()
    evil = tmp_path / "evil.vsk"
    _model_zip(evil, header, payload.getvalue())
    with pytest.raises(
        ModelFileError, match="weights are damaged or not tensors only"
    ) as refused:
        load_model(evil)
    assert not marker.exists()
    # torch's own text would offer weights_only=False, which runs the file
    assert "weights_only=False" not in str(refused.value)


def test_crafted_header_cannot_name_other_classes(fitted_resnet18, tmp_path):
    header, weights = _saved_parts(fitted_resnet18, tmp_path)
    header["steps"][0][1]["class"] = "os.system"
    evil = tmp_path / "evil.vsk"
    _model_zip(evil, header, weights)
    with pytest.raises(ModelFileError, match="unknown class"):
        load_model(evil)


def test_incompatible_versions_and_garbage_are_refused(fitted_resnet18, tmp_path):
    header, weights = _saved_parts(fitted_resnet18, tmp_path)
    header["versions"]["torch"] = "1.13.0"
    old = tmp_path / "old.vsk"
    _model_zip(old, header, weights)
    with pytest.raises(ModelFileError, match=r"saved with torch 1\.13\.0"):
        load_model(old)
    # a later 0.x release may add parameters: 0.x files load within their minor
    header["versions"]["torch"] = torch.__version__.split("+")[0]
    header["versions"]["vascular_sklearn"] = "0.99.0"
    _model_zip(old, header, weights)
    with pytest.raises(ModelFileError, match=r"saved with vascular_sklearn 0\.99"):
        load_model(old)
    # a damaged description is a ModelFileError naming the file, not a KeyError
    header["versions"]["vascular_sklearn"] = __version__
    for damage, message in (
        (lambda h: h.pop("steps"), "damaged"),
        (lambda h: h["steps"][0][1]["params"].update(bogus=1), "damaged"),
        # an edited value or order is refused on loading, not while screening
        (lambda h: h["steps"][0][1]["params"].update(cutoff="abc"), "'cutoff'"),
        (lambda h: h["steps"].pop(), "not a screening pipeline"),
        (lambda h: h["steps"].append(h["steps"].pop(0)), "not a screening pipeline"),
    ):
        broken = json.loads(json.dumps(header))
        damage(broken)
        _model_zip(old, broken, weights)
        with pytest.raises(ModelFileError, match=re.escape(str(old)) + ".*" + message):
            load_model(old)
    # the weights of another network, in one line
    other = torch.nn.Linear(2, 2).state_dict()
    payload = io.BytesIO()
    torch.save(other, payload)
    _model_zip(old, header, payload.getvalue())
    with pytest.raises(ModelFileError, match="do not fit the network") as refused:
        load_model(old)
    assert "\n" not in str(refused.value)
    # compressed bytes damaged in the archive
    with zipfile.ZipFile(old, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("model.json", json.dumps(header))
        archive.writestr("weights.pt", weights)
    raw = bytearray(old.read_bytes())
    raw[30 + len("model.json") + 2] ^= 0x55
    old.write_bytes(bytes(raw))
    with pytest.raises(ModelFileError, match=r"or a damaged one \(error: Error -3"):
        load_model(old)
    junk = tmp_path / "junk.vsk"
    junk.write_bytes(pickle.dumps({"not": "a model"}))
    with pytest.raises(
        ModelFileError, match=r"not a vascular_sklearn model file.*joblib"
    ):
        load_model(junk)


def test_device_steps_and_passthrough_round_trip(fitted_resnet18, data, tmp_path):
    import copy

    from vascular_sklearn.recorder import RecorderRanges

    pipe = copy.deepcopy(fitted_resnet18)
    ranges = RecorderRanges(step=(2.0, 8.0), resonance_hz=None)
    pipe.set_params(augment__ranges=ranges)
    save_model(pipe, tmp_path / "ranges.vsk")
    loaded = load_model(tmp_path / "ranges.vsk")
    assert loaded.named_steps["augment"].ranges == ranges
    assert loaded.named_steps["harmonize"].random_state == 0
    plain = pipe.set_params(harmonize="passthrough")
    save_model(plain, tmp_path / "plain.vsk")
    reloaded = load_model(tmp_path / "plain.vsk")
    assert reloaded.named_steps["harmonize"] == "passthrough"
    np.testing.assert_array_equal(
        reloaded.predict_proba(data.recordings), plain.predict_proba(data.recordings)
    )


def test_a_header_cannot_set_parameters_or_hide_the_network_elsewhere(
    fitted_resnet18, tmp_path
):
    """A header cannot set a parameter among a step's fitted attributes
    (cutoff="abc" would load, to fail mid-screening), nor hand the network to a
    last step that is no RecordingClassifier (it would load, with no predict_proba)."""
    header, weights = _saved_parts(fitted_resnet18, tmp_path)
    path = tmp_path / "edited.vsk"
    edited = json.loads(json.dumps(header))
    edited["steps"][0][1]["fitted"]["cutoff"] = "abc"
    _model_zip(path, edited, weights)
    with pytest.raises(ModelFileError, match="unexpected fitted attribute 'cutoff'"):
        load_model(path)
    edited = json.loads(json.dumps(header))
    lowpass, classifier = edited["steps"][0][1], edited["steps"][-1][1]
    edited["steps"][-1][1] = {
        "class": "LowpassFilter",
        "params": lowpass["params"],
        "fitted": {"estimator_": classifier["fitted"]["estimator_"]},
    }
    _model_zip(path, edited, weights)
    with pytest.raises(ModelFileError, match="not a screening pipeline"):
        load_model(path)


def test_a_model_file_made_during_the_save_is_kept(
    fitted_resnet18, tmp_path, monkeypatch
):
    """Without overwrite, save_model keeps a file that appears at the path while
    the model is written (another run saving there)."""
    real = persistence.replacing

    @contextlib.contextmanager
    def racing(path, overwrite=True):
        with real(path, overwrite) as tmp:
            yield tmp
            Path(path).write_bytes(b"theirs")  # appears before the rename

    monkeypatch.setattr(persistence, "replacing", racing)
    path = tmp_path / "model.vsk"
    with pytest.raises(FileExistsError, match="overwrite=True"):
        save_model(fitted_resnet18, path)
    assert path.read_bytes() == b"theirs"
    assert [p.name for p in tmp_path.iterdir()] == ["model.vsk"]


def test_what_loading_refuses_is_not_written(fitted_resnet18, data, tmp_path):
    """A value set after fit was written, and the file then refused as
    damaged when loaded; a list that RecorderRanges takes was refused as no
    safe value, naming no parameter."""
    pipe = copy.deepcopy(fitted_resnet18)
    path = tmp_path / "model.vsk"
    for name, value in (("classifier__aggregate", "max"), ("augment__n_copies", -1)):
        bad = copy.deepcopy(pipe).set_params(**{name: value})
        with pytest.raises(ValueError, match=f"'{name.split('__')[1]}' parameter"):
            save_model(bad, path)
        with pytest.raises(ValueError, match=f"'{name.split('__')[1]}' parameter"):
            export_onnx(bad, tmp_path / "model.onnx")
    assert not path.exists() and not (tmp_path / "model.onnx").exists()
    ranges = RecorderRanges(gain=[0.1, 0.5])
    save_model(pipe.set_params(augment__ranges=ranges), path)
    assert load_model(path).get_params()["augment__ranges"] == ranges
    pipe.set_params(classifier__estimator__random_state=np.random.RandomState(0))
    with pytest.raises(ModelFileError, match=r"ResNetClassifier\(random_state=\.\.\."):
        save_model(pipe, tmp_path / "other.vsk")


def test_the_card_is_stored_checked_and_read_back(fitted_resnet18, data, tmp_path):
    pipe = fitted_resnet18
    path = tmp_path / "model.vsk"
    card = {"trained_on": tmp_path / "clinic", "recordings": np.int64(6)}
    save_model(pipe, path, card=card)
    info = read_model_card(path)
    # plain JSON values: a path as its text, numpy's integer as an int
    assert info["card"] == {"trained_on": str(tmp_path / "clinic"), "recordings": 6}
    assert info["kind"] == "model file" and info["network"] == "resnet18"
    assert info["classes"] == [0, 1] and info["sample_rate"] == data.sample_rate
    assert info["cycles_scored"] == pipe[-1].max_cycles == 16
    assert info["versions"]["vascular_sklearn"] == __version__
    # a card JSON cannot hold is refused by its key before anything is written
    with pytest.raises(ValueError, match=r"card\['model'\]: a Pipeline is no JSON"):
        save_model(pipe, tmp_path / "bad.vsk", card={"model": pipe})
    with pytest.raises(TypeError, match="mapping with str keys"):
        save_model(pipe, tmp_path / "bad.vsk", card=[("recordings", 6)])
    assert not (tmp_path / "bad.vsk").exists()
    # a file saved without one says so: an empty card, the facts still read
    save_model(pipe, tmp_path / "plain.vsk")
    assert read_model_card(tmp_path / "plain.vsk")["card"] == {}
    with pytest.raises(ModelFileError, match="not a vascular_sklearn model file"):
        read_model_card(Path(__file__))


def test_check_card_names_a_key_that_is_no_str():
    with pytest.raises(TypeError, match="keys must be str, got 1"):
        check_card({1: "x"})
    # at any depth: JSON made {1: "a", "1": "b"} one key, a value lost unsaid
    with pytest.raises(TypeError, match=r"card\['labels'\]'s keys must be str, got 1"):
        check_card({"labels": {1: "a", "1": "b"}})
    with pytest.raises(TypeError, match=r"card\['runs'\]\[0\]'s keys .* None"):
        check_card({"runs": [{None: 1}]})
    # NaN is no JSON: it was written as NaN, which JSON readers refuse
    with pytest.raises(ValueError, match=r"card\['auc'\]: Out of range float"):
        check_card({"auc": float("nan")})
    # a long double's .item() is itself: a RecursionError, card and all
    assert check_card({"auc": np.longdouble(0.75)}) == {"auc": 0.75}
    with pytest.raises(ValueError, match=r"card\['z'\]: a clongdouble is no JSON"):
        check_card({"z": np.clongdouble(1 + 1j)})
    # a backbone's checkpoints keep this key: read back, it was dropped unsaid
    with pytest.raises(ValueError, match=r"card\['checkpoint_of'\]: a name"):
        check_card({"checkpoint_of": "mine"})
    # nested beyond reason: a bare RecursionError 1000 frames deep
    deep = []
    for _ in range(3000):
        deep = [deep]
    with pytest.raises(ValueError, match="nested beyond reason"):
        check_card({"a": deep})


def test_a_card_that_is_no_object_or_a_pipe_is_named(saved, tmp_path):
    """describe stopped with an AttributeError on a card of another type, and
    reading a pipe waited for a writer forever."""
    _, header, weights = saved
    for entry, value in (("card", ["a", "b"]), ("versions", "0.3")):
        edited = {**header, entry: value}
        path = _model_zip(tmp_path / f"{entry}.vsk", edited, weights)
        with pytest.raises(ModelFileError, match=f"its {entry} is not a JSON object"):
            read_model_card(path)
    os.mkfifo(tmp_path / "pipe.vsk")
    with pytest.raises(FileNotFoundError, match=r"pipe\.vsk is no file"):
        read_model_card(tmp_path / "pipe.vsk")


@pytest.fixture(scope="module")
def saved(fitted_resnet18, tmp_path_factory):
    """A genuine model file (good.vsk) and export, and the file's parts."""
    folder = tmp_path_factory.mktemp("hostile")
    header, weights = _saved_parts(fitted_resnet18, folder)
    export_onnx(fitted_resnet18, folder / "model.onnx")
    return folder, header, weights


def _tensors(state):
    payload = io.BytesIO()
    torch.save(state, payload)
    return payload.getvalue()


def test_a_zip_bomb_is_refused_before_it_is_read(saved, tmp_path):
    folder, header, _ = saved
    zeros = b"\0" * (48 << 20)  # kilobytes compressed, 48 MiB read
    bomb = _zip(
        tmp_path / "bomb.vsk",
        [("model.json", json.dumps(header)), ("weights.pt", zeros)],
        zipfile.ZIP_DEFLATED,
    )
    assert bomb.stat().st_size < 1 << 20
    with pytest.raises(ModelFileError, match=r"bomb\.vsk: weights\.pt would .*bomb"):
        load_model(bomb)
    # bzip2 expands a chunk whole, whatever size the archive declares
    bz2 = _zip(
        tmp_path / "bz2.vsk",
        [("model.json", json.dumps(header)), ("weights.pt", zeros)],
        zipfile.ZIP_BZIP2,
    )
    with pytest.raises(ModelFileError, match=r"bz2\.vsk: model\.json .*zip method 12"):
        load_model(bz2)
    # the genuine file, deflated, still loads
    assert load_model(folder / "good.vsk")[-1].classes_.tolist() == [0, 1]


def test_an_export_given_to_load_model_is_sent_to_load_onnx(saved):
    # not to joblib.load, which the message advised for any other file
    with pytest.raises(ModelFileError, match=r"model\.onnx: .*runtime\.load_onnx$"):
        load_model(saved[0] / "model.onnx")


def test_two_members_of_one_name_are_refused(saved, tmp_path):
    _, header, weights = saved
    other = copy.deepcopy(header)
    other["steps"][-1][1]["fitted"]["classes_"]["ndarray"] = [5, 7]
    path = tmp_path / "twice.vsk"
    with pytest.warns(UserWarning, match="Duplicate name"):  # zipfile's, writing
        _zip(
            path,
            [
                ("model.json", json.dumps(header)),
                ("weights.pt", weights),
                ("model.json", json.dumps(other)),
            ],
        )
    with pytest.raises(ModelFileError, match=r"two members named model\.json"):
        load_model(path)


@pytest.mark.parametrize(
    ("key", "damage", "message"),
    [
        ("fc.weight", lambda t: torch.full_like(t, float("nan")), "NaN or infinite"),
        ("fc.weight", lambda t: t.to(torch.int64), "torch.int64 values, not floating"),
        (
            "fc.weight",
            lambda t: t.to(torch.complex64),
            "torch.complex64 values, not floating",
        ),
        # a spread of 0 divides every input by zero
        ("input_std", torch.zeros_like, "is 0, not a positive spread"),
        # torch's own NotImplementedError, naming no file (torch says how it
        # checks a sparse tensor: a warning, not what this test is about)
        pytest.param(
            "fc.weight",
            lambda t: t.to_sparse(),
            r"a sparse tensor \(torch.float32\), not a dense one",
            marks=pytest.mark.filterwarnings("ignore:Validating sparse tensor"),
        ),
    ],
)
def test_weights_no_training_saves_are_refused(saved, tmp_path, key, damage, message):
    _, header, weights = saved
    state = torch.load(io.BytesIO(weights), weights_only=True)
    (name,) = [k for k in state if k.endswith(key)]
    state[name] = damage(state[name])
    path = _model_zip(tmp_path / "weights.vsk", header, _tensors(state))
    with pytest.raises(ModelFileError, match=rf"weights\.vsk: .*{key} .*{message}"):
        load_model(path)


def _classifier(h):
    return h["steps"][-1][1]["fitted"]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda h: h["steps"][0][1]["fitted"].update(sample_rate_="fast"),
            "sample_rate_ of 'fast'",
        ),
        (
            lambda h: h["steps"][0][1]["fitted"].update(sample_rate_=float("nan")),
            "sample_rate_ of nan",
        ),
        (
            lambda h: _classifier(h)["classes_"].update(ndarray=[5, 7]),
            r"classes \[5, 7\] are not its network's \[0, 1\]",
        ),
        (
            lambda h: _classifier(h)["class_prior_"].update(ndarray=[0.1, 0.2, 0.7]),
            "2 classes but a prior of 3",
        ),
        (  # an integer no int64 holds: numpy's OverflowError, not a traceback
            lambda h: _classifier(h)["classes_"].update(ndarray=[0, 2**70]),
            "damaged model file.*OverflowError",
        ),
        (
            lambda h: _classifier(h)["estimator_"]["fitted"].update(
                image_shape_={"tuple": [1, -20, 100]}
            ),
            r"image_shape_ of \(1, -20, 100\)",
        ),
    ],
)
def test_fitted_attributes_no_fit_makes_are_refused(saved, tmp_path, edit, message):
    _, header, weights = saved
    edited = copy.deepcopy(header)
    edit(edited)
    path = _model_zip(tmp_path / "fitted.vsk", edited, weights)
    with pytest.raises(ModelFileError, match=r"fitted\.vsk: .*" + message):
        load_model(path)


@pytest.mark.parametrize(
    ("raw", "message"),
    [("[1, 2]", r"format \[1, 2\]"), ("[" * 100_000 + "]" * 100_000, "damaged")],
)
def test_onnx_metadata_of_no_object_is_refused(saved, tmp_path, raw, message):
    import onnx

    from vascular_sklearn.runtime import METADATA_KEY, load_onnx

    proto = onnx.load(saved[0] / "model.onnx")
    onnx.helper.set_model_props(proto, {METADATA_KEY: raw})
    path = tmp_path / "meta.onnx"
    onnx.save(proto, path)
    with pytest.raises(ModelFileError, match=r"meta\.onnx: .*" + message):
        load_onnx(path)
    with pytest.raises(ModelFileError, match=r"meta\.onnx: .*" + message):
        read_model_card(path)


def test_an_onnx_graph_of_another_shape_is_refused(saved, tmp_path):
    import onnx
    from onnx import TensorProto, helper

    from vascular_sklearn.runtime import METADATA_KEY, load_onnx, read_metadata

    folder = saved[0]
    meta = read_metadata(folder / "model.onnx")
    images = ["n", 1, 20, 100]
    for name, shape in [("identity", images), ("flat", ["n", 2])]:
        graph = helper.make_graph(
            [helper.make_node("Identity", ["spectrograms"], ["y"])],
            "foreign",
            [helper.make_tensor_value_info("spectrograms", TensorProto.FLOAT, shape)],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)],
        )
        model = helper.make_model(
            graph, ir_version=8, opset_imports=[helper.make_opsetid("", 13)]
        )
        helper.set_model_props(model, {METADATA_KEY: json.dumps(meta)})
        onnx.save(model, tmp_path / f"{name}.onnx")
        with pytest.raises(ModelFileError, match=f"{name}.onnx: its graph is not"):
            load_onnx(tmp_path / f"{name}.onnx")
    # metadata naming another number of classes than the classifier's
    proto = onnx.load(folder / "model.onnx")
    edited = json.loads(json.dumps(meta))
    edited["network"]["fitted"]["classes_"]["ndarray"] = [0, 1, 2]
    helper.set_model_props(proto, {METADATA_KEY: json.dumps(edited)})
    onnx.save(proto, tmp_path / "classes.onnx")
    with pytest.raises(ModelFileError, match=r"classes \[0, 1\] are not its network"):
        load_onnx(tmp_path / "classes.onnx")
    # the genuine export still loads
    assert load_onnx(folder / "model.onnx")[-1].classes_.tolist() == [0, 1]


@pytest.mark.parametrize(
    ("card", "message"),
    [
        (torch.tensor([1.5, 2.0]), "torch.float32 and shape"),
        (torch.zeros(2, 2, dtype=torch.uint8), r"shape \(2, 2\)"),
        (
            torch.frombuffer(
                bytearray(b"[" * 100_000 + b"]" * 100_000), dtype=torch.uint8
            ),
            "recursion",
        ),
    ],
)
def test_a_backbone_card_of_no_json_bytes_is_named(tmp_path, card, message):
    path = tmp_path / "backbone.pt"
    torch.save({"fc.bias": torch.zeros(2), CARD_KEY: card}, path)
    with pytest.raises(
        WeightsFileError,
        match=re.escape(f"{path}: its card is damaged") + f".*{message}",
    ):
        read_model_card(path)


@pytest.mark.parametrize(
    "shape",
    [
        torch.tensor([1.5, 20.0, 100.0]),
        torch.tensor([1, 20]),
        torch.tensor(3),
        torch.tensor([1, -20, 100]),  # described as "-20 x 100"
    ],
)
def test_a_backbone_image_shape_of_no_size_is_named(tmp_path, shape):
    path = tmp_path / "backbone.pt"
    state = CycleResNet(arch="resnet18").state_dict()
    torch.save({**state, IMAGE_SHAPE_KEY: shape}, path)
    pattern = re.escape(f"{path}: its image_shape entry is damaged")
    with pytest.raises(WeightsFileError, match=pattern):
        read_model_card(path)
    with pytest.raises(WeightsFileError, match=pattern):
        CycleResNet(arch="resnet18", weights_path=str(path), image_shape=(1, 20, 100))
