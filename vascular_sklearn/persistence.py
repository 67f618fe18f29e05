"""Model files that load without running code from the file.

A model file is a zip archive holding ``model.json`` (the pipeline's classes,
parameters, fitted attributes and the versions it was saved with) and
``weights.pt`` (the network's ``state_dict``, read back with
``torch.load(weights_only=True)``, which refuses anything but tensors). Loading
rebuilds the pipeline from a fixed list of this library's classes, so a crafted
file can at worst fail to load. ``joblib``/``pickle`` files also work
(``Pipeline`` pickles) but run code on load: use them for files you made.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import zipfile
from typing import Any

import numpy as np
import sklearn
import torch
from sklearn.pipeline import Pipeline

from . import __version__
from .cutting import PeakCycleCutter
from .lowpass import LowpassFilter
from .network import ResNetClassifier
from .recorder import RecorderRanges
from .recording_classifier import RecordingClassifier
from .robustness import NoiseFloorHarmonizer, RecorderAugmentation
from .smoothing import MeanSmoother
from .spectrogram import STFTSpectrogram

__all__ = ["ModelFileError", "load_model", "save_model"]

FORMAT = "vascular_sklearn-model/1"
_CLASSES = {
    cls.__name__: cls
    for cls in (
        LowpassFilter,
        MeanSmoother,
        PeakCycleCutter,
        STFTSpectrogram,
        NoiseFloorHarmonizer,
        RecorderAugmentation,
        RecordingClassifier,
        ResNetClassifier,
    )
}
#: Fitted attributes kept per class; anything else is rebuilt.
_FITTED = {
    "LowpassFilter": ["sample_rate_", "n_features_in_"],
    "MeanSmoother": ["sample_rate_", "n_features_in_"],
    "PeakCycleCutter": ["sample_rate_", "n_features_in_"],
    "STFTSpectrogram": ["sample_rate_"],
    "NoiseFloorHarmonizer": ["sample_rate_"],
    "RecorderAugmentation": ["sample_rate_"],
    "RecordingClassifier": ["classes_", "class_prior_"],
    "ResNetClassifier": ["classes_"],
}


class ModelFileError(ValueError):
    """A model file that is not one of ours, is damaged, or is incompatible.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> path = Path(tempfile.mkdtemp()) / "notes.vsk"
    >>> _ = path.write_text("not a model")
    >>> try:
    ...     load_model(path)
    ... except ModelFileError as err:
    ...     print(str(err).endswith("not a vascular_sklearn model file (File is "
    ...                             "not a zip file)"))
    True
    """


def _versions() -> dict:
    return {
        "vascular_sklearn": __version__,
        "scikit-learn": sklearn.__version__,
        "torch": torch.__version__.split("+")[0],
    }


def _encode(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return {"ndarray": value.tolist(), "dtype": value.dtype.str}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if hasattr(value, "get_params"):
        return _describe(value)
    if isinstance(value, RecorderRanges):
        fields = dataclasses.asdict(value)
        return {"recorder_ranges": {k: _encode(v) for k, v in fields.items()}}
    if isinstance(value, tuple):
        return {"tuple": [_encode(v) for v in value]}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise ModelFileError(
        f"cannot store a parameter of type {type(value).__name__} safely; save "
        "this model with joblib.dump instead (and load only your own files)"
    )


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and "ndarray" in value:
        return np.array(value["ndarray"], dtype=np.dtype(value["dtype"]))
    if isinstance(value, dict) and "class" in value:
        return _rebuild(value)
    if isinstance(value, dict) and "tuple" in value:
        return tuple(_decode(v) for v in value["tuple"])
    if isinstance(value, dict) and "recorder_ranges" in value:
        fields = {k: _decode(v) for k, v in value["recorder_ranges"].items()}
        return RecorderRanges(**fields)
    return value


def _describe(estimator: Any) -> dict:
    name = type(estimator).__name__
    if _CLASSES.get(name) is not type(estimator):
        raise ModelFileError(
            f"{name} is not a vascular_sklearn estimator: the safe format stores "
            "this library's classes only; use joblib.dump for other models"
        )
    params = {k: _encode(v) for k, v in estimator.get_params(deep=False).items()}
    fitted = {
        k: _encode(getattr(estimator, k))
        for k in _FITTED[name]
        if hasattr(estimator, k)
    }
    return {"class": name, "params": params, "fitted": fitted}


def _rebuild(spec: dict) -> Any:
    cls = _CLASSES.get(spec.get("class"))
    if cls is None:
        raise ModelFileError(f"unknown class in model file: {spec.get('class')!r}")
    estimator = cls(**{k: _decode(v) for k, v in spec["params"].items()})
    for key, value in spec.get("fitted", {}).items():
        if key not in _FITTED[spec["class"]] + ["estimator_"]:
            raise ModelFileError(f"unexpected fitted attribute {key!r} in model file")
        setattr(estimator, key, _decode(value))
    return estimator


def save_model(model: Pipeline, path: str | os.PathLike, *, overwrite: bool = False):
    """Save a fitted pipeline in the safe format.

    Parameters
    ----------
    model : Pipeline
        Fitted; its steps are this library's estimators (the pipelines from
        :func:`~vascular_sklearn.make_stenosis_pipeline` and
        :func:`~vascular_sklearn.make_seed_pipeline`).
    path : path-like
    overwrite : bool, default=False
        Replace an existing file; otherwise :class:`FileExistsError`.

    Examples
    --------
    >>> import tempfile, os
    >>> from vascular_sklearn.datasets import make_recordings
    >>> from vascular_sklearn import make_stenosis_pipeline
    >>> data = make_recordings(n_patients=2, recordings_per_patient=2, duration=6,
    ...                        random_state=0)
    >>> pipe = make_stenosis_pipeline(max_epochs=1, device="cpu", random_state=0)
    >>> _ = pipe.set_params(classifier__estimator__arch="resnet18")
    >>> _ = pipe.fit(data.recordings, data.target)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.vsk")
    >>> save_model(pipe, path)
    >>> bool((load_model(path).predict_proba(data.recordings)
    ...       == pipe.predict_proba(data.recordings)).all())
    True
    """
    path = os.fspath(path)
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
    if not isinstance(model, Pipeline) or not isinstance(
        model[-1], RecordingClassifier
    ):
        raise ModelFileError(
            "save_model takes a Pipeline ending in a RecordingClassifier"
        )
    network = getattr(model[-1], "estimator_", None)
    if not isinstance(network, ResNetClassifier):
        raise ModelFileError(
            "save_model needs a fitted pipeline with a ResNetClassifier"
        )
    steps = [
        [name, step if step in (None, "passthrough") else _describe(step)]
        for name, step in model.steps
    ]
    steps[-1][1]["fitted"]["estimator_"] = _describe(network)
    header = {"format": FORMAT, "versions": _versions(), "steps": steps}
    weights = io.BytesIO()
    # tensors saved from the CPU, so a model trained on a GPU loads anywhere
    state = {k: v.detach().cpu() for k, v in network.net_.module_.state_dict().items()}
    torch.save(state, weights)
    tmp = path + ".partial"
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("model.json", json.dumps(header, indent=1))
        archive.writestr("weights.pt", weights.getvalue())
    os.replace(tmp, path)


def load_model(path: str | os.PathLike, device: str = "cpu") -> Pipeline:
    """Load a model file written by :func:`save_model`, without running its code.

    Parameters
    ----------
    path : path-like
    device : str, default="cpu"
        Where the network runs; a model trained on a GPU loads on a CPU.

    Returns
    -------
    model : Pipeline

    Raises
    ------
    ModelFileError
        Not a model file, damaged, or saved by an incompatible version.

    Examples
    --------
    >>> import tempfile, os
    >>> from vascular_sklearn.datasets import make_recordings
    >>> from vascular_sklearn import make_stenosis_pipeline
    >>> data = make_recordings(n_patients=2, recordings_per_patient=2, duration=6,
    ...                        random_state=0)
    >>> pipe = make_stenosis_pipeline(max_epochs=1, device="cpu", random_state=0)
    >>> _ = pipe.set_params(classifier__estimator__arch="resnet18")
    >>> path = os.path.join(tempfile.mkdtemp(), "model.vsk")
    >>> save_model(pipe.fit(data.recordings, data.target), path)
    >>> load_model(path, device="cpu").predict(data.recordings).shape
    (4,)
    """
    path = os.fspath(path)
    try:
        with zipfile.ZipFile(path) as archive:
            header = json.loads(archive.read("model.json"))
            weights = archive.read("weights.pt")
    except (
        zipfile.BadZipFile,
        KeyError,
        json.JSONDecodeError,
        UnicodeDecodeError,
    ) as err:
        raise ModelFileError(
            f"{path}: not a vascular_sklearn model file ({err})"
        ) from err
    if header.get("format") != FORMAT:
        raise ModelFileError(f"{path}: unknown format {header.get('format')!r}")
    saved, here = header.get("versions", {}), _versions()
    for lib in here:
        if str(saved.get(lib, "")).split(".")[:1] != here[lib].split(".")[:1]:
            raise ModelFileError(
                f"{path} was saved with {lib} {saved.get(lib)}; this is {here[lib]}. "
                "Retrain, or load it where the major versions match."
            )
    steps = [
        (name, spec if spec in (None, "passthrough") else _rebuild(spec))
        for name, spec in header["steps"]
    ]
    classifier = steps[-1][1]
    network = classifier.estimator_
    network.device_ = device
    network.net_ = network._make_net().initialize()
    try:
        state = torch.load(io.BytesIO(weights), map_location=device, weights_only=True)
        network.net_.module_.load_state_dict(state)
    except Exception as err:  # torch raises several types for a bad payload
        raise ModelFileError(
            f"{path}: the network weights cannot be read ({err})"
        ) from err
    network.net_.module_.eval()
    return Pipeline(steps)
