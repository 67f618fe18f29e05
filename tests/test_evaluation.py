"""Patient-grouped evaluation: pooled reports, bootstrap over patients, audits."""

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import (
    GridSearchCV,
    GroupKFold,
    cross_val_predict,
    cross_validate,
)
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

import vascular_sklearn.evaluation as evaluation
from vascular_sklearn import (
    LowpassFilter,
    MeanSmoother,
    PeakCycleCutter,
    RecordingError,
    TooFewCyclesError,
    sensitivity_score,
    specificity_at_sensitivity_score,
    specificity_score,
)
from vascular_sklearn.containers import Signals
from vascular_sklearn.corpus import RecordingFiles
from vascular_sklearn.datasets import make_recordings
from vascular_sklearn.evaluation import (
    DEVICE_PROPERTIES,
    LeaveOneRecorderOut,
    _two_class_report,
    bootstrap_report,
    check_group_split,
    clinical_report,
    device_confound,
    device_properties,
    evaluate_by_patient,
    patient_level,
    recorder_confound,
    report_by_group,
    rescaled,
)
from vascular_sklearn.recorder import quantise
from vascular_sklearn.recording_classifier import RecordingClassifier
from vascular_sklearn.spectrogram import STFTSpectrogram


def test_clinical_metrics_refuse_a_label_that_is_not_there():
    y_true = ["normal", "normal", "stenosis"]
    y_pred = ["stenosis", "stenosis", "stenosis"]  # every normal one missed
    assert specificity_score(y_true, y_pred, pos_label="stenosis") == 0.0
    # the default pos_label=1 would count every label as negative: 1.0
    for score in (sensitivity_score, specificity_score):
        with pytest.raises(ValueError, match="pos_label=1 is not a valid label"):
            score(y_true, y_pred)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        specificity_score([0, 1, 0], [0, 1])
    for score in (sensitivity_score, specificity_score):
        with pytest.raises(ValueError, match="empty input"):
            score([], [])
    # one class present: nothing to refuse, as scikit-learn's recall
    assert specificity_score(["normal"] * 2, ["normal"] * 2) == 1.0


@pytest.mark.parametrize("score", [sensitivity_score, specificity_score])
def test_clinical_metrics_refuse_words_against_numbers_and_missing_labels(score):
    # predict()'s 0/1 against a manifest's words: 1 != "stenosis", so every
    # normal recording flagged counted as cleared (specificity 1.0)
    words = ["normal", "stenosis", "normal", "normal"]
    with pytest.raises(ValueError, match="Mix of label input types"):
        score(words, [1, 1, 1, 1], pos_label="stenosis")
    # a blank cell among words failed in numpy's sort, naming nothing
    for blank in (np.nan, None):
        y_true = pd.Series(["normal", "stenosis", blank, "normal"])
        with pytest.raises(ValueError, match="y_true holds 1 NaN or None"):
            score(y_true, words, pos_label="stenosis")
        with pytest.raises(ValueError, match="y_pred holds 1 NaN or None"):
            score(words, ["normal", "stenosis", blank, "normal"], pos_label="stenosis")


def test_specificity_counts_only_where_the_sensitivity_is_reached():
    y_true = [1] * 10 + [0] * 4
    score = specificity_at_sensitivity_score
    nine = [1] * 9 + [0] + [1, 0, 0, 0]  # 9 of 10 found: 0.9 reached exactly
    assert score(y_true, nine) == 0.75
    eight = [1] * 8 + [0, 0] + [0] * 4  # every normal one cleared, two missed
    assert score(y_true, eight) == pytest.approx(-0.2)
    assert score(y_true, eight, min_sensitivity=0.8) == 1.0
    # flagging everyone meets any target, so it outranks every shortfall
    assert score(y_true, [1] * 14) == 0.0 > score(y_true, eight)
    words = ["stenosis" if v else "normal" for v in nine]
    truth = ["stenosis" if v else "normal" for v in y_true]
    assert score(truth, words, pos_label="stenosis") == 0.75
    assert np.isnan(score([1, 1], [1, 0]))  # no normal recording: undefined
    for bad in (0, 1.5, -0.1):
        with pytest.raises(ValueError, match="not a share of the stenotic"):
            score(y_true, nine, min_sensitivity=bad)


def test_bootstrap_draws_patients_not_recordings():
    rng = np.random.default_rng(0)
    # 6 patients x 5 recordings; scores separate the classes only by patient
    groups = np.repeat(np.arange(6), 5)
    y = np.repeat([0, 1, 0, 1, 0, 1], 5)
    proba = np.repeat([0.2, 0.8, 0.6, 0.4, 0.3, 0.7], 5) + rng.normal(0, 0.01, 30)
    report = bootstrap_report(y, proba, groups, n_resamples=400, random_state=0)
    assert report == {**report, **clinical_report(y, proba)}
    low, high = report["roc_auc_ci"]
    assert low <= report["roc_auc"] <= high
    # one patient in three is ranked wrong: resampling patients must find draws
    # without it (AUC 1) and draws full of it; resampling the 30 recordings
    # independently would give a far narrower interval
    assert high == 1.0 and low <= 0.5
    again = bootstrap_report(y, proba, groups, n_resamples=400, random_state=0)
    assert again["roc_auc_ci"] == report["roc_auc_ci"]


