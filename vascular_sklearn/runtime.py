"""Screening without torch: a pipeline exported to ONNX, scored by onnxruntime.

:func:`~vascular_sklearn.persistence.export_onnx` writes the fitted network,
its input standardisation and a softmax as one ONNX graph, and the rest of the
pipeline (signal-chain parameters, training sample rate, cycles scored per
recording, aggregation, class labels, library version) as JSON in the graph's
metadata. :func:`load_onnx` rebuilds the signal chain from this library's
steps, which need numpy, scipy and scikit-learn only, and puts an
:class:`OnnxNetwork` where the network was; the result is an ordinary
:class:`~sklearn.pipeline.Pipeline`, so
:func:`~vascular_sklearn.screening.predict_files` scores with it unchanged.
Nothing here imports torch, torchvision or skorch.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.pipeline import Pipeline

from . import __version__
from ._base import (
    CycleImageClassifier,
    as_probabilities,
    check_image_shape,
    check_images,
)
from ._model_spec import (
    ModelFileError,
    check_classes,
    compatible,
    decode,
    rebuild,
    rebuild_steps,
    rebuilding,
)
from .audio import _count
from .exceptions import _missing
from .spectrogram import _image_step

__all__ = ["FORMAT", "METADATA_KEY", "OnnxNetwork", "load_onnx", "read_metadata"]

#: The format an export's metadata names; :func:`load_onnx` reads no other.
FORMAT = "vascular_sklearn-onnx/1"
#: Key of the ONNX metadata entry holding the pipeline's description.
METADATA_KEY = "vascular_sklearn"
INPUT_NAME = "spectrograms"


def _onnxruntime():
    try:
        import onnxruntime
    except ImportError as err:
        raise ImportError(
            "scoring an ONNX export needs onnxruntime: "
            "pip install 'vascular-sklearn[runtime]'"
        ) from err
    return onnxruntime


def _session(path: str, n_threads: int | None):
    if not os.path.isfile(path):  # onnxruntime's own words read like our bug
        raise FileNotFoundError(f"{path}: {_missing(path, 'an ONNX model')}")
    if n_threads is not None and not _count(n_threads):
        # onnxruntime's pybind error, or -1 taken without a word
        raise ValueError(f"n_threads={n_threads!r}: give 1 or more threads, or None")
    ort = _onnxruntime()
    options = ort.SessionOptions()
    if n_threads is not None:
        options.intra_op_num_threads = int(n_threads)
    options.log_severity_level = 3  # warnings about unused initialisers are noise
    try:
        return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime raises its own types for bad files
        raise ModelFileError(f"{path}: not a readable ONNX model ({err})") from err


class OnnxNetwork(CycleImageClassifier, ClassifierMixin, BaseEstimator):
    """The exported network: class probabilities per cycle, from onnxruntime.

    Stands where :class:`~vascular_sklearn.network.ResNetClassifier` stood inside a
    :class:`~vascular_sklearn.RecordingClassifier`. It is made by
    :func:`load_onnx` and only predicts; train with the torch pipeline. It
    pickles without its session (made again on first use), so joblib workers
    can score with it.

    Parameters
    ----------
    path : str
        The ``.onnx`` file.
    classes : array-like
        The class labels, in the order of the network's outputs.
    batch_size : int, default=64
        Cycles per call of the session.
    n_threads : int or None, default=None
        onnxruntime's intra-op threads; ``None`` lets it choose.

    Attributes
    ----------
    classes_ : ndarray
    session_ : onnxruntime.InferenceSession

    Examples
    --------
    See :func:`load_onnx`.
    """

    def __init__(
        self,
        path: str,
        classes: Any,
        batch_size: int = 64,
        n_threads: int | None = None,
    ) -> None:
        self.path = path
        self.classes = classes
        self.batch_size = batch_size
        self.n_threads = n_threads

    def fit(self, X, y=None):
        """Refuse to train: an exported network only predicts.

        Parameters
        ----------
        X, y : ignored

        Returns
        -------
        self : never returned

        Raises
        ------
        NotImplementedError
            Always; train a :class:`~vascular_sklearn.network.ResNetClassifier` and
            export it again.
        """
        raise NotImplementedError(
            "an ONNX export only predicts; train the torch pipeline and export it"
        )

    @property
    def classes_(self) -> np.ndarray:
        return np.asarray(self.classes)

    @property
    def session_(self):
        # made again when set_params changed path or n_threads: the cached
        # session kept the old ones without a word
        wanted = (self.path, self.n_threads)
        if getattr(self, "_session", None) is None or self._made_for != wanted:
            self._session, self._made_for = _session(*wanted), wanted
        return self._session

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.pop("_session", None)
        return state

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities per cycle.

        Parameters
        ----------
        X : array-like of shape (n_cycles, 1, F, T) or (n_cycles, F, T)

        Returns
        -------
        proba : ndarray of shape (n_cycles, n_classes)
        """
        X = check_images(X)
        # onnxruntime's own refusal names neither the cause nor the fix
        shape = self.session_.get_inputs()[0].shape[1:]
        fixed = all(isinstance(d, int) for d in shape)
        check_image_shape(X.shape, shape if fixed else None)
        _check_batch_size(self.batch_size)
        parts = [
            self.session_.run(None, {INPUT_NAME: X[i : i + self.batch_size]})[0]
            for i in range(0, len(X), self.batch_size)
        ]
        if not parts:
            return np.empty((0, len(self.classes_)))
        return as_probabilities(np.concatenate(parts))


