"""Exceptions raised by vascular_sklearn."""

from __future__ import annotations

__all__ = ["LabelFileError", "RecordingError", "WeightsFileError"]


class LabelFileError(ValueError):
    """A label file (a CSV manifest, PhysioNet's REFERENCE.csv) cannot be read.

    The message names the file and, where one is at fault, its line. It
    subclasses :class:`ValueError` as :class:`RecordingError` does.

    Examples
    --------
    >>> from vascular_sklearn.exceptions import LabelFileError
    >>> issubclass(LabelFileError, ValueError)
    True
    """


class RecordingError(ValueError):
    """A recording cannot be used as given.

    The message names the recording (file name or index) and says how to fix it.
    It subclasses :class:`ValueError` so that code written for scikit-learn's input
    validation catches it too.

    Examples
    --------
    >>> from vascular_sklearn.exceptions import RecordingError
    >>> issubclass(RecordingError, ValueError)
    True
    """


class WeightsFileError(ValueError):
    """A weights file cannot be loaded into the network.

    The message names the file and says what it holds instead of a state dict
    of tensors for this architecture, and how to write one.

    Examples
    --------
    >>> from vascular_sklearn.exceptions import WeightsFileError
    >>> issubclass(WeightsFileError, ValueError)
    True
    """
