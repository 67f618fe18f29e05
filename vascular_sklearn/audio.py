"""Reading and resampling audio: the bottom of the package.

The signal steps, the dataset loaders, the corpus and the torch-free screening
runtime all read files through here; this module imports nothing of the package
but its exception type.
"""

from __future__ import annotations

import os
import re
import warnings
from fractions import Fraction
from numbers import Integral
from typing import Literal

import numpy as np
import soundfile as sf
from scipy import signal as sps

from .exceptions import RecordingError, _missing

__all__ = [
    "AUDIO_SUFFIXES",
    "PEAK_LIMIT",
    "check_full_scale",
    "file_sample_rate",
    "read_recording",
    "resample",
]

#: File endings read as audio when a folder is searched (case-insensitive):
#: the formats libsndfile reads that recorders write (Opus is Ogg; CAF is
#: Apple's, W64 and RF64 are WAV past 4 GB, BWF the WAV of field recorders);
#: MP3 where the installed libsndfile reads it (1.1 and later).
AUDIO_SUFFIXES = (
    ".wav",
    ".wave",
    ".bwf",
    ".flac",
    ".ogg",
    ".oga",
    ".opus",
    ".aiff",
    ".aif",
    ".aifc",
    ".caf",
    ".w64",
    ".rf64",
    ".au",
) + ((".mp3",) if "MP3" in sf.available_formats() else ())
#: Endings of sound that libsndfile cannot read (a phone's voice memos are
#: .m4a): files so named in a corpus are said, not passed over unsaid.
UNREADABLE_AUDIO_SUFFIXES = (".m4a", ".aac", ".mp4", ".wma", ".amr", ".3gp", ".webm")
#: Sample rates, in Hz, a sound recorder writes (PhysioNet's heart sounds are at
#: 2 kHz; studio audio stops at 384 kHz). A header outside them is damaged, and
#: obeying it would resample a minute into gigabytes or fail deep in scipy.
RATE_RANGE = (1000.0, 384000.0)
#: The largest magnitude a recording may reach, in full-scale units (±1). A
#: float WAV may pass full scale a little; one far beyond it holds integer PCM
#: stored as float, which the seed chain's filter would clip to a square wave
#: and the network would answer with confidence.
PEAK_LIMIT = 8.0


def check_full_scale(name: str, x: np.ndarray) -> None:
    """Refuse a recording that reaches far beyond full scale.

    Parameters
    ----------
    name : str
        The recording's name, for the message.
    x : ndarray
        Its samples, finite.

    Raises
    ------
    RecordingError
        When a sample's magnitude exceeds :data:`PEAK_LIMIT`.

    Examples
    --------
    >>> import numpy as np
    >>> check_full_scale("a.wav", np.array([0.5, -1.0]))
    >>> try:
    ...     check_full_scale("a.wav", np.array([1200.0, -3000.0]))
    ... except RecordingError as err:
    ...     print(err)  # doctest: +ELLIPSIS
    a.wav: samples reach 3000, far beyond full scale (±1): integer PCM stored ...
    """
    # the extremes, not abs(x): no copy of an hour-long recording per step
    peak = max(float(np.max(x, initial=0.0)), -float(np.min(x, initial=0.0)))
    if peak > PEAK_LIMIT:
        raise RecordingError(
            f"{name}: samples reach {peak:.4g}, far beyond full scale (±1): "
            "integer PCM stored as float? Divide it by 2 ** (bits - 1) (x / 32768 "
            "for 16-bit), as load_recordings does."
        )


def _check_rate(name: str, rate: float) -> float:
    """``rate`` as float, or a :class:`RecordingError` naming ``name`` when it
    lies outside :data:`RATE_RANGE`."""
    low, high = RATE_RANGE
    if not low <= rate <= high:
        raise RecordingError(
            f"{name}: its header gives a sample rate of {rate:g} Hz, outside the "
            f"{low / 1000:g} to {high / 1000:g} kHz of sound recorders; the header "
            "is damaged, or the file was written with a wrong rate: re-export it."
        )
    return float(rate)


