"""Corpora on disk: recordings named by path and read only when a step needs them.

A dialysis network's archive does not fit in memory. :class:`RecordingFiles`
holds paths (and the rate to read them at) instead of audio; it indexes,
splits and pickles like the in-memory containers, so ``GroupKFold``,
``cross_validate`` and joblib workers pass paths around, and the pipeline's
first step reads each file in the worker that filters it.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import hashlib
import io
import os
import re
import stat
import unicodedata
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.utils import Bunch

from ._parallel import map_recordings
from .audio import (
    AUDIO_SUFFIXES,
    _read_with_note,
    check_read_options,
    file_sample_rate,
    read_recording,
    warn_cut_short,
)
from .containers import Signals, _check_sample_rate, _RecordingSequence, _take_optional
from .exceptions import (
    LabelFileError,
    MixedSampleRateWarning,
    RecordingError,
    _is_left_to_caller,
    _missing,
)

__all__ = [
    "AUDIO_SUFFIXES",
    "TARGET_NAMES",
    "RecordingFiles",
    "find_recordings",
    "read_manifest",
]

#: Names of the labels 0 and 1.
TARGET_NAMES = np.array(["normal", "stenosis"])

# -1 is normal as well: PhysioNet's label files (and many corpora built on them)
# write normal/abnormal as -1/1, so their tables read without rewriting.
_LABELS = {"0": 0, "1": 1, "-1": 0, "normal": 0, "stenosis": 1, "abnormal": 1}


@dataclass(frozen=True, eq=False)
class RecordingFiles(_RecordingSequence):
    """Recordings on disk, read at ``sample_rate`` when they are used.

    Indexing by an int reads that file; indexing by positions gives a smaller
    ``RecordingFiles`` without reading anything.
    :class:`~vascular_sklearn.LowpassFilter` reads each file in the worker that
    filters it, so a pipeline never holds the raw audio of the whole corpus.

    Parameters
    ----------
    paths : ndarray of str, shape (n_recordings,)
    sample_rate : float
        Rate the files are read at; files at another rate are resampled.
    names : ndarray of str or None, default=None
        Names for messages; the paths when ``None``.
    stamps : ndarray of int64, shape (n_recordings, 2), or None, default=None
        Size and modification time (ns) of each file when it was listed
        (:meth:`from_paths` fills them). They are part of the object, so a
        cache keyed on it (``Pipeline(memory=...)``, ``joblib.Memory``) misses
        when a file is replaced under the same path.

    Examples
    --------
    >>> import tempfile, numpy as np, soundfile as sf
    >>> from pathlib import Path
    >>> folder = Path(tempfile.mkdtemp())
    >>> sf.write(folder / "a.wav", np.zeros(441), 44100)
    >>> files = RecordingFiles.from_paths([folder / "a.wav"], sample_rate=22050)
    >>> len(files), files[0].shape
    (1, (221,))
    """

    paths: np.ndarray
    sample_rate: float
    names: np.ndarray | None = None
    stamps: np.ndarray | None = None

    def __post_init__(self) -> None:
        _check_sample_rate(self.sample_rate)
        if isinstance(self.paths, (str, bytes, os.PathLike)):  # not its characters
            raise TypeError(
                f"paths={self.paths!r} is one path: give a list ([path]), or a "
                "folder's files with find_recordings(folder)"
            )
        if not isinstance(self.paths, np.ndarray):
            object.__setattr__(self, "paths", np.asarray(self.paths, dtype=object))
        if self.paths.ndim != 1:
            raise ValueError(
                f"paths of shape {self.paths.shape}: give a sequence of one path "
                "per recording"
            )
        if not all(isinstance(p, str) for p in self.paths):
            # a Path (or bytes) is read by the steps as a str, not as samples
            paths = np.array([os.fsdecode(p) for p in self.paths], dtype=object)
            object.__setattr__(self, "paths", paths)
        if self.stamps is not None and np.shape(self.stamps) != (len(self), 2):
            raise ValueError(
                f"stamps of shape {np.shape(self.stamps)} for {len(self)} "
                "recordings: give one (size, mtime_ns) pair per recording, or None"
            )
        if self.stamps is not None and not isinstance(self.stamps, np.ndarray):
            object.__setattr__(self, "stamps", np.asarray(self.stamps, np.int64))
        self._check_names()

    @classmethod
    def from_paths(
        cls, paths: Sequence[str | os.PathLike], sample_rate: float | None = None
    ) -> RecordingFiles:
        """Files by path; ``sample_rate=None`` takes the first readable file's rate.

        Relative paths are made absolute now: the files are read later, perhaps
        in another working directory (a worker, or after ``os.chdir``); names
        for messages stay as given.

        Parameters
        ----------
        paths : sequence of path-like
        sample_rate : float or None, default=None

        Returns
        -------
        files : RecordingFiles

        Raises
        ------
        FileNotFoundError
            Naming the first files that do not exist or are folders.
        TypeError
            If ``paths`` is one path rather than a sequence of them.
        ValueError
            If ``sample_rate`` is invalid, or ``paths`` is empty and no
            ``sample_rate`` is given.
        RecordingError
            Without ``sample_rate``, if no file's header can be read for one.
        """
        check_read_options(sample_rate)
        if isinstance(paths, (str, bytes, os.PathLike)):  # not its characters
            raise TypeError(
                f"paths={paths!r} is one path: give a list ([path]), or a "
                "folder's files with find_recordings(folder)"
            )
        given = np.array([os.fspath(p) for p in paths], dtype=object)
        paths = np.array([os.path.abspath(p) for p in given], dtype=object)
        stats = [_stat(p) for p in paths]  # one stat per file: existence and stamp
        missing = [p for p, st in zip(given, stats, strict=True) if st is None]
        if missing:
            raise FileNotFoundError(
                f"{len(missing)} of the {len(given)} paths name no file, e.g. "
                + "; ".join(f"{p}: {_missing(p, 'an audio file')}" for p in missing[:3])
            )
        if sample_rate is None:
            if not len(paths):
                raise ValueError("no recordings given")
            sample_rate = _first_rate(paths)
        stamps = np.array([(st.st_size, st.st_mtime_ns) for st in stats], np.int64)
        return cls(paths, float(sample_rate), given, stamps.reshape(-1, 2))

    def __len__(self) -> int:
        return len(self.paths)

    def name(self, i: int) -> str:
        """Name of recording ``i`` for messages (its path by default).

        Parameters
        ----------
        i : int

        Returns
        -------
        name : str
        """
        return str(self.paths[i] if self.names is None else self.names[i])

    def _item(self, i: int) -> np.ndarray:
        return read_recording(self.paths[i], self.sample_rate)[0]

    def _take(self, positions: np.ndarray) -> RecordingFiles:
        return replace(
            self,
            paths=self.paths[positions],
            names=_take_optional(self.names, positions),
            stamps=_take_optional(self.stamps, positions),
        )

    def load(self, n_jobs: int | None = None) -> Signals:
        """Read every file into memory.

        Parameters
        ----------
        n_jobs : int or None, default=None
            Files read in parallel through joblib.

        Returns
        -------
        signals : Signals
            Named by path (or ``names``), at ``sample_rate``.
        """
        read = map_recordings(
            _read_with_note, list(self.paths), n_jobs, self.sample_rate
        )
        # warned here, not in the worker: a worker process's warning is lost
        for path, (_, _, note) in zip(self.paths, read, strict=True):
            warn_cut_short(path, note, stacklevel=3)
        arrays = [x for x, _, _ in read]
        names = [self.name(i) for i in range(len(self))]
        return Signals.from_arrays(arrays, self.sample_rate, names=names)


def _stat(path: str) -> os.stat_result | None:
    """The file's stat, or None when it is not a regular file."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st if stat.S_ISREG(st.st_mode) else None


