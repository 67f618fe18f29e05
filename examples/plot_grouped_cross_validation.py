"""
Cross-validation by patient
===========================

Cycles of one recording are near-duplicates and recordings of one patient share
a voice, so a fair estimate keeps every patient on one side of each split. Here
the recommended pipeline is evaluated with ``GroupKFold`` over patient ids and
the clinical scorers. A small ResNet trained for two epochs in batches of 4
cycles keeps the example quick; use ``make_stenosis_pipeline()`` unchanged for
real work. Some test folds hold one patient kind only (normal-only or
stenosis-only patients), so their sensitivity, specificity or ROC AUC is
undefined (NaN): pool the out-of-fold predictions instead
(:func:`~vascular_sklearn.evaluation.evaluate_by_patient`), as the example with
a plain scikit-learn classifier does.
"""

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.model_selection import GroupKFold, cross_validate

from vascular_sklearn import clinical_scoring, make_stenosis_pipeline
from vascular_sklearn.datasets import make_recordings

data = make_recordings(
    n_patients=6, recordings_per_patient=2, duration=10, random_state=0
)
pipe = make_stenosis_pipeline(max_epochs=2, batch_size=4, device="cpu", random_state=0)
pipe.set_params(classifier__estimator__arch="resnet18")
cv = GroupKFold(3)  # 2 of the 6 patients in each test fold

# scikit-learn warns about each undefined score; the NaNs below say the same
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", category=UndefinedMetricWarning)
    warnings.filterwarnings("ignore", message="A single label was found")
    scores = cross_validate(
        pipe,
        data.recordings,
        data.target,
        groups=data.groups,
        cv=cv,
        scoring=clinical_scoring(),
    )
names = ["accuracy", "sensitivity", "specificity", "roc_auc"]
for name in names:
    print(f"{name:>12}: {scores['test_' + name]}")

# %%
# Each fold's scores; a missing bar is a score the fold cannot define because
# its test patients hold one class only.
folds = [
    np.unique(data.groups[test]).tolist()
    for _, test in cv.split(data.recordings, data.target, data.groups)
]
fig, ax = plt.subplots(figsize=(8, 3.5))
width = 0.2
for k, name in enumerate(names):
    values = scores["test_" + name]
    x = np.arange(len(values)) + (k - 1.5) * width
    ax.bar(x, np.nan_to_num(values), width, label=name)
    for xi in x[np.isnan(values)]:
        ax.text(xi, 0.02, "n/a", ha="center", va="bottom", fontsize=8)
ax.set(
    xticks=range(len(folds)),
    xticklabels=[" + ".join(f) for f in folds],
    xlabel="test patients of the fold",
    ylim=(0, 1.05),
)
ax.legend(loc="upper left", bbox_to_anchor=(1, 1))
fig.tight_layout()
plt.show()
