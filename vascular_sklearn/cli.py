"""Command line: ``vascular-sklearn demo | evaluate | train | pretrain | export |
describe | predict | score``."""

from __future__ import annotations

import argparse
import ast
import contextlib
import errno
import io
import os
import re
import signal
import sys
import threading
import time
import traceback
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .exceptions import RecordingError, TooFewCyclesError

__all__ = ["main"]

#: Network choices, named here so that parsing the command line needs no torch.
_ARCHS = ("resnet18", "resnet34", "resnet50")


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@contextlib.contextmanager
def _raw_file_names(stream):
    """``stream`` writing a file name that is no UTF-8 back as its bytes (as
    Python does in the C locale), not failing on the whole table."""
    errors = getattr(stream, "errors", None)
    if errors is None or not hasattr(stream, "reconfigure"):
        yield
        return
    stream.reconfigure(errors="surrogateescape")
    try:
        yield
    finally:
        stream.reconfigure(errors=errors)


class _Terminated(BaseException):
    """SIGTERM (``kill``, ``timeout``, a batch system's time limit), raised
    in the main thread as Ctrl-C is. Not a KeyboardInterrupt, which skorch
    takes as the end of training (a half-trained model would be saved); a
    BaseException, so the temporary file of a write under way is removed
    (Python's own SIGTERM stops at once and left it)."""


@contextlib.contextmanager
def _terminate_cleanly() -> Iterator[None]:
    """Stop on SIGTERM as on Ctrl-C: files written whole or not at all."""

    def stop(signum, frame):
        raise _Terminated

    # signals reach the main thread only; a handler already set (an
    # application calling main) is not ours to replace
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    ):
        yield
        return
    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _plain_warnings():
    """Warnings as a user reads them, ``warning: <what happened>``, without
    the library's file and line (VASCULAR_SKLEARN_DEBUG=1 keeps them)."""
    default = warnings.formatwarning
    if not os.environ.get("VASCULAR_SKLEARN_DEBUG"):
        warnings.formatwarning = lambda message, *_, **__: f"warning: {message}\n"
    try:
        yield
    finally:
        warnings.formatwarning = default


def _resume_hint(args: argparse.Namespace) -> str:
    """What an interrupted ``pretrain`` left to go on from, if anything."""
    from .pretraining import partial_path

    if args.command != "pretrain" or not partial_path(args.output).exists():
        return ""
    return (
        f": nothing written but {partial_path(args.output)}, the last epoch; go "
        "on with --resume"
    )


#: A disk or quota that is full: the output is what could not be written.
_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def _would_overwrite(args: argparse.Namespace) -> bool:
    """Whether OUTPUT exists without --force, or is what the command reads
    (said on stderr): nothing is written over a user's file, and --force
    replaces no model or recording being read. A folder that is not there
    (or OUTPUT that is a folder) stops here too, before the work."""
    from ._output import check_output

    if args.output is None:  # standard output
        return False
    inputs = [
        value
        for key in ("model", "data_dir", "data", "weights")
        if isinstance(value := getattr(args, key, None), str)
    ] + list(getattr(args, "sources", None) or [])
    if os.path.lexists(args.output):
        # the recordings a manifest lists are read too: --force replaces none
        # (read for this only where something could be replaced: the command
        # reads the manifest again, with every file's header)
        inputs += [
            path
            for source in inputs
            if source.lower().endswith(".csv")
            for path in _listed(source)
        ]
    try:
        check_output(args.output, overwrite=args.force, inputs=inputs)
    except FileExistsError:
        try:  # --force is advice only where it would be taken
            check_output(args.output, overwrite=True, inputs=inputs)
        except FileExistsError as forced:
            _say(f"error: {forced}")
        else:
            _say(f"error: {args.output} exists; use --force to replace it")
        return True
    return False


def _check_table_name(args: argparse.Namespace) -> None:
    """Refuse a table named as a recording: a file ``-o.wav`` on the command
    line is argparse's ``-o .wav``, which screened the other files alone and
    wrote the table to a hidden ``.wav``, exiting 0."""
    from .audio import AUDIO_SUFFIXES

    out = args.output
    if out is None or not out.lower().endswith(AUDIO_SUFFIXES):
        return
    hint = (
        f"to screen a file named -o{out}, write it ./-o{out} or after --"
        if out.startswith(".") and args.command == "predict"
        else "give it a .csv name"
    )
    raise _UsageError(f"-o {out}: the table is a CSV file, not a recording; {hint}")


def _check_model_name(args: argparse.Namespace) -> None:
    """Refuse a model or backbone named as data: predict and score take a
    .csv or a recording for data, and one written into a data folder is read
    as a recording by the next run."""
    from .audio import AUDIO_SUFFIXES

    if args.output.lower().endswith((*AUDIO_SUFFIXES, ".csv")):
        kind = "backbone (.pt)" if args.command == "pretrain" else "model file (.vsk)"
        raise _UsageError(
            f"-o {args.output}: {args.command} writes a {kind}, not a table or "
            "a recording; name it so"
        )


def _listed(manifest: str) -> list[str]:
    """The recordings a manifest lists; none where it cannot be read (it is
    named where the command reads it)."""
    from .corpus import read_manifest
    from .exceptions import MixedSampleRateWarning, _left_to_caller

    try:
        with _left_to_caller(MixedSampleRateWarning):
            return list(read_manifest(manifest, columns=()).filenames)
    except (ValueError, OSError):
        return []


#: Colour codes of skorch's epoch table.
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class _Progress(io.TextIOBase):
    """Standard output while training: skorch prints its epoch table there,
    which is progress, so it goes to stderr, without colour codes where
    stderr is not a terminal."""

    def write(self, text: str) -> int:
        if not sys.stderr.isatty():
            text = _ANSI.sub("", text)
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def _progress(started: float | None = None) -> Callable[[str], None]:
    """Progress lines on standard error, with the seconds since ``started``
    (a ``time.perf_counter()``; this call by default)."""
    started = time.perf_counter() if started is None else started
    return lambda line: _say(
        f"  {line} ({time.perf_counter() - started:.0f} s since the start)"
    )


def _count(n: int, unit: str) -> str:
    return f"{n} {unit}" + ("" if n == 1 else "s")


def _report_lines(title: str, report: dict, width: int = 11) -> list[str]:
    keys = ["accuracy", "sensitivity", "specificity", "balanced_accuracy", "roc_auc"]
    # a metric one class leaves undefined (a site of normal recordings only)
    cells = "  ".join(
        f"{k} {report[k]:.3f}" if np.isfinite(report[k]) else f"{k}   n/a" for k in keys
    )
    return [f"{title:<{width}} n={report['n']:<5} {cells}"]


def _recorders(data, unit: str) -> tuple[str, np.ndarray | None]:
    """What the recorders are called and each recording's, where the data name
    them: PhysioNet's databases, a manifest's ``recorder`` column; else
    ``None``."""
    if unit == "database":
        return "database", data.groups
    if "database" in data:  # PhysioNet split by recording
        return "database", data.database
    return "recorder", data.get("recorder")