def audio_files_under(
    folder: Path, dangling: bool = False, recursive: bool = True
) -> Iterator[Path]:
    """The files under ``folder`` (in no order; in it alone without
    ``recursive``) whose ending is in
    :data:`AUDIO_SUFFIXES`; nothing when it is not a folder. Hidden files and
    folders are left out: macOS writes a ``._name.wav`` of metadata beside
    each recording on a FAT or exFAT stick. With ``dangling``, links so named
    whose target is gone come too, for the reader to name: left out, their
    recordings would be missing from a corpus unsaid."""
    yield from (
        p
        for p in _files_under(folder, recursive)
        if p.suffix.lower() in AUDIO_SUFFIXES
        and (p.is_file() or (dangling and p.is_symlink() and not p.exists()))
    )


def _files_under(folder: Path, recursive: bool = True) -> Iterator[Path]:
    """The entries under ``folder`` that are not folders, hidden ones left out;
    a linked folder is searched as a folder (``Path.rglob`` passed it by, and
    its recordings with it, unsaid), each real folder once."""
    if not folder.is_dir():
        return
    seen = set()
    for top, folders, names in os.walk(folder, followlinks=True, onerror=_unread):
        real = os.path.realpath(top)
        # a link back up would loop; two links to one folder, read it twice
        if real in seen:
            folders.clear()
            continue
        seen.add(real)
        folders[:] = sorted(f for f in folders if recursive and not f.startswith("."))
        yield from (Path(top, n) for n in names if not n.startswith("."))


