"""The network, the recording-level meta-estimator, and the full pipeline."""

import pickle

import numpy as np
import pytest
import sklearn
import torch
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.dummy import DummyClassifier
from sklearn.exceptions import DataConversionWarning, NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import get_scorer, make_scorer, roc_auc_score
from sklearn.model_selection import (
    GridSearchCV,
    GroupKFold,
    TunedThresholdClassifierCV,
    cross_val_predict,
    cross_validate,
)
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils.class_weight import compute_sample_weight
from torchvision import models

from vascular_sklearn import (
    RecordingClassifier,
    RecordingError,
    ResNetClassifier,
    Spectrograms,
    WeightsFileError,
    make_seed_pipeline,
    make_stenosis_pipeline,
)
from vascular_sklearn.evaluation import evaluate_by_patient
from vascular_sklearn.metrics import (
    clinical_scoring,
    sensitivity_score,
    specificity_at_sensitivity_score,
    specificity_score,
)
from vascular_sklearn.network import CycleResNet, _CapPerGroupSampler

from .conftest import FAST, fast_pipeline, opposite_rule_cycles


@pytest.fixture(scope="module")
def spectrograms(data):
    return make_seed_pipeline()[:-1].fit_transform(data.recordings)


def test_network_is_the_original_resnet50():
    net = CycleResNet("resnet50")
    assert net.net.conv1.in_channels == 1 and net.net.conv1.kernel_size == (5, 5)
    assert net.net.conv1.stride == (2, 2) and net.net.conv1.padding == (3, 3)
    assert net.net.fc.out_features == 2
    # ResNet50's stages of bottleneck blocks (ResNet101 has 23 in the third)
    stages = [getattr(net.net, f"layer{k}") for k in (1, 2, 3, 4)]
    assert [len(stage) for stage in stages] == [3, 4, 6, 3]
    assert all(isinstance(b, models.resnet.Bottleneck) for s in stages for b in s)
    assert net.net.fc.in_features == 2048  # not a wide ResNet's


def test_resnet50_trains_on_the_original_images(spectrograms, data):
    """The original's images through ResNet50: a finite loss, probabilities,
    and weights the optimiser moved. (Its loss need not fall in an epoch or
    two on 8 recordings: it rose from 1.33 to 1.70 in two; that the network
    learns a rule is test_batchnorm_recalibration_makes_a_short_fit_answer_by_input.)
    """
    X = spectrograms.images
    y = np.repeat(data.target, spectrograms.n_cycles)
    params = {"max_epochs": 1, "batch_size": 32, "device": "cpu", "random_state": 0}
    clf = ResNetClassifier(lr=1e-3, **params).fit(X, y)
    assert np.isfinite(clf.net_.history[-1, "train_loss"])
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    # the same seed with steps too small for float32: the same start, unmoved
    still = ResNetClassifier(lr=1e-20, **params).fit(X, y)
    moved = clf.net_.module_.net.fc.weight.detach()
    assert not torch.equal(moved, still.net_.module_.net.fc.weight.detach())


def test_batchnorm_recalibration_makes_a_short_fit_answer_by_input():
    # a band of energy marks class 1; four batches of training cannot move
    # BatchNorm's running averages far from their start, so without the
    # recalibration the trained ResNet50 answers nearly alike for every input
    rng = np.random.default_rng(0)
    X = rng.normal(size=(32, 1, 16, 16)).astype(np.float32)
    y = np.repeat([0, 1], 16)
    X[y == 1, :, 10:14] += 2.0
    params = {"max_epochs": 2, "batch_size": 16, "device": "cpu", "random_state": 0}
    stale = ResNetClassifier(recalibrate_bn=False, **params).fit(X, y)
    assert (stale.predict(X) == y).mean() < 0.7
    recalibrated = ResNetClassifier(**params).fit(X, y)
    assert (recalibrated.predict(X) == y).mean() > 0.9
    # same seed, same weights: the two differ only in the running statistics
    stale._recalibrate(X)
    np.testing.assert_allclose(
        stale.predict_proba(X), recalibrated.predict_proba(X), atol=1e-5
    )


