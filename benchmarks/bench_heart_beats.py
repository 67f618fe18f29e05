"""Heart sounds: are the cut cycles heart beats? Both cutters against an
independent heart period.

The heart-sound corpus has no beat annotations, and the plausibility the
docs first gave (median cycle 0.4-1.5 s, 5 or more cycles) passes a cutter
whose cycles are pieces of a beat. Here each recording's heart period is
estimated without either cutter, from the autocorrelation of its heart-sound
envelope, and each cutter's median cycle is set beside it, by heart rate.

Run alone with ``python -m benchmarks.bench_heart_beats`` (prints the rows) or
through ``python -m benchmarks.run --only bench_heart_beats`` (writes the docs).
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np
from scipy.signal import butter, find_peaks, hilbert, sosfiltfilt

from vascular_sklearn import make_stenosis_pipeline
from vascular_sklearn.datasets import load_physionet2016
from vascular_sklearn.exceptions import NoPulseWarning, _left_to_caller

from .common import PHYSIONET_DIR

#: Periods (s) of the rows: 120-86, 86-71, 71-60, 60-53, 53-46 and 46-30 bpm.
BINS = (0.5, 0.7, 0.85, 1.0, 1.13, 1.3, 2.0)
#: Two estimates of the period count as agreeing within this fraction.
AGREE = 0.10
#: The autocorrelation at the period must reach this: white noise of 20 s
#: reaches 0.1-0.2 at its highest peak, 90 % of the heart sounds 0.3.
PERIODIC = 0.3
#: A median cycle under this share of the period holds pieces of a beat.
FRAGMENT = 0.8

TITLE = "Heart sounds: cut cycles against an independent heart period"
DESCRIPTION = (
    "The 1699 PhysioNet/CinC 2016 recordings (load_physionet2016). Independent "
    "period: each recording band-passed to 25-150 Hz (4th-order Butterworth, "
    "zero phase), its Hilbert envelope made homomorphic (exp of the 8 Hz "
    "lowpass of its log, as in Springer's segmentation), taken to 100 Hz, and "
    "its unbiased autocorrelation searched for the highest peak, moved to a "
    "peak at a whole fraction of it (1/2, 1/3, ...) at least 0.75 as high "
    "(the period, not two beats of it), twice: (A) at lags of 0.3-2 s, (B) "
    "at 0.5-2 s. A recording's period is A where A and B agree within "
    f"{AGREE:.0%} (it does not hang on whether lags under 0.5 s, the S1-S2 "
    f"interval, are searched) and the autocorrelation there is {PERIODIC:g} or "
    "more (20 s of white noise reach 0.1-0.2). No cutter is involved. "
    "Cutters: the default "
    "pipeline's lowpass, smoother and cutter "
    "(make_stenosis_pipeline()[:3]: the seed rule, peaks at least 0.5 s "
    "apart, gaps over 1.13 s dropped) and the same chain with "
    "cut__method='period'. Per recording: median cut cycle / period. Rows: "
    "recordings by period; 'fragments': median cycle under "
    f"{FRAGMENT:g} periods (the cycles are pieces of a beat); 'two beats': "
    "over 1.5 periods; 'at least 5 cycles': the docs' first plausibility test."
)

_NOTES: list[str] = []


def _autocorrelation(x: np.ndarray) -> np.ndarray:
    x = x - x.mean()
    n = len(x)
    ac = np.fft.irfft(np.abs(np.fft.rfft(x, 2 * n)) ** 2)[:n]
    # unbiased: a lag's sum over fewer products is not made smaller for it
    return ac / (ac[0] * (n - np.arange(n)) / n)


def _highest(ac: np.ndarray, rate: float, low: float, high: float, fraction: float):
    """The lag (s) of the highest autocorrelation peak in [low, high], or of
    a peak at 1/k of it at least ``fraction`` as high (the heart period, not
    two beats of it)."""
    top = min(int(high * rate), len(ac) // 2)
    peaks, _ = find_peaks(ac[: top + 1])
    peaks = peaks[peaks >= int(low * rate)]
    if not len(peaks):
        return np.nan, np.nan
    best = peaks[np.argmax(ac[peaks])]
    for p in peaks[peaks < best]:
        k = best / p
        if round(k) >= 2 and abs(k - round(k)) < 0.08 and ac[p] >= fraction * ac[best]:
            return p / rate, ac[p]
    return best / rate, ac[best]


def heart_period(x: np.ndarray, sample_rate: float) -> float:
    """The heart period (s) of a heart-sound recording where two envelope
    autocorrelation estimates agree, else NaN (see ``DESCRIPTION``)."""
    sos = butter(4, [25.0, 150.0], btype="band", fs=sample_rate, output="sos")
    envelope = np.abs(hilbert(sosfiltfilt(sos, np.asarray(x, np.float64))))
    smooth = butter(1, 8.0, fs=sample_rate, output="sos")
    envelope = np.exp(sosfiltfilt(smooth, np.log(envelope + 1e-10)))
    step = max(1, int(sample_rate // 100))
    ac = _autocorrelation(envelope[::step])
    rate = sample_rate / step
    a, height = _highest(ac, rate, 0.3, 2.0, 0.75)
    b, _ = _highest(ac, rate, 0.5, 2.0, 0.75)
    return a if abs(a - b) <= AGREE * a and height >= PERIODIC else np.nan


def _median_cycles(X, method: str) -> tuple[np.ndarray, np.ndarray]:
    """Each recording's median cycle (s; NaN without one) and cycle count."""
    chain = make_stenosis_pipeline()[:3].set_params(cut__method=method)
    with _left_to_caller(NoPulseWarning):  # the silent recordings, counted below
        bags = chain.fit_transform(X)
    medians = np.array(
        [np.median(np.diff(b, axis=1)) if len(b) else np.nan for b in bags.bounds]
    )
    return medians / X.sample_rate, np.asarray(bags.n_cycles)