def _evaluate(
    pipe,
    data,
    folds: int | None,
    started: float,
    unit: str = "patient",
    by_recorder: bool = False,
    skip_coarse: bool = False,
) -> list[str]:
    """Pooled out-of-fold report; ``unit`` names what ``data.groups`` holds.
    ``by_recorder`` scores each recorder by models that never heard it (nor
    its patients) instead of ``folds`` folds by ``unit`` (``None``: 5, the
    default); ``skip_coarse`` trains without the coarse recordings and scores
    them all the same."""
    from sklearn.model_selection import GroupKFold

    from .evaluation import (
        LeaveOneRecorderOut,
        _patients_per_class,
        bootstrap_report,
        evaluate_by_patient,
    )

    n_groups = len(np.unique(data.groups))
    if n_groups < 2:
        raise _UsageError(
            f"{_count(n_groups, unit)}: an evaluation holds some out of training, "
            f"so it needs two {unit}s or more"
        )
    if by_recorder:
        kind, recorders = _recorders(data, unit)
        try:  # split now: a recorder that leaves nothing to learn stops here
            cv = list(
                LeaveOneRecorderOut(recorders).split(None, data.target, data.groups)
            )
        except ValueError as err:
            raise _UsageError(str(err)) from err
        # a database is its own unit: nothing else to hold out with it
        split = kind if kind == unit else f"{kind} (its {unit}s held out with it)"
        plan = f"leave-one-{kind}-out ({_count(len(cv), kind)})"
    else:
        asked = f"--folds {folds}" if folds is not None else "5 folds by default"
        folds = 5 if folds is None else folds
        cv = GroupKFold(min(folds, n_groups))
        split = unit
        plan = f"GroupKFold({cv.get_n_splits()}) by {unit}"
        if folds > n_groups:  # said: a report of 12 folds asked as 20 misleads
            plan += f" ({asked}, but one {unit} is the smallest fold)"
    note = (
        " (each scored by models that never heard it)"
        if by_recorder or unit == "database"
        else f" (folds split by {unit}: other recordings of the same "
        f"{_recorders(data, unit)[0]} may be in training)"
    )
    sizes = _count(len(data.target), "recording")
    if unit != "recording":  # not "32 recordings, 32 recordings"
        sizes += f", {_count(n_groups, unit)}"
    _say(f"{sizes}, {plan}")
    params = None
    if skip_coarse:
        weight = _weight_without_coarse(data)
        params = {"classifier__sample_weight": weight}
        cv = _folds_keeping_each_class(cv, data, weight)
    result = evaluate_by_patient(
        pipe,
        data.recordings,
        data.target,
        data.groups,
        cv=cv,
        params=params,
        progress=_progress(started),
    )
    lines = [f"Pooled out-of-fold predictions, split by {split}:"]
    lines += _report_lines("recording", result.recording)
    lines += _report_lines("cycle", result.cycle)
    if n_groups >= 4 and _patients_per_class(data.target, data.groups).min() >= 2:
        boot = bootstrap_report(
            data.target, result.recording_proba, data.groups, random_state=0
        )
        low, high = boot["roc_auc_ci"]
        lines.append(
            "recording ROC AUC 95 % interval, resampling the "
            f"{_count(n_groups, unit)}: {low:.2f} to {high:.2f}"
            + _few(data.target, data.groups, unit)
        )
    lines += _recorder_lines(data, unit, result.recording_proba, 0.5, note)
    return lines + _device_lines(data, unit)


def _class_without(data: Any, kept: np.ndarray) -> Any:
    """The name of the first class of ``data`` none of whose recordings is
    ``kept`` (their labels), or ``None``."""
    gone = np.setdiff1d(np.asarray(data.target), kept)
    if not len(gone):
        return None
    names = getattr(data, "target_names", None)
    return names[gone[0]] if names is not None else gone[0]


def _folds_keeping_each_class(cv, data, weight: np.ndarray) -> list:
    """``cv``'s splits, refused where ``--skip-coarse`` leaves a fold's training
    without a class: checked over the whole data only, that fold failed after
    the folds before it had trained, naming neither it nor the option."""
    target = np.asarray(data.target)
    splits = list(cv.split(np.zeros(len(target)), target, data.groups))
    for k, (train, _) in enumerate(splits, start=1):
        said = _class_without(data, target[train][weight[train] > 0])
        if said is not None:
            raise _UsageError(
                f"--skip-coarse leaves fold {k} of {len(splits)} no recording "
                f"labelled {said} to train on (the others are coarse): record "
                "them again with more gain, or leave --skip-coarse out"
            )
    return splits


def _recorder_lines(data, unit: str, proba, threshold: float, note: str) -> list[str]:
    """Each recorder's report alone, where the data name them (PhysioNet's
    databases, a manifest's ``recorder`` column): a pooled AUC mixes the order
    within each recorder with where each recorder's answers sit, and a clinic
    sees its own device's numbers alone. Then how far the recorder alone
    tells the label, the confound a model can learn."""
    from .evaluation import recorder_confound, report_by_group

    kind, recorders = _recorders(data, unit)
    if recorders is None:
        return []
    scored = ~np.isnan(proba)
    recorders, y = np.asarray(recorders)[scored], data.target[scored]
    if len(np.unique(recorders)) < 2:
        return []
    lines = [f"Per {kind}{note}:"]
    reports = report_by_group(y, proba[scored], recorders, threshold)
    width = max(11, *(len(f"{kind} {name}") for name in reports))
    for recorder, report in reports.items():
        lines += _report_lines(f"{kind} {recorder}", report, width)
    audit = recorder_confound(y, recorders)
    shares = ", ".join(
        f"{name} {share:.0%}"
        for name, share in zip(audit.recorders, audit.stenosis_share, strict=True)
    )
    if np.isnan(audit.roc_auc):
        auc = "n/a"
    else:  # the shares are learnt from these labels: above 0.50 by chance
        auc = (
            f"{audit.roc_auc:.2f} (the labels shuffled among the same {kind}s: "
            f"{audit.chance_auc:.2f}, p = {audit.p_value:.3f})"
        )
    lines.append(
        f"The {kind} alone tells the label with roc_auc {auc}, scoring each "
        f"recording by its {kind}'s share of {data.target_names[1]}: {shares}"
    )
    return lines


def _device_lines(data, unit: str, card: dict | None = None) -> list[str]:
    """How far what the device left in the files (loudness, converter step,
    rounding noise, DC offset) tells the label: pooled and, where the data name
    recorders, within the one where it tells the most. It needs neither a
    model nor the devices' names. With a model's ``card``, the files beside
    the recorders it heard in training."""
    from .evaluation import DEVICE_PROPERTIES, device_confound

    kind, recorders = _recorders(data, unit)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".*ends after", UserWarning)
        # as stored: resampled to one rate, a 44.1 kHz recorder's converter
        # step read as 0.07 beside the others' 40, a "confound" of the reading
        audit = device_confound(_as_stored(data), data.target, recorders)
    cells = ", ".join(
        f"{DEVICE_PROPERTIES[name]} {'n/a' if np.isnan(auc) else f'{auc:.2f}'}"
        for name, auc in audit.roc_auc.items()
    )
    lines = [
        f"What the device left in the files tells the label with roc_auc: {cells} "
        "(0.50: not at all; far from it on either side: the files give it away)"
    ]
    within = [
        (abs(auc - 0.5), name, group, auc)
        for name, by_group in audit.get("roc_auc_by_group", {}).items()
        for group, auc in by_group.items()
        if not np.isnan(auc)
    ]
    if within:
        _, name, group, auc = max(within, key=lambda row: row[0])
        lines.append(
            f"  within one {kind}, the furthest from 0.50: {DEVICE_PROPERTIES[name]} "
            f"in {kind} {group}, roc_auc {auc:.2f}"
        )
    here = dict(audit.properties)
    if isinstance((card or {}).get("sample_rates_hz"), list):
        from .corpus import _file_rates

        here["sample_rate"] = _file_rates(data.filenames)  # a recorder's mark too
    return lines + _beside_training(here, card or {})


#: What train's card keeps of the recorders heard, with its rounding and units.
_HEARD = {"loudness_db": (1, "dBFS"), "converter_step": (2, "levels")}


def _numbers(values: Any) -> bool:
    """Whether ``values`` is a non-empty list of numbers (not booleans)."""
    return (
        isinstance(values, list)
        and bool(values)
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
    )


