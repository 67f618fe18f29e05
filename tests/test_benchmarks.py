"""Benchmark helpers whose numbers the docs report."""

import numpy as np
from sklearn.utils import Bunch

import benchmarks.bench_real_data as seed
from benchmarks.baselines import band_shares
from vascular_sklearn.containers import Signals

ALTERATIONS = ("x0.1", "x10", "quiet recorder", "one sample shorter", "DC offset")


class _NoCut:
    """Stands in for the cutting steps: every altered recording keeps a cycle."""

    def __getitem__(self, steps):
        return self

    def fit_transform(self, X):
        return Bunch(n_cycles=np.ones(len(X)))


def _audit(monkeypatch, perturbed, p):
    monkeypatch.setattr(seed, "make_stenosis_pipeline", _NoCut)
    alter = {key: (lambda X: X) for key in ALTERATIONS}
    monkeypatch.setattr(seed, "recorder_perturbations", lambda step: alter)
    monkeypatch.setattr(seed, "GATES", {})
    names = [
        f"{pair}_{when}.wav" for pair in seed.PAIRS for when in ("before", "after")
    ]
    X = Signals.from_arrays(
        [np.full(10, 0.01 * (i + 1), np.float32) for i in range(8)], 22050
    )
    oof = {("LOPO", "m"): Bunch(recording_proba=p, perturbed=perturbed)}
    y, levels = np.array([1, 0] * 4), np.full(8, 1000)
    return seed.audit_notes(oof, X, y, names, 2**-15, levels), seed.GATES


def test_recorder_gate_fails_without_an_answer_to_an_alteration(monkeypatch):
    p = np.linspace(0.1, 0.9, 8)
    perturbed = {key: p.copy() for key in ALTERATIONS}
    _, gates = _audit(monkeypatch, perturbed, p)
    assert gates == {"m": True}  # nothing moved: passed
    perturbed["x10"][:] = np.nan  # no answer to the louder recordings
    lines, gates = _audit(monkeypatch, perturbed, p)
    assert gates == {"m": False}
    row = next(line for line in lines if line.startswith("| m |"))
    assert "| no |" in row and row.endswith("| failed |")


def test_verdict_lists_only_the_models_it_audited(monkeypatch):
    # bench_device_levers runs first in benchmarks/run.py and fills GATES with
    # its own models, gated under GroupKFold(5)
    other = "a lever model, gated under GroupKFold(5)"
    monkeypatch.setattr(seed, "GATES", {other: True, seed.DEFAULT: False})
    monkeypatch.setattr(seed, "_NOTES", [])
    y = np.array([0, 1, 0, 1])
    oof = {
        ("LOPO", seed.DEFAULT): Bunch(recording_proba=np.array([0.2, 0.8, 0.3, 0.7]))
    }
    seed._verdict(oof, y)
    line = next(line for line in seed._NOTES if "Models passing it" in line)
    assert other not in line
    assert line.endswith("Models passing it: none.")


def test_band_shares_of_a_silent_recording_are_missing_without_a_warning():
    rng = np.random.default_rng(0)
    loud = rng.standard_normal(8000).astype(np.float32) * 0.1
    signals = Signals.from_arrays([np.zeros(8000, np.float32), loud], 8000.0)
    rows = band_shares(signals)  # warnings are errors: 0 / 0 warned
    assert rows.shape == (2, 20)
    assert np.isnan(rows[0]).all() and np.isfinite(rows[1]).all()