def _row(label: str, ratio: np.ndarray, counts: np.ndarray) -> dict:
    return {
        "heart period": label,
        "recordings": len(ratio),
        "median cycle / period": f"{np.nanmedian(ratio):.2f}" if len(ratio) else "",
        "fragments": int(np.sum(ratio < FRAGMENT)),
        "two beats": int(np.sum(ratio > 1.5)),
        "at least 5 cycles": int(np.sum(counts >= 5)),
    }


def run() -> list[dict]:
    _NOTES.clear()
    data = load_physionet2016(PHYSIONET_DIR)
    X = data.recordings.load()
    period = np.array([heart_period(x, X.sample_rate) for x in X.data])
    known = ~np.isnan(period)
    rows = []
    for method in ("seed", "period"):
        cycle, counts = _median_cycles(X, method)
        ratio = cycle / period
        name = "default (seed rule)" if method == "seed" else "period finder"
        for low, high in pairwise(BINS):
            inside = known & (period >= low) & (period < high)
            label = f"{low:g}-{high:g} s ({60 / high:.0f}-{60 / low:.0f} bpm)"
            rows.append({"cutter": name, **_row(label, ratio[inside], counts[inside])})
        inside = known & (period >= BINS[0]) & (period < BINS[-1])
        rows.append({"cutter": name, **_row("all", ratio[inside], counts[inside])})
        by_db = ", ".join(
            f"{db} {int(np.sum(ratio[inside & (data.groups == db)] < FRAGMENT))}"
            f"/{int(np.sum(inside & (data.groups == db)))}"
            for db in sorted(set(data.groups))
        )
        _NOTES.append(f"- {name}, fragments per database: {by_db}")
    in_rows = known & (period >= BINS[0]) & (period < BINS[-1])
    _NOTES.insert(
        0,
        f"Period estimated for {int(known.sum())} of {len(period)} recordings, "
        f"{int(in_rows.sum())} of them in the rows (30-120 bpm; B searches from "
        "0.5 s, so a faster heart is seldom confirmed: its recording is most "
        f"likely among the {len(period) - int(known.sum())} without a period).",
    )
    return rows


def notes() -> str:
    return "\n".join(_NOTES)


if __name__ == "__main__":
    for r in run():
        print(r)
    print(notes())
