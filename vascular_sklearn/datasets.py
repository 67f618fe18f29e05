"""Recordings: the original folder layout from disk, and synthetic look-alikes."""

from __future__ import annotations

import csv
import io
import os
import unicodedata
import warnings
from collections.abc import Iterable
from dataclasses import replace
from numbers import Integral, Real
from pathlib import Path
from typing import Literal

import numpy as np
from sklearn.utils import Bunch, check_random_state

from .audio import (
    AUDIO_SUFFIXES,
    RATE_RANGE,
    UNREADABLE_AUDIO_SUFFIXES,
    _check_flag,
    check_header,
    check_read_options,
    read_recording,
)
from .containers import Signals, object_array
from .corpus import (
    TARGET_NAMES,
    RecordingFiles,
    _csv_records,
    _files_under,
    _first_copy,
    _given_path,
    _label_text,
    _manifest_bunch,
    _warn_mixed_rates,
    audio_files_under,
)
from .exceptions import LabelFileError
from .recorder import LOUD_SESSION, QUIET_SESSION, Recorder, RecorderRanges

__all__ = [
    "load_physionet2016",
    "load_recordings",
    "make_recordings",
    "read_recording",
]

_LABEL_FOLDERS = {"normal": 0, "abnormal": 1}


def patient_id(filename: str) -> str:
    """The patient id of a seed-layout file name: its text before the first "_".

    A name without "_" is the id as a whole, without its ending; spaces around
    the id are not part of it (``" 7_a.wav"`` is patient ``"7"``, not another).

    Raises
    ------
    ValueError
        When the name begins with "_" (or is empty): it names no patient, and
        an id of ``""`` would make one patient of every such file, beside the
        patient each was of.

    Examples
    --------
    >>> patient_id("10_7_before(1)(stenosis).WAV")
    '10'
    >>> patient_id("7.wav") == patient_id("7_after.wav") == "7"
    True
    """
    # one Unicode form: macOS writes "ö" as o and a combining diaeresis, and
    # the two spellings of one name were two patients
    found = unicodedata.normalize("NFC", Path(filename).stem.split("_", 1)[0].strip())
    if not found:
        raise ValueError(
            f"{filename}: no patient id before the first '_' of its name (expected "
            "<patient>_<site>_....wav); rename it after its patient"
        )
    return found


#: Endings of what a corpus folder holds beside its recordings (notes, tables,
#: pictures, PhysioNet's headers, Windows' Thumbs.db, desktop.ini and
#: shortcuts): left out without a word.
_NOT_AUDIO = frozenset(
    ".txt .md .rtf .pdf .doc .docx .csv .tsv .xls .xlsx .json .xml .yaml .yml "
    ".log .html .png .jpg .jpeg .hea .ini .db .lnk".split()
)


