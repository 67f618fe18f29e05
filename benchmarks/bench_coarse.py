"""When the converter speaks louder than the vessel: the ``coarse`` flag's evidence.

A recording made with too little gain for its converter holds the converter's
rounding noise close under its sound. Screening flags it ``coarse`` when that
noise lies less than ``COARSE_LIMIT_DB`` below the sound in the 1 kHz band
(:func:`vascular_sklearn.recorder.rounding_snr_db`). This benchmark measures,
on the confounded simulator where the truth is known, how far the default's
answers move on either side of that line, and what the flag changes in
training on both real corpora (``bench_device_audit`` counts the flagged
recordings, with no model).
"""

from __future__ import annotations

import sys

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import (
    GroupKFold,
    LeaveOneGroupOut,
    StratifiedKFold,
    cross_val_predict,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from vascular_sklearn import make_stenosis_pipeline
from vascular_sklearn.containers import Signals
from vascular_sklearn.datasets import load_physionet2016, load_recordings
from vascular_sklearn.evaluation import (
    check_group_split,
    device_properties,
    evaluate_by_patient,
)
from vascular_sklearn.recorder import (
    LEVEL,
    QUIET_SESSION,
    Recorder,
    converter_step,
    quantise,
)
from vascular_sklearn.screening import COARSE_LIMIT_DB

from .baselines import band_shares
from .bench_confound import N_TEST, N_TRAIN, SEEDS, _data
from .bench_heart_sounds import CYCLES_PER_EPOCH, EPOCHS, _network
from .bench_real_data import default_pipeline
from .common import PHYSIONET_DIR, SEED_DIR

_NOTES: list[str] = []

TITLE = "Coarse recordings: when the converter's rounding noise reaches the sound"
#: Gains of the simulated coarse converter: from as quiet as the quietest
#: simulated session to well above the flag's line.
GAINS = (0.005, 0.01, 0.02, 0.04, 0.08, 0.16)
#: The coarse converter's step in 16-bit levels (the seed recorder's is 33).
STEP = 32.0
#: Seeds of the heart-sound runs (each about 6.5 minutes on 2 cores).
HEART_SEEDS = (0, 1, 2)
#: Seeds of the seed-recording runs (each about 6 minutes on 2 cores).
SEED_SEEDS = (0, 1, 2)
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
    "against their loud recording, split by the flag. Under the table: a "
    "band-power model inside training-e (the device audit of the real files, "
    "which flags training-e's coarse recordings, is bench_device_audit)."
)


def _snr(signals) -> np.ndarray:
    return device_properties(signals)["rounding_snr_db"]


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


def _at_resolution(signals, snr_db: float):
    """Every recording rounded to the step whose rounding noise lies ``snr_db``
    below its power, as the harmonizer's ``step_snr_db`` does."""
    return Signals.from_arrays(
        [
            quantise(x, np.std(x) * np.sqrt(12) * 10 ** (-snr_db / 20) / LEVEL)
            for x in signals.data
        ],
        signals.sample_rate,
    )


def _inside_training_e() -> str:
    """Is the converter step all that tells training-e's classes apart?"""
    heart = load_physionet2016(PHYSIONET_DIR / "training-e")
    signals, y = heart.recordings.load(), heart.target
    model = make_pipeline(
        StandardScaler(), LogisticRegression(class_weight="balanced", max_iter=2000)
    )
    cv = StratifiedKFold(5, shuffle=True, random_state=0)

    def auc(features, labels) -> str:
        p = cross_val_predict(model, features, labels, cv=cv, method="predict_proba")
        return f"{roc_auc_score(labels, p[:, 1]):.3f}"

    fine = np.array([converter_step(x) / LEVEL <= 2 for x in signals.data])
    cells = {"as stored": auc(band_shares(signals), y)}
    for snr in (40, 30, 20):
        at = _at_resolution(signals, snr)
        cells[f"every recording at a rounding SNR of {snr} dB"] = auc(
            band_shares(at), y
        )
    cells[
        f"the {fine.sum()} recordings on the 16-bit grid (step 1-2 levels; "
        f"{int(y[fine].sum())} abnormal)"
    ] = auc(band_shares(signals)[fine], y[fine])
    return "\n".join(
        [
            "Inside training-e, is the converter all that tells the classes "
            "apart? Band-power logistic regression (log share of power in "
            "100 Hz bands, StandardScaler, C=1, balanced class weights; "
            "stratified 5-fold within training-e by recording, shuffled with "
            "random_state=0, out-of-fold ROC AUC; optimistic: no subject ids "
            "are published, so one subject's recordings can sit on both sides "
            "of a fold):",
            "",
            "| training-e recordings | band-power AUC |",
            "|---|---|",
            *(f"| {name} | {value} |" for name, value in cells.items()),
        ]
    )


