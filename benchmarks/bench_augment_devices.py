"""How many recorders the augmentation draws per training recording, on the
confounded simulator, over three cohorts.

The default records 2 runs of 16 cycles of each training recording again, each
through one random device; the network then draws 8 cycles per recording each
epoch from the bag. A fresh device per epoch was the design's first idea; more
devices of fewer cycles each is the same idea within the pipeline's contract
(augmentation in ``fit_transform``, the network sees images). Measured on three
cohorts because one cohort's ranking of levers has not held on another.
"""

from __future__ import annotations

import sys

import numpy as np

from . import bench_confound as confound

TITLE = "Augmentation: how many recorders per training recording?"
#: (training seed, test seed) of each simulated cohort; the first two are
#: bench_confound's.
COHORTS = ((1, 2), confound.FRESH, (5, 6))
#: augment step parameters of each row; {} is the default (2 x 16).
VARIANTS = {
    "2 devices x 16 cycles (the default)": {},
    "5 devices x 8 cycles": {"augment__n_copies": 5, "augment__cycles_per_copy": 8},
    "10 devices x 4 cycles": {"augment__n_copies": 10, "augment__cycles_per_copy": 4},
}
DESCRIPTION = (
    "The default pipeline (make_stenosis_pipeline(random_state=seed, "
    f"device='cpu'), seeds {confound.SEEDS}) with its RecorderAugmentation's "
    "n_copies and cycles_per_copy as named, trained on the confound benchmark's "
    f"confounded patients ({confound.N_TRAIN} training patients at confound=0.8, "
    f"{confound.N_TEST} test patients at confound=0) of three cohorts (training "
    "/ test random_state " + ", ".join(f"{a} / {b}" for a, b in COHORTS) + "; "
    "the first is bench_confound's, the second its fresh cohort). Columns as "
    "there: pooled recording AUC on the test patients, and the quiet-recorder "
    "shift of the test recordings first recorded loud (median, range over seeds "
    "/ max). Seconds: fit wall time, mean over seeds."
)

_NOTES: list[str] = []


def run() -> list[dict]:
    _NOTES.clear()
    rows, shifts, aucs = [], {v: [] for v in VARIANTS}, {v: [] for v in VARIANTS}
    make = confound.NETWORKS[confound.DEFAULT]
    for train_seed, test_seed in COHORTS:
        train = confound._data(0.8, train_seed, confound.N_TRAIN)
        test = confound._data(0.0, test_seed, confound.N_TEST)
        quiet = confound._data(
            None, test_seed, confound.N_TEST, recorder=confound.QUIET_SESSION
        )
        for name, params in VARIANTS.items():

            def build(seed, params=params):
                return make(seed).set_params(**params)

            scores = confound._scores(
                build, train, test, {"quiet": quiet}, confound.SEEDS
            )
            aucs[name].append(scores.pop("_auc"))
            shifts[name].append(scores.pop("_median_shift"))
            scores = {k: v for k, v in scores.items() if not k.startswith("shift by")}
            rows.append({"cohort": f"{train_seed} / {test_seed}", "augmentation": name})
            rows[-1].update(scores)
            print(f"  {rows[-1]}", file=sys.stderr, flush=True)
    _NOTES.append(
        "Over the three cohorts (mean of the cohorts' means): "
        + "; ".join(
            f"{name}: AUC {np.mean(aucs[name]):.3f}, median shift "
            f"{np.mean(shifts[name]):.3f}"
            for name in VARIANTS
        )
        + "."
    )
    return rows


def notes() -> str:
    return "\n\n".join(_NOTES)