def _beside_training(here: dict, card: dict) -> list[str]:
    """The scored files' sample rates, loudness and converter steps beside
    those the model heard in training (train's card, and the card of the
    backbone it was fine-tuned from, whose corpus it heard too): outside
    them, an answer says as much about the recorder as about the vessel."""
    from .evaluation import DEVICE_PROPERTIES

    cells, outside, read = [], None, None
    # a card is the user's JSON too (save_model(card=...)): train's names may
    # hold other things, which are not compared
    parts = [part for part in (card, card.get("backbone")) if isinstance(part, dict)]
    trained_rates = sorted(
        {
            r
            for part in parts
            if _numbers(rates := part.get("sample_rates_hz"))
            for r in rates
        }
    )
    if "sample_rate" in here and trained_rates:
        rates = here["sample_rate"]
        read = ~np.isnan(rates)  # an unreadable file is neither in nor out
        outside = read & ~np.isin(rates, trained_rates)
        seen = np.unique(rates[read])
        cells.append(
            "sample rate "
            + (", ".join(f"{r:g}" for r in seen) + " Hz" if len(seen) else "n/a")
            + " here, "
            + ", ".join(f"{r:g}" for r in trained_rates)
            + " Hz in training"
        )
    for name, (digits, units) in _HEARD.items():
        spans = [part.get(name) for part in parts]
        spans = [
            (span["min"], span["max"])
            for span in spans
            if isinstance(span, dict) and _numbers([span.get("min"), span.get("max")])
        ]
        if not spans:
            continue
        # rounded as the card is, so a recording like the training ones is in;
        # outside each span heard (not their hull: between them is unheard)
        values = np.round(here[name], digits)
        beyond = np.all([(values < lo) | (values > hi) for lo, hi in spans], axis=0)
        outside = beyond if outside is None else outside | beyond
        # an unreadable file (NaN) is neither inside nor outside: not counted
        measured = ~np.isnan(values)
        read = measured if read is None else read & measured
        seen = _spread(here[name], digits)
        cells.append(
            f"{DEVICE_PROPERTIES[name]} "
            + (f"{seen['min']:g} to {seen['max']:g} {units}" if seen else "n/a")
            + " here, "
            + " and ".join(f"{lo:g} to {hi:g}" for lo, hi in spans)
            + f" {units} in training"
        )
    if outside is None:  # a model saved without a card, or another card
        return []
    # a file whose header reads but whose samples do not is not read either:
    # counted outside, it read "1 of 0 recordings"
    whose = "its card and its backbone's" if len(parts) > 1 else "its card"
    return [
        f"Beside the recorders the model heard in training ({whose}): "
        f"{'; '.join(cells)}: {int((outside & read).sum())} of {int(read.sum())} "
        "recordings "
        "read lie outside them"
    ]


def _labelled_data(
    source: str,
    need_groups: bool = True,
    lazy: bool = False,
    need_both: bool = True,
    sample_rate: float | None = None,
) -> tuple:
    """The recordings and what their groups are: a PhysioNet 2016 layout
    (training-*/REFERENCE.csv or one such folder, grouped by database), a CSV
    manifest read lazily or a folder in the normal/abnormal layout (grouped by
    patient; read lazily with ``lazy``, so that one unreadable file is a row
    of the scores, not the end of them). Scoring alone (``need_groups=False``)
    takes a manifest without patients: its recordings are then the unit
    ("recording"). Training (``need_both``) needs both classes: refused here,
    naming the source, before any training."""
    data, unit = _read_labelled(source, need_groups, lazy, sample_rate)
    labels = np.unique(data.target)
    if need_both and len(labels) < 2:
        raise RecordingError(
            f"{source}: all {len(data.target)} recordings are labelled "
            f"{str(data.target_names[int(labels[0])])!r}; training needs both classes"
        )
    return data, unit


def _read_labelled(
    source: str, need_groups: bool, lazy: bool, sample_rate: float | None = None
) -> tuple:
    from .audio import AUDIO_SUFFIXES

    root = Path(source)
    if root.is_file() and not source.lower().endswith(".csv"):
        if root.suffix.lower() in AUDIO_SUFFIXES:
            raise RecordingError(
                f"{source} is one recording: give a folder with normal/ and "
                "abnormal/, or a CSV manifest (path,label,patient) listing it"
            )
        raise _UsageError(
            f"{source} is a file, not a folder: a manifest is read when its name "
            f"ends in .csv (commas, semicolons or tabs); rename it "
            f"{root.with_suffix('.csv').name}"
        )
    if root.is_dir() and (
        any(root.glob("training-*/REFERENCE.csv")) or (root / "REFERENCE.csv").is_file()
    ):
        from .datasets import load_physionet2016

        return load_physionet2016(root, sample_rate=sample_rate), "database"
    if source.lower().endswith(".csv"):
        from .corpus import read_manifest

        data = read_manifest(source, sample_rate=sample_rate)
        if data.target is None:
            raise RecordingError(f"{source}: a 'label' column is needed")
        if data.groups is None:
            if need_groups:
                raise RecordingError(
                    f"{source}: training and evaluation need a 'patient' column, "
                    "so that no patient is on both sides of a split: add each "
                    "recording's patient id (a recording's own name where every "
                    "recording is of another patient)"
                )
            return data, "recording"
        return data, "patient"
    from .datasets import load_recordings

    return load_recordings(source, lazy=lazy, sample_rate=sample_rate), "patient"


_NO_PATIENT_IDS = (
    "no two recordings share a patient id, so the file names probably carry "
    "none (expected <patient>_<site>_....wav)"
)


def _names_carry_no_patients(data: Any, source: str, unit: str) -> bool:
    """Whether ``data``'s patients are file names that name none: a folder
    whose every recording has its own id and no name an id before a "_"
    (``P1_a.wav``, ``P2_a.wav``: one recording a patient, named; a
    manifest's patients are taken as given)."""
    return (
        unit == "patient"
        and not source.lower().endswith(".csv")
        and len(np.unique(data.groups)) == len(data.target)
        and not any("_" in Path(name).stem for name in data.filenames)
    )


def _training_unit(data: Any, source: str, unit: str) -> str:
    """The unit a training run counts: a folder whose file names name no
    patients trains on recordings, each its own group, and says so; its
    model card then counts no patients it does not know of."""
    if not _names_carry_no_patients(data, source, unit):
        return unit
    _say(
        f"WARNING: {_NO_PATIENT_IDS}: each recording is its own group in "
        "training, and the model card counts no patients"
    )
    return "recording"


def _as_stored(data: Any) -> Any:
    """The recordings of ``data`` as files, each read as stored: a folder is
    loaded at one rate, and a file resampled to it is off its converter's
    grid (a step of 40 levels read as 0.07)."""
    from .corpus import RecordingFiles

    files = data.recordings
    if isinstance(files, RecordingFiles) or not all(
        os.path.isfile(name) for name in data.filenames
    ):  # the demo's recordings are made in memory, and stored nowhere
        return files
    return RecordingFiles.from_paths(data.filenames)


def _heard(data: Any) -> dict:
    """What the recorders left in each recording
    (:func:`~vascular_sklearn.evaluation.device_properties`), read from the
    files as stored."""
    from .evaluation import device_properties

    with warnings.catch_warnings():
        # a file cut short was told when it was loaded
        warnings.filterwarnings("ignore", ".*ends after", UserWarning)
        return device_properties(_as_stored(data))


def _positive_name(data: Any) -> str:
    """What the data call label 1 (stenosis, abnormal)."""
    names = getattr(data, "target_names", None)
    return "abnormal" if names is None else str(names[1])


def _weight_without_coarse(data: Any, snr: np.ndarray | None = None) -> np.ndarray:
    """Weight 0 for the recordings screening would flag coarse, 1 for the rest
    (``snr``: their rounding noise, if read already)."""
    from .screening import COARSE_LIMIT_DB

    if snr is None:
        snr = _heard(data)["rounding_snr_db"]
    coarse = ~(snr >= COARSE_LIMIT_DB)  # an unreadable file (NaN) stops later
    target = np.asarray(data.target)
    labels = target[coarse]
    said = _class_without(data, target[~coarse])
    if said is not None:
        # else scikit-learn's "Sample weights must contain at least one
        # non-zero number", or a class named without the option
        raise _UsageError(
            f"--skip-coarse leaves out {_count(int(coarse.sum()), 'coarse recording')} "
            f"of {len(target)}, and with them every one labelled {said}: nothing "
            "to learn that class from; record them again with more gain, or "
            "leave --skip-coarse out"
        )
    _say(
        f"left out of training: {_count(int(coarse.sum()), 'coarse recording')} ("
        f"{int(labels.sum())} {_positive_name(data)}; rounding noise within "
        f"{COARSE_LIMIT_DB:g} "
        "dB of the sound)"
    )
    return (~coarse).astype(np.float64)


