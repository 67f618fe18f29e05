"""vascular_sklearn: stenosis screening from vascular-access sound, scikit-learn style."""

from .containers import CycleBags, Signals, Spectrograms
from .cutting import PeakCycleCutter
from .exceptions import RecordingError
from .lowpass import LowpassFilter
from .smoothing import MeanSmoother
from .spectrogram import STFTSpectrogram

__version__ = "0.1.0"

__all__ = [
    "CycleBags",
    "LowpassFilter",
    "MeanSmoother",
    "PeakCycleCutter",
    "RecordingError",
    "STFTSpectrogram",
    "Signals",
    "Spectrograms",
    "__version__",
]
