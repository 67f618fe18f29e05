"""Transfer: the seed evaluation starting from a backbone pretrained on heart sounds.

Twelve patients cannot train a ResNet50 from scratch. The backbone is the
same cycle network trained on the 1699 PhysioNet/CinC 2016 heart sounds
(2 kHz, six sites); the vascular pipeline then starts from it. Both networks
and the baselines are scored on the same patient splits in the same run, with
the recorder audit of the seed section.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from sklearn.model_selection import GroupKFold, LeaveOneGroupOut

from vascular_sklearn import make_stenosis_pipeline
from vascular_sklearn.datasets import load_physionet2016
from vascular_sklearn.evaluation import (
    check_group_split,
    clinical_report,
)
from vascular_sklearn.pretraining import pretrain

from . import bench_real_data as seed
from .common import PHYSIONET_DIR

#: Pretraining budget on 2 CPU cores: epochs, cycles per recording per epoch.
PRETRAIN_EPOCHS, PRETRAIN_CYCLES = 2, 4
#: Fine-tuning: the backbone learns at a tenth of the head's rate (fixed before
#: any run, not chosen on these recordings).
BACKBONE_LR = 1e-4

#: The seed section's two protocols, each on its own splits for every row.
PROTOCOLS = {"GroupKFold(5)": GroupKFold(5), "LOPO": LeaveOneGroupOut()}
SCRATCH = "default pipeline, ResNet50 from scratch"
PRETRAINED = "default pipeline, ResNet50 from the heart-sound backbone"

TITLE = "Transfer: seed recordings from a heart-sound backbone"
DESCRIPTION = (
    "Backbone: make_stenosis_pipeline(random_state=0, device='cpu') trained by "
    "vascular_sklearn.pretraining.pretrain on all 1699 PhysioNet/CinC 2016 "
    f"recordings (2 kHz, databases a-f, label abnormal), {PRETRAIN_EPOCHS} "
    f"epochs of {PRETRAIN_CYCLES} cycles per recording, saved as a tensor-only "
    "state dict. Fine-tuned: the same pipeline with weights_path=backbone and "
    f"backbone_lr={BACKBONE_LR:g} (the new head at the default 1e-3), 5 epochs "
    "of 8 cycles per recording as the default; from scratch: the default "
    "unchanged. Both read 20 x 100 images of 0-1 kHz, at 2 kHz for the heart "
    "sounds and 22.05 kHz for the vessels. Seed evaluation as in the seed "
    "section: 49 recordings, 12 patients, GroupKFold(5) and "
    "leave-one-patient-out (LOPO) by patient, the same splits for every row "
    "of a protocol, out-of-fold probabilities pooled, 95 % bootstrap intervals "
    "over patients, the recorder audit on these models, baselines (logistic "
    "regressions, C chosen inside each "
    "training fold). Seconds: wall time of the protocol on 2 cores; the "
    "pretraining's own time is in the notes."
)

_NOTES: list[str] = []


def _pretrain(path: Path) -> float:
    data = load_physionet2016(PHYSIONET_DIR)
    pipe = make_stenosis_pipeline(
        random_state=0,
        device="cpu",
        max_epochs=PRETRAIN_EPOCHS,
        classifier__estimator__max_cycles_per_group=PRETRAIN_CYCLES,
        classifier__estimator__verbose=1,
        # the 7 recordings without a beat are left out of training
        classifier__on_empty="prior",
    )
    start = time.perf_counter()
    pretrain(data.recordings, data.target, path, pipeline=pipe, groups=data.groups)
    return time.perf_counter() - start


def run() -> list[dict]:
    _NOTES.clear()
    seed.GATES.clear()
    X, y, groups, names, step, levels = seed.seed_data()
    with tempfile.TemporaryDirectory() as tmp:
        backbone = Path(tmp) / "heart_sounds_backbone.pt"
        seconds = _pretrain(backbone)
        _NOTES.append(
            f"Pretraining took {seconds / 60:.1f} min on this machine's 2 cores "
            f"({PRETRAIN_EPOCHS} epochs x {PRETRAIN_CYCLES} cycles x 1699 "
            "recordings, signal steps included); the file is "
            f"{backbone.stat().st_size / 2**20:.0f} MiB."
        )

        def pretrained():
            return seed.default_pipeline().set_params(
                classifier__estimator__weights_path=str(backbone),
                classifier__estimator__backbone_lr=BACKBONE_LR,
            )

        models = {
            SCRATCH: seed.default_pipeline,
            PRETRAINED: pretrained,
        } | seed.BASELINES
        rows, oof = [], {}
        for protocol, cv in PROTOCOLS.items():
            splits = check_group_split(cv, X, y, groups)
            more, scored = seed.audited_rows(
                models, X, y, groups, splits, step, protocol
            )
            rows, oof = rows + more, oof | scored
    for protocol in PROTOCOLS:
        # audit_notes fills the gates of this protocol's models
        seed.GATES.clear()
        _NOTES.extend(seed.audit_notes(oof, X, y, names, step, levels, protocol))
        _NOTES.extend(_verdict(oof, y, protocol))
    return rows


def _verdict(oof, y, protocol: str) -> list[str]:
    auc = {
        model: clinical_report(y, result.recording_proba)["roc_auc"]
        for (done, model), result in oof.items()
        if done == protocol
    }
    passing = {
        m: a
        for m, a in auc.items()
        if seed.GATES.get(m) and m not in (SCRATCH, PRETRAINED)
    }
    best = max(passing, key=passing.get, default=None)
    met = (
        bool(seed.GATES.get(PRETRAINED))
        and auc[PRETRAINED] > auc[SCRATCH]
        and (best is None or auc[PRETRAINED] > passing[best])
    )
    return [
        "",
        f"### Verdict ({protocol})",
        "",
        f"- Recording ROC AUC ({protocol}) from the backbone "
        f"{auc[PRETRAINED]:.2f}, from scratch {auc[SCRATCH]:.2f}.",
        "- Goal: through the recorder audit's gate, above scratch and above "
        "every baseline that passes the gate. Best gate-passing baseline: "
        + (f"{best} ({passing[best]:.2f})" if best else "none")
        + f"; the backbone's model {_verb(seed.GATES.get(PRETRAINED))} the gate. "
        f"Goal {'met' if met else 'not met'}.",
    ]


def _verb(passed: bool | None) -> str:
    return "passes" if passed else "fails"


def notes() -> str:
    return "\n".join(_NOTES)
