"""What a saved model was trained on: the card its file carries.

A model answers about the recorders it heard: trained on one clinic's
microphone and sound card, its probabilities elsewhere say as much about the
equipment as about the vessel. So a model file
(:func:`~vascular_sklearn.persistence.save_model`) and an ONNX export
(:func:`~vascular_sklearn.persistence.export_onnx`) carry a *card*: what the
model was trained on, as plain JSON values by name. ``vascular-sklearn train``
writes one (the data, its recordings per label and its patients, the rates and
recorders heard, the date and the command); :func:`read_model_card` reads it
back with what the file itself holds, without torch for an export, and
``vascular-sklearn describe`` prints it. A backbone of ``vascular-sklearn
pretrain`` carries one too, and a model fine-tuned from it (``train
--weights``) keeps it under ``backbone``: a network pretrained on one corpus's
stethoscopes has heard those as well.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from ._model_spec import (
    decode,
    is_model_file,
    is_torch_weights,
    read_archive,
    rebuilding,
)

__all__ = ["check_card", "read_model_card"]


def _plain(value: Any) -> Any:
    """numpy's and pathlib's values as JSON's, for ``json.dumps``."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        item = value.item()
        if isinstance(item, np.generic):
            # a long double's item is itself: json.dumps asked again, forever
            if isinstance(item, np.floating):
                return float(item)
            raise TypeError(f"a {type(value).__name__} is no JSON value")
        return item
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"a {type(value).__name__} is no JSON value")


def check_card(card: Mapping[str, Any] | None) -> dict:
    """A model card as plain JSON values, checked before anything is written.

    Parameters
    ----------
    card : mapping or None
        Values by name: strings, numbers, booleans, ``None``, lists and
        mappings of them; numpy values and paths are taken as their plain
        equivalents. ``None`` is an empty card.

    Returns
    -------
    dict

    Raises
    ------
    TypeError
        ``card`` is not a mapping with string keys.
    ValueError
        A value that JSON cannot hold, named by its key; a value nested
        beyond reason; the key ``"checkpoint_of"``, which a backbone's
        checkpoints keep for themselves.

    Examples
    --------
    >>> import numpy as np
    >>> check_card({"recordings": np.int64(49), "rates_hz": np.array([22050.0])})
    {'recordings': 49, 'rates_hz': [22050.0]}
    """
    if card is None:
        return {}
    if not isinstance(card, Mapping):
        raise TypeError(
            f"card must be a mapping with str keys (a dict), got {type(card).__name__}"
        )
    if _RESERVED in card:  # read back, it was dropped as a checkpoint's own
        raise ValueError(
            f"card[{_RESERVED!r}]: a name a backbone's checkpoints keep for "
            "themselves; call it otherwise"
        )
    try:
        _check_keys(card, "card")
    except RecursionError as err:  # a bare RecursionError 1000 frames deep
        raise ValueError("card: nested beyond reason (over 900 levels)") from err
    checked = {}
    for key, value in card.items():
        try:
            # allow_nan: NaN and Infinity are no JSON, which the card promises
            text = json.dumps(value, default=_plain, allow_nan=False)
            checked[key] = json.loads(text)
        except (TypeError, ValueError) as err:
            raise ValueError(
                f"card[{key!r}]: {err}; give strings, numbers, booleans, lists "
                "or dicts of them"
            ) from err
    return checked


#: The key of a checkpoint's bookkeeping in a backbone's card (what it was
#: trained on, to refuse resuming on other data).
_RESERVED = "checkpoint_of"