def _unread(err: OSError) -> None:
    """Refuse a folder that cannot be listed: ``os.walk`` passed it by, and a
    class's recordings with it, without a word. One gone since its parent
    was listed (a folder still being sorted) held nothing to miss."""
    if not isinstance(err, FileNotFoundError):
        raise PermissionError(
            f"{err.filename}: this folder cannot be read ({err.strerror}), and "
            "its recordings would be left out: give read access to it"
        ) from err


def _given_path(path: str | bytes | os.PathLike) -> Path:
    """``path`` as a Path, refused when empty: ``Path("")`` is the working
    folder, and a script's unset variable would read (or screen) whatever
    lies there."""
    if not os.fspath(path):
        raise FileNotFoundError(
            "an empty path names no folder or file (an unset variable?): give "
            "the folder, manifest or recording"
        )
    return Path(os.fsdecode(path))


def find_recordings(folder: str | os.PathLike) -> list[str]:
    """Audio files under ``folder`` (recursively), sorted by path.

    Parameters
    ----------
    folder : path-like

    Returns
    -------
    paths : list of str
        Files whose ending is in :data:`AUDIO_SUFFIXES`, and links so named
        whose target is gone (the readers name them as missing). Hidden files
        and folders (``._a.wav``, macOS's metadata) are left out, and so are
        formats not read (``.m4a``): screening's
        :func:`~vascular_sklearn.screening.recording_paths` gives those a
        row that says so.

    Raises
    ------
    FileNotFoundError
        When ``folder`` is not a folder or holds no audio file.
    PermissionError
        When a folder under it cannot be listed (its recordings would be
        left out).

    Examples
    --------
    >>> import tempfile, numpy as np, soundfile as sf
    >>> from pathlib import Path
    >>> folder = Path(tempfile.mkdtemp())
    >>> (folder / "night").mkdir()
    >>> sf.write(folder / "night" / "b.WAV", np.zeros(10), 22050)
    >>> sf.write(folder / "a.flac", np.zeros(10), 22050)
    >>> [Path(p).name for p in find_recordings(folder)]
    ['a.flac', 'b.WAV']
    """
    root = _given_path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"no folder at {root}")
    found = sorted(str(p) for p in audio_files_under(root, dangling=True))
    if not found:
        raise FileNotFoundError(
            f"{root} holds no audio files ({', '.join(AUDIO_SUFFIXES)})"
        )
    return found


