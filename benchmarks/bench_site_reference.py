"""A reference per site: features measured against the site's own recordings.

Every feature the baselines read carries the stethoscope (leave-one-database-out
AUC at or below chance on PhysioNet 2016). A model can be trained on what each
training site's recordings do against their own median, and a clinic with a new
device can record a reference set first, without labels, and express every
recording against it. This prototype measures both halves outside the library.
"""

from __future__ import annotations

import time

import numpy as np
from sklearn.metrics import balanced_accuracy_score, roc_auc_score
from sklearn.model_selection import LeaveOneGroupOut, StratifiedKFold

from vascular_sklearn.datasets import load_physionet2016
from vascular_sklearn.evaluation import bootstrap_report, report_by_group

from .baselines import band_shares, envelope_model, log_rms, tuned_logistic
from .common import PHYSIONET_DIR, fmt_interval

#: Reference sets a clinic might record: recordings drawn per held-out site.
REFERENCE_SIZES = (5, 10, 25, 50)
DRAWS = 20

#: Site reference -> (centre the sites the model is fitted on, centre the sites
#: it scores, how).
REFERENCES = {
    "none": (False, False, "median"),
    "training sites (median)": (True, False, "median"),
    "every site (median)": (True, True, "median"),
    "every site (z-score)": (True, True, "z-score"),
}

TITLE = "A reference per site: features centred on each database's own recordings"
DESCRIPTION = (
    "PhysioNet/CinC 2016 as in the heart-sound section (1699 recordings, six "
    "databases, label 1 = abnormal), its baselines' features computed once per "
    "recording (they learn nothing from the data): BeatEnvelopeFeatures after "
    "the default lowpass, smoother and cutter (a recording without a cycle gets "
    "the training mean), log band-power shares in 100 Hz bands, loudness (log "
    "RMS). Site reference: none (the heart-sound section's baselines); "
    "'training sites (median)': the model is fitted on each training database's "
    "features minus their median over its recordings and scores the held-out "
    "database's features as they are; 'every site (median)': the held-out "
    "database's features are taken against the median of its own recordings "
    "too, as a clinic could record them, unlabelled, before it screens; "
    "'z-score': minus each database's mean, over its standard deviation. No "
    "label enters a reference. Logistic regression as the baselines (C chosen "
    "by StratifiedGroupKFold(3) inside the training sites or records). "
    "Protocols as in the heart-sound section: leave-one-database-out (LODO) "
    "and stratified 5-fold by record (seed 0; every site is in training there, "
    "so only 'none' and the 'every site' references apply). Pooled out-of-fold "
    "ROC AUC, "
    "95 % bootstrap interval over recordings (1000 resamples); AUC within "
    "sites: the mean of the six per-database AUCs (LODO), which a shift of a "
    "site's answers as a whole cannot move; score = mean of sensitivity and "
    "specificity at 0.5. A prototype, not a library feature."
)

_NOTES: list[str] = []


def _centred(Z: np.ndarray, sites: np.ndarray, how: str) -> np.ndarray:
    out = Z.copy()
    for site in np.unique(sites):
        rows = sites == site
        if how == "median":
            out[rows] -= np.nanmedian(Z[rows], axis=0)
        else:
            spread = np.nanstd(Z[rows], axis=0) + 1e-9
            out[rows] = (Z[rows] - np.nanmean(Z[rows], axis=0)) / spread
    return out


def _out_of_fold(fit_on, score_on, y, groups, splits) -> np.ndarray:
    proba = np.zeros(len(y))
    for train, test in splits:
        model = tuned_logistic().fit(fit_on[train], y[train], groups=groups[train])
        proba[test] = model.predict_proba(score_on[test])[:, 1]
    return proba


def _row(protocol, features, reference, y, proba, sites, seconds) -> dict:
    r = bootstrap_report(y, proba, np.arange(len(y)), random_state=0)
    per_site = {s: r["roc_auc"] for s, r in report_by_group(y, proba, sites).items()}
    within = list(per_site.values())
    lodo = protocol == "LODO"
    return {
        "protocol": protocol,
        "features": features,
        "site reference": reference,
        "ROC AUC": fmt_interval(r["roc_auc"], r["roc_auc_ci"]),
        "AUC within sites": fmt_interval(np.mean(within)) if lodo else "",
        "score (mean of sens., spec.)": fmt_interval(r["balanced_accuracy"]),
        "AUC per database": (
            ", ".join(f"{s} {a:.2f}" for s, a in per_site.items()) if lodo else ""
        ),
        "seconds": f"{seconds:.1f}",
    }


def _reference_size(Z, y, sites) -> list[str]:
    """LODO with the held-out site centred on k of its recordings, drawn at
    random (without labels); the training sites on all of theirs."""
    fit_on = _centred(Z, sites, "median")
    splits = list(LeaveOneGroupOut().split(Z, y, sites))
    models = [
        tuned_logistic().fit(fit_on[train], y[train], groups=sites[train])
        for train, _ in splits
    ]
    rng = np.random.default_rng(0)
    lines = []
    for k in REFERENCE_SIZES:
        aucs, scores = [], []
        for _ in range(DRAWS):
            proba = np.zeros(len(y))
            for model, (_, test) in zip(models, splits, strict=True):
                pick = rng.choice(test, size=min(k, len(test)), replace=False)
                held = Z[test] - np.nanmedian(Z[pick], axis=0)
                proba[test] = model.predict_proba(held)[:, 1]
            aucs.append(roc_auc_score(y, proba))
            scores.append(balanced_accuracy_score(y, proba >= 0.5))
        lines.append(
            f"- {k} reference recordings per held-out site: pooled AUC "
            f"{np.mean(aucs):.2f} ({np.percentile(aucs, 5):.2f}-"
            f"{np.percentile(aucs, 95):.2f}), score {np.mean(scores):.2f} "
            f"({np.percentile(scores, 5):.2f}-{np.percentile(scores, 95):.2f})"
        )
    return lines


def run() -> list[dict]:
    _NOTES.clear()
    data = load_physionet2016(PHYSIONET_DIR)
    X = data.recordings.load(n_jobs=2)
    y, sites = data.target, data.groups
    features = {
        "beat-envelope features": envelope_model()[:-1].fit_transform(X),
        "band powers": band_shares(X),
        "loudness only": log_rms(X),
    }
    records = np.arange(len(y))
    protocols = {
        "LODO": (list(LeaveOneGroupOut().split(records, y, sites)), sites),
        "5-fold": (
            list(StratifiedKFold(5, shuffle=True, random_state=0).split(records, y)),
            records,
        ),
    }
    rows = []
    for protocol, (splits, groups) in protocols.items():
        for name, Z in features.items():
            for reference, (fit_centred, score_centred, how) in REFERENCES.items():
                if protocol != "LODO" and fit_centred != score_centred:
                    continue
                start = time.perf_counter()
                centred = _centred(Z, sites, how)
                proba = _out_of_fold(
                    centred if fit_centred else Z,
                    centred if score_centred else Z,
                    y,
                    groups,
                    splits,
                )
                seconds = time.perf_counter() - start
                rows.append(_row(protocol, name, reference, y, proba, sites, seconds))
    _NOTES.extend(
        [
            "How many reference recordings does a new site need? Beat-envelope "
            "features, 'every site (median)', LODO; the held-out site's median "
            f"from k of its recordings drawn at random, {DRAWS} draws (mean, "
            "5-95 %); the AUC within each site does not depend on the reference:",
            "",
            *_reference_size(features["beat-envelope features"], y, sites),
        ]
    )
    return rows


def notes() -> str:
    return "\n".join(_NOTES)