def test_bootstrap_resamples_score_as_clinical_report_does():
    # the bootstrap's numpy metrics against scikit-learn's, ties included
    rng = np.random.default_rng(0)
    for n in range(4, 40, 3):
        y = rng.permutation(np.r_[0, 1, rng.integers(0, 2, n - 2)])
        proba = np.round(rng.random(n), 1)
        expected = clinical_report(y, proba, threshold=0.4)
        assert _two_class_report(y, proba, 0.4) == pytest.approx(expected)


def test_bootstrap_refuses_one_class_instead_of_looping_forever():
    with pytest.raises(ValueError, match="both classes"):
        bootstrap_report([1, 1, 1], [0.2, 0.5, 0.9], [1, 2, 3])


def test_bootstrap_refuses_a_class_held_by_one_patient():
    # every resample holding both classes was the data itself: a "95 %"
    # interval of width 0
    for y, groups in [([0, 0, 1, 1], ["p", "p", "q", "q"]), ([0, 1] * 2, [7] * 4)]:
        with pytest.raises(ValueError, match="one class is held by 1 patient"):
            bootstrap_report(y, [0.1, 0.6, 0.4, 0.9], groups, n_resamples=20)


def test_reports_refuse_labels_nan_and_lengths_they_would_misread():
    # labels 1/2 with everything flagged: "sensitivity" would be the normals'
    # recall, and the AUC (2 positive) would sit outside its own interval
    with pytest.raises(ValueError, match=r"y holds the labels \[1, 2\]"):
        clinical_report([1, 1, 2, 2], [0.6, 0.7, 0.8, 0.9])
    # a NaN is neither flagged nor cleared: not counted as "not flagged"
    with pytest.raises(ValueError, match=r"1 probabilities are NaN \(samples \[0\]\)"):
        report_by_group([1, 1, 0], [np.nan, 0.9, 0.2], ["a", "a", "b"])
    with pytest.raises(ValueError, match="no probability"):
        clinical_report([], [])
    y, proba = [0, 1] * 4, np.linspace(0.1, 0.9, 8)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        bootstrap_report(y, proba, [0, 1, 2, 3])  # groups of half the recordings
    # a column: compared with the predictions it made an 8 x 8 table, accuracy
    # near 0.5 beside a correct sensitivity
    with pytest.raises(ValueError, match=r"y has shape \(8, 1\): give one label"):
        clinical_report(np.array(y)[:, None], proba)
    for n in (0, None, 10.5):  # None was a TypeError, 10.5 drew 11
        with pytest.raises(ValueError, match="n_resamples >= 1"):
            bootstrap_report(y, proba, np.arange(8), n_resamples=n)
    # a percentage would clear every recording
    with pytest.raises(ValueError, match="threshold=50: give a probability"):
        bootstrap_report(y, proba, np.arange(8), threshold=50)
    # True was read as 1.0: every recording cleared but the certain ones
    with pytest.raises(ValueError, match="threshold=True: give a probability"):
        clinical_report(y, proba, threshold=True)


def test_missing_or_malformed_ids_and_recordings_are_refused():
    """NaN equals nothing: a NaN patient sat on both sides of a split unseen,
    and a NaN recorder was never tested."""
    nan_patients = np.array([1.0, 1.0, np.nan, np.nan, 2.0, 2.0, 3.0, 3.0])
    splits = [(np.array([0, 1, 2]), np.array([3, 4, 5, 6, 7]))]
    with pytest.raises(ValueError, match=r"hold no id .* recordings \[2, 3\]"):
        check_group_split(splits, None, None, nan_patients)
    with pytest.raises(ValueError, match="recorders hold no id"):
        list(LeaveOneRecorderOut([1.0, np.nan, 2.0, np.nan]).split(groups=[1, 2, 3, 4]))
    with pytest.raises(ValueError, match="recorders hold no id"):  # a TypeError
        LeaveOneRecorderOut(["a", None, "b"]).get_n_splits()
    with pytest.raises(ValueError, match=r"hold no id .* recordings \[1\]"):
        bootstrap_report([0, 1, 0, 1], [0.1, 0.9, 0.2, 0.8], ["a", None, "b", "c"])
    with pytest.raises(ValueError, match=r"groups .* are needed"):
        evaluate_by_patient(LogisticRegression(), np.eye(4), [0, 1, 0, 1], None)
    # among text ids, np.asarray made NaN the id "nan"; pandas' NA is missing too
    with pytest.raises(ValueError, match=r"hold no id .* recordings \[2, 3\]"):
        report_by_group([0, 1, 0, 1], [0.1, 0.9, 0.2, 0.8], ["a", "a", np.nan, np.nan])
    ids = pd.Series(["a", None, "b"], dtype="string")  # holds pd.NA
    with pytest.raises(ValueError, match=r"hold no id .* recordings \[1\]"):
        check_group_split([([0], [1, 2])], None, None, ids)
    with pytest.raises(TypeError, match="X is ndarray: give Signals or Recor"):
        device_confound(np.zeros((4, 1000)), [0, 1, 0, 1])
    # a column of ids was numpy's IndexError; 1 and "1" were one site
    y, proba = [0, 1, 0, 1], [0.1, 0.9, 0.2, 0.8]
    with pytest.raises(ValueError, match=r"not an array of shape \(4, 1\)"):
        report_by_group(y, proba, np.array([[1], [1], [2], [2]]))
    with pytest.raises(ValueError, match="mix numbers and text"):
        report_by_group(y, proba, [1, 1, "1", "1"])


