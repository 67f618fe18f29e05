"""The device levers on the seed recordings: does removing each recording's
spectral mean keep the vessel and lose the recorder?

The confound benchmark measures every lever where the truth is known; this one
puts the candidate defaults (harmonizer + augmentation, with and without
spectral mean subtraction, at a common resolution, with quieter augmented
devices) through the seed evaluation's GroupKFold(5) and its
recorder audit, on the same splits in the same run as the baselines.
"""

from __future__ import annotations

from sklearn.model_selection import GroupKFold

from vascular_sklearn.evaluation import check_group_split, clinical_report

from . import bench_real_data as seed
from .bench_confound import lever_models

TITLE = "Device levers on the seed recordings (GroupKFold(5), recorder audit)"
PROTOCOL = "GroupKFold(5)"
CANDIDATES = (
    "harmonizer + augmentation + each cycle over its own spectrum, less its mean",
    "harmonizer + augmentation + each cycle over its own spectrum",
    "augmentation + each cycle over its own spectrum",
    "harmonizer + augmentation",
    "harmonizer + augmentation + mean subtraction",
    "harmonizer at a common resolution (step_snr_db=20) + augmentation",
    "harmonizer + augmentation with gains down to 0.003",
)
#: The default, its training recordings weighed so that every (session, label)
#: pair counts alike; the session is read from the file (quiet sessions use
#: fewer than 500 converter levels), the weights computed in each training fold.
WEIGHED = ", weighed by session and label"  # after the default's levers
DESCRIPTION = (
    "49 seed recordings, 12 patients, GroupKFold(5) by patient (the splits of "
    "the seed section), out-of-fold probabilities pooled, 95 % bootstrap "
    "intervals over patients. Networks: the seed section's default pipeline "
    "(make_stenosis_pipeline(random_state=0, device='cpu', "
    "classifier__on_empty='prior')) with the levers named (noise-floor "
    "harmonizer, recorder augmentation, as in the confound section: levers "
    "not named are off, the spectrogram then the earlier defaults' 80 dB log "
    "magnitude; each cycle over its own spectrum: STFTSpectrogram("
    "subtract_mean='cycle', floor_db=40); less its mean: remove_dc=True, each "
    "cycle's mean subtracted before the STFT; STFTSpectrogram(subtract_mean=True): "
    "each recording's mean log spectrum removed, and with it any fixed "
    "microphone response; harmonize__step_snr_db=20: every recording rounded "
    "to the converter step 20 dB below its power; augment__ranges="
    "RecorderRanges(gain=(0.003, 1)): augmented devices as quiet as the quiet "
    "sessions, as in the confound section); weighed: the default fitted with "
    "classifier__confounder = quiet session (fewer than 500 converter levels "
    "in the file), so every (session, label) pair of the training fold weighs "
    "alike (RecordingClassifier's confounder, computed in each training fold "
    "by evaluate_by_patient's params); the plain network's GroupKFold(5) "
    "row is in the seed section. Baselines and the recorder audit (gain x0.1 / "
    "x10, quiet recorder, the gate of issue 13) as in the seed section. "
    "Leave-one-patient-out would take another 50 minutes on 2 cores. Seconds: "
    "wall time of the protocol."
)

_NOTES: list[str] = []


def run() -> list[dict]:
    _NOTES.clear()
    seed.GATES.clear()
    X, y, groups, names, step, levels = seed.seed_data()
    levers = lever_models(seed.default_pipeline, CANDIDATES)
    default = next(m for m in levers if m.endswith("the default"))
    weighed = default.removesuffix(", the default") + WEIGHED
    models = levers | {weighed: levers[default]} | seed.BASELINES
    params = {weighed: {"classifier__confounder": levels < seed.QUIET_LEVELS}}
    splits = check_group_split(GroupKFold(5), X, y, groups)
    rows, oof = seed.audited_rows(
        models, X, y, groups, splits, step, PROTOCOL, params=params
    )
    _NOTES.extend(seed.audit_notes(oof, X, y, names, step, levels, PROTOCOL))
    auc = {
        model: clinical_report(y, result.recording_proba)["roc_auc"]
        for (_, model), result in oof.items()
    }
    passing = ", ".join(m for m, ok in seed.GATES.items() if ok) or "none"
    _NOTES.extend(
        [
            "",
            "### Verdict",
            "",
            "- Recording ROC AUC: "
            + "; ".join(f"{m} {auc[m]:.2f}" for m in auc)
            + f". Models through the recorder gate: {passing}.",
        ]
    )
    return rows


def notes() -> str:
    return "\n".join(_NOTES)
