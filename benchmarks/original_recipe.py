"""A straight re-implementation of the original study's signal scripts.

Written the way the original did it: torch tensors, one recording and one cycle
at a time, ``scipy.signal.medfilt`` and plain ``find_peaks(distance=...)``. It is
the baseline the library's chain is timed and compared against; it is not part of
the library.

torchaudio cannot be installed beside the pinned torch, so its
``lowpass_biquad`` / ``lfilter`` are rebuilt from their definition: coefficients as
float32 torch ops, the FIR part as ``conv1d`` of the zero-padded signal with the
flipped ``b`` divided by ``a0``, then the IIR recursion, output clamped to
[-1, 1]. torchaudio runs that recursion in a C++ loop; a per-sample Python loop
would take minutes per recording and flatter the library, so the recursion runs in
``scipy.signal.lfilter`` on float32 input with float32 coefficients (same
precision; its transposed direct form adds the two feedback terms in another
order, a last-bit rounding difference).
"""

from __future__ import annotations

import math
from itertools import pairwise

import numpy as np
import soundfile as sf
import torch
from scipy.signal import find_peaks, lfilter, medfilt

__all__ = [
    "original_chain",
    "original_cut",
    "original_images",
    "original_lowpass",
    "original_read",
]


def original_read(path) -> torch.Tensor:
    """16-bit WAV as a float32 tensor of ``int16 / 32768`` (torchaudio.load)."""
    pcm, _ = sf.read(path, dtype="int16")
    return torch.from_numpy(pcm).to(torch.float32) / 32768


def original_lowpass(
    wave: torch.Tensor,
    sample_rate: int = 22050,
    cutoff: float = 1000.0,
    q: float = 0.707,
) -> torch.Tensor:
    """torchaudio's ``lowpass_biquad(wave, sample_rate, cutoff, q)``, float32."""
    wave = torch.as_tensor(wave, dtype=torch.float32)
    cutoff = torch.as_tensor(cutoff, dtype=torch.float32)
    w0 = 2 * math.pi * cutoff / sample_rate
    alpha = torch.sin(w0) / 2 / q
    b0 = (1 - torch.cos(w0)) / 2
    b = torch.stack([b0, 1 - torch.cos(w0), b0])
    a = torch.stack([1 + alpha, -2 * torch.cos(w0), 1 - alpha])
    # lfilter: FIR part in parallel, the zero-padded signal against flipped b
    padded = torch.nn.functional.pad(wave[None, None], (len(a) - 1, 0))
    fir = torch.nn.functional.conv1d(padded, b.flip(0)[None, None])[0, 0] / a[0]
    # IIR recursion y[n] = fir[n] - a1 y[n-1] - a2 y[n-2] (see the module docstring)
    a_norm = (a / a[0]).numpy()
    y = lfilter(np.ones(1, np.float32), a_norm, fir.numpy())
    return torch.clamp(torch.from_numpy(y), -1.0, 1.0)


def original_cut(lowpassed: torch.Tensor) -> np.ndarray:
    """Cycle bounds ``[start, stop)``, shape (n_cycles, 2), of a lowpassed signal.

    ``medfilt(x, 1001)``, ``find_peaks(height=mean + 0.9 std, distance=11000)``,
    consecutive peaks less than 25000 samples apart.
    """
    smoothed = medfilt(np.asarray(lowpassed), 1001)
    height = np.mean(smoothed) + 0.9 * np.std(smoothed)
    peaks, _ = find_peaks(smoothed, height=height, distance=11000)
    pairs = [(a, b) for a, b in pairwise(peaks) if b - a < 25000]
    return np.array(pairs, dtype=np.int64).reshape(-1, 2)


def original_images(lowpassed: torch.Tensor, bounds: np.ndarray) -> np.ndarray:
    """Per cycle: range scaling, |torch.stft| (torchaudio Spectrogram(n_fft=440,
    power=1)), 40 lowest bins, nearest resize to 100 frames; (n, 1, 40, 100)."""
    lowpassed = torch.as_tensor(lowpassed)
    window = torch.hann_window(440)
    images = []
    for a, b in bounds:
        cycle = lowpassed[a:b]
        cycle = cycle / (cycle.max() - cycle.min())
        spec = torch.stft(
            cycle,
            n_fft=440,
            hop_length=220,
            win_length=440,
            window=window,
            center=True,
            pad_mode="reflect",
            return_complex=True,
        ).abs()
        image = torch.nn.functional.interpolate(
            spec[:40][None, None], size=(40, 100), mode="nearest"
        )
        images.append(image[0].numpy())
    if not images:
        return np.empty((0, 1, 40, 100), np.float32)
    return np.stack(images)


def original_chain(paths) -> tuple[list[np.ndarray], np.ndarray]:
    """Read, lowpass, smooth, cut and image every file.

    Returns the cycle bounds per file and all images, files one after the other.
    """
    all_bounds, all_images = [], []
    for path in paths:
        lowpassed = original_lowpass(original_read(path))
        bounds = original_cut(lowpassed)
        all_bounds.append(bounds)
        all_images.append(original_images(lowpassed, bounds))
    return all_bounds, np.concatenate(all_images)