def test_group_check_compares_lengths_when_splits_are_given():
    X, groups = np.zeros((6, 1)), ["a", "a", "b", "b", "c", "c"]
    splits = [([0, 1, 2], [3, 4, 5])]  # b on both sides
    with pytest.raises(ValueError, match="patients \\['b'\\] on both sides"):
        check_group_split(splits, X, None, groups)
    # the same leaky split, with ids shifted by one, must not pass as clean
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        check_group_split(splits, X, None, ["z", *groups])
    # positions that are no recordings: numpy's IndexError, or a wrap-around
    for bad in ([3, 4, 6], [3, 4, -1], [3.0, 4.0, 5.0]):
        with pytest.raises(ValueError, match=r"fold 1 holds .* integers from 0 to 5"):
            check_group_split([([0, 1], [2, 3]), ([0, 1], bad)], X, None, groups)
    # numpy's IndexError (an empty list is float) and concatenate's error
    with pytest.raises(ValueError, match="fold 0 tests no recording"):
        check_group_split([([0, 1], [])], X, None, groups)
    with pytest.raises(ValueError, match=r"cv=\[\] gives no split"):
        evaluate_by_patient(LogisticRegression(), X, [0, 1] * 3, groups, cv=[])


def test_nan_probabilities_stop_the_evaluation_at_their_fold():
    class NaNForFirstRecording(LogisticRegression):
        def predict_proba(self, X):
            p = super().predict_proba(X)
            p[X[:, 0] == 0] = np.nan
            return p

    X, y = np.arange(8.0)[:, None], np.array([0, 1] * 4)
    folds = []
    with pytest.raises(ValueError, match=r"fold \d: the model gave NaN .*\[0\]"):
        evaluate_by_patient(
            make_pipeline(FunctionTransformer(), NaNForFirstRecording()),
            X,
            y,
            np.repeat(np.arange(4), 2),
            cv=GroupKFold(4),
            progress=folds.append,
        )
    assert len(folds) < 4  # the folds after it were not trained


def test_a_one_step_pipeline_is_evaluated():
    X, y = np.arange(8.0)[:, None], np.array([0, 1] * 4)
    X[y == 1] += 0.5
    result = evaluate_by_patient(
        make_pipeline(LogisticRegression()), X, y, np.arange(8), cv=GroupKFold(4)
    )
    # each recording answered by the fold that held it out, as scikit-learn does
    expected = cross_val_predict(
        LogisticRegression(),
        X,
        y,
        groups=np.arange(8),
        cv=GroupKFold(4),
        method="predict_proba",
    )[:, 1]
    np.testing.assert_allclose(result.recording_proba, expected)


def test_a_recording_without_cycles_is_named_by_its_place_in_x():
    # a fold's subset numbers its recordings from 0: recording 7 of X is the
    # fourth of its fold, and a message of "recording 3" sent the user to
    # check a healthy one
    rng = np.random.default_rng(0)
    y, groups = np.array([0, 1] * 4), np.arange(8) // 2
    bags = [rng.normal(loc=2 * label, size=(4, 3)) for label in y]
    bags[7] = np.empty((0, 3))
    folds = [(np.arange(4, 8), np.arange(4)), (np.arange(4), np.arange(4, 8))]
    pipe = make_pipeline("passthrough", RecordingClassifier(LogisticRegression()))
    with pytest.raises(
        TooFewCyclesError,
        match=r"^fold 0: .* in recording 3\. .*training recordings, X's recordings "
        r"4, 5, 6, 7\)$",
    ):
        evaluate_by_patient(pipe, bags, y, groups, cv=folds)
    # Signals without names are named by their place in X, fold after fold
    signals = make_recordings(n_patients=2, duration=4.0, random_state=0)
    data = list(signals.recordings.data)
    data[-1] = np.zeros_like(data[-1])
    chain = [LowpassFilter(), MeanSmoother(), PeakCycleCutter(), STFTSpectrogram()]
    last = f"recording {len(data) - 1}"
    with pytest.raises(TooFewCyclesError, match=rf"^fold \d: no .* in {last}\. "):
        evaluate_by_patient(
            make_pipeline(*chain, RecordingClassifier(LogisticRegression())),
            Signals.from_arrays(data, signals.recordings.sample_rate),
            signals.target,
            signals.groups,
            cv=2,
        )
    # a bare estimator is not a pipeline: refused before a fold trains
    with pytest.raises(TypeError, match="not RecordingClassifier: make_pipeline"):
        evaluate_by_patient(pipe[-1], bags, y, groups, cv=folds)


def test_patient_level_counts_a_patient_once_per_label():
    y, p, g = patient_level(
        [0, 0, 1, 1, 1], [0.1, 0.3, 0.9, 0.5, 0.4], ["a", "a", "a", "b", "b"]
    )
    assert list(zip(g.tolist(), y.tolist(), p.round(2).tolist(), strict=True)) == [
        ("a", 0, 0.2),
        ("a", 1, 0.9),
        ("b", 1, 0.45),
    ]


