"""Figures for the real-data benchmark: recordings, spectrograms, ROC, confusion.

Every function draws one figure with the object-oriented matplotlib API (no
global pyplot state, so it works under the ``Agg`` backend and in threads),
saves it as a PNG at ``out`` (dpi 120, tight bounding box) and returns ``out``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from sklearn.metrics import ConfusionMatrixDisplay, roc_auc_score, roc_curve
from sklearn.pipeline import make_pipeline

from vascular_sklearn import LowpassFilter, MeanSmoother, PeakCycleCutter
from vascular_sklearn.containers import Signals
from vascular_sklearn.datasets import read_recording

__all__ = [
    "confusion_figure",
    "pairs_figure",
    "recording_figure",
    "roc_figure",
    "spectrogram_figure",
]

DPI = 120
_SHADE = "tab:orange"


def _save(fig: Figure, out: Path) -> Path:
    """Save ``fig`` as a PNG at ``out`` (creating its folder) and release it."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        fig.savefig(out, dpi=DPI, bbox_inches="tight")
    finally:
        fig.clf()
    return out


def _draw_cycles(
    ax,
    x: np.ndarray,
    ref: np.ndarray,
    rate: float,
    bounds: np.ndarray,
    lo: int,
    hi: int,
) -> None:
    """Signal, smoothed reference, shaded cycles and peaks on samples [lo, hi)."""
    t = np.arange(len(x)) / rate
    sl = slice(lo, hi)
    ax.plot(t[sl], x[sl], lw=0.5, color="tab:blue", label="lowpassed signal")
    ax.plot(t[sl], ref[sl], lw=1.2, color="black", label="smoothed (peak finding)")
    for k, (a, b) in enumerate(bounds):
        if b <= lo or a >= hi:
            continue
        if k % 2 == 0:
            ax.axvspan(a / rate, b / rate, color=_SHADE, alpha=0.15, lw=0)
    peaks = np.unique(bounds.ravel()) if len(bounds) else np.array([], np.int64)
    peaks = peaks[(peaks >= lo) & (peaks < hi)]
    ax.plot(t[peaks], ref[peaks], "v", color="tab:red", ms=6, label="cycle bounds")
    ax.set_xlim(t[lo], t[hi - 1])
    ax.set_ylabel("amplitude (full scale)")


