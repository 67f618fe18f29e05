"""The heart-sound recipe with the period beat finder instead of the seed rule.

The recipe cuts with the seed rule, which cuts 330 of the 1469 recordings
with a known heart period into pieces of a beat (82 of training-a's 345) and
1 into two beats; the period finder cuts 240 into pieces (8 of training-a's)
and 73 into two beats (the heart-beat section). This section trains the same
recipe on the period finder's cycles, seeds and splits as the recipe section,
to say whether whole beats make a better heart-sound network.
"""

from __future__ import annotations

from .bench_heart_recipe import RECIPE, SEEDS, score_recipe

#: The flag that swaps the cutter; every other setting is the recipe's.
PERIOD = ("--set", "cut__method=period")

TITLE = "Heart sounds: the recipe with the period beat finder"
DESCRIPTION = (
    "The pipeline of `vascular-sklearn train DATA "
    + " ".join(RECIPE + list(PERIOD))
    + "`: the heart-sound recipe (previous section) with "
    "PeakCycleCutter(method='period') instead of the seed rule, everything "
    f"else alike (random_state = each of seeds {', '.join(map(str, SEEDS))}, "
    "the same leave-one-database-out splits, recordings flagged coarse "
    "weighted 0, train's budget). The recipe's rows with the seed rule are "
    "the previous section's (CPU training with pinned threads repeats to the "
    "digit on one machine: the determinism section), so they are not run "
    "again here. Columns as in the recipe section. Seconds: wall time of the "
    "6 folds on 2 cores."
)

_NOTES: list[str] = []


def run() -> list[dict]:
    return score_recipe("ResNet18 recipe, period finder", PERIOD, {}, _NOTES)


def notes() -> str:
    return "\n".join(_NOTES)
