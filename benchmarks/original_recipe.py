"""A straight re-implementation of the original study's signal scripts.

Written the way the original did it: torch tensors, one recording and one cycle
at a time, ``scipy.signal.medfilt`` and plain ``find_peaks(distance=...)``. It is
the baseline the library's chain is timed against. torchaudio cannot be installed
beside the pinned torch, so ``lowpass_biquad`` is rebuilt from its definition:
coefficients in float32 torch ops, the FIR part as ``conv1d`` and the recursion
with ``scipy.signal.lfilter`` in float32 (a per-sample Python loop, as torchaudio's
fallback, would take minutes per recording and flatter the library).
"""

from __future__ import annotations

import math
from itertools import pairwise

import numpy as np
import soundfile as sf
import torch
from scipy.signal import find_peaks, lfilter, medfilt


def original_lowpass(
    x: np.ndarray, sample_rate: int = 22050, cutoff: float = 1000.0, q: float = 0.707
) -> np.ndarray:
    wave = torch.from_numpy(np.asarray(x, np.float32))
    w0 = 2 * math.pi * torch.as_tensor(cutoff, dtype=torch.float32) / sample_rate
    alpha = torch.sin(w0) / 2 / q
    cos_w0 = torch.cos(w0)
    b = torch.stack([(1 - cos_w0) / 2, 1 - cos_w0, (1 - cos_w0) / 2])
    a = torch.stack([1 + alpha, -2 * cos_w0, 1 - alpha])
    padded = torch.nn.functional.pad(wave[None, None], (2, 0))
    fir = torch.nn.functional.conv1d(padded, b.flip(0)[None, None])[0, 0] / a[0]
    y = lfilter([1.0], (a / a[0]).numpy(), fir.numpy())
    return np.clip(y, -1, 1).astype(np.float32)


def original_cut(x: np.ndarray) -> np.ndarray:
    """Cycle bounds as the original: medfilt(1001), mean + 0.9 std, 11000, 25000."""
    lowpassed = original_lowpass(x)
    smoothed = medfilt(lowpassed, 1001)
    height = np.mean(smoothed) + 0.9 * np.std(smoothed)
    peaks, _ = find_peaks(smoothed, height=height, distance=11000)
    pairs = [(a, b) for a, b in pairwise(peaks) if b - a < 25000]
    return np.array(pairs, dtype=np.int64).reshape(-1, 2), lowpassed


def original_images(lowpassed: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Per cycle: range scaling, torch.stft magnitude, 40 bins, nearest to 100."""
    window = torch.hann_window(440)
    images = []
    for a, b in bounds:
        cycle = torch.from_numpy(lowpassed[a:b])
        cycle = cycle / (cycle.max() - cycle.min())
        spec = torch.stft(
            cycle,
            440,
            hop_length=220,
            win_length=440,
            window=window,
            center=True,
            pad_mode="reflect",
            return_complex=True,
        ).abs()
        spec = torch.nn.functional.interpolate(
            spec[:40][None, None], size=(40, 100), mode="nearest"
        )
        images.append(spec[0].numpy())
    return np.stack(images) if images else np.empty((0, 1, 40, 100), np.float32)


def original_chain(paths) -> tuple[list[np.ndarray], np.ndarray]:
    """Read, lowpass, smooth, cut and image every file; bounds and all images."""
    all_bounds, all_images = [], []
    for path in paths:
        x, _ = sf.read(path, dtype="int16")
        bounds, lowpassed = original_cut(x / 32768.0)
        all_bounds.append(bounds)
        all_images.append(original_images(lowpassed, bounds))
    return all_bounds, np.concatenate(all_images)