def recording_figure(path_wav: str | os.PathLike, out: Path) -> Path:
    """A clinician's view of one recording and of the cycles cut from it.

    The recording goes through the library's ``LowpassFilter``,
    ``MeanSmoother`` and ``PeakCycleCutter`` with their default settings.

    Parameters
    ----------
    path_wav : path-like
        An audio file that :func:`~vascular_sklearn.datasets.read_recording` reads.
    out : Path
        Where to write the PNG.

    Returns
    -------
    out : Path
    """
    path_wav = Path(path_wav)
    x_raw, rate = read_recording(path_wav)
    signals = Signals.from_arrays([x_raw], sample_rate=rate, names=[path_wav.name])
    smoothed = make_pipeline(LowpassFilter(), MeanSmoother()).fit_transform(signals)
    bags = PeakCycleCutter().fit_transform(smoothed)
    x = np.asarray(smoothed.data[0])
    ref = np.asarray(smoothed.reference[0])
    bounds = np.asarray(bags.bounds[0]).reshape(-1, 2)
    rate = smoothed.sample_rate
    n_cycles = len(bounds)

    fig = Figure(figsize=(11, 6.5))
    top, bottom = fig.subplots(2, 1)
    _draw_cycles(top, x, ref, rate, bounds, 0, len(x))
    top.set_xlabel("time (s)")
    top.set_title(
        f"{path_wav.name}: {n_cycles} cycles "
        f"({int(bags.n_peaks[0])} peaks, {len(x) / rate:.1f} s)"
    )

    if n_cycles:
        first = max(n_cycles // 2 - 1, 0)
        last = min(first + 3, n_cycles) - 1
        lo, hi = int(bounds[first, 0]), int(bounds[last, 1])
        margin = int(0.1 * (hi - lo))
        lo, hi = max(lo - margin, 0), min(hi + margin, len(x))
        zoom_title = f"zoom on cycles {first + 1} to {last + 1}"
    else:
        lo, hi = 0, min(len(x), int(3 * rate))
        zoom_title = "no cycle found: the first 3 s"
    _draw_cycles(bottom, x, ref, rate, bounds, lo, max(hi, lo + 2))
    bottom.set_xlabel("time (s)")
    bottom.set_title(zoom_title, fontsize=10)
    fig.tight_layout()
    handles, names = top.get_legend_handles_labels()
    fig.legend(
        handles,
        names,
        loc="upper center",
        bbox_to_anchor=(0.5, 0.0),
        ncols=3,
        fontsize=9,
        frameon=False,
    )
    return _save(fig, out)


def spectrogram_figure(
    images_by_class: Mapping[str, np.ndarray],
    out: Path,
    sample_rate: float = 22050,
    n_fft: int = 440,
    hop_seconds: float | None = None,
) -> Path:
    """Example cycle spectrograms, one row per class.

    Parameters
    ----------
    images_by_class : mapping of str to ndarray of shape (k, F, T)
        Natural-log magnitude images per class name; bin ``f`` of an image is
        at ``f * sample_rate / n_fft`` Hz.
    out : Path
        Where to write the PNG.
    sample_rate : float, default=22050
    n_fft : int, default=440
        STFT window of the images, giving the frequency bin spacing.
    hop_seconds : float or None, default=None
        Seconds per image column; ``None`` labels the time axis in frames.

    Returns
    -------
    out : Path
    """
    names = list(images_by_class)
    stacks = [np.asarray(images_by_class[c], dtype=np.float64) for c in names]
    if not stacks or any(s.ndim != 3 for s in stacks):
        raise ValueError("images_by_class must map class names to (k, F, T) arrays")
    k = max(len(s) for s in stacks)
    finite = np.concatenate([s[np.isfinite(s)] for s in stacks])
    vmin, vmax = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
    df = sample_rate / n_fft

    fig = Figure(figsize=(2.6 * k + 1.2, 2.6 * len(names)), layout="constrained")
    axes = np.atleast_2d(fig.subplots(len(names), k, squeeze=False))
    image = None
    for r, (name, stack) in enumerate(zip(names, stacks, strict=True)):
        for c in range(k):
            ax = axes[r, c]
            if c >= len(stack):
                ax.set_axis_off()
                continue
            n_f, n_t = stack[c].shape
            dt = 1.0 if hop_seconds is None else hop_seconds
            extent = (-0.5 * dt, (n_t - 0.5) * dt, -0.5 * df, (n_f - 0.5) * df)
            image = ax.imshow(
                stack[c],
                origin="lower",
                aspect="auto",
                extent=extent,
                vmin=vmin,
                vmax=vmax,
                cmap="magma",
                interpolation="nearest",
            )
            ax.set_title(f"{name} #{c + 1}", fontsize=9)
            if c > 0:
                ax.tick_params(labelleft=False)
            if r < len(names) - 1:
                ax.tick_params(labelbottom=False)
    unit = "frames" if hop_seconds is None else "s"
    fig.supxlabel(f"time within cycle ({unit})")
    fig.supylabel("frequency (Hz)")
    if image is not None:
        fig.colorbar(image, ax=axes.ravel().tolist(), label="log magnitude")
    return _save(fig, out)


def roc_figure(
    y: np.ndarray, probas: Mapping[str, np.ndarray], out: Path, title: str
) -> Path:
    """ROC curves of several models scored on the same recordings.

    Parameters
    ----------
    y : ndarray of shape (n,)
        True labels, 1 for stenosis.
    probas : mapping of str to ndarray of shape (n,)
        Predicted probability of stenosis per model name.
    out : Path
        Where to write the PNG.
    title : str

    Returns
    -------
    out : Path
    """
    y = np.asarray(y)
    fig = Figure(figsize=(5.5, 5.5))
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="chance (AUC 0.50)")
    for name, p in probas.items():
        fpr, tpr, _ = roc_curve(y, np.asarray(p))
        auc = roc_auc_score(y, np.asarray(p))
        ax.plot(fpr, tpr, lw=1.8, label=f"{name} (AUC {auc:.2f})")
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.set_aspect("equal")
    ax.set_xlabel("false positive rate (1 - specificity)")
    ax.set_ylabel("true positive rate (sensitivity)")
    ax.set_title(title, fontsize=10)
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    return _save(fig, out)


