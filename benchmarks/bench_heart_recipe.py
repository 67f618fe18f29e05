"""The heart-sound recipe for another site, at ``train``'s own budget.

The heart-sound section compares networks at a small budget (2 epochs of 2
cycles per recording) to keep many rows affordable. The docs recommend one
command to train for a site the corpus never heard; this section scores that
command's pipeline, built by the CLI's own code, at its own budget on the
same leave-one-database-out splits, over several seeds, beside the
baselines that need no network.
"""

from __future__ import annotations

import sys

import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import LeaveOneGroupOut

from vascular_sklearn.cli import _parser, _pipeline_for, _weight_without_coarse
from vascular_sklearn.datasets import load_physionet2016

from .baselines import band_power_model, loudness_model
from .bench_heart_sounds import _out_of_fold, _row
from .common import PHYSIONET_DIR

SEEDS = (0, 1, 2)
#: The recommended command's flags (README, docs/pretraining.rst), less the data.
RECIPE = ["--arch", "resnet18", "--on-empty", "prior", "--skip-coarse"]

TITLE = "Heart sounds: the recipe for another site at train's budget"
DESCRIPTION = (
    "The pipeline of `vascular-sklearn train DATA " + " ".join(RECIPE) + "` (built "
    "by the CLI's own _pipeline_for: ResNet18 from scratch, the default "
    "image, harmonizer and recorder augmentation, train's budget of 5 epochs "
    "of 8 cycles drawn afresh from each recording, 16 cycles scored per "
    "recording; the recordings screening flags coarse get weight 0 in "
    "training and are scored like the rest), random_state = each seed, on "
    "the 1699 PhysioNet/CinC 2016 recordings under leave-one-database-out "
    "(6 folds: each database scored by a model that never heard its site; "
    "the heart-sound section's LODO splits). The recipe itself (architecture, "
    "image, --skip-coarse) was chosen on these same held-out sites (the "
    "heart-sound and coarse-converter sections' LODO rows), so its scores here "
    "are a winner's, not held out. Baselines on the same splits: "
    "the logistic regressions of the heart-sound section (loudness, band "
    "powers; C tuned inside each training fold). Columns as in the "
    "heart-sound section (pooled out-of-fold probabilities, threshold 0.5, "
    "95 % bootstrap intervals over recordings; AUC within databases = mean "
    "of each database's own AUC). Seconds: wall time of the 6 folds on 2 "
    "cores."
)

_NOTES: list[str] = []


def _recipe(seed: int, extra: tuple[str, ...] = ()):
    args = _parser().parse_args(
        ["evaluate", str(PHYSIONET_DIR), *RECIPE, *extra, "--seed", str(seed)]
    )
    return _pipeline_for(args)


def run() -> list[dict]:
    return score_recipe(
        "ResNet18 recipe",
        (),
        {
            "loudness only, logistic regression": loudness_model,
            "band powers, logistic regression": band_power_model,
        },
        _NOTES,
    )


def score_recipe(name: str, extra: tuple[str, ...], baselines: dict, notes: list):
    """LODO rows of the recipe (``extra`` flags added) over ``SEEDS``, then of
    ``baselines`` (name -> model factory); the pooled AUCs and the AUC per
    database go to ``notes``."""
    notes.clear()
    data = load_physionet2016(PHYSIONET_DIR)
    X = data.recordings.load(n_jobs=2)
    y, databases = data.target, data.groups
    splits = list(LeaveOneGroupOut().split(X, y, databases))
    weight = {"classifier__sample_weight": _weight_without_coarse(data)}
    models = {
        f"{name}, seed {seed}": (lambda seed=seed: _recipe(seed, extra), weight)
        for seed in SEEDS
    }
    models.update({model: (make, None) for model, make in baselines.items()})
    rows, per_database, recipe_auc = [], [], []
    for model, (make, params) in models.items():
        proba, seconds = _out_of_fold(
            "LODO recipe", model, make, X, y, databases, splits, params
        )
        rows.append(_row("LODO", model, y, proba, databases, seconds))
        print(rows[-1], file=sys.stderr, flush=True)
        per_db = {
            g: roc_auc_score(y[databases == g], proba[databases == g])
            for g in np.unique(databases)
        }
        per_database.append(
            f"- {model}: " + ", ".join(f"{g} {a:.2f}" for g, a in per_db.items())
        )
        if model.startswith(name):
            recipe_auc.append(roc_auc_score(y, proba))
    notes.extend(
        [
            f"Recipe over {len(SEEDS)} seeds: pooled AUC {np.mean(recipe_auc):.2f} "
            f"(from {min(recipe_auc):.2f} to {max(recipe_auc):.2f}).",
            "",
            "AUC per database:",
            "",
            *per_database,
        ]
    )
    return rows


def notes() -> str:
    return "\n".join(_NOTES)