def load_recordings(
    path: str | os.PathLike,
    *,
    sample_rate: float | None = None,
    channels: Literal["mean", "error"] = "mean",
    resample: bool = True,
    lazy: bool = False,
) -> Bunch:
    """Load recordings stored as ``path/normal/*`` and ``path/abnormal/*``.

    Parameters
    ----------
    path : path-like
        Folder holding ``normal/`` (label 0) and ``abnormal/`` (label 1) audio
        files, in any case (``Abnormal/``).
    sample_rate : float or None, default=None
        Rate of the returned recordings; ``None`` takes the first file's rate.
    channels : {"mean", "error"}, default="mean"
        Mix multi-channel files to mono, or refuse them.
    resample : bool, default=True
        Resample files at another rate, or refuse them.
    lazy : bool, default=False
        Read no audio now: ``recordings`` are
        :class:`~vascular_sklearn.corpus.RecordingFiles`, which the pipeline's
        first step reads file by file (a corpus larger than memory, or an
        evaluation that should not hold every recording at once). Only the
        headers are read now, for the rate and to warn of mixed rates (with
        ``channels="error"`` or ``resample=False``, to refuse a file too): a
        file whose samples cannot be read is named when the pipeline reaches
        it. Files at several rates are best read so: the
        :class:`~vascular_sklearn.LowpassFilter` then measures each file's
        clipping and converter rounding on its samples as recorded, where
        ``lazy=False`` resamples them first (resampling rings over the flat
        tops of clipping, and takes the samples off the converter's grid).

    Returns
    -------
    data : Bunch
        ``recordings`` (:class:`~vascular_sklearn.Signals`, named by path relative
        to ``path``), ``target`` (0 normal, 1 stenosis), ``groups`` (patient id:
        the file name's text before the first underscore), ``filenames``,
        ``sample_rate``, ``target_names``, ``DESCR``.

    Raises
    ------
    FileNotFoundError
        When ``path`` is no folder, ``normal/`` and ``abnormal/`` hold no
        audio file, or (with ``lazy``) a link there points to no file.
    ValueError
        When a label folder is there twice in different case (``normal/`` and
        ``Normal/``), a recording is found twice (a link to it), a file's name
        begins with "_" (no patient id: see :func:`patient_id`), or an option
        is invalid.
    TypeError
        When ``resample`` is not True or False.
    RecordingError
        Naming a file that cannot be read as asked, or (without ``lazy``) a
        link whose target is gone.

    Warns
    -----
    MixedSampleRateWarning
        When the files were recorded at more than one sample rate (the
        warning's class says why that matters).
    UserWarning
        When another folder in ``path`` holds audio (``stenosis/``, say), or
        audio files lie in ``path`` itself beside the label folders: they are
        not read. So are files in the label folders in a format not read
        (``.m4a``) or under an ending not read as audio, each kind warned of;
        and recordings in a subfolder named otherwise than the patient their
        file name gives are warned of, as the file name gives the patient.

    Examples
    --------
    >>> import tempfile, numpy as np, soundfile as sf
    >>> from pathlib import Path
    >>> root = Path(tempfile.mkdtemp())
    >>> for folder in ["normal", "abnormal"]:
    ...     (root / folder).mkdir()
    ...     sf.write(root / folder / "7_1_after.wav", np.zeros(100), 22050)
    >>> data = load_recordings(root)
    >>> data.target.tolist(), data.groups.tolist(), data.sample_rate
    ([0, 1], ['7', '7'], 22050.0)
    """
    check_read_options(sample_rate, channels)
    _check_flag("resample", resample)
    root = _given_path(path)
    if not root.is_dir():
        raise FileNotFoundError(f"no folder at {root}")
    # "Abnormal/" is abnormal/: a misspelt label folder would leave a whole
    # class out without a word
    folders: dict[str, Path] = {}
    for p in sorted(root.iterdir()):
        if not p.is_dir():
            continue
        twin = folders.setdefault(p.name.lower(), p)
        if twin != p and p.name.lower() in _LABEL_FOLDERS:
            # on a case-sensitive disk "Normal/" and "normal/" can both be
            # there: keeping one would drop the other's class without a word
            raise ValueError(
                f"{root}: {twin.name}/ and {p.name}/ are both the "
                f"{p.name.lower()}/ folder (its name is read in any case); "
                "move their files into one of them"
            )
    files, labels = [], []
    for folder, label in _LABEL_FOLDERS.items():
        # audio only (a README or .DS_Store beside it is not a recording), in
        # subfolders too, as find_recordings searches
        label_folder = folders.get(folder, root / folder)
        found = sorted(audio_files_under(label_folder, dangling=True))
        files += found
        labels += [label] * len(found)
    unread = [
        f"{p.name}/"
        for name, p in folders.items()
        if name not in _LABEL_FOLDERS and next(audio_files_under(p), None)
    ]
    # a recording dropped beside the label folders has no label: said, as
    # one in a folder that names no class is
    loose = [p.name for p in sorted(audio_files_under(root, recursive=False))]
    if loose:
        unread.append(
            f"{loose[0]} beside the label folders"
            if len(loose) == 1
            else f"{len(loose)} files beside the label folders ({loose[0]}, ...)"
        )
    if unread:
        warnings.warn(
            f"{root}: the audio in {' and '.join(unread)} is not read: only normal/ "
            "(label 0) and abnormal/ (label 1) are; move or rename the folders "
            "that hold either class"
            + (", and move each file beside them into its class's" if loose else ""),
            UserWarning,
            stacklevel=2,
        )
    _refuse_twice(files)
    left_out = [
        p
        for folder in _LABEL_FOLDERS
        for p in _files_under(folders.get(folder, root / folder))
        if p.suffix.lower() not in AUDIO_SUFFIXES and p.suffix.lower() not in _NOT_AUDIO
    ]
    # a phone's .m4a memos, a recorder's files under an ending not read here
    # ("a.WAV ", ".bwav"): passed over without a word, a class could vanish
    unreadable = [p for p in left_out if p.suffix.lower() in UNREADABLE_AUDIO_SUFFIXES]
    convert = "convert them to WAV or FLAC (ffmpeg -i in.m4a out.wav)"
    for files_of, why, fix in (
        (unreadable, "in a format this library cannot read", convert),
        (
            [p for p in left_out if p not in unreadable],
            "with an ending not read as audio",
            f"name recordings with an ending read ({', '.join(AUDIO_SUFFIXES)}) "
            "or " + convert,
        ),
    ):
        if files_of:
            many = len(files_of) > 1
            example = files_of[0].relative_to(root).as_posix() + ", ..." * many
            warnings.warn(
                f"{root}: {len(files_of)} file{'s' * many} {why} ({example}) "
                f"left out: {fix}",
                UserWarning,
                stacklevel=2,
            )
    if not files:
        raise FileNotFoundError(
            f"{root} holds no recordings: expected audio files in {root / 'normal'} "
            f"and {root / 'abnormal'}"
        )
    names = [p.relative_to(root).as_posix() for p in files]
    if lazy:
        recordings = RecordingFiles.from_paths(files, sample_rate)
        if channels == "error" or not resample:
            # the files are read later, by the pipeline, with its own options
            for f in files:
                check_header(f, recordings.sample_rate, channels, resample)
        recordings = replace(recordings, names=np.asarray(names, dtype=object))
        return _bunch(root, recordings, files, labels)
    arrays = []
    for f in files:
        x, rate = read_recording(f, sample_rate, channels, resample)
        sample_rate = rate if sample_rate is None else sample_rate
        arrays.append(x)
    recordings = Signals.from_arrays(arrays, sample_rate, names=names)
    return _bunch(root, recordings, files, labels)


