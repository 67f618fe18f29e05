"""Pipelines as plain JSON: the description both model formats are built on.

A fitted pipeline is described as its steps' classes, parameters and the
fitted attributes prediction needs, and rebuilt from a fixed list of this
library's classes, so a crafted description can at worst fail to load. The
torch model file (:mod:`~vascular_sklearn.persistence`) and the ONNX export
(:mod:`~vascular_sklearn.runtime`) both store it; the network's class is only
imported when a description holding it is rebuilt, so the signal chain of an
export is rebuilt without torch.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator
from typing import Any

import numpy as np

from ._base import validate_params_within
from .audio import _finite_above_zero
from .cutting import PeakCycleCutter
from .exceptions import _missing
from .lowpass import LowpassFilter
from .recorder import RecorderRanges
from .recording_classifier import RecordingClassifier
from .robustness import NoiseFloorHarmonizer, RecorderAugmentation
from .smoothing import MeanSmoother
from .spectrogram import STFTSpectrogram

__all__ = [
    "ModelFileError",
    "check_classes",
    "compatible",
    "decode",
    "describe",
    "describe_pipeline",
    "is_model_file",
    "is_torch_weights",
    "read_archive",
    "rebuild",
    "rebuild_steps",
    "rebuilding",
]

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
    )
}
#: The model file's format, in its ``model.json``.
FORMAT = "vascular_sklearn-model/1"

#: Fitted attributes kept per class; anything else is rebuilt.
FITTED = {
    "LowpassFilter": ["sample_rate_", "n_features_in_"],
    "MeanSmoother": ["sample_rate_", "n_features_in_"],
    "PeakCycleCutter": ["sample_rate_", "n_features_in_"],
    "STFTSpectrogram": ["sample_rate_"],
    "NoiseFloorHarmonizer": ["sample_rate_"],
    "RecorderAugmentation": ["sample_rate_"],
    "RecordingClassifier": ["classes_", "class_prior_"],
    "ResNetClassifier": ["classes_", "image_shape_"],
}


#: How many times the archive's own size a member may decompress to. Weights
#: barely compress (about 1.1 times) and ``model.json`` is small beside them,
#: so a member that grows more is a zip bomb: refused before it is read.
_MAX_EXPANSION = 32
#: A member of up to this many bytes is read whatever the archive's size.
_MIN_MEMBER_LIMIT = 1 << 20


class ModelFileError(ValueError):
    """A model file that is not one of ours, is damaged, or is incompatible.

    Examples
    --------
    >>> from vascular_sklearn.persistence import load_model
    >>> import tempfile
    >>> from pathlib import Path
    >>> path = Path(tempfile.mkdtemp()) / "notes.vsk"
    >>> _ = path.write_text("not a model")
    >>> try:
    ...     load_model(path)
    ... except ModelFileError as err:
    ...     print(str(err).split(": ", 1)[1][:51])
    not a vascular_sklearn model file, or a damaged one
    """


def _class(name: Any) -> type | None:
    if name == "ResNetClassifier":
        from .network import ResNetClassifier  # torch: only when a network is asked

        return ResNetClassifier
    return _CLASSES.get(name)


def _encode(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return {"ndarray": value.tolist(), "dtype": value.dtype.str}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if hasattr(value, "get_params"):
        return describe(value)
    if isinstance(value, RecorderRanges):
        fields = dataclasses.asdict(value)
        return {"recorder_ranges": {k: _encode(v) for k, v in fields.items()}}
    if isinstance(value, tuple):
        return {"tuple": [_encode(v) for v in value]}
    if isinstance(value, list):  # RecorderRanges(gain=[0.1, 0.5]), say
        return [_encode(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise ModelFileError(
        f"cannot store a parameter of type {type(value).__name__} safely; save "
        "this model with joblib.dump instead (and load only your own files)"
    )


def decode(value: Any) -> Any:
    """A parameter or fitted attribute from its JSON form (inverse of the encoding).

    Examples
    --------
    >>> decode({"ndarray": [0, 1], "dtype": "<i8"})
    array([0, 1])
    """
    if isinstance(value, dict) and "ndarray" in value:
        return np.array(value["ndarray"], dtype=np.dtype(value["dtype"]))
    if isinstance(value, dict) and "class" in value:
        return rebuild(value)
    if isinstance(value, dict) and "tuple" in value:
        return tuple(decode(v) for v in value["tuple"])
    if isinstance(value, dict) and "recorder_ranges" in value:
        fields = {k: decode(v) for k, v in value["recorder_ranges"].items()}
        return RecorderRanges(**fields)
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def describe(estimator: Any) -> dict:
    """One estimator as ``{"class", "params", "fitted"}``, JSON-ready.

    Raises
    ------
    ModelFileError
        For a class that is not one of this library's estimators, or a
        parameter that cannot be stored as plain data.

    Examples
    --------
    >>> describe(LowpassFilter(cutoff=800))["params"]["cutoff"]
    800
    """
    name = type(estimator).__name__
    if name not in FITTED or _class(name) is not type(estimator):
        raise ModelFileError(
            f"{name} is not a vascular_sklearn estimator: the safe format stores "
            "this library's classes only; use joblib.dump for other models"
        )
    params = {}
    for key, value in estimator.get_params(deep=False).items():
        try:
            params[key] = _encode(value)
        except ModelFileError as err:  # which of the pipeline's parameters
            raise ModelFileError(f"{name}({key}=...): {err}") from err
    fitted = {
        k: _encode(getattr(estimator, k)) for k in FITTED[name] if hasattr(estimator, k)
    }
    return {"class": name, "params": params, "fitted": fitted}


def compatible(saved: Any, here: str) -> bool:
    """Whether a file saved under release ``saved`` loads under ``here``.

    The major numbers must agree, and while it is 0 the minor numbers too: a
    0.x release may add or rename parameters, which the file's description
    would then not fit.

    Parameters
    ----------
    saved : str
        The release the file names (anything, from a damaged file).
    here : str
        The release installed.

    Returns
    -------
    bool

    Examples
    --------
    >>> compatible("0.1.3", "0.1.0"), compatible("0.2.0", "0.1.0")
    (True, False)
    >>> compatible("2.4.1", "2.14.1")
    True
    """
    parts = here.split(".")
    n = 2 if parts[0] == "0" else 1
    return str(saved).split(".")[:n] == parts[:n]


@contextlib.contextmanager
def rebuilding(path: str) -> Iterator[None]:
    """Rebuild a pipeline from the file ``path``: what a damaged or foreign
    description raises on the way (KeyError, TypeError, AttributeError,
    ValueError, IndexError, OverflowError) becomes a :class:`ModelFileError`
    naming the file.

    Raises
    ------
    ModelFileError
        Naming ``path`` and what did not fit.
    """
    try:
        yield
    except ModelFileError as err:
        if path in str(err):
            raise
        raise ModelFileError(f"{path}: {err}") from err
    except (
        KeyError,
        TypeError,
        AttributeError,
        ValueError,
        IndexError,
        # an edited number beyond its array's dtype (numpy's own error)
        OverflowError,
    ) as err:
        raise ModelFileError(
            f"{path}: a damaged model file, or one written by another version of "
            f"vascular_sklearn ({type(err).__name__}: {err})"
        ) from err


def rebuild(spec: dict) -> Any:
    """The estimator a :func:`describe` output stands for.

    Raises
    ------
    ModelFileError
        For an unknown class or fitted attribute, or fitted values no fit
        makes (a prior of another length than the classes, say).
    sklearn.utils._param_validation.InvalidParameterError
        For a parameter its class refuses (:func:`rebuilding` names the file).
    TypeError
        For a parameter its class does not take (:func:`rebuilding` makes it
        a ModelFileError naming the file).

    Examples
    --------
    >>> rebuild(describe(LowpassFilter(cutoff=800)))
    LowpassFilter(cutoff=800)
    """
    name = spec.get("class")
    cls = _class(name)
    if cls is None:
        raise ModelFileError(f"unknown class in model file: {name!r}")
    estimator = cls(**{k: decode(v) for k, v in spec["params"].items()})
    # an edited value fails here, not in the middle of a screening run
    validate_params_within(estimator)
    for key, value in spec.get("fitted", {}).items():
        if key not in FITTED[name] + ["estimator_"]:
            raise ModelFileError(f"unexpected fitted attribute {key!r} in model file")
        setattr(estimator, key, _check_fitted(key, decode(value)))
    prior, classes = (getattr(estimator, k, None) for k in ("class_prior_", "classes_"))
    if prior is not None and classes is not None and len(prior) != len(classes):
        raise ModelFileError(
            f"{name} has {len(classes)} classes but a prior of {len(prior)}"
        )
    return estimator


def _check_fitted(key: str, value: Any) -> Any:
    """``value``, refused if no fit could have made it: loaded, it would fail
    deep inside a screening run (a sample rate of text), or answer without a
    word of warning (a prior of NaN)."""
    if key == "sample_rate_":
        ok = not isinstance(value, bool) and _finite_above_zero(value)
    elif key == "classes_":
        ok = isinstance(value, np.ndarray) and value.ndim == 1 and len(value) > 0
    elif key == "class_prior_":
        ok = (
            isinstance(value, np.ndarray)
            and value.ndim == 1
            and value.dtype.kind == "f"
            and bool(np.isfinite(value).all() and (value >= 0).all())
        )
    elif key == "image_shape_":
        ok = (
            isinstance(value, tuple)
            and len(value) == 3
            and all(
                isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in value
            )
        )
    else:
        return value
    if not ok:
        shown = value.tolist() if isinstance(value, np.ndarray) else value
        raise ModelFileError(f"a fitted {key} of {shown!r}: no fit makes that")
    return value


def check_classes(classifier: Any, network_classes: Any) -> None:
    """Refuse a rebuilt :class:`~vascular_sklearn.RecordingClassifier` whose
    classes are not its network's, as fitting makes them: it would name the
    network's answers with other labels, or fail on the first recording.

    Raises
    ------
    ModelFileError
        Naming both lists of classes.
    """
    classes = getattr(classifier, "classes_", None)
    if classes is None or network_classes is None:
        raise ModelFileError("its classifier or its network names no classes_")
    if not np.array_equal(classes, network_classes):
        raise ModelFileError(
            f"its classifier's classes {classes.tolist()} are not its network's "
            f"{np.asarray(network_classes).tolist()}"
        )


def describe_pipeline(model: Any, action: str) -> tuple[list, Any]:
    """The steps of a fitted screening pipeline, and its fitted network.

    Parameters
    ----------
    model : Pipeline
        Ending in a fitted :class:`~vascular_sklearn.RecordingClassifier`
        around a :class:`~vascular_sklearn.network.ResNetClassifier`.
    action : str
        What the caller does, for the error message (``"save_model"``).

    Returns
    -------
    steps : list of [name, spec]
        The classifier's spec holds the network's under ``fitted.estimator_``.
    network : ResNetClassifier

    Raises
    ------
    ModelFileError
        Naming what keeps the pipeline from being stored.
    """
    from sklearn.pipeline import Pipeline

    if not isinstance(model, Pipeline) or not isinstance(
        model[-1], RecordingClassifier
    ):
        raise ModelFileError(
            f"{action} takes a Pipeline ending in a RecordingClassifier"
        )
    network = getattr(model[-1], "estimator_", None)
    if type(network).__name__ != "ResNetClassifier":
        found = "not fitted" if network is None else type(network).__name__
        raise ModelFileError(
            f"{action} needs a fitted pipeline with a ResNetClassifier ({found})"
        )
    # as loading checks them: a value set after fit was written, and the
    # file then refused as damaged when it was loaded
    validate_params_within(model)
    validate_params_within(network)
    steps = [
        [name, step if step in (None, "passthrough") else describe(step)]
        for name, step in model.steps
    ]
    steps[-1][1]["fitted"]["estimator_"] = describe(network)
    return steps, network


def rebuild_steps(specs: list) -> list[tuple[str, Any]]:
    """The ``(name, step)`` pairs of a pipeline from :func:`describe_pipeline`'s
    ``steps``, a switched-off step (``None``, ``"passthrough"``) kept as it is."""
    return [
        (name, spec if spec in (None, "passthrough") else rebuild(spec))
        for name, spec in specs
    ]


def read_archive(path: str, weights: bool = True) -> tuple[dict, bytes | None]:
    """A model file's ``model.json`` and, if asked, its ``weights.pt`` bytes.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ModelFileError
        Not a model file of this library, a damaged one, or another format.
    """
    import json
    import zipfile
    import zlib

    if not os.path.isfile(path):  # zipfile's own error reads like our bug
        raise FileNotFoundError(f"{path}: {_missing(path, 'a model file')}")
    try:
        with zipfile.ZipFile(path) as archive:
            if _holds_torch_weights(archive.namelist()):
                raise ModelFileError(
                    f"{path}: a torch weights file (a backbone from pretrain?), "
                    "not a model file from train or save_model: start a model "
                    "from it with train --weights (weights_path=)"
                )
            limit = max(_MAX_EXPANSION * os.path.getsize(path), _MIN_MEMBER_LIMIT)
            header = json.loads(_read_member(archive, "model.json", path, limit))
            tensors = (
                _read_member(archive, "weights.pt", path, limit) if weights else None
            )
    except (
        zipfile.BadZipFile,
        KeyError,
        json.JSONDecodeError,
        UnicodeDecodeError,
        # a damaged archive: its compressed bytes, flags or method
        zlib.error,
        RuntimeError,
        NotImplementedError,
        EOFError,
        RecursionError,  # JSON nested beyond reason
    ) as err:
        hint = (
            "an ONNX export loads with vascular_sklearn.runtime.load_onnx"
            if path.lower().endswith(".onnx")
            else "a joblib or pickle file you made yourself loads with "
            "joblib.load (predict's --trust-pickle)"
        )
        raise ModelFileError(
            f"{path}: not a vascular_sklearn model file, or a damaged one "
            f"({type(err).__name__}: {err}); {hint}"
        ) from err
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        found = header.get("format") if isinstance(header, dict) else header
        raise ModelFileError(f"{path}: unknown format {found!r}")
    return header, tensors


def _read_member(archive: Any, name: str, path: str, limit: int) -> bytes:
    """The bytes of the member ``name`` of ``archive`` (the file ``path``),
    refused before reading where they could not be a model file's: two members
    of that name (which one is the model would depend on the reader), or a
    zip bomb, a member that would decompress to more than ``limit`` bytes.

    Raises
    ------
    KeyError
        No such member, as :meth:`zipfile.ZipFile.read`.
    ModelFileError
        Named ``name`` twice, another compression than stored or deflated, or
        more than ``limit`` bytes.
    """
    import zipfile

    info = archive.getinfo(name)
    if archive.namelist().count(name) > 1:
        raise ModelFileError(
            f"{path}: holds two members named {name}, a damaged or edited file"
        )
    # bzip2 and lzma chunks are expanded whole, whatever the size the
    # archive declares: a few kilobytes become gigabytes before any check
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise ModelFileError(
            f"{path}: {name} is compressed with zip method {info.compress_type}; "
            "save_model stores or deflates its members"
        )
    if info.file_size > limit:
        raise ModelFileError(
            f"{path}: {name} would decompress to {info.file_size} bytes, more "
            f"than {_MAX_EXPANSION} times the file: a zip bomb or a damaged file"
        )
    with archive.open(info) as member:
        # no more than declared is read: a deflated member that holds more
        # is cut there, and fails its checksum
        return member.read(info.file_size)


def _holds_torch_weights(names: list[str]) -> bool:
    """Whether a zip archive's member ``names`` are ``torch.save``'s (weights,
    such as a backbone), not a model file's."""
    return "model.json" not in names and any(n.endswith("/data.pkl") for n in names)


def _zip_names(path: str | os.PathLike) -> list[str]:
    """The member names of the zip archive ``path`` (none if it is not one)."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            return archive.namelist()
    except (OSError, zipfile.BadZipFile):
        return []


def is_model_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a model file of ``save_model`` (a zip archive
    holding ``model.json``), whatever its name: a user's mistake is told
    from its content (a model named ``.onnx``, or given as weights)."""
    return "model.json" in _zip_names(path)


def is_torch_weights(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a weights file of ``torch.save`` (a backbone of
    :func:`~vascular_sklearn.pretraining.save_backbone`), whatever its name."""
    return _holds_torch_weights(_zip_names(path))