def check_read_options(sample_rate: float | None, channels: str = "mean") -> None:
    """Refuse, where they are given, reader options no recording could meet.

    Parameters
    ----------
    sample_rate : float or None
        The rate asked for; ``None`` takes each file's own.
    channels : str, default="mean"
        How multi-channel files are read.

    Raises
    ------
    ValueError
        If ``sample_rate`` is not ``None`` nor a rate within
        :data:`RATE_RANGE`, or ``channels`` is neither ``"mean"`` nor
        ``"error"``.

    Examples
    --------
    >>> check_read_options(8000.0)
    >>> check_read_options(0)
    Traceback (most recent call last):
    ...
    ValueError: sample_rate=0: recordings are read at 1 to 384 kHz (or None: ...)
    """
    low, high = RATE_RANGE
    if sample_rate is not None:
        try:
            ok = bool(low <= sample_rate <= high)  # NaN compares False
        except TypeError:
            ok = False
        if not ok:
            raise ValueError(
                f"sample_rate={sample_rate!r}: recordings are read at "
                f"{low / 1000:g} to {high / 1000:g} kHz (or None: each file's own rate)"
            )
    if channels not in ("mean", "error"):
        raise ValueError(
            f"channels={channels!r}: use 'mean' (mix to mono) or 'error' (refuse "
            "multi-channel files)"
        )


