"""The cycle-level network: torchvision's ResNet on one-channel spectrograms."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import threading
import warnings
from collections.abc import Iterator, Mapping
from numbers import Integral, Real
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import DataConversionWarning
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    check_is_fitted,
    check_random_state,
    column_or_1d,
)

from ._base import (
    CycleImageClassifier,
    _plain,
    _refuse_missing,
    as_probabilities,
    check_image_shape,
    check_images,
    check_sample_weight,
)
from ._output import check_output, replacing
from .exceptions import WeightsFileError, _missing
from .model_card import _RESERVED

try:
    import torch
    from skorch import NeuralNetClassifier
    from skorch.callbacks import Callback
    from skorch.hf import AccelerateMixin
    from torch import nn
    from torchvision import models
except ImportError as err:  # the screening runtime installs without them
    raise ImportError(
        f"the network needs torch, torchvision and skorch ({err}); install them "
        "with: pip install 'vascular-sklearn[network]'"
    ) from err

__all__ = [
    "CycleResNet",
    "ResNetClassifier",
    "augment_batch",
    "check_device",
    "read_weights",
    "resolve_device",
]

_ARCHS = {
    "resnet18": models.resnet18,
    "resnet34": models.resnet34,
    "resnet50": models.resnet50,
}


class CycleResNet(nn.Module):
    """A torchvision ResNet for 1-channel spectrograms with a ``n_classes`` head.

    As in the original study, ``conv1`` becomes a 1-channel 5x5 convolution with
    stride 2 and padding 3. Weights start random (``weights=None``: nothing is
    downloaded); ``weights_path`` loads a local state dict as a backbone, either
    of this module or of a 3-channel torchvision ResNet, whose ``conv1`` kernels
    are summed over RGB and cropped to their central 5x5 to fit. The head
    (``fc``) and the input standardisation are never loaded, this module's own
    included: they belong to the new task.

    Parameters
    ----------
    arch : {"resnet18", "resnet34", "resnet50"}, default="resnet50"
    n_classes : int, default=2
    weights_path : path-like or None, default=None
        Local ``.pt``/``.pth`` state dict, read with ``weights_only=True``.
    keep_maxpool : bool, default=True
        ``False`` replaces the stem's max-pool by identity: more resolution in
        the last stage for small inputs, at about 4x the compute.
    autocast : bool, default=False
        Run the forward pass under ``autocast_dtype`` autocast (mixed
        precision, CPU or CUDA).
    autocast_dtype : {"bfloat16", "float16"}, default="bfloat16"
        ``"float16"`` is for inference, or for a training loop that scales the
        loss (:class:`torch.amp.GradScaler`): without it, small gradients
        round to zero.
    channels_last : bool, default=False
        Use the channels-last memory format.
    input_mean, input_std : float, default=0.0, 1.0
        Inputs are standardised as ``(x - input_mean) / input_std`` inside the
        module (kept as buffers, so a saved model carries them; a backbone
        loaded through ``weights_path`` does not, see above).
    augment : bool, default=False
        In training mode only, augment each batch (:func:`augment_batch`).
    freeze_stages : int, default=0
        Train none of the stem (``conv1``, ``bn1``) and the first
        ``freeze_stages`` of the four residual stages: with a pretrained
        backbone, fine-tuning on a few patients then moves only the later
        stages and the head. 0 trains everything.
    image_shape : tuple of int or None, default=None
        The (channels, rows, frames) of the images it will be trained on: a
        backbone that :func:`~vascular_sklearn.pretraining.save_backbone`
        wrote for images of another size is warned about.

    Examples
    --------
    >>> import torch
    >>> net = CycleResNet("resnet18")
    >>> net(torch.zeros(2, 1, 40, 100)).shape
    torch.Size([2, 2])
    """

    def __init__(
        self,
        arch: str = "resnet50",
        n_classes: int = 2,
        weights_path: str | os.PathLike | None = None,
        keep_maxpool: bool = True,
        autocast: bool = False,
        autocast_dtype: str = "bfloat16",
        channels_last: bool = False,
        input_mean: float = 0.0,
        input_std: float = 1.0,
        augment: bool = False,
        freeze_stages: int = 0,
        image_shape: tuple[int, ...] | None = None,
    ) -> None:
        super().__init__()
        net = _ARCHS[arch](weights=None)
        own_conv1 = (
            None
            if weights_path is None
            else _load_backbone(net, weights_path, image_shape)
        )
        net.conv1 = _one_channel_conv(net.conv1)
        if own_conv1 is not None:
            net.conv1.weight.data.copy_(own_conv1)
        net.fc = nn.Linear(net.fc.in_features, n_classes)
        if not keep_maxpool:
            net.maxpool = nn.Identity()
        self.net = net
        self.freeze_stages = freeze_stages
        for part in self.frozen_parts():
            part.requires_grad_(False)
        self.register_buffer("input_mean", torch.tensor(float(input_mean)))
        self.register_buffer("input_std", torch.tensor(float(input_std)))
        self.augment = augment
        self.autocast = autocast
        self.autocast_dtype = getattr(torch, autocast_dtype)
        self.channels_last = channels_last
        if channels_last:
            self.net = self.net.to(memory_format=torch.channels_last)

    def frozen_parts(self) -> list[nn.Module]:
        """The stem and the first ``freeze_stages`` stages; none when 0.

        Returns
        -------
        parts : list of Module
        """
        if not self.freeze_stages:
            return []
        net = self.net
        return [net.conv1, net.bn1] + [
            getattr(net, f"layer{k}") for k in range(1, self.freeze_stages + 1)
        ]

    def train(self, mode: bool = True) -> CycleResNet:
        """Set training mode, frozen parts excepted: their BatchNorm keeps the
        statistics it was loaded with, as their weights do.

        Parameters
        ----------
        mode : bool, default=True

        Returns
        -------
        self : CycleResNet
        """
        super().train(mode)
        for part in self.frozen_parts():
            part.eval()
        return self

    def forward(self, x: torch.Tensor, **_fit_params: Any) -> torch.Tensor:
        """Standardise (and in training, augment) a batch; return class logits.

        Parameters
        ----------
        x : Tensor of shape (n, 1, F, T)
        **_fit_params
            Ignored: skorch hands every fit parameter to ``forward`` too.

        Returns
        -------
        logits : Tensor of shape (n, n_classes), float32
        """
        x = (x - self.input_mean) / self.input_std
        if self.augment and self.training:
            x = augment_batch(x)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(x.device.type, self.autocast_dtype, enabled=self.autocast):
            logits = self.net(x)
        return logits.float()


def augment_batch(
    x: torch.Tensor,
    max_shift: float = 0.05,
    max_gain: float = 0.5,
    noise: float = 0.1,
    max_mask: float = 0.15,
) -> torch.Tensor:
    """Randomly perturb a batch of standardised spectrograms (n, 1, F, T).

    Each image is rolled in time by up to ``max_shift`` of its width either way
    (the peak-finder's jitter; a larger roll would hide where systole falls in
    the cycle, which carries the signal), shifted by a random offset up to
    ``max_gain`` (a gain in log units), given Gaussian noise of std ``noise``,
    and one band of frequencies and one span of frames, each up to ``max_mask``
    of the axis, are set to 0 (the mean of standardised inputs; SpecAugment).
    Draws come from torch's generator of the batch's device, which the
    classifier seeds.

    Parameters
    ----------
    x : Tensor of shape (n, 1, F, T)
        Standardised spectrograms.
    max_shift : float, default=0.05
        Largest time roll, as a share of the width.
    max_gain : float, default=0.5
        Largest offset added to an image (a gain in log units).
    noise : float, default=0.1
        Standard deviation of the added Gaussian noise.
    max_mask : float, default=0.15
        Largest masked band and span, as a share of each axis.

    Returns
    -------
    augmented : Tensor of the shape of ``x``

    Examples
    --------
    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> x = torch.randn(4, 1, 40, 100)
    >>> y = augment_batch(x)
    >>> y.shape == x.shape, bool((y != x).any())
    (True, True)
    """
    n, _, f, t = x.shape
    dev = x.device
    most = int(max_shift * t)
    shift = torch.randint(-most, most + 1, (n, 1), device=dev)
    cols = (torch.arange(t, device=dev)[None, :] + shift) % t
    x = torch.gather(x, 3, cols[:, None, None, :].expand(n, 1, f, t))
    gain = (torch.rand(n, 1, 1, 1, device=dev) * 2 - 1) * max_gain
    x = x + gain + noise * torch.randn_like(x)
    keep = torch.ones_like(x, dtype=torch.bool)
    for axis, size in ((2, f), (3, t)):
        width = torch.randint(0, max(1, int(max_mask * size)) + 1, (n, 1), device=dev)
        start = (torch.rand(n, 1, device=dev) * (size - width + 1)).long()
        pos = torch.arange(size, device=dev)[None, :]
        band = (pos >= start) & (pos < start + width)
        shape = (n, 1, size, 1) if axis == 2 else (n, 1, 1, size)
        keep &= ~band.view(shape)
    return x * keep


#: The side of the original's one-channel first kernel.
_CONV1_KERNEL = 5


def _one_channel_conv(rgb: nn.Conv2d) -> nn.Conv2d:
    """The original's 5x5 stride-2 conv; from pretrained RGB kernels if given."""
    conv = nn.Conv2d(
        1, rgb.out_channels, kernel_size=_CONV1_KERNEL, stride=2, padding=3, bias=False
    )
    if getattr(rgb, "_pretrained", False):
        with torch.no_grad():
            summed = rgb.weight.sum(dim=1, keepdim=True)  # (out, 1, 7, 7)
            conv.weight.copy_(summed[:, :, 1:-1, 1:-1])
    return conv