def _refuse_twice(files: list[Path]) -> None:
    """Refuse one recording found twice (a link to it, a linked folder, a copy): it
    would weigh double, under two labels or on both sides of a split under
    two patients' names."""
    first: dict[str, Path] = {}
    for path in files:
        twin = first.setdefault(os.path.realpath(path), path)
        if twin != path:
            raise ValueError(
                f"{path} is {twin} again (a link): a recording read twice would "
                "weigh double, or sit on both sides of a split; remove one"
            )
    if copy := _first_copy(files):
        raise ValueError(
            f"{files[copy[1]]} holds the same bytes as {files[copy[0]]} (a copy): a "
            "recording read twice would weigh double, or sit on both sides of a "
            "split under two patients' names; remove one"
        )


def _warn_folders_of_others(root: Path, files: list[Path], groups: list[str]) -> None:
    """Warn of recordings in a subfolder of their label folder named otherwise
    than the patient their file name gives: ``normal/P01/2023-01-05.wav`` was
    patient "2023-01-05", one with another patient's recording of that day,
    and patient P01 on both sides of a split, without a word."""
    other = [
        (path, group)
        for path, group in zip(files, groups, strict=True)
        if len(parts := path.relative_to(root).parts) > 2
        and unicodedata.normalize("NFC", parts[1].strip()) != group
    ]
    if other:
        path, group = other[0]
        warnings.warn(
            f"{root}: {len(other)} recording(s) in subfolders named otherwise than "
            f"the patient their file name gives ({path.relative_to(root).as_posix()}"
            f": patient {group!r}); patient ids come from the file names, the "
            "text before the first '_'. Where a folder is the patient, list the "
            "recordings in a manifest (path,label,patient) and read it with "
            "read_manifest",
            UserWarning,
            stacklevel=4,  # load_recordings' caller
        )


def _bunch(root: Path, recordings, files: list[Path], labels: list[int]) -> Bunch:
    _warn_mixed_rates(files, np.array(labels), TARGET_NAMES, recordings.sample_rate, 4)
    groups = [patient_id(str(p)) for p in files]
    _warn_folders_of_others(root, files, groups)
    return Bunch(
        recordings=recordings,
        target=np.array(labels),
        groups=np.array(groups),
        filenames=np.array([str(p) for p in files]),
        sample_rate=float(recordings.sample_rate),
        target_names=TARGET_NAMES,
        DESCR=f"{len(files)} recordings from {root} (normal/ = 0, abnormal/ = 1).",
    )


# Label 1 is the challenge's "abnormal" (a heart condition), not a stenosis.
_PHYSIONET_TARGET_NAMES = np.array(["normal", "abnormal"])

# Strict on purpose: 0 is not a PhysioNet label, so a 0 in a REFERENCE file
# means a file from elsewhere (or an edited one), not a normal heart.
_PHYSIONET_LABELS = {"1": 1, "-1": 0}
_PHYSIONET_PREFIX = "training-"


def _database_letter(name: str) -> str | None:
    """What follows ``training-`` (in any case) in a folder's name, or None."""
    if name.lower().startswith(_PHYSIONET_PREFIX) and len(name) > len(
        _PHYSIONET_PREFIX
    ):
        return name[len(_PHYSIONET_PREFIX) :]
    return None


_PHYSIONET_CITATION = (
    "Liu C, Springer D, Li Q, et al. An open access database for the evaluation "
    "of heart sound algorithms. Physiol Meas 37(12):2181-2213, 2016."
)


