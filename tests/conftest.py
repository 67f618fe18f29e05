"""Shared fixtures: paths to the real recordings and small signals with known beats."""

from pathlib import Path

import numpy as np
import pytest

SEED_DIR = (
    Path(__file__).resolve().parents[1].parent / "shared" / "data" / "seed_recordings"
)
RATE = 22050
#: A ResNet18 for one epoch of batches of 16 on the CPU: the tests' quick network.
FAST = {
    "arch": "resnet18",
    "max_epochs": 1,
    "batch_size": 16,
    "device": "cpu",
    "random_state": 0,
}


def fast_pipeline(**params):
    """The default pipeline with the ``FAST`` network, ``params`` set on it."""
    from vascular_sklearn import make_stenosis_pipeline

    pipe = make_stenosis_pipeline(**{k: v for k, v in FAST.items() if k != "arch"})
    return pipe.set_params(classifier__estimator__arch=FAST["arch"], **params)


def pulse_train(beats: np.ndarray, n_samples: int, seed: int = 0) -> np.ndarray:
    """Gaussian pressure pulses centred on ``beats`` plus a little bruit.

    The running median of such a signal peaks at each beat centre, so these are
    the cycle boundaries a correct cutter must find.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(n_samples)
    pulse = np.zeros(n_samples)
    for b in beats:
        pulse += 0.4 * np.exp(-0.5 * ((t - b) / 1200.0) ** 2)
    bruit = 0.02 * rng.standard_normal(n_samples)
    return (pulse + bruit).astype(np.float32)


def opposite_rule_cycles() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Two groups of 32 cycles whose rules disagree: a bright band means class 1
    in the first group and class 0 in the second.

    Returns the images, the labels, the mask of the first group and the mask of
    the banded cycles; a network trained with only one group weighed must follow
    that group's rule.
    """
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 1, 16, 16)).astype(np.float32)
    band = np.arange(64) % 2 == 1
    X[band, :, 10:14] += 2.0
    first = np.arange(64) < 32
    y = np.where(first, band, ~band).astype(int)
    return X, y, first, band


@pytest.fixture
def known_beats():
    """A 10 s recording with beats 0.75 s apart, and the beat positions."""
    beats = np.arange(8000, 10 * RATE - 8000, int(0.75 * RATE))
    return pulse_train(beats, 10 * RATE), beats


@pytest.fixture(scope="session")
def data():
    """Small synthetic set: 4 patients (both kinds), 8 recordings of 8 s."""
    from vascular_sklearn.datasets import make_recordings

    return make_recordings(
        n_patients=4, recordings_per_patient=2, duration=8.0, random_state=0
    )


@pytest.fixture(scope="session")
def fitted_default(data):
    """The default pipeline (ResNet50, one epoch) fitted on ``data``, shared by
    the tests that only read it: a test that changes it works on a copy."""
    from vascular_sklearn import make_stenosis_pipeline

    model = make_stenosis_pipeline(max_epochs=1, random_state=0, device="cpu")
    return model.fit(data.recordings, data.target)


@pytest.fixture(scope="session")
def fitted_resnet18(data):
    """:func:`fast_pipeline` fitted on ``data``, for the tests that only read it."""
    return fast_pipeline().fit(data.recordings, data.target)


@pytest.fixture(scope="session")
def seed_dir() -> Path:
    assert SEED_DIR.is_dir(), f"the seed recordings must sit at {SEED_DIR}"
    return SEED_DIR


def weights_cut_short(path: Path) -> Path:
    """A state dict in torch's legacy format, cut off inside its pickle (an
    interrupted copy): torch.load raises errors without text on it."""
    import io

    import torch

    legacy = io.BytesIO()
    torch.save(
        {"fc.bias": torch.zeros(3)}, legacy, _use_new_zipfile_serialization=False
    )
    path.write_bytes(legacy.getvalue()[: len(legacy.getvalue()) // 2])
    return path
