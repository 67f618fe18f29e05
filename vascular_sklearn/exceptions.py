"""Exceptions raised by vascular_sklearn."""

from __future__ import annotations

__all__ = ["RecordingError"]


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
