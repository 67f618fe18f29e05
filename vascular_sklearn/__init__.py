"""vascular_sklearn: stenosis screening from vascular-access sound, scikit-learn style.

The default pipeline (``make_stenosis_pipeline``) takes a recording through
``LowpassFilter -> MeanSmoother -> PeakCycleCutter -> RecorderAugmentation
(fit only) -> NoiseFloorHarmonizer -> STFTSpectrogram -> RecordingClassifier``;
the original study's (``make_seed_pipeline``) has no augmentation and no
harmonizer. One sample is one recording from the first step to the last.
"""

from .containers import CycleBags, Signals, Spectrograms
from .cutting import PeakCycleCutter
from .exceptions import (
    LabelFileError,
    MixedSampleRateWarning,
    NoPulseWarning,
    RecordingError,
    TooFewCyclesError,
    WeightsFileError,
)
from .lowpass import LowpassFilter
from .metrics import (
    clinical_scoring,
    sensitivity_score,
    specificity_at_sensitivity_score,
    specificity_score,
)
from .recording_classifier import RecordingClassifier
from .smoothing import MeanSmoother
from .spectrogram import STFTSpectrogram

__version__ = "0.1.0"

# torch takes seconds to import; load it only when the network is asked for, so
# that the signal steps (and joblib workers running them) start fast.
_LAZY = {
    "ResNetClassifier": "network",
    "make_seed_pipeline": "pipelines",
    "make_stenosis_pipeline": "pipelines",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CycleBags",
    "LabelFileError",
    "LowpassFilter",
    "MeanSmoother",
    "MixedSampleRateWarning",
    "NoPulseWarning",
    "PeakCycleCutter",
    "RecordingClassifier",
    "RecordingError",
    "ResNetClassifier",
    "STFTSpectrogram",
    "Signals",
    "Spectrograms",
    "TooFewCyclesError",
    "WeightsFileError",
    "__version__",
    "clinical_scoring",
    "make_seed_pipeline",
    "make_stenosis_pipeline",
    "sensitivity_score",
    "specificity_at_sensitivity_score",
    "specificity_score",
]
