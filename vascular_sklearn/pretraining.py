"""Pretraining: a backbone learnt on a large corpus, for a small one to start from.

Twelve patients cannot train a ResNet50 from scratch. Nothing can be
downloaded here, so the library makes its own starting point: the cycle
network trained on a larger corpus of the same kind of sound (heart sounds,
where a murmur is the cardiac analogue of a stenotic bruit), saved as a
tensor-only state dict that ``make_stenosis_pipeline(weights_path=...)``
starts from.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sklearn.pipeline import Pipeline

try:
    import torch
except ImportError as err:  # the screening runtime installs without it
    raise ImportError(
        f"pretraining needs torch ({err}); install it with: pip install "
        "'vascular-sklearn[network]'"
    ) from err

from ._output import _NAME_MAX, check_output, replacing
from .model_card import check_card
from .network import ResNetClassifier, _backbone_state
from .pipelines import make_stenosis_pipeline
from .recording_classifier import RecordingClassifier

__all__ = ["check_partial", "partial_path", "pretrain", "save_backbone"]


def partial_path(path: str | os.PathLike) -> Path:
    """Where :func:`pretrain` keeps the last epoch's weights while it runs.

    Parameters
    ----------
    path : path-like
        The backbone file :func:`pretrain` writes at the end.

    Returns
    -------
    partial : Path
        ``path`` with ``.partial`` appended to its name.

    Examples
    --------
    >>> partial_path("backbone.pt").name
    'backbone.pt.partial'
    """
    path = Path(path)
    return path.with_name(path.name + ".partial")


def check_partial(path: str | os.PathLike, resume: bool) -> None:
    """Refuse to start :func:`pretrain` afresh over an interrupted run.

    Its partial weights would be written over by the first epoch.

    Parameters
    ----------
    path : path-like
        The backbone file :func:`pretrain` is to write.
    resume : bool
        Whether the run is to go on from the partial weights.

    Raises
    ------
    FileExistsError
        If :func:`partial_path` of ``path`` exists and ``resume`` is False.
    OSError
        If the partial file's name is longer than a file system takes.

    Examples
    --------
    >>> import tempfile
    >>> check_partial(tempfile.mkdtemp() + "/backbone.pt", resume=False)
    """
    partial = partial_path(path)
    if len(os.fsencode(partial.name)) > _NAME_MAX:
        # else refused by the network's first checkpoint, after the signals
        raise OSError(
            f"{path}: with .partial (the last epoch's file) the name is longer "
            f"than {_NAME_MAX} bytes; give a shorter one"
        )
    if os.path.lexists(partial) and not resume:
        raise FileExistsError(
            f"{partial} holds the last epoch of an interrupted run: resume from "
            "it (resume=True; --resume on the command line) or remove it."
        )


def _network(model: Any) -> ResNetClassifier:
    given = model
    if isinstance(model, Pipeline):
        model = model.steps[-1][1]
    if isinstance(model, RecordingClassifier):
        model = getattr(model, "estimator_", None)
    if not isinstance(model, ResNetClassifier) or not hasattr(model, "net_"):
        # an unfitted pipeline's network is None: "got NoneType" said nothing
        got = type(given).__name__ + (" not fitted" if model is None else "")
        raise TypeError(
            "save_backbone needs a fitted ResNetClassifier, or a pipeline or "
            f"RecordingClassifier ending in one; got {got}"
        )
    return model


def save_backbone(
    model: Any,
    path: str | os.PathLike,
    *,
    card: Mapping[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write a fitted network's weights as a tensor-only state dict.

    The file holds tensors only (``torch.save(module.state_dict())``, an
    ``image_shape`` entry, the size of the images it learnt on: fine-tuning
    on images of another size is warned about, and the card as the bytes of
    its JSON), so loading it with ``weights_only=True`` cannot run code. The
    head (``fc``) and the input standardisation are saved too but are not
    loaded as a backbone: they belong to the pretraining task.

    Parameters
    ----------
    model : Pipeline, RecordingClassifier or ResNetClassifier
        Fitted, ending in a :class:`~vascular_sklearn.network.ResNetClassifier`.
    path : path-like
        The file to write (written to a temporary name, then renamed: an
        interrupted write leaves no half file under ``path``).
    card : mapping or None, default=None
        What the backbone was pretrained on, as plain JSON values by name
        (:func:`~vascular_sklearn.model_card.check_card`): whoever fine-tunes
        from it reads it with
        :func:`~vascular_sklearn.model_card.read_model_card` or
        ``vascular-sklearn describe``, and ``train --weights`` copies it into
        its model's card.
    overwrite : bool, default=False
        Replace an existing file.

    Returns
    -------
    path : Path

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is False.
    TypeError
        If ``model`` holds no fitted ResNetClassifier, or ``card`` is not a
        mapping with string keys.
    ValueError
        If a value of ``card`` is not a JSON value.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from vascular_sklearn.network import ResNetClassifier, read_weights
    >>> X = np.random.default_rng(0).random((8, 1, 16, 16), dtype=np.float32)
    >>> clf = ResNetClassifier("resnet18", max_epochs=1, batch_size=4,
    ...                        device="cpu", random_state=0).fit(X, [0, 1] * 4)
    >>> path = save_backbone(clf, tempfile.mkdtemp() + "/backbone.pt")
    >>> "net.layer4.1.conv2.weight" in read_weights(path)
    True
    """
    network = _network(model)
    card = check_card(card)
    path = Path(check_output(path, overwrite))
    state = _backbone_state(
        network.net_.module_, getattr(network, "image_shape_", None), card
    )
    with replacing(os.fspath(path), overwrite) as tmp:
        torch.save(state, tmp)
    return path


