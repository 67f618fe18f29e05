"""Model files that load without running code from the file.

A model file is a zip archive holding ``model.json`` (the pipeline's classes,
parameters, fitted attributes, the versions it was saved with and its card:
what it was trained on, :mod:`~vascular_sklearn.model_card`) and
``weights.pt`` (the network's ``state_dict``, read back with
``torch.load(weights_only=True)``, which refuses anything but tensors). Loading
rebuilds the pipeline from a fixed list of this library's classes, so a crafted
file can at worst fail to load. ``joblib``/``pickle`` files also work
(``Pipeline`` pickles) but run code on load: use them for files you made.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import zipfile
from collections.abc import Mapping
from numbers import Integral
from typing import Any

import sklearn
from sklearn.pipeline import Pipeline

try:
    import torch
except ImportError as err:  # the screening runtime installs without it
    raise ImportError(
        f"model files (.vsk) need torch ({err}); install it with: pip install "
        "'vascular-sklearn[network]', or screen with an ONNX export and "
        "'vascular-sklearn[runtime]'"
    ) from err

from . import __version__
from ._base import check_image_shape
from ._model_spec import (
    FORMAT,
    ModelFileError,
    check_classes,
    compatible,
    describe_pipeline,
    read_archive,
    rebuild_steps,
    rebuilding,
)
from ._output import check_output, replacing
from .model_card import check_card
from .network import _check_weights, check_device
from .recording_classifier import RecordingClassifier
from .spectrogram import _image_step

__all__ = ["ModelFileError", "export_onnx", "load_model", "save_model"]

#: The oldest ONNX opset torch's exporter converts to; asked for an older
#: one, it logs the failure and writes its own.
MIN_OPSET = 18


def _versions() -> dict:
    return {
        "vascular_sklearn": __version__,
        "scikit-learn": sklearn.__version__,
        "torch": torch.__version__.split("+")[0],
    }


def save_model(
    model: Pipeline,
    path: str | os.PathLike,
    *,
    overwrite: bool = False,
    card: Mapping[str, Any] | None = None,
):
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
    card : mapping or None, default=None
        What the model was trained on (its :mod:`model card
        <vascular_sklearn.model_card>`): JSON-ready values by name, read back
        by :func:`~vascular_sklearn.model_card.read_model_card`.
        ``vascular-sklearn train`` writes one.

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
    path = check_output(path, overwrite)
    steps, network = describe_pipeline(model, "save_model")
    header = {
        "format": FORMAT,
        "versions": _versions(),
        "steps": steps,
        "card": check_card(card),
    }
    weights = io.BytesIO()
    # tensors saved from the CPU, so a model trained on a GPU loads anywhere
    state = {k: v.detach().cpu() for k, v in network.net_.module_.state_dict().items()}
    torch.save(state, weights)
    with (
        replacing(path, overwrite) as tmp,
        zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive,
    ):
        archive.writestr("model.json", json.dumps(header, indent=1))
        archive.writestr("weights.pt", weights.getvalue())


def load_model(path: str | os.PathLike, device: str = "cpu") -> Pipeline:
    """Load a model file written by :func:`save_model`, without running its code.

    Parameters
    ----------
    path : path-like
    device : str, default="cpu"
        Where the network runs (``"auto"``: a GPU when one is visible); a
        model trained on a GPU loads on a CPU.

    Returns
    -------
    model : Pipeline

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ModelFileError
        Not a model file, damaged, or saved by an incompatible version.
    ValueError
        ``device`` is no device name, or a GPU this machine does not have.

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
    # before the file: inside rebuilding, a ValueError says the file is damaged
    device = check_device(device)
    header, weights = read_archive(path)
    with rebuilding(path):
        saved, here = header.get("versions", {}), _versions()
        for lib in here:
            if not compatible(saved.get(lib, ""), here[lib]):
                raise ModelFileError(
                    f"saved with {lib} {saved.get(lib)}; this is {here[lib]}. "
                    "Retrain, or load it where the versions match."
                )
        steps = rebuild_steps(header["steps"])
        classifier = steps[-1][1]
        network = getattr(classifier, "estimator_", None)
        screening = isinstance(classifier, RecordingClassifier)
        if (
            not screening
            or type(network).__name__ != "ResNetClassifier"
            or any(
                not hasattr(step, "transform")
                for _, step in steps[:-1]
                if step not in (None, "passthrough")
            )
        ):
            raise ModelFileError(
                "its steps are not a screening pipeline (transformers, then a "
                "RecordingClassifier around a ResNetClassifier)"
            )
        check_classes(classifier, getattr(network, "classes_", None))
        network.device_ = device
        # random weights, replaced below: drawn without moving the user's stream
        with torch.random.fork_rng(devices=[]):
            network.net_ = network._make_net(training=False).initialize()
    try:
        state = torch.load(
            io.BytesIO(weights), map_location=network.device_, weights_only=True
        )
    except Exception as err:  # torch raises several types for a bad payload
        # not torch's text: it offers weights_only=False, which runs the file
        raise ModelFileError(
            f"{path}: the network weights are damaged or not tensors only "
            "(weights_only=True refuses anything else)"
        ) from err
    if isinstance(state, Mapping):  # anything else is refused just below
        _check_weights(state, network.net_.module_.state_dict(), path, ModelFileError)
    try:
        network.net_.module_.load_state_dict(state)
    except Exception as err:
        raise ModelFileError(
            f"{path}: the weights do not fit the network the file describes "
            f"({str(err).splitlines()[0].rstrip(':')})"
        ) from err
    network.net_.module_.eval()
    return Pipeline(steps)