def _without_coarse(
    X, y, coarse, groups, splits, network, seeds, sites=None
) -> list[str]:
    """Table rows: ``network(seed)`` trained on every recording and with the
    ``coarse`` ones weighed 0 (``classifier__sample_weight``; ``groups`` passed to
    it too), every recording scored out of fold; pooled AUC, with ``sites`` the
    mean of the AUCs within sites and each site's, then specificity and
    sensitivity; mean over seeds, range in brackets."""
    runs = {"every recording": None, "coarse ones weighed 0": (~coarse).astype(float)}
    names = [] if sites is None else np.unique(sites)
    lines = [
        "| trained on | pooled AUC | "
        + ("AUC within sites | " if sites is not None else "")
        + "".join(f"{g} | " for g in names)
        + "specificity | sensitivity |",
        "|---|---|" + "---|" * (len(names) + 2 + (sites is not None)),
    ]
    for name, weight in runs.items():
        cells = []
        for seed in seeds:
            result = evaluate_by_patient(
                network(seed),
                X,
                y,
                groups,
                cv=splits,
                pass_groups=True,
                params=None
                if weight is None
                else {"classifier__sample_weight": weight},
            )
            p = result.recording_proba
            within = [roc_auc_score(y[sites == g], p[sites == g]) for g in names]
            cells.append(
                [
                    roc_auc_score(y, p),
                    *([np.mean(within)] if sites is not None else []),
                    *within,
                    np.mean(p[y == 0] < 0.5),
                    np.mean(p[y == 1] >= 0.5),
                ]
            )
            print(f"  {name}, seed {seed}: {np.round(cells[-1], 3)}", file=sys.stderr)
        cells = np.array(cells)
        lines.append(
            f"| {name} | "
            + " | ".join(
                f"{m:.2f} [{lo:.2f}, {hi:.2f}]"
                for m, lo, hi in zip(
                    cells.mean(0), cells.min(0), cells.max(0), strict=True
                )
            )
            + " |"
        )
    return lines


def _heart_sounds_without_coarse() -> str:
    """Leave-one-database-out on PhysioNet 2016 with the recordings flagged
    coarse weighed 0 in training, beside the same network trained on every
    recording, per seed."""
    heart = load_physionet2016(PHYSIONET_DIR)
    X, y = heart.recordings.load(n_jobs=2), heart.target
    sites = np.array([f"training-{g}" for g in heart.groups])
    coarse = _snr(X) < COARSE_LIMIT_DB
    return "\n".join(
        [
            "Heart sounds, leave-one-database-out: the coarse recordings left out "
            "of training. ResNet18, the default pipeline at bench_heart_sounds' "
            f"budget ({EPOCHS} epochs of {CYCLES_PER_EPOCH} cycles per recording), "
            f"seeds {HEART_SEEDS}, trained on the five other databases with every "
            f"recording or with the {coarse.sum()} flagged coarse (all in training-e, "
            "all normal) weighed 0 (classifier__sample_weight); every recording "
            "scored. Pooled ROC AUC, the mean of the six AUCs within databases, and "
            "each database's AUC; mean over seeds, range in brackets.",
            "",
            *_without_coarse(
                X,
                y,
                coarse,
                sites,
                list(LeaveOneGroupOut().split(X, y, sites)),
                lambda seed: _network("resnet18", random_state=seed),
                HEART_SEEDS,
                sites,
            ),
        ]
    )


def _seed_without_coarse() -> str:
    """The seed recordings through GroupKFold(5) by patient, the default
    trained with and without the recordings flagged coarse, per seed."""
    data = load_recordings(SEED_DIR)
    X, y, patients = data.recordings, data.target, data.groups
    flagged = _snr(X) < COARSE_LIMIT_DB
    splits = check_group_split(GroupKFold(5), X, y, patients)
    return "\n".join(
        [
            "Seed recordings, GroupKFold(5) by patient (the seed section's splits): "
            "the coarse recordings left out of training. The default pipeline "
            "(bench_real_data.default_pipeline), seeds "
            f"{SEED_SEEDS}, trained with every recording or with the "
            f"{flagged.sum()} flagged coarse ({y[flagged].sum()} stenotic) weighed "
            "0; every recording scored. Mean over seeds, range in brackets.",
            "",
            *_without_coarse(
                X, y, flagged, patients, splits, default_pipeline, SEED_SEEDS
            ),
        ]
    )


def run() -> list[dict]:
    _NOTES.clear()
    rows = _simulated()
    _NOTES.append(_inside_training_e())
    _NOTES.append(_heart_sounds_without_coarse())
    _NOTES.append(_seed_without_coarse())
    return rows


def notes() -> str:
    return "\n\n".join(_NOTES)


if __name__ == "__main__":  # exploration: python -m benchmarks.bench_coarse
    for row in run():
        print(row)