def pretrain(
    X: Any,
    y: Any,
    path: str | os.PathLike,
    *,
    pipeline: Pipeline | None = None,
    groups: Any = None,
    sample_weight: Any = None,
    card: Mapping[str, Any] | None = None,
    resume: bool = False,
    overwrite: bool = False,
) -> Pipeline:
    """Train the cycle network on a corpus and save its weights as a backbone.

    Each epoch's weights go to :func:`partial_path` as training runs; the
    backbone is written to ``path`` at the end and the partial file removed.
    A run that stops (power cut, time limit) starts again with
    ``resume=True`` from the weights of its last finished epoch, and trains
    the pipeline's full ``max_epochs`` from there (the head and the
    optimiser's state start afresh).

    Parameters
    ----------
    X : Signals, RecordingFiles or sequence of recordings
        The corpus, at any sample rate the pipeline reads (2 kHz heart sounds
        with the default).
    y : array-like of shape (n_recordings,)
        Labels (1 = abnormal: a murmur, a stenosis).
    path : path-like
        The backbone file to write.
    pipeline : Pipeline or None, default=None
        Ending in a :class:`~vascular_sklearn.RecordingClassifier` around a
        :class:`~vascular_sklearn.network.ResNetClassifier`; ``None`` means
        ``make_stenosis_pipeline(random_state=0)`` showing its progress
        (skorch's table of epochs, ``verbose=1``) and leaving out of training
        the few recordings of a large corpus in which no beat is found
        (``classifier__on_empty="prior"``). Its network
        architecture must be the one that will be fine-tuned.
    groups : array-like or None, default=None
        Subject or site of each recording, passed to the classifier.
    sample_weight : array-like of shape (n_recordings,) or None, default=None
        Weight of each recording in training, passed to the classifier; 0
        leaves a recording out. ``device_properties(X)["rounding_snr_db"] >=
        COARSE_LIMIT_DB`` leaves out the recordings screening would flag
        coarse (:func:`~vascular_sklearn.evaluation.device_properties`,
        :data:`~vascular_sklearn.screening.COARSE_LIMIT_DB`), whose converter
        can tell the label (``vascular-sklearn pretrain --skip-coarse``).
    card : mapping or None, default=None
        What the backbone is pretrained on, stored in its file
        (:func:`save_backbone`; checked before training starts).
    resume : bool, default=False
        Start from the partial weights of an interrupted run, if any. Without
        it, partial weights already there are refused; so are, with it,
        partial weights of a run on other recordings or labels (told apart
        by each recording's label and number of cycles, in order, not by
        its sound: a corpus cut alike passes).
    overwrite : bool, default=False
        Replace an existing ``path``.

    Returns
    -------
    pipeline : Pipeline
        The fitted pipeline (its network is the backbone).

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is False, or an interrupted run's
        partial weights (:func:`partial_path`) exist and ``resume`` is False.
    TypeError, ValueError
        As :func:`save_backbone`, for a ``card`` it cannot store; TypeError
        too if ``pipeline`` does not end in a RecordingClassifier around a
        ResNetClassifier; ValueError too if ``resume`` finds partial weights of
        a run on other recordings or labels.

    Examples
    --------
    >>> import tempfile
    >>> from vascular_sklearn.datasets import make_recordings
    >>> data = make_recordings(2, 2, 4.0, sample_rate=2000.0, random_state=0)
    >>> path = tempfile.mkdtemp() + "/backbone.pt"
    >>> _ = pretrain(data.recordings, data.target, path, pipeline=
    ...     make_stenosis_pipeline(max_epochs=1, random_state=0, device="cpu"))
    >>> fine_tune = make_stenosis_pipeline(weights_path=path, backbone_lr=1e-4)
    """
    path = Path(check_output(path, overwrite))  # before hours of training
    card = check_card(card)
    check_partial(path, resume)
    if pipeline is None:
        pipeline = make_stenosis_pipeline(
            random_state=0,
            classifier__estimator__verbose=1,
            classifier__on_empty="prior",
        )
    # a bare RecordingClassifier, which save_backbone takes, has no steps
    name, classifier = getattr(pipeline, "steps", [(None, pipeline)])[-1]
    if (
        name is None
        or not isinstance(classifier, RecordingClassifier)
        or not isinstance(classifier.estimator, (ResNetClassifier, type(None)))
    ):
        raise TypeError(
            "pretrain needs a pipeline ending in a RecordingClassifier around a "
            "ResNetClassifier (its signal steps make the images); "
            + ("its last step is" if name else "got")
            + f" {classifier!r}"
        )
    net = f"{name}__estimator__"
    partial = partial_path(path)
    params = {f"{net}checkpoint_path": str(partial)}
    if resume and partial.exists():
        params[f"{net}weights_path"] = str(partial)
    # given back afterwards: a refit of the returned pipeline should neither
    # write checkpoints nor start from the partial file, which is removed
    if classifier.estimator is None:  # RecordingClassifier's default network
        before = {f"{name}__estimator": None}
        pipeline.set_params(**{f"{name}__estimator": ResNetClassifier()})
    else:
        before = {k: pipeline.get_params()[k] for k in params}
    # the checkpoint is written over while the network starts from it: read it
    # into the network before the first epoch ends (skorch builds the module
    # at fit's start), so that is safe
    pipeline.set_params(**params)
    given = {"groups": groups, "sample_weight": sample_weight}
    fit_params = {f"{name}__{k}": v for k, v in given.items() if v is not None}
    try:
        pipeline.fit(X, y, **fit_params)
    finally:
        pipeline.set_params(**before)
        # the fitted network is a clone made with the partial file's settings:
        # given back too, or save_model records them and a refit of it writes
        # a stale partial file that the next pretrain refuses
        fitted = getattr(pipeline.steps[-1][1], "estimator_", None)
        if isinstance(fitted, ResNetClassifier):
            fitted.set_params(**{k.removeprefix(net): before.get(k) for k in params})
    save_backbone(pipeline, path, card=card, overwrite=overwrite)
    partial.unlink(missing_ok=True)
    return pipeline