def confusion_figure(
    y: np.ndarray,
    probas: Mapping[str, np.ndarray],
    out: Path,
    threshold: float = 0.5,
    labels: Sequence[str] = ("normal", "stenosis"),
) -> Path:
    """One confusion matrix per model, predicting stenosis at ``proba >= threshold``.

    Parameters
    ----------
    y : ndarray of shape (n,)
        True labels, 1 for stenosis.
    probas : mapping of str to ndarray of shape (n,)
        Predicted probability of stenosis per model name.
    out : Path
        Where to write the PNG.
    threshold : float, default=0.5
    labels : sequence of two str, default=("normal", "stenosis")
        Display names of classes 0 and 1.

    Returns
    -------
    out : Path
    """
    y = np.asarray(y).astype(int)
    n = max(len(probas), 1)
    fig = Figure(figsize=(3.6 * n, 3.8))
    axes = np.atleast_1d(fig.subplots(1, n, squeeze=False)[0])
    for ax, (name, p) in zip(axes, probas.items(), strict=False):
        pred = (np.asarray(p) >= threshold).astype(int)
        ConfusionMatrixDisplay.from_predictions(
            y,
            pred,
            labels=[0, 1],
            display_labels=list(labels),
            ax=ax,
            colorbar=False,
            cmap="Blues",
        )
        tp = int(np.sum((y == 1) & (pred == 1)))
        tn = int(np.sum((y == 0) & (pred == 0)))
        n_pos, n_neg = int(np.sum(y == 1)), int(np.sum(y == 0))
        sens = f"{tp / n_pos:.2f}" if n_pos else "n/a"
        spec = f"{tn / n_neg:.2f}" if n_neg else "n/a"
        ax.set_title(f"{name}\nsensitivity {sens}, specificity {spec}", fontsize=9)
    fig.suptitle(f"stenosis predicted at probability >= {threshold:g}", fontsize=10)
    fig.tight_layout()
    return _save(fig, out)


def pairs_figure(
    pairs: Sequence[tuple[str, float, float]], probas_label: str, out: Path
) -> Path:
    """Slope chart of before/after-angioplasty pairs.

    Parameters
    ----------
    pairs : sequence of (str, float, float)
        Pair name, predicted probability of stenosis of the stenotic 'before'
        recording, and of the normal 'after' recording.
    probas_label : str
        What the probabilities are (model and protocol), for the title.
    out : Path
        Where to write the PNG.

    Returns
    -------
    out : Path
    """
    fig = Figure(figsize=(5.5, 6))
    ax = fig.subplots()
    ax.axhline(0.5, ls=":", color="grey", lw=1)
    for name, before, after in pairs:
        color = "tab:green" if before > after else "tab:red"
        ax.plot([0, 1], [before, after], "o-", color=color, lw=1.5, ms=5)
        ax.annotate(
            name,
            (0, before),
            xytext=(-6, 0),
            textcoords="offset points",
            ha="right",
            va="center",
            fontsize=8,
        )
        ax.annotate(
            name,
            (1, after),
            xytext=(6, 0),
            textcoords="offset points",
            ha="left",
            va="center",
            fontsize=8,
        )
    n_down = sum(before > after for _, before, after in pairs)
    ax.set_xticks([0, 1], ["before (stenosis)", "after (normal)"])
    ax.set_xlim(-0.45, 1.45)
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("predicted probability of stenosis")
    ax.set_title(
        f"{probas_label}\nprobability falls after angioplasty in "
        f"{n_down} of {len(pairs)} pairs",
        fontsize=10,
    )
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, out)
