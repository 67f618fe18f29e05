"""The confounded simulator's headline rows, for a rerun whenever the default
changes: the whole lever table (``bench_confound``) trains 19 network rows
once per seed, these 7.

The previous default (trained confounded, unconfounded and weighed by session),
the default (confounded and weighed), both again on the fresh cohort, and the
three logistic-regression baselines, run by ``bench_confound.run`` on the same
simulated patients, splits and seeds, so each row here is the row of that name
there, measured again.
"""

from __future__ import annotations

import time

from . import bench_confound as full

TITLE = "Confounded simulator, headline rows: the default against the previous default"
#: The rows of ``bench_confound`` measured here.
HEADLINE = [
    full.REFERENCE,
    full.DEFAULT,
    *(name for name in full.MODELS if name not in full.NETWORKS),
]
DESCRIPTION = (
    "The rows of the next section (`bench_confound`: its protocol, columns and "
    "models) that the README quotes, rerun alone: "
    + "; ".join(f"'{name}'" for name in HEADLINE)
    + ", each trained as there (the network rows once per seed "
    f"{full.SEEDS}) on the same simulated patients, and the previous and the "
    f"chosen default again on the {full.FRESH_COHORT}. Where the two sections' "
    "dates differ, this one measures today's code; the lever rows there measured "
    "the code of their date. The default was chosen among those rows on this "
    "first cohort's test patients, so its row here is the winner's score; the "
    "fresh cohort's rows are the held-out ones."
)

_MINUTES: list[float] = []


def run() -> list[dict]:
    _MINUTES.clear()
    start = time.perf_counter()
    rows = full.run({name: full.MODELS[name] for name in HEADLINE})
    _MINUTES.append((time.perf_counter() - start) / 60)
    return rows


def notes() -> str:
    took = f"This run took {_MINUTES[0]:.0f} minutes." if _MINUTES else ""
    return "\n\n".join(filter(None, [full.notes(), took]))