def load_physionet2016(
    path: str | os.PathLike,
    *,
    databases: Iterable[str] | None = None,
    sample_rate: float | None = None,
) -> Bunch:
    """Load the PhysioNet/CinC Challenge 2016 heart sounds without reading audio.

    The corpus sits as ``path/training-a/`` ... ``path/training-f/``, each
    folder holding ``REFERENCE.csv`` (lines ``record,label``, no header, label
    ``1`` abnormal and ``-1`` normal) and one audio file ``<record>.flac`` or
    ``<record>.wav`` per record (FLAC when both exist). Only the records that
    ``REFERENCE.csv`` lists are loaded: audio files without a line there are
    ignored. Blank lines, spaces around fields and a UTF-8 byte order mark are
    tolerated. Records keep the order of the folders, then of their
    ``REFERENCE.csv``. A folder that holds ``REFERENCE.csv`` and its audio
    itself (one database on its own: the challenge's validation set, or
    another site's recordings laid out alike, at any sample rate) is read as
    one database named after the folder.

    The six databases come from different sites and stethoscopes and differ in
    class balance, so ``groups`` holds the database: a claim about new sites
    needs leave-one-database-out (``LeaveOneGroupOut``), not a pooled split.

    Parameters
    ----------
    path : path-like
        Folder holding the ``training-*`` folders, or one database's folder.
    databases : iterable of str or None, default=None
        Databases to load, by letter (``"a"``) or folder name
        (``"training-a"``); ``None`` loads every ``training-*`` folder.
    sample_rate : float or None, default=None
        Rate the recordings are read at; ``None`` takes the first file's rate
        (2000 Hz for the challenge's files).

    Returns
    -------
    data : Bunch
        As :func:`~vascular_sklearn.corpus.read_manifest`: ``recordings``
        (:class:`~vascular_sklearn.corpus.RecordingFiles`, named by path
        relative to ``path``, e.g. ``training-a/a0001.flac``), ``target`` (1
        abnormal, 0 normal), ``groups`` (the database letter), ``filenames``,
        ``record`` (record ids), ``sample_rate``, ``target_names``
        (``["normal", "abnormal"]``) and ``DESCR`` (counts per database and
        the citation).

    Raises
    ------
    FileNotFoundError
        When ``path`` holds neither ``training-*`` folders nor a
        ``REFERENCE.csv``, a chosen folder has no
        ``REFERENCE.csv``, or a listed record has no audio file (naming the
        line and the file expected).
    ValueError
        For an unknown database (naming those present).
    LabelFileError
        A :class:`ValueError` naming the file and line: a line without
        exactly two fields, an empty record, a label other than ``1``/``-1``,
        a record listed twice, a REFERENCE.csv that lists no record.

    Warns
    -----
    MixedSampleRateWarning
        When the databases' files come at more than one sample rate.

    References
    ----------
    Liu C, Springer D, Li Q, et al. An open access database for the evaluation
    of heart sound algorithms. Physiological Measurement 37(12):2181-2213, 2016.

    Examples
    --------
    >>> import tempfile, numpy as np, soundfile as sf
    >>> from pathlib import Path
    >>> root = Path(tempfile.mkdtemp())
    >>> for db, labels in {"a": [1, -1], "b": [-1]}.items():
    ...     (root / f"training-{db}").mkdir()
    ...     lines = []
    ...     for i, label in enumerate(labels, start=1):
    ...         record = f"{db}{i:04d}"
    ...         sf.write(root / f"training-{db}" / f"{record}.flac",
    ...                  np.zeros(100), 2000)
    ...         lines.append(f"{record},{label}")
    ...     _ = (root / f"training-{db}" / "REFERENCE.csv").write_text(
    ...         "\\n".join(lines) + "\\n")
    >>> data = load_physionet2016(root)
    >>> data.target.tolist(), data.groups.tolist(), data.sample_rate
    ([1, 0, 0], ['a', 'a', 'b'], 2000.0)
    >>> data.recordings.name(1), data.record[1]
    ('training-a/a0002.flac', 'a0002')
    >>> load_physionet2016(root, databases=["b"]).record.tolist()
    ['b0001']
    """
    root = _given_path(path)
    if not root.is_dir():
        raise FileNotFoundError(f"no folder at {root}")
    # "Training-b/" too: a folder named in other case was left out unsaid
    found: dict[str, Path] = {}
    by_lower: dict[str, Path] = {}
    for p in sorted(root.iterdir()):
        letter = _database_letter(p.name)
        # the name first: a lone database folder holds thousands of files
        if letter is None or not p.is_dir():
            continue
        twin = by_lower.setdefault(letter.lower(), p)
        if twin != p:
            raise ValueError(
                f"{root}: {twin.name}/ and {p.name}/ are one database (its name "
                "is read in any case); move their files into one of them"
            )
        found[letter] = p  # its case kept: the group
    if not found and (root / "REFERENCE.csv").is_file():
        # one database on its own, as the challenge ships its validation set
        # and as another site's recordings can be laid out
        # resolved: "." has no name to tell the database by
        folder = root.resolve()
        found = {_database_letter(folder.name) or folder.name: folder}
    if not found:
        raise FileNotFoundError(
            f"{root} holds no training-* folders (training-a ... training-f of the "
            "PhysioNet/CinC Challenge 2016) and no REFERENCE.csv of its own"
        )
    paths, names, where = [], [], []
    table: dict[str, list[str]] = {"label": [], "database": [], "record": []}
    for letter in _chosen_databases(root, found, databases):
        folder = found[letter]
        for line, record, label, audio in _read_reference(folder):
            paths.append(audio)
            names.append(f"{folder.name}/{audio.name}")
            where.append(f"{folder / 'REFERENCE.csv'}, line {line}")
            table["label"].append(label)
            table["database"].append(letter)
            table["record"].append(record)
    data = _manifest_bunch(
        paths,
        table,
        where,
        sample_rate=sample_rate,
        groups="database",
        labels=_PHYSIONET_LABELS,
        label_hint="PhysioNet 2016 labels are only 1 (abnormal) and -1 (normal)",
        target_names=_PHYSIONET_TARGET_NAMES,
        names=names,
    )
    data.DESCR = _physionet_descr(root, data)
    return data