def _manifest_rows(
    manifest: Path,
) -> tuple[list[Path], list[dict], list[int], set[str]]:
    """A manifest's listed paths (relative ones from its folder), its rows
    (keys stripped, lower case), the line each starts on, and the columns its
    header names; refused as :func:`read_manifest` documents, before any
    listed file is looked at."""
    if not manifest.is_file():
        raise FileNotFoundError(f"no manifest at {manifest}")
    text = _label_text(manifest)
    first = next((line for line in text.splitlines() if line.strip()), "")
    try:  # Excel in many locales writes ';', and some exports use tabs
        delimiter = csv.Sniffer().sniff(first, delimiters=",;\t").delimiter
    except csv.Error:  # one column: nothing to tell apart
        delimiter = ","
    # only the delimiter is sniffed: from a header without quotes the sniffer
    # also guesses that "" is no escaped quote, and reads 'b""x' as 'b"x"'
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    # "Label" and "label" name one column: a spreadsheet's capitalised header
    # must not drop the labels without a word
    header = [c.strip().lower() for c in reader.fieldnames or []]
    named = set(header)
    twice = sorted({c for c in header if c and header.count(c) > 1})
    if twice:  # DictReader would keep the last of them without a word
        raise LabelFileError(f"{manifest}: the header names {', '.join(twice)} twice")
    if "path" not in named:
        raise LabelFileError(
            f"{manifest}: needs a header row with a 'path' column on its first "
            "line (and optionally label, patient, recorder, site, time)"
        )
    rows, lines = [], []
    for row in _csv_records(reader, manifest, text):
        values = [v for k, v in row.items() if k is not None] + row.get(None, [])
        if not any((v or "").strip() for v in values):
            # ",,," : a spreadsheet's cleared rows below its table, blank as
            # an empty line is
            continue
        if None in row:  # more fields than the header names: a comma in a path?
            raise LabelFileError(
                f"{manifest}, line {reader.line_num}: {len(row) - 1 + len(row[None])} "
                f"fields under a header of {len(reader.fieldnames)}; quote a "
                'path that holds the delimiter ("a,b.wav")'
            )
        rows.append(row)
        lines.append(reader.line_num)  # blank lines are skipped, not counted out
    if not rows:
        raise LabelFileError(f"{manifest}: lists no recordings")
    rows = [{k.strip().lower(): v for k, v in row.items() if k} for row in rows]
    for row, line in zip(rows, lines, strict=True):
        if not (row["path"] or "").strip():  # None: the row ends before it
            raise LabelFileError(f"{manifest}, line {line}: no path")
    paths = [_listed_path(manifest.parent, row["path"].strip()) for row in rows]
    return paths, rows, lines, named


#: The columns of a manifest the library reads (the others are kept as notes).
_MANIFEST_COLUMNS = frozenset({"path", "label", "patient", "recorder", "site", "time"})
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _holds_rows(field: str, column: Any, reader: Any) -> bool:
    """Whether ``field`` took rows after its own into it, through a quote
    left open.

    A line break in a column that is read is refused: no path, label or id
    holds one. A note (a column not read) may hold lines of its own, as a
    spreadsheet cell typed with Alt+Enter does; it took rows where a line
    after its first holds the delimiters of a whole row.
    """
    lines = _LINE_BREAK.split(field)
    if len(lines) < 2:
        return False
    if not isinstance(column, str) or column.strip().lower() in _MANIFEST_COLUMNS:
        return True
    fields = len(reader.fieldnames)
    delimiter = reader.reader.dialect.delimiter
    return any(line.count(delimiter) >= fields - 1 for line in lines[1:])


def _csv_records(reader: Any, path: Path, text: str) -> Iterator[Any]:
    """The rows of a ``csv`` reader of ``path``, whose text is ``text``; a
    quote that never closes, or one that takes rows into a field, is refused,
    naming the line it opened on."""
    physical = _LINE_BREAK.split(text)
    records = iter(reader)
    while True:
        start = reader.line_num + 1  # where the next row begins, past the
        while start <= len(physical) and not physical[start - 1]:
            start += 1  # empty lines csv skips without counting them out
        try:
            row = next(records)
        except StopIteration:
            return
        except csv.Error as err:  # an opening quote ran past csv's field limit
            raise LabelFileError(
                f'{path}, line {start}: {err}: a quote (") opened there and '
                "never closed? Close it or remove it"
            ) from err
        fields = row.items() if isinstance(row, dict) else enumerate(row)
        if any(isinstance(v, str) and _holds_rows(v, k, reader) for k, v in fields):
            raise LabelFileError(
                f'{path}, line {start}: a quote (") opened there runs to line '
                f"{reader.line_num}, taking the rows between into one field; close "
                "the quote or remove it"
            )
        yield row