def _check_keys(value: Any, where: str) -> None:
    """Refuse a key that is not str at any depth: JSON made {1: "a", "1": "b"}
    one key "1", and the other value was lost without a word."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where}'s keys must be str, got {key!r}")
            _check_keys(item, f"{where}[{key!r}]")
    elif isinstance(value, (list, tuple)):
        for k, item in enumerate(value):
            _check_keys(item, f"{where}[{k}]")


def read_model_card(path: str | os.PathLike) -> dict:
    """What a model file or an ONNX export says about its model.

    Parameters
    ----------
    path : path-like
        A model file of :func:`~vascular_sklearn.persistence.save_model`
        (``vascular-sklearn train``), an export of
        :func:`~vascular_sklearn.persistence.export_onnx`, or a backbone of
        :func:`~vascular_sklearn.pretraining.save_backbone` (told by its
        content, or named ``.pt`` or ``.pth``; read with torch, tensors
        only).

    Returns
    -------
    dict
        ``kind`` (``"model file"``, ``"ONNX export"`` or ``"backbone"``),
        ``versions`` (the libraries it was saved with), ``network`` (its
        architecture), ``classes``, ``sample_rate`` (the training rate in Hz,
        every recording's answer is computed at), ``cycles_scored`` (per
        recording; ``None``: all) and ``card`` (what was stored with it; empty
        for a file saved without one). A backbone has no classes, rate or
        cycles of its own (``None``, and ``versions`` empty) but the size of
        its training images, ``image_shape``.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    vascular_sklearn.persistence.ModelFileError
        Not a model file or export of this library, or a damaged one.
    vascular_sklearn.exceptions.WeightsFileError
        A ``.pt`` file that is not a tensor-only state dict, or whose card is
        damaged.

    Examples
    --------
    >>> import tempfile, os
    >>> from vascular_sklearn import make_stenosis_pipeline
    >>> from vascular_sklearn.datasets import make_recordings
    >>> from vascular_sklearn.persistence import save_model
    >>> data = make_recordings(n_patients=2, recordings_per_patient=2, duration=6,
    ...                        random_state=0)
    >>> pipe = make_stenosis_pipeline(max_epochs=1, device="cpu", random_state=0)
    >>> _ = pipe.set_params(classifier__estimator__arch="resnet18")
    >>> path = os.path.join(tempfile.mkdtemp(), "model.vsk")
    >>> save_model(pipe.fit(data.recordings, data.target), path,
    ...            card={"trained_on": "synthetic", "recordings": 4})
    >>> info = read_model_card(path)
    >>> info["network"], info["sample_rate"], info["card"]["recordings"]
    ('resnet18', 22050.0, 4)
    """
    path = os.fspath(path)
    if os.path.exists(path) and not os.path.isfile(path):
        # a pipe: reading it waited for a writer forever
        raise FileNotFoundError(f"{path} is no file (a folder, a pipe, a device)")
    # a backbone by its content whatever its name, or by its name (torch's
    # older files are no zip archives: read_weights judges them)
    pt = path.lower().endswith((".pt", ".pth"))
    if is_torch_weights(path) or (pt and not is_model_file(path)):
        return _backbone_info(path)
    if not path.lower().endswith(".onnx") or is_model_file(path):
        kind, header = "model file", read_archive(path, weights=False)[0]
    else:
        from .runtime import read_metadata

        kind, header = "ONNX export", read_metadata(path)
    with rebuilding(path):  # a damaged description: named, not a KeyError
        steps = header["steps"]
        classifier = steps[-1][1]
        # an export keeps the network's description apart from its steps
        network = header.get("network") or classifier["fitted"]["estimator_"]
        rates = [
            spec["fitted"]["sample_rate_"]
            for _, spec in steps
            if isinstance(spec, dict) and "sample_rate_" in spec.get("fitted", {})
        ]
        for entry in ("card", "versions"):
            if not isinstance(header.get(entry, {}), dict):
                # describe stopped with an AttributeError
                raise ValueError(f"its {entry} is not a JSON object")
        return {
            "kind": kind,
            "versions": header.get("versions", {}),
            "network": network["params"].get("arch"),
            "classes": decode(classifier["fitted"]["classes_"]).tolist(),
            "sample_rate": rates[0] if rates else None,
            "cycles_scored": classifier["params"].get("max_cycles"),
            "card": header.get("card", {}),
        }


def _backbone_info(path: str) -> dict:
    """What a backbone file holds beside its weights, read as one whatever its
    name: :func:`read_model_card`'s dict for a backbone."""
    from .exceptions import WeightsFileError
    from .network import (
        _TRAINED_ON,
        _arch_of,
        _backbone_card,
        _pretrained_shape,
        read_weights,
    )

    state = read_weights(path)
    try:
        card = _backbone_card(state)
    # RecursionError: JSON nested beyond reason
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise WeightsFileError(f"{path}: its card is damaged ({err})") from err
    if not isinstance(card, dict):
        raise WeightsFileError(f"{path}: its card is damaged (not a JSON object)")
    card.pop(_TRAINED_ON, None)  # a checkpoint's bookkeeping: not what it heard
    shape = _pretrained_shape(state, path)
    return {
        "kind": "backbone",
        "versions": {},
        "network": _arch_of({k.removeprefix("net."): v for k, v in state.items()}),
        "classes": None,
        "sample_rate": None,
        "cycles_scored": None,
        "image_shape": None if shape is None else list(shape),
        "card": card,
    }
