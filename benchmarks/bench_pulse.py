"""Is there a pulse at all? The ``no_pulse`` flag's line, on noise and on real sounds.

Any cutter cuts a stationary noise (a microphone off the access, an unplugged
lead, mains hum) into "cycles", and the network answers on them. Screening
flags a recording ``no_pulse`` when its loudness swings less than
``PULSE_LIMIT_DB`` with the heartbeat
(:func:`vascular_sklearn.cycle_quality.pulse_db`). This benchmark measures the
swing of stationary noises, of simulated vessels (also buried in noise), and of
both real corpora (no model: a property of the files), and what the measure
costs beside the signal chain.
"""

from __future__ import annotations

import time

import numpy as np
from scipy.signal import butter, sosfilt

from vascular_sklearn import LowpassFilter, make_stenosis_pipeline
from vascular_sklearn.containers import Signals
from vascular_sklearn.cycle_quality import PULSE_LIMIT_DB, pulse_db
from vascular_sklearn.datasets import (
    load_physionet2016,
    load_recordings,
    make_recordings,
)

from .common import PHYSIONET_DIR, SEED_DIR, best_time

RATE, SECONDS, DRAWS = 22050.0, 20.0, 10
#: The simulated vessels' sound over the white noise added to it (dB, 25-1000 Hz).
BURIED_DB = (20, 10, 0, -5, -10)

TITLE = "No pulse: stationary noise against beating sounds"
DESCRIPTION = (
    "pulse_db: the standard deviation, over swings of 0.3-8 Hz, of the "
    "loudness envelope (dB in 20 ms frames of the sound above 25 Hz) of each "
    "recording after the default LowpassFilter (what CycleBags.quality() "
    f"reports); screening flags a recording no_pulse under {PULSE_LIMIT_DB:g} dB "
    "(PULSE_LIMIT_DB). Noises: "
    f"{DRAWS} draws of {SECONDS:g} s at {RATE:g} Hz each (white; pink, 1/f; "
    "brown, 1/f^2; 50 Hz mains hum over white noise 26 dB down; hum over pink "
    "noise 10 dB down; white at 2 kHz), scaled to 0.1 RMS. Simulated vessels: "
    "make_recordings(random_state=0) (32 recordings of 20 s, 50-110 bpm); 16 "
    "others (make_recordings(n_patients=4, random_state=1)) at 35-45 and "
    "150-180 bpm and with beat_variability=0.15 (irregular rhythm); "
    "and the 32 recordings with white noise added, their sound (25-1000 Hz, "
    "what pulse_db hears) 20 dB over it to 10 dB under it. Real: the 49 seed "
    "recordings and the 1699 PhysioNet/CinC 2016 heart sounds by database. Cycles: the "
    "default pipeline's lowpass, smoother and cutter on the noises, the "
    "cycles it cuts per recording (median; it scores at most 16). Cost: seconds per "
    "recording of pulse_db against the default chain up to the cutter "
    "(lowpass, smoother, cutter), on the 49 seed recordings, best of 3, "
    "same run."
)

_NOTES: list[str] = []


def _colored(rng, n: int, alpha: float) -> np.ndarray:
    """Noise whose power falls as 1 / f**alpha, at unit RMS."""
    spectrum = np.fft.rfft(rng.normal(size=n))
    f = np.arange(len(spectrum), dtype=float)
    f[0] = 1.0
    x = np.fft.irfft(spectrum / f ** (alpha / 2), n)
    return x / x.std()


def _noises(rng) -> dict[str, Signals]:
    n = int(RATE * SECONDS)
    hum = np.sin(2 * np.pi * 50.0 * np.arange(n) / RATE) * np.sqrt(2)
    kinds = {
        "white": lambda: rng.normal(size=n),
        "pink (1/f)": lambda: _colored(rng, n, 1.0),
        "brown (1/f^2)": lambda: _colored(rng, n, 2.0),
        "mains hum + white": lambda: hum + 0.05 * rng.normal(size=n),
        "mains hum + pink": lambda: hum + 0.3 * _colored(rng, n, 1.0),
    }
    out = {
        k: Signals.from_arrays([0.1 * make() for _ in range(DRAWS)], RATE)
        for k, make in kinds.items()
    }
    out["white, 2 kHz"] = Signals.from_arrays(
        [0.1 * rng.normal(size=int(2000 * SECONDS)) for _ in range(DRAWS)], 2000.0
    )
    return out