#: Headers other tools give the columns a manifest is read by: a ``subject``
#: column left unread made every recording its own patient.
_OTHER_NAMES = {
    "label": {"class", "diagnosis", "target", "outcome", "stenosis"},
    "patient": {"patient_id", "patientid", "subject", "subject_id", "participant"},
    "recorder": {"device", "stethoscope", "microphone", "recording_device"},
    "site": {"location", "position"},
    "time": {"date", "datetime", "timestamp"},
}


def _warn_near_misses(manifest: Path, named: set[str], columns: Sequence[str]) -> None:
    """Warn of a header that looks meant for a column of ``columns`` the
    manifest lacks (``patients``, ``pateint``, ``subject``): it is not read."""
    spaced = {c: c.replace(" ", "_").replace("-", "_") for c in named}
    for column in columns:
        if column in named or column not in _OTHER_NAMES:
            continue
        meant = sorted(
            c
            for c, flat in spaced.items()
            if flat in _OTHER_NAMES[column]
            or difflib.SequenceMatcher(None, column, flat).ratio() >= 0.8
        )
        if meant:
            warnings.warn(
                f"{manifest}: no '{column}' column, and "
                + " and ".join(repr(c) for c in meant)
                + f" {'is' if len(meant) == 1 else 'are'} not read: rename the "
                f"column '{column}' if it holds that",
                UserWarning,
                stacklevel=3,
            )


def _file_digest(path: str | os.PathLike, limit: int | None = None) -> str:
    """A short digest (BLAKE2b, 8 bytes) of a file's bytes, or of its first
    ``limit`` bytes; ``""`` for a file that cannot be read."""
    digest = hashlib.blake2b(digest_size=8)
    try:
        with open(path, "rb") as f:
            if limit is not None:
                digest.update(f.read(limit))
            else:
                while chunk := f.read(1 << 20):
                    digest.update(chunk)
    except OSError:
        return ""
    return digest.hexdigest()


_SMALLEST_RECORDING = 4096


def _first_copy(paths: Sequence[str | os.PathLike]) -> tuple[int, int] | None:
    """Two of ``paths`` that hold the same bytes (a recording copied under
    another name), as positions, or ``None``. Only files of one size are
    read, and whole only where their first 64 KiB agree: a corpus of
    recordings of one length costs a header's read each. Files under 4 KiB
    are passed over: too short to be cut into beats (under a second of 16-bit
    sound at 2 kHz), two placeholders of silence are alike without being one
    recording."""
    by_size: dict[int, list[int]] = {}
    for i, path in enumerate(paths):
        try:
            size = os.path.getsize(path)
        except OSError:  # gone or dangling: named where it is read
            continue
        if size >= _SMALLEST_RECORDING:
            by_size.setdefault(size, []).append(i)
    for same_size in by_size.values():
        heads: dict[str, list[int]] = {}
        for i in same_size if len(same_size) > 1 else ():
            if key := _file_digest(paths[i], 1 << 16):
                heads.setdefault(key, []).append(i)
        for same_head in heads.values():
            whole: dict[str, int] = {}
            for i in same_head if len(same_head) > 1 else ():
                key = _file_digest(paths[i])
                if key in whole:
                    return whole[key], i
                whole[key] = i
    return None


def _listed_path(folder: Path, given: str) -> Path:
    """A manifest's path from its ``folder``, found as it was meant where it
    is not there as written: one written on Windows (``sub\\a.wav``) by its
    ``/`` form, and an accented name by its other Unicode form (macOS writes
    names decomposed, a keyboard composed: the same name to a reader), so
    that a folder copied with its manifest reads as it did where it was made."""
    path = folder / given
    if os.path.lexists(path):
        return path
    forms = [given, given.replace("\\", "/")] if os.sep == "/" else [given]
    for form in forms:
        for name in (form, *(unicodedata.normalize(n, form) for n in ("NFC", "NFD"))):
            if os.path.lexists(folder / name):
                return folder / name
    return path


