"""Files the library writes for the user: checked before the work, written whole."""

from __future__ import annotations

import contextlib
import csv
import os
import tempfile
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import IO, Any

from .audio import AUDIO_SUFFIXES

__all__ = ["TableWriter", "check_output", "replacing"]

#: What makes a spreadsheet read a cell as a formula, not text (OWASP, "CSV
#: Injection"): a recording named ``=HYPERLINK(...).wav`` or a manifest's
#: patient ``+cmd|...`` would run when the table is opened in Excel.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def check_output(
    path: str | os.PathLike,
    overwrite: bool = False,
    inputs: Iterable[str | os.PathLike] = (),
) -> str:
    """Check, before any work, that ``path`` can be written; return it as str.

    Parameters
    ----------
    path : path-like
    overwrite : bool, default=False
        Replace an existing file.
    inputs : iterable of path-like, default=()
        What the run reads (files, or folders of recordings): ``path`` must
        not be one of them, nor a recording in one, even with ``overwrite``.

    Raises
    ------
    FileNotFoundError
        If its folder does not exist.
    IsADirectoryError
        If ``path`` is a folder, ends in a separator or is empty.
    FileExistsError
        If ``path`` exists and ``overwrite`` is false, is one of ``inputs``, or
        is no regular file (a pipe, a device).
    PermissionError
        If nothing can be written in its folder.
    OSError
        If its file name is longer than 255 bytes.

    Examples
    --------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> check_output(os.path.join(folder, "model.vsk")).endswith("model.vsk")
    True
    >>> check_output(folder)
    Traceback (most recent call last):
    ...
    IsADirectoryError: ... is a folder; give the name of a file to write
    """
    path = os.fspath(path)
    if not path or path.endswith((os.sep, "/")):
        # "models/" would be written as a file named models, after the work
        raise IsADirectoryError(
            f"{path!r} names a folder; give the name of a file to write"
        )
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        what = "is a file, not a folder" if os.path.exists(folder) else "does not exist"
        raise FileNotFoundError(f"{path}: the folder {folder} {what}")
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path} is a folder; give the name of a file to write")
    if len(os.fsencode(os.path.basename(path))) > _NAME_MAX:
        # else refused by the file system at the end, after the work
        raise OSError(
            f"{path}: a file name longer than {_NAME_MAX} bytes; give a shorter one"
        )
    if os.path.exists(path) and not os.path.isfile(path):
        # the write renames a new file over it: a pipe or a device (even
        # /dev/null, as root) would be replaced by a file
        raise FileExistsError(
            f"{path} is no regular file (a pipe or a device), and writing would "
            "replace it; give the name of a file to write"
        )
    # a link to nothing exists too: the write at the end refuses it, so it is
    # refused here, before the work
    if os.path.lexists(path) and not overwrite:
        raise _exists(path)
    if os.path.isfile(path):
        for source in inputs:
            if _reads(source, path):
                raise FileExistsError(
                    f"{path} is read by this run ({os.fspath(source)}): writing "
                    "there would destroy it; give another output"
                )
    # a file made and removed: the permission bits do not tell (a read-only
    # mount, an immutable folder, root)
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise PermissionError(f"{path}: cannot write in {folder} ({err})") from err
    return path


#: The longest file name (bytes) of the common file systems (ext4, NTFS, APFS).
_NAME_MAX = 255


def _reads(source: str | os.PathLike, path: str) -> bool:
    """Whether the existing file ``path`` is ``source`` or a recording (or
    PhysioNet label file) that the folder ``source`` holds."""
    if os.path.isdir(source):
        # as the reader walks it, through links (a linked label folder, a
        # linked recording), and as the links lead
        inside = any(
            _within(where(source), where(path))
            for where in (os.path.abspath, os.path.realpath)
        )
        # its recordings, and a PhysioNet folder's label file
        name = os.path.basename(path)
        read = os.path.splitext(name)[1].lower() in AUDIO_SUFFIXES
        return inside and (read or name.lower() == "reference.csv")
    return os.path.exists(source) and os.path.samefile(source, path)


def _within(folder: str, path: str) -> bool:
    try:
        return os.path.commonpath([folder, path]) == folder
    except ValueError:  # on another drive
        return False