def _check_batch_size(batch_size: Any) -> None:
    if not _count(batch_size):
        raise ValueError(f"batch_size={batch_size!r}: give 1 or more cycles per call")


def read_metadata(path: str | os.PathLike) -> dict:
    """The pipeline description stored in an ONNX export.

    Parameters
    ----------
    path : path-like

    Returns
    -------
    metadata : dict
        ``format``, ``versions`` (the libraries it was exported with),
        ``input`` (the name and shape of the images it takes), ``steps``
        (each step's class, parameters and fitted attributes), ``network``
        (the trained network's parameters and ``classes_``) and ``card``
        (what it was trained on, :mod:`~vascular_sklearn.model_card`; empty
        where none was given).

    Raises
    ------
    ModelFileError
        Not an ONNX file, or one without this library's metadata.

    Examples
    --------
    See :func:`load_onnx`; ``read_metadata(path)["steps"]`` lists the exported
    steps with their parameters.
    """
    path = os.fspath(path)
    return _metadata(_session(path, 1), path)


def _metadata(session, path: str) -> dict:
    raw = session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
    try:
        meta = json.loads(raw) if raw is not None else {}
    except (json.JSONDecodeError, RecursionError) as err:  # or nested beyond reason
        raise ModelFileError(f"{path}: damaged metadata ({err})") from err
    # valid JSON but no object (a list, a number) has no format to read
    found = meta.get("format") if isinstance(meta, dict) else meta
    if found != FORMAT:
        raise ModelFileError(
            f"{path}: an ONNX model, but not a vascular_sklearn export "
            f"(format {found!r}, expected {FORMAT!r})"
        )
    return meta


def _check_graph(session, classes: np.ndarray, shape: list) -> None:
    """Refuse a graph that is not the network an export writes: one float
    input of images ``shape`` (n, 1, F, T), one output of a probability per
    class. Another graph under the metadata loaded, to fail on the first
    recording deep in onnxruntime or the aggregation."""
    inputs, outputs = session.get_inputs(), session.get_outputs()
    takes = inputs[0].shape if len(inputs) == 1 else None
    gives = outputs[0].shape if outputs else None
    if (
        len(inputs) != 1
        or inputs[0].name != INPUT_NAME
        or inputs[0].type != "tensor(float)"
        or len(takes) != 4
        or any(
            isinstance(d, int) and d != s
            for d, s in zip(takes[1:], shape[1:], strict=False)
        )
        or len(outputs) != 1
        or len(gives) != 2
        # a named dimension is taken on trust: the exporter fixes this one
        or (isinstance(gives[1], int) and gives[1] != len(classes))
    ):
        found = ", ".join(f"{i.name} {i.type} {i.shape}" for i in inputs)
        raise ModelFileError(
            f"its graph is not the exported network: it takes {found or 'nothing'} "
            f"and gives {[o.shape for o in outputs]}; an export takes "
            f"{INPUT_NAME} tensor(float) {shape} and gives a probability for each "
            f"of {len(classes)} classes"
        )