def test_same_seed_same_model(spectrograms, data):
    X = spectrograms.images
    y = np.repeat(data.target, spectrograms.n_cycles)
    p1 = ResNetClassifier(**FAST).fit(X, y).predict_proba(X)
    torch.manual_seed(123)
    second = ResNetClassifier(**FAST).fit(X, y)
    users_draw = torch.rand(3)
    p2 = second.predict_proba(X)
    p3 = ResNetClassifier(**{**FAST, "random_state": 1}).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(p1, p2)
    assert not np.array_equal(p1, p3)
    # float32 softmax rows cast to float64 missed 1 by up to 9e-8, and
    # scikit-learn's log_loss warned they were no probabilities
    np.testing.assert_allclose(p1.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    # fit seeds torch for itself and gives the user's generator back
    torch.manual_seed(123)
    assert torch.equal(torch.rand(3), users_draw)


def test_sampler_caps_cycles_per_group_and_redraws():
    groups = np.repeat([0, 1, 2], [10, 3, 7])
    sampler = _CapPerGroupSampler(groups, cap=4, seed=0)
    first, second = list(sampler), list(sampler)
    assert len(first) == len(sampler) == 4 + 3 + 4
    assert np.bincount(groups[first]).tolist() == [4, 3, 4]
    assert first != second and len(set(first)) == len(first)


def test_early_stopping_holds_out_whole_groups(spectrograms, data):
    X = spectrograms.images
    y = np.repeat(data.target, spectrograms.n_cycles)
    groups = spectrograms.recording_index
    clf = ResNetClassifier(
        **{**FAST, "max_epochs": 2}, early_stopping=1, validation_fraction=0.3
    ).fit(X, y, groups=groups)
    held_out = np.isin(groups, clf.validation_groups_)
    assert 0 < held_out.sum() < len(X)
    # skorch saw exactly the held-out recordings' cycles as validation, the rest
    # as training: no recording is split between the two
    epoch = clf.net_.history[-1]
    n_train = sum(b["train_batch_size"] for b in epoch["batches"] if "train_loss" in b)
    n_valid = sum(b["valid_batch_size"] for b in epoch["batches"] if "valid_loss" in b)
    assert (n_train, n_valid) == ((~held_out).sum(), held_out.sum())
    assert np.isfinite(epoch["valid_loss"])
    # one group per class: the one held out leaves nothing of its class to
    # train on (balanced class weights then failed in a cryptic way)
    with pytest.raises(ValueError, match=r"held out every group of class [01]"):
        ResNetClassifier(**FAST, early_stopping=1, validation_fraction=0.5).fit(
            X, y, groups=y
        )


def test_class_weight_balanced_reaches_the_loss(spectrograms, data):
    X = spectrograms.images[:30]
    y = np.array([0] * 24 + [1] * 6)
    clf = ResNetClassifier(**FAST, class_weight="balanced").fit(X, y)
    weight = clf.net_.criterion_.weight.numpy()
    np.testing.assert_allclose(weight, [30 / 48, 30 / 12])
    # capped at 2 cycles a recording, the loss sees 2 normal recordings of 12
    # cycles and 3 stenotic of 2: 4 cycles against 6 an epoch, not 24 against 6
    recordings = np.repeat([0, 1, 2, 3, 4], [12, 12, 2, 2, 2])
    capped = ResNetClassifier(**FAST, class_weight="balanced", max_cycles_per_group=2)
    capped.fit(X, y, recordings=recordings)
    weight = capped.net_.criterion_.weight.numpy()
    np.testing.assert_allclose(weight, [10 / 8, 10 / 12])
    drawn = np.bincount(y[list(capped.net_.iterator_train__sampler)])
    np.testing.assert_allclose(weight[0] * drawn[0], weight[1] * drawn[1])


@pytest.mark.parametrize(
    "dtype, message",
    [(torch.float32, "NaN or infinite"), (torch.int64, "torch.int64 values")],
)
def test_a_damaged_weights_file_is_refused_before_training(
    tmp_path, spectrograms, dtype, message
):
    """A NaN in a backbone surfaced after the whole fit as "training diverged:
    lower lr"; integer weights were cast without a word (a layer of zeros)."""
    state = CycleResNet("resnet18").state_dict()
    key = "net.layer2.0.conv1.weight"
    state[key] = state[key].to(dtype)
    if dtype.is_floating_point:
        state[key].view(-1)[0] = float("nan")
    path = tmp_path / "weights.pt"
    torch.save(state, path)
    clf = ResNetClassifier(**FAST, weights_path=str(path))
    with pytest.raises(
        WeightsFileError, match=f"layer2.0.conv1.weight holds {message}"
    ):
        clf.fit(spectrograms.images[:8], [0, 1] * 4)
    assert not hasattr(clf, "net_")


def test_local_weights_file_is_loaded(tmp_path, spectrograms, data):
    donor = CycleResNet("resnet18")
    path = tmp_path / "weights.pt"
    torch.save(donor.state_dict(), path)
    clf = ResNetClassifier(
        **{**FAST, "max_epochs": 1, "lr": 1e-12}, weights_path=str(path)
    )
    y = np.repeat(data.target, spectrograms.n_cycles)
    clf.fit(spectrograms.images, y)
    got = clf.net_.module_.net.layer1[0].conv1.weight
    torch.testing.assert_close(got, donor.net.layer1[0].conv1.weight)


def test_recording_classifier_with_logistic_regression(spectrograms, data):
    clf = RecordingClassifier(LogisticRegression(C=0.01, max_iter=5000))
    clf.fit(spectrograms, data.target)
    proba = clf.predict_proba(spectrograms)
    assert proba.shape == (len(data.target), 2)
    cycle_proba, rec = clf.predict_cycle_proba(spectrograms)
    # the recording probability is the mean of its cycles' probabilities
    for i in range(len(data.target)):
        np.testing.assert_allclose(proba[i], cycle_proba[rec == i].mean(axis=0))
    assert clf.predict(spectrograms).tolist() == clf.classes_[proba.argmax(1)].tolist()
    votes = RecordingClassifier(
        LogisticRegression(C=0.01, max_iter=5000), aggregate="vote"
    ).fit(spectrograms, data.target)
    # a vote share is a whole number of cycles out of the recording's cycles
    shares = votes.predict_proba(spectrograms)[:, 1] * spectrograms.n_cycles
    np.testing.assert_allclose(shares, np.round(shares), atol=1e-9)


def test_recording_without_cycles_is_named(spectrograms, data):
    bags = list(spectrograms)
    bags[3] = bags[3][:0]
    empty = Spectrograms.from_bags(bags, names=[f"r{i}.wav" for i in range(len(bags))])
    clf = RecordingClassifier(LogisticRegression(C=0.01, max_iter=5000))
    with pytest.raises(
        RecordingError, match=r"no heart cycle was found in r3\.wav.*check the sample"
    ):
        clf.fit(empty, data.target)
    clf.fit(spectrograms, data.target)
    with pytest.raises(RecordingError, match=r"r3\.wav"):
        clf.predict_proba(empty)
    clf.set_params(on_empty="prior")
    with pytest.warns(UserWarning, match="r3.wav"):
        proba = clf.predict_proba(empty)
    np.testing.assert_allclose(proba[3], clf.class_prior_)


def test_a_feature_matrix_is_not_taken_for_bags_of_cycles(data):
    X = np.random.default_rng(0).random((len(data.target), 3))
    clf = RecordingClassifier(LogisticRegression())
    with pytest.raises(TypeError, match=r"recording 0 is an array of shape \(3,\)"):
        clf.fit(X, data.target)
    # one cycle per recording, and a recording without one given as []
    bags = [row[None, :] for row in X]
    clf.fit(bags, data.target)
    bags[1] = []
    with pytest.warns(UserWarning, match="no heart cycle was found in recording 1"):
        proba = clf.set_params(on_empty="prior").predict_proba(bags)
    np.testing.assert_allclose(proba[1], clf.class_prior_)
    with pytest.warns(UserWarning, match="no heart cycle was found in recording 0"):
        np.testing.assert_allclose(clf.predict_proba([[]]), [clf.class_prior_])
    # a dict would give its keys, each a bag "of shape ()"
    with pytest.raises(TypeError, match=r"got dict: pass list\(X\.values\(\)\)"):
        clf.predict({"a.wav": bags[0]})


def test_searches_and_pipelines_as_cycle_estimators_get_recordings_and_weights(
    spectrograms, data
):
    """A search over cycles must fold by recording (its cycles are near
    duplicates), and a pipeline's last step takes the weights."""
    seen = []

    class Folds(GroupKFold):
        def split(self, X, y=None, groups=None):
            seen.append(groups)
            return super().split(X, y, groups)

    lr = LogisticRegression(C=0.01, max_iter=5000)
    search = GridSearchCV(lr, {"C": [0.01, 0.1]}, cv=Folds(2))
    RecordingClassifier(search).fit(spectrograms, data.target)
    np.testing.assert_array_equal(seen[0], spectrograms.recording_index)
    # under metadata routing, what the inner steps request reaches them
    weights = np.linspace(1, 3, len(data.target))
    with sklearn.config_context(enable_metadata_routing=True):
        routed = GridSearchCV(lr, {"C": [0.01, 0.1]}, cv=Folds(2))
        RecordingClassifier(routed).fit(spectrograms, data.target)
        np.testing.assert_array_equal(seen[1], spectrograms.recording_index)
        asks = make_pipeline(
            StandardScaler().set_fit_request(sample_weight=False),
            clone(lr).set_fit_request(sample_weight=True),
        )
        routed_fit = RecordingClassifier(asks).fit(
            spectrograms, data.target, sample_weight=weights
        )
        with pytest.raises(TypeError, match=r"set_fit_request\(sample_weight=True"):
            RecordingClassifier(make_pipeline(StandardScaler(), lr)).fit(
                spectrograms, data.target, sample_weight=weights
            )

    piped = make_pipeline(StandardScaler(), lr)
    clf = RecordingClassifier(piped).fit(
        spectrograms, data.target, sample_weight=weights
    )
    cycles = spectrograms.images.reshape(len(spectrograms.images), -1)
    by_hand = clone(piped).fit(
        cycles,
        np.repeat(data.target, spectrograms.n_cycles),
        logisticregression__sample_weight=np.repeat(weights, spectrograms.n_cycles),
    )
    np.testing.assert_allclose(
        clf.estimator_.predict_proba(cycles), by_hand.predict_proba(cycles)
    )
    np.testing.assert_allclose(
        routed_fit.estimator_.predict_proba(cycles), by_hand.predict_proba(cycles)
    )


def test_an_estimator_without_sklearn_tags_gets_flat_cycles(spectrograms, data):
    class Plain:  # clonable, with fit and predict_proba; no BaseEstimator
        def get_params(self, deep=True):
            return {}

        def fit(self, X, y):
            self.model = LogisticRegression(C=0.01, max_iter=5000).fit(X, y)
            self.classes_ = self.model.classes_
            return self

        def predict_proba(self, X):
            return self.model.predict_proba(X)

    clf = RecordingClassifier(Plain())
    proba = clf.fit(spectrograms, data.target).predict_proba(spectrograms)
    # each cycle a row of its image's pixels, the recording the mean of its rows
    flat = spectrograms.images.reshape(len(spectrograms.images), -1)
    cycles = np.repeat(data.target, spectrograms.n_cycles)
    by_hand = LogisticRegression(C=0.01, max_iter=5000).fit(flat, cycles)
    per_cycle = by_hand.predict_proba(flat)
    starts = spectrograms.offsets[:-1]
    expected = np.add.reduceat(per_cycle, starts) / spectrograms.n_cycles[:, None]
    np.testing.assert_allclose(proba, expected, rtol=1e-6)


def test_a_network_inside_a_search_still_gets_images(spectrograms, data):
    """A search's own tags do not say the network takes images: flattened,
    the network refused them."""
    search = GridSearchCV(
        ResNetClassifier(**FAST), {"lr": [1e-3]}, cv=GroupKFold(2), error_score="raise"
    )
    clf = RecordingClassifier(search).fit(spectrograms, data.target)
    assert clf.predict_proba(spectrograms).shape == (len(data.target), 2)
    # a pipeline takes what its first step takes
    flat = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    fitted = RecordingClassifier(flat).fit(spectrograms, data.target)
    assert fitted.predict_proba(spectrograms).shape == (len(data.target), 2)


def test_groups_reach_the_network_as_cycle_groups(spectrograms, data):
    seen = {}

    class Spy(LogisticRegression):
        def fit(self, X, y, groups=None):
            seen["groups"] = groups
            return super().fit(X, y)

    RecordingClassifier(Spy(C=0.01, max_iter=5000)).fit(
        spectrograms, data.target, groups=data.groups
    )
    assert (
        seen["groups"].tolist()
        == np.repeat(data.groups, spectrograms.n_cycles).tolist()
    )


def test_pipeline_fit_predict_clone_pickle(fitted_resnet18, data):
    pipe = fitted_resnet18
    proba = pipe.predict_proba(data.recordings)
    assert proba.shape == (len(data.target), 2)
    restored = pickle.loads(pickle.dumps(pipe))
    np.testing.assert_array_equal(restored.predict_proba(data.recordings), proba)
    fresh = clone(pipe)
    assert not hasattr(fresh[-1], "estimator_")
    assert fresh.get_params()["classifier__estimator__arch"] == "resnet18"


def test_cross_validate_by_patient_with_clinical_scorers(data):
    # the network itself: cross_validate is how users evaluate it
    result = cross_validate(
        fast_pipeline(),
        data.recordings,
        data.target,
        groups=data.groups,
        cv=GroupKFold(2),
        scoring=clinical_scoring(),
        error_score="raise",
        return_estimator=True,
        return_indices=True,
    )
    folds = zip(
        result["estimator"],
        result["indices"]["train"],
        result["indices"]["test"],
        strict=True,
    )
    for k, (model, train, test) in enumerate(folds):
        assert not set(data.groups[train]) & set(data.groups[test])
        X, y = data.recordings[test], data.target[test]
        assert result["test_sensitivity"][k] == sensitivity_score(y, model.predict(X))
        assert result["test_specificity"][k] == specificity_score(y, model.predict(X))
        auc = roc_auc_score(y, model.predict_proba(X)[:, 1])
        assert result["test_roc_auc"][k] == pytest.approx(auc)


@pytest.mark.filterwarnings("ignore:Only one class is present")
def test_balanced_accuracy_scorer_is_undefined_on_a_one_class_fold():
    # scikit-learn's balanced_accuracy would give the one recall there (1.0)
    # and lift the mean over folds; the reports' definition gives NaN
    X, y = np.arange(6.0)[:, None], np.array([0, 0, 0, 1, 1, 0])
    result = cross_validate(
        LogisticRegression(),
        X,
        y,
        groups=np.repeat([0, 1, 2], 2),
        cv=GroupKFold(3),
        scoring=clinical_scoring(),
        error_score="raise",
    )
    ba = result["test_balanced_accuracy"]
    sens, spec = result["test_sensitivity"], result["test_specificity"]
    assert np.isnan(sens).sum() == 1 and np.isnan(ba).sum() == 1
    np.testing.assert_allclose(ba, (sens + spec) / 2)


def test_grid_search_over_signal_and_network_parameters(data):
    pipe = make_seed_pipeline(max_epochs=1, device="cpu", random_state=0)
    pipe.set_params(classifier__estimator=LogisticRegression(C=0.01, max_iter=5000))
    grid = GridSearchCV(
        pipe,
        {"lowpass__cutoff": [800.0, 1000.0], "classifier__estimator__C": [0.1, 1.0]},
        cv=GroupKFold(2),
        scoring="neg_log_loss",  # unlike the AUC of 4 recordings, it seldom ties
        error_score="raise",
    ).fit(data.recordings, data.target, groups=data.groups)
    # each parameter reached its step in every candidate's clone
    assert len(set(grid.cv_results_["mean_test_score"])) == 4
    net_grid = GridSearchCV(
        fast_pipeline(),
        {"classifier__estimator__lr": [1e-3, 1e-4]},
        cv=GroupKFold(2),
        scoring="neg_log_loss",
        refit=False,
        error_score="raise",
    ).fit(data.recordings, data.target, groups=data.groups)
    assert len(set(net_grid.cv_results_["mean_test_score"])) == 2


def test_pipeline_inside_calibration(data):
    pipe = make_seed_pipeline()
    pipe.set_params(classifier__estimator=LogisticRegression(C=0.01, max_iter=5000))
    # without metadata routing, a grouped cv reaches CalibratedClassifierCV as splits
    splits = list(GroupKFold(2).split(data.recordings, data.target, data.groups))
    calibrated = CalibratedClassifierCV(pipe, cv=splits, method="sigmoid")
    calibrated.fit(data.recordings, data.target)
    proba = calibrated.predict_proba(data.recordings)
    # the mean of its calibrated pipelines, one per split
    each = [
        c.predict_proba(data.recordings) for c in calibrated.calibrated_classifiers_
    ]
    assert len(each) == 2
    np.testing.assert_allclose(proba, np.mean(each, axis=0))
    assert np.ptp(proba[:, 1]) > 0.01
    oof = cross_val_predict(
        pipe,
        data.recordings,
        data.target,
        groups=data.groups,
        cv=GroupKFold(2),
        method="predict_proba",
    )
    # each recording answered by the pipeline fitted without its patients
    for train, test in splits:
        alone = clone(pipe).fit(data.recordings[train], data.target[train])
        np.testing.assert_allclose(
            oof[test], alone.predict_proba(data.recordings[test])
        )


def test_pipeline_threshold_tuned_for_a_sensitivity(data):
    pipe = make_seed_pipeline()
    pipe.set_params(classifier__estimator=LogisticRegression(C=0.01, max_iter=5000))
    splits = list(GroupKFold(2).split(data.recordings, data.target, data.groups))
    scoring = make_scorer(specificity_at_sensitivity_score, min_sensitivity=0.9)
    tuned = TunedThresholdClassifierCV(
        pipe, scoring=scoring, cv=splits, store_cv_results=True
    ).fit(data.recordings, data.target)
    # the chosen threshold reaches the sensitivity on average over the folds'
    # held-out recordings (the metric's own values are tested exactly in
    # test_evaluation); a threshold chosen for specificity alone reaches 0.67
    oof = cross_val_predict(
        pipe, data.recordings, data.target, cv=splits, method="predict_proba"
    )[:, 1]
    reached = [
        sensitivity_score(data.target[test], oof[test] >= tuned.best_threshold_)
        for _, test in splits
    ]
    assert tuned.best_score_ >= 0 and np.mean(reached) >= 0.9
    proba = tuned.estimator_.predict_proba(data.recordings)[:, 1]
    np.testing.assert_array_equal(
        tuned.predict(data.recordings), (proba >= tuned.best_threshold_).astype(int)
    )


def test_shortcuts_set_the_network():
    pipe = make_stenosis_pipeline(
        max_epochs=3,
        batch_size=8,
        lr=1e-4,
        device="cpu",
        random_state=7,
        cut__threshold=0.8,
    )
    net = pipe.named_steps["classifier"].estimator
    assert (net.max_epochs, net.batch_size, net.lr, net.device, net.random_state) == (
        3,
        8,
        1e-4,
        "cpu",
        7,
    )
    assert pipe.named_steps["cut"].threshold == 0.8
    seed = make_seed_pipeline().named_steps["classifier"].estimator
    assert (seed.max_epochs, seed.batch_size, seed.lr, seed.optimizer) == (
        50,
        80,
        1e-3,
        "adam",
    )
    assert isinstance(make_seed_pipeline(), Pipeline)
    # n_jobs reaches every signal step, and only them
    for factory, n_steps in [(make_stenosis_pipeline, 6), (make_seed_pipeline, 4)]:
        pipe = factory(n_jobs=-1, smooth__n_jobs=1)
        jobs = {name: step.n_jobs for name, step in pipe.steps[:-1]}
        assert len(jobs) == n_steps
        assert jobs.pop("smooth") == 1 and set(jobs.values()) == {-1}
        assert "n_jobs" not in pipe[-1].get_params()


def test_min_cycles_flags_recordings_with_too_few(spectrograms, data):
    few = spectrograms.n_cycles.min()
    clf = RecordingClassifier(
        LogisticRegression(C=0.01, max_iter=5000), min_cycles=few + 1
    )
    with pytest.raises(RecordingError, match=f"fewer than {few + 1} heart cycles"):
        clf.fit(spectrograms, data.target)
    clf.set_params(min_cycles=1).fit(spectrograms, data.target)
    clf.set_params(min_cycles=few + 1, on_empty="prior")
    with pytest.warns(UserWarning, match="returned the class prior"):
        proba = clf.predict_proba(spectrograms)
    flagged = spectrograms.n_cycles < few + 1
    np.testing.assert_allclose(
        proba[flagged], np.tile(clf.class_prior_, (flagged.sum(), 1))
    )
    # every recording short: both messages name five and count the rest
    n = len(spectrograms)
    assert n > 5
    five = ", ".join(spectrograms.name(i) for i in range(5))
    listed = f"found in {five} and {n - 5} more"
    clf.set_params(min_cycles=spectrograms.n_cycles.max() + 1)
    with pytest.warns(UserWarning, match=f"{listed}: returned the class prior"):
        clf.predict_proba(spectrograms)
    with pytest.raises(RecordingError, match=f"{listed}. Check the recording"):
        clf.set_params(on_empty="error").predict_proba(spectrograms)


def test_parallel_signal_steps_give_the_sequential_model(fitted_resnet18, data):
    pipe = fast_pipeline()
    pipe.set_params(
        lowpass__n_jobs=2, smooth__n_jobs=2, cut__n_jobs=2, spectrogram__n_jobs=2
    )
    pipe.fit(data.recordings, data.target)
    np.testing.assert_array_equal(
        pipe.predict_proba(data.recordings),
        fitted_resnet18.predict_proba(data.recordings),
    )


def test_standardisation_is_learned_and_saved_in_the_module(spectrograms, data):
    X = spectrograms.images[:40]
    y = np.array([0, 1] * 20)
    clf = ResNetClassifier(**FAST).fit(X, y)
    module = clf.net_.module_
    assert module.input_mean.item() == pytest.approx(float(X.mean()), rel=1e-5)
    assert module.input_std.item() == pytest.approx(float(X.std()), rel=1e-5)
    assert {"input_mean", "input_std"} <= set(module.state_dict())
    raw = ResNetClassifier(**FAST, standardize=False).fit(X, y)
    assert raw.net_.module_.input_std.item() == 1.0


def test_augmentation_only_while_training():
    torch.manual_seed(0)
    net = CycleResNet("resnet18", augment=True, input_mean=0.5, input_std=2.0).eval()
    x = torch.randn(3, 1, 40, 100)
    with torch.no_grad():
        # eval: the standardised batch alone, no shift, gain or mask
        torch.testing.assert_close(net(x), net.net((x - 0.5) / 2.0))
        net.train()
        assert not torch.allclose(net(x), net(x))


def test_augment_batch_rolls_time_and_masks():
    from vascular_sklearn.network import augment_batch

    torch.manual_seed(0)
    ramp = torch.arange(100.0).expand(64, 1, 40, 100).clone()
    out = augment_batch(ramp, max_shift=0.5, max_gain=0.0, noise=0.0, max_mask=0.15)
    # each image is a circular shift of the ramp, some entries masked to 0
    for image in out[:, 0]:
        kept = image != 0
        first = int(image[kept][0] - torch.nonzero(kept)[0, 1]) % 100
        expected = (torch.arange(100.0) + first) % 100
        assert torch.equal(image[kept], expected.expand(40, 100)[kept])
    masked = (out == 0).float().mean().item()
    assert 0.0 < masked < 0.3


def test_cycle_cap_counts_recordings_while_early_stopping_holds_out_patients(
    spectrograms, data
):
    X = spectrograms.images
    y = np.repeat(data.target, spectrograms.n_cycles)
    patients = np.repeat(data.groups, spectrograms.n_cycles)
    recordings = spectrograms.recording_index
    clf = ResNetClassifier(
        **FAST, early_stopping=1, validation_fraction=0.25, max_cycles_per_group=2
    ).fit(X, y, groups=patients, recordings=recordings)
    held_out = np.isin(patients, clf.validation_groups_)
    assert set(clf.validation_groups_) <= set(data.groups)
    n_train = sum(
        b["train_batch_size"]
        for b in clf.net_.history[-1]["batches"]
        if "train_loss" in b
    )
    # two cycles of each training recording, not two per patient
    assert n_train == 2 * len(np.unique(recordings[~held_out]))


def test_max_cycles_scores_evenly_spaced_cycles(spectrograms, data):
    clf = RecordingClassifier(
        make_pipeline(StandardScaler(), LogisticRegression(C=0.01, max_iter=3000))
    ).fit(spectrograms, data.target)
    every, _ = clf.predict_cycle_proba(spectrograms)
    capped = clone(clf).set_params(max_cycles=3).fit(spectrograms, data.target)
    some, rec3 = capped.predict_cycle_proba(spectrograms)
    assert np.bincount(rec3).tolist() == np.minimum(spectrograms.n_cycles, 3).tolist()
    first = spectrograms.offsets[0]
    n = spectrograms.n_cycles[0]
    picked = np.linspace(0, n - 1, 3).round().astype(int)
    np.testing.assert_allclose(some[:3], every[first + picked])
    np.testing.assert_allclose(
        capped.predict_proba(spectrograms)[0], every[first + picked].mean(axis=0)
    )
    with pytest.raises(ValueError, match="max_cycles=2 is below min_cycles=3"):
        capped.set_params(max_cycles=2, min_cycles=3).fit(spectrograms, data.target)


def _weighable_bags():
    rng = np.random.default_rng(0)
    y = np.arange(12) % 2
    bags = [rng.normal(loc=c, size=(3 + k % 4, 3)) for k, c in enumerate(y)]
    return bags, y


def _precise_lr():
    return RecordingClassifier(LogisticRegression(tol=1e-12, max_iter=10_000))


def test_recording_weight_reaches_each_of_its_cycles():
    bags, y = _weighable_bags()

    def fit(bags, y, **kwargs):
        return _precise_lr().fit(bags, y, **kwargs)

    weight = np.ones(len(y))
    weight[[2, 5]] = 0.0
    keep = weight > 0
    weighted = fit(bags, y, sample_weight=weight)
    dropped = fit([b for b, k in zip(bags, keep, strict=True) if k], y[keep])
    # a recording weighed 0 is a recording left out, cycles and all
    np.testing.assert_allclose(
        weighted.estimator_.coef_, dropped.estimator_.coef_, rtol=1e-6
    )
    np.testing.assert_allclose(weighted.class_prior_, dropped.class_prior_)
    with pytest.raises(TypeError, match=r"KNeighborsClassifier\.fit does not take"):
        RecordingClassifier(KNeighborsClassifier()).fit(bags, y, sample_weight=weight)
    with pytest.raises(ValueError, match="at least one non-zero"):
        fit(bags, y, sample_weight=0 * weight)


def test_recordings_under_min_cycles_train_as_ones_without_cycles():
    bags, y = _weighable_bags()  # 3 to 6 cycles per recording
    short = np.array([len(b) < 5 for b in bags])
    capped = _precise_lr().set_params(min_cycles=5, on_empty="prior").fit(bags, y)
    emptied = [b[:0] if s else b for b, s in zip(bags, short, strict=True)]
    reference = _precise_lr().set_params(on_empty="prior").fit(emptied, y)
    np.testing.assert_allclose(
        capped.estimator_.coef_, reference.estimator_.coef_, rtol=1e-6
    )
    np.testing.assert_allclose(capped.class_prior_, reference.class_prior_)


def test_failed_fit_leaves_nothing_that_looks_fitted():
    bags, y = _weighable_bags()
    clf = RecordingClassifier(LogisticRegression())
    # the only cycles of class 1 are in recordings too short to train on
    with pytest.raises(ValueError, match="every class must have cycles"):
        clf.set_params(min_cycles=4, on_empty="prior").fit(
            [b[:3] if c else b for b, c in zip(bags, y, strict=True)], y
        )
    with pytest.raises(NotFittedError):
        clf.predict(bags)
    # nor an earlier fit's model, answering as if it were the new one
    clf.set_params(min_cycles=1).fit(bags, y)
    with pytest.raises(ValueError, match="one label per recording"):
        clf.fit(bags, y[:-1])
    with pytest.raises(NotFittedError):
        clf.predict(bags)
    assert not hasattr(clf, "class_prior_")


def test_training_needs_cycles_and_cycles_of_every_class():
    bags, y = _weighable_bags()
    clf = RecordingClassifier(DummyClassifier(), on_empty="prior")
    with pytest.raises(RecordingError, match="no recording has a heart cycle"):
        clf.fit([b[:0] for b in bags], y)
    # the stenotic recordings without cycles: a one-class cycle model
    # would call every recording normal
    one_class = [b[:0] if c else b for b, c in zip(bags, y, strict=True)]
    with pytest.raises(ValueError, match=r"classes with cycles: \[0\]"):
        clf.fit(one_class, y)


def test_max_cycles_lowered_below_min_cycles_after_fit_is_refused():
    bags, y = _weighable_bags()
    clf = RecordingClassifier(LogisticRegression(), min_cycles=2).fit(bags, y)
    clf.set_params(max_cycles=1)
    # not TooFewCyclesError naming every recording, each with enough cycles
    with pytest.raises(ValueError, match="max_cycles=1 is below min_cycles=2"):
        clf.predict(bags)
    with pytest.raises(ValueError, match="below min_cycles"):
        clf.set_params(on_empty="prior").predict_proba(bags)


def _tiny_cycles():
    X = np.random.default_rng(0).random((8, 1, 16, 16), dtype=np.float32)
    return X, np.array([0, 1] * 4)


def test_network_takes_a_column_of_labels_and_refuses_a_table():
    X, y = _tiny_cycles()
    tiny = {**FAST, "batch_size": 4}
    with pytest.warns(DataConversionWarning):
        column = ResNetClassifier(**tiny).fit(X, y[:, None])
    np.testing.assert_array_equal(
        column.predict_proba(X), ResNetClassifier(**tiny).fit(X, y).predict_proba(X)
    )
    # not torch's "0D or 1D target tensor expected, multi-target not supported"
    with pytest.raises(ValueError, match="1d array"):
        ResNetClassifier(**tiny).fit(X, np.stack([y, 1 - y], axis=1))
    # not an IndexError from naming the class of no cycle
    with pytest.raises(ValueError, match="no cycles"):
        ResNetClassifier(**tiny).fit(X[:0], y[:0])


def test_network_answers_no_cycles_with_no_rows():
    X, y = _tiny_cycles()
    net = ResNetClassifier(**{**FAST, "batch_size": 4})
    net.fit(X, np.where(y == 1, "stenosis", "normal"))
    # not numpy's "need at least one array to concatenate" from skorch
    proba = net.predict_proba(X[:0])
    assert proba.shape == (0, 2) and proba.dtype == np.float64
    assert net.predict(X[:0]).shape == (0,)


def test_network_refusals_are_said_in_words(monkeypatch):
    """Each was an error from deep inside torch, or an AttributeError in
    place of the message meant for it."""
    X, y = _tiny_cycles()
    tiny = {**FAST, "batch_size": 4}
    one_class = np.array(["normal"] * 8, dtype=object)  # as a pandas column
    with pytest.raises(ValueError, match="all 8 cycles are 'normal'"):
        ResNetClassifier(**tiny).fit(X, one_class)
    words, groups = np.array(["a"] * 4 + ["b"] * 4, dtype=object), np.arange(8) // 4
    with pytest.raises(ValueError, match=r"every group of class '[ab]'"):
        ResNetClassifier(**tiny, early_stopping=1).fit(X, words, groups=groups)
    with pytest.raises(ValueError, match="'gpu' is not a device name"):
        ResNetClassifier(**{**tiny, "device": "gpu"}).fit(X, y)
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    with pytest.raises(ValueError, match="'cuda': 0 CUDA GPUs are visible"):
        ResNetClassifier(**{**tiny, "device": "cuda"}).fit(X, y)
    with pytest.raises(ValueError, match="groups should be a 1d array"):
        ResNetClassifier(**tiny).fit(X, y, groups=np.zeros((8, 2)))


def test_a_diverged_fit_is_refused_not_read_as_the_first_class():
    X, y = _tiny_cycles()
    net = ResNetClassifier(**{**FAST, "batch_size": 4, "optimizer": "sgd", "lr": 1e12})
    # its probabilities were NaN, and predict called every cycle classes_[0]
    with pytest.raises(FloatingPointError, match="training diverged"):
        net.fit(X, y)
    with pytest.raises(NotFittedError):
        net.predict(X)
    # finite weights, BatchNorm's running variance overflowed: NaN all the same
    with pytest.raises(FloatingPointError, match="training diverged"):
        net.set_params(lr=3000.0, max_epochs=2).fit(X, y)


def test_network_groups_and_recordings_as_columns_are_taken_as_y_is():
    X, y = _tiny_cycles()
    groups = np.repeat(np.arange(4), 2)
    params = {**FAST, "batch_size": 4, "max_cycles_per_group": 1}
    flat = ResNetClassifier(**params).fit(X, y, groups=groups)
    with pytest.warns(DataConversionWarning):  # was one cycle drawn per batch
        column = ResNetClassifier(**params).fit(X, y, groups=groups[:, None])
    np.testing.assert_array_equal(column.predict_proba(X), flat.predict_proba(X))
    with pytest.warns(DataConversionWarning):
        ResNetClassifier(**params).fit(X, y, recordings=groups[:, None])


def test_a_fit_on_the_cpu_leaves_the_gpus_generators_alone(monkeypatch):
    """torch.manual_seed seeds every GPU too, which the fit did not give back
    (on a machine without one, a seeding queued for when CUDA starts)."""
    seeded = []
    monkeypatch.setattr("torch.cuda.manual_seed_all", seeded.append)
    monkeypatch.setattr("torch.cuda.manual_seed", seeded.append)
    X, y = _tiny_cycles()
    ResNetClassifier(**{**FAST, "batch_size": 4}).fit(X, y)
    assert seeded == []


def test_accelerated_fits_with_other_precisions_follow_one_another():
    """accelerate keeps one state per process: the second fit, asking for
    bfloat16 after float32, raised "AcceleratorState has already been
    initialized and cannot be changed"."""
    X, y = _tiny_cycles()
    params = {**FAST, "batch_size": 4, "accelerate": True}
    first = ResNetClassifier(**params).fit(X, y)
    assert first.net_.accelerator.mixed_precision == "no"
    second = ResNetClassifier(**params, autocast=True).fit(X, y)
    assert second.net_.accelerator.mixed_precision == "bf16"


def test_a_failed_network_fit_leaves_nothing_that_looks_fitted():
    X = np.random.default_rng(0).random((8, 1, 16, 16), dtype=np.float32)
    net = ResNetClassifier(**{**FAST, "batch_size": 4})
    with pytest.raises(ValueError, match="one entry per cycle"):
        net.fit(X, [0, 1] * 4, groups=[0, 1, 2])
    with pytest.raises(NotFittedError):
        net.predict(X)
    # nor the network of an earlier fit under the new fit's classes
    net.fit(X, [0, 1] * 4)
    with pytest.raises(ValueError, match="one entry per cycle"):
        net.fit(X, list("abcabcab"), groups=[0, 1])
    with pytest.raises(NotFittedError):
        net.predict(X)


def test_a_tied_vote_is_stenotic_as_the_reports_count_it():
    clf = RecordingClassifier(DecisionTreeClassifier(), aggregate="vote")
    clf.fit([np.array([[0.0]]), np.array([[1.0]])], ["normal", "stenosis"])
    tied = [np.array([[0.0], [1.0]])]
    assert clf.predict_proba(tied).tolist() == [[0.5, 0.5]]
    assert clf.predict(tied).tolist() == ["stenosis"]


def test_three_classes_median_and_no_decision_function():
    train = [np.array([[0.0], [0.1]]), np.array([[1.0], [1.1]]), np.array([[2.0]])]
    clf = RecordingClassifier(DecisionTreeClassifier(), aggregate="median")
    clf.fit(train, [0, 1, 2])
    # one sure cycle of each class: every median is 0, the cycles' mean answers
    proba = clf.predict_proba([np.array([[0.0], [1.0], [2.0]])])
    np.testing.assert_allclose(proba, [[1 / 3, 1 / 3, 1 / 3]])
    assert not hasattr(clf, "decision_function")
    assert hasattr(RecordingClassifier(LogisticRegression()), "decision_function")


def test_confounder_weights_come_from_the_training_recordings_only():
    bags, y = _weighable_bags()
    site = np.array(list("aaabababbbbb"))
    pairs = [f"{s}-{c}" for s, c in zip(site, y, strict=True)]
    by_hand = _precise_lr().fit(
        bags, y, sample_weight=compute_sample_weight("balanced", pairs)
    )
    inside = _precise_lr().fit(bags, y, confounder=site)
    np.testing.assert_allclose(inside.estimator_.coef_, by_hand.estimator_.coef_)
    # in cross-validation the confounder is cut to each training fold, and the
    # weights are balanced over those recordings alone
    groups = np.arange(12) // 2
    pipe = make_pipeline("passthrough", _precise_lr())
    params = {"recordingclassifier__confounder": site}
    splits = list(GroupKFold(3).split(bags, y, groups))
    result = evaluate_by_patient(pipe, bags, y, groups, cv=splits, params=params)
    for train, test in splits:
        fold = _precise_lr().fit(
            [bags[i] for i in train], y[train], confounder=site[train]
        )
        expected = fold.predict_proba([bags[i] for i in test])[:, 1]
        np.testing.assert_allclose(result.recording_proba[test], expected)
    # scikit-learn's own cross-validation slices it the same way
    proba = cross_val_predict(
        pipe, bags, y, cv=splits, method="predict_proba", params=params
    )
    np.testing.assert_allclose(proba[:, 1], result.recording_proba)
    with pytest.raises(ValueError, match="confounder has shape"):
        _precise_lr().fit(bags, y, confounder=site[:5])


def test_confounder_leaves_the_prior_and_its_errors_name_it():
    """The prior of a recording without cycles was the share of (device, label)
    pairs per class, not of the labels; a confounder with gaps (a pandas
    column's NaN) failed inside np.unique; a classifier without
    sample_weight was told to leave out a sample_weight never given."""
    bags, y = _weighable_bags()
    y = np.array([0] * 8 + [1] * 4)
    site = np.array(list("aaaaaaaaabbb"))  # the pairs: a-0, a-1, b-1
    clf = RecordingClassifier(LogisticRegression(), on_empty="prior")
    clf.fit(bags, y, confounder=site)
    np.testing.assert_allclose(clf.class_prior_, [8 / 12, 4 / 12])
    with pytest.warns(UserWarning, match="returned the class prior"):
        assert clf.predict([np.empty((0, 3))]).tolist() == [0]
    gaps = site.astype(object)
    gaps[-1] = np.nan
    with pytest.raises(ValueError, match="confounder is missing for 1 recording"):
        clf.fit(bags, y, confounder=gaps)
    # as a list, numpy made the NaN the text "nan": a site of its own
    with pytest.raises(ValueError, match="confounder is missing for 1 recording"):
        clf.fit(bags, y, confounder=gaps.tolist())
    with pytest.raises(TypeError, match=r"leave confounder \(it weighs"):
        RecordingClassifier(KNeighborsClassifier(1)).fit(bags, y, confounder=site)


def test_text_labels_of_object_dtype_are_named_in_refusals():
    """As a pandas column of text gives them: str has no .item()."""
    bags, _ = _weighable_bags()
    one = np.array(["normal"] * 12, dtype=object)
    with pytest.raises(ValueError, match="recordings are labelled 'normal'"):
        _precise_lr().fit(bags, one)
    both = np.array(["normal", "stenosis"] * 6, dtype=object)
    with pytest.raises(ValueError, match="class 'stenosis' has none"):
        _precise_lr().fit(bags, both, sample_weight=[1, 0] * 6)


def test_a_missing_patient_id_is_refused_naming_where():
    # numpy's sort of None among text ("'<' not supported between NoneType
    # and str") was the message, from the early-stopping split or the sampler
    X = np.zeros((8, 1, 40, 100), np.float32)
    ids = np.array(["p1", "p1", "p2", "p2", None, None, "p3", "p3"], dtype=object)
    net = ResNetClassifier("resnet18", max_epochs=1, device="cpu", early_stopping=1)
    with pytest.raises(ValueError, match=r"groups hold no id .* cycles \[4, 5\] "):
        net.fit(X, np.array([0, 1] * 4), groups=ids)
    bags = [np.zeros((2, 3))] * 4
    with pytest.raises(ValueError, match=r"no patient .* recordings \[2\] \(of 1"):
        RecordingClassifier(LogisticRegression()).fit(
            bags, [0, 1, 0, 1], groups=["a", "b", np.nan, "c"]
        )


def test_a_class_weighed_only_in_a_recording_without_cycles_is_refused():
    # its one recording weighed above 0 trains nothing: the estimator would
    # learn the other class alone and never answer this one
    rng = np.random.default_rng(0)
    y = np.array([0, 1, 0, 1, 0, 1])
    bags = [rng.normal(loc=2 * label, size=(4, 3)) for label in y]
    bags[5] = np.empty((0, 3))
    clf = RecordingClassifier(LogisticRegression(), on_empty="prior")
    with pytest.raises(ValueError, match="recording with cycles weighed above 0; cl"):
        clf.fit(bags, y, sample_weight=[1, 0, 1, 0, 1, 1.0])
    clf.fit(bags, y, sample_weight=[1, 1, 1, 0, 1, 1.0])  # one with cycles will do
    assert clf.predict(bags[:2]).tolist() == [0, 1]
    # a value set after fit is checked where it is used: "max" ran a mean
    for late in ({"aggregate": "max"}, {"on_empty": "skip"}):
        with pytest.raises(ValueError, match=f"'{next(iter(late))}' parameter"):
            clone(clf).fit(bags, y).set_params(**late).predict_proba(bags[:2])


def test_network_learns_the_rule_of_the_weighted_cycles():
    X, y, first, band = opposite_rule_cycles()
    params = {"arch": "resnet18", "max_epochs": 3, "batch_size": 16}
    params |= {"device": "cpu", "random_state": 0}
    for weighed, rule in [(first, band), (~first, ~band)]:
        clf = ResNetClassifier(**params).fit(X, y, sample_weight=weighed * 1.0)
        assert (clf.predict(X) == rule).mean() > 0.9


def test_clinical_scoring_passes_pos_label_to_specificity_too():
    """Specificity is scored with pos_label too: else string labels score NaN,
    or every label counts as negative."""
    X = np.zeros((5, 1))
    y = np.array(["normal", "normal", "normal", "stenosis", "stenosis"])
    always_stenosis = DummyClassifier(strategy="constant", constant="stenosis")
    always_stenosis.fit(X, y)
    scorers = clinical_scoring(pos_label="stenosis")
    assert scorers["sensitivity"](always_stenosis, X, y) == 1.0
    assert scorers["specificity"](always_stenosis, X, y) == 0.0
    assert scorers["balanced_accuracy"](always_stenosis, X, y) == 0.5


def test_median_aggregate_is_the_median_of_the_cycles():
    """aggregate="median" answers the cycles' median probability, not their mean."""
    bags, y = _weighable_bags()
    clf = _precise_lr().set_params(aggregate="median").fit(bags, y)
    cycle, rec = clf.predict_cycle_proba(bags)
    proba = clf.predict_proba(bags)
    for i in range(len(bags)):
        np.testing.assert_allclose(proba[i], np.median(cycle[rec == i], axis=0))
    means = np.array([cycle[rec == i].mean(axis=0) for i in range(len(bags))])
    assert not np.allclose(proba, means)  # else the check says nothing


def test_vote_counts_the_cycles_that_favour_each_class():
    """aggregate="vote" gives the share of cycles that favour each class."""
    bags, y = _weighable_bags()
    clf = _precise_lr().set_params(aggregate="vote").fit(bags, y)
    cycle, rec = clf.predict_cycle_proba(bags)
    votes = np.array([(cycle[rec == i, 1] > 0.5).mean() for i in range(len(bags))])
    np.testing.assert_allclose(clf.predict_proba(bags)[:, 1], votes)
    assert (clf.predict(bags) == y).mean() > 0.8


def test_decision_function_is_the_log_odds_that_roc_auc_ranks_by():
    """decision_function is log(p / (1 - p)): scikit-learn's "roc_auc" scorer
    (clinical_scoring's too) ranks by it first, so its sign decides the AUC."""
    bags, y = _weighable_bags()
    clf = _precise_lr().fit(bags, y)
    p = clf.predict_proba(bags)[:, 1]
    np.testing.assert_allclose(clf.decision_function(bags), np.log(p / (1 - p)))
    auc = get_scorer("roc_auc")(clf, bags, y)
    assert auc == pytest.approx(roc_auc_score(y, p)) and auc > 0.5


def test_class_prior_follows_the_recording_weights():
    """class_prior_, the answer of on_empty="prior", counts each recording by
    its sample_weight."""
    bags, y = _weighable_bags()  # six recordings of each class
    clf = _precise_lr().fit(bags, y, sample_weight=np.where(y == 1, 3.0, 1.0))
    np.testing.assert_allclose(clf.class_prior_, [0.25, 0.75])


def test_confounder_makes_every_pair_weigh_alike_given_sample_weight():
    """Given both, every (confounder, label) pair weighs the same in total and
    each recording keeps its share of its pair; one weighed 0 stays out. The
    balanced weights times sample_weight left the pair holding recordings
    weighed 0 (the coarse ones) lighter: the confounder told the label."""
    bags, y = _weighable_bags()
    site = np.array(list("aaabababbbbb"))
    weight = np.linspace(0.5, 2.0, len(y))
    weight[[0, 4]] = 0.0  # two of the pair (a, 0)
    weight[[8, 10]] = 0.0  # the whole pair (b, 0): left out, not a fourth share
    seen = {}

    class Spy(LogisticRegression):
        def fit(self, X, y, sample_weight=None):
            seen["weight"] = sample_weight
            return super().fit(X, y, sample_weight=sample_weight)

    RecordingClassifier(Spy()).fit(bags, y, sample_weight=weight, confounder=site)
    starts = np.cumsum([0] + [len(b) for b in bags[:-1]])
    given = seen["weight"][starts]  # each recording's weight, on its first cycle
    pairs = np.array([f"{s}-{c}" for s, c in zip(site, y, strict=True)])
    kept = ["a-0", "a-1", "b-1"]
    totals = [given[pairs == p].sum() for p in kept]
    np.testing.assert_allclose(totals, np.full(3, weight.sum() / 3))
    for p in kept:  # within a pair, shares as sample_weight's
        np.testing.assert_allclose(
            given[pairs == p],
            weight[pairs == p] * (given[pairs == p].sum() / weight[pairs == p].sum()),
        )
    assert given[[0, 4, 8, 10]].tolist() == [0.0] * 4
    with pytest.raises(ValueError, match="class 1 has none"):
        RecordingClassifier(Spy()).fit(bags, y, sample_weight=(y == 0) * 1.0)
    # without sample_weight, scikit-learn's balanced weights to the bit
    RecordingClassifier(Spy()).fit(bags, y, confounder=site)
    assert np.array_equal(
        seen["weight"][starts], compute_sample_weight("balanced", pairs)
    )


def test_a_recording_without_cycles_takes_no_share_of_its_pair():
    """Recordings under min_cycles train on nothing: counted in their pair's
    total, they left that pair's cycles lighter than the other pairs'."""
    bags, y = _weighable_bags()
    bags[0], bags[4] = bags[0][:1], bags[4][:1]  # two of the pair (a, 0)
    site = np.array(list("aaabababbbbb"))
    pairs = np.array([f"{s}-{c}" for s, c in zip(site, y, strict=True)])
    trains = np.ones(len(y), bool)
    trains[[0, 4]] = False
    seen = {}

    class Spy(LogisticRegression):
        def fit(self, X, y, sample_weight=None):
            seen["weight"] = sample_weight
            return super().fit(X, y, sample_weight=sample_weight)

    for weight in (None, np.linspace(0.5, 2.0, len(y))):
        model = RecordingClassifier(Spy(), min_cycles=2, on_empty="prior")
        model.fit(bags, y, sample_weight=weight, confounder=site)
        n = np.where(trains, [len(b) for b in bags], 0)
        given = seen["weight"][np.cumsum(n)[trains] - n[trains]]
        totals = [given[pairs[trains] == p].sum() for p in np.unique(pairs)]
        np.testing.assert_allclose(totals, np.full(4, totals[0]))
        # the prior stays the labels' share of the user's weights
        mine = np.ones(len(y)) if weight is None else weight
        share = [mine[y == c].sum() / mine.sum() for c in (0, 1)]
        np.testing.assert_allclose(model.class_prior_, share)
    # a class without cycles is said as such, not as a class weighed 0
    short = [b[:1] if c == 1 else b for b, c in zip(bags, y, strict=True)]
    model = RecordingClassifier(Spy(), min_cycles=2, on_empty="prior")
    with pytest.raises(ValueError, match=r"must have cycles .* with cycles: \[0\]"):
        model.fit(short, y, confounder=site)


def test_recordings_reach_the_network_as_recordings_not_patients():
    """The step learns each cycle's recording as well as its patient: else
    max_cycles_per_group would draw its cycles per patient, not per recording."""
    bags, y = _weighable_bags()
    patients = np.arange(len(y)) // 2
    seen = {}

    class Spy(LogisticRegression):
        def fit(self, X, y, groups=None, recordings=None):
            seen.update(groups=groups, recordings=recordings)
            return super().fit(X, y)

    RecordingClassifier(Spy()).fit(bags, y, groups=patients)
    n = [len(b) for b in bags]
    assert seen["recordings"].tolist() == np.repeat(np.arange(len(y)), n).tolist()
    assert seen["groups"].tolist() == np.repeat(patients, n).tolist()


def test_class_weight_still_counts_when_cycles_are_weighed():
    """class_weight still weighs the cycles when sample_weight is given;
    else the loss would leave the minority class unweighted."""
    X = np.random.default_rng(0).normal(size=(30, 1, 16, 16)).astype(np.float32)
    y = np.array([0] * 24 + [1] * 6)
    X[y == 1, :, 10:14] += 1.0
    # one batch per epoch and plain SGD: a weighted mean over the batch is the
    # criterion's weighted mean, so the two fits are the same computation
    params = {**FAST, "batch_size": 30, "max_epochs": 2, "optimizer": "sgd"}
    params |= {"lr": 0.1, "class_weight": "balanced"}

    def head(**fit):
        clf = ResNetClassifier(**params).fit(X, y, **fit)
        return clf.net_.module_.net.fc.weight.detach()

    balanced = head()
    torch.testing.assert_close(head(sample_weight=np.ones(30)), balanced)
    params["class_weight"] = None
    assert not torch.allclose(head(sample_weight=np.ones(30)), balanced, atol=1e-4)


def test_a_cycle_weighed_0_is_a_cycle_left_out_and_equal_weights_are_none():
    """scikit-learn's meaning of sample_weight, to the bit: a cycle weighed 0
    trains as one not given (it shaped the standardisation and BatchNorm, and
    took a place among its recording's cycles drawn), and weights all alike
    as no weights (the loss was normalised per batch without them, over all
    cycles with them)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 1, 16, 16)).astype(np.float32)
    y = np.array([0, 1, 0, 0] * 10)
    X[y == 1, :, 10:14] += 1.0
    recordings = np.arange(40) // 4
    weight = rng.uniform(0.5, 2.0, 40)
    weight[np.isin(recordings, [3, 6])] = 0.0
    X[np.isin(recordings, [3, 6])] += 5.0  # else they might not move the fit
    kept = weight > 0
    params = {**FAST, "max_cycles_per_group": 2, "class_weight": "balanced"}
    params |= {"early_stopping": 1, "max_epochs": 2}  # validation by recording

    def proba(X_fit, y_fit, **fit):
        return ResNetClassifier(**params).fit(X_fit, y_fit, **fit).predict_proba(X)

    weighed = proba(X, y, groups=recordings, sample_weight=weight)
    left_out = proba(
        X[kept], y[kept], groups=recordings[kept], sample_weight=weight[kept]
    )
    np.testing.assert_array_equal(weighed, left_out)
    alike = proba(X, y, groups=recordings, sample_weight=np.full(40, 2.0))
    np.testing.assert_array_equal(alike, proba(X, y, groups=recordings))
    with pytest.raises(ValueError, match="cycles weighed above 0 are 0"):
        ResNetClassifier(**FAST).fit(X, y, sample_weight=(y == 0) * 1.0)


def test_the_module_standardises_by_its_mean_and_std_in_float32_unless_asked():
    """CycleResNet feeds the network (x - input_mean) / input_std, in float32
    unless autocast is asked for."""
    torch.manual_seed(0)
    net = CycleResNet("resnet18", input_mean=2.0, input_std=4.0).eval()
    x = 4 * torch.randn(2, 1, 16, 16) + 2
    with torch.no_grad():
        # float32 all through: exactly the torchvision network on (x - 2) / 4
        torch.testing.assert_close(net(x), net.net((x - 2) / 4))
    computed = []
    net.net.conv1.register_forward_hook(lambda m, i, out: computed.append(out.dtype))
    with torch.no_grad():
        net(x)
        net.autocast = True  # asked: the convolutions run in bfloat16
        low = net(x)
    assert computed == [torch.float32, torch.bfloat16]
    assert low.dtype == torch.float32  # the logits come back in float32


def test_early_stopping_holds_out_the_same_groups_for_the_same_seed():
    """The same random_state holds out the same validation groups, so a fit
    can be repeated."""
    X = np.random.default_rng(0).normal(size=(40, 1, 16, 16)).astype(np.float32)
    y, groups = np.arange(40) % 2, np.arange(40) // 2  # both classes per group
    params = {**FAST, "batch_size": 8, "early_stopping": 1}
    params["validation_fraction"] = 0.25
    first = ResNetClassifier(**params).fit(X, y, groups=groups)
    again = ResNetClassifier(**params).fit(X, y, groups=groups)
    np.testing.assert_array_equal(first.validation_groups_, again.validation_groups_)
    np.testing.assert_array_equal(first.predict_proba(X), again.predict_proba(X))


def test_batchnorm_recalibration_averages_the_cycles_as_predict_sees_them():
    """After fit, a trained BatchNorm layer's running mean is the plain mean
    of its input over the training cycles, unaugmented (as at prediction),
    not a momentum-weighted one."""
    X = np.random.default_rng(0).normal(size=(32, 1, 16, 16)).astype(np.float32)
    y = np.repeat([0, 1], 16)
    clf = ResNetClassifier(**FAST, augment=True).fit(X, y)  # two batches of 16
    module = clf.net_.module_
    with torch.no_grad():
        x = (torch.from_numpy(X) - module.input_mean) / module.input_std
        expected = module.net.conv1(x).mean(dim=(0, 2, 3))
    torch.testing.assert_close(module.net.bn1.running_mean, expected)


def test_pipelines_keep_their_documented_defaults():
    """The stenosis and seed pipelines keep their documented defaults. Any other
    value would still train and score, so only the values show a change."""
    pipe = make_stenosis_pipeline()
    params = pipe.get_params()
    net = {
        k.removeprefix("classifier__estimator__"): v
        for k, v in params.items()
        if k.startswith("classifier__estimator__")
    }
    assert (net["arch"], net["lr"], net["batch_size"], net["max_epochs"]) == (
        "resnet50",
        1e-3,
        32,
        5,
    )
    assert net["class_weight"] == "balanced" and net["max_cycles_per_group"] == 8
    assert net["channels_last"] is True and net["standardize"] is True
    assert params["classifier__max_cycles"] == 16
    assert params["smooth__method"] == "median"
    spectrogram = pipe.named_steps["spectrogram"]
    assert (spectrogram.log, spectrogram.floor_db, spectrogram.subtract_mean) == (
        True,
        40.0,
        "cycle",
    )
    assert spectrogram.remove_dc is True and spectrogram.normalize is True
    assert spectrogram.max_frequency == 1000.0
    seed = make_seed_pipeline().get_params()
    assert seed["classifier__estimator__standardize"] is False
    assert seed["classifier__estimator__recalibrate_bn"] is False
    assert seed["classifier__estimator__arch"] == "resnet50"
    assert seed["classifier__max_cycles"] is None
    assert seed["smooth__method"] == "median"


def test_early_stopping_validation_holds_both_classes_where_groups_allow():
    """Ten patients, five of each class, a fifth held out: every seed holds
    out one patient of each class, so the validation loss weighs both (a
    random draw of two patients is of one class 44 % of the time)."""
    X = np.random.default_rng(0).normal(size=(40, 1, 16, 16)).astype(np.float32)
    groups = np.repeat(np.arange(10), 4)
    y = (groups >= 5).astype(int)
    for seed in range(6):
        clf = ResNetClassifier(
            **{**FAST, "random_state": seed, "batch_size": 8}, early_stopping=1
        ).fit(X, y, groups=groups)
        held_out = clf.validation_groups_
        assert len(held_out) == 2
        assert sorted(np.unique(y[np.isin(groups, held_out)])) == [0, 1]


def test_early_stopping_needs_two_groups():
    X = np.zeros((8, 1, 16, 16), np.float32)
    with pytest.raises(ValueError, match=r"at least two groups.*given 1"):
        ResNetClassifier(**FAST, early_stopping=1).fit(
            X, np.arange(8) % 2, groups=np.zeros(8)
        )


def test_early_stopping_keeps_the_weights_of_the_best_validation_loss():
    """With a patience longer than the run, training goes on past the best
    epoch, and the model fit returns scores the validation cycles with the
    best epoch's loss, not the last one's."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(48, 1, 16, 16)).astype(np.float32)
    groups = np.repeat(np.arange(12), 4)
    y = groups % 2  # labels unrelated to the images: validation loss wanders
    clf = ResNetClassifier(
        **{**FAST, "max_epochs": 3, "batch_size": 8},
        early_stopping=10,
        recalibrate_bn=False,  # statistics as at the best epoch
    ).fit(X, y, groups=groups)
    losses = clf.net_.history[:, "valid_loss"]
    assert losses[-1] > min(losses)  # the last epoch is not the best
    valid = np.isin(groups, clf.validation_groups_)
    proba = clf.predict_proba(X[valid])
    loss = -np.mean(np.log(proba[np.arange(valid.sum()), y[valid]]))
    np.testing.assert_allclose(loss, min(losses), rtol=1e-4)


def test_a_voting_ensemble_of_image_classifiers_gets_images(spectrograms, data):
    """An ensemble's own tags do not say its members take images: flattened,
    a voting classifier of networks handed them rows they refused."""
    from sklearn.ensemble import StackingClassifier, VotingClassifier

    class ImageLR(LogisticRegression):  # takes images, as the network does
        def fit(self, X, y):
            assert X.ndim == 4, X.shape
            return super().fit(X.reshape(len(X), -1), y)

        def predict_proba(self, X):
            assert X.ndim == 4, X.shape
            return super().predict_proba(X.reshape(len(X), -1))

        def __sklearn_tags__(self):
            tags = super().__sklearn_tags__()
            tags.input_tags.two_d_array = False
            return tags

    members = [("a", ImageLR(C=0.01, max_iter=5000)), ("b", ImageLR(max_iter=5000))]
    vote = VotingClassifier(members, voting="soft")
    clf = RecordingClassifier(vote).fit(spectrograms, data.target)
    by_hand = RecordingClassifier(vote, flatten=False).fit(spectrograms, data.target)
    np.testing.assert_allclose(
        clf.predict_proba(spectrograms), by_hand.predict_proba(spectrograms)
    )
    # a member that takes rows still gets rows
    mixed = VotingClassifier([*members[:1], ("c", LogisticRegression())])
    assert RecordingClassifier(mixed)._cycles(spectrograms, mixed).ndim == 2
    stack = StackingClassifier(members, cv=GroupKFold(2))
    assert RecordingClassifier(stack)._cycles(spectrograms, stack).ndim == 4


def test_nan_cycle_probabilities_are_refused_not_read_as_normal():
    from sklearn.base import BaseEstimator, ClassifierMixin

    class NaNProba(ClassifierMixin, BaseEstimator):
        def fit(self, X, y):
            self.classes_ = np.unique(y)
            return self

        def predict_proba(self, X):
            return np.full((len(X), len(self.classes_)), np.nan)

    X = [np.ones((2, 3))] * 4
    clf = RecordingClassifier(NaNProba()).fit(X, [0, 1, 0, 1])
    # predict said classes_[0], "normal", for every recording
    with pytest.raises(ValueError, match=r"NaN or infinite probabilities .*recording"):
        clf.predict(X[:2])