def _exists(path: str) -> FileExistsError:
    return FileExistsError(f"{path} exists; choose another name or pass overwrite=True")


def _appeared(path: str) -> FileExistsError:
    # "exists" alone reads as a check this run skipped: it was made meanwhile
    return FileExistsError(
        f"{path} was made while this run worked (another run?) and is kept; "
        "nothing was written: choose another name or pass overwrite=True"
    )


@contextlib.contextmanager
def replacing(path: str, overwrite: bool = True) -> Iterator[str]:
    """Yield a new name beside ``path`` to write to, renamed to ``path`` when
    the block ends and removed if it fails: a run that stops part-way leaves
    no truncated file under ``path``, and the name is fresh, so no file of
    the user's is written over on the way. Without ``overwrite``, a file that
    appeared at ``path`` while the block ran (another run, the user) is kept
    and :class:`FileExistsError` raised: the check before the work cannot
    see it."""
    folder, name = os.path.split(path)
    suffix = f".{uuid.uuid4().hex[:12]}.partial"
    # a name near the file system's limit (255 bytes) has no room for the
    # suffix: the write failed after the work, naming a file never given
    tmp = os.path.join(
        folder, os.fsdecode(os.fsencode(name)[: 255 - len(suffix)]) + suffix
    )
    try:
        yield tmp
        if overwrite:
            os.replace(tmp, path)
        else:
            _publish(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def _publish(tmp: str, path: str) -> None:
    """Give ``tmp`` the name ``path`` only if no file has it, in one step."""
    try:
        os.link(tmp, path)  # fails, atomically, where path exists
    except FileExistsError:
        raise _appeared(path) from None
    except OSError:  # a file system without hard links
        if os.path.lexists(path):
            raise _appeared(path) from None
        os.replace(tmp, path)
        return
    os.remove(tmp)


def spreadsheet_text(value: Any) -> Any:
    """``value`` with a ``'`` before it where it is text that a spreadsheet
    would read as a formula (it starts with one of :data:`FORMULA_START`),
    as OWASP advises; other values as they are.

    Parameters
    ----------
    value : object

    Returns
    -------
    value : object

    Examples
    --------
    >>> spreadsheet_text("=1+1.wav"), spreadsheet_text("a.wav"), spreadsheet_text(3)
    ("'=1+1.wav", 'a.wav', 3)
    >>> spreadsheet_text("-1"), spreadsheet_text("-1+2")
    ('-1', "'-1+2")
    """
    if isinstance(value, str) and value.startswith(FORMULA_START):
        try:
            float(value)  # a number (a label -1) is no formula: kept readable
        except ValueError:
            return "'" + value
    return value


class _NewlineRecords:
    """A text file written one CSV record at a time, each ended by ``\\n``.

    The writer is given ``\\r\\n`` as its line end so that it quotes a
    field holding a lone ``\\r`` (a POSIX file name may): with ``\\n`` it
    quotes only fields holding ``\\n`` (Python 3.11), and the ``\\r``
    ends the row for every reader.
    """

    def __init__(self, out: IO[str]) -> None:
        self.out = out

    def write(self, record: str) -> int:
        return self.out.write(record.removesuffix("\r\n") + "\n")


class TableWriter:
    """A CSV writer of rows (dicts) for the tables ``predict`` and ``score``
    write, with :class:`csv.DictWriter`'s ``writeheader()`` and
    ``writerows(rows)``: lines end in ``\\n``, a field holding a delimiter,
    quote or line break is quoted (a lone ``\\r`` too), and text a
    spreadsheet would run as a formula is written after a ``'``
    (:func:`spreadsheet_text`).

    Parameters
    ----------
    out : text file
    fieldnames : sequence of str
        The columns, in order.
    """

    def __init__(self, out: IO[str], fieldnames: Sequence[str]) -> None:
        self._writer = csv.DictWriter(
            _NewlineRecords(out), fieldnames=fieldnames, lineterminator="\r\n"
        )

    def writeheader(self) -> None:
        self._writer.writeheader()

    def writerows(self, rows: Iterable[Mapping[str, Any]]) -> None:
        self._writer.writerows(
            {key: spreadsheet_text(value) for key, value in row.items()} for row in rows
        )