def load_onnx(
    path: str | os.PathLike, *, batch_size: int = 64, n_threads: int | None = None
) -> Pipeline:
    """Rebuild a screening pipeline from an ONNX export, without torch.

    Parameters
    ----------
    path : path-like
        Written by :func:`~vascular_sklearn.persistence.export_onnx`.
    batch_size : int, default=64
        Cycles per onnxruntime call.
    n_threads : int or None, default=None
        onnxruntime's intra-op threads; ``None`` lets it choose.

    Returns
    -------
    model : Pipeline
        The exported signal chain, then a
        :class:`~vascular_sklearn.RecordingClassifier` around an
        :class:`OnnxNetwork`: ``predict_proba``, ``predict`` and
        :func:`~vascular_sklearn.screening.predict_files` work as with the
        torch pipeline.

    Raises
    ------
    ModelFileError
        Not a vascular_sklearn export, damaged, or exported by a version with
        another major number (while it is 0, another minor number: 0.2 does
        not read 0.1's exports).
    ImportError
        onnxruntime is not installed.

    Examples
    --------
    >>> import os, tempfile
    >>> from vascular_sklearn import make_stenosis_pipeline
    >>> from vascular_sklearn.datasets import make_recordings
    >>> from vascular_sklearn.persistence import export_onnx
    >>> data = make_recordings(n_patients=2, recordings_per_patient=2, duration=6,
    ...                        random_state=0)
    >>> pipe = make_stenosis_pipeline(max_epochs=1, random_state=0)
    >>> _ = pipe.set_params(classifier__estimator__arch="resnet18")
    >>> _ = pipe.fit(data.recordings, data.target)
    >>> path = os.path.join(tempfile.mkdtemp(), "screening.onnx")
    >>> export_onnx(pipe, path)
    >>> light = load_onnx(path)
    >>> X = data.recordings
    >>> bool(abs(light.predict_proba(X) - pipe.predict_proba(X)).max() < 1e-4)
    True
    """
    _check_batch_size(batch_size)
    # absolute: a joblib worker's copy opens the file again, from its own cwd
    path = os.path.abspath(os.fspath(path))
    # one session reads the metadata and then scores: the graph is parsed once
    session = _session(path, n_threads)
    meta = _metadata(session, path)
    with rebuilding(path):
        saved = meta.get("versions", {}).get("vascular_sklearn", "")
        if not compatible(saved, __version__):
            raise ModelFileError(
                f"exported by vascular_sklearn {saved}; this is {__version__}. "
                "Export it again with this version."
            )
        *chain, (last, classifier) = meta["steps"]
        steps = rebuild_steps(chain)
        # the network is the ONNX graph: rebuilding its description needs torch
        params = {k: v for k, v in classifier["params"].items() if k != "estimator"}
        fitted = {k: v for k, v in classifier["fitted"].items() if k != "estimator_"}
        classifier = rebuild({**classifier, "params": params, "fitted": fitted})
        classes = decode(meta["network"]["fitted"]["classes_"])
        check_classes(classifier, classes)
        _check_graph(session, classes, meta["input"]["shape"])
        # the last STFTSpectrogram, as export_onnx takes it: a step after it
        # ("passthrough") made a sound export read as damaged
        spectrogram = _image_step(steps)
        if spectrogram is None:
            raise ValueError("it holds no STFTSpectrogram step")
        made = [spectrogram._sizes(spectrogram.sample_rate_)[2], spectrogram.n_frames]
        if made != meta["input"]["shape"][2:]:
            # an edited step: the graph would refuse every batch, deep in onnxruntime
            raise ModelFileError(
                f"its spectrogram makes images of {made[0]} x {made[1]}, but the "
                f"network takes {meta['input']['shape'][2]} x "
                f"{meta['input']['shape'][3]}"
            )
    network = OnnxNetwork(path, classes, batch_size, n_threads)
    network._session, network._made_for = session, (path, n_threads)
    classifier.set_params(estimator=network).estimator_ = network
    steps.append((last, classifier))
    return Pipeline(steps)