def read_manifest(
    path: str | os.PathLike,
    *,
    sample_rate: float | None = None,
    columns: Sequence[str] = ("label", "patient", "recorder", "site", "time"),
) -> Bunch:
    """Read a CSV manifest of recordings without decoding the audio.

    The manifest has a header row with a ``path`` column (absolute, or relative
    to the manifest's folder) and optionally ``label`` (``0``/``1`` or
    ``normal``/``stenosis``/``abnormal``; ``-1`` also means normal, as in
    PhysioNet's label files), ``patient``, ``recorder`` (the device or clinic
    that made the recording, for reports per recorder), ``site`` (where on the
    access) and ``time`` (kept as text). Fields are separated by commas,
    semicolons or tabs (told from the header row), in UTF-8. Rows whose
    fields are all empty are skipped, as blank lines are; a relative path
    written with Windows backslashes, or an accented name in the other
    Unicode normal form (NFC, NFD) than the file's, is read in the form that
    exists. Every listed file must exist, once, and hold its own recording:
    the headers are read (for the rates) and files of one size compared by
    their bytes (for copies); the audio is decoded only when a step needs it.

    Parameters
    ----------
    path : path-like
        The CSV file.
    sample_rate : float or None, default=None
        Rate the recordings are read at; ``None`` takes the first readable
        file's rate.
    columns : sequence of str, default=("label", "patient", "recorder", \
"site", "time")
        The optional columns read and checked (in any case); the others are
        ``None`` in the result. Screening reads the paths alone
        (``columns=()``), so a list whose labels are still to be found is no
        error there.

    Returns
    -------
    data : Bunch
        ``recordings`` (:class:`RecordingFiles`), ``target`` (int array, or
        ``None`` without a ``label`` column), ``groups`` (patient ids, or
        ``None``), ``filenames``, ``recorder``, ``site`` and ``time`` (text
        arrays, or ``None``), ``sample_rate``, ``target_names``, ``DESCR``.

    Raises
    ------
    ValueError
        When ``columns`` names a column that is not read; a ``TypeError`` when
        it is one string.
    LabelFileError
        A :class:`ValueError` naming the manifest and row: no ``path`` column,
        a column named twice, a row with more fields than the header, text
        that is not UTF-8 (naming the line, or UTF-16), an unknown label, an
        empty label, patient or recorder in a manifest that has the column, a
        file listed twice, or two files (of 4 KiB or more) holding the same
        bytes.
    FileNotFoundError
        When the manifest does not exist, or a listed recording does not
        (naming its row) or is a folder.

    Warns
    -----
    MixedSampleRateWarning
        When the files were recorded at more than one sample rate; it counts
        each rate's files per label where there are labels.
    UserWarning
        When a column of ``columns`` is missing and another header looks
        meant for it (``patients``, ``pateint``, ``subject`` for
        ``patient``; ``device`` for ``recorder``): it is not read.

    Examples
    --------
    >>> import tempfile, numpy as np, soundfile as sf
    >>> from pathlib import Path
    >>> folder = Path(tempfile.mkdtemp())
    >>> for name in ["a.wav", "b.wav"]:
    ...     sf.write(folder / name, np.zeros(100), 22050)
    >>> _ = (folder / "corpus.csv").write_text(
    ...     "path,label,patient\\na.wav,normal,P1\\nb.wav,stenosis,P1\\n")
    >>> data = read_manifest(folder / "corpus.csv")
    >>> data.target.tolist(), data.groups.tolist(), len(data.recordings)
    ([0, 1], ['P1', 'P1'], 2)
    """
    manifest = _given_path(path)
    if isinstance(columns, (str, bytes)):  # "patient,label" was read as letters
        raise TypeError(
            f"columns={columns!r}: give a sequence of names, e.g. ('label', 'patient')"
        )
    columns = [str(c).strip().lower() for c in columns]
    # a name not read (a typo, "patient_id") left the patients out without a word
    unknown = sorted(set(columns) - (_MANIFEST_COLUMNS - {"path"}))
    if unknown:
        raise ValueError(
            f"columns: {', '.join(map(repr, unknown))} not among the optional "
            "columns a manifest is read by (label, patient, recorder, site, time)"
        )
    paths, rows, lines, named = _manifest_rows(manifest)
    _warn_near_misses(manifest, named, columns)
    # absent optional columns stay None in the Bunch, so callers can tell
    # "no labels" from "all normal"
    # ids in one Unicode form: "Jöns" typed on one machine and written by
    # macOS (o and a combining diaeresis) were two patients
    table = {
        key: [unicodedata.normalize("NFC", (row[key] or "").strip()) for row in rows]
        if key in named and key in columns
        else None
        for key in ("label", "patient", "recorder", "site", "time")
    }
    try:
        data = _manifest_bunch(
            paths,
            table,
            [f"{manifest}, line {line}" for line in lines],
            sample_rate=sample_rate,
        )
    except FileNotFoundError as err:
        # a path written from the working folder, not the manifest's
        here = next(
            (
                given
                for given in (row["path"].strip() for row in rows)
                if not os.path.isabs(given)
                and not (manifest.parent / given).exists()
                and os.path.exists(given)
            ),
            None,
        )
        if here is None:
            raise
        raise FileNotFoundError(
            f"{err}; paths are relative to the manifest's folder "
            f"({manifest.parent}), and {here} is there from the working folder: "
            f"write it from {manifest.parent}, or in full"
        ) from err
    data.DESCR = f"{len(rows)} recordings listed in {manifest}."
    return data