def _buried(data, db: float, rng) -> Signals:
    """The recordings with white noise ``db`` dB under their sound in 25-1000 Hz."""
    rate = data.sample_rate
    highpass = butter(2, 25.0, "high", fs=rate, output="sos")
    lowpassed = LowpassFilter().fit_transform(data.recordings).data
    out = []
    for x, sound in zip(data.recordings.data, lowpassed, strict=True):
        # white noise of variance v puts v * 975 / (rate / 2) in 25-1000 Hz
        band_share = 975.0 / (rate / 2)
        power = np.var(sosfilt(highpass, sound))
        scale = np.sqrt(power / band_share) * 10 ** (-db / 20)
        out.append(x + scale * rng.normal(size=len(x)).astype(x.dtype))
    return Signals.from_arrays(out, data.sample_rate)


def _swings(X) -> np.ndarray:
    signals = LowpassFilter().fit_transform(X)
    return np.array([pulse_db(x, signals.sample_rate) for x in signals.data])


def _row(sound: str, swing: np.ndarray, cycles=None) -> dict:
    lo, p5, med, hi = np.nanpercentile(swing, [0, 5, 50, 100])
    flagged = int(np.sum(swing < PULSE_LIMIT_DB))
    row = {
        "sound": sound,
        "recordings": len(swing),
        "pulse_db min": f"{lo:.2f}",
        "5th pct.": f"{p5:.2f}",
        "median": f"{med:.2f}",
        "max": f"{hi:.2f}",
        "flagged no_pulse": f"{flagged} ({100 * flagged / len(swing):.0f} %)",
    }
    if cycles is not None:
        row["cycles cut per recording"] = f"{np.median(cycles):.0f}"
    return row


def _cost(seed) -> str:
    chain = make_stenosis_pipeline()[:3]
    start = time.perf_counter()
    chain_s, _ = best_time(lambda: chain.fit_transform(seed.recordings))
    signals = LowpassFilter().fit_transform(seed.recordings)
    pulse_s, _ = best_time(
        lambda: [pulse_db(x, signals.sample_rate) for x in signals.data]
    )
    n, total = len(seed.target), time.perf_counter() - start
    return (
        f"Cost on the 49 seed recordings (best of 3): pulse_db {1e3 * pulse_s / n:.1f}"
        f" ms per recording, the chain to the cutter {1e3 * chain_s / n:.0f} ms: "
        f"{pulse_s / chain_s:.3f} of the chain's time ({total:.0f} s in all)."
    )


def run() -> list[dict]:
    _NOTES.clear()
    rng = np.random.default_rng(0)
    rows = []
    cutter = make_stenosis_pipeline()[:3]
    for name, signals in _noises(rng).items():
        cycles = cutter.fit_transform(signals).n_cycles
        rows.append(_row(f"noise: {name}", _swings(signals), cycles))
    vessels = make_recordings(random_state=0)
    rows.append(_row("simulated vessels, 50-110 bpm", _swings(vessels.recordings)))
    for label, params in (
        ("35-45 bpm", {"heart_rate": (35.0, 45.0)}),
        ("150-180 bpm", {"heart_rate": (150.0, 180.0)}),
        ("irregular rhythm", {"beat_variability": 0.15}),
    ):
        data = make_recordings(n_patients=4, random_state=1, **params)
        rows.append(_row(f"simulated vessels, {label}", _swings(data.recordings)))
    for db in BURIED_DB:
        buried = _buried(vessels, db, rng)
        rows.append(
            _row(f"simulated vessels, {db:+d} dB over white noise", _swings(buried))
        )
    seed = load_recordings(SEED_DIR)
    seed_swing = _swings(seed.recordings)
    rows.append(_row("seed recordings (vascular access)", seed_swing))
    heart = load_physionet2016(PHYSIONET_DIR)
    heart_swing = _swings(heart.recordings)
    for db in sorted(set(heart.groups)):
        inside = heart.groups == db
        rows.append(_row(f"PhysioNet heart sounds, training-{db}", heart_swing[inside]))
    rows.append(_row("PhysioNet heart sounds, all six", heart_swing))
    flagged = np.flatnonzero(heart_swing < PULSE_LIMIT_DB)
    names = ", ".join(
        f"{heart.filenames[i].split('/')[-1]} "
        f"({'abnormal' if heart.target[i] else 'normal'}, {heart_swing[i]:.2f} dB)"
        for i in flagged
    )
    _NOTES.append(
        f"Heart sounds flagged: {names or 'none'}. Seed recordings: lowest swing "
        f"{np.min(seed_swing):.2f} dB ({seed.recordings.names[np.argmin(seed_swing)]})."
    )
    _NOTES.append(_cost(seed))
    return rows


def notes() -> str:
    return "\n\n".join(_NOTES)
