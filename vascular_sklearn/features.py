"""Beat-envelope features: one vector per recording that a recorder cannot fake.

A recording device sets the gain and adds a stationary noise floor (hiss,
quantisation); neither says anything about the vessel. The features here are
ratios of band energies *above* a per-recording noise floor (the level of its
quietest frames), so a gain change cancels and a stationary floor weighs far
less than in plain band energies: how each band's energy is spread
over the heart cycle, how much louder systole is than diastole, and how the
energy above the floor is shared between bands. Each cycle's mean is taken
out first: a converter's DC offset is no sound either.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._base import NOT_FINITE, CycleBagTransformer, map_recordings, to_samples
from .containers import CycleBags
from .exceptions import RecordingError
from .spectrogram import _CHUNK, _frames, _hann

__all__ = ["BeatEnvelopeFeatures"]

#: Added to every frame's above-floor energy, relative to the cycle's mean frame
#: energy, so that logs stay finite (a band or time bin can hold nothing above the
#: floor) while a gain change still cancels.
_EPS = 1e-6


def _band_energies(cycles, bounds, name, n_fft, hop, weights):
    """Power per band in each STFT frame of every cycle, and frames per cycle.

    Returns the energies, shape (n_frames_total, n_bands), cycles one after the
    other, and the number of frames of each cycle.
    """
    energy, counts = [], []
    for start in range(0, len(cycles), _CHUNK):
        frames = []
        for k in range(start, min(start + _CHUNK, len(cycles))):
            a, b = bounds[k]
            if len(cycles[k]) < n_fft:
                raise RecordingError(
                    f"{name}, cycle {k} (samples {a} to {b}): shorter than the "
                    f"{n_fft}-sample STFT window; shorten `window`."
                )
            cycle = np.asarray(cycles[k], np.float64)
            if not np.isfinite(cycle).all():
                # one NaN would make the recording's floor, so its whole row, NaN
                raise RecordingError(
                    f"{name}, cycle {k} (samples {a} to {b}): {NOT_FINITE}."
                )
            # a converter's DC offset is no sound, and a short window's lowest
            # bins would count it in the lowest band
            frames.append(_frames(cycle - cycle.mean(), n_fft, hop))
        counts += [len(f) for f in frames]
        spectrum = np.fft.rfft(np.concatenate(frames) * _hann(n_fft), axis=-1)
        energy.append((spectrum.real**2 + spectrum.imag**2) @ weights)
    return np.concatenate(energy), np.array(counts, dtype=np.int64)


def _cycle_runs(bags: CycleBags, i: int) -> np.ndarray | None:
    """The run (0: as recorded, then each one an augmentation appended) each
    cycle of recording ``i`` lies in; ``None`` where it holds one run."""
    if bags.runs is None or len(bags.runs[i]) == 1:
        return None
    return np.searchsorted(bags.runs[i], bags.bounds[i][:, 0], side="right") - 1


def _recording_features(
    job, n_fft, hop, weights, n_bins, systole, floor_percentile, aggregate
) -> np.ndarray:
    """All features of one recording, aggregated over its cycles (``job =
    (cycles, bounds, name, run of each cycle or None)``)."""
    cycles, bounds, name, run = job
    energy, counts = _band_energies(cycles, bounds, name, n_fft, hop, weights)
    n_bands = energy.shape[1]
    lengths = np.array([len(c) for c in cycles], dtype=np.int64)
    n_cycles = len(cycles)
    cycle = np.repeat(np.arange(n_cycles), counts)
    k = np.arange(len(cycle)) - np.repeat(np.cumsum(counts) - counts, counts)
    position = k * hop / lengths[cycle]  # frame centre as a fraction of the cycle
    time_bin = np.minimum((position * n_bins).astype(np.int64), n_bins - 1)
    diastolic = (position >= systole).astype(np.int64)

    if run is None:
        floor = np.percentile(energy, floor_percentile, axis=0)
    else:
        # a run an augmentation appended is heard through another device, at
        # another gain: its floor is its own, as the harmonizer takes it
        _, frame_run = np.unique(np.repeat(run, counts), return_inverse=True)
        floors = [
            np.percentile(energy[frame_run == r], floor_percentile, axis=0)
            for r in range(frame_run.max() + 1)
        ]
        floor = np.stack(floors)[frame_run]
    above = np.maximum(energy - floor, 0.0)
    total = np.bincount(cycle, weights=energy.sum(axis=1), minlength=n_cycles)
    eps = _EPS * total / counts + np.finfo(np.float64).tiny  # per frame and band

    def sums(group: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
        """Above-floor energy plus ``eps`` per frame, per (cycle, group, band),
        and the frames per (cycle, group); a group without frames (a very short
        cycle) counts as one frame of ``eps``, so that its log stays finite."""
        index = cycle * n_groups + group
        size = n_cycles * n_groups
        per_band = [
            np.bincount(index, weights=above[:, b], minlength=size)
            for b in range(n_bands)
        ]
        frames = np.maximum(np.bincount(index, minlength=size), 1).reshape(-1, 1)
        out = np.stack(per_band, axis=-1) + frames * np.repeat(eps, n_groups)[:, None]
        return out.reshape(n_cycles, n_groups, n_bands), frames.reshape(-1, n_groups, 1)

    binned, _ = sums(time_bin, n_bins)
    envelope = np.log(binned / binned.sum(axis=1, keepdims=True))
    # means per frame: frames are evenly spaced, so these are energies per second
    parts, frames = sums(diastolic, 2)
    parts = parts / frames
    sys_dia = np.log(parts[:, 0] / parts[:, 1])
    band_total = binned.sum(axis=1)
    share = np.log(band_total / band_total.sum(axis=1, keepdims=True))

    per_cycle = np.concatenate(
        [envelope.transpose(0, 2, 1).reshape(n_cycles, -1), sys_dia, share], axis=1
    )
    reduce = np.median if aggregate == "median" else np.mean
    return reduce(per_cycle, axis=0)


class BeatEnvelopeFeatures(CycleBagTransformer):
    """Turn each recording's bag of heart cycles into one beat-envelope vector.

    Each cycle (pressure peak to pressure peak) gets a power STFT (Hann window,
    hop of half a window) and its energy per frequency band and frame. The
    recording's noise floor per band, the ``floor_percentile`` percentile of
    that band's frame energies over all its cycles, is subtracted (negative
    values become 0). From the energy above the floor each cycle gives, all as
    logs of ratios so that a gain change cancels:

    1. ``envelope_<band>_bin<j>``: the share of the band's energy in each of
       ``n_bins`` equal time bins of the cycle (its shape over the beat);
    2. ``sys_dia_<band>``: energy per second in systole (the first
       ``systole`` of the cycle) over that in diastole;
    3. ``share_<band>``: the band's share of the energy of all bands.

    Each feature is then aggregated over the recording's cycles.

    In a band that holds only noise (no bruit at all), what lies above the
    floor is the noise's own fluctuation, which grows with the noise: its
    columns follow the recorder there, and only there.

    Parameters
    ----------
    bands : sequence of (float, float), default=((25, 150), (150, 400), (400, 1000))
        Frequency bands ``(low, high)`` in Hz; a band holds the STFT bins with
        ``low <= f < high`` and must lie below the Nyquist frequency.
    n_bins : int, default=8
        Equal time bins over each cycle for the envelope.
    window : float, default=0.02
        STFT window length in seconds; the hop is half of it.
    systole : float, default=0.35
        Fraction of each cycle, from its start at the pressure peak, counted
        as systolic.
    floor_percentile : float, default=10.0
        Percentile of a band's frame energies (over all the recording's
        cycles) taken as the band's stationary noise floor.
    aggregate : {"median", "mean"}, default="median"
        How each feature is aggregated over a recording's cycles.
    on_empty : {"error", "nan"}, default="error"
        What a recording without a cycle gets in ``transform``: an error that
        names it, or a row of NaN, the missing-value marker that scikit-learn's
        imputers (:class:`~sklearn.impute.SimpleImputer`) and
        :class:`~sklearn.ensemble.HistGradientBoostingClassifier` understand.
    n_jobs : int or None, default=None
        Recordings processed in parallel through joblib.

    Attributes
    ----------
    sample_rate_ : float
        Rate of the training recordings.
    n_features_out_ : int
        Number of features: ``n_bands * (n_bins + 2)``.

    Raises
    ------
    TypeError
        In ``fit`` and ``transform``, if ``X`` is not a
        :class:`~vascular_sklearn.containers.CycleBags`.
    RecordingError
        In ``transform``, if a recording has no cycle (with
        ``on_empty="error"``) or a cycle is shorter than the window or holds
        NaN or infinite samples; the message names the recording.

    Examples
    --------
    >>> from vascular_sklearn import LowpassFilter, MeanSmoother, PeakCycleCutter
    >>> from vascular_sklearn.datasets import make_recordings
    >>> from vascular_sklearn.features import BeatEnvelopeFeatures
    >>> data = make_recordings(n_patients=2, recordings_per_patient=1, duration=5,
    ...                        random_state=0)
    >>> x = LowpassFilter().fit_transform(data.recordings)
    >>> x = MeanSmoother(method="median").fit_transform(x)
    >>> bags = PeakCycleCutter().fit_transform(x)
    >>> BeatEnvelopeFeatures().fit_transform(bags).shape
    (2, 30)
    """

    _parameter_constraints: dict = {
        "bands": ["array-like"],
        "n_bins": [Interval(Integral, 1, None, closed="left")],
        "window": [Interval(Real, 0, None, closed="neither")],
        "systole": [Interval(Real, 0, 1, closed="neither")],
        "floor_percentile": [Interval(Real, 0, 100, closed="both")],
        "aggregate": [StrOptions({"median", "mean"})],
        "on_empty": [StrOptions({"error", "nan"})],
        "n_jobs": [Integral, None],
    }

    def __init__(
        self,
        bands: tuple[tuple[float, float], ...] = (
            (25.0, 150.0),
            (150.0, 400.0),
            (400.0, 1000.0),
        ),
        n_bins: int = 8,
        window: float = 0.02,
        systole: float = 0.35,
        floor_percentile: float = 10.0,
        aggregate: str = "median",
        on_empty: str = "error",
        n_jobs: int | None = None,
    ) -> None:
        self.bands = bands
        self.n_bins = n_bins
        self.window = window
        self.systole = systole
        self.floor_percentile = floor_percentile
        self.aggregate = aggregate
        self.on_empty = on_empty
        self.n_jobs = n_jobs

    def _band_list(self) -> np.ndarray:
        bands = np.asarray(self.bands, dtype=np.float64)
        if bands.ndim != 2 or bands.shape[1] != 2 or len(bands) == 0:
            raise ValueError(
                f"bands must be a non-empty sequence of (low, high) pairs in Hz, "
                f"got {self.bands!r}."
            )
        bad = ~(np.isfinite(bands).all(axis=1) & (bands[:, 0] >= 0))
        bad |= ~(bands[:, 0] < bands[:, 1])
        if bad.any():
            low, high = bands[np.argmax(bad)]
            raise ValueError(f"band ({low:g}, {high:g}) Hz: need 0 <= low < high.")
        return bands

    def _sizes(self, rate: float) -> tuple[int, int, np.ndarray]:
        """Window and hop in samples, and the (n_freqs, n_bands) bin-to-band map."""
        n_fft = to_samples(self.window, rate)
        hop = to_samples(self.window / 2, rate)
        freqs = np.fft.rfftfreq(n_fft, 1 / rate)
        bands = self._band_list()
        weights = np.zeros((len(freqs), len(bands)))
        for b, (low, high) in enumerate(bands):
            if high > rate / 2:
                raise ValueError(
                    f"band ({low:g}, {high:g}) Hz reaches above the Nyquist "
                    f"frequency ({rate / 2:g} Hz) of recordings at {rate:g} Hz."
                )
            weights[:, b] = (freqs >= low) & (freqs < high)
            if not weights[:, b].any():
                raise ValueError(
                    f"band ({low:g}, {high:g}) Hz holds no STFT bin (spacing "
                    f"{rate / n_fft:g} Hz); widen it or lengthen `window`."
                )
        return n_fft, hop, weights

    def _n_columns(self) -> int:
        """An envelope per time bin, a systolic/diastolic ratio and a share,
        per band."""
        return len(self._band_list()) * (self.n_bins + 2)

    def _check_columns(self) -> None:
        """Refuse columns other than those ``fit`` counted (``bands`` or
        ``n_bins`` set since): the table would not fit ``n_features_out_``."""
        check_is_fitted(self)
        n = self._n_columns()
        if n != self.n_features_out_:
            raise ValueError(
                f"BeatEnvelopeFeatures was fitted for {self.n_features_out_} "
                f"columns, but its bands and n_bins now give {n}: fit it again "
                "after changing them."
            )

    def fit(self, X: CycleBags, y=None) -> BeatEnvelopeFeatures:
        """Check the parameters, the input and the bands; remember the rate.

        Parameters
        ----------
        X : CycleBags
            The training recordings' cycles, from
            :class:`~vascular_sklearn.PeakCycleCutter`.
        y : None
            Ignored; present for the scikit-learn API.

        Returns
        -------
        BeatEnvelopeFeatures
            The fitted step (``self``).

        Raises
        ------
        ValueError
            If ``bands`` is not a list of ``(low, high)`` pairs with
            ``0 <= low < high``, a band reaches above the Nyquist frequency, or
            a band holds no STFT bin at this window and rate; or as the base
            ``fit``.
        """
        super().fit(X)
        self.n_features_out_ = self._n_columns()
        return self

    def _check_rate(self, sample_rate: float) -> None:
        self._sizes(sample_rate)

    def transform(self, X: CycleBags) -> np.ndarray:
        """Compute each recording's features.

        Parameters
        ----------
        X : CycleBags
            The cycles of the recordings.

        Returns
        -------
        ndarray of float64, shape (n_recordings, n_features_out)
            One row per recording, in the input's order; columns as
            :meth:`get_feature_names_out` names them; NaN for a recording
            without a cycle when ``on_empty="nan"``.

        Raises
        ------
        TypeError
            If ``X`` is not a :class:`~vascular_sklearn.containers.CycleBags`.
        RecordingError
            If a recording has no cycle (with ``on_empty="error"``), or a cycle
            is shorter than the window or holds NaN or infinite samples; the
            message names the recording.
        ValueError
            If ``X`` is at a sample rate whose Nyquist frequency lies below a
            band's upper edge, or ``bands`` or ``n_bins`` changed since ``fit``
            to give another number of columns.
        sklearn.exceptions.NotFittedError
            If the step is not fitted.
        """
        self._check_columns()
        bags = self._check_bags(X)
        n_fft, hop, weights = self._sizes(bags.sample_rate)
        has_cycles = bags.n_cycles > 0
        if not has_cycles.all() and self.on_empty == "error":
            raise RecordingError(
                f"{bags.name(int(np.argmin(has_cycles)))}: no heart cycle to "
                "compute beat features from; CycleBags.quality() shows why none "
                "was cut, or use on_empty='nan' to mark it as missing."
            )
        cut = np.flatnonzero(has_cycles)
        jobs = [
            (bags.cycles(i), bags.bounds[i], bags.name(i), _cycle_runs(bags, i))
            for i in cut
        ]
        args = (self.n_bins, self.systole, self.floor_percentile, self.aggregate)
        rows = map_recordings(
            _recording_features, jobs, self.n_jobs, n_fft, hop, weights, *args
        )
        out = np.full((len(bags), self.n_features_out_), np.nan)
        if len(cut):
            out[cut] = np.array(rows, dtype=np.float64).reshape(len(cut), -1)
        return out

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Name the output features.

        Parameters
        ----------
        input_features : None
            Ignored: the input is a bag of cycles, not named columns.

        Returns
        -------
        ndarray of str, shape (n_features_out,)
            ``envelope_<low>-<high>Hz_bin<j>`` for every band and time bin, then
            ``sys_dia_<low>-<high>Hz`` and ``share_<low>-<high>Hz`` per band.

        Raises
        ------
        ValueError
            If ``bands`` or ``n_bins`` changed since ``fit`` to give another
            number of columns.
        """
        self._check_columns()
        bands = [f"{low:g}-{high:g}Hz" for low, high in self._band_list()]
        names = [f"envelope_{b}_bin{j}" for b in bands for j in range(self.n_bins)]
        names += [f"sys_dia_{b}" for b in bands] + [f"share_{b}" for b in bands]
        return np.asarray(names, dtype=object)