def _cmd_pretrain(args: argparse.Namespace) -> int:
    from .pipelines import make_stenosis_pipeline
    from .pretraining import check_partial, partial_path, pretrain

    if _would_overwrite(args):
        return 2
    _check_model_name(args)  # after: a file it would replace is named first
    out = Path(args.output)
    pipe = make_stenosis_pipeline(
        random_state=args.seed,
        device=_checked_device(args.device),
        max_epochs=args.max_epochs,
        classifier__estimator__arch=args.arch,
        classifier__estimator__max_cycles_per_group=args.cycles_per_recording,
        classifier__estimator__verbose=1,
        # a large corpus holds a few recordings without a beat: left out
        classifier__on_empty="prior",
        n_jobs=args.n_jobs,
    )
    # the backbone learns the images its pipeline makes: a fine-tuning run
    # with other signal settings should pretrain with the same --set
    pipe = _set_params(pipe, args.set)  # a wrong --set stops before the data
    check_partial(out, args.resume)
    data, unit = _labelled_data(args.data)
    unit = _training_unit(data, args.data, unit)
    heard = _heard(data)  # for the card and --skip-coarse
    snr = heard["rounding_snr_db"]
    weight = _weight_without_coarse(data, snr) if args.skip_coarse else None
    resuming = args.resume and partial_path(out).exists()
    if args.resume and not resuming:
        _say(f"--resume: no {partial_path(out)} to go on from; starting afresh")
    settings = "".join(f", {name}={value}" for name, value in args.set or ())
    # read back from the pipeline: a --set may override the flags
    net = pipe.get_params()
    _say(
        f"pretraining {net['classifier__estimator__arch']} on {len(data.target)} "
        f"recordings ({int(data.target.sum())} {_positive_name(data)}), "
        f"{_count(net['classifier__estimator__max_epochs'], 'epoch')} of "
        f"{_count(net['classifier__estimator__max_cycles_per_group'], 'cycle')} "
        f"per recording{settings}"
        + (f", from {partial_path(out)}" if resuming else "")
        + f"; each epoch's weights go to {partial_path(out)}"
    )
    started = time.perf_counter()
    with contextlib.redirect_stdout(_Progress()):
        pretrain(
            data.recordings,
            data.target,
            out,
            pipeline=pipe,
            groups=data.groups,
            sample_weight=weight,
            card=_training_card(args, args.data, data, unit, heard),
            resume=args.resume,
            overwrite=args.force,
        )
    _say(f"saved {out} in {time.perf_counter() - started:.0f} s")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from .datasets import make_recordings
    from .pipelines import make_stenosis_pipeline

    started = time.perf_counter()
    data = make_recordings(random_state=args.seed)
    pipe = make_stenosis_pipeline(
        random_state=args.seed, device=_checked_device(args.device)
    )
    _say("Demo on synthetic recordings (vascular_sklearn.datasets.make_recordings)")
    lines = _evaluate(pipe, data, args.folds, started)
    print("\n".join(lines))
    # a perfect synthetic score must not read as a clinical one
    print(
        "These synthetic vessels differ clearly and share one recorder. On real "
        "recordings of patients it has not heard the default scores near chance "
        "(README, 'Honest evaluation'): not for clinical decisions."
    )
    print(f"done in {time.perf_counter() - started:.0f} s")
    return 0


class _UsageError(Exception):
    """A command line the command cannot carry out (a ``--set`` the pipeline
    has no place for, an output of the wrong kind), said without a traceback."""


def _param(text: str) -> tuple[str, object]:
    """``NAME=VALUE`` of ``--set``: the value read as a Python literal where it is
    one (``80``, ``False``, ``None``), else kept as text (``passthrough``)."""
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    try:
        return name, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return name, value


def _set_params(pipe, pairs):
    """``pipe`` with each ``--set`` applied in order, so that a step set first
    (``augment=passthrough``) decides which names follow."""
    from sklearn.utils._param_validation import InvalidParameterError

    from ._base import validate_params_within

    for name, value in pairs or ():
        if name not in pipe.get_params():
            steps = ", ".join(pipe.named_steps)
            raise _UsageError(
                f"--set {name}: the pipeline has no parameter {name!r}; name a "
                f"step ({steps}) or a step's parameter as STEP__NAME, e.g. "
                "spectrogram__floor_db=80"
            )
        if name.endswith("__weights_path"):
            # past --weights, the backbone was neither kept from being written
            # over by --force nor named in the card
            raise _UsageError(
                f"--set {name}: give a backbone with --weights, which checks it, "
                "keeps it from being written over and names it in the card"
            )
        if name in pipe.named_steps and value not in ("passthrough", None):
            raise _UsageError(
                f"--set {name}={value}: a step can only be switched off here "
                f"(--set {name}=passthrough); build other steps in Python"
            )
        pipe.set_params(**{name: value})
    # a wrong value fails now, not in fit after the recordings are read
    try:
        validate_params_within(pipe)
    except InvalidParameterError as err:  # from --set or another option
        raise _UsageError(str(err)) from err
    return pipe


def _pipeline_for(args: argparse.Namespace, **defaults: Any):
    """The pipeline the flags ask for; ``defaults`` give way to ``--set``."""
    from .pipelines import make_seed_pipeline, make_stenosis_pipeline

    make = make_seed_pipeline if args.seed_recipe else make_stenosis_pipeline
    params = {
        **defaults,
        "random_state": args.seed,
        "device": _checked_device(args.device),
        "classifier__on_empty": args.on_empty,
    }
    if args.max_epochs is not None:
        params["max_epochs"] = args.max_epochs
    if args.weights is not None:
        params["weights_path"] = args.weights
        params["backbone_lr"] = 1e-4 if args.backbone_lr is None else args.backbone_lr
    elif args.backbone_lr is not None:
        raise _UsageError("--backbone-lr sets the rate of a backbone from --weights")
    pipe = make(**params).set_params(classifier__estimator__arch=args.arch)
    pipe = _set_params(pipe, args.set)
    if args.command == "evaluate" and pipe.get_params().get(
        "classifier__estimator__checkpoint_path"
    ):
        # the second fold refused the file the first had written
        raise _UsageError(
            "--set classifier__estimator__checkpoint_path: every fold would "
            "write the same checkpoint; train or pretrain keeps one"
        )
    if args.weights is not None:
        # a bad file, or one of another network, fails now, not after the signals
        import torch

        from .network import CycleResNet

        # building it draws random weights: from a fork, so that the check
        # leaves the run's seeded stream as it was
        with torch.random.fork_rng(devices=[]):
            CycleResNet(
                pipe.get_params()["classifier__estimator__arch"],
                weights_path=args.weights,
            )
    return pipe


def _checked_device(name: str) -> str:
    """``--device``, checked before any work and returned as given: a model
    saved with ``auto`` picks its device wherever it is used next."""
    import torch

    from .network import check_device

    try:
        device = torch.device(check_device(name))
    except ValueError as err:
        raise _UsageError(f"--{err}") from err  # --device 'x': why
    if device.type not in ("cpu", "cuda"):  # torch parses mps, meta, xla...
        raise _UsageError(f"--device {name}: use cpu, cuda, cuda:N or auto")
    return name


