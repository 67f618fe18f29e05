"""Devices: mixed precision, the accelerate path, and GPU-trained models on a CPU."""

import copy
import io
import pickle
import zipfile

import numpy as np
import pytest
import torch

from vascular_sklearn import ResNetClassifier, make_stenosis_pipeline
from vascular_sklearn import network as network_module
from vascular_sklearn.persistence import load_model, save_model

from .conftest import opposite_rule_cycles

# Deselected by default (setup.cfg), not skipped: a GPU machine runs them with
# `pytest -m cuda`, where a missing device is a failure.
NEEDS_CUDA = pytest.mark.cuda


def _images():
    rng = np.random.default_rng(0)
    X = rng.random((24, 1, 16, 16), dtype=np.float32)
    y = np.array([0, 1] * 12)
    X[y == 1, :, :8] += 0.5
    return X, y


def _net(**params):
    settings = {"max_epochs": 2, "batch_size": 8, "random_state": 0, **params}
    return ResNetClassifier("resnet18", **settings)


def test_accelerate_path_on_cpu_trains_the_same_model():
    X, y = _images()
    plain = _net(device="cpu").fit(X, y)
    accelerated = _net(device="cpu", accelerate=True).fit(X, y)
    assert type(accelerated.net_).__name__ == "_AcceleratedNet"
    assert accelerated.net_.accelerator.mixed_precision == "no"
    np.testing.assert_array_equal(plain.predict_proba(X), accelerated.predict_proba(X))
    restored = pickle.loads(pickle.dumps(accelerated))
    np.testing.assert_array_equal(
        restored.predict_proba(X), accelerated.predict_proba(X)
    )


def test_mixed_precision_defaults_off_on_a_cpu():
    X, y = _images()
    net = _net(device="cpu", max_epochs=1).fit(X, y)
    assert net.net_.module_.autocast is False
    forced = _net(device="cpu", max_epochs=1, autocast=True).fit(X, y)
    assert forced.net_.module_.autocast is True
    assert forced.net_.module_.autocast_dtype == torch.bfloat16
    # and the convolutions run so: bfloat16 when forced, float32 by default
    computed = []
    for clf in (net, forced):
        conv1 = clf.net_.module_.net.conv1
        hook = conv1.register_forward_hook(lambda m, i, out: computed.append(out.dtype))
        clf.predict_proba(X[:2])
        hook.remove()
    assert computed == [torch.float32, torch.bfloat16]


def test_float16_training_without_loss_scaling_is_refused(monkeypatch):
    """On a GPU without bfloat16, autocast=True would train in float16 through
    skorch's unscaled step; the accelerator scales the loss, and loading a
    trained model for inference needs no scaling."""
    monkeypatch.setattr(network_module, "_bf16", lambda device, emulated: False)
    net = _net(device="cuda:1", autocast=True)
    net.device_ = "cuda:1"  # as fit resolves it
    with pytest.raises(ValueError, match=r"cuda:1, a GPU without bfloat16.*accelerate"):
        net._precision(training=True)
    assert net._precision(training=False) == (True, "float16")
    assert net.set_params(accelerate=True)._precision(True) == (True, "float16")
    assert net.set_params(autocast=None)._precision(True) == (False, "bfloat16")


def test_model_files_hold_cpu_tensors_and_load_on_the_cpu(
    fitted_resnet18, data, tmp_path
):
    """A model whose parameters name CUDA loads on a CPU-only machine, its
    weights CPU tensors (their move from a GPU is checked on one, below)."""
    pipe = copy.deepcopy(fitted_resnet18)
    # the parameters a GPU-trained model saves name CUDA
    pipe.set_params(classifier__estimator__device="cuda")
    save_model(pipe, tmp_path / "m.vsk")
    with zipfile.ZipFile(tmp_path / "m.vsk") as archive:
        state = torch.load(io.BytesIO(archive.read("weights.pt")), weights_only=True)
    assert {t.device.type for t in state.values()} == {"cpu"}
    loaded = load_model(tmp_path / "m.vsk", device="cpu")
    assert loaded[-1].estimator_.device_ == "cpu"
    np.testing.assert_allclose(
        loaded.predict_proba(data.recordings), pipe.predict_proba(data.recordings)
    )


@NEEDS_CUDA
def test_cuda_end_to_end_with_mixed_precision_then_cpu(data, tmp_path):
    pipe = make_stenosis_pipeline(max_epochs=1, device="cuda", random_state=0)
    pipe.set_params(classifier__estimator__arch="resnet18")
    pipe.fit(data.recordings, data.target)
    network = pipe[-1].estimator_
    assert next(network.net_.module_.parameters()).device.type == "cuda"
    assert network.net_.module_.autocast is network_module._bf16("cuda", False)
    save_model(pipe, tmp_path / "gpu.vsk")
    with zipfile.ZipFile(tmp_path / "gpu.vsk") as archive:
        state = torch.load(io.BytesIO(archive.read("weights.pt")), weights_only=True)
    assert {t.device.type for t in state.values()} == {"cpu"}  # moved off the GPU
    on_cpu = load_model(tmp_path / "gpu.vsk", device="cpu")
    np.testing.assert_allclose(
        on_cpu.predict_proba(data.recordings),
        pipe.predict_proba(data.recordings),
        atol=0.05,
    )


@NEEDS_CUDA
def test_accelerate_on_cuda_uses_mixed_precision():
    X, y = _images()
    net = _net(device="cuda", accelerate=True, autocast=True).fit(X, y)
    assert net.net_.accelerator.mixed_precision in {"bf16", "fp16"}
    assert (net.predict(X) == y).mean() > 0.9  # it trained, in mixed precision


@NEEDS_CUDA
@pytest.mark.parametrize("accelerate", [False, True])
def test_weighted_cycles_steer_the_network_on_cuda_in_mixed_precision(accelerate):
    # the unreduced, weighted loss under autocast (and under accelerate's own
    # mixed precision) must still follow the weighed group's rule
    X, y, first, band = opposite_rule_cycles()
    params = {"max_epochs": 3, "batch_size": 16, "accelerate": accelerate}
    for weighed, rule in [(first, band), (~first, ~band)]:
        clf = _net(device="cuda", **params).fit(X, y, sample_weight=weighed * 1.0)
        if accelerate:
            assert clf.net_.accelerator.mixed_precision in {"bf16", "fp16"}
        else:
            assert clf.net_.module_.autocast is True
        assert (clf.predict(X) == rule).mean() > 0.9


def test_save_and_load_an_accelerate_trained_model(data, tmp_path):
    pipe = make_stenosis_pipeline(max_epochs=1, device="cpu", random_state=0)
    pipe.set_params(
        classifier__estimator__arch="resnet18", classifier__estimator__accelerate=True
    )
    pipe.fit(data.recordings, data.target)
    save_model(pipe, tmp_path / "acc.vsk")
    loaded = load_model(tmp_path / "acc.vsk")
    np.testing.assert_allclose(
        loaded.predict_proba(data.recordings), pipe.predict_proba(data.recordings)
    )
