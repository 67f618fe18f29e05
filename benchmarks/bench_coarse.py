"""When the converter speaks louder than the vessel: the ``coarse`` flag's evidence.

A recording made with too little gain for its converter holds the converter's
rounding noise close under its sound. Screening flags it ``coarse`` when that
noise lies less than ``COARSE_LIMIT_DB`` below the sound in the 1 kHz band
(:func:`vascular_sklearn.recorder.rounding_snr_db`). This benchmark measures,
on the confounded simulator where the truth is known, how far the default's
answers move on either side of that line, and counts the flagged recordings
of both real corpora (no model: a property of the files).
"""

from __future__ import annotations

import sys

import numpy as np

from vascular_sklearn import make_stenosis_pipeline
from vascular_sklearn.datasets import load_physionet2016, load_recordings
from vascular_sklearn.evaluation import rescaled
from vascular_sklearn.recorder import QUIET_SESSION, Recorder, rounding_snr_db
from vascular_sklearn.screening import COARSE_LIMIT_DB

from .bench_confound import N_TEST, N_TRAIN, SEEDS, _data
from .bench_real_data import QUIET_LEVELS, quantisation
from .common import PHYSIONET_DIR, SEED_DIR

TITLE = "Coarse recordings: when the converter's rounding noise reaches the sound"
#: Gains of the simulated coarse converter: from as quiet as the quietest
#: simulated session to well above the flag's line.
GAINS = (0.005, 0.01, 0.02, 0.04, 0.08, 0.16)
#: The coarse converter's step in 16-bit levels (the seed recorder's is 33).
STEP = 32.0
#: The reference recording of every test vessel: a 16-bit converter, half scale.
REFERENCE = Recorder(gain=0.5, step=1.0)

DESCRIPTION = (
    "Rounding SNR: a recording's power over its converter's rounding noise "
    "(step**2 / 12) in the 1 kHz band the pipeline keeps "
    "(vascular_sklearn.recorder.rounding_snr_db, step read from the sample "
    f"values); screening flags a scored recording 'coarse' under "
    f"{COARSE_LIMIT_DB:g} dB (screening.COARSE_LIMIT_DB), where the rounding "
    "noise reaches the floor the default's harmonizer and image bring every "
    "recording to (40 dB below its power per kHz). Simulated rows: the default "
    f"pipeline, make_stenosis_pipeline(random_state=seed, device='cpu'), seeds "
    f"{SEEDS}, trained on the confounded simulator's training patients "
    f"(bench_confound: {N_TRAIN} patients, random_state=1, confound=0.8), scores "
    f"the {N_TEST} test patients' 32 vessels (random_state=2) recorded through "
    "a 16-bit converter at gain 0.5 (the reference) and again through one "
    f"coarse converter (step {STEP:g} 16-bit levels, flat microphone) at each "
    "gain; shift: |p(coarse) - p(reference)| per recording, median and max, "
    "and answers that change side of 0.5 (flips), means over seeds. Quiet "
    "session rows: the test vessels first recorded loud (bench_confound's "
    "quiet-recorder audit set) recorded again through QUIET_SESSION (quiet "
    "gain, the same kind of coarse converter, a duller microphone), shift "
    "against their loud recording, split by the flag. Real rows (no model): "
    "the 49 seed recordings by label, the seed audit's quiet recorder (the 39 "
    f"loud recordings, {QUIET_LEVELS} levels or more, x0.1 on the recorder's "
    "level spacing, as bench_real_data), and the 1699 PhysioNet 2016 "
    "recordings (2 kHz: all rounding noise in the band) by database."
)


def _snr(signals) -> np.ndarray:
    return np.array([rounding_snr_db(x, signals.sample_rate) for x in signals.data])