def _manifest_bunch(
    paths: Sequence[Path],
    table: Mapping[str, Sequence[str] | None],
    where: Sequence[str],
    *,
    sample_rate: float | None,
    groups: str = "patient",
    labels: Mapping[str, int] = _LABELS,
    label_hint: str = "use 0/1, -1/1, normal/stenosis or normal/abnormal",
    target_names: np.ndarray = TARGET_NAMES,
    names: Sequence[str] | None = None,
) -> Bunch:
    """The Bunch of a table of recordings, one row per file (without ``DESCR``).

    Every corpus with a label table (a manifest, PhysioNet's REFERENCE files)
    ends here, so labels, groups and laziness mean the same whatever the source.

    Parameters
    ----------
    paths : sequence of Path
        One audio file per row.
    table : mapping of str to sequence of str or None
        Columns of stripped text, ``None`` for a column the source lacks.
        ``"label"`` becomes ``target``, the ``groups`` column ``groups``, any
        other column a key of its own.
    where : sequence of str
        Each row's place in its source ("file, line n"), for messages.
    sample_rate : float or None
        ``None`` takes the first file's rate.
    groups : str, default="patient"
        The column that holds the groups.
    labels : mapping of str to int, default=_LABELS
        Accepted labels, lower case.
    label_hint : str
        What an unknown label's message tells the user to write instead.
    target_names : ndarray of str, default=TARGET_NAMES
    names : sequence of str or None, default=None
        Names of the recordings for messages; the paths when ``None``.

    Returns
    -------
    data : Bunch
        ``recordings``, ``target``, ``groups``, ``filenames``, the other
        columns, ``sample_rate``, ``target_names``.

    Raises
    ------
    LabelFileError
        Naming the row: an empty label, group or recorder, an unknown label, or
        a file listed twice.
    FileNotFoundError
        Naming the row of a recording that is missing or a folder.
    """

    def column(key: str) -> np.ndarray | None:
        values = table.get(key)
        if values is None:
            return None
        # a recorder left out of one row would make a recorder of its own
        if key in ("label", groups, "recorder"):
            for place, value in zip(where, values, strict=True):
                if not value:
                    raise LabelFileError(f"{place}: empty {key}")
        return np.array(values, dtype=object)

    first: dict[str, str] = {}
    for place, path in zip(where, paths, strict=True):
        # one recording twice would weigh double, or sit on both sides of a
        # split when its rows name two patients (a link to it is it too)
        key = os.path.realpath(path)
        if key in first:
            raise LabelFileError(f"{place}: {path} is listed again ({first[key]})")
        first[key] = place
    if copy := _first_copy(paths):
        raise LabelFileError(
            f"{where[copy[1]]}: {paths[copy[1]]} holds the same bytes as "
            f"{paths[copy[0]]} ({where[copy[0]]}): one recording twice would weigh "
            "double, or sit on both sides of a split; remove the copy"
        )
    label = column("label")
    target = None
    if label is not None:
        for place, value in zip(where, label, strict=True):
            if value.lower() not in labels:
                raise LabelFileError(f"{place}: unknown label {value!r}; {label_hint}")
        target = np.array([labels[v.lower()] for v in label])
    group = column(groups)
    try:
        files = RecordingFiles.from_paths(paths, sample_rate)
    except FileNotFoundError as err:  # name the row; the listing stats each once
        place, path = next(
            (p, f) for p, f in zip(where, paths, strict=True) if _stat(f) is None
        )
        why = _missing(path, "a recording")
        raise FileNotFoundError(f"{place}: {path}: {why}") from err
    if names is not None:
        files = replace(files, names=np.array(names, dtype=object))
    extra = {k: column(k) for k in table if k not in ("label", groups)}
    _warn_mixed_rates(files.paths, target, target_names, files.sample_rate, 4)
    return Bunch(
        recordings=files,
        target=target,
        groups=group,
        filenames=files.paths,
        **extra,
        sample_rate=files.sample_rate,
        target_names=target_names,
    )