class _Probabilities(torch.nn.Module):
    """The network followed by the softmax skorch's ``predict_proba`` applies."""

    def __init__(self, module: torch.nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.module(x), dim=1)


def export_onnx(
    model: Pipeline,
    path: str | os.PathLike,
    *,
    overwrite: bool = False,
    opset_version: int | None = None,
    card: Mapping[str, Any] | None = None,
) -> None:
    """Export a fitted pipeline for screening without torch.

    The network, with its input standardisation and a softmax, becomes one ONNX
    graph (float32, any number of cycles per call); everything else the answer
    depends on (the signal-chain steps and their parameters, the training
    sample rate, cycles scored per recording, aggregation, class labels, the
    library versions) is stored as JSON in the graph's metadata.
    :func:`~vascular_sklearn.runtime.load_onnx` rebuilds the pipeline from the
    file with onnxruntime, numpy, scipy and scikit-learn.

    Parameters
    ----------
    model : Pipeline
        Fitted, ending in a :class:`~vascular_sklearn.RecordingClassifier`
        around a :class:`~vascular_sklearn.network.ResNetClassifier`, with an
        :class:`~vascular_sklearn.STFTSpectrogram` step (it fixes the network's
        input size).
    path : path-like
        The ``.onnx`` file to write.
    overwrite : bool, default=False
        Replace an existing file; otherwise :class:`FileExistsError`.
    opset_version : int or None, default=None
        ONNX opset, :data:`MIN_OPSET` or later; ``None`` takes the exporter's
        default.
    card : mapping or None, default=None
        The model card to store, as in :func:`save_model` (``vascular-sklearn
        export`` carries the model file's over).

    Raises
    ------
    ModelFileError
        A pipeline that cannot be exported, with the reason: another final
        step or network, a step that is not this library's, no spectrogram
        step.
    ValueError
        An ``opset_version`` the exporter cannot write, or a spectrogram step
        whose images (changed by ``set_params`` since fit) are not the size
        the network learnt.
    ImportError
        The ``onnx`` and ``onnxscript`` packages are missing.

    Examples
    --------
    See :func:`~vascular_sklearn.runtime.load_onnx`.
    """
    path = check_output(path, overwrite)
    card = check_card(card)  # before the export's minute of work
    if opset_version is not None and (
        isinstance(opset_version, bool) or not isinstance(opset_version, Integral)
    ):
        raise ValueError(
            f"opset_version={opset_version!r}: give a whole number, {MIN_OPSET} "
            "or later, or None"
        )
    if opset_version is not None and opset_version < MIN_OPSET:
        raise ValueError(
            f"opset_version={opset_version}: torch's exporter writes opset "
            f"{MIN_OPSET} or later (onnxruntime 1.18 and later read it)"
        )
    steps, network = describe_pipeline(model, "export_onnx")
    spectrogram = _image_step(model.steps)
    if spectrogram is None:
        raise ModelFileError(
            "export_onnx needs an STFTSpectrogram step: it fixes the size of the "
            "network's input"
        )
    try:
        import onnx
        import onnxscript  # noqa: F401  (torch's exporter needs it)
    except ImportError as err:
        raise ImportError(
            "exporting needs onnx and onnxscript: "
            "pip install 'vascular-sklearn[export]'"
        ) from err
    newest = onnx.defs.onnx_opset_version()
    if opset_version is not None and opset_version > newest:
        # torch's exporter logged a traceback of its failed conversion first
        raise ValueError(
            f"opset_version={opset_version}: the installed onnx "
            f"({onnx.__version__}) defines opsets up to {newest}; give "
            f"{MIN_OPSET} to {newest}, or None"
        )
    from .runtime import FORMAT as ONNX_FORMAT
    from .runtime import INPUT_NAME, METADATA_KEY

    n_freqs = spectrogram._sizes(spectrogram.sample_rate_)[2]
    n_frames = spectrogram.n_frames
    # the graph takes the images the spectrogram makes now: they must be the
    # network's, or the ONNX file answers for images it never learnt
    check_image_shape((1, 1, n_freqs, n_frames), getattr(network, "image_shape_", None))
    metadata = {
        "format": ONNX_FORMAT,
        "versions": _versions(),
        "input": {"name": INPUT_NAME, "shape": ["n_cycles", 1, n_freqs, n_frames]},
        "network": steps[-1][1]["fitted"].pop("estimator_"),
        "steps": steps,
        "card": card,
    }
    # a float32 copy on the CPU: the export must not move or change the model
    module = copy.deepcopy(network.net_.module_).cpu().float().eval()
    module.autocast = False
    example = torch.zeros(2, 1, n_freqs, n_frames)
    n_cycles = torch.export.Dim("n_cycles", min=1)
    with torch.no_grad(), contextlib.redirect_stdout(io.StringIO()):
        program = torch.onnx.export(
            _Probabilities(module).eval(),
            (example,),
            dynamo=True,
            input_names=[INPUT_NAME],
            output_names=["probabilities"],
            dynamic_shapes=({0: n_cycles},),
            opset_version=opset_version,
            verbose=False,
        )
    proto = program.model_proto
    got = max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))
    if opset_version is not None and got != opset_version:
        # torch's exporter logs the failed conversion and keeps its own opset
        raise ValueError(
            f"opset_version={opset_version}: the exporter could only write opset "
            f"{got}; give another opset from {MIN_OPSET} to {newest}, or None"
        )
    onnx.helper.set_model_props(proto, {METADATA_KEY: json.dumps(metadata)})
    with replacing(path, overwrite) as tmp:
        onnx.save(proto, tmp)
