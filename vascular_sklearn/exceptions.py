"""Exceptions and warnings raised by vascular_sklearn."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = [
    "LabelFileError",
    "MixedSampleRateWarning",
    "NoPulseWarning",
    "RecordingError",
    "TooFewCyclesError",
    "WeightsFileError",
]


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


class MixedSampleRateWarning(UserWarning):
    """A corpus's files were recorded at more than one sample rate.

    The loaders resample them all to one rate, so nothing fails; but a sample
    rate marks a recorder, and one that goes with the label is a confound a
    model can learn. The message counts each rate's files per label. A corpus
    mixed on purpose silences it by its class:
    ``warnings.simplefilter("ignore", MixedSampleRateWarning)``.

    Examples
    --------
    >>> from vascular_sklearn.exceptions import MixedSampleRateWarning
    >>> issubclass(MixedSampleRateWarning, UserWarning)
    True
    """


class NoPulseWarning(UserWarning):
    """A recording's loudness does not swing with a heartbeat: noise, not a pulse.

    A microphone off the access (or pressed on the skin beside it) hears
    stationary noise. The cutter still cuts such a sound into "cycles", and
    the classifier still answers, confidently, about noise; the message names
    the recordings and their swings
    (:func:`~vascular_sklearn.cycle_quality.pulse_db`, under
    :data:`~vascular_sklearn.cycle_quality.PULSE_LIMIT_DB`). Screening
    reports it per row as ``no_pulse`` instead.

    Examples
    --------
    >>> from vascular_sklearn.exceptions import NoPulseWarning
    >>> issubclass(NoPulseWarning, UserWarning)
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


class TooFewCyclesError(RecordingError):
    """Recordings hold fewer heart cycles than the classifier needs.

    Raised by :class:`~vascular_sklearn.RecordingClassifier` with
    ``on_empty="error"``, naming the recordings and the likely causes;
    ``on_empty="prior"`` answers them with the class prior instead. The
    command line adds its own flags for the same fixes.

    Examples
    --------
    >>> from vascular_sklearn.exceptions import RecordingError, TooFewCyclesError
    >>> issubclass(TooFewCyclesError, RecordingError)
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


# A context variable rather than warnings.catch_warnings: the warnings filters
# are one per process, shared by every thread, and joblib's threading backend
# runs screening's batches side by side with the user's code.
_LEFT_TO_CALLER: ContextVar[tuple[type[Warning], ...]] = ContextVar(
    "warnings_left_to_caller", default=()
)


@contextmanager
def _left_to_caller(*categories: type[Warning]) -> Iterator[None]:
    """Within the block, this thread's library code does not raise warnings of
    ``categories``: the caller reports what they would say (a screening row)."""
    token = _LEFT_TO_CALLER.set(_LEFT_TO_CALLER.get() + categories)
    try:
        yield
    finally:
        _LEFT_TO_CALLER.reset(token)


def _is_left_to_caller(category: type[Warning]) -> bool:
    """Whether a warning of ``category`` is the caller's to report here (then
    the check behind it need not run at all)."""
    return issubclass(category, _LEFT_TO_CALLER.get())


def _missing(path: str, what: str) -> str:
    """Why ``path``, which should be ``what`` ("an audio file"), cannot be
    opened: the readers' own errors for a folder ("Is a directory") read like
    our bug."""
    if os.path.islink(path) and not os.path.exists(path):
        # "no such file" of a name that ls lists sends one looking in vain
        return f"a link to {os.readlink(path)}, which does not exist"
    if os.path.isdir(path):
        return f"a folder, not {what}"
    if os.path.exists(path):  # a named pipe or a device: ls lists it
        return f"not a regular file, so not {what}"
    return "no such file"