def test_rescaled_requantises_and_clips_at_full_scale():
    x = np.array([0.5, -0.25, 0.001], np.float32)
    X = Signals.from_arrays([x], sample_rate=1000, names=["a.wav"])
    loud = rescaled(X, 10.0, clip=False)
    np.testing.assert_allclose(loud.data[0], [5.0, -2.5, 0.01], atol=2**-15)
    clipped = rescaled(X, 10.0)
    np.testing.assert_allclose(clipped.data[0], [1.0, -1.0, 0.01], atol=2**-15)
    coarse = rescaled(X, 1.0, step=0.25)
    assert coarse.data[0].tolist() == [0.5, -0.25, 0.0]
    assert coarse.names.tolist() == ["a.wav"]


def _log_rms(signals):
    return np.array([[np.log(np.sqrt(np.mean(np.square(x))))] for x in signals.data])


def test_perturbations_are_scored_by_the_fold_model(data):
    loudness = make_pipeline(FunctionTransformer(_log_rms), LogisticRegression())
    result = evaluate_by_patient(
        loudness,
        data.recordings,
        data.target,
        data.groups,
        cv=GroupKFold(2),
        perturbations={"same": lambda X: X, "x10": lambda X: rescaled(X, 10.0)},
    )
    # a recording-level model: no cycle report, but pooled recording results
    assert result.cycle is None and len(result.cycle_proba) == 0
    np.testing.assert_allclose(result.perturbed["same"], result.recording_proba)
    # a loudness model moves when the gain moves: the audit must see it
    assert np.abs(result.perturbed["x10"] - result.recording_proba).max() > 0.05


def test_an_int_cv_means_that_many_folds_by_patient(data):
    loudness = make_pipeline(FunctionTransformer(_log_rms), LogisticRegression())
    args = (loudness, data.recordings, data.target, data.groups)
    by_int = evaluate_by_patient(*args, cv=2)
    np.testing.assert_array_equal(
        by_int.fold, evaluate_by_patient(*args, cv=GroupKFold(2)).fold
    )
    with pytest.raises(ValueError, match="greater than the number of groups"):
        evaluate_by_patient(*args, cv=len(np.unique(data.groups)) + 1)
    # repeated folds would count cycles twice and keep the last repeat only
    twice = list(GroupKFold(2).split(data.recordings, groups=data.groups)) * 2
    with pytest.raises(ValueError, match="recording 0 is in 2 of them"):
        evaluate_by_patient(*args, cv=twice)


def test_labels_other_than_0_and_1_are_refused_before_training(data):
    """The reports are of stenosis against normal: a third class (or text
    labels) would fail in sklearn's metrics after every fold had trained."""
    fits = []

    def log_rms(X):
        fits.append(1)
        return _log_rms(X)

    loudness = make_pipeline(FunctionTransformer(log_rms), LogisticRegression())
    for y in (
        np.where(np.arange(len(data.target)) % 3, data.target, 2),
        np.where(data.target == 1, "stenosis", "normal"),
    ):
        with pytest.raises(ValueError, match=r"y holds the labels .*give 0 \(normal\)"):
            evaluate_by_patient(loudness, data.recordings, y, data.groups, cv=2)
    assert not fits
    # booleans are 0 and 1
    result = evaluate_by_patient(
        loudness, data.recordings, data.target.astype(bool), data.groups, cv=2
    )
    as_int = evaluate_by_patient(
        loudness, data.recordings, data.target, data.groups, cv=2
    )
    np.testing.assert_array_equal(result.recording_proba, as_int.recording_proba)


class _PatientSpy(LogisticRegression):
    """Keeps the patients each fit was given, in the class's ``seen`` (a
    clone copies its parameters, so the list cannot be one)."""

    seen: list = []

    def fit(self, X, y, groups=None):
        # None stays None: np.unique(None) is [None], which shares no patient
        # with any test fold and would pass for patients never passed
        type(self).seen.append(None if groups is None else sorted(set(groups)))
        return super().fit(X, y)


def test_training_patients_reach_a_nested_last_step(data):
    seen = _PatientSpy.seen = []
    pipe = Pipeline(
        [("features", FunctionTransformer(_log_rms)), ("model", _PatientSpy())]
    )
    # with an audit beside: the patients' keyword stays the patients' in fold 1
    result = evaluate_by_patient(
        pipe,
        data.recordings,
        data.target,
        data.groups,
        cv=GroupKFold(2),
        perturbations={"same": lambda X: X},
    )
    assert seen == [sorted(set(data.groups[result.fold != k])) for k in (0, 1)]

    # a nested search gets them for its splitter (its fit takes **params):
    # GroupKFold inside raised "groups should not be None"
    class SpySplit(GroupKFold):
        def split(self, X, y=None, groups=None):
            seen.append(None if groups is None else sorted(set(groups)))
            return super().split(X, y, groups)

    seen.clear()
    search = GridSearchCV(GaussianNB(), {"var_smoothing": [1e-9, 1e-8]}, cv=SpySplit(2))
    pipe.set_params(model=search)
    result = evaluate_by_patient(pipe, data.recordings, data.target, data.groups, cv=2)
    assert seen == [sorted(set(data.groups[result.fold != k])) for k in (0, 1)]
    # a training fold of one class is named, not an IndexError in predict_proba
    normal = [
        g for g in np.unique(data.groups) if not data.target[data.groups == g].any()
    ]
    only = np.isin(data.groups, normal)
    assert only.any() and not only.all()
    one_class = [(np.flatnonzero(only), np.flatnonzero(~only))]
    one_class.append(one_class[0][::-1])
    pipe.set_params(model=GaussianNB())  # fits, and answers, one class
    with pytest.raises(
        ValueError, match=r"fold 0: its training recordings hold the labels \[0\] only"
    ):
        evaluate_by_patient(pipe, data.recordings, data.target, data.groups, one_class)


