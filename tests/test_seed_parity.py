"""The seed configuration reproduces the original study's cycles on the real data."""

import csv
from collections import defaultdict

import numpy as np
import pytest
import torch

from vascular_sklearn import STFTSpectrogram, make_seed_pipeline
from vascular_sklearn.cycle_quality import PULSE_LIMIT_DB
from vascular_sklearn.datasets import load_recordings


@pytest.fixture(scope="module")
def seed(seed_dir):
    data = load_recordings(seed_dir)
    chain = make_seed_pipeline()[:-2]  # lowpass, smooth, cut
    return data, chain.fit_transform(data.recordings)


def _reference_cycles(seed_dir):
    ref = defaultdict(list)
    with open(seed_dir / "seed_cycles.csv", newline="") as f:
        for row in csv.DictReader(f):
            ref[row["recording"]].append((int(row["start"]), int(row["stop"])))
    return ref


def test_cycles_match_the_original(seed, seed_dir):
    data, bags = seed
    ref = _reference_cycles(seed_dir)
    total = exact = near = cut = kept = 0
    for name, bounds in zip(data.recordings.names, bags.bounds, strict=True):
        expected = np.array(ref[name.split("/")[-1]])
        total += len(expected)
        found = set(map(tuple, bounds.tolist()))
        exact += sum(tuple(c) in found for c in expected.tolist())
        # and the other way: the cycles cut are the original's, not more
        cut += len(bounds)
        kept += len(found & set(map(tuple, expected.tolist())))
        for start, stop in expected:
            close = (np.abs(bounds[:, 0] - start) <= 100) & (
                np.abs(bounds[:, 1] - stop) <= 100
            )
            near += bool(close.any())
    assert total == 3751  # every cycle of the 49 recordings with audio
    assert exact / total >= 0.995
    assert near / total >= 0.999
    assert abs(cut - total) <= 0.005 * total and kept / cut >= 0.995


def test_every_seed_recording_has_a_pulse(seed):
    _, bags = seed
    swings = np.array([row["pulse_db"] for row in bags.quality()])
    assert len(swings) == 49 and swings.min() >= 2 * PULSE_LIMIT_DB


def test_spectrograms_match_torch_on_real_cycles(seed):
    _, bags = seed

    subset = bags[[0, 20, 40]]
    images = STFTSpectrogram().fit_transform(subset).images
    window = torch.hann_window(440)
    row, worst = 0, 0.0
    for i in range(len(subset)):
        for cycle in subset.cycles(i):
            x = torch.from_numpy(cycle / (cycle.max() - cycle.min()))
            spec = torch.stft(
                x,
                440,
                hop_length=220,
                window=window,
                center=True,
                pad_mode="reflect",
                return_complex=True,
            ).abs()[:40]
            ref = torch.nn.functional.interpolate(spec[None, None], size=(40, 100))
            ref = ref[0, 0].numpy()
            worst = max(worst, np.abs(images[row, 0] - ref).max() / ref.max())
            row += 1
    assert row > 100 and worst < 1e-5
