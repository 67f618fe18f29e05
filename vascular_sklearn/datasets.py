"""Recordings: the original folder layout from disk, and synthetic look-alikes."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Literal

import numpy as np
from sklearn.utils import Bunch, check_random_state

from .audio import read_recording
from .containers import Signals, object_array
from .corpus import TARGET_NAMES, RecordingFiles
from .recorder import LOUD_SESSION, QUIET_SESSION, Recorder, RecorderRanges

__all__ = ["load_recordings", "make_recordings", "read_recording"]

_LABEL_FOLDERS = {"normal": 0, "abnormal": 1}


def patient_id(filename: str) -> str:
    """The patient id of a seed-layout file name: its text before the first "_".

    Examples
    --------
    >>> patient_id("10_7_before(1)(stenosis).WAV")
    '10'
    """
    return Path(filename).name.split("_", 1)[0]


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
        Folder holding ``normal/`` (label 0) and ``abnormal/`` (label 1) audio files.
    sample_rate : float or None, default=None
        Rate of the returned recordings; ``None`` takes the first file's rate.
    channels : {"mean", "error"}, default="mean"
        Mix multi-channel files to mono, or refuse them.
    resample : bool, default=True
        Resample files at another rate, or refuse them.
    lazy : bool, default=False
        Read nothing now: ``recordings`` are
        :class:`~vascular_sklearn.corpus.RecordingFiles`, which the pipeline's
        first step reads file by file (a corpus larger than memory, or an
        evaluation that should not hold every recording at once).

    Returns
    -------
    data : Bunch
        ``recordings`` (:class:`~vascular_sklearn.Signals`, named by path relative
        to ``path``), ``target`` (0 normal, 1 stenosis), ``groups`` (patient id:
        the file name's text before the first underscore), ``filenames``,
        ``sample_rate``, ``target_names``, ``DESCR``.

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
    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(f"no folder at {root}")
    files, labels = [], []
    for folder, label in _LABEL_FOLDERS.items():
        sub = root / folder
        found = sorted(p for p in sub.glob("*") if p.is_file()) if sub.is_dir() else []
        files += found
        labels += [label] * len(found)
    if not files:
        raise FileNotFoundError(
            f"{root} holds no recordings: expected audio files in {root / 'normal'} "
            f"and {root / 'abnormal'}"
        )
    names = [p.relative_to(root).as_posix() for p in files]
    if lazy:

        recordings = RecordingFiles.from_paths(files, sample_rate)
        recordings = replace(recordings, names=np.asarray(names, dtype=object))
        return _bunch(root, recordings, files, labels)
    arrays = []
    for f in files:
        x, rate = read_recording(f, sample_rate, channels, resample)
        sample_rate = rate if sample_rate is None else sample_rate
        arrays.append(x)
    recordings = Signals.from_arrays(arrays, sample_rate, names=names)
    return _bunch(root, recordings, files, labels)


def _bunch(root: Path, recordings, files: list[Path], labels: list[int]) -> Bunch:
    return Bunch(
        recordings=recordings,
        target=np.array(labels),
        groups=np.array([patient_id(p.name) for p in files]),
        filenames=np.array([str(p) for p in files]),
        sample_rate=float(recordings.sample_rate),
        target_names=TARGET_NAMES,
        DESCR=f"{len(files)} recordings from {root} (normal/ = 0, abnormal/ = 1).",
    )


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
    n = int(duration * rate)
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
    pools = tuple(recorder)
    if len(pools) != 2 or not all(isinstance(r, RecorderRanges) for r in pools):
        raise ValueError("recorder pools must be two RecorderRanges")
    return pools


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
    data: both classes (before and after angioplasty), normal only, stenosis
    only.

    Each recording is one session of a recording device. By default
    (``recorder=None``) the device only sets the gain, 0.1 to 0.8 of full scale,
    independently of the class, so loudness says nothing. A
    :class:`~vascular_sklearn.recorder.Recorder` records every session alike;
    a :class:`~vascular_sklearn.recorder.RecorderRanges` draws each session's
    device from its ranges. ``recorder="sessions"`` or a pair of ranges
    ``(normal_like, stenosis_like)`` defines two kinds of session (by default
    :data:`~vascular_sklearn.recorder.LOUD_SESSION` and the quiet, coarse, dull
    :data:`~vascular_sklearn.recorder.QUIET_SESSION`), and ``confound`` says
    how strongly the kind goes with the label: each session follows its label
    with probability ``confound`` and is a coin flip otherwise. ``confound=0``
    makes the device independent of the label; ``confound=1`` records every
    stenosis quietly, as most stenosis-only seed patients were.

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
        Range of the patients' heart rates in beats per minute.
    beat_variability : float in [0, 0.15], default=0.0
        Extra beat-to-beat variability: the relative standard deviation of the
        interval between beats grows from the built-in 0.04 of sinus rhythm to
        ``hypot(0.04, beat_variability)``.
    ectopic_rate : float in [0, 0.5], default=0.0
        Probability that a beat comes early, at 0.6 to 0.7 of its interval,
        followed by a compensatory pause that puts the next beat back on time
        (never two early beats in a row). ``beat_times`` holds the beats where
        they happen.
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