def _chosen_databases(
    root: Path, found: dict[str, Path], databases: Iterable[str] | None
) -> list[str]:
    """Letters of the chosen databases, in folder order."""
    if databases is None:
        return list(found)
    if isinstance(databases, str):  # one name, not its characters
        databases = [databases]
    if not isinstance(databases, Iterable):
        raise TypeError(
            f"databases={databases!r}: give a database's letter or a list of them"
        )
    chosen = set()
    by_lower = {letter.lower(): letter for letter in found}  # "A" finds training-a
    for name in databases:
        letter = by_lower.get(str(name).strip().lower().removeprefix(_PHYSIONET_PREFIX))
        if letter is None:
            raise ValueError(
                f"unknown database {name!r}: {root} holds {', '.join(found)} "
                f"(or by folder: {', '.join(p.name for p in found.values())})"
            )
        chosen.add(letter)
    if not chosen:
        raise ValueError(f"no database chosen; {root} holds {', '.join(found)}")
    return [letter for letter in found if letter in chosen]


def _read_reference(folder: Path) -> list[tuple[int, str, str, Path]]:
    """(line, record, label, audio file) per line of ``folder/REFERENCE.csv``."""
    reference = folder / "REFERENCE.csv"
    if not reference.is_file():
        raise FileNotFoundError(
            f"{folder} has no REFERENCE.csv (lines record,label; 1 abnormal, -1 normal)"
        )
    # one listing instead of a stat per record and suffix
    audio: dict[str, Path] = {}
    with os.scandir(folder) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            suffix = os.path.splitext(entry.name)[1].lower()
            if suffix in (".flac", ".wav") and entry.is_file():
                stem = entry.name[: -len(suffix)]
                if stem not in audio or suffix == ".flac":
                    audio[stem] = Path(entry.path)
    rows: list[tuple[int, str, str, Path]] = []
    first_line: dict[str, int] = {}
    text = _label_text(reference)
    reader = csv.reader(io.StringIO(text, newline=""))
    for fields in _csv_records(reader, reference, text):
        line = reader.line_num
        fields = [field.strip() for field in fields]
        if fields in ([], [""]):
            continue
        if len(fields) != 2:
            raise LabelFileError(
                f"{reference}, line {line}: expected two fields, record,label; "
                f"got {len(fields)}"
            )
        record, label = fields
        if not record:
            raise LabelFileError(f"{reference}, line {line}: empty record")
        if record in first_line:
            raise LabelFileError(
                f"{reference}, line {line}: record {record!r} listed again "
                f"(first on line {first_line[record]})"
            )
        first_line[record] = line
        if record not in audio:
            raise FileNotFoundError(
                f"{reference}, line {line}: no audio for record {record!r}; "
                f"expected {folder / record}.flac or .wav"
            )
        rows.append((line, record, label, audio[record]))
    if not rows:
        raise LabelFileError(f"{reference}: lists no recordings")
    return rows


def _physionet_descr(root: Path, data: Bunch) -> str:
    lines = [
        f"PhysioNet/CinC Challenge 2016 heart sounds: {len(data.target)} "
        f"recordings from {root}, read at {data.sample_rate:g} Hz.",
        "database  recordings  abnormal  normal",
    ]
    for letter in dict.fromkeys(data.groups):
        target = data.target[data.groups == letter]
        lines.append(
            f"{letter:<8}  {len(target):>10}  {target.sum():>8}  "
            f"{len(target) - target.sum():>6}"
        )
    lines += [
        "Labels: 1 abnormal, 0 normal (-1 in REFERENCE.csv); groups: the "
        "database. The databases differ in site and device: report "
        "leave-one-database-out beside any pooled score.",
        f"Cite: {_PHYSIONET_CITATION}",
    ]
    return "\n".join(lines)