def _row(source: str, subset: str, snr: np.ndarray, shifts=None, flips=None) -> dict:
    flagged = snr < COARSE_LIMIT_DB
    row = {
        "recordings": source,
        "subset": subset,
        "n": len(snr),
        "rounding SNR, dB: median [range]": f"{np.median(snr):.1f} "
        f"[{snr.min():.1f}, {snr.max():.1f}]",
        "flagged coarse": f"{flagged.sum()} ({100 * flagged.mean():.0f} %)",
        "shift median": "",
        "shift max": "",
        "flips": "",
    }
    if shifts is not None:
        row["shift median"] = f"{np.mean([np.median(s) for s in shifts]):.3f}"
        row["shift max"] = f"{np.mean([np.max(s) for s in shifts]):.3f}"
        row["flips"] = f"{np.mean(flips):.1f}"
    return row


def _simulated() -> list[dict]:
    train = _data(0.8, 1, N_TRAIN)
    test = _data(0.0, 2, N_TEST)
    loud = test.session_kind == 0
    sets = {"16-bit, gain 0.5 (reference)": _data(None, 2, N_TEST, REFERENCE)}
    sets |= {
        f"step {STEP:g}, gain {g:g}": _data(None, 2, N_TEST, Recorder(g, STEP))
        for g in GAINS
    }
    quiet = _data(None, 2, N_TEST, recorder=QUIET_SESSION)
    quiet_snr = _snr(quiet.recordings)[loud]
    parts = {"flagged": quiet_snr < COARSE_LIMIT_DB}
    parts["not flagged"] = ~parts["flagged"]
    shifts, flips = {}, {}
    for seed in SEEDS:
        model = make_stenosis_pipeline(random_state=seed, device="cpu")
        model.fit(train.recordings, train.target)
        p = {name: model.predict_proba(d.recordings)[:, 1] for name, d in sets.items()}
        reference = p[next(iter(sets))]
        for name in list(sets)[1:]:
            shifts.setdefault(name, []).append(np.abs(p[name] - reference))
            flips.setdefault(name, []).append(_flips(p[name], reference))
        original = model.predict_proba(test.recordings)[:, 1][loud]
        again = model.predict_proba(quiet.recordings)[:, 1][loud]
        for part, mask in parts.items():
            if mask.any():
                shifts.setdefault(part, []).append(np.abs(again - original)[mask])
                flips.setdefault(part, []).append(_flips(again[mask], original[mask]))
        print(f"  seed {seed} done", file=sys.stderr, flush=True)
    rows = [
        _row(
            "simulated vessels",
            name,
            _snr(d.recordings),
            shifts.get(name),
            flips.get(name),
        )
        for name, d in sets.items()
    ]
    rows += [
        _row(
            "simulated quiet session",
            part,
            quiet_snr[mask],
            shifts.get(part),
            flips.get(part),
        )
        for part, mask in parts.items()
        if mask.any()
    ]
    return rows


def _flips(p: np.ndarray, reference: np.ndarray) -> int:
    return int(np.sum((p >= 0.5) != (reference >= 0.5)))


def _real() -> list[dict]:
    seed = load_recordings(SEED_DIR)
    snr = _snr(seed.recordings)
    rows = [
        _row("seed recordings", name, snr[seed.target == k])
        for k, name in enumerate(seed.target_names)
    ]
    step, levels = quantisation(seed.recordings)
    loud = seed.recordings[levels >= QUIET_LEVELS]
    rows.append(
        _row(
            "seed audit: quiet recorder",
            "x0.1 on the recorder's spacing",
            _snr(rescaled(loud, 0.1, step=step)),
        )
    )
    heart = load_physionet2016(PHYSIONET_DIR)
    snr = _snr(heart.recordings.load())
    rows += [
        _row("PhysioNet 2016", f"training-{site}", snr[heart.groups == site])
        for site in np.unique(heart.groups)
    ]
    return rows


def run() -> list[dict]:
    return _simulated() + _real()


if __name__ == "__main__":  # exploration: python -m benchmarks.bench_coarse
    for row in run():
        print(row)
