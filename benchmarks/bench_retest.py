"""Retest: does one recording's first half get the answer its second half gets?

A clinic that records an access twice should hear the same answer twice. The
closest this repository can come without second recordings is the two halves
of one recording: the same vessel, recorder and placement, other heartbeats.
Their disagreement is a floor under a true retest's (a second recording also
moves the microphone and the session), and it is measured where a model
works (the simulator) and where none does yet (the seed recordings).

Run alone with ``python -m benchmarks.bench_retest`` (prints the rows) or
through ``python -m benchmarks.run --only bench_retest`` (writes the docs).
"""

from __future__ import annotations

import time

import numpy as np
from sklearn.model_selection import GroupKFold

from vascular_sklearn import Signals
from vascular_sklearn.evaluation import (
    check_group_split,
    clinical_report,
    evaluate_by_patient,
)

from . import bench_confound as confound
from . import bench_real_data as seed

#: The simulated test recordings are this long, so that each half is as long
#: as the training recordings (bench_confound's 10 s).
SECONDS = 2 * confound.SECONDS
SEEDS = confound.SEEDS

TITLE = "Retest: the two halves of one recording"
DESCRIPTION = (
    "Each test recording cut in two at its middle sample, and both halves scored "
    "by the model that scored the whole: the same vessel, recorder and placement, "
    "other heartbeats, so their disagreement is a floor under a true retest's (a "
    "second recording also moves the microphone and the session). Simulated: "
    "the default pipeline (make_stenosis_pipeline(random_state=seed, "
    f"device='cpu', classifier__on_empty='prior'), seeds {SEEDS}) and the "
    "baselines trained on bench_confound's "
    f"{confound.N_TRAIN} confounded training patients (random_state=1, confound="
    f"0.8, {confound.SECONDS:g} s recordings), scoring its {confound.N_TEST} test "
    "patients (random_state=2, confound=0) recorded for "
    f"{SECONDS:g} s, so each half is as long as a training recording. Seed: the 49 "
    "recordings, GroupKFold(5) by patient (the seed section's splits), each fold's "
    "model scoring its test recordings and their halves "
    "(evaluate_by_patient's perturbations), the default pipeline as the seed "
    "section runs it (bench_real_data.default_pipeline, random_state=0) and its "
    "baselines (logistic regressions, C chosen inside each training fold). AUC: "
    "pooled recording ROC AUC of the whole recordings, the first halves and the "
    "second halves. Halves apart: |p(first half) - p(second half)| per "
    "recording, median and max; opposite sides: recordings whose halves fall on "
    "either side of 0.5; half vs whole: the median of |p(half) - p(whole)| over "
    "both halves. Network rows: means over seeds, range in brackets. Seconds: "
    "wall time of training and scoring on 2 cores (mean over seeds)."
)


def halves(X: Signals) -> tuple[Signals, Signals]:
    """Each recording's first and second half (at its middle sample), named
    as the recording."""

    def part(which: int) -> Signals:
        cut = [np.array_split(x, 2)[which] for x in X.data]
        return Signals.from_arrays(cut, X.sample_rate, names=X.names)

    return part(0), part(1)


def agreement(y, whole, first, second) -> dict:
    """The columns of one model's run: AUC of each, and how far apart the
    halves' answers lie."""
    apart = np.abs(first - second)
    against = np.abs(np.concatenate([first, second]) - np.tile(whole, 2))
    return {
        "auc": [clinical_report(y, p)["roc_auc"] for p in (whole, first, second)],
        "median": float(np.median(apart)),
        "max": float(apart.max()),
        "opposite": int(np.sum((first >= 0.5) != (second >= 0.5))),
        "against": float(np.median(against)),
    }


def _row(recordings: str, model: str, runs: list[dict], n: int) -> dict:
    def spread(key, digits=3):
        values = [r[key] for r in runs]
        mean = f"{np.mean(values):.{digits}f}"
        if len(values) == 1:
            return mean
        return f"{mean} [{min(values):.{digits}f}, {max(values):.{digits}f}]"

    aucs = np.mean([r["auc"] for r in runs], axis=0)
    return {
        "recordings": recordings,
        "model": model,
        "AUC: whole / first half / second half": " / ".join(f"{a:.2f}" for a in aucs),
        "halves apart: median": spread("median"),
        "halves apart: max": spread("max"),
        "opposite sides of 0.5": f"{spread('opposite', 1)} of {n}",
        "half vs whole: median": spread("against"),
        "seconds": round(float(np.mean([r["seconds"] for r in runs])), 1),
    }


def _simulated() -> list[dict]:
    train = confound._data(0.8, 1, confound.N_TRAIN)
    # bench_confound's test patients, recorded for twice as long
    test = confound._data(0.0, 2, confound.N_TEST, duration=SECONDS)
    first, second = halves(test.recordings)
    where = f"simulated vessels ({len(test.target)} of {SECONDS:g} s)"
    rows = []
    models = {seed.DEFAULT: seed.default_pipeline} | seed.BASELINES
    for name, make in models.items():
        runs = []
        for s in SEEDS if name == seed.DEFAULT else (None,):
            model = make() if s is None else make(s)
            start = time.perf_counter()
            # the patients, for the last step's inner splits (as bench_confound)
            last = model.steps[-1][0]
            params = {f"{last}__groups": train.groups}
            model.fit(train.recordings, train.target, **params)
            p = [model.predict_proba(X)[:, 1] for X in (test.recordings, first, second)]
            runs.append(
                agreement(test.target, *p) | {"seconds": time.perf_counter() - start}
            )
        rows.append(_row(where, name, runs, len(test.target)))
    return rows


def _seed() -> list[dict]:
    X, y, groups, *_ = seed.seed_data()
    splits = check_group_split(GroupKFold(5), X, y, groups)
    # evaluate_by_patient alters each fold's test recordings: their halves,
    # found by name among the halves of all
    position = {name: i for i, name in enumerate(X.names)}

    def taking(part: Signals):
        return lambda test: part[[position[name] for name in test.names]]

    cut = dict(zip(("first", "second"), halves(X), strict=True))
    rows = []
    for name, make in ({seed.DEFAULT: seed.default_pipeline} | seed.BASELINES).items():
        start = time.perf_counter()
        result = evaluate_by_patient(
            make(),
            X,
            y,
            groups,
            cv=splits,
            pass_groups=True,
            perturbations={half: taking(part) for half, part in cut.items()},
        )
        seconds = time.perf_counter() - start
        p = (result.recording_proba, *(result.perturbed[k] for k in cut))
        run = agreement(y, *p) | {"seconds": seconds}
        rows.append(_row("seed recordings, GroupKFold(5)", name, [run], len(y)))
    return rows


def run() -> list[dict]:
    return _simulated() + _seed()


if __name__ == "__main__":
    for r in run():
        print(r)