def test_training_patients_reach_the_last_step_under_metadata_routing(data):
    import sklearn

    seen = _PatientSpy.seen = []
    with sklearn.config_context(enable_metadata_routing=True):
        spy = _PatientSpy().set_fit_request(groups=True)
        pipe = Pipeline([("features", FunctionTransformer(_log_rms)), ("model", spy)])
        # before: Pipeline.fit got unexpected argument(s) {'model__groups'}
        result = evaluate_by_patient(
            pipe, data.recordings, data.target, data.groups, cv=GroupKFold(2)
        )
    assert seen == [sorted(set(data.groups[result.fold != k])) for k in (0, 1)]


def test_network_pipeline_cycles_pool_per_recording(data):
    pipe = make_pipeline(
        LowpassFilter(),
        MeanSmoother(method="mean"),
        PeakCycleCutter(),
        STFTSpectrogram(log=True),
        RecordingClassifier(
            make_pipeline(StandardScaler(), LogisticRegression(C=0.01, max_iter=2000))
        ),
    )
    result = evaluate_by_patient(
        pipe, data.recordings, data.target, data.groups, cv=GroupKFold(2)
    )
    for i in range(len(data.target)):
        mine = result.cycle_proba[result.cycle_recording == i]
        assert mine.mean() == pytest.approx(result.recording_proba[i])
    assert (result.cycle_y == data.target[result.cycle_recording]).all()


def test_leave_one_recorder_out_holds_each_recorders_patients_out():
    recorders = np.array(["a", "a", "a", "b", "b", "c", "c"], dtype=object)
    patients = np.array([1, 1, 2, 2, 3, 4, 5])  # patient 2: recorders a and b
    splitter = LeaveOneRecorderOut(recorders)
    splits = [(tr.tolist(), te.tolist()) for tr, te in splitter.split(groups=patients)]
    assert splits == [
        ([4, 5, 6], [0, 1, 2]),  # b's recording of patient 2 leaves training too
        ([0, 1, 5, 6], [3, 4]),
        ([0, 1, 2, 3, 4], [5, 6]),
    ]
    assert splitter.get_n_splits() == 3
    X = np.arange(7.0)[:, None]
    check_group_split(splitter, X, None, patients)  # no patient on both sides
    # without patients it is scikit-learn's LeaveOneGroupOut over the recorders
    assert next(splitter.split(X))[0].tolist() == [3, 4, 5, 6]
    # and scikit-learn's cross-validation takes it as it is
    y = np.array([0, 1, 0, 1, 0, 1, 0])
    scores = cross_validate(LogisticRegression(), X, y, groups=patients, cv=splitter)
    assert len(scores["test_score"]) == 3
    with pytest.raises(ValueError, match="two recorders or more, got 1"):
        next(LeaveOneRecorderOut(["a", "a"]).split())
    with pytest.raises(ValueError, match="recorder 'a': its patients were recorded"):
        next(LeaveOneRecorderOut(["a", "b"]).split(groups=[1, 1]))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        next(splitter.split(X[:-1]))
    # holding c out leaves recordings 0 to 4 to train on: one class there
    with pytest.raises(ValueError, match="recorder 'c': the recordings left"):
        list(splitter.split(X, [1, 1, 1, 1, 1, 0, 0], patients))


def test_recorder_confound_scores_each_recording_by_its_recorders_share():
    y = np.array([1, 1, 0, 0, 1, 0])
    audit = recorder_confound(y, ["q", "q", "l", "l", "q", "l"])
    assert audit.recorders.tolist() == ["l", "q"] and audit.n.tolist() == [3, 3]
    assert audit.stenosis_share.tolist() == [0.0, 1.0] and audit.roc_auc == 1.0
    even = recorder_confound(y, ["q", "l", "q", "l", "q", "q"])
    assert even.roc_auc == 0.5
    assert np.isnan(recorder_confound([0, 0], ["q", "l"]).roc_auc)
    # labels 1/2 made recorder a's one stenosis in two recordings a 100 % share
    with pytest.raises(ValueError, match=r"y holds the labels \[0, 2\]"):
        recorder_confound([0, 2, 0], ["a", "a", "b"])


def test_recorder_confound_weighs_its_auc_against_shuffled_labels():
    rng = np.random.default_rng(0)
    recorders = np.repeat(np.arange(20), 5).astype(str)  # 20 of 5 recordings
    chance = [recorder_confound(rng.integers(0, 2, 100), recorders) for _ in range(20)]
    # a share learnt from the labels it scores: random labels sit far above
    # 0.5, and that is what the shuffles say, not a confound
    auc, shuffled = ([getattr(a, k) for a in chance] for k in ("roc_auc", "chance_auc"))
    assert np.mean(auc) > 0.68 and abs(np.mean(auc) - np.mean(shuffled)) < 0.02
    assert np.mean([a.p_value for a in chance]) > 0.4
    given = np.repeat([0, 1], 50)  # the first 10 recorders normal, the rest not
    told = recorder_confound(given, recorders, n_permutations=99, random_state=1)
    assert told.roc_auc == 1.0 and told.p_value == 0.01  # 1 / (1 + 99)
    again = recorder_confound(given, recorders, n_permutations=99, random_state=1)
    assert again.chance_auc == told.chance_auc < 0.85
    assert np.isnan(recorder_confound([0, 0], ["q", "l"]).chance_auc)
    with pytest.raises(ValueError, match=r"n_permutations=0: give 1 or more"):
        recorder_confound(given, recorders, n_permutations=0)


def test_device_confound_reads_files_as_stored_and_audits_each_group(tmp_path):
    noise = 0.1 * np.random.default_rng(0).standard_normal((6, 22050))
    # site a: its two recordings labelled 1 on a coarse converter, one of
    # them stored at 44.1 kHz (read at its own rate: resampling would take
    # its samples off the grid); site b: one converter for both labels
    y = np.array([0, 0, 1, 1, 0, 1])
    steps, rates = [1, 1, 40, 40, 1, 1], [22050, 22050, 44100, 22050, 22050, 22050]
    paths = [tmp_path / f"{k}.wav" for k in range(6)]
    for path, x, step, rate in zip(paths, noise, steps, rates, strict=True):
        sf.write(path, quantise(x, step), rate, subtype="PCM_16")
    sites = np.array(list("aaaabb"))
    audit = device_confound(RecordingFiles.from_paths(paths, 22050), y, sites)
    assert audit.properties["converter_step"].tolist() == steps
    assert audit.roc_auc["converter_step"] == pytest.approx(7.5 / 9)  # 3 ties
    assert audit.roc_auc_by_group["converter_step"] == {"a": 1.0, "b": 0.5}
    assert audit.roc_auc_by_group["rounding_snr_db"]["a"] == 0.0
    loud = audit.properties["loudness_db"]
    assert np.allclose(loud, 20 * np.log10(noise.std(axis=1)), atol=0.05)
    # in memory, the same; an unreadable file is left out of the AUCs
    stored = [quantise(x, q) for x, q in zip(noise, steps, strict=True)]
    signals = Signals.from_arrays(stored, 22050)
    assert device_confound(signals, y).properties["converter_step"].tolist() == steps
    # a missing site was a group of its own per recording, NaN equalling nothing
    with pytest.raises(ValueError, match=r"groups hold no id .* \[4\]"):
        device_confound(signals, y, ["a"] * 4 + [np.nan, "b"])
    # digital silence is the quietest recording there is, not one left out
    silent = [x if label == 0 else 0 * x for x, label in zip(stored, y, strict=True)]
    audit = device_confound(Signals.from_arrays(silent, 22050), y)
    assert audit.roc_auc["loudness_db"] == 0.0
    paths[0].write_bytes(b"RIFF not audio")
    broken = device_confound(RecordingFiles.from_paths(paths, 22050), y)
    assert all(np.isnan(v[0]) for v in broken.properties.values())
    assert list(broken.properties) == list(DEVICE_PROPERTIES)
    assert broken.roc_auc["converter_step"] == pytest.approx(5 / 6)


def test_device_confound_reads_the_dc_offset_and_nothing_else_moves():
    noise = 0.1 * np.random.default_rng(1).standard_normal((4, 22050))
    offsets = np.array([0.0, 0.0, 0.05, -0.02])  # a sound card's, either sign
    y = np.array([0, 0, 1, 1])
    plain = device_confound(Signals.from_arrays(noise, 22050), y)
    shifted = device_confound(Signals.from_arrays(noise + offsets[:, None], 22050), y)
    dc = shifted.properties["dc_offset"]
    np.testing.assert_allclose(dc, np.abs(noise.mean(axis=1) + offsets), rtol=1e-5)
    assert shifted.roc_auc["dc_offset"] == 1.0
    # an offset is not sound: loudness (RMS about the mean) and the rounding
    # noise's measure stay where they were
    for name in ("loudness_db", "rounding_snr_db"):
        np.testing.assert_allclose(
            shifted.properties[name], plain.properties[name], atol=1e-4
        )


def test_report_by_group_is_each_groups_own_clinical_report():
    rng = np.random.default_rng(0)
    y = np.tile([0, 1, 1], 10)
    proba = rng.random(30)
    sites = np.repeat(["b", "a", "c"], 10).astype(object)  # as a manifest's column
    y[sites == "c"] = 0  # a site of normal recordings only
    reports = report_by_group(y, proba, sites, threshold=0.4)
    assert list(reports) == ["a", "b", "c"]
    for site in ["a", "b"]:
        rows = sites == site
        assert reports[site] == clinical_report(y[rows], proba[rows], 0.4)
    assert np.isnan(reports["c"]["roc_auc"]) and np.isnan(reports["c"]["sensitivity"])
    assert reports["c"]["specificity"] == np.mean(proba[sites == "c"] < 0.4)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        report_by_group(y, proba, sites[:-1])


def test_balanced_accuracy_is_the_mean_of_sensitivity_and_specificity():
    """balanced_accuracy averages sensitivity and specificity, not accuracy."""
    # sens 1, spec 2/3, accuracy 3/4: the three means differ
    r = clinical_report([0, 0, 0, 1], [0.9, 0.1, 0.1, 0.9])
    assert r["sensitivity"] == 1.0 and r["specificity"] == pytest.approx(2 / 3)
    assert r["balanced_accuracy"] == pytest.approx(5 / 6)
    assert r["accuracy"] == 0.75


def test_patient_level_takes_the_mean_not_the_median():
    """A patient's probability is the mean of their recordings', not the median."""
    _, p, _ = patient_level([1, 1, 1], [0.1, 0.2, 0.9], ["a", "a", "a"])
    assert p.tolist() == [pytest.approx(0.4)]


def test_bootstrap_intervals_are_taken_at_the_threshold_given():
    """Resamples are scored at ``threshold``, not at 0.5: else the interval
    need not hold its own point estimate."""
    y = np.array([0, 0, 1, 1, 0, 1, 0, 1])
    proba = np.array([0.1, 0.2, 0.4, 0.4, 0.1, 0.45, 0.2, 0.4])
    groups = np.arange(8)
    r = bootstrap_report(
        y, proba, groups, n_resamples=50, threshold=0.3, random_state=0
    )
    assert r["sensitivity"] == 1.0
    assert r["sensitivity_ci"] == (1.0, 1.0)  # at 0.5: (0.0, 0.0)
    assert r["accuracy_ci"] == (1.0, 1.0)
    # a threshold given as text, read by clinical_report, met the resamples
    # as text: numpy's UFuncTypeError
    as_text = bootstrap_report(
        y, proba, groups, n_resamples=50, threshold="0.3", random_state=0
    )
    assert as_text == r


def test_bootstrap_resamples_as_many_patients_as_there_are(monkeypatch):
    """Each resample draws as many patients as there are: one fewer would widen
    every interval."""
    sizes = []
    real = evaluation._two_class_report

    def spy(y, proba, threshold):
        sizes.append(len(y))
        return real(y, proba, threshold)

    monkeypatch.setattr(evaluation, "_two_class_report", spy)
    # 5 patients, 2 recordings each: every resample holds 10 recordings
    y = np.repeat([0, 1, 0, 1, 1], 2)
    proba = np.linspace(0.1, 0.9, 10)
    bootstrap_report(
        y, proba, np.repeat(np.arange(5), 2), n_resamples=30, random_state=0
    )
    assert sizes and set(sizes) == {10}


def test_bootstrap_refuses_a_confidence_of_one():
    """confidence must lie strictly between 0 and 1: a "100 %" interval would
    be only the min and max of the draws."""
    y, proba = [0, 1] * 4, np.linspace(0.1, 0.9, 8)
    for bad in (1, 1.0, 0, 95):
        with pytest.raises(ValueError, match="0 < confidence < 1"):
            bootstrap_report(y, proba, np.arange(8), confidence=bad)


def test_device_confound_gives_nan_for_a_group_of_one_class():
    """A site holding one class only gets the documented NaN for its AUC, not
    a warning (scikit-learn >= 1.8) or an error (1.6)."""
    noise = 0.1 * np.random.default_rng(0).standard_normal((6, 2205))
    X = Signals.from_arrays(noise, 22050)
    y = np.array([0, 1, 0, 1, 0, 0])
    sites = np.array(["a", "a", "a", "a", "b", "b"])  # site b: normal only
    audit = device_confound(X, y, sites)
    for name in audit.roc_auc_by_group:
        assert np.isnan(audit.roc_auc_by_group[name]["b"])
        assert not np.isnan(audit.roc_auc_by_group[name]["a"])
    assert all(np.isnan(v) for v in device_confound(X, np.zeros(6)).roc_auc.values())


def test_device_properties_refuse_samples_the_steps_refuse():
    # int16 samples were measured as full-scale units (+70 dBFS, a converter
    # step of 32768 levels); a NaN stopped the audit without naming its owner
    noise = 0.1 * np.random.default_rng(0).standard_normal((3, 2205))
    pcm = Signals.from_arrays(list((noise * 32767).astype(np.int16)), 22050)
    with pytest.raises(RecordingError, match="recording 0: int16 samples"):
        device_properties(pcm)
    noise[1, 5] = np.nan
    with pytest.raises(RecordingError, match=r"recording 1: .*NaN"):
        device_properties(Signals.from_arrays(list(noise), 22050))
    # no recording (a filter that matched nothing): numpy's reshape error
    empty = device_properties(Signals.from_arrays([], 22050))
    assert [v.shape for v in empty.values()] == [(0,)] * 4


def test_device_confound_refuses_label_words():
    """roc_auc_score takes the larger of two labels as positive: with
    "normal"/"abnormal" the converter of the abnormal recordings read AUC 0.0
    where 0/1 read 1.0."""
    noise = 0.1 * np.random.default_rng(0).standard_normal((4, 2000))
    X = Signals.from_arrays(
        [quantise(x, s) for x, s in zip(noise, [1, 1, 40, 40], strict=True)], 2000
    )
    assert device_confound(X, [0, 0, 1, 1]).roc_auc["converter_step"] == 1.0
    with pytest.raises(ValueError, match=r"give 0 \(normal\) or 1"):
        device_confound(X, ["normal", "normal", "abnormal", "abnormal"])


def test_the_last_step_gets_exactly_the_training_patients():
    """In each fold the last step is fitted with exactly that fold's training
    patients as groups, not with none."""
    seen = []

    class Spy(LogisticRegression):
        def fit(self, X, y, groups=None):
            seen.append(None if groups is None else sorted(set(groups.tolist())))
            return super().fit(X, y)

    X = np.arange(8.0)[:, None]
    y = np.array([0, 1] * 4)
    groups = np.repeat(np.arange(4), 2)
    pipe = Pipeline([("f", FunctionTransformer()), ("model", Spy())])
    result = evaluate_by_patient(pipe, X, y, groups, cv=GroupKFold(2))
    assert len(seen) == 2
    for k, fit_patients in enumerate(seen):
        assert fit_patients == sorted(set(groups[result.fold != k].tolist()))


def test_a_sensitivity_target_of_one_is_accepted():
    """min_sensitivity=1 (flag every stenosis) lies in (0, 1] as documented: a
    screening service that may miss no stenosis must be able to ask for it and
    get the specificity when every stenosis is flagged."""
    y_true = [1, 1, 1, 0, 0, 0, 0]
    assert (
        specificity_at_sensitivity_score(
            y_true, [1, 1, 1, 1, 0, 0, 0], min_sensitivity=1
        )
        == 0.75
    )
    missed = specificity_at_sensitivity_score(
        y_true, [1, 1, 0, 0, 0, 0, 0], min_sensitivity=1.0
    )
    assert missed == 2 / 3 - 1


def test_a_target_sensitivity_computed_in_floats_is_reached_by_its_share():
    """6 of 10 stenoses flagged reaches a 60 % target even when the target comes
    out of float arithmetic (0.4 + 0.2 is 0.6000000000000001): a threshold that
    meets the target must not be scored as falling short."""
    y_true = [1] * 10 + [0] * 4
    y_pred = [1] * 6 + [0] * 4 + [0, 0, 0, 1]
    assert (
        specificity_at_sensitivity_score(y_true, y_pred, min_sensitivity=0.4 + 0.2)
        == 0.75
    )


def test_reports_refuse_scores_and_predict_proba_columns():
    # a decision_function's scores were thresholded at 0.5 as if probabilities
    y = [0, 1, 0, 1]
    with pytest.raises(ValueError, match=r"outside \[0, 1\].*not scores"):
        clinical_report(y, [-2.0, 3.0, -1.0, 0.2])
    with pytest.raises(ValueError, match=r"outside \[0, 1\]"):
        report_by_group(y, [0.1, 2.0, 0.2, 0.9], ["a", "a", "b", "b"])
    both = np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3], [0.4, 0.6]])
    with pytest.raises(ValueError, match=r"shape \(4, 2\).*proba\[:, 1\]"):
        clinical_report(y, both)


def test_patient_level_refuses_what_it_would_average_wrongly():
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        patient_level([0, 1, 0, 1], [0.1, 0.9, 0.2, 0.8], ["a", "a"])
    with pytest.raises(ValueError, match=r"groups \(the patients\) are needed"):
        patient_level([0, 1], [0.1, 0.9], None)
    with pytest.raises(ValueError, match="1 probabilities are NaN"):
        patient_level([0, 1], [np.nan, 0.9], ["a", "b"])
    # a NaN label matched nothing: that patient's mean was NaN
    with pytest.raises(ValueError, match=r"y holds no label .* recordings \[1\]"):
        patient_level([0, np.nan, 1], [0.2, 0.4, 0.9], ["a", "a", "b"])
    # labels of any words are averaged as before
    y, proba, _ = patient_level(["normal", "stenosis"], [0.2, 0.9], ["a", "a"])
    assert y.tolist() == ["normal", "stenosis"] and proba.tolist() == [0.2, 0.9]


def test_missing_sites_or_recorders_are_named():
    with pytest.raises(ValueError, match=r"groups \(the sites\) are needed"):
        report_by_group([0, 1], [0.1, 0.9], None)
    with pytest.raises(ValueError, match="recorders are needed"):
        recorder_confound([0, 1], None)


def test_clinical_metrics_refuse_probabilities_given_as_labels():
    # specificity counted every probability but 1.0 as a cleared normal: 1.0
    for score in (sensitivity_score, specificity_score):
        with pytest.raises(ValueError, match="continuous values"):
            score([0, 1, 0, 1], [0.1, 0.9, 0.2, 0.7])
    with pytest.raises(ValueError, match="NaN"):
        specificity_score([0, 1, 0, 1], [np.nan, 1, 0, 1])
    # y_true too: NaN and probabilities were counted as normal (1.0, 0.67)
    with pytest.raises(ValueError, match="NaN"):
        specificity_score([0, np.nan, 1], [0, 0, 1])
    with pytest.raises(ValueError, match="y_true holds continuous values"):
        specificity_score([0.1, 0.9, 0.2], [0, 1, 0])


def test_nan_probabilities_for_an_altered_recording_stop_the_evaluation():
    # an audit comparing max(shift) with a limit would pass a NaN shift
    class NaNWhenLoud(LogisticRegression):
        def predict_proba(self, X):
            p = super().predict_proba(X)
            p[X[:, 0] > 10] = np.nan
            return p

    X, y = np.arange(8.0)[:, None], np.array([0, 1] * 4)
    with pytest.raises(ValueError, match=r"fold 0: .* NaN .* the 'x10' alteration"):
        evaluate_by_patient(
            make_pipeline(FunctionTransformer(), NaNWhenLoud()),
            X,
            y,
            np.repeat(np.arange(4), 2),
            cv=GroupKFold(4),
            perturbations={"x10": lambda X: 10 * X},
        )