def _first_rate(paths: Sequence[str]) -> float:
    """The rate of the first file whose header reads: a damaged file is left
    to the step that reads it, which names it (a screening row), rather than
    failing the whole corpus because it was listed first."""
    first_error = None
    for path in paths:
        try:
            return file_sample_rate(path)
        except RecordingError as err:
            first_error = first_error or err
    raise first_error


def _file_rates(paths: Sequence[str | os.PathLike]) -> np.ndarray:
    """Each file's sample rate from its header; NaN for a file whose header
    cannot be read (left to the step that reads it, which names it)."""
    rates = []
    for path in paths:
        try:
            rates.append(file_sample_rate(path))
        except (OSError, RecordingError):
            rates.append(np.nan)
    return np.array(rates, dtype=np.float64)


def _label_text(path: Path) -> str:
    """A label file's text, its lines' ends kept (as ``csv`` wants them)."""
    raw = path.read_bytes()
    fix = "save it as UTF-8 (Excel: 'CSV UTF-8')"
    # Excel's "Unicode Text" is UTF-16: its NUL bytes decode as UTF-8 and
    # would reach the reader as a header without a 'path' column
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or b"\0" in raw:
        raise LabelFileError(f"{path}: not UTF-8 text (UTF-16, or not text); {fix}")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        # a spreadsheet's ANSI export (cp1252, an accented name): the line is
        # where to look, the byte what the decoder knows
        before = raw[: err.start]
        line = (before.count(b"\n") or before.count(b"\r")) + 1  # or Mac's CRs
        raise LabelFileError(
            f"{path}, line {line}: not UTF-8 text ({err.reason} at byte "
            f"{err.start}); {fix}"
        ) from err


def _warn_mixed_rates(
    paths: Sequence[str | os.PathLike],
    target: np.ndarray | None,
    target_names: np.ndarray,
    sample_rate: float,
    stacklevel: int = 2,
) -> None:
    """:class:`MixedSampleRateWarning` when a corpus's files were recorded at
    more than one sample rate.

    Every file is read at ``sample_rate`` (resampled), so nothing fails; but a
    rate is a recorder's mark, and where it goes with the label a model learns
    the recorder. The warning counts each rate's files per label. Only headers
    are read; a file whose header cannot be read is left to the step that
    reads it, which names its problem.
    """
    if _is_left_to_caller(MixedSampleRateWarning):  # no header pass for nothing
        return
    rates = _file_rates(paths)
    known = np.unique(rates[np.isfinite(rates)])
    if len(known) < 2:
        return
    parts = []
    for rate in known:
        at = rates == rate
        if target is None:
            parts.append(f"{rate:g} Hz: {at.sum()}")
        else:
            names = enumerate(target_names)
            counts = [f"{(at & (target == k)).sum()} {n}" for k, n in names]
            parts.append(f"{rate:g} Hz: {', '.join(counts)}")
    unread = np.isnan(rates).sum()
    warnings.warn(
        f"the recordings come at {len(known)} sample rates ({'; '.join(parts)}"
        f"{f'; {unread} unreadable' if unread else ''}) and are all read at "
        f"{sample_rate:g} Hz. A sample rate marks a recorder: where it goes with "
        "the label, a model can learn the recorder instead of the body; check "
        "with device_confound, or score each rate's recordings apart.",
        MixedSampleRateWarning,
        stacklevel=stacklevel,
    )
