"""Screening a corpus: one CSV row per recording, batch by batch.

Memory stays bounded by the batch, not the corpus: files are read when their
batch reaches the pipeline's first step, and each batch's rows are written
as it is done (a few batches in flight at once). Batches run through joblib, so
``joblib.parallel_config(backend="dask")`` spreads them over a cluster.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from numbers import Integral, Real
from typing import IO, Any

import numpy as np
from joblib import Parallel, delayed
from joblib.parallel import get_active_backend
from sklearn.utils import Bunch
from sklearn.utils.validation import check_is_fitted

from ._output import TableWriter, check_output, replacing
from .audio import AUDIO_SUFFIXES, UNREADABLE_AUDIO_SUFFIXES, _info
from .beats import _MARGIN
from .containers import CycleBags, Signals
from .corpus import (
    _LABELS,
    RecordingFiles,
    _files_under,
    _given_path,
    _manifest_rows,
    find_recordings,
    read_manifest,
)
from .cutting import PeakCycleCutter
from .cycle_quality import PULSE_LIMIT_DB
from .datasets import TARGET_NAMES
from .evaluation import (
    _binary_labels,
    _check_threshold,
    _ids,
    _patients_per_class,
    bootstrap_report,
    clinical_report,
)
from .exceptions import (
    MixedSampleRateWarning,
    NoPulseWarning,
    RecordingError,
    _left_to_caller,
)
from .lowpass import LowpassFilter

__all__ = [
    "COLUMNS",
    "external_validation",
    "predict_files",
    "recording_paths",
    "score_files",
]

#: Columns of the screening table, in order.
COLUMNS = (
    "path",
    "probability_stenosis",
    "label",
    "cycles_used",
    "quality",
    "message",
)
#: Share of clipped samples above which a scored recording is flagged.
CLIPPED_LIMIT = 0.01
#: Decibels of a recording's power above its converter's rounding noise in the
#: 1 kHz band (:func:`~vascular_sklearn.recorder.rounding_snr_db`) under which a
#: scored recording is flagged ``coarse``: the rounding noise then reaches the
#: floor the default harmonizer brings every recording to (40 dB below its
#: power per kHz), and on the confounded simulator the default's answers moved
#: with the recorder below it and held still above it (``bench_coarse``).
COARSE_LIMIT_DB = 40.0
#: Seconds under which a recording is too short: a cycle runs from one beat
#: to the next, and two beats of a heart at 40 per minute take 3 s. Without a
#: cycle, it is the reason given; with one, the answer is flagged ``short``.
SHORT_SECONDS = 3.0
#: Seconds ``PeakCycleCutter(method="period")`` needs to find a beat period:
#: two beats of the slowest heart it searches (35 per minute, ``find_beats``'s
#: ``min_bpm``) with its margin (:func:`~vascular_sklearn.beats.estimate_period`).
_PERIOD_SECONDS = 2 * _MARGIN * 60 / 35.0


def recording_paths(
    source: str | os.PathLike | Sequence[str | os.PathLike],
) -> list[str]:
    """The audio files a source names: a folder, a CSV manifest, or files.

    Parameters
    ----------
    source : path-like or sequence of path-like
        Each entry is a folder (searched recursively, see
        :func:`~vascular_sklearn.corpus.find_recordings`; files in formats
        libsndfile cannot read, such as ``.m4a``, come too, to get rows that
        say so), a ``.csv`` manifest
        (its ``path`` column, see :func:`~vascular_sklearn.corpus.read_manifest`;
        a listed file that is missing is kept, to get its own row), or an
        audio file.

    Returns
    -------
    paths : list of str

    Raises
    ------
    FileNotFoundError
        A folder without audio, a manifest none of whose files exist, an empty
        path (the working folder, were it read), an entry that is neither
        (no such folder, nor an audio file's name), a manifest not named
        ``.csv`` (``.tsv``, ``.txt``), or no entries at all.

    Examples
    --------
    >>> import tempfile, numpy as np, soundfile as sf
    >>> from pathlib import Path
    >>> folder = Path(tempfile.mkdtemp())
    >>> sf.write(folder / "a.wav", np.zeros(10), 22050)
    >>> [Path(p).name for p in recording_paths([folder, folder / "a.wav"])]
    ['a.wav', 'a.wav']
    """
    if isinstance(source, (str, bytes, os.PathLike)):  # not its characters
        source = [source]
    paths: list[str] = []
    for entry in source:
        entry = _given_path(entry)
        if entry.is_dir():
            # a phone's memos (.m4a) get rows that say so: left out of the
            # table, a patient's recording was missing from it unsaid
            unread = [
                str(p)
                for p in _files_under(entry)
                if p.suffix.lower() in UNREADABLE_AUDIO_SUFFIXES and p.is_file()
            ]
            try:
                found = find_recordings(entry)
            except FileNotFoundError:
                if not unread:
                    raise
                found = []
            paths += sorted(found + unread)
        elif entry.suffix.lower() == ".csv":
            # its paths only (a label to be found is no error here), and a
            # listed file that is missing gets its own row, as one named here
            listed = _manifest_rows(entry)[0]
            if not any(os.path.lexists(p) for p in listed):
                # none there: the paths are read from elsewhere, which the
                # manifest reader's message explains (relative to its folder)
                with _left_to_caller(MixedSampleRateWarning):
                    read_manifest(entry, columns=())
            paths += [str(p) for p in listed]
        elif entry.is_file() and entry.suffix.lower() in (".tsv", ".txt"):
            raise FileNotFoundError(
                f"{entry}: a text file, not a recording; a manifest is read when "
                f"its name ends in .csv (rename it {entry.with_suffix('.csv').name})"
            )
        elif entry.exists() or entry.suffix.lower() in AUDIO_SUFFIXES:
            # a missing recording gets its own row; the others are still scored
            paths.append(str(entry))
        else:
            raise FileNotFoundError(f"{entry}: no such folder or file")
    if not paths:
        raise FileNotFoundError("no recordings given")
    return paths


def _cycle_counts(Xt: Any, as_cut: np.ndarray | None, n: int) -> np.ndarray:
    """Cycles per recording, as the classifier gets them, else ``as_cut`` (a
    feature step's rows hide a recording without any), else 1."""
    counts = getattr(Xt, "n_cycles", None)
    if counts is None:
        counts = as_cut
    return np.ones(n, np.int64) if counts is None else np.asarray(counts)


def _label(classes: np.ndarray, k: int) -> str:
    if np.array_equal(classes, [0, 1]):
        return str(TARGET_NAMES[k])
    return str(classes[k])


#: The label words of a corpus (not its numbers) that say which class is
#: stenosis.
_WORDS = {k: v for k, v in _LABELS.items() if not k.lstrip("-").isdigit()}


def _length(seconds: float) -> str:
    """A length under a limit, said under it: 2.999 s read "only 3.00 s long"
    beside a 3 s limit, and a file of a few samples is not "0.00 s"."""
    if seconds < 0.01:
        return f"{seconds * 1e3:.2g} ms"
    return f"{math.floor(seconds * 100 + 1e-9) / 100:.2f} s"  # 0.29 * 100 < 29


def _stenosis_column(classes: np.ndarray) -> int:
    """The column of ``predict_proba`` that holds stenosis: the second class,
    unless a class is a label word that says otherwise (a model fit on
    ``"abnormal"``/``"normal"``, or ``"abnormal"``/``"healthy"``, has
    ``classes_`` in that order, and its second column is not stenosis)."""
    # words alone: a number names no class (1 may be normal beside 2)
    words = [_WORDS.get(c.lower()) if isinstance(c, str) else None for c in classes]
    if len(words) != 2:
        return 1
    if 1 in words:
        return words.index(1)
    return 1 - words.index(0) if 0 in words else 1


def _why_no_cycles(
    quality: list[dict] | None,
    i: int,
    max_gap: float | None,
    min_seconds: float = 0.0,
    min_cycles: int = 1,
) -> str:
    """The likely cause of a recording without (enough) cycles, for its row;
    ``max_gap``: the seed cutter's, in seconds (``None`` for another cutter);
    ``min_seconds``: the length the cutter needs to cut anything (the period
    cutter's); ``min_cycles``: the classifier's."""
    q = quality[i] if quality else None
    if q is None:
        return "too short, silent, or no beat above the threshold"
    if q["seconds"] < SHORT_SECONDS:
        return (
            f"only {_length(q['seconds'])} long (a heart at 40 beats per minute needs "
            f"{SHORT_SECONDS:g} s to give one whole cycle): record 10 s or more"
        )
    if q["seconds"] < min_seconds:
        # its beats may be fine: the period cutter did not look for them
        return (
            f"only {_length(q['seconds'])} long (PeakCycleCutter(method='period') "
            f"needs {min_seconds:.2f} s, two beats of a heart at 35 per minute, "
            "to find the beat period): record 10 s or more"
        )
    if q["rounding_snr_db"] == -np.inf:  # one value throughout
        return (
            "silent (every sample holds the same value): check that the "
            "microphone is connected and switched on"
        )
    if max_gap and q["dropped_long_gap"] >= max(q["peaks"] - 1, 1) / 2:
        # beats were found, but most lie further apart than the cutter allows
        return (
            f"{q['peaks']} beats found, mostly further apart than the cutter's "
            f"max_gap (a heart slower than {60 / max_gap:.0f} beats per minute): "
            "PeakCycleCutter(method='period') finds 35 to 180"
        )
    if q["cycles"] and min_cycles > 1:
        # beats stood out: the recording holds too few of them for the classifier
        dropped = q["dropped_noisy"] + q["dropped_clipped"]
        return (
            f"{q['cycles']} cycles in {q['seconds']:.1f} s"
            + (f" ({dropped} more dropped as noisy or clipped)" if dropped else "")
            + f", and the classifier needs min_cycles={min_cycles}: record longer"
        )
    return (
        f"no beat stood out above the cutter's threshold in {q['seconds']:.1f} s: "
        "check that the microphone sits on the access"
    )


def _model_band(model) -> float | None:
    """The band in Hz the model was trained to hear: up to its lowpass
    filter's cutoff, or the Nyquist frequency of its training rate below it;
    ``None`` without a fitted filter."""
    step = model.steps[0][1]
    if not isinstance(step, LowpassFilter) or not hasattr(step, "sample_rate_"):
        return None
    return min(float(step.cutoff), step.sample_rate_ / 2)


def _score_batch(model, files: RecordingFiles, threshold: float) -> list[dict]:
    Xt, bags, notes, rates = files, None, None, None
    cut = np.arange(len(files))  # the recordings the steps after the cut see
    with _left_to_caller(NoPulseWarning):  # the row says no_pulse
        for _, step in model.steps[:-1]:
            if step is None or step == "passthrough":
                continue
            Xt = step.transform(Xt)
            if bags is None and isinstance(Xt, CycleBags):
                # the recordings as cut, before a harmonizer adds its noise floor
                bags = Xt
                # one without a cycle has its row already: a feature step
                # refused it (on_empty="error"), and the batch was scored
                # again file by file, that file's row an error
                cut = np.flatnonzero(bags.n_cycles > 0)
                if not len(cut):
                    break
                if len(cut) < len(files):
                    Xt = Xt[cut]
            if notes is None and isinstance(Xt, Signals):  # what reading noted
                notes, rates = Xt.notes, Xt.source_rates
    classifier = model.steps[-1][1]
    min_cycles = getattr(classifier, "min_cycles", 1)
    cap = getattr(classifier, "max_cycles", None)
    counts = np.zeros(len(files), np.int64)
    if len(cut):
        as_cut = None if bags is None else bags.n_cycles[cut]
        counts[cut] = _cycle_counts(Xt, as_cut, len(cut))
    # positions in Xt (the recordings with cycles), and in the batch
    kept = np.flatnonzero(counts[cut] >= min_cycles)
    scored = cut[kept]
    proba = np.full(len(files), np.nan)
    positive = _stenosis_column(getattr(classifier, "classes_", ()))
    if len(scored):
        # a table (set_output="pandas") takes rows by .iloc: [] picks columns
        rows = Xt.iloc[kept] if hasattr(Xt, "iloc") else Xt[kept]
        proba[scored] = classifier.predict_proba(rows)[:, positive]
    quality = bags.quality(min_cycles) if bags is not None else None
    band = _model_band(model)
    cutter = next(
        (step for _, step in model.steps if isinstance(step, PeakCycleCutter)), None
    )
    method = getattr(cutter, "method", None)
    max_gap = cutter.max_gap if method == "seed" else None
    min_seconds = _PERIOD_SECONDS if method == "period" else 0.0
    rows = []
    for i in range(len(files)):
        path = files.name(i)
        used = int(counts[i] if cap is None else min(counts[i], cap))
        note = "" if notes is None else notes[i]
        row = {"path": path, "cycles_used": used}
        if counts[i] < min_cycles:
            found = (
                "no heart cycle was found"
                if min_cycles == 1
                else f"fewer than {min_cycles} heart cycles were found"
            )
            why = f"{found} ({counts[i]}): " + _why_no_cycles(
                quality, i, max_gap, min_seconds, min_cycles
            )
            row.update(
                probability_stenosis="",
                label="",
                cycles_used=0,
                quality="too_few_cycles",
                message="; ".join(filter(None, [why, note])),
            )
        elif not 0.0 <= proba[i] <= 1.0:
            # a plain scikit-learn step may answer NaN (a variance of 0): it
            # was written as a confident "normal" of quality ok
            row.update(
                probability_stenosis="",
                label="",
                cycles_used=0,
                quality="error",
                message=f"the model gave no probability for it ({proba[i]})",
            )
        else:
            p = float(proba[i])
            clipped = quality[i]["clipped_fraction"] if quality else 0.0
            rounding = quality[i]["rounding_snr_db"] if quality else np.nan
            pulse = quality[i]["pulse_db"] if quality else np.nan
            # the first flag names the quality; the message gives every one
            flags = {"cut_short": note}
            if pulse < PULSE_LIMIT_DB:
                flags["no_pulse"] = (
                    f"its loudness swings {pulse:.1f} dB with the heartbeat (under "
                    f"{PULSE_LIMIT_DB:g} dB: noise, not a pulse): check that the "
                    "microphone sits on the access; an access without a pulsing "
                    "bruit needs a clinical examination"
                )
            rate = rates[i] if band and rates is not None else None
            if rate and rate / 2 < band:
                flags["low_rate"] = (
                    f"recorded at {rate:g} Hz, it holds nothing above {rate / 2:g} "
                    f"Hz, and the model listens up to {band:g} Hz: record at "
                    f"{2 * band:g} Hz or more"
                )
            seconds = quality[i]["seconds"] if quality else np.inf
            if seconds < SHORT_SECONDS:
                flags["short"] = (
                    f"only {_length(seconds)} long, its answer rests on {used} "
                    f"cycle{'s' if used != 1 else ''}: record 10 s or more"
                )
            if clipped > CLIPPED_LIMIT:
                flags["clipped"] = (
                    f"{100 * clipped:.1f} % of samples clipped (flat tops at its "
                    "peak level, or float samples beyond full scale, which the "
                    "filter clamps: rescale such a file)"
                )
            if rounding < COARSE_LIMIT_DB:
                flags["coarse"] = (
                    f"the converter's rounding noise lies {rounding:.0f} dB below "
                    f"the sound (under {COARSE_LIMIT_DB:g} dB in the 1 kHz band): "
                    "answers this coarse move with the recorder; record again "
                    "with more gain"
                )
            flags = {k: v for k, v in flags.items() if v}
            shown = f"{p:.4f}"
            row.update(
                probability_stenosis=shown,
                # labelled from the probability as written, so that the table
                # and the metrics computed from it agree at the threshold
                label=_label(
                    classifier.classes_,
                    positive if float(shown) >= threshold else 1 - positive,
                ),
                quality=next(iter(flags), "ok"),
                message="; ".join(flags.values()),
            )
        rows.append(row)
    return rows


def score_files(
    model,
    paths: str | os.PathLike | Sequence[str | os.PathLike],
    *,
    threshold: float = 0.5,
) -> list[dict]:
    """Score recordings on disk with a fitted pipeline: one row per file.

    A file that cannot be read or checked gets a row with quality ``"error"``
    and the reason; the other files of its batch are still scored.

    Parameters
    ----------
    model : Pipeline
        Fitted; its first step reads the files (:class:`~vascular_sklearn.LowpassFilter`
        at the rate it was fitted at) and its last step has ``predict_proba``
        (stenosis is its second class, unless a class word says otherwise:
        ``"abnormal"`` and ``"stenosis"`` are stenosis, ``"normal"`` is not).
    paths : path-like or sequence of path-like
        The recordings (one path alone is one recording).
    threshold : float, default=0.5
        Probability of stenosis from which a recording is labelled stenosis.

    Returns
    -------
    rows : list of dict
        Keys :data:`COLUMNS`; ``probability_stenosis`` and ``label`` are empty
        for recordings with quality ``"too_few_cycles"`` or ``"error"``;
        a scored recording's ``quality`` is the first of its flags in the
        order below and ``"ok"`` without one, and ``message`` gives every flag
        (filter on ``message`` to find all clipped recordings, say):
        ``"cut_short"`` marks a scored file that ends before the audio its
        header declares (scored on the part present), ``"no_pulse"`` one
        whose loudness swings less than :data:`PULSE_LIMIT_DB` with the
        heartbeat (a stationary noise: the microphone off the access, or an
        access without flow sound), ``"low_rate"`` one recorded at a rate
        whose Nyquist frequency lies below the band the model hears (its
        lowpass cutoff: it was scored without the top of it), ``"short"``
        one under :data:`SHORT_SECONDS` long (its answer rests on a cycle or
        two), ``"clipped"`` one with more than 1 % of its samples on flat
        tops at its peak level or beyond full scale, ``"coarse"`` one whose converter's
        rounding noise lies less than :data:`COARSE_LIMIT_DB` below its sound
        in the 1 kHz band (too little gain for its converter: its answer says
        more about the recorder than about the vessel).

    Raises
    ------
    TypeError
        ``model`` is not a fitted Pipeline (a threshold wrapper around one,
        say).
    ValueError
        ``threshold`` is not a probability, the model tells more than two
        classes, or its last step decides at another threshold than
        ``threshold`` (pass that one).

    Examples
    --------
    >>> import tempfile, numpy as np, soundfile as sf
    >>> from pathlib import Path
    >>> from sklearn.naive_bayes import GaussianNB
    >>> from vascular_sklearn import RecordingClassifier, make_seed_pipeline
    >>> from vascular_sklearn.datasets import make_recordings
    >>> data = make_recordings(n_patients=3, recordings_per_patient=2, duration=6,
    ...                        random_state=0)
    >>> model = make_seed_pipeline().set_params(
    ...     classifier=RecordingClassifier(GaussianNB()))
    >>> model = model.fit(data.recordings, data.target)
    >>> folder = Path(tempfile.mkdtemp())
    >>> sf.write(folder / "new.wav", data.recordings[0], 22050)
    >>> (folder / "broken.wav").write_bytes(b"not audio")
    9
    >>> rows = score_files(model, [folder / "new.wav", folder / "broken.wav"])
    >>> [(Path(r["path"]).name, r["quality"]) for r in rows]
    [('new.wav', 'ok'), ('broken.wav', 'error')]
    """
    check_is_fitted(model)
    threshold = _check_threshold(threshold)
    _check_screens(model, threshold)
    return _score_named(model, *_absolute(paths), threshold)


def _check_screens(model, threshold: float) -> None:
    """Refuse a model whose table would say something else than the model:
    one that is no pipeline (a threshold wrapped around it failed deep in
    joblib), one of more than two classes (the table showed the second
    class's probability as stenosis), or one whose last step decides at
    another threshold than the table's."""
    steps = getattr(model, "steps", None)
    if steps is None:
        wrapped = getattr(model, "estimator_", None)
        raise TypeError(
            "screening takes a fitted Pipeline (as make_stenosis_pipeline "
            f"builds), not a {type(model).__name__}"
            + (
                ": pass the pipeline it wraps (its estimator_) and its threshold "
                "as threshold="
                if hasattr(wrapped, "steps")
                else ""
            )
        )
    classifier = steps[-1][1]
    classes = getattr(classifier, "classes_", None)
    if classes is not None and len(classes) != 2:
        raise ValueError(
            f"screening answers normal or stenosis, and this model tells "
            f"{len(classes)} classes ({', '.join(map(str, classes))}): train it "
            "on two"
        )
    # a threshold wrapper decides on a score of its own choosing: a decision
    # function's 0 was asked of the table as a probability, and pos_label=0
    # put its cut on the probability of normal
    response = getattr(classifier, "response_method", "auto")
    if response not in ("auto", "predict_proba"):
        raise ValueError(
            f"the model's last step, {type(classifier).__name__}, decides on "
            f"its {response}, and the table on the probability of stenosis: "
            "wrap the classifier with response_method='predict_proba'"
        )
    pos_label = getattr(classifier, "pos_label", None)
    if pos_label is not None and classes is not None:
        stenosis = classes[_stenosis_column(np.asarray(classes))]
        if pos_label != stenosis:
            raise ValueError(
                f"the model's last step, {type(classifier).__name__}, decides on "
                f"the probability of {pos_label!r} (pos_label), and the table on "
                f"that of stenosis ({stenosis!r}): wrap it with "
                f"pos_label={stenosis!r}"
            )
    own = getattr(classifier, "best_threshold_", getattr(classifier, "threshold", None))
    own = 0.5 if own == "auto" else own
    if isinstance(own, Real) and not np.isclose(own, threshold):
        raise ValueError(
            f"the model's last step, {type(classifier).__name__}, decides at "
            f"{own:g} and the table at threshold={threshold:g}: pass "
            f"threshold={own:g}"
        )


def _score_named(
    model, paths: list[str], names: list[str], threshold: float
) -> list[dict]:
    """:func:`score_files` on absolute ``paths`` (made where the work was
    given out: a worker may run in another folder), its rows naming each file
    as given."""
    rate = getattr(model.steps[0][1], "sample_rate_", None)
    files = RecordingFiles(
        np.array(paths, dtype=object),
        float(rate) if rate else 22050.0,
        np.array(names, dtype=object),
    )
    try:
        return _score_batch(model, files, threshold)
    except RecordingError as err:
        message = str(err).removeprefix(f"{paths[0]}: ").removeprefix(f"{names[0]}: ")
    except MemoryError:
        message = None
    # out of the handler, so that a failed batch's arrays are freed first
    if len(files) > 1:  # find the culprits: score the batch file by file
        return [
            row
            for path, name in zip(paths, names, strict=True)
            for row in _score_named(model, [path], [name], threshold)
        ]
    row = dict.fromkeys(COLUMNS, "")
    # the row names the file; the message need not say it again
    message = _too_long(paths[0]) if message is None else message
    row.update(path=names[0], cycles_used=0, quality="error", message=message)
    return [row]


def _too_long(path: str) -> str:
    """Why a file that ran out of memory was not scored: a recording is
    read and filtered whole, so an hour of continuous monitoring can exceed a
    small machine's memory (numpy's MemoryError names no file)."""
    try:
        seconds = _info(path).duration
    except RecordingError:
        return "too long to score in this machine's memory: cut it into shorter files"
    length = f"{seconds / 60:.0f} minutes" if seconds >= 90 else f"{seconds:.0f} s"
    return (
        f"too long to score in this machine's memory ({length}): cut it into "
        "files of minutes"
    )


def _file_list(paths: Any) -> list[str]:
    """Each path as text; one path alone is one file (a string would
    otherwise be taken letter by letter)."""
    if isinstance(paths, (str, bytes, os.PathLike)):
        paths = [paths]
    # str(): numpy's strings (a Bunch's filenames) print as np.str_('...');
    # fsdecode: str() of bytes is "b'...'", a file that is not there
    return [str(os.fsdecode(p)) for p in paths]


def _absolute(paths: Any) -> tuple[list[str], list[str]]:
    """Each file's absolute path, made here (a worker may run in another
    folder), and its name as given, for the rows."""
    names = _file_list(paths)
    return [os.path.abspath(p) for p in names], names


def _batches(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _scored_batches(
    model,
    paths: Sequence[str],
    batch_size: int,
    threshold: float,
    n_jobs,
    progress: Callable[[str], None] | None = None,
) -> Iterator[list[dict]]:
    """The rows of :func:`score_files`, batch by batch, in input order; with
    more than one batch, ``progress`` is told of each one done."""
    if not isinstance(batch_size, Integral) or batch_size < 1:
        raise ValueError(
            f"batch_size must be an integer of at least 1, got {batch_size!r}"
        )
    threshold = _check_threshold(threshold)
    check_is_fitted(model)
    _check_screens(model, threshold)
    absolute, names = _absolute(paths)
    # a generator: batches are dispatched a few at a time and their rows come
    # back as they are done, in order, under whatever joblib backend is
    # active; a backend that cannot stream (Ray's) returns them all at the end
    backend, _ = get_active_backend()
    streams = getattr(backend, "supports_return_generator", False)
    batches = Parallel(n_jobs=n_jobs, return_as="generator" if streams else "list")(
        delayed(_score_named)(model, a, b, threshold)
        for a, b in zip(
            _batches(absolute, batch_size), _batches(names, batch_size), strict=True
        )
    )
    if progress is None or len(paths) <= batch_size:
        return batches
    return _told(batches, len(paths), progress)


def _told(batches: Iterable[list[dict]], total: int, progress) -> Iterator[list[dict]]:
    """``batches`` as they come, telling ``progress`` how many rows are done:
    an archive of thousands of files otherwise looks hung."""
    done = 0
    for batch in batches:
        done += len(batch)
        progress(f"{done} of {total} recordings screened")
        yield batch


def _write_rows(out: IO[str], rows: Iterable[list[dict]], counts: dict) -> None:
    writer = TableWriter(out, COLUMNS)
    writer.writeheader()
    for batch in rows:
        writer.writerows(batch)
        out.flush()
        for row in batch:
            counts["n_files"] += 1
            counts["n_scored"] += row["probability_stenosis"] != ""
            counts["n_flagged"] += row["quality"] != "ok"
            if row["probability_stenosis"] == "":
                counts["failed"].append((row["path"], row["message"]))


def predict_files(
    model,
    source: str | os.PathLike | Sequence[str | os.PathLike],
    output: str | os.PathLike | IO[str] | None = None,
    *,
    batch_size: int = 32,
    threshold: float = 0.5,
    n_jobs: int | None = None,
    overwrite: bool = False,
    progress: Callable[[str], None] | None = None,
) -> Bunch:
    """Screen a folder, manifest or list of files; write one CSV row per file.

    Recordings go through the pipeline ``batch_size`` at a time and each
    batch's rows are written as it is done (a few batches are in flight at
    once with ``n_jobs``; under Ray, which streams no results, all are
    written at the end), so memory stays flat however large the corpus.
    Batches run through joblib (``n_jobs``, ``joblib.parallel_config``: loky,
    Dask, Ray), rows stay in input order.

    Parameters
    ----------
    model : Pipeline
        A fitted pipeline (see :func:`score_files`).
    source : path-like or sequence of path-like
        Folders, ``.csv`` manifests or audio files (see :func:`recording_paths`).
    output : path-like, text file or None, default=None
        Where the table goes; ``None`` writes to standard output. A path is
        written under a temporary name beside it and renamed when complete.
    batch_size : int, default=32
    threshold : float, default=0.5
    n_jobs : int or None, default=None
        Batches scored in parallel (each worker receives the model with each
        batch). ``None`` means one at a time, unless a
        ``joblib.parallel_config`` context says otherwise: under
        ``parallel_config(backend="dask")`` the batches run on the cluster.
    overwrite : bool, default=False
        Replace an existing ``output`` file; otherwise refuse. A source (a
        manifest) or a recording it names is never replaced.
    progress : callable or None, default=None
        Called with a line of text after each batch ("64 of 1699 recordings
        screened") when there is more than one.

    Returns
    -------
    summary : Bunch
        ``n_files``, ``n_scored`` (with a probability), ``n_flagged`` (quality
        other than ``"ok"``), ``failed`` (``(path, reason)`` of each file
        without a probability), ``paths`` (the files the sources named, in the
        table's order), ``output``.

    Raises
    ------
    FileExistsError
        ``output`` exists and ``overwrite`` is false, or is read by this run.
    FileNotFoundError
        ``source`` names a missing folder or manifest, or no audio at all.
    ValueError
        ``threshold`` is not a probability or ``batch_size`` not a positive
        integer, or the model is refused as by :func:`score_files` (before
        any recording is read).
    TypeError
        As :func:`score_files`.

    Examples
    --------
    >>> import tempfile, numpy as np, soundfile as sf
    >>> from pathlib import Path
    >>> from sklearn.naive_bayes import GaussianNB
    >>> from vascular_sklearn import RecordingClassifier, make_seed_pipeline
    >>> from vascular_sklearn.datasets import make_recordings
    >>> data = make_recordings(n_patients=3, recordings_per_patient=2, duration=6,
    ...                        random_state=0)
    >>> model = make_seed_pipeline().set_params(
    ...     classifier=RecordingClassifier(GaussianNB()))
    >>> model = model.fit(data.recordings, data.target)
    >>> folder = Path(tempfile.mkdtemp())
    >>> for i, x in enumerate(data.recordings):
    ...     sf.write(folder / f"{i}.wav", x, 22050)
    >>> summary = predict_files(model, folder, folder / "screen.csv", batch_size=4)
    >>> summary.n_files, summary.n_scored
    (6, 6)
    >>> (folder / "screen.csv").read_text().splitlines()[0]
    'path,probability_stenosis,label,cycles_used,quality,message'
    """
    paths = recording_paths(source)
    target = None
    if output is not None and not hasattr(output, "write"):
        # the sources too: a manifest is read by this run, as its recordings are
        target = check_output(output, overwrite, inputs=[*_file_list(source), *paths])
    rows = _scored_batches(model, paths, batch_size, threshold, n_jobs, progress)
    counts = {"n_files": 0, "n_scored": 0, "n_flagged": 0, "failed": []}
    if target is None:
        _write_rows(output or sys.stdout, rows, counts)
    else:
        _write_table(target, lambda out: _write_rows(out, rows, counts), overwrite)
    return Bunch(**counts, paths=paths, output=target)


def _write_table(
    target: str | os.PathLike, write: Callable[[IO[str]], None], overwrite: bool = False
) -> None:
    """Write a text table whole (:func:`replacing`); an existing file is
    replaced only with ``overwrite``."""
    target = check_output(target, overwrite)
    with (
        replacing(target, overwrite) as partial,
        # a file name that is no UTF-8 is written back as the bytes it was
        open(
            partial, "w", newline="", encoding="utf-8", errors="surrogateescape"
        ) as out,
    ):
        write(out)


def external_validation(
    model,
    paths: str | os.PathLike | Sequence[str | os.PathLike],
    y: Any,
    groups: Any = None,
    *,
    threshold: float = 0.5,
    batch_size: int = 32,
    n_jobs: int | None = None,
    n_resamples: int = 1000,
    random_state: int | None = 0,
    progress: Callable[[str], None] | None = None,
) -> Bunch:
    """Score a fitted model on labelled recordings from elsewhere.

    The test a model trained at one site owes before another trusts it: new
    patients, another microphone, gain or sound card. The recordings are
    screened as :func:`predict_files` screens them (batch by batch, the same
    probabilities it writes, to 4 decimals); a file that cannot be read or
    holds too few beats is named in ``failed`` and left out of the metrics,
    which pool the scored recordings, with intervals that resample ``groups``.

    Parameters
    ----------
    model : Pipeline
        A fitted pipeline (see :func:`score_files`), or the ONNX runtime's
        (:func:`~vascular_sklearn.runtime.load_onnx`).
    paths : path-like or sequence of path-like
        The recordings.
    y : array-like of shape (n_recordings,)
        True labels, 0 (normal) or 1 (stenosis, or abnormal).
    groups : array-like of shape (n_recordings,) or None, default=None
        Patient of each recording, the unit the intervals resample; ``None``
        resamples recordings (optimistic where a patient gave several).
    threshold : float, default=0.5
        Probability from which a recording counts as positive.
    batch_size : int, default=32
    n_jobs : int or None, default=None
        Batches scored in parallel, as in :func:`predict_files`.
    n_resamples : int, default=1000
        Bootstrap resamples (see
        :func:`~vascular_sklearn.evaluation.bootstrap_report`).
    random_state : int or None, default=0
        Seeds the resampling.
    progress : callable or None, default=None
        As in :func:`predict_files`.

    Returns
    -------
    result : Bunch
        ``report``: :func:`~vascular_sklearn.evaluation.bootstrap_report` of
        the scored recordings (without intervals when they hold one class
        only, or a class of fewer than 2 patients, whom no resampling can
        vary: :func:`~vascular_sklearn.evaluation.clinical_report`);
        ``proba``: each recording's probability, NaN where not scored;
        ``failed``: ``(path, reason)`` of each recording not scored;
        ``n_scored``; ``rows``: per recording, the columns
        :func:`predict_files` writes (:data:`COLUMNS`) with its
        ``true_label`` and ``group``, for a look at the errors.

    Raises
    ------
    ValueError
        ``y`` holds a label other than 0 and 1, ``y`` or ``groups`` do not
        match ``paths`` in length, ``groups`` holds no id (None, NaN) for a
        recording, ``threshold`` is not a probability, or the model is
        refused as by :func:`score_files` (before any recording is scored).
    TypeError
        As :func:`score_files`.
    FileNotFoundError
        ``paths`` is empty.
    RecordingError
        Not one recording could be scored (the first reason is given).

    Examples
    --------
    >>> import tempfile, soundfile as sf
    >>> from pathlib import Path
    >>> from sklearn.naive_bayes import GaussianNB
    >>> from vascular_sklearn import RecordingClassifier, make_seed_pipeline
    >>> from vascular_sklearn.datasets import make_recordings
    >>> train = make_recordings(n_patients=4, recordings_per_patient=2, duration=6,
    ...                         random_state=0)
    >>> model = make_seed_pipeline().set_params(
    ...     classifier=RecordingClassifier(GaussianNB()))
    >>> model = model.fit(train.recordings, train.target)
    >>> new = make_recordings(n_patients=4, recordings_per_patient=2, duration=6,
    ...                       random_state=1)
    >>> folder = Path(tempfile.mkdtemp())
    >>> paths = [folder / f"{i}.wav" for i in range(len(new.target))]
    >>> for path, x in zip(paths, new.recordings):
    ...     sf.write(path, x, 22050)
    >>> result = external_validation(model, paths, new.target, new.groups)
    >>> result.n_scored, sorted(result.report)[:3]
    (8, ['accuracy', 'accuracy_ci', 'balanced_accuracy'])
    """
    paths = _file_list(paths)
    if not paths:
        raise FileNotFoundError("no recordings given")
    y = _binary_labels(y)  # before the scoring, which takes a while
    if not (isinstance(n_resamples, Integral) and n_resamples >= 1):
        raise ValueError(f"n_resamples={n_resamples!r}: give a whole number from 1")
    named = groups is not None
    # a missing patient is refused before the scoring, not after it
    groups = _ids(groups, "groups (the patients)") if named else np.arange(len(paths))
    if not len(y) == len(groups) == len(paths):
        raise ValueError(
            f"{len(paths)} recordings, {len(y)} labels and {len(groups)} groups: "
            "give one label and one group per recording"
        )
    rows = [
        row
        for batch in _scored_batches(
            model, paths, batch_size, threshold, n_jobs, progress
        )
        for row in batch
    ]
    # "" where a recording was not scored
    proba = np.array([float(r["probability_stenosis"] or "nan") for r in rows])
    scored = ~np.isnan(proba)
    failed = [(rows[i]["path"], rows[i]["message"]) for i in np.flatnonzero(~scored)]
    if not scored.any():
        path, reason = failed[0]
        raise RecordingError(
            f"none of the {len(paths)} recordings could be scored; {path}: {reason}"
        )
    if (
        len(np.unique(y[scored])) == 2
        and _patients_per_class(y[scored], groups[scored]).min() >= 2
    ):
        report = bootstrap_report(
            y[scored],
            proba[scored],
            groups[scored],
            n_resamples,
            threshold=threshold,
            random_state=random_state,
        )
    else:
        report = clinical_report(y[scored], proba[scored], threshold)
    # the true label in the words of the label column, so the two compare
    classes = model.steps[-1][1].classes_
    positive = _stenosis_column(classes)
    # tolist: numpy scalars become Python values; a manifest's str stay str
    for row, label, group in zip(rows, y, groups.tolist(), strict=True):
        row.update(
            true_label=_label(classes, positive if label == 1 else 1 - positive),
            group=group if named else "",
        )
    return Bunch(
        report=report,
        proba=proba,
        failed=failed,
        n_scored=int(scored.sum()),
        rows=rows,
    )