def read_weights(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Read a tensor-only state dict, refusing anything that could run code.

    Parameters
    ----------
    path : path-like
        A file written by ``torch.save(module.state_dict(), path)``, such as
        :func:`~vascular_sklearn.pretraining.save_backbone` writes.

    Returns
    -------
    state : dict of str to Tensor

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    WeightsFileError
        If the file is not a state dict of tensors: a pickled model or other
        Python objects (``torch.load(weights_only=True)`` refuses to build
        them, since unpickling can run any code), or not a torch file at all.

    Examples
    --------
    >>> import tempfile, torch
    >>> path = tempfile.mkdtemp() + "/w.pt"
    >>> torch.save({"fc.bias": torch.zeros(2)}, path)
    >>> list(read_weights(path))
    ['fc.bias']
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: {_missing(path, 'a weights file')}")
    if not os.path.getsize(path):
        raise WeightsFileError(f"{path} is empty; save the weights again.")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except MemoryError:
        raise
    # torch.load fails on a cut-off or foreign file in many ways (OSError,
    # IndexError, ...); each means the same to the user
    except Exception as err:
        from ._model_spec import is_model_file

        if is_model_file(path):
            raise WeightsFileError(
                f"{path} is a model file from train (save_model), not a backbone: "
                "--weights (weights_path) takes the .pt file pretrain writes "
                "(save_backbone)"
            ) from err
        # torch's own text advises weights_only=False, which runs the file's
        # code (in words too: "Weights only load failed. This file can still
        # be loaded..."); some failures carry no text at all (a bare EOFError)
        lines = str(err).strip().splitlines()
        reason = lines[0].strip() if lines else ""
        if "weights_only" in reason or "weights only" in reason.lower():
            reason = "not a torch state dict"
        elif not reason:
            reason = (
                "it ends early: cut off?"
                if isinstance(err, EOFError)
                else type(err).__name__
            )
        raise WeightsFileError(
            f"{path} is not a tensor-only weights file ({reason}). "
            "Weights are read with weights_only=True, which refuses pickled "
            "models and other objects: save them with "
            "torch.save(module.state_dict(), path) or "
            "vascular_sklearn.pretraining.save_backbone."
        ) from err
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise WeightsFileError(
            f"{path} holds a {type(state).__name__}, not a state dict of tensors "
            "(torch.save(module.state_dict(), path))."
        )
    return state


def _arch_of(state: dict) -> str | None:
    """Which of :data:`_ARCHS` a torchvision ResNet state dict is, by its
    blocks: the third stage's count and whether they are bottlenecks."""
    parts = [k.split(".") for k in state if k.startswith("layer3.")]
    blocks = {int(p[1]) for p in parts if len(p) > 1 and p[1].isdigit()}
    bottleneck = any(k.startswith("layer1.0.conv3.") for k in state)
    shape = (bottleneck, max(blocks) + 1 if blocks else 0)
    return {(False, 2): "resnet18", (False, 6): "resnet34", (True, 6): "resnet50"}.get(
        shape
    )


#: The entry of a backbone file that records the size of its training images.
IMAGE_SHAPE_KEY = "image_shape"
#: The entry of a backbone file that holds its card (what it was pretrained
#: on), as the bytes of a JSON object: a tensor, so the file stays tensor-only.
CARD_KEY = "card"
#: The card entry of a checkpoint naming what its run trains on (a digest);
#: check_card refuses it in a user's card.
_TRAINED_ON = _RESERVED


def _card_tensor(card: dict) -> torch.Tensor:
    """A card (plain JSON values) as the uint8 tensor a backbone file holds."""
    return torch.frombuffer(bytearray(json.dumps(card).encode()), dtype=torch.uint8)


def _backbone_card(state: dict[str, torch.Tensor]) -> dict:
    """The card a backbone's tensors hold (empty for a file without one).

    Raises
    ------
    ValueError
        A card that is not the bytes of a JSON text.
    """
    card = state.get(CARD_KEY)
    if card is None:
        return {}
    # bytes() of another tensor's values fails with a TypeError that names
    # neither the file nor its card
    if card.dtype != torch.uint8 or card.dim() != 1:
        raise ValueError(
            f"a tensor of {card.dtype} and shape {tuple(card.shape)}, not the "
            "bytes of a JSON text"
        )
    return json.loads(bytes(card.tolist()).decode())


def _pretrained_shape(
    state: dict[str, torch.Tensor], path: str | os.PathLike
) -> tuple | None:
    """The size of a backbone's training images it records, if it does.

    Raises
    ------
    WeightsFileError
        An entry that is not three whole numbers, naming ``path``.
    """
    shape = state.get(IMAGE_SHAPE_KEY)
    if shape is None:
        return None
    if (
        shape.dim() != 1
        or len(shape) != 3
        or shape.dtype.is_floating_point
        or shape.dtype.is_complex
        or shape.dtype == torch.bool
        or bool((shape < 1).any())  # no image has a size of 0 or less
    ):
        raise WeightsFileError(
            f"{path}: its {IMAGE_SHAPE_KEY} entry is damaged (a tensor of "
            f"{shape.dtype} and shape {tuple(shape.shape)}, not the 3 whole "
            "numbers of an image's size)"
        )
    return tuple(int(d) for d in shape.tolist())


def _check_weights(
    state: Mapping,
    expected: Mapping,
    path: str | os.PathLike,
    error: type[ValueError] = WeightsFileError,
) -> None:
    """Refuse weights no training could have saved for the network's
    floating-point tensors: NaN or infinite values (a network that can only
    answer NaN) or integers, booleans or complex numbers (cast without a word,
    or with a warning, into other weights), as ``error``."""
    for key, tensor in state.items():
        if key not in expected or not expected[key].is_floating_point():
            continue  # an unknown key or a counter: load_state_dict judges
        is_tensor = isinstance(tensor, torch.Tensor)
        # sparse: torch's own error further on named no file
        sparse = is_tensor and tensor.layout != torch.strided
        if not is_tensor or not tensor.is_floating_point() or sparse:
            found = getattr(tensor, "dtype", type(tensor).__name__)
            what = f"{found} values, not floating-point numbers"
            if sparse:
                what = f"a sparse tensor ({found}), not a dense one"
            raise error(f"{path}: the network weights are damaged ({key} holds {what})")
        if not bool(torch.isfinite(tensor).all()):
            raise error(
                f"{path}: the network weights are damaged ({key} holds NaN or "
                "infinite values: the network could only answer NaN)"
            )
        # fit stores a spread of 1 for inputs without one: 0 divides by zero
        if key.endswith("input_std") and not bool((tensor > 0).all()):
            raise error(
                f"{path}: the network weights are damaged ({key} is "
                f"{float(tensor.min()):g}, not a positive spread: the network "
                "could only answer NaN)"
            )


def _load_backbone(
    net: nn.Module, path: str | os.PathLike, image_shape: tuple[int, ...] | None = None
) -> torch.Tensor | None:
    """Load all but the head; return a 1-channel ``conv1`` kernel to reuse, if any.
    A backbone pretrained on images of another size than ``image_shape`` is
    warned about: its filters learnt other frequencies and times per pixel."""
    state = read_weights(path)
    state.pop(CARD_KEY, None)  # what it was pretrained on: for describe
    pretrained = _pretrained_shape(state, path)
    state.pop(IMAGE_SHAPE_KEY, None)
    if pretrained is not None and image_shape is not None:
        if pretrained[1:] != tuple(image_shape)[1:]:
            warnings.warn(
                f"{path} was pretrained on images of {pretrained[1]} x "
                f"{pretrained[2]} (frequency rows x frames), these are "
                f"{image_shape[1]} x {image_shape[2]}: pretrain with the "
                "spectrogram settings you fine-tune with",
                UserWarning,
                stacklevel=2,
            )
    state = {k.removeprefix("net."): v for k, v in state.items()}
    # the head and the input standardisation belong to the new task
    skip = ("fc.", "input_mean", "input_std")
    state = {k: v for k, v in state.items() if not k.startswith(skip)}
    own_conv1 = None
    if state.get("conv1.weight") is not None and state["conv1.weight"].shape[1] != 3:
        own_conv1 = state.pop("conv1.weight")
    else:
        net.conv1._pretrained = True
    expected = net.state_dict()
    resized = {
        k: (tuple(v.shape), tuple(expected[k].shape))
        for k, v in state.items()
        if k in expected and v.shape != expected[k].shape
    }
    # old torchvision files predate BatchNorm's batch counter
    missing = [
        k
        for k in expected
        if k not in state
        and not k.startswith("fc.")
        and not k.endswith("num_batches_tracked")
    ]
    if own_conv1 is not None:
        missing.remove("conv1.weight")
        # the one-channel kernel this arch's network makes
        own = (expected["conv1.weight"].shape[0], 1, _CONV1_KERNEL, _CONV1_KERNEL)
        if tuple(own_conv1.shape) != own:
            resized["conv1.weight"] = (tuple(own_conv1.shape), own)
    unexpected = [k for k in state if k not in expected]
    if resized or missing or unexpected:
        shapes = [f"{k}: {a} here {b}" for k, (a, b) in list(resized.items())[:2]]
        arch = _arch_of(state)
        # the fix first: the tensors' names and sizes are for whoever digs
        fix = (
            f"it holds a {arch}: pass arch={arch!r} (--arch {arch} on the command line)"
            if arch
            else "pass the arch the file was trained with"
        )
        raise WeightsFileError(
            f"{path} does not hold weights for this architecture; {fix} "
            f"(another size: {shapes}, unexpected: {unexpected[:3]}, "
            f"missing: {missing[:3]})"
        )
    # at the start, not as "training diverged" after every epoch
    _check_weights(state, expected, path)
    net.load_state_dict(state, strict=False)
    return own_conv1


@contextlib.contextmanager
def _seeded(seed: int, device: str) -> Iterator[None]:
    """torch's global generators seeded for one fit and given back as they
    were: a user's own draws after ``fit`` do not depend on having trained."""
    on = torch.device(device)
    # every GPU, seeded as torch.manual_seed does (a launched process trains
    # on its own) and given back; on the CPU, no GPU's generator is touched
    # (torch.manual_seed seeded them all, and fork_rng gave none back)
    gpus = list(range(torch.cuda.device_count())) if on.type == "cuda" else []
    with torch.random.fork_rng(devices=gpus):
        torch.default_generator.manual_seed(seed)
        if gpus:
            torch.cuda.manual_seed_all(seed)
        yield


def resolve_device(device: str) -> str:
    """Resolve ``"auto"`` to ``"cuda"`` when a GPU is visible, else ``"cpu"``.

    Parameters
    ----------
    device : str
        ``"auto"``, or a torch device name, returned unchanged.

    Returns
    -------
    device : str

    Examples
    --------
    >>> resolve_device("cpu")
    'cpu'
    """
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def check_device(device: str) -> str:
    """Resolve ``device`` as :func:`resolve_device`, refusing what cannot run.

    A name torch cannot parse and a CUDA GPU this machine does not have are
    refused in words (torch's own errors came from deep inside a fit or a
    load); other device types are torch's to judge.

    Parameters
    ----------
    device : str
        ``"auto"``, or a torch device name.

    Returns
    -------
    device : str
        The device resolved.

    Raises
    ------
    ValueError
        Not a device name, or a CUDA device that is not visible.

    Examples
    --------
    >>> check_device("cpu")
    'cpu'
    """
    resolved = resolve_device(device)
    try:
        on = torch.device(resolved)
    except (RuntimeError, ValueError) as err:
        raise ValueError(f"device {device!r} is not a device name: {err}") from err
    if on.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if (on.index or 0) >= count:
            raise ValueError(
                f"device {device!r}: {count} CUDA GPUs are visible; use 'cpu'"
                + (f" or 'cuda:0' to 'cuda:{count - 1}'" if count else "")
            )
    return resolved


def _one_per_cycle(values: Any, name: str) -> np.ndarray:
    """``values`` as a 1-D array, a column (n, 1) taken with a warning as
    scikit-learn takes ``y`` (column_or_1d names no input before 1.7)."""
    _refuse_missing(values, f"{name} hold no id", "cycle")
    values = np.asarray(values)
    if values.ndim == 2 and values.shape[1] == 1:
        warnings.warn(
            f"{name} was passed as a column (n, 1); it is taken as a 1-D array",
            DataConversionWarning,
            stacklevel=4,
        )
        values = values.ravel()
    if values.ndim != 1:
        raise ValueError(
            f"{name} should be a 1d array, one entry per cycle; got an array "
            f"of shape {values.shape}"
        )
    return values


def _accelerator(cpu: bool, mixed_precision: str) -> Any:
    """An ``accelerate.Accelerator`` with these settings. accelerate keeps one
    state per process, shared by every accelerator in it, and refused another
    precision after the first (a second fit with another ``autocast``
    failed). In a plain process the precision starts over, as transformers'
    Trainer does (trained networks predict outside the accelerator's
    autocast); the device cannot: the networks already made place their
    batches on it (and a GPU asked for after the CPU trained on the CPU)."""
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState, PartialState

    if AcceleratorState._shared_state:
        state = AcceleratorState()
        launched = PartialState().num_processes > 1
        if (state.device.type == "cpu") != cpu or (
            launched and state.mixed_precision != mixed_precision
        ):
            raise ValueError(
                f"accelerate=True: this process's accelerator runs "
                f"{state.mixed_precision} precision on {state.device}, and "
                f"accelerate keeps one device (and, when launched, one "
                f"precision) per process: fit on {'cpu' if cpu else 'a GPU'} "
                f"with {mixed_precision} precision in a process of its own, or "
                "with accelerate=False"
            )
        if state.mixed_precision != mixed_precision:
            AcceleratorState._reset_state()
    return Accelerator(cpu=cpu, mixed_precision=mixed_precision)


class _CapPerGroupSampler(torch.utils.data.Sampler):
    """Each epoch, a fresh random draw of at most ``cap`` items per group."""

    def __init__(self, groups: np.ndarray, cap: int, seed: int) -> None:
        self.groups = groups
        self.cap = cap
        self.rng = np.random.default_rng(seed)
        _, self.counts = np.unique(groups, return_counts=True)

    def __len__(self) -> int:
        return int(np.minimum(self.counts, self.cap).sum())

    def __iter__(self) -> Iterator[int]:
        order = self.rng.permutation(len(self.groups))
        # stable sort by group of a random permutation = random order within group
        by_group = order[np.argsort(self.groups[order], kind="stable")]
        starts = np.concatenate([[0], np.cumsum(self.counts)[:-1]])
        rank = np.arange(len(by_group)) - np.repeat(starts, self.counts)
        chosen = by_group[rank < self.cap]
        return iter(self.rng.permutation(chosen).tolist())


def _drawn_per_class(labels: np.ndarray, groups: np.ndarray, cap: int) -> np.ndarray:
    """Cycles of each class :class:`_CapPerGroupSampler` draws an epoch, on
    average (each cycle of a group of ``n`` is drawn with chance
    ``min(n, cap) / n``)."""
    _, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
    chance = np.minimum(counts, cap) / counts
    return np.bincount(labels, weights=chance[inverse.ravel()])


def _backbone_state(
    module: nn.Module, image_shape: tuple[int, ...] | None, card: dict | None = None
) -> dict[str, torch.Tensor]:
    """A network's tensors as a backbone file holds them: its state dict on the
    CPU, under :data:`IMAGE_SHAPE_KEY` the size of its training images (which
    fine-tuning on images of another size is warned about) and under
    :data:`CARD_KEY` its card, if any."""
    state = {
        k: v.detach().to("cpu").contiguous() for k, v in module.state_dict().items()
    }
    if image_shape is not None:
        state[IMAGE_SHAPE_KEY] = torch.tensor(image_shape)
    if card:
        state[CARD_KEY] = _card_tensor(card)
    return state


class _EpochWeights(Callback):
    """Write the module's tensors to ``path`` after every epoch, whole: skorch's
    Checkpoint writes in place, and a run stopped mid-write (the power cut a
    checkpoint is for) left a truncated file instead of the last epoch."""

    def __init__(
        self,
        path: str,
        image_shape: tuple[int, ...] | None = None,
        card: dict | None = None,
    ) -> None:
        self.path, self.image_shape, self.card = path, image_shape, card

    def on_train_begin(self, net, **kwargs) -> None:
        # the file this run may replace: none, or the one it resumes from
        self.written_ = _file_identity(self.path)

    def on_epoch_end(self, net, **kwargs) -> None:
        # fit's check saw no file (or the one it resumes from), but a second
        # run started meanwhile with the same path writes there too: each would
        # replace the other's epochs, and a resume go on from the other run
        found = _file_identity(self.path)
        if found is not None and found != getattr(self, "written_", None):
            raise FileExistsError(
                f"checkpoint {self.path} was written by another run while this "
                "one trained: give each run its own output"
            )
        with replacing(self.path) as tmp:
            torch.save(_backbone_state(net.module_, self.image_shape, self.card), tmp)
        self.written_ = _file_identity(self.path)


def _file_identity(path: str) -> tuple[int, int, int] | None:
    """Which file ``path`` names now (``None``: none), told apart from one
    written in its place."""
    try:
        found = os.stat(path)
    except FileNotFoundError:
        return None
    return found.st_dev, found.st_ino, found.st_mtime_ns


def _trained_on(classes: np.ndarray, y_enc: np.ndarray, recordings: np.ndarray) -> str:
    """A digest of the recordings a fit trains on (their cycles each) and
    their labels, which a checkpoint records: exact, unlike the images, which
    move with the CPU."""
    _, first, counts = np.unique(recordings, return_index=True, return_counts=True)
    order = np.argsort(first)  # as given
    seen = [[str(c) for c in classes], [str(r) for r in recordings[first[order]]]]
    # two corpora of as many recordings, labelled alike, differ in their cycles
    seen += [y_enc[first[order]].tolist(), counts[order].tolist()]
    return hashlib.sha256(json.dumps(seen).encode()).hexdigest()


def _check_checkpoint_free(
    path: str | os.PathLike, weights_path: Any, trained_on: str
) -> None:
    """Refuse a checkpoint file that exists, unless the network starts from it
    (a resumed run) and it was written by a fit on these recordings and labels:
    every epoch writes it over, and it may be a user's own. One that cannot be
    written (no such folder) is refused too, before the first epoch rather than
    after it."""
    check_output(path, overwrite=True)
    if not os.path.lexists(path):
        return
    if weights_path is not None and os.path.exists(weights_path):
        if os.path.samefile(path, weights_path):
            # a resume given another corpus went on from the first one's
            # weights and saved the mix as trained on the second, without a word
            try:
                card = _backbone_card(read_weights(path))
            except (UnicodeDecodeError, ValueError, RecursionError):
                card = {}  # a damaged card records no run; the weights still load
            found = card.get(_TRAINED_ON) if isinstance(card, dict) else None
            if found is None:
                # a backbone or a user's weights, no checkpoint: the first
                # epoch wrote over it, and over the card of what it was made on
                raise FileExistsError(
                    f"checkpoint_path {os.fspath(path)} is the weights_path this "
                    "fit starts from, and no checkpoint of a fit: every epoch "
                    "would write over it. Give checkpoint_path another name."
                )
            if found != trained_on:
                raise ValueError(
                    f"checkpoint_path {os.fspath(path)} holds the last epoch of a "
                    "run on other recordings or labels: resume with the corpus "
                    "that run was given; remove the file to start afresh, or "
                    "move it to another name and pass that as weights_path to "
                    "start from its weights."
                )
            return
    raise FileExistsError(
        f"checkpoint_path {os.fspath(path)} exists, and every epoch would write "
        "over it: choose another path or remove the file; to continue a run from "
        "it, pass the same file as weights_path."
    )


@contextlib.contextmanager
def _interrupts_stop_training() -> Iterator[None]:
    """Let Ctrl-C stop a fit. skorch takes a KeyboardInterrupt as the end of
    training (its early stopping raises one) and returns the net as fitted:
    an interrupted ``pretrain`` or ``train`` saved a half-trained network and
    said nothing. An interrupt by the user is noted here and raised again
    when skorch returns. Signals reach the main thread only."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous, pressed = signal.getsignal(signal.SIGINT), []

    def note(signum, frame):
        if not callable(previous):  # SIG_DFL: Python would stop here
            pressed.append(signum)
            raise KeyboardInterrupt
        try:
            previous(signum, frame)  # Python's own raises KeyboardInterrupt
        except KeyboardInterrupt:  # an application's own may not: then go on
            pressed.append(signum)
            raise

    # ignored, or set outside Python (None): not ours to replace
    if previous in (signal.SIG_IGN, None):
        yield
        return
    signal.signal(signal.SIGINT, note)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if pressed:
        raise KeyboardInterrupt("training interrupted")


@contextlib.contextmanager
def _torch_threads(n: int | None):
    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _bf16(device: str, emulated: bool) -> bool:
    """Whether ``device`` is a GPU that computes in bfloat16, natively or (with
    ``emulated``) also slowly, through float32, as GPUs before Ampere do."""
    if not device.startswith("cuda") or not torch.cuda.is_available():
        return False
    with torch.cuda.device(torch.device(device)):
        try:
            return torch.cuda.is_bf16_supported(including_emulation=emulated)
        except TypeError:  # torch before 2.3 counted no emulation
            return torch.cuda.is_bf16_supported()


class _WeightedNet(NeuralNetClassifier):
    """skorch's classifier, with a weight per cycle when ``fit`` gets them.

    Weighted training passes ``X`` as ``{"x": images, "sample_weight": w}`` and
    an unreduced criterion (skorch's recipe for sample weights); validation
    batches carry no weights and get the plain mean.
    """

    def get_loss(self, y_pred, y_true, X=None, training=False):
        loss = super().get_loss(y_pred, y_true, X=X, training=training)
        if loss.ndim == 0:
            return loss
        if isinstance(X, dict):
            return (loss * X["sample_weight"].to(loss)).mean()
        return loss.mean()


class _AcceleratedNet(AccelerateMixin, _WeightedNet):
    """skorch's classifier trained through Hugging Face ``accelerate``."""


class ResNetClassifier(CycleImageClassifier, ClassifierMixin, BaseEstimator):
    """A skorch ``NeuralNetClassifier`` around :class:`CycleResNet`, sklearn style.

    Trains on single-cycle spectrograms of shape (n, 1, F, T) with
    cross-entropy on logits. The skorch net is built in ``fit`` and kept as
    ``net_`` (its ``history`` shows the losses).

    Parameters
    ----------
    arch : {"resnet18", "resnet34", "resnet50"}, default="resnet50"
    max_epochs : int, default=10
    lr : float, default=1e-3
    batch_size : int, default=80
    optimizer : {"adam", "adamw", "sgd"}, default="adam"
    weight_decay : float, default=0.0
    device : str, default="auto"
        ``"cpu"``, ``"cuda"``, ``"cuda:1"``..., or ``"auto"`` (CUDA if available).
    class_weight : {"balanced"} or None, default=None
        Weigh the loss by inverse class frequency: of the cycles an epoch
        draws, with ``max_cycles_per_group``.
    early_stopping : int or None, default=None
        Patience in epochs. Holds out ``validation_fraction`` of the groups passed
        to ``fit`` (patients or recordings: never cycles of one group on both
        sides), stratified: each class keeps its share of cycles on both sides
        as far as the groups allow. Keeps the weights of the best validation
        loss.
    validation_fraction : float, default=0.2
        Held out as one fold of ``round(1 / validation_fraction)`` (at least 2,
        at most the number of groups and of the largest class's cycles): 0.2
        holds out a fifth, 0.3 a third.
    max_cycles_per_group : int or None, default=None
        Each epoch, train on a fresh random draw of at most this many cycles of
        each recording (``recordings`` passed to ``fit``, else ``groups``);
        cycles of one recording are near-duplicates.
    keep_maxpool, channels_last : bool
        See :class:`CycleResNet`.
    autocast : bool or None, default=None
        Mixed precision (bfloat16 autocast). ``None`` turns it on for CUDA
        devices that compute in bfloat16 (not those that only emulate it) and
        off elsewhere. ``True`` turns it on wherever bfloat16 runs, emulated
        included (CPU training ran 1.3 to 1.9x faster, inference 1.6 to 1.7x,
        over runs on one 2-core machine of this project, and 30x slower on
        another without bfloat16 instructions: measure before turning it on
        for a CPU; on an H100 the default's 1 x 20 x 100 images trained at
        0.88 to 1.01x float32's speed, float32 running there on TF32 tensor
        cores, for about 5 % less GPU memory); on a GPU without bfloat16 it
        is refused in ``fit``, as float16 training needs loss scaling. With
        ``accelerate=True`` the accelerator runs mixed precision instead
        (float16 with loss scaling on GPUs without bfloat16).
    accelerate : bool, default=False
        Train through skorch's ``AccelerateMixin`` and Hugging Face
        ``accelerate`` (``pip install vascular-sklearn[accelerate]``): launched
        with ``accelerate launch script.py`` on several GPUs, ``fit`` trains
        data-parallel across them; in a plain process it trains on the CPU
        or, for a CUDA ``device``, on the current GPU (accelerate takes no
        index: select the GPU with ``CUDA_VISIBLE_DEVICES``). Its mixed
        precision applies to training; predictions run in float32.
    standardize : bool, default=True
        Standardise inputs by the mean and standard deviation of the training
        images (stored in the module's buffers, applied at prediction too).
    augment : bool, default=False
        Augment training batches (:func:`augment_batch`): time roll, gain,
        noise, frequency and time masks.
    weights_path : path-like or None, default=None
        Local initial weights (see :class:`CycleResNet`), for instance a
        backbone from :func:`~vascular_sklearn.pretraining.pretrain`; read
        with ``weights_only=True`` (:func:`read_weights`).
    backbone_lr : float or None, default=None
        Learning rate of everything but the head (``fc``), which keeps
        ``lr``: fine-tuning a pretrained backbone gently (``lr / 10``, say)
        while the new head learns at full speed. ``None`` uses ``lr``.
    freeze_stages : int, default=0
        Stages not trained (see :class:`CycleResNet`); 0 to 4.
    checkpoint_path : path-like or None, default=None
        Write the network's weights (a tensor-only state dict, loadable as
        ``weights_path``) to this file after every epoch, so that a long run
        that stops can start again from its last epoch. A file already there
        is refused at fit unless it is also ``weights_path`` (the run goes on
        from it, as a backbone: the head and the optimiser's state start
        afresh, as :func:`~vascular_sklearn.pretraining.pretrain` says) and
        was written by a fit on the same recordings (ids, order, labels and
        cycles each: each checkpoint records a digest of them). Each
        fit writes it, so a search or cross-validation needs one path per fit,
        or none.
    torch_threads : int or None, default=None
        Threads torch uses during fit and predict (restored afterwards). With
        ``None``: ``min(8, os.cpu_count())`` when ``random_state`` is set, else
        torch's own setting. A thread count changes the order of torch's sums,
        and training amplifies the rounding into another model; joblib's and
        Dask's workers start torch with fewer threads than the main process,
        so without a fixed count a seeded fit gave another model under every
        backend.
    recalibrate_bn : bool, default=True
        After training, estimate BatchNorm's running statistics again, as a
        plain average over one pass of the training cycles with the final
        weights (as :func:`torch.optim.swa_utils.update_bn` does, leaving
        the BatchNorm layers of ``freeze_stages`` as they were; at most
        ``max_cycles_per_group`` cycles per recording). A short fit (tens of
        batches) leaves running averages that still mix in the initial
        statistics and earlier weights, and the network's answers at
        prediction then hardly depend on the input: on a small simulated set
        every training recording scored 0.00 without it and its own label
        with it.
    random_state : int, RandomState or None, default=None
        Seeds torch, the validation split and the sampling: same seed, same model
        on CPU.
    verbose : int, default=0

    Attributes
    ----------
    classes_ : ndarray
    image_shape_ : tuple of int
        The (channels, frequency rows, frames) of the training images;
        ``predict_proba`` refuses others.
    net_ : skorch.NeuralNetClassifier
    device_ : str
    validation_groups_ : ndarray
        With ``early_stopping``: the groups held out for validation.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).random((8, 1, 16, 16), dtype=np.float32)
    >>> clf = ResNetClassifier("resnet18", max_epochs=1, batch_size=4,
    ...                        device="cpu", random_state=0)
    >>> clf.fit(X, np.array([0, 1] * 4)).predict_proba(X).shape
    (8, 2)
    """

    _parameter_constraints: dict = {
        "arch": [StrOptions(set(_ARCHS))],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "optimizer": [StrOptions({"adam", "adamw", "sgd"})],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "device": [str],
        "class_weight": [StrOptions({"balanced"}), None],
        "early_stopping": [Interval(Integral, 1, None, closed="left"), None],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "max_cycles_per_group": [Interval(Integral, 1, None, closed="left"), None],
        "keep_maxpool": ["boolean"],
        "autocast": ["boolean", None],
        "accelerate": ["boolean"],
        "channels_last": ["boolean"],
        "standardize": ["boolean"],
        "augment": ["boolean"],
        "weights_path": [str, os.PathLike, None],
        "backbone_lr": [Interval(Real, 0, None, closed="neither"), None],
        "freeze_stages": [Interval(Integral, 0, 4, closed="both")],
        "checkpoint_path": [str, os.PathLike, None],
        "torch_threads": [Interval(Integral, 1, None, closed="left"), None],
        "recalibrate_bn": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        arch: str = "resnet50",
        max_epochs: int = 10,
        lr: float = 1e-3,
        batch_size: int = 80,
        optimizer: str = "adam",
        weight_decay: float = 0.0,
        device: str = "auto",
        class_weight: str | None = None,
        early_stopping: int | None = None,
        validation_fraction: float = 0.2,
        max_cycles_per_group: int | None = None,
        keep_maxpool: bool = True,
        autocast: bool | None = None,
        accelerate: bool = False,
        channels_last: bool = False,
        standardize: bool = True,
        augment: bool = False,
        weights_path: str | os.PathLike | None = None,
        backbone_lr: float | None = None,
        freeze_stages: int = 0,
        checkpoint_path: str | os.PathLike | None = None,
        torch_threads: int | None = None,
        recalibrate_bn: bool = True,
        random_state: int | np.random.RandomState | None = None,
        verbose: int = 0,
    ) -> None:
        self.arch = arch
        self.max_epochs = max_epochs
        self.lr = lr
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.weight_decay = weight_decay
        self.device = device
        self.class_weight = class_weight
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.max_cycles_per_group = max_cycles_per_group
        self.keep_maxpool = keep_maxpool
        self.autocast = autocast
        self.accelerate = accelerate
        self.channels_last = channels_last
        self.standardize = standardize
        self.augment = augment
        self.weights_path = weights_path
        self.backbone_lr = backbone_lr
        self.freeze_stages = freeze_stages
        self.checkpoint_path = checkpoint_path
        self.torch_threads = torch_threads
        self.recalibrate_bn = recalibrate_bn
        self.random_state = random_state
        self.verbose = verbose

    def fit(
        self, X, y, groups=None, recordings=None, sample_weight=None
    ) -> ResNetClassifier:
        """Train the network on cycles.

        Parameters
        ----------
        X : array-like of shape (n_cycles, 1, F, T)
        y : array-like of shape (n_cycles,)
        groups : array-like of shape (n_cycles,) or None
            Patient (or recording) of each cycle: ``early_stopping`` holds out
            whole groups. Without it every cycle is its own group.
        recordings : array-like of shape (n_cycles,) or None
            Recording of each cycle, for ``max_cycles_per_group``; defaults to
            ``groups``.
        sample_weight : array-like of shape (n_cycles,) or None
            Weight of each cycle in the training loss (multiplied by
            ``class_weight``'s, then scaled to a mean of 1). A cycle weighed 0
            is left out, as if not given, and weights all alike are no
            weights. The validation loss of ``early_stopping`` carries no
            sample weights (nor, when they are given, ``class_weight``'s).

        Returns
        -------
        self : ResNetClassifier

        Raises
        ------
        ValueError
            If ``X`` and ``y`` differ in length, ``y`` holds one class, the
            early-stopping split cannot be made, ``device`` or ``autocast``
            cannot run here, a checkpoint was written by a run on other data,
            or ``sample_weight`` is too small for float32.
        FileExistsError
            If ``checkpoint_path`` is another run's.
        WeightsFileError
            If ``weights_path`` is no tensor-only weights file.
        FileNotFoundError
            If ``weights_path`` names no file.
        FloatingPointError
            If training diverged (NaN or infinite weights or statistics).
        KeyboardInterrupt
            Raised again after an interrupt has stopped training cleanly.
        """
        # an earlier fit's attributes go first, and a fit that fails leaves
        # nothing that looks fitted (classes were set before the checks, the
        # network before its training)
        self._forget_fit()
        try:
            return self._fit(X, y, groups, recordings, sample_weight)
        except BaseException:  # an interrupt too
            self._forget_fit()
            raise

    def _forget_fit(self) -> None:
        for name in (
            "classes_",
            "device_",
            "image_shape_",
            "net_",
            "validation_groups_",
        ):
            self.__dict__.pop(name, None)

    def _fit(self, X, y, groups, recordings, sample_weight) -> ResNetClassifier:
        from skorch.callbacks import EarlyStopping
        from skorch.dataset import Dataset
        from skorch.helper import predefined_split

        self._validate_params()
        X = check_images(X)
        self.image_shape_ = tuple(int(d) for d in X.shape[1:])
        # a column (n, 1) is taken with scikit-learn's warning; a table of
        # labels reached torch's loss as "multi-target not supported"
        y = column_or_1d(y, warn=True)
        if len(X) != len(y):
            raise ValueError(f"X has {len(X)} cycles but y has {len(y)} labels")
        if not len(y):  # np.unique finds no class to name below
            raise ValueError("fit was given no cycles to train on")
        check_classification_targets(y)
        # columns (n, 1) taken as y is; kept 2-D, a group was a row of ids
        if groups is not None:
            groups = _one_per_cycle(groups, "groups")
        if recordings is not None:
            recordings = _one_per_cycle(recordings, "recordings")
        groups = np.arange(len(y)) if groups is None else groups
        recordings = groups if recordings is None else recordings
        if len(groups) != len(y) or len(recordings) != len(y):
            raise ValueError("groups and recordings need one entry per cycle")
        weighed = ""
        if sample_weight is not None:
            sample_weight = check_sample_weight(sample_weight, y)
            kept = sample_weight > 0
            if not kept.all():
                # a cycle weighed 0 is left out (scikit-learn's meaning): kept,
                # it still shaped the standardisation, BatchNorm's statistics,
                # the validation split and the cycles drawn per recording
                X, y, groups, recordings, sample_weight = (
                    a[kept] for a in (X, y, groups, recordings, sample_weight)
                )
                weighed = " weighed above 0"
            if np.all(sample_weight == sample_weight[0]):
                # weights all alike say nothing (scaling every weight changes
                # no fit): they train as none, to the bit
                sample_weight = None
        self.classes_, y_enc = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                f"training needs two classes; all {len(y)} cycles{weighed} are "
                f"{_plain(self.classes_[0])!r}"
            )
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        self.device_ = check_device(self.device)

        train = np.arange(len(y))
        callbacks, train_split = [], None
        if self.early_stopping is not None:
            train, valid = self._validation_split(y_enc, groups, seed)
            self.validation_groups_ = np.unique(groups[valid])
            train_split = predefined_split(Dataset(X[valid], y_enc[valid]))
            callbacks.append(
                (
                    "early_stopping",
                    EarlyStopping(patience=self.early_stopping, load_best=True),
                )
            )
        if self.checkpoint_path is not None:
            trained_on = _trained_on(self.classes_, y_enc, recordings)
            _check_checkpoint_free(self.checkpoint_path, self.weights_path, trained_on)
            epochs = _EpochWeights(
                os.fspath(self.checkpoint_path),
                self.image_shape_,
                {_TRAINED_ON: trained_on},
            )
            callbacks.append(("checkpoint", epochs))
        iterator = {"iterator_train__shuffle": True}
        n_per_epoch = len(train)
        if self.max_cycles_per_group is not None:
            sampler = _CapPerGroupSampler(
                recordings[train], self.max_cycles_per_group, seed
            )
            iterator = {
                "iterator_train__sampler": sampler,
                "iterator_train__shuffle": False,
            }
            n_per_epoch = len(sampler)
        # BatchNorm cannot train on a last batch of one cycle
        iterator["iterator_train__drop_last"] = n_per_epoch % self.batch_size == 1
        iterator["iterator_train__generator"] = torch.Generator().manual_seed(seed)

        images = X[train]  # one copy: fed to the net and standardised from
        weight, inputs = None, images
        if self.class_weight == "balanced":
            # scikit-learn's, if only to refuse a class the training side lacks
            w = compute_class_weight(
                "balanced", classes=np.arange(len(self.classes_)), y=y_enc[train]
            )
            if self.max_cycles_per_group is not None:
                # the loss sees the sampler's draw, not every cycle: a class
                # of fewer, longer recordings was weighed down a second time
                drawn = _drawn_per_class(
                    y_enc[train], recordings[train], self.max_cycles_per_group
                )
                w = drawn.sum() / (len(drawn) * drawn)
            weight = torch.as_tensor(w, dtype=torch.float32)
        if sample_weight is not None:
            inputs, criterion = self._weighted(
                inputs, sample_weight[train], y_enc[train], weight
            )
        else:
            criterion = {"criterion__weight": weight}
        mean, std = 0.0, 1.0
        if self.standardize:
            mean, std = float(images.mean()), float(images.std())
            std = std if std > 0 else 1.0
        # weights and augmentation draw from torch's CPU and CUDA generators
        with _seeded(seed, self.device_):
            self.net_ = self._make_net(
                weights_path=self.weights_path,
                module__image_shape=self.image_shape_,
                module__input_mean=mean,
                module__input_std=std,
                train_split=train_split,
                callbacks=callbacks,
                **criterion,
                **iterator,
            )
            with _torch_threads(self._threads()):
                with _interrupts_stop_training():
                    self.net_.fit(inputs, y_enc[train].astype(np.int64))
                if self.recalibrate_bn:
                    # one epoch's draw of cycles: the statistics need no more
                    seen = images
                    if self.max_cycles_per_group is not None:
                        seen = X[train[np.sort(list(iter(sampler)))]]
                    self._recalibrate(seen)
        state = self.net_.module_.state_dict().values()
        if not all(t.isfinite().all() for t in state if t.is_floating_point()):
            # its probabilities would be NaN, and predict reads NaN as classes_[0]
            # (BatchNorm's running statistics overflow while weights stay finite)
            raise FloatingPointError(
                "training diverged: the network's weights or BatchNorm "
                "statistics hold NaN or infinite "
                f"values after {len(self.net_.history)} epochs; lower lr "
                f"({self.lr:g}) or use optimizer='adam'"
            )
        if self.accelerate:
            # trained and unwrapped: name the device, so that the net pickles and
            # loads without skorch guessing one
            self.net_.device = str(next(self.net_.module_.parameters()).device)
        return self

    def _validation_split(
        self, y_enc: np.ndarray, groups: np.ndarray, seed: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Training and validation cycles for early stopping: about
        ``validation_fraction`` of the groups held out, whole, with each
        class's share of cycles kept on both sides as far as the groups allow
        (skorch's own split is stratified too). A random draw of three of
        twelve patients was often of one class, and its validation loss then
        stopped training at a model that called everyone that class."""
        n_groups = len(np.unique(groups))
        largest = np.bincount(y_enc).max()
        n_splits = min(max(2, round(1 / self.validation_fraction)), n_groups, largest)
        if n_splits < 2:
            raise ValueError(
                f"early stopping needs at least two groups to hold one out, and "
                f"fit was given {n_groups}: pass groups (patients or recordings) "
                f"or early_stopping=None"
            )
        splitter = StratifiedGroupKFold(n_splits, shuffle=True, random_state=seed)
        with warnings.catch_warnings():
            # a class with fewer cycles than folds is a fold without it
            warnings.filterwarnings("ignore", "The least populated", UserWarning)
            for train, valid in splitter.split(y_enc, y_enc, groups):
                if len(np.unique(y_enc[train])) == len(self.classes_):
                    return train, valid
        left_out = np.setdiff1d(np.arange(len(self.classes_)), y_enc[train])
        raise ValueError(
            f"early stopping held out every group of class "
            f"{_plain(self.classes_[left_out[0]])!r}, leaving none to train on: "
            f"give more groups of it, a smaller validation_fraction "
            f"({self.validation_fraction:g}), or early_stopping=None"
        )

    @staticmethod
    def _weighted(images, sample_weight, y_enc, class_weight) -> tuple[dict, dict]:
        """The training input and criterion settings of a weighted fit."""
        w = sample_weight.astype(np.float32)
        if class_weight is not None:
            w = w * class_weight.numpy()[y_enc]
        if not w.sum() > 0:  # each above 0, but below float32's smallest
            raise ValueError(
                "sample_weight's weights are too small for float32 (all under "
                "about 1e-45): scale them up"
            )
        inputs = {"x": images, "sample_weight": w / w.mean()}
        return inputs, {"criterion__reduction": "none"}

    def _threads(self) -> int | None:
        if self.torch_threads is None and self.random_state is not None:
            # a count of the machine, not of the process: the same under
            # every joblib backend (whose workers set OMP_NUM_THREADS)
            return min(8, os.cpu_count() or 1)
        return self.torch_threads

    def _recalibrate(self, X: np.ndarray) -> None:
        """torch's ``update_bn`` for the BatchNorm layers that trained: frozen
        stages keep their statistics, and the cycles are seen unaugmented, as
        at prediction."""
        module = self.net_.module_
        frozen = {id(m) for part in module.frozen_parts() for m in part.modules()}
        norms = [
            m
            for m in module.modules()
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and id(m) not in frozen
        ]
        momenta = [m.momentum for m in norms]
        for m in norms:
            m.reset_running_stats()
            m.momentum = None  # a plain average over the pass
        device = next(module.parameters()).device
        loader = torch.utils.data.DataLoader(
            torch.from_numpy(X),
            batch_size=self.batch_size,
            # as in training: BatchNorm cannot take a batch of one cycle
            drop_last=len(X) % self.batch_size == 1,
        )
        augment, module.augment = module.augment, False
        was_training = module.training
        module.train()
        try:
            with torch.no_grad():
                for batch in loader:
                    module(batch.to(device))
        finally:
            module.augment = augment
            module.train(was_training)
            for m, momentum in zip(norms, momenta, strict=True):
                m.momentum = momentum

    def _precision(self, training: bool) -> tuple[bool, str]:
        """Whether to autocast on ``device_``, and to which dtype."""
        if self.autocast is None:  # on by default only where it is fast
            return _bf16(self.device_, emulated=False), "bfloat16"
        cuda = self.device_.startswith("cuda")
        if not self.autocast or not cuda or _bf16(self.device_, emulated=True):
            return bool(self.autocast), "bfloat16"
        if training and not self.accelerate:
            # skorch's training step scales no loss, and in float16 the small
            # gradients of a confident network round to zero
            raise ValueError(
                f"autocast=True on {self.device_}, a GPU without bfloat16, would "
                "train in float16 without loss scaling, which loses small "
                "gradients: use accelerate=True (float16 with loss scaling) or "
                "autocast=None (float32 there)."
            )
        return True, "float16"

    def _make_net(self, weights_path=None, training=True, **kwargs):
        """The skorch net for ``classes_`` on ``device_``; ``training=False``
        builds one to load trained weights into."""
        net_class, placement = _WeightedNet, {"device": self.device_}
        autocast, dtype = self._precision(training)
        if self.accelerate:
            # the accelerator places the module and runs mixed precision itself
            precision = {"bfloat16": "bf16", "float16": "fp16"}[dtype]
            net_class = _AcceleratedNet
            placement = {
                "device": None,
                "accelerator": _accelerator(
                    cpu=self.device_ == "cpu",
                    mixed_precision=precision if autocast else "no",
                ),
            }
            if not self.verbose:
                # skorch's log is silenced by verbose=0 only when it prints
                # through print (by default it prints through the accelerator)
                placement["callbacks__print_log__sink"] = print
            autocast = False
        if self.backbone_lr is not None:
            # skorch's parameter groups: every parameter but the head's
            kwargs["optimizer__param_groups"] = [
                ("net.[!f]*", {"lr": self.backbone_lr})
            ]
        optimizers = {
            "adam": torch.optim.Adam,
            "adamw": torch.optim.AdamW,
            "sgd": torch.optim.SGD,
        }
        return net_class(
            CycleResNet,
            module__arch=self.arch,
            module__n_classes=len(self.classes_),
            module__weights_path=None
            if weights_path is None
            else os.fspath(weights_path),
            module__keep_maxpool=self.keep_maxpool,
            module__autocast=autocast,
            module__autocast_dtype=dtype,
            module__channels_last=self.channels_last,
            module__augment=self.augment,
            module__freeze_stages=self.freeze_stages,
            criterion=nn.CrossEntropyLoss,
            optimizer=optimizers[self.optimizer],
            optimizer__weight_decay=self.weight_decay,
            lr=self.lr,
            batch_size=self.batch_size,
            max_epochs=self.max_epochs,
            classes=np.arange(len(self.classes_)),
            verbose=self.verbose,
            **placement,
            **kwargs,
        )

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities per cycle.

        Parameters
        ----------
        X : array-like of shape (n_cycles, 1, F, T) or (n_cycles, F, T)

        Returns
        -------
        proba : ndarray of shape (n_cycles, n_classes)

        Raises
        ------
        ValueError
            If the images are not of the size the network was trained on, or
            hold NaN or infinite values.
        sklearn.exceptions.NotFittedError
            If the classifier is not fitted.
        """
        check_is_fitted(self)
        X = check_images(X)
        # model files and pickles made before image_shape_ hold no shape
        check_image_shape(X.shape, getattr(self, "image_shape_", None))
        if not len(X):  # skorch concatenates the batches' answers: of none, fails
            return np.empty((0, len(self.classes_)))
        with _torch_threads(self._threads()), torch.inference_mode():
            return as_probabilities(self.net_.predict_proba(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags
