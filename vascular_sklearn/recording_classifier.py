"""Train on cycles, decide per recording."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from numbers import Integral
from typing import Any

import numpy as np
from sklearn import get_config
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.model_selection._search import BaseSearchCV
from sklearn.pipeline import Pipeline
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.metadata_routing import get_routing_for_object
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    check_is_fitted,
    has_fit_parameter,
)

from ._base import _plain, _refuse_missing, check_sample_weight
from .containers import Spectrograms, _offsets
from .exceptions import RecordingError, TooFewCyclesError

__all__ = ["RecordingClassifier"]


def _as_bags(X: Any) -> Spectrograms:
    if isinstance(X, Spectrograms):
        return X
    # a mapping would give its keys, each read as a bag of shape ()
    if isinstance(X, (str, bytes, Mapping)) or not hasattr(X, "__len__"):
        raise TypeError(
            "X must be the Spectrograms that STFTSpectrogram returns, or a sequence "
            f"of per-recording arrays of shape (n_cycles, ...); got {type(X).__name__}"
            + (": pass list(X.values())" if isinstance(X, Mapping) else "")
        )
    bags = [np.asarray(b) for b in X]
    shapes = {b.shape[1:] for b in bags if b.ndim >= 2}
    if len(shapes) > 1:
        raise ValueError(
            f"the recordings' cycles differ in shape: {sorted(shapes)[:3]}; every "
            "cycle needs the shape the estimator was built for"
        )
    trailing = next(iter(shapes), None)
    for i, bag in enumerate(bags):
        if bag.ndim >= 2:
            continue
        if bag.size == 0:  # a recording without a cycle
            bags[i] = bag.reshape(0, *(trailing or ()))
        else:
            # a (n_recordings, n_features) matrix would pass as bags of
            # one-number cycles, and train a classifier on single values
            raise TypeError(
                f"recording {i} is an array of shape {bag.shape}, not a bag of "
                "cycles: give one array of shape (n_cycles, ...) per recording "
                "(a row of features per recording is x[None, :], one cycle)"
            )
    return Spectrograms.from_bags(bags)


def _fit_keyword(estimator: Any, name: str) -> str | None:
    """The keyword under which ``estimator.fit`` takes ``name``, or None.

    Meta-estimators take ``**params``, which ``has_fit_parameter`` cannot see
    through: a search hands ``groups`` to its splitter (so that its folds never
    divide a recording) and the rest to its estimator; a pipeline hands them
    to its last step as ``<step>__<name>``. Under metadata routing they take
    what their steps request (``set_fit_request``), by its plain name.
    """
    if has_fit_parameter(estimator, name):
        return name
    if get_config()["enable_metadata_routing"]:
        consumed = get_routing_for_object(estimator).consumes("fit", [name])
        return name if consumed else None
    if isinstance(estimator, BaseSearchCV):
        return name if name == "groups" else _fit_keyword(estimator.estimator, name)
    if isinstance(estimator, Pipeline):
        step, last = estimator.steps[-1]
        inner = None if last in (None, "passthrough") else _fit_keyword(last, name)
        return None if inner is None else f"{step}__{inner}"
    return None


def _first_taker(estimator: Any) -> Any:
    """The estimator that first takes what ``estimator.fit`` is given: a
    wrapper's (a search's, a calibration's) ``estimator``, a pipeline's first
    step; their own tags do not pass on that a network takes images."""
    while True:
        if isinstance(estimator, Pipeline):
            steps = [s for _, s in estimator.steps if s not in (None, "passthrough")]
            if not steps:
                return estimator
            estimator = steps[0]
        elif isinstance(estimator, MetaEstimatorMixin) and isinstance(
            getattr(estimator, "estimator", None), BaseEstimator
        ):
            estimator = estimator.estimator
        else:
            return estimator


def _takes_2d(estimator: Any) -> bool:
    """Whether ``estimator.fit`` takes 2-D input (n_cycles, n_features): an
    estimator without tags (not a BaseEstimator) does; an ensemble of named
    members (a voting or stacking classifier) does if any member does, as its
    own tags do not pass on that its networks take images."""
    taker = _first_taker(estimator)
    members = getattr(taker, "estimators", None)
    if isinstance(taker, MetaEstimatorMixin) and isinstance(members, list):
        members = [m for _, m in members if m not in (None, "drop")]
        if members:
            return any(_takes_2d(m) for m in members)
    tags = getattr(taker, "__sklearn_tags__", None)
    return tags is None or tags().input_tags.two_d_array


def _untrained(trained: np.ndarray, classes: np.ndarray) -> ValueError:
    return ValueError(
        "every class must have cycles to train on; classes with cycles: "
        f"{trained.tolist()}, classes in y: {classes.tolist()}"
    )


def _balanced_pairs(
    confounder,
    y: np.ndarray,
    sample_weight: np.ndarray | None = None,
    trains: np.ndarray | None = None,
) -> np.ndarray:
    """Per recording, its weight (``sample_weight``, or 1) scaled so that every
    (confounder, label) pair weighs the same in total over the recordings that
    ``trains`` (those with cycles): scikit-learn's "balanced" rule over the
    pairs, which it is to the bit without weights when every recording trains."""
    if not isinstance(confounder, np.ndarray):
        # as objects: a list's NaN among texts became the text "nan", a site
        confounder = np.asarray(confounder, dtype=object)
    if confounder.shape != y.shape:
        raise ValueError(
            f"confounder has shape {confounder.shape} but y has {y.shape}: give "
            "one value (recorder, site) per recording"
        )
    # a pandas column's NaN or None failed in np.unique, naming no confounder
    missing = [
        i for i, v in enumerate(confounder.ravel().tolist()) if v is None or v != v
    ]
    if missing:
        raise ValueError(
            f"confounder is missing for {len(missing)} recording(s) (the first "
            f"at position {missing[0]}): give every recording its recorder or "
            "site, one value such as 'unknown' for those not known"
        )
    try:
        _, source = np.unique(confounder, return_inverse=True)
    except TypeError:  # 1 and "1": one site or two?
        raise ValueError(
            "confounder mixes numbers and text: give every recording's "
            "recorder or site in one kind"
        ) from None
    _, label = np.unique(y, return_inverse=True)
    pair = source * (label.max() + 1) + label
    if sample_weight is None and (trains is None or trains.all()):
        return compute_sample_weight("balanced", pair)
    # the balanced weights times sample_weight left a pair whose recordings
    # weigh less (the coarse ones left out, weight 0) lighter than the rest,
    # and so did counting recordings without cycles, which train on nothing:
    # the confounder told the label again
    weight = np.ones(len(y)) if sample_weight is None else sample_weight
    counted = weight if trains is None else np.where(trains, weight, 0.0)
    totals = np.bincount(pair, weights=counted)
    total = totals[pair]
    scale = np.divide(
        counted.sum(),
        np.count_nonzero(totals) * total,
        out=np.zeros_like(total),
        where=total > 0,
    )
    # one without cycles weighs nothing: its weight would count in the prior
    return weight * scale if trains is None else np.where(trains, weight * scale, 0.0)


class RecordingClassifier(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Fit a cycle-level classifier; answer once per recording.

    ``fit`` repeats each recording's label over its cycles and trains
    ``estimator`` on the cycles, passing the recording (or, when given, the
    patient) of each cycle as ``groups`` if ``estimator.fit`` accepts it, so that
    its internal validation split never divides a recording. A search
    (:class:`~sklearn.model_selection.GridSearchCV`) hands them to its
    splitter, which must use them (``GroupKFold``); a pipeline hands them, and
    ``sample_weight``, to its last step.
    ``predict_proba`` aggregates the cycles' probabilities per recording.

    Parameters
    ----------
    estimator : classifier or None, default=None
        Cycle-level classifier with ``predict_proba``. ``None`` means
        :class:`~vascular_sklearn.network.ResNetClassifier` with its defaults.
        Any scikit-learn classifier works on the flattened images.
    aggregate : {"mean", "median", "vote"}, default="mean"
        How cycle probabilities become a recording's probability: their mean,
        their median per class (renormalised to sum to 1: with three or more
        classes the medians need not), or the fraction of cycles voting for
        each class.
    flatten : bool or "auto", default="auto"
        Give ``estimator`` 2-D input (n_cycles, n_features). ``"auto"`` flattens
        for any estimator that does not declare image input (only our network
        does), looking through a Pipeline, a wrapper, and the members of a
        voting or stacking ensemble (images when none of them takes rows).
    on_empty : {"error", "prior"}, default="error"
        A recording without any cycle raises
        :class:`~vascular_sklearn.TooFewCyclesError` naming it (``"error"``),
        or gets the training class frequencies with a warning (``"prior"``:
        an explicit "don't know", never a confident answer).
    min_cycles : int, default=1
        Recordings with fewer usable cycles than this are treated as having
        none (see ``on_empty``): a handful of cycles is no basis for a decision.
    max_cycles : int or None, default=None
        At prediction, score at most this many cycles per recording, evenly
        spaced through it: a bound on inference time for long recordings, whose
        cycles are near-duplicates. Training always uses every cycle.

    Attributes
    ----------
    estimator_ : classifier
        The fitted cycle-level classifier.
    classes_ : ndarray of shape (n_classes,)
        The class labels seen in ``fit``.
    class_prior_ : ndarray
        Fraction of training recordings per class (of their weight, with
        ``sample_weight``).
    recordings_trained_ : ndarray of bool, shape (n_recordings,)
        Which training recordings gave cycles to train on (``min_cycles`` or
        more): the others trained nothing, whatever their label or weight.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> rng = np.random.default_rng(0)
    >>> bags = [rng.normal(loc=k % 2, size=(5, 3)) for k in range(6)]
    >>> clf = RecordingClassifier(LogisticRegression()).fit(bags, [0, 1] * 3)
    >>> clf.predict(bags).tolist()
    [0, 1, 0, 1, 0, 1]
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "predict_proba"]), None],
        "aggregate": [StrOptions({"mean", "median", "vote"})],
        "flatten": ["boolean", StrOptions({"auto"})],
        "on_empty": [StrOptions({"error", "prior"})],
        "min_cycles": [Interval(Integral, 1, None, closed="left")],
        "max_cycles": [Interval(Integral, 1, None, closed="left"), None],
    }

    def __init__(
        self,
        estimator: Any = None,
        aggregate: str = "mean",
        flatten: bool | str = "auto",
        on_empty: str = "error",
        min_cycles: int = 1,
        max_cycles: int | None = None,
    ) -> None:
        self.estimator = estimator
        self.aggregate = aggregate
        self.flatten = flatten
        self.on_empty = on_empty
        self.min_cycles = min_cycles
        self.max_cycles = max_cycles

    def _make_estimator(self):
        if self.estimator is None:
            from .network import ResNetClassifier

            return ResNetClassifier()
        return clone(self.estimator)

    def _cycles(self, bags: Spectrograms, estimator) -> np.ndarray:
        images = bags.images
        flatten = self.flatten
        if flatten == "auto":
            flatten = _takes_2d(estimator)
        return images.reshape(len(images), -1) if flatten else images

    def _check_max_cycles(self) -> None:
        """Refuse a ``max_cycles`` below ``min_cycles``: every recording
        scored on so few cycles would count as one with too few."""
        if self.max_cycles is not None and self.max_cycles < self.min_cycles:
            raise ValueError(
                f"max_cycles={self.max_cycles} is below min_cycles={self.min_cycles}"
            )

    def _spread(self, bags: Spectrograms) -> Spectrograms:
        """At most ``max_cycles`` evenly spaced cycles of each recording."""
        # set_params after fit can lower max_cycles: checked here too, or every
        # recording was named as one with too few cycles
        self._check_max_cycles()
        cap = self.max_cycles
        if cap is None or bags.n_cycles.max(initial=0) <= cap:
            return bags
        rows = [
            np.unique(np.linspace(a, b - 1, min(cap, b - a)).round().astype(np.int64))
            for a, b in zip(bags.offsets[:-1], bags.offsets[1:], strict=True)
        ]
        return Spectrograms(
            bags.images[np.concatenate(rows)],
            _offsets([len(r) for r in rows]),
            bags.names,
        )

    def _empty(self, bags: Spectrograms) -> np.ndarray:
        """Recordings with fewer than ``min_cycles`` cycles: an error, or flagged."""
        empty = np.flatnonzero(bags.n_cycles < self.min_cycles)
        if len(empty) and self.on_empty == "error":
            raise TooFewCyclesError(
                f"{self._shortfall(bags, empty)}. Check the recording "
                "(too short, silent, or no beat above the threshold), lower "
                "PeakCycleCutter(threshold=...), use PeakCycleCutter(method="
                "'period') for a heart slower than about 53 beats per minute (the "
                "default cutter's max_gap skips longer beats), check the sample "
                "rate (plain arrays are taken at 22050 Hz unless the first step "
                "is given sample_rate), or use on_empty='prior' to get the class "
                "prior for such recordings."
            )
        return empty

    def _shortfall(self, bags: Spectrograms, empty: np.ndarray) -> str:
        """What the recordings at ``empty`` lack, naming them, for a message."""
        found = (
            "no heart cycle was"
            if self.min_cycles == 1
            else f"fewer than {self.min_cycles} heart cycles were"
        )
        return f"{found} found in {bags._names_of(empty)}"

    def fit(
        self, X, y, groups=None, sample_weight=None, confounder=None
    ) -> RecordingClassifier:
        """Train the cycle-level classifier on the cycles of every recording.

        A recording with fewer than ``min_cycles`` cycles is left out of
        training (``on_empty="prior"``) or refused (``"error"``).

        Parameters
        ----------
        X : Spectrograms or sequence of arrays of shape (n_cycles_i, ...)
            One bag of cycles per recording.
        y : array-like of shape (n_recordings,)
            One label per recording.
        groups : array-like of shape (n_recordings,) or None
            Patient of each recording, for the estimator's internal validation
            split; without it, recordings are the groups. Estimators whose
            ``fit`` takes ``recordings`` also get each cycle's recording.
        sample_weight : array-like of shape (n_recordings,) or None
            Weight of each recording, given to every one of its cycles
            (``estimator.fit`` must take ``sample_weight``). Weights that make
            a known confounder independent of the label, such as
            ``compute_sample_weight("balanced", [f"{s}-{c}" for s, c in
            zip(site, y)])``, keep the estimator from learning the site; to
            have them computed on the training recordings alone, give
            ``confounder`` instead.
        confounder : array-like of shape (n_recordings,) or None
            The recorder, site or stethoscope of each recording, where known.
            The recordings of every (confounder, label) pair then weigh the
            same in total (``compute_sample_weight("balanced", pairs)`` on the
            recordings being fitted; with ``sample_weight``, each recording's
            weight scaled so that its pair's weights add up to the same total
            as every other pair's, a pair weighed 0 throughout left out; only
            recordings with cycles to train on count in the totals), so
            the confounder says nothing about the label; each recording's weight
            reaches every one of its cycles, so a device that gives more
            cycles per recording weighs more unless the estimator draws as
            many cycles of each (``ResNetClassifier(max_cycles_per_group=...)``,
            the default pipeline's 8). Computed inside ``fit``, the weights of a
            cross-validation fold never count the test fold's labels: pass it
            as ``params={"classifier__confounder": recorder}`` and it is sliced
            with the folds.

        Returns
        -------
        RecordingClassifier
            The fitted classifier (``self``).

        Raises
        ------
        ValueError
            If ``y`` (or ``groups``) does not hold one entry per recording, ``y``
            holds fewer than two classes or a class without any cycle,
            ``max_cycles`` is below ``min_cycles``, ``sample_weight`` is not one
            non-negative weight per recording, ``confounder`` not one value per
            recording (or missing, or numbers mixed with text), a class has no
            recording weighed above 0, the estimator's ``classes_`` are not the
            labels, or a parameter is invalid.
        RecordingError
            If a recording has fewer than ``min_cycles`` cycles and
            ``on_empty="error"`` (a :class:`~vascular_sklearn.TooFewCyclesError`), or no
            recording has ``min_cycles`` cycles.
        TypeError
            If ``X`` is neither :class:`~vascular_sklearn.containers.Spectrograms`
            nor a sequence of per-recording arrays, or ``sample_weight`` (or
            ``confounder``) is given to an estimator whose ``fit`` does not take
            ``sample_weight``.
        """
        # an earlier fit's model goes first: a refit that fails must not leave
        # it answering as if it were the new one
        for name in ("estimator_", "classes_", "class_prior_", "recordings_trained_"):
            self.__dict__.pop(name, None)
        self._validate_params()
        self._check_max_cycles()
        bags = _as_bags(X)
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != len(bags):
            raise ValueError(
                f"X holds {len(bags)} recordings but y has shape {y.shape}: give one "
                "label per recording"
            )
        check_classification_targets(y)
        if groups is not None:
            _refuse_missing(groups, "groups hold no patient")
            groups = np.asarray(groups)
            if groups.shape != (len(bags),):
                # np.repeat below would flatten a table, or fail on a string
                raise ValueError(
                    f"X holds {len(bags)} recordings but groups has shape "
                    f"{groups.shape}: give one group (patient) per recording"
                )
        empty = self._empty(bags)
        if len(empty) == len(bags):
            raise RecordingError("no recording has a heart cycle to train on")
        classes, counts = np.unique(y, return_counts=True)
        if len(classes) < 2:
            raise ValueError(
                f"training needs two classes; all {len(y)} recordings are labelled "
                f"{_plain(classes[0])!r} (in cross-validation, a training fold of "
                "patients of one class: StratifiedGroupKFold keeps both in each)"
            )
        estimator = self._make_estimator()
        # a recording with fewer than min_cycles cycles trains as one with none
        n = np.where(bags.n_cycles < self.min_cycles, 0, bags.n_cycles)
        cycle_groups = np.repeat(np.arange(len(bags)) if groups is None else groups, n)
        trained = np.isin(classes, y[n > 0])
        if not trained.all():
            # said before the weights: a class without cycles also weighs 0
            raise _untrained(classes[trained], classes)
        kwargs = {}
        weighed_by_user = sample_weight is not None
        if weighed_by_user:
            sample_weight = check_sample_weight(sample_weight, y)
            # the prior a recording without cycles gets follows the weights:
            # the user's, not the confounder's balance of (device, label) pairs
            counts = np.array([sample_weight[y == c].sum() for c in classes])
        if confounder is not None:
            sample_weight = _balanced_pairs(confounder, y, sample_weight, n > 0)
        if sample_weight is not None:
            # else the estimator's "two classes" check named no weight
            # a recording without cycles trains nothing, whatever its weight
            weighed = np.isin(classes, y[(sample_weight > 0) & (n > 0)])
            if not weighed.all():
                raise ValueError(
                    f"every class needs a recording with cycles weighed above 0; "
                    f"class {_plain(classes[~weighed][0])!r} has none"
                )
            key = _fit_keyword(estimator, "sample_weight")
            if key is None:
                routed = get_config()["enable_metadata_routing"]
                raise TypeError(
                    f"{type(estimator).__name__}.fit does not take sample_weight"
                    + (
                        " (under metadata routing, a step must ask for it: "
                        "set_fit_request(sample_weight=True))"
                        if routed
                        else ""
                    )
                    + "; use an estimator that does, or leave "
                    + (
                        "sample_weight"
                        if weighed_by_user
                        else "confounder (it weighs recordings)"
                    )
                    + " out"
                )
            kwargs[key] = np.repeat(sample_weight, n)
        for name, values in (
            ("groups", cycle_groups),
            ("recordings", np.repeat(np.arange(len(bags)), n)),
        ):
            key = _fit_keyword(estimator, name)
            if key is not None:
                kwargs[key] = values
        cycles = self._cycles(bags, estimator)
        if (n < bags.n_cycles).any():  # a copy only where cycles are left out
            cycles = cycles[np.repeat(n > 0, bags.n_cycles)]
        estimator.fit(cycles, np.repeat(y, n), **kwargs)
        if not np.array_equal(estimator.classes_, classes):
            raise _untrained(estimator.classes_, classes)
        # set only now: a fit that failed leaves nothing that looks fitted
        self.estimator_, self.classes_ = estimator, classes
        self.class_prior_ = counts / counts.sum()
        self.recordings_trained_ = n > 0
        return self

    def predict_cycle_proba(self, X) -> tuple[np.ndarray, np.ndarray]:
        """Predict the probability of each class for every cycle, for analysis.

        Parameters
        ----------
        X : Spectrograms or sequence of arrays of shape (n_cycles_i, ...)
            One bag of cycles per recording.

        Returns
        -------
        proba : ndarray of shape (n_cycles, n_classes)
            Probability of each class for every cycle scored, recordings in order.
        recording_index : ndarray of shape (n_cycles,)
            The recording (position in ``X``) of every cycle scored (at most
            ``max_cycles`` per recording).
        """
        check_is_fitted(self)
        bags = self._spread(_as_bags(X))
        if len(bags.images) == 0:
            return np.empty((0, len(self.classes_))), np.empty(0, np.int64)
        proba = self.estimator_.predict_proba(self._cycles(bags, self.estimator_))
        return proba, bags.recording_index

    def predict_proba(self, X) -> np.ndarray:
        """Predict the probability of each class per recording.

        Parameters
        ----------
        X : Spectrograms or sequence of arrays of shape (n_cycles_i, ...)
            One bag of cycles per recording.

        Returns
        -------
        ndarray of shape (n_recordings, n_classes)
            The cycles' probabilities aggregated per recording (``aggregate``);
            the class prior for recordings with fewer than ``min_cycles`` cycles
            when ``on_empty="prior"``.

        Raises
        ------
        RecordingError
            If a recording has fewer than ``min_cycles`` cycles and
            ``on_empty="error"``.
        ValueError
            If a parameter set after ``fit`` is invalid, ``max_cycles`` was
            set below ``min_cycles``, the bags' images differ in shape, or the
            estimator gives NaN or infinite probabilities.
        sklearn.exceptions.NotFittedError
            If the classifier is not fitted.

        Warns
        -----
        UserWarning
            When recordings without enough cycles get the class prior.
        """
        check_is_fitted(self)
        # set after fit too: aggregate="max" ran a mean, on_empty="skip" the prior
        self._validate_params()
        bags = self._spread(_as_bags(X))
        empty = self._empty(bags)
        proba, index = self.predict_cycle_proba(bags)
        broken = np.unique(index[~np.isfinite(proba).all(axis=1)])
        if len(broken):
            # a NaN row is neither class: predict would have said classes_[0]
            raise ValueError(
                f"the estimator gave NaN or infinite probabilities for cycles of "
                f"{bags._names_of(broken)}: check its input (constant features "
                "make GaussianNB's variance 0) or the estimator itself"
            )
        if self.aggregate == "vote":
            proba = np.eye(len(self.classes_))[proba.argmax(axis=1)]
        out = np.empty((len(bags), len(self.classes_)))
        bounds = zip(bags.offsets[:-1], bags.offsets[1:], strict=True)
        for i, (a, b) in enumerate(bounds):
            if i in empty:
                out[i] = self.class_prior_
            elif self.aggregate == "median":
                median = np.median(proba[a:b], axis=0)
                # of three or more classes the medians can all be 0: the mean decides
                total = median.sum()
                out[i] = median / total if total > 0 else proba[a:b].mean(axis=0)
            else:
                out[i] = proba[a:b].mean(axis=0)
        if len(empty):
            warnings.warn(
                f"{self._shortfall(bags, empty)}: returned the class prior",
                UserWarning,
                stacklevel=2,
            )
        return out

    def predict(self, X) -> np.ndarray:
        """Predict the most probable class per recording.

        Parameters
        ----------
        X : Spectrograms or sequence of arrays of shape (n_cycles_i, ...)
            One bag of cycles per recording.

        Returns
        -------
        ndarray of shape (n_recordings,)
            A label of ``classes_`` per recording; of two classes,
            ``classes_[1]`` from a probability of 0.5 up, the threshold the
            clinical reports use (a tie is common with ``aggregate="vote"``).

        Raises
        ------
        RecordingError
            If a recording has fewer than ``min_cycles`` cycles and
            ``on_empty="error"``.
        """
        proba = self.predict_proba(X)  # first: it checks that we are fitted
        if len(self.classes_) == 2:
            return self.classes_[(proba[:, 1] >= 0.5).astype(np.intp)]
        return self.classes_[proba.argmax(axis=1)]

    @available_if(lambda self: not hasattr(self, "classes_") or len(self.classes_) == 2)
    def decision_function(self, X) -> np.ndarray:
        """Compute the log-odds of the positive class (binary problems only).

        Parameters
        ----------
        X : Spectrograms or sequence of arrays of shape (n_cycles_i, ...)
            One bag of cycles per recording.

        Returns
        -------
        ndarray of shape (n_recordings,)
            ``log(p / (1 - p))`` with ``p`` the probability of ``classes_[1]``,
            clipped to about +-27.6.

        Raises
        ------
        AttributeError
            If the classifier was trained on more than two classes.
        RecordingError
            If a recording has fewer than ``min_cycles`` cycles and
            ``on_empty="error"``.
        """
        proba = self.predict_proba(X)
        p = np.clip(proba[:, 1], 1e-12, 1 - 1e-12)
        return np.log(p / (1 - p))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        return tags