def _band_noise(rng, n: int, rate: float, low: float, high: float) -> np.ndarray:
    """Unit-variance noise limited to ``[low, high]`` Hz (shaped in the spectrum)."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / rate)
    spectrum[(freqs < low) | (freqs > high)] = 0
    x = np.fft.irfft(spectrum, n)
    return x / (x.std() + 1e-12)


def _vessel_sound(
    rng, duration, rate, bpm, stenotic, variability=0.0, ectopic_rate=0.0, wave=0.0
):
    """The vessel's sound at the skin (peak about 1), and each beat's sample."""
    n = round(duration * rate)  # int() lost a sample at 2.01 s x 2000 Hz
    t = np.arange(n) / rate
    period = 60.0 / bpm
    # beat-to-beat jitter of a few percent, as in real sinus rhythm; extra
    # variability widens the same draws, so the random stream (and everything
    # drawn after it) is unchanged
    jitter = 0.04 if not variability else float(np.hypot(0.04, variability))
    intervals = period * (1 + jitter * rng.standard_normal(int(duration / period) + 2))
    if ectopic_rate:
        intervals = _with_ectopic_beats(rng, intervals, ectopic_rate)
    beats = rng.uniform(0.1, 0.6) * period + np.cumsum(np.r_[0, intervals[:-1]])
    while beats[-1] + intervals[-1] < duration - 0.05:
        # wide variability can run the intervals out before the recording
        # ends; drawn only then, so that other recordings keep their stream
        more = period * (1 + jitter * rng.standard_normal(int(duration / period) + 2))
        if ectopic_rate:
            more = _with_ectopic_beats(rng, more, ectopic_rate)
        beats = np.r_[beats, beats[-1] + np.cumsum(np.r_[intervals[-1], more[:-1]])]
        intervals = more
    beats = beats[beats < duration - 0.05]
    tau = rng.uniform(0.06, 0.1)  # time to the pressure peak
    pulse = np.zeros(n)
    systole = np.zeros(n)
    jet = np.zeros(n)
    reach = int(1.5 * rate)  # both shapes are negligible 1.5 s after onset
    for b in beats:
        lo = max(int((b - tau) * rate), 0)
        hi = min(lo + reach, n)
        s = t[lo:hi] - b + tau
        pulse[lo:hi] += np.where(s > 0, (s / tau) * np.exp(1 - s / tau), 0.0)
        systole[lo:hi] += np.exp(-0.5 * ((t[lo:hi] - b - 0.05) / 0.08) ** 2)
        jet[lo:hi] += np.exp(-0.5 * ((t[lo:hi] - b - 0.04) / 0.05) ** 2)
    pulse -= pulse.mean()  # microphones are AC-coupled
    # The bruit of turbulent flow. A working access carries flow through the
    # whole cycle: a low-pitched bruit in systole and diastole. A stenosis
    # throttles diastolic flow and adds a louder high-pitched, short systolic
    # jet (300 to 1000 Hz) where blood speeds through the narrowing.
    # Vessels differ: the jet's loudness and the diastolic flow vary from one
    # recording to the next, and a normal access may carry a faint jet too.
    diastolic = rng.uniform(0.05, 0.15) if stenotic else rng.uniform(0.2, 0.4)
    strength = rng.uniform(0.015, 0.03) if stenotic else rng.uniform(0.0, 0.006)
    bruit = 0.04 * (diastolic + systole) * _band_noise(rng, n, rate, 40, 300)
    bruit += strength * jet * _band_noise(rng, n, rate, 300, 1000)
    x = pulse + bruit + 0.005 * rng.standard_normal(n)
    if wave:
        # drawn last, so that without it the stream is that of earlier versions
        x += _second_wave(t, beats, tau, wave, rng.uniform(0.35, 0.6) * period)
    return x, np.round(beats * rate).astype(np.int64)


def _second_wave(t, beats, tau, height, delay) -> np.ndarray:
    """A reflected pressure wave ``delay`` seconds after each beat's peak:
    ``height`` times the first, twice as broad (AC-coupled like it)."""
    wave = np.zeros(len(t))
    rate = 1.0 / (t[1] - t[0]) if len(t) > 1 else 1.0
    reach = int(1.5 * rate)
    broad = 2.0 * tau
    for b in beats:
        lo = max(int((b + delay - broad) * rate), 0)
        hi = min(lo + reach, len(t))
        s = t[lo:hi] - b - delay + broad
        wave[lo:hi] += np.where(s > 0, (s / broad) * np.exp(1 - s / broad), 0.0)
    return height * (wave - wave.mean())


def _with_ectopic_beats(rng, intervals: np.ndarray, rate: float) -> np.ndarray:
    """Make some beats come early (0.6 to 0.7 of their interval), each followed
    by a full compensatory pause, so the beat after it keeps its time.

    ``intervals[j]`` is the time from beat ``j`` to beat ``j + 1``; beat
    ``j + 1`` is ectopic with probability ``rate``, never two in a row.
    """
    early = rng.uniform(size=len(intervals)) < rate
    fraction = rng.uniform(0.6, 0.7, size=len(intervals))
    out = intervals.copy()
    previous = False
    for j in range(len(out) - 1):
        if early[j] and not previous:
            shift = (1 - fraction[j]) * out[j]
            out[j] -= shift
            out[j + 1] += shift
            previous = True
        else:
            previous = False
    return out


def _session_ranges(recorder, confound: float) -> tuple[RecorderRanges, ...] | None:
    """The recorder pools of the simulator: (normal-like, stenosis-like) or one."""
    if recorder is None or isinstance(recorder, Recorder):
        if confound:
            raise ValueError(
                "confound needs two recorder pools: recorder='sessions' or a pair "
                "of RecorderRanges (normal-like, stenosis-like)"
            )
        return None
    if isinstance(recorder, str):
        if recorder != "sessions":
            raise ValueError(f"recorder={recorder!r}: use 'sessions' or a Recorder")
        return (LOUD_SESSION, QUIET_SESSION)
    if isinstance(recorder, RecorderRanges):
        if confound:
            raise ValueError("confound needs two recorder pools, got one range")
        return (recorder,)
    try:
        pools = tuple(recorder)
    except TypeError:  # a number, say: "'int' object is not iterable" says not why
        raise TypeError(
            f"recorder={recorder!r}: give None, a Recorder, a RecorderRanges, "
            "'sessions' or a pair of RecorderRanges (normal-like, stenosis-like)"
        ) from None
    if len(pools) != 2 or not all(isinstance(r, RecorderRanges) for r in pools):
        raise ValueError("recorder pools must be two RecorderRanges")
    return pools


def _number(name: str, value) -> float:
    """``value`` as a float, or a TypeError that names the parameter."""
    # bool is an Integral: True as a duration is a slip, not one second
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a number, got {value!r}")
    return float(value)


def _check_simulation(n_patients, recordings_per_patient, duration, sample_rate):
    """make_recordings's sizes, refused before any work where they make nothing."""
    duration = _number("duration", duration)
    sample_rate = _number("sample_rate", sample_rate)
    for name, value in [
        ("n_patients", n_patients),
        ("recordings_per_patient", recordings_per_patient),
    ]:
        # bool is an Integral too: n_patients=True is a slip, not one patient
        if isinstance(value, bool) or not (isinstance(value, Integral) and value >= 1):
            raise ValueError(f"{name} must be a whole number from 1 up, got {value!r}")
    if not (np.isfinite(duration) and duration > 0):
        raise ValueError(f"duration must be a positive number of seconds: {duration!r}")
    # the stenotic jet reaches 1 kHz: a lower Nyquist frequency would cut the
    # label's sign away without a word
    highest = RATE_RANGE[1]
    if not (np.isfinite(sample_rate) and 2000 <= sample_rate <= highest):
        raise ValueError(
            f"sample_rate must lie in 2000 to {highest:g} Hz (the jet reaches "
            f"1 kHz), got {sample_rate!r}"
        )
    if duration * sample_rate < 1:
        raise ValueError(
            f"duration {duration!r} s holds no sample at {sample_rate:g} Hz"
        )


