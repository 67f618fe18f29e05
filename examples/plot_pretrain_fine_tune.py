"""
Pretrain a backbone at one rate, fine-tune it at another
========================================================

Twelve patients cannot train a ResNet from scratch, and nothing can be
downloaded here, so the library makes its own starting point:
:func:`~vascular_sklearn.pretraining.pretrain` trains the cycle network on a
larger corpus and writes its weights as a tensor-only file (a *backbone*),
which ``make_stenosis_pipeline(weights_path=...)`` starts from. The project
pretrains on the 1699 PhysioNet/CinC 2016 heart sounds at 2 kHz
(``vascular-sklearn pretrain``, :doc:`/pretraining`); here a synthetic corpus
at 2 kHz stands in for them, and the fine-tuning data are synthetic vessels at
22.05 kHz. The spectrogram is defined in hertz and seconds, so one network
reads both rates alike.

The backbone file carries a card (what it was pretrained on), and a model
fine-tuned from it should say so in its own: a network pretrained on other
stethoscopes has heard those too. Every file is written to a temporary folder
that is removed at the end. The networks are ResNet18s trained for an epoch
or two on a few synthetic patients, to keep the example quick: the numbers
show the mechanics, not what a backbone is worth (on the real recordings its
gain lay within the noise, see :doc:`/pretraining`).
"""

# %%
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from vascular_sklearn import make_stenosis_pipeline
from vascular_sklearn.datasets import make_recordings
from vascular_sklearn.model_card import read_model_card
from vascular_sklearn.network import read_weights
from vascular_sklearn.persistence import save_model
from vascular_sklearn.pretraining import pretrain

SMALL = {
    "classifier__estimator__arch": "resnet18",
    "batch_size": 16,
    "device": "cpu",
    "random_state": 0,
}
corpus = make_recordings(
    n_patients=8,
    recordings_per_patient=2,
    duration=8,
    sample_rate=2000.0,
    random_state=10,
)
workdir = tempfile.TemporaryDirectory()
backbone = Path(workdir.name) / "backbone.pt"
pretrain(
    corpus.recordings,
    corpus.target,
    backbone,
    pipeline=make_stenosis_pipeline(max_epochs=2, **SMALL),
    groups=corpus.groups,
    # what the backbone heard: vascular-sklearn pretrain writes this itself
    card={
        "trained_on": "synthetic corpus at 2 kHz (make_recordings, random_state=10)",
        "recordings": len(corpus.target),
        "patients": len(np.unique(corpus.groups)),
        "sample_rates_hz": [corpus.sample_rate],
    },
)
info = read_model_card(backbone)  # vascular-sklearn describe backbone.pt
print(f"{backbone.name}: {info['network']}, images {info['image_shape'][1:]}")
for key, value in info["card"].items():
    print(f"  {key:<16} {value}")

# %%
# Fine-tune on vessels at 22.05 kHz: four patients train, four others test.
# ``freeze_stages=2`` keeps the stem and the first two residual stages at the
# backbone's weights and ``backbone_lr`` lets the later stages learn gently,
# while the head (a new task's) learns at the full rate. The same pipeline
# from scratch, on the same patients, is the comparison.
vessels = make_recordings(
    n_patients=8, recordings_per_patient=2, duration=8, random_state=11
)
train = np.isin(vessels.groups, np.unique(vessels.groups)[:4])
X_train, y_train = vessels.recordings[train], vessels.target[train]
X_test, y_test = vessels.recordings[~train], vessels.target[~train]

tuned = make_stenosis_pipeline(
    max_epochs=2,
    weights_path=str(backbone),
    freeze_stages=2,
    backbone_lr=1e-4,
    **SMALL,
).fit(X_train, y_train)
scratch = make_stenosis_pipeline(max_epochs=2, **SMALL).fit(X_train, y_train)

# the frozen stages are the backbone's own weights, bit for bit
start = read_weights(backbone)["net.layer2.0.conv1.weight"]
layer2 = tuned[-1].estimator_.net_.module_.net.layer2[0].conv1.weight
print("layer2 kept from the backbone:", torch.equal(layer2.detach().cpu(), start))

proba = {
    "from the backbone": tuned.predict_proba(X_test)[:, 1],
    "from scratch": scratch.predict_proba(X_test)[:, 1],
}
for name, p in proba.items():
    print(
        f"{name:<18} recording AUC on the held-out patients "
        f"{roc_auc_score(y_test, p):.2f}"
    )

# %%
# The fine-tuned model's card names its backbone's, so that whoever is given
# the model sees every corpus it learnt from (``vascular-sklearn train
# --weights backbone.pt`` writes this card itself).
model_path = Path(workdir.name) / "model.vsk"
save_model(
    tuned,
    model_path,
    card={
        "trained_on": "synthetic vessels at 22.05 kHz (random_state=11)",
        "recordings": int(train.sum()),
        "backbone": {"file": backbone.name, **info["card"]},
    },
)
print(read_model_card(model_path)["card"]["backbone"]["trained_on"])

# %%
fig, ax = plt.subplots(figsize=(8, 3.5))
order = np.argsort(y_test, kind="stable")
for k, (name, p) in enumerate(proba.items()):
    ax.scatter(np.arange(len(p)) + 0.15 * (2 * k - 1), p[order], label=name)
ax.axhline(0.5, color="0.5", lw=1, ls="--")
n_normal = int((y_test == 0).sum())
ax.axvline(n_normal - 0.5, color="0.7", lw=1)
ax.set(
    xlabel=f"held-out recordings (left {n_normal}: normal, right: stenotic)",
    ylabel="probability of stenosis",
    ylim=(0, 1),
    title="Fine-tuned from the backbone and trained from scratch",
)
ax.legend(loc="upper left")
fig.tight_layout()
plt.show()

workdir.cleanup()
