"""
Cross-validation by patient
===========================

Cycles of one recording are near-duplicates and recordings of one patient share
a voice, so a fair estimate keeps every patient on one side of each split. Here
the recommended pipeline is evaluated with ``GroupKFold`` over patient ids and
the clinical scorers. A small ResNet and one epoch keep the example quick; use
``make_stenosis_pipeline()`` unchanged for real work.
"""

# %%
from sklearn.model_selection import GroupKFold, cross_validate

from vascular_sklearn import clinical_scoring, make_stenosis_pipeline
from vascular_sklearn.datasets import make_recordings

data = make_recordings(
    n_patients=6, recordings_per_patient=2, duration=10, random_state=0
)
pipe = make_stenosis_pipeline(max_epochs=1, device="cpu", random_state=0)
pipe.set_params(classifier__estimator__arch="resnet18")
scores = cross_validate(
    pipe,
    data.recordings,
    data.target,
    groups=data.groups,
    cv=GroupKFold(3),
    scoring=clinical_scoring(),
)
for name in ["accuracy", "sensitivity", "specificity", "roc_auc"]:
    print(f"{name:>12}: {scores['test_' + name]}")