def _cmd_evaluate(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    if args.folds is not None and args.split_by == "recorder":
        raise _UsageError(  # it was ignored without a word
            "--folds: --split-by recorder makes one fold per recorder; leave "
            "--folds out"
        )
    pipe = _pipeline_for(args)  # a wrong --set stops before the data is read
    data, unit = _labelled_data(args.data_dir, need_groups=not args.no_patient_groups)
    if args.no_patient_groups:
        _say(
            "WARNING: --no-patient-groups: every recording is its own group; "
            "recordings of one patient can land on both sides of a split."
        )
        if unit == "database":  # still the recorders, for the per-site lines
            data["database"] = data.groups
        data.groups = np.arange(len(data.target)).astype(str)
        unit = "recording"
    elif _names_carry_no_patients(data, args.data_dir, unit):
        _say(
            f"error: {_NO_PATIENT_IDS}. Name the files by patient, or pass "
            "--no-patient-groups to split by recording knowingly."
        )
        return 2
    if args.split_by == "recorder" and _recorders(data, unit)[1] is None:
        _say(
            f"error: {args.data_dir} names no recorders: --split-by recorder needs "
            "a 'recorder' column in a CSV manifest (a PhysioNet 2016 layout splits "
            "by database)"
        )
        return 2
    lines = _evaluate(
        pipe,
        data,
        args.folds,
        started,
        unit,
        by_recorder=args.split_by == "recorder",
        skip_coarse=args.skip_coarse,
    )
    print("\n".join(lines))
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from .persistence import save_model

    if args.output.lower().endswith(".onnx"):
        raise _UsageError(
            f"-o {args.output}: train writes a model file (.vsk); make the ONNX "
            "file from it with export"
        )
    if _would_overwrite(args):
        return 2
    _check_model_name(args)  # after: a file it would replace is named first
    out = Path(args.output)
    # one line per epoch (skorch's table, on stderr): a corpus of heart
    # sounds trains for minutes
    pipe = _pipeline_for(args, classifier__estimator__verbose=1)
    data, unit = _labelled_data(args.data_dir)
    unit = _training_unit(data, args.data_dir, unit)
    _say(
        f"training on {len(data.target)} recordings"
        + (
            ""
            if unit == "recording"
            else f" of {_count(len(np.unique(data.groups)), unit)}"
        )
    )
    heard = _heard(data)  # for the card and --skip-coarse
    backbone = None
    if args.weights is not None:
        from .model_card import _backbone_info

        # the backbone heard its corpus's recorders, so the model has too:
        # read before training, which a file gone by its end would waste; as
        # a backbone whatever its name, as the network reads it
        heard_before = _backbone_info(args.weights)["card"]
        backbone = {"file": args.weights, **heard_before}
        backbone["file"] = args.weights  # this file, whatever its card says
    # the network's own validation split (early stopping) then holds out whole
    # patients, as pretrain's does, never a patient's other recordings
    given = {"classifier__groups": data.groups}
    if args.skip_coarse:
        snr = heard["rounding_snr_db"]
        given["classifier__sample_weight"] = _weight_without_coarse(data, snr)
    with contextlib.redirect_stdout(_Progress()):
        model = pipe.fit(data.recordings, data.target, **given)
    # the saved model is as quiet as one made in Python
    model.set_params(classifier__estimator__verbose=0)
    trained = model[-1].recordings_trained_
    if not trained.all():
        _say(
            f"left out of training: {_count(int((~trained).sum()), 'recording')} "
            "without a heart cycle (--on-empty prior)"
        )
    card = _training_card(args, args.data_dir, data, unit, heard, trained)
    if backbone is not None:
        card["backbone"] = backbone
    save_model(model, out, overwrite=args.force, card=card)
    _say(f"saved {out}")
    return 0


def _spread(values: np.ndarray, digits: int) -> dict:
    """Least, median and greatest of the finite ``values`` (unreadable files
    are NaN, digital silence's loudness -inf)."""
    finite = values[np.isfinite(values)]
    if not len(finite):
        return {}
    quantiles = np.percentile(finite, [0, 50, 100]).round(digits)
    return dict(zip(("min", "median", "max"), quantiles.tolist(), strict=True))


def _file_digests(paths: Any) -> list[str]:
    """A short digest of each file's bytes (BLAKE2b, 8 bytes; "" for a file
    that cannot be read): the same recording under another name or folder
    has the same digest."""
    from .corpus import _file_digest

    return [_file_digest(path) for path in paths]


def _training_card(
    args: argparse.Namespace,
    source: str,
    data,
    unit: str,
    heard: dict,
    trained: np.ndarray | None = None,
) -> dict:
    """What train's model or pretrain's backbone was trained on (``source``),
    for its file: read back by describe, so that whoever is given the model
    knows which recorders it heard. The recordings ``--skip-coarse`` leaves
    out are counted, and nothing else of theirs: ``score`` compares a clinic's
    files with the ranges the model heard; nor is anything of those without
    a cycle (``trained``: those that gave cycles)."""
    import datetime
    import shlex

    from .audio import file_sample_rate
    from .screening import COARSE_LIMIT_DB

    coarse = ~(heard["rounding_snr_db"] >= COARSE_LIMIT_DB)
    used = ~coarse if args.skip_coarse else np.ones(len(coarse), bool)
    if trained is not None:
        used &= trained
    y = np.asarray(data.target)[used]
    names = [str(name) for name in data.target_names]
    files = np.asarray(data.filenames, dtype=object)[used]
    return {
        "trained_on": source,
        "recordings": len(y),
        f"{unit}s": len(np.unique(np.asarray(data.groups)[used])),
        "labels": {name: int(np.sum(y == k)) for k, name in enumerate(names)},
        "sample_rates_hz": sorted({file_sample_rate(f) for f in files}),
        "loudness_db": _spread(heard["loudness_db"][used], 1),
        "converter_step": _spread(heard["converter_step"][used], 2),
        "coarse_recordings": int(coarse[used].sum()),
        "coarse_left_out": int(coarse.sum()) if args.skip_coarse else 0,
        # score tells a clinic's files that are training files, under any name
        "file_digests": sorted({d for d in _file_digests(files) if d}),
        "date": datetime.datetime.now(datetime.timezone.utc).date().isoformat(),
        "command": shlex.join(["vascular-sklearn", *args.argv]),
    }


def _cmd_describe(args: argparse.Namespace) -> int:
    from .model_card import read_model_card

    print("\n".join(_card_lines(args.model, read_model_card(args.model))))
    return 0


def _card_value(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {_card_value(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_card_value(v) for v in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def _card_rows(card: dict, indent: str = "  ") -> list[str]:
    """One row per entry; an entry that holds entries of its own (a
    backbone's card in a model's) as an indented block under its name."""
    width = max(len(key) for key in card)
    rows = []
    for key, value in card.items():
        if isinstance(value, dict) and any(isinstance(v, dict) for v in value.values()):
            rows += [f"{indent}{key}:", *_card_rows(value, indent + "  ")]
        elif key == "file_digests" and isinstance(value, list):
            # a number of each file: what score reads
            rows.append(
                f"{indent}{key:<{width}}  {len(value)}, one per distinct training "
                "file (score warns of files among them)"
            )
        else:
            rows.append(f"{indent}{key:<{width}}  {_card_value(value)}")
    return rows


def _card_lines(path: str, info: dict) -> list[str]:
    from .corpus import TARGET_NAMES

    classes, card = info["classes"], info["card"]
    if info["kind"] == "backbone":
        return _backbone_lines(path, info)
    if classes == [0, 1]:
        # the names the model was trained with (PhysioNet's 1 is "abnormal")
        labels = card.get("labels")
        names = list(labels) if isinstance(labels, dict) and len(labels) == 2 else None
        names = TARGET_NAMES if names is None else names
        classes = [f"{name} ({k})" for k, name in enumerate(names)]
    versions = ", ".join(f"{lib} {v}" for lib, v in info["versions"].items())
    scored = info["cycles_scored"]
    rate = info["sample_rate"]
    lines = [
        f"{path}: {info['kind']}, saved with {versions}",
        f"network: {info['network']}; "
        + ("every cycle" if scored is None else f"{scored} cycles")
        + " scored per recording"
        + ("" if rate is None else f", at {rate:g} Hz"),
        f"classes: {', '.join(str(c) for c in classes)}",
    ]
    if not card:
        return [
            *lines,
            "no card: saved without one, so what it was trained on is not "
            "recorded (train writes one; save_model(card=...) in Python)",
        ]
    return [
        *lines,
        "card:",
        *_card_rows(card),
        "Recordings unlike these (another microphone, gain or converter) get "
        "answers about their recorder as much as their vessel: score labelled "
        "recordings of your own ('score') before trusting it there.",
    ]


def _backbone_lines(path: str, info: dict) -> list[str]:
    shape = info["image_shape"]
    lines = [
        f"{path}: backbone (tensor-only weights, for train --weights)",
        f"network: {info['network'] or 'not a ResNet this library builds'}"
        + (
            ""
            if shape is None
            else f"; pretrained on images of {shape[1]} x "
            f"{shape[2]} (frequency rows x frames)"
        ),
    ]
    if not info["card"]:
        return [
            *lines,
            "no card: saved without one, so what it was pretrained on is not "
            "recorded (pretrain writes one; save_backbone(card=...) in Python)",
        ]
    return [
        *lines,
        "card:",
        *_card_rows(info["card"]),
        "A model fine-tuned from it has heard these recorders too: train "
        "--weights copies this card into the model's, under 'backbone'.",
    ]


def _onnx_export(path: str) -> bool:
    """Whether ``path`` names an ONNX export: a model file of train named
    ``.onnx`` by mistake is not one, and loads as the model file it is."""
    from ._model_spec import is_model_file

    return Path(path).suffix.lower() == ".onnx" and not is_model_file(path)


def _load_for_screening(args: argparse.Namespace):
    from ._model_spec import is_model_file
    from .audio import AUDIO_SUFFIXES

    suffix = Path(args.model).suffix.lower()
    if not args.trust_pickle and (suffix in AUDIO_SUFFIXES or suffix == ".csv"):
        what = "a manifest" if suffix == ".csv" else "a recording"
        sources = "DATA" if args.command == "score" else "FILES..."
        raise _UsageError(
            f"{args.model} is {what}, not a model: give the model first "
            f"({args.command} MODEL {sources})"
        )
    if args.trust_pickle and is_model_file(args.model):
        raise _UsageError(
            f"{args.model} is a model file from train: load it without --trust-pickle"
        )
    if args.trust_pickle:
        import joblib
        from sklearn.pipeline import Pipeline

        if args.device != "cpu":  # was ignored without a word, even "bogus"
            raise _UsageError(
                f"--device {args.device}: a pickled pipeline runs where its "
                "network was set to run when it was saved; leave --device out"
            )
        if not Path(args.model).is_file():
            raise _UsageError(f"{args.model}: no such file")
        try:
            model = joblib.load(args.model)
        except Exception as err:  # unpickling fails in many ways, all alike here
            raise _UsageError(
                f"{args.model}: not a joblib or pickle file of a fitted pipeline "
                f"({type(err).__name__}: {err})"
            ) from err
        if not isinstance(model, Pipeline) or not hasattr(model, "predict_proba"):
            raise _UsageError(
                f"{args.model} holds a {type(model).__name__}, not a fitted "
                "scikit-learn Pipeline that gives probabilities"
            )
        from sklearn.exceptions import NotFittedError
        from sklearn.utils.validation import check_is_fitted

        try:
            check_is_fitted(model)
        except NotFittedError as err:
            raise _UsageError(f"{args.model}: {err}") from err
        return model
    if _onnx_export(args.model):
        if args.device not in ("cpu", "auto"):  # was ignored, even "bogus"
            raise _UsageError(
                f"--device {args.device}: a .onnx model runs on the CPU; leave "
                "--device out, or score the .vsk model it was exported from"
            )
        # the torch-free runtime: nothing below imports torch
        from .runtime import load_onnx

        return load_onnx(args.model)
    try:
        from .persistence import load_model
    except ImportError as err:
        raise _UsageError(
            f"{args.model} needs torch ({err.__cause__ or err}): pip install "
            "'vascular-sklearn[network]', or score an .onnx file made by 'export'"
        ) from err
    return load_model(args.model, device=_checked_device(args.device))


def _cmd_export(args: argparse.Namespace) -> int:
    try:
        from .persistence import export_onnx, load_model
    except ImportError as err:  # persistence's own names the network extra
        raise ImportError(
            f"export needs torch, onnx and onnxscript ({err.__cause__ or err}); "
            "install them with: pip install 'vascular-sklearn[export]'"
        ) from err

    if _onnx_export(args.model) and Path(args.model).is_file():
        raise _UsageError(
            f"{args.model} is an ONNX export already: predict and score take it "
            "as it is; export takes a model file from train"
        )
    if Path(args.output).suffix.lower() != ".onnx":
        # predict, score and describe know an export by its name: under any
        # other it was taken for a damaged model file
        raise _UsageError(f"-o {args.output}: name the export *.onnx")
    if _would_overwrite(args):
        return 2
    from .model_card import read_model_card

    card = read_model_card(args.model)["card"]  # carried over to the export
    export_onnx(load_model(args.model), args.output, overwrite=args.force, card=card)
    _say(f"exported {args.output}")
    return 0


def _resampled(paths: Sequence[str], rate: float | None) -> str:
    """How many files were recorded at another rate than the model's, which
    screening brought them to (the table does not show it)."""
    from .corpus import _file_rates

    if not rate:
        return ""
    rates = _file_rates(paths)
    other = rates[~np.isnan(rates) & (rates != rate)]
    if not len(other):
        return ""
    return (
        f"; {len(other)} recorded at {', '.join(f'{r:g}' for r in np.unique(other))}"
        f" Hz, resampled to the model's {rate:g} Hz"
    )


def _cmd_predict(args: argparse.Namespace) -> int:
    from .screening import predict_files

    if _would_overwrite(args):  # before loading a model: that takes seconds
        return 2
    _check_table_name(args)  # after: a file it would replace is named first
    model = _load_for_screening(args)
    # walked once, by predict_files: a second walk of a folder still being
    # filled (/data/incoming) finds other files, and a second reading of a
    # manifest's list took a missing file for a missing source
    summary = predict_files(
        model,
        args.sources,
        args.output,
        batch_size=args.batch_size,
        threshold=args.threshold,
        n_jobs=args.n_jobs,
        overwrite=args.force,
        progress=_progress(),
    )
    for path, reason in summary.failed:
        _say(f"error: {path}: {reason}")
    # a file not scored is no flagged answer: counted apart
    not_scored = summary.n_files - summary.n_scored
    _say(
        f"{_count(summary.n_files, 'recording')}: {summary.n_scored} scored "
        f"({summary.n_flagged - not_scored} flagged), {not_scored} not scored"
        # every file whose header gives a rate, as score counts them: one
        # without a cycle was read at the model's rate too, and its rate may
        # be why it had none
        + _resampled(summary.paths, getattr(model.steps[0][1], "sample_rate_", None))
        + (f"; table in {args.output}" if args.output else "")
    )
    return 1 if summary.failed else 0


def _cmd_score(args: argparse.Namespace) -> int:
    from ._output import TableWriter
    from .datasets import TARGET_NAMES
    from .screening import COLUMNS, _write_table, external_validation

    if _would_overwrite(args):
        return 2
    _check_table_name(args)
    model = _load_for_screening(args)
    # read at the model's rate, as it scores them (and as the warning says)
    rate = getattr(model.steps[0][1], "sample_rate_", None)
    data, unit = _labelled_data(
        args.data, need_groups=False, lazy=True, need_both=False, sample_rate=rate
    )
    if _names_carry_no_patients(data, args.data, unit):
        _say(
            f"WARNING: {_NO_PATIENT_IDS}: each recording is resampled alone, "
            "which reads narrower than the truth where a patient made several."
        )
        data.groups, unit = None, "recording"
    # a database is a site, not a subject, and a manifest without patients
    # names none: their recordings are resampled alone
    by_patient = unit == "patient"
    of = "" if data.groups is None else f" of {_count(len(set(data.groups)), unit)}"
    _say(
        f"scoring {args.model} on {len(data.target)} recordings "
        f"({int(data.target.sum())} {data.target_names[1]}){of}"
        + _resampled(data.filenames, rate)
    )
    result = external_validation(
        model,
        data.filenames,
        data.target,
        data.groups if by_patient else None,
        threshold=args.threshold,
        batch_size=args.batch_size,
        n_jobs=args.n_jobs,
        progress=_progress(),
    )
    for path, reason in result.failed:
        _say(f"not scored: {path}: {reason}")
    # the table in the data's words (abnormal heart sounds are no stenosis),
    # and each recording's database where that is its group
    words = dict(zip(TARGET_NAMES, data.target_names, strict=True))
    for i, row in enumerate(result.rows):
        for key in ("true_label", "label"):
            row[key] = words.get(row[key], row[key])
        if unit == "database":
            row["group"] = str(data.groups[i])
    if args.output:
        columns = ["path", "true_label", "group", *COLUMNS[1:]]

        def write(out) -> None:
            table = TableWriter(out, columns)
            table.writeheader()
            table.writerows(result.rows)

        _write_table(args.output, write, overwrite=args.force)
    report = result.report
    lines = [f"Recordings scored: {result.n_scored} of {len(data.target)}"]
    flagged = Counter(
        row["quality"]
        for row in result.rows
        if row["probability_stenosis"] != "" and row["quality"] != "ok"
    )
    if flagged:  # a clinic's numbers may hold answers about its equipment
        kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(flagged.items()))
        where = (
            "each row's message says why"
            if args.output
            else "give -o TABLE.csv for which and why"
        )
        lines.append(f"Scored but flagged: {kinds} ({where})")
    lines += _report_lines("recording", report)
    if "roc_auc_ci" in report:
        units = "recordings"
        if by_patient:
            scored = data.groups[~np.isnan(result.proba)]
            units = _count(len(np.unique(scored)), unit)
        cells = ", ".join(
            f"{key} {report[key + '_ci'][0]:.2f} to {report[key + '_ci'][1]:.2f}"
            for key in ("roc_auc", "sensitivity", "specificity")
        )
        groups = data.groups if by_patient else np.arange(len(data.target))
        scored = ~np.isnan(result.proba)
        few = _few(data.target[scored], groups[scored], unit if by_patient else "")
        if not by_patient:  # a database's or a list's subjects are unknown
            few += (
                " (each recording resampled alone: narrower than the truth "
                "where a patient made several)"
            )
        lines.append(f"95 % intervals, resampling the {units}: {cells}{few}")
    else:  # said, not left out without a word
        lines.append(_why_no_intervals(data, result.proba, unit, by_patient))
    lines += _recorder_lines(data, unit, result.proba, args.threshold, "")
    card = _card_of(args)
    lines += _device_lines(data, unit, card)
    print("\n".join(_trained_on_these(data.filenames, card) + lines))
    return 1 if result.failed else 0


def _trained_on_these(paths: Any, card: dict) -> list[str]:
    """A warning, first, where scored files are files the model (or its
    backbone) was trained on, by their bytes: its scores on them are no
    external validation, however the files are named now."""
    known = {
        digest
        for part in (card, card.get("backbone"))
        if isinstance(part, dict) and isinstance(part.get("file_digests"), list)
        for digest in part["file_digests"]
        if isinstance(digest, str)
    }
    here = _file_digests(paths) if known else []
    seen = sum(bool(d) and d in known for d in here)
    if not seen:
        return []
    return [
        f"WARNING: {seen} of {len(here)} recordings are files this model or its "
        "backbone was trained on (the same bytes): its scores on them are not "
        "external validation"
    ]


def _card_of(args: argparse.Namespace) -> dict:
    """The card of the model given (empty for a pickle, which holds none)."""
    from .model_card import read_model_card

    return {} if args.trust_pickle else read_model_card(args.model)["card"]


#: Fewer units than this in a class, and a bootstrap interval is told to be
#: narrower than the truth: 2 patients a class gave "1.00 to 1.00".
_FEW_PER_CLASS = 10


def _few(y: np.ndarray, groups: np.ndarray, unit: str) -> str:
    """A caution for intervals resampled from few patients (or recordings)
    of a class, which read narrower than the uncertainty they stand for."""
    from .evaluation import _patients_per_class

    least = int(_patients_per_class(y, groups, labels=(0, 1)).min())
    if least >= _FEW_PER_CLASS:
        return ""
    return (
        f" (a class holds {_count(least, unit or 'recording')}: an interval "
        "resampled from so few reads narrower than the truth)"
    )


def _why_no_intervals(data, proba: np.ndarray, unit: str, by_patient: bool) -> str:
    """Why ``score`` gives no intervals: a class scored in too few patients
    (or recordings, where they are the unit) to resample."""
    scored = ~np.isnan(proba)
    y = data.target[scored]
    groups = data.groups[scored] if by_patient else np.flatnonzero(scored)
    from .evaluation import _patients_per_class

    held = _patients_per_class(y, groups, labels=(0, 1))
    k = int(np.argmin(held))
    name = data.target_names[k]
    if not held[k]:
        return f"No 95 % intervals: no {name} recording was scored"
    return (
        f"No 95 % intervals: the scored {name} recordings come from "
        f"{_count(int(held[k]), unit if by_patient else 'recording')}; "
        "resampling needs two or more of each class"
    )


def _type_named(kind: str) -> Callable[[Callable], Callable]:
    """argparse words a ValueError with the type's name: "invalid int value"."""

    def name(parse: Callable) -> Callable:
        parse.__name__ = kind
        return parse

    return name


_named_int = _type_named("int")


def _at_least(low: int) -> Callable[[str], int]:
    """An argparse type: a whole number from ``low`` up."""

    @_named_int
    def parse(text: str) -> int:
        value = int(text)
        if value < low:
            raise argparse.ArgumentTypeError(f"{value}: give {low} or more")
        return value

    return parse


@_named_int
def _seed(text: str) -> int:
    """An argparse type: a seed numpy takes, 0 to 2**32 - 1."""
    value = int(text)
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(
            f"{value}: give a whole number, 0 to 2**32 - 1"
        )
    return value


@_named_int
def _jobs(text: str) -> int:
    """An argparse type: joblib's n_jobs, any whole number but 0."""
    value = int(text)
    if value == 0:
        raise argparse.ArgumentTypeError("0: give 1 or more, or -1 for every core")
    return value


@_type_named("float")
def _probability(text: str) -> float:
    """An argparse type: a number from 0 to 1."""
    value = float(text)
    if not 0 <= value <= 1:  # NaN too
        raise argparse.ArgumentTypeError(f"{text}: give a probability, 0 to 1")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vascular-sklearn",
        description="Stenosis screening from vascular-access recordings.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--seed", type=_seed, default=0, help="random_state (default 0)")
        p.add_argument(
            "--device", default="cpu", help="cpu (default), cuda, cuda:N or auto"
        )

    def settable(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--set",
            action="append",
            type=_param,
            metavar="NAME=VALUE",
            help="any pipeline parameter, as set_params names it (repeatable): "
            "--set spectrogram__floor_db=80 --set harmonize=passthrough",
        )

    def skip_coarse(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--skip-coarse",
            action="store_true",
            help="leave out of training the recordings screening would flag "
            "coarse (rounding noise within 40 dB of the sound), whose converter "
            "can tell the label",
        )

    demo = sub.add_parser("demo", help="grouped CV on built-in synthetic data")
    common(demo)
    demo.add_argument(
        "--folds", type=_at_least(2), default=4, help="GroupKFold folds (default 4)"
    )
    demo.set_defaults(func=_cmd_demo)

    for name, helptext in [
        ("evaluate", "grouped CV report (by patient; by database for PhysioNet)"),
        ("train", "fit on a folder and save the model"),
    ]:
        p = sub.add_parser(name, help=helptext)
        p.add_argument(
            "data_dir",
            help="folder with normal/ and abnormal/ recordings, a CSV manifest "
            "(path,label,patient), or a PhysioNet 2016 folder "
            "(training-*/REFERENCE.csv, grouped by database)",
        )
        common(p)
        p.add_argument(
            "--seed-recipe",
            action="store_true",
            help="the original study's settings (50 epochs: slow)",
        )
        p.add_argument(
            "--max-epochs",
            type=_at_least(1),
            help="training epochs (default 5; 50 with --seed-recipe)",
        )
        p.add_argument(
            "--arch", default="resnet50", choices=_ARCHS, help="default resnet50"
        )
        p.add_argument(
            "--on-empty",
            default="error",
            choices=("error", "prior"),
            help="recordings in which no heart cycle is found: stop and name "
            "them (default), or leave them out of training and answer the "
            "class prior for them ('predict' never scores them)",
        )
        p.add_argument(
            "--weights",
            help="start from a backbone made by 'pretrain' (tensor-only .pt file)",
        )
        p.add_argument(
            "--backbone-lr",
            type=float,
            help="learning rate of the backbone with --weights (default 1e-4; "
            "the new head keeps the pipeline's)",
        )
        settable(p)
        skip_coarse(p)
        if name == "evaluate":
            p.add_argument(
                "--folds",
                type=_at_least(2),
                help="GroupKFold folds, at most one per patient (or database) "
                "(default 5)",
            )
            p.add_argument(
                "--split-by",
                choices=("patient", "recorder"),
                default="patient",
                help="patient: --folds folds by patient (by database for "
                "PhysioNet; default); recorder: "
                "each recorder (a manifest's 'recorder' column, a PhysioNet "
                "database) scored by models that never heard it nor its "
                "patients, what a clinic with another device would see",
            )
            p.add_argument(
                "--no-patient-groups",
                action="store_true",
                help="split by recording (leaks patients: not a result)",
            )
            p.set_defaults(func=_cmd_evaluate)
        else:
            p.add_argument("-o", "--output", required=True, help="model file")
            p.add_argument("--force", action="store_true", help="replace OUTPUT")
            p.set_defaults(func=_cmd_train)

    pre = sub.add_parser(
        "pretrain", help="train the cycle network on a corpus; save it as a backbone"
    )
    pre.add_argument(
        "data",
        help="a PhysioNet 2016 folder (training-*/REFERENCE.csv), a folder with "
        "normal/ and abnormal/, or a CSV manifest (path,label,patient)",
    )
    common(pre)
    pre.add_argument("-o", "--output", required=True, help="the weights file (.pt)")
    pre.add_argument("--max-epochs", type=_at_least(1), default=5, help="default 5")
    pre.add_argument(
        "--cycles-per-recording",
        type=_at_least(1),
        default=8,
        help="cycles drawn afresh from each recording every epoch (default 8)",
    )
    pre.add_argument(
        "--arch", default="resnet50", choices=_ARCHS, help="default resnet50"
    )
    settable(pre)
    pre.add_argument(
        "--n-jobs",
        type=_jobs,
        default=None,
        help="recordings prepared in parallel (-1: every core); on a GPU the "
        "signal steps, not the network, take most of the time",
    )
    pre.add_argument(
        "--resume",
        action="store_true",
        help="start from OUTPUT.partial, the last epoch of an interrupted run",
    )
    skip_coarse(pre)
    pre.add_argument("--force", action="store_true", help="replace OUTPUT")
    pre.set_defaults(func=_cmd_pretrain)

    export = sub.add_parser(
        "export", help="a trained model as ONNX, for screening without torch"
    )
    export.add_argument("model", help="a model file from 'train'")
    export.add_argument("-o", "--output", required=True, help="the .onnx file")
    export.add_argument("--force", action="store_true", help="replace OUTPUT")
    export.set_defaults(func=_cmd_export)

    describe = sub.add_parser(
        "describe", help="what a model was trained on: its card, network and rate"
    )
    describe.add_argument(
        "model",
        help="a model file from 'train', a .onnx file from 'export' or a .pt "
        "backbone from 'pretrain'",
    )
    describe.set_defaults(func=_cmd_describe)

    def screening(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "model", help="a model file from 'train', or a .onnx file from 'export'"
        )
        p.add_argument(
            "--batch-size",
            type=_at_least(1),
            default=32,
            help="recordings in memory at once (default 32)",
        )
        p.add_argument(
            "--n-jobs", type=_jobs, default=None, help="batches scored in parallel"
        )
        p.add_argument(
            "--device",
            default="cpu",
            help="cpu (default), cuda, cuda:N or auto; a .onnx model runs on the CPU",
        )
        p.add_argument(
            "--trust-pickle",
            action="store_true",
            help="MODEL is a joblib/pickle file you made yourself (runs code on load)",
        )
        p.add_argument(
            "--threshold",
            type=_probability,
            default=0.5,
            help="probability from which a recording is labelled stenosis "
            "(default 0.5)",
        )

    pred = sub.add_parser(
        "predict", help="probability of stenosis per file, as a CSV table"
    )
    screening(pred)
    pred.add_argument(
        "sources", nargs="+", help="audio files, folders or CSV manifests"
    )
    pred.add_argument(
        "-o", "--output", help="CSV file (default, or -: standard output)"
    )
    pred.add_argument("--force", action="store_true", help="replace OUTPUT")
    pred.set_defaults(func=_cmd_predict)

    score = sub.add_parser(
        "score",
        help="a trained model on labelled recordings from elsewhere "
        "(external validation)",
    )
    screening(score)
    score.add_argument(
        "data",
        help="labelled recordings: a folder with normal/ and abnormal/, a CSV "
        "manifest (path,label and optionally patient), or a PhysioNet 2016 "
        "folder (training-*/REFERENCE.csv, or REFERENCE.csv beside the audio)",
    )
    score.add_argument(
        "-o", "--output", help="CSV file: each recording's answer beside its label"
    )
    score.add_argument("--force", action="store_true", help="replace OUTPUT")
    score.set_defaults(func=_cmd_score)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line.

    Parameters
    ----------
    argv : sequence of str or None, default=None
        Arguments after the program name; ``None`` reads ``sys.argv``.

    Returns
    -------
    status : int
        0 on success, 1 when some recordings could not be scored (or the
        reader of standard output closed it early: ``predict ... | head``), 2
        on a usage, file or data error (said on stderr, without a traceback), 130
        after Ctrl-C and 143 after SIGTERM (nothing half-written is left).

    Examples
    --------
    >>> main(["predict", "no-such-model.vsk", "a.wav"])  # error on stderr
    2
    """
    args = _parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # for train's card
    if getattr(args, "output", None) == "-":
        if args.command != "predict":
            # it wrote a file named "-"
            _say(f"error: -o -: {args.command} writes a file; give its name")
            return 2
        args.output = None  # the usual name of standard output
    try:
        with _terminate_cleanly(), _plain_warnings(), _raw_file_names(sys.stdout):
            return args.func(args)
    except BrokenPipeError:
        # the reader stopped reading (predict ... | head): nothing to say, but
        # Python's last flush of stdout must not fail again at exit
        with contextlib.suppress(OSError, ValueError):  # no file descriptor
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        if os.environ.get("VASCULAR_SKLEARN_DEBUG"):
            raise
        # nothing was saved; pretrain's last epoch stays in OUTPUT.partial
        _say("interrupted" + _resume_hint(args))
        return 130
    except _Terminated:
        if os.environ.get("VASCULAR_SKLEARN_DEBUG"):
            raise
        _say("terminated" + _resume_hint(args))
        return 143
    except (
        _UsageError,
        # the library's errors (a recording, a label file, a model or weights
        # file) and its checks of what the data hold (one class, say)
        ValueError,
        # files: missing, existing, a folder, not writable, a full disk
        OSError,
        # torch's: no CUDA driver (a --set device), out of GPU memory
        RuntimeError,
        # an optional dependency the command needs
        ImportError,
    ) as err:
        if os.environ.get("VASCULAR_SKLEARN_DEBUG") or isinstance(
            err, (RecursionError, NotImplementedError)
        ):
            raise  # a RuntimeError of these kinds is a bug of ours, not torch's
        message = str(err)
        if isinstance(err, FileExistsError):
            # a file made while the command worked: the library's advice names
            # its Python parameter
            message = message.replace("pass overwrite=True", "use --force")
        # the library's advice names its Python parameter: here, the flag
        message = message.replace("pass threshold=", "use --threshold ")
        if isinstance(err, OSError) and err.errno in _FULL and not err.filename:
            # "[Errno 28] No space left on device" named no file: the output,
            # where the command writes one
            if hasattr(args, "output"):
                message = f"{args.output or 'standard output'}: {message}"
        _say(f"error: {message}")
        if isinstance(err, TooFewCyclesError):
            # the library's message names the Python parameters; only the
            # flags this command has are named (pretrain has no --on-empty)
            fixes = []
            if hasattr(args, "on_empty"):
                fixes.append(
                    "--on-empty prior leaves such recordings out of training"
                    + (
                        " and answers them with the class prior"
                        if args.command == "evaluate"
                        else ""
                    )
                )
            if hasattr(args, "set"):
                fixes.append(
                    "--set cut__threshold=... or --set cut__method=period "
                    "changes the cutter"
                )
            if fixes:
                _say("  on the command line: " + "; ".join(fixes))
        where = traceback.extract_tb(err.__traceback__)[-1]
        if not where.filename.startswith(str(Path(__file__).parent)):
            # raised in numpy, torch...: perhaps our bug, so say where
            _say(
                f"  ({type(err).__name__} at {where.filename}:{where.lineno}; "
                "VASCULAR_SKLEARN_DEBUG=1 shows the traceback)"
            )
        return 2