def _check_flag(name: str, value: object) -> None:
    """Refuse a flag that is no bool: a string such as "no" is true, and
    files were resampled against the wish."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}={value!r}: give True or False")


def read_recording(
    path: str | os.PathLike,
    sample_rate: float | None = None,
    channels: Literal["mean", "error"] = "mean",
    resample_to_rate: bool = True,
) -> tuple[np.ndarray, float]:
    """Read one audio file as float32 in full-scale units.

    Integer PCM of any bit depth becomes ``value / 2**(bits - 1)`` (16-bit
    ``int16 / 32768`` as in the original study); float files keep their values.

    Parameters
    ----------
    path : path-like
        Any format libsndfile reads (WAV, FLAC, OGG, ...).
    sample_rate : float or None, default=None
        Rate wanted; ``None`` keeps the file's rate.
    channels : {"mean", "error"}, default="mean"
        Mix multi-channel audio to mono (the mean of the channels that are
        not digital silence: a dead input would halve the level), or refuse
        it.
    resample_to_rate : bool, default=True
        Resample a file at another rate than ``sample_rate``
        (:func:`scipy.signal.resample_poly`), or refuse it.

    Returns
    -------
    x : ndarray of float32, shape (n_samples,)
    rate : float

    Raises
    ------
    RecordingError
        Naming the file: missing, a folder, unreadable, empty, not audio, NaN
        or inf samples, samples beyond :data:`PEAK_LIMIT`, multi-channel with
        ``channels="error"``, channels that cancel in their mean (one the
        other inverted), a header's rate outside :data:`RATE_RANGE`, or a rate
        mismatch.
    ValueError
        If ``sample_rate`` or ``channels`` is invalid.
    TypeError
        If ``resample_to_rate`` is not a bool.

    Warns
    -----
    UserWarning
        A file (WAV, AIFF, AU, W64, RF64, MP3 or Ogg) that ends before the
        audio its header declares (an interrupted copy): the part present is
        returned.

    Examples
    --------
    >>> import tempfile, numpy as np, soundfile as sf
    >>> path = tempfile.mktemp(suffix=".wav")
    >>> sf.write(path, np.array([0, 16384, -32768], np.int16), 22050)
    >>> x, rate = read_recording(path)
    >>> x.tolist(), rate
    ([0.0, 0.5, -1.0], 22050.0)
    """
    check_read_options(sample_rate, channels)
    _check_flag("resample_to_rate", resample_to_rate)
    x, rate, note = _read_with_note(path, sample_rate, channels, resample_to_rate)
    warn_cut_short(path, note, stacklevel=3)
    return x, rate


def warn_cut_short(path: str | os.PathLike, note: str, stacklevel: int = 2) -> None:
    """Warn, naming the file, that it was cut short (``note`` from reading it);
    nothing when ``note`` is empty."""
    if note:
        name = os.fsdecode(path)
        warnings.warn(f"{name}: {note}", UserWarning, stacklevel=stacklevel)


def _read_with_note(
    path: str | os.PathLike,
    sample_rate: float | None = None,
    channels: Literal["mean", "error"] = "mean",
    resample_to_rate: bool = True,
) -> tuple[np.ndarray, float, str]:
    """:func:`read_recording` that returns, rather than warns, a file cut short.

    Readers that report per file (a screening table's row) take the note from
    here: a warning raised in a joblib worker thread or process cannot be
    caught and tied to its file safely. ``note`` is the warning's message
    without the file's name, or ``""``.
    """
    # fsdecode: a bytes path (os.listdir(b".")) as str, named alike in messages
    name = os.fsdecode(path)
    if not os.path.isfile(name):
        raise RecordingError(f"{name}: {_missing(name, 'an audio file')}.")
    size, frames = os.path.getsize(name), 0
    try:
        with sf.SoundFile(_native(name)) as f:
            rate, log, container = f.samplerate, f.extra_info, f.format
            frames = f.frames
            if container == "OGG" or _unbelievable(frames, size):
                # reading "all" of a length no file of this size holds (a FLAC
                # header's sample count overwritten, say) asked numpy for
                # hundreds of GiB; blocks stop where the audio does
                x = _read_blocks(f)
            else:
                # an encoding libsndfile cannot seek in (GSM 6.10) is read by
                # count
                x = f.read(
                    -1 if f.seekable() else frames, dtype="float32", always_2d=True
                )
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as err:
        if _ogg_cut(name):
            raise _ogg_without_audio(name) from err
        if _unbelievable(frames, size):
            # libsndfile's length for a FLAC whose header gives none (0)
            what = (
                "no length"
                if frames >= np.iinfo(np.int64).max
                else f"{frames} samples, more than its {size} bytes can hold"
            )
            raise RecordingError(
                f"{name}: its header declares {what}, and libsndfile fails "
                f"reading it ({err}); convert the file to WAV (sox, ffmpeg) "
                "or copy it again"
            ) from err
        raise RecordingError(
            f"{name}: not a readable audio file ({err}); check that it is a complete "
            "WAV or FLAC recording."
        ) from err
    if x.shape[1] > 1:
        if channels == "error":
            raise _channels_error(name, x.shape[1])
        n_channels, peaks = x.shape[1], np.abs(x).max(axis=0, initial=0.0)
        loudest = peaks.max()
        if 0 < loudest and not peaks.all():
            # a channel of digital silence (an unplugged input of a stereo
            # recorder) halved the level, and the converter step with it
            x = x[:, peaks > 0]
        x = x.mean(axis=1, dtype=np.float32)
        if np.abs(x).max(initial=0.0) < 0.01 * loudest:
            # one channel the other inverted (a balanced or differential
            # input): the mean is silence, not the sound
            raise RecordingError(
                f"{name}: its {n_channels} channels cancel when "
                "averaged to one (one is the other inverted?); save one "
                "channel of it as a mono file"
            )
    else:
        x = x[:, 0]
    ogg_cut = container == "OGG" and _ogg_cut(name)
    if x.size == 0:
        if ogg_cut:
            raise _ogg_without_audio(name)
        if _NO_DATA.search(log) and size > _HEADER_SLACK:
            # a recorder stopped before it wrote the data's size back
            raise RecordingError(
                f"{name}: its header lists no audio samples, yet the file holds "
                f"{size} bytes: a recording stopped before its header was "
                "finished? A repair tool can read it past the header (sox "
                "--ignore-length in.wav out.wav)."
            )
        raise RecordingError(f"{name}: the file holds no audio samples.")
    note, declared = "", _declared_share(log)
    if declared is None and container != "OGG" and len(x) < 0.99 * frames:
        # an MP3's frame count (its Xing header), which no log line contradicts
        declared = frames / len(x)
    # whole samples: a header off by less than one loses nothing
    missing = 0 if declared is None else int(len(x) * (declared - 1) + 1e-6)
    if missing >= 1:
        seconds = len(x) / rate
        note = (
            f"the file ends after {seconds:.2f} s of the "
            f"{seconds * declared:.2f} s its header declares, {missing} "
            "samples short (an interrupted copy or recording); only the part "
            "present is used. Copy the file again if the original is complete."
        )
    elif ogg_cut:
        note = (
            f"the file ends after {len(x) / rate:.2f} s without the end-of-stream "
            "mark an Ogg file closes with (an interrupted copy or recording); "
            "only the part present is used. Copy the file again if the original "
            "is complete."
        )
    if not np.isfinite(x).all():
        raise RecordingError(f"{name}: NaN or infinite samples; repair the file.")
    check_full_scale(name, x)
    x, rate = to_rate(name, x, _check_rate(name, rate), sample_rate, resample_to_rate)
    return np.ascontiguousarray(x, dtype=np.float32), rate, note


def to_rate(
    name: str,
    x: np.ndarray,
    rate: float,
    sample_rate: float | None,
    resample_to_rate: bool = True,
) -> tuple[np.ndarray, float]:
    """``x`` (recorded at ``rate``) at ``sample_rate``, or the refusal naming
    the file ``name`` when it would need resampling and ``resample_to_rate``
    is false. ``None`` keeps ``x`` as it is."""
    if sample_rate is None or rate == sample_rate:
        return x, rate
    if not resample_to_rate:
        raise _rate_error(name, rate, sample_rate)
    return resample(x, rate, sample_rate), float(sample_rate)


def _channels_error(name: str, n_channels: int) -> RecordingError:
    return RecordingError(
        f"{name}: {n_channels} channels; record mono or use channels='mean'."
    )


def _rate_error(name: str, rate: float, sample_rate: float) -> RecordingError:
    return RecordingError(
        f"{name}: recorded at {rate:g} Hz, expected {sample_rate:g} Hz; "
        "resample the file, or read it resampled (resample=True in "
        "load_recordings and LowpassFilter, resample_to_rate=True in "
        "read_recording)."
    )


def check_header(
    path: str | os.PathLike,
    sample_rate: float,
    channels: Literal["mean", "error"] = "mean",
    resample_to_rate: bool = True,
) -> None:
    """Refuse, from its header alone, a file :func:`read_recording` would refuse
    for its channels or its rate, so that a lazy corpus fails when it is listed
    rather than half-way through a fit.

    Parameters
    ----------
    path : path-like
    sample_rate : float
        The rate the file is to be read at.
    channels : {"mean", "error"}, default="mean"
    resample_to_rate : bool, default=True

    Raises
    ------
    RecordingError
        Naming the file and the problem.
    TypeError
        If ``resample_to_rate`` is not a bool.
    """
    _check_flag("resample_to_rate", resample_to_rate)
    name = os.fsdecode(path)
    info = _info(name)
    if info.channels > 1 and channels == "error":
        raise _channels_error(name, info.channels)
    rate = _check_rate(name, info.samplerate)
    if not resample_to_rate and rate != sample_rate:
        raise _rate_error(name, rate, sample_rate)


#: libsndfile's log line for a WAV (``data``), AIFF (``SSND``), AU (``Data
#: Size``) or W64 (``riff``, the whole file) whose sound is not the size its
#: header declares: ``data : <declared bytes> (should be <bytes present>)``.
_DATA_SIZE = re.compile(
    r"^\s*(?:data|SSND|Data Size|riff)\s*:\s*(?P<declared>\d+)\s*"
    r"\(should be (?P<present>\d+)\)",
    re.MULTILINE,
)
#: libsndfile's log line for an RF64 file (a WAV past 4 GB) cut short, whose
#: ``ds64`` chunk declares the frames: ``Calculated frame count <present> does
#: not match value from 'ds64' chunk of <declared>``.
_DS64_FRAMES = re.compile(
    r"Calculated frame count (?P<present>\d+) does not match value from 'ds64' "
    r"chunk of (?P<declared>\d+)"
)
#: The data size a writer that cannot seek back (a pipe, a stream) leaves.
_UNKNOWN_SIZE = 0xFFFFFFFF
#: A data chunk whose header says 0 bytes, and the bytes of header and
#: metadata beyond which a file that reads empty must hold more.
_NO_DATA = re.compile(r"^\s*data\s*:\s*0\s*$", re.MULTILINE)
_HEADER_SLACK = 4096
#: An Ogg page header's bytes before its segment table, and its flag for the
#: stream's last page (RFC 3533).
_OGG_HEADER, _OGG_END = 27, 0x04


def _declared_share(log: str) -> float | None:
    """How many times the audio present a WAV's or AIFF's header declares, where
    libsndfile's log says the file ends early (a copy or recording cut short);
    ``None`` otherwise, and for the unknown size a streaming writer leaves."""
    found = _DATA_SIZE.search(log) or _DS64_FRAMES.search(log)
    if found is None:
        return None
    declared, present = int(found["declared"]), int(found["present"])
    if declared == _UNKNOWN_SIZE or present >= declared:
        return None
    return declared / present


def _read_blocks(f: sf.SoundFile) -> np.ndarray:
    """The samples of the open file ``f`` to its end, a block at a time.

    An Ogg file states no length: for one cut short libsndfile 1.2 reports a
    length of billions of frames, and reading "all" of them asked numpy for
    an array larger than memory.
    """
    blocks = []
    while len(block := f.read(_READ_BLOCK, dtype="float32", always_2d=True)):
        blocks.append(block)
    if not blocks:
        return np.zeros((0, f.channels), np.float32)
    return np.concatenate(blocks) if len(blocks) > 1 else blocks[0]


#: Frames read at a time from a file that states no length (about 6 s at
#: 44.1 kHz).
_READ_BLOCK = 2**18


def _unbelievable(samples: int, size: int) -> bool:
    """Whether a header's count of ``samples`` is more than ``size`` bytes of
    any codec hold (a FLAC of near silence packs a few hundred to the byte)."""
    return samples > 1024 * max(size, 1)


def _ogg_cut(name: str) -> bool:
    """Whether ``name`` is an Ogg file cut short (False where it cannot be
    opened: libsndfile's own error says why)."""
    try:
        with open(name, "rb") as f:
            return f.read(4) == b"OggS" and not _ogg_ended(name)
    except OSError:  # no permission to read it, say
        return False


def _ogg_without_audio(name: str) -> RecordingError:
    """The error for an Ogg file cut short before any audio could be read."""
    return RecordingError(
        f"{name}: the file ends before its first audio (an interrupted copy or "
        "recording); copy it again."
    )


def _ogg_ended(name: str) -> bool:
    """Whether the Ogg file ``name`` closes with a whole end-of-stream page.

    An Ogg file states no length: libsndfile reads the whole pages present
    and stops without a word where a copy was cut, so its pages are walked
    (headers only) to the last, whose header flags the end of the stream.
    """
    size = os.path.getsize(name)
    with open(name, "rb") as f:
        start, header_type = 0, 0
        while start < size:
            f.seek(start)
            head = f.read(_OGG_HEADER)
            if head[:4] != b"OggS":
                # bytes after the last page (padding, a tag): the stream
                # ended where its last whole page says
                return start > 0 and bool(header_type & _OGG_END)
            if len(head) < _OGG_HEADER:
                return False
            segments = f.read(head[26])
            if len(segments) < head[26]:
                return False
            start += _OGG_HEADER + head[26] + sum(segments)
            header_type = head[5]
        return start == size and bool(header_type & _OGG_END)


def _count(value, least: int = 1) -> bool:
    """Whether ``value`` is a whole number (not a bool: True read as 1) of
    ``least`` or more (a window, a batch, a number of threads)."""
    return (
        isinstance(value, Integral) and not isinstance(value, bool) and value >= least
    )


def _finite_above_zero(value) -> bool:
    """Whether ``value`` is a number, finite and above 0 (a rate, a step)."""
    try:
        return bool(np.isfinite(value) and value > 0)
    except TypeError:  # None, text
        return False


def resample(x: np.ndarray, from_rate: float, to_rate: float) -> np.ndarray:
    """Resample a signal between two rates by polyphase filtering.

    The rate ratio is approximated by a fraction with a denominator of at most
    10 000 and applied with :func:`scipy.signal.resample_poly`. The signal is
    continued past its ends by the line through them, not by silence, so an
    offset or a sound under way at either end comes out without a click.

    Parameters
    ----------
    x : ndarray of shape (n_samples,)
        The signal.
    from_rate : float
        Its sample rate in Hz.
    to_rate : float
        The rate wanted in Hz.

    Returns
    -------
    ndarray of float32, shape (about n_samples * to_rate / from_rate,)
        The resampled signal.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(44100) / 44100
    >>> y = resample(np.sin(2 * np.pi * 100 * t), 44100, 22050)
    >>> expected = np.sin(2 * np.pi * 100 * t[::2])
    >>> y.shape, bool(np.allclose(y, expected, atol=1e-2))
    ((22050,), True)
    """
    x = np.asarray(x)
    if x.ndim != 1:
        # resample_poly works along axis 0: rows of recordings came back as
        # more rows, each recording untouched
        raise ValueError(
            f"x has shape {x.shape}: resample takes one recording, a 1-D array "
            "(resample each recording in turn)"
        )
    for name, rate in (("from_rate", from_rate), ("to_rate", to_rate)):
        if not _finite_above_zero(rate):
            raise ValueError(
                f"{name}={rate!r}: give a sample rate in Hz, a finite number above 0"
            )
    # float(): Fraction refuses numpy's floats
    ratio = Fraction(float(to_rate) / float(from_rate)).limit_denominator(10_000)
    # one sample has no line through its ends (scipy divides by len - 1 and
    # returns NaN): its value, held, is the line through it
    padtype = "line" if len(x) > 1 else "edge"
    y = sps.resample_poly(
        np.asarray(x, np.float64), ratio.numerator, ratio.denominator, padtype=padtype
    )
    return y.astype(np.float32)


def file_sample_rate(path: str | os.PathLike) -> float:
    """The sample rate of an audio file, read from its header.

    Parameters
    ----------
    path : path-like

    Returns
    -------
    rate : float

    Raises
    ------
    FileNotFoundError
        When the file is missing.
    RecordingError
        When it is not readable audio, or the header's rate lies outside
        :data:`RATE_RANGE`.

    Examples
    --------
    >>> import tempfile, numpy as np, soundfile as sf
    >>> path = tempfile.mktemp(suffix=".wav")
    >>> sf.write(path, np.zeros(10), 8000)
    >>> file_sample_rate(path)
    8000.0
    """
    name = os.fsdecode(path)  # a bytes path too: _native encodes it back
    if not os.path.exists(name):  # a link to nothing is said to be one
        raise FileNotFoundError(f"{name}: {_missing(name, 'an audio file')}")
    return _check_rate(name, _info(name).samplerate)


def _native(name: str) -> str | bytes:
    """``name`` as soundfile can open it: it encodes a str as UTF-8, so a
    POSIX file name that is no UTF-8 (held in a str as surrogates, as
    ``os.listdir`` gives it) goes as its bytes."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(name)
    return name


def _info(name: str):
    """The header of the audio file ``name`` (``soundfile.info``)."""
    if not os.path.isfile(name):
        raise RecordingError(f"{name}: {_missing(name, 'an audio file')}.")
    try:
        return sf.info(_native(name))
    except (sf.LibsndfileError, RuntimeError) as err:
        raise RecordingError(f"{name}: not a readable audio file ({err})") from err