def make_recordings(
    n_patients: int = 8,
    recordings_per_patient: int = 4,
    duration: float = 20.0,
    sample_rate: float = 22050.0,
    random_state: int | np.random.RandomState | None = None,
    recorder: Recorder | RecorderRanges | str | tuple | None = None,
    confound: float = 0.0,
    heart_rate: tuple[float, float] = (50.0, 110.0),
    beat_variability: float = 0.0,
    ectopic_rate: float = 0.0,
    second_wave: float = 0.0,
) -> Bunch:
    """Synthetic vascular-access recordings that look like the real ones.

    Each recording is a pulsatile pressure wave (by default one beat every 0.55 to
    1.2 s, 50 to 110 per minute per patient, with beat-to-beat jitter) that carries
    nearly all the energy below 50 Hz, as in the seed recordings, plus a faint
    bruit: a low-pitched (40 to 300 Hz) bruit over the whole cycle in a normal
    access; with a stenosis, less diastolic flow sound and a short, high-pitched
    systolic jet (300 to 1000 Hz). Patients come in three kinds, as in the seed
    data: both classes (before and after angioplasty, alternating, so an odd
    ``recordings_per_patient`` gives them one stenotic recording more), normal
    only, stenosis only.

    Each recording is one session of a recording device. By default
    (``recorder=None``) the device only sets the gain, 0.1 to 0.8 of full scale,
    independently of the class, so loudness says nothing. A
    :class:`~vascular_sklearn.recorder.Recorder` records every session alike;
    a :class:`~vascular_sklearn.recorder.RecorderRanges` draws each session's
    device from its ranges. ``recorder="sessions"`` or a pair of ranges
    ``(normal_like, stenosis_like)`` defines two kinds of session (by default
    :data:`~vascular_sklearn.recorder.LOUD_SESSION` and the quiet, dull
    :data:`~vascular_sklearn.recorder.QUIET_SESSION`, on the same coarse
    converter, whose levels then lie close to the sound), and ``confound``
    says how strongly the kind goes with the label: each session follows its
    label with probability ``confound`` and is a coin flip otherwise, so it
    agrees with the label with probability ``(1 + confound) / 2``.
    ``confound=0`` makes the device independent of the label; ``confound=1``
    records every stenosis quietly and every normal vessel loudly. (In the seed
    data the quiet sessions hold 8 of the 14 stenotic recordings and 2 of the
    35 normal ones: a weaker link than ``confound=0.8``'s.)

    Parameters
    ----------
    n_patients : int, default=8
    recordings_per_patient : int, default=4
    duration : float, default=20.0
        Seconds per recording.
    sample_rate : float, default=22050.0
    random_state : int, RandomState or None
        Same seed, same recordings (and the same vessel sounds whatever
        ``recorder`` and ``confound`` are).
    recorder : Recorder, RecorderRanges, "sessions", pair of RecorderRanges or None
        The recording device of each session (see above).
    confound : float in [0, 1], default=0.0
        Link between the kind of session and the label (two pools only).
    heart_rate : (float, float), default=(50.0, 110.0)
        Range of the patients' heart rates in beats per minute. The default
        cutter (:class:`~vascular_sklearn.PeakCycleCutter`, the original
        study's rule) keeps no cycle of a heart slower than about 53 per
        minute; ``method="period"`` keeps them.
    beat_variability : float in [0, 0.15], default=0.0
        Extra beat-to-beat variability: the relative standard deviation of the
        interval between beats grows from the built-in 0.04 of sinus rhythm to
        ``hypot(0.04, beat_variability)``.
    ectopic_rate : float in [0, 0.5], default=0.0
        Probability that a beat comes early, at 0.6 to 0.7 of its interval,
        followed by a compensatory pause that puts the next beat back on time.
        Never two early beats in a row: the beat after an early one is drawn
        on time, so the share of early beats is about ``rate / (1 + rate)``
        (a third at 0.5). ``beat_times`` holds the beats where they happen.
    second_wave : float in [0, 1], default=0.0
        Height, relative to the pressure pulse, of a second, broader pressure
        wave within each beat (a reflected wave), arriving 0.35 to 0.6 of the
        beat interval after the pulse's peak (drawn per recording). It is the
        double peak a beat finder must not count as a beat. With this,
        ``beat_variability`` and ``ectopic_rate`` at 0 the recordings are
        those of earlier versions, draw for draw.

    Returns
    -------
    data : Bunch
        As :func:`load_recordings`, plus ``beat_times`` (per recording the sample
        index of each beat's pressure peak), ``recorders`` (the
        :class:`~vascular_sklearn.recorder.Recorder` of each recording, or
        ``None``) and ``session_kind`` (per recording the pool it was drawn
        from: 0 the first, 1 the second; all 0 with one pool or none).

    Examples
    --------
    >>> data = make_recordings(n_patients=3, recordings_per_patient=2, duration=5,
    ...                        random_state=0)
    >>> len(data.recordings), data.target.tolist(), data.groups.tolist()
    (6, [1, 0, 0, 0, 1, 1], ['P00', 'P00', 'P01', 'P01', 'P02', 'P02'])
    >>> confounded = make_recordings(n_patients=3, recordings_per_patient=2,
    ...                              duration=5, random_state=0,
    ...                              recorder="sessions", confound=1.0)
    >>> bool((confounded.session_kind == confounded.target).all())
    True
    """
    _check_simulation(n_patients, recordings_per_patient, duration, sample_rate)
    if isinstance(heart_rate, (str, bytes)) or np.shape(heart_rate) != (2,):
        raise TypeError(f"heart_rate must be a pair (low, high), got {heart_rate!r}")
    heart_rate = tuple(_number("heart_rate", bpm) for bpm in heart_rate)
    for name, value in [
        ("confound", confound),
        ("beat_variability", beat_variability),
        ("ectopic_rate", ectopic_rate),
        ("second_wave", second_wave),
    ]:
        _number(name, value)
    if not 0 < heart_rate[0] <= heart_rate[1] < np.inf:
        raise ValueError(
            f"heart_rate must be (low, high), 0 < low <= high < inf: {heart_rate}"
        )
    if not 0.0 <= confound <= 1.0:
        raise ValueError(f"confound must lie in [0, 1], got {confound}")
    if not 0.0 <= beat_variability <= 0.15:
        raise ValueError(
            f"beat_variability must lie in [0, 0.15], got {beat_variability}"
        )
    if not 0.0 <= ectopic_rate <= 0.5:
        raise ValueError(f"ectopic_rate must lie in [0, 0.5], got {ectopic_rate}")
    if not 0.0 <= second_wave <= 1.0:
        raise ValueError(f"second_wave must lie in [0, 1], got {second_wave}")
    pools = _session_ranges(recorder, confound)
    if isinstance(recorder, Recorder) and recorder.sample_rate not in (
        None,
        sample_rate,
    ):
        # the Bunch, the beat times and the names all speak of sample_rate
        raise ValueError(
            f"recorder.sample_rate={recorder.sample_rate:g} differs from "
            f"sample_rate={sample_rate:g}: give the rate as sample_rate, and "
            "leave the recorder's None"
        )
    rng = check_random_state(random_state)
    gen = np.random.default_rng(rng.randint(2**31))
    # the devices draw from their own stream, so the vessels stay the same
    devices = np.random.RandomState(rng.randint(2**31))
    arrays, beats, labels, groups, names = [], [], [], [], []
    recorders, kinds = [], []
    for p in range(n_patients):
        bpm = gen.uniform(*heart_rate)
        kind = p % 3  # 0: before/after pairs, 1: normal only, 2: stenosis only
        for r in range(recordings_per_patient):
            stenotic = (r % 2 == 0) if kind == 0 else kind == 2
            gain = float(np.exp(gen.uniform(np.log(0.1), np.log(0.8))))
            x, peaks = _vessel_sound(
                gen,
                duration,
                sample_rate,
                bpm,
                stenotic,
                beat_variability,
                ectopic_rate,
                second_wave,
            )
            session, device = 0, recorder if isinstance(recorder, Recorder) else None
            if pools is not None:
                follows = devices.uniform() < confound
                session = int(stenotic) if follows else int(devices.uniform() < 0.5)
                session = min(session, len(pools) - 1)
                device = pools[session].draw(devices)
            if device is None:
                x = np.clip(gain * x, -1, 1).astype(np.float32)
            else:
                x = device.apply(x, sample_rate, devices.randint(2**31))
            arrays.append(x)
            beats.append(peaks)
            labels.append(int(stenotic))
            groups.append(f"P{p:02d}")
            names.append(f"synthetic/P{p:02d}_R{r}_{TARGET_NAMES[int(stenotic)]}")
            recorders.append(device)
            kinds.append(session)
    return Bunch(
        recordings=Signals.from_arrays(arrays, sample_rate, names=names),
        target=np.array(labels),
        groups=np.array(groups),
        filenames=np.array(names),
        sample_rate=float(sample_rate),
        target_names=TARGET_NAMES,
        beat_times=object_array(beats),
        recorders=object_array(recorders),
        session_kind=np.array(kinds),
        DESCR=f"{len(arrays)} synthetic recordings of {n_patients} patients.",
    )
