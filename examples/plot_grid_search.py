"""
Tuning the pipeline with a patient-grouped grid search
======================================================

Every setting of every step is a parameter of the pipeline, so
:class:`~sklearn.model_selection.GridSearchCV` tunes the signal chain and the
network together. Here it searches the lowpass cutoff (``lowpass__cutoff``) and
the network's learning rate (``classifier__estimator__lr``), scoring each
candidate with :class:`~sklearn.model_selection.GroupKFold` over patients, so
no patient is ever on both sides of a split.

To keep the example quick (about a minute on one CPU core) the network is a
ResNet18 trained for two epochs on 12 short synthetic recordings of 6 patients,
in batches of 4 cycles (more optimiser steps than so little data gives at the
default batch of 32): the scores say how to write a
search, not which setting is best. A real search runs on many more patients,
with ``make_stenosis_pipeline()`` unchanged.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import GridSearchCV, GroupKFold

from vascular_sklearn import make_stenosis_pipeline
from vascular_sklearn.datasets import make_recordings

data = make_recordings(
    n_patients=6, recordings_per_patient=2, duration=8, random_state=0
)
pipe = make_stenosis_pipeline(max_epochs=2, batch_size=4, device="cpu", random_state=0)
pipe.set_params(classifier__estimator__arch="resnet18")

# the lowpass step's tunable parameters (get_params() names every step's)
print([name for name in pipe.get_params() if name.startswith("lowpass__")])

# %%
# Split by patient. ROC AUC needs both classes in every test fold; some
# patients have one class only, so check the folds first (with
# :class:`~sklearn.model_selection.StratifiedGroupKFold` the splitter balances
# the classes for you).
cv = GroupKFold(2)
for k, (_, test) in enumerate(cv.split(data.recordings, data.target, data.groups)):
    patients = np.unique(data.groups[test]).tolist()
    print(f"fold {k}: test patients {patients}, labels {data.target[test].tolist()}")

# %%
# The search passes ``groups`` to the splitter; the best candidate is refitted
# on all recordings at the end.
param_grid = {
    "lowpass__cutoff": [500.0, 1000.0],
    "classifier__estimator__lr": [1e-3, 1e-2],
}
search = GridSearchCV(pipe, param_grid, cv=cv, scoring="roc_auc")
search.fit(data.recordings, data.target, groups=data.groups)

results = search.cv_results_
print("cutoff (Hz)   lr      mean ROC AUC   fit seconds")
for params, score, seconds in zip(
    results["params"],
    results["mean_test_score"],
    results["mean_fit_time"],
    strict=True,
):
    cutoff, lr = params["lowpass__cutoff"], params["classifier__estimator__lr"]
    print(f"{cutoff:>11g}   {lr:<6g}  {score:12.2f}   {seconds:11.1f}")
print("best:", search.best_params_)

# %%
# The mean recording ROC AUC of each candidate over the two patient folds.
cutoffs = param_grid["lowpass__cutoff"]
rates = param_grid["classifier__estimator__lr"]
scores = np.full((len(cutoffs), len(rates)), np.nan)
for params, score in zip(results["params"], results["mean_test_score"], strict=True):
    i = cutoffs.index(params["lowpass__cutoff"])
    j = rates.index(params["classifier__estimator__lr"])
    scores[i, j] = score
fig, ax = plt.subplots(figsize=(5, 4))
image = ax.imshow(scores, cmap="viridis", vmin=0, vmax=1)
ax.set(
    xticks=range(len(rates)),
    xticklabels=[f"{lr:g}" for lr in rates],
    yticks=range(len(cutoffs)),
    yticklabels=[f"{hz:g}" for hz in cutoffs],
    xlabel="learning rate (classifier__estimator__lr)",
    ylabel="lowpass cutoff in Hz",
    title="ROC AUC, GroupKFold(2) by patient",
)
for (i, j), value in np.ndenumerate(scores):
    ax.text(j, i, f"{value:.2f}", ha="center", va="center", color="w")
fig.colorbar(image, ax=ax)
fig.tight_layout()
plt.show()

# %%
# With a dozen patients, differences between candidates are mostly noise, and
# ``search.best_score_`` is optimistic: it is the best of several tries on the
# same folds. An honest estimate of the tuned pipeline runs the whole search
# inside each training fold of an outer patient split (nested
# cross-validation), and scores the outer test patients only.
