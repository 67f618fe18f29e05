"""What the device left in the real files, before any model.

Each property :func:`vascular_sklearn.evaluation.device_confound` reads from
a recording as stored (loudness, converter step, rounding noise, DC offset) is
scored as a predictor of the label, in both real corpora and inside each
heart-sound database. A property far from 0.5 is a way a model can learn the
device instead of the vessel or the heart. No model is trained: it takes a
minute.
"""

from __future__ import annotations

import numpy as np

from vascular_sklearn.datasets import load_physionet2016, load_recordings
from vascular_sklearn.evaluation import DEVICE_PROPERTIES, device_confound, rescaled
from vascular_sklearn.screening import COARSE_LIMIT_DB

from .bench_real_data import QUIET_LEVELS, quantisation
from .common import PHYSIONET_DIR, SEED_DIR

TITLE = "Device audit: what the recorder left in the real files"
DESCRIPTION = (
    "vascular_sklearn.evaluation.device_confound on the recordings as stored: "
    "each property as a score for label 1 (stenosis or abnormal), ROC AUC; "
    "0.5: it tells nothing, far from 0.5 on either side: it gives the label "
    "away. Loudness: RMS in dB full scale; converter step: 16-bit levels "
    "between the values a recording holds; rounding noise: its power over the "
    "converter's rounding noise in the 1 kHz band (flagged coarse under "
    f"{COARSE_LIMIT_DB:g} dB, screening.COARSE_LIMIT_DB); DC offset: the "
    "absolute mean of its samples in full scale (a sound card's or "
    "amplifier's: a microphone records none). Rows: the 49 seed recordings; "
    f"the seed audit's quiet recorder (the loud recordings, {QUIET_LEVELS} "
    "levels or more, x0.1 on the recorder's level spacing, as "
    "bench_real_data); the 1699 PhysioNet 2016 recordings pooled and inside "
    "each database. Medians per label: 0 / 1."
)


def _row(name: str, audit, y: np.ndarray, keep=None, aucs=None) -> dict:
    keep = np.ones(len(y), bool) if keep is None else keep
    y = y[keep]
    props = {k: v[keep] for k, v in audit.properties.items()}
    flagged = props["rounding_snr_db"] < COARSE_LIMIT_DB
    aucs = audit.roc_auc if aucs is None else aucs

    def medians(name: str, fmt: str) -> str:
        return " / ".join(format(np.median(props[name][y == k]), fmt) for k in (0, 1))

    row = {
        "recordings": name,
        "n (label 1)": f"{len(y)} ({int(y.sum())})",
        "flagged coarse: label 0 / 1": " / ".join(
            f"{flagged[y == k].sum()} of {(y == k).sum()}" for k in (0, 1)
        ),
        "converter step, median": medians("converter_step", "g"),
        "DC offset, median": medians("dc_offset", ".1e"),
    }
    for k in DEVICE_PROPERTIES:
        row[f"AUC: {DEVICE_PROPERTIES[k]}"] = f"{aucs[k]:.2f}"
    return row


def run() -> list[dict]:
    seed = load_recordings(SEED_DIR)
    audit = device_confound(seed.recordings, seed.target)
    rows = [_row("seed recordings", audit, seed.target)]
    step, levels = quantisation(seed.recordings)
    loud = levels >= QUIET_LEVELS
    quiet = rescaled(seed.recordings[loud], 0.1, step=step)
    rows.append(
        _row(
            "seed audit: the loud recordings through the quiet recorder",
            device_confound(quiet, seed.target[loud]),
            seed.target[loud],
        )
    )
    heart = load_physionet2016(PHYSIONET_DIR)
    audit = device_confound(heart.recordings, heart.target, heart.groups)
    rows.append(_row("PhysioNet 2016, all", audit, heart.target))
    for site in np.unique(heart.groups):
        by_site = {k: v[site] for k, v in audit.roc_auc_by_group.items()}
        rows.append(
            _row(
                f"PhysioNet 2016, training-{site}",
                audit,
                heart.target,
                heart.groups == site,
                by_site,
            )
        )
    return rows


if __name__ == "__main__":  # exploration: python -m benchmarks.bench_device_audit
    for r in run():
        print(r)
