"""Benchmark helpers whose numbers the docs report."""

import numpy as np
import pytest
from sklearn.utils import Bunch

import benchmarks.bench_real_data as seed
from benchmarks.baselines import band_shares
from benchmarks.bench_coarse import _flips, _row
from benchmarks.bench_retest import agreement, halves
from vascular_sklearn.containers import Signals
from vascular_sklearn.screening import COARSE_LIMIT_DB

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


def test_flips_count_answers_on_either_side_of_one_half():
    # 0.5 is on the positive side, as predict's threshold
    p = np.array([0.5, 0.4999, 0.9, 0.1, 0.5])
    reference = np.array([0.4999, 0.5, 0.6, 0.2, 0.5])
    flips = _flips(p, reference)
    assert flips == 2 and isinstance(flips, int)
    assert _flips(reference, p) == 2
    assert _flips(p, p) == 0


def test_row_flags_under_the_limit_and_averages_over_seeds():
    snr = np.array([COARSE_LIMIT_DB - 0.01, COARSE_LIMIT_DB, 55.0, 20.0])
    row = _row("simulated", "step 32", snr)
    assert row == {
        "recordings": "simulated",
        "subset": "step 32",
        "n": 4,
        "rounding SNR, dB: median [range]": "40.0 [20.0, 55.0]",
        "flagged coarse": "2 (50 %)",  # the limit itself is not coarse
        "shift median": "",
        "shift max": "",
        "flips": "",
    }
    # per seed, the median and the largest shift; then means over the seeds
    # (the pooled median of these shifts would be 0.5, the pooled max 0.9)
    shifts = [np.array([0.1, 0.2, 0.9]), np.array([0.5, 0.6])]
    row = _row("simulated", "step 32", snr, shifts, [1, 2])
    assert row["shift median"] == "0.375"
    assert row["shift max"] == "0.750"
    assert row["flips"] == "1.5"
    assert _row("x", "y", np.array([39.0, 41.0, 42.0]))["flagged coarse"] == (
        "1 (33 %)"
    )


def test_the_independent_heart_period_reads_beats_not_sounds():
    """bench_heart_beats judges the cutters by it: S1 and S2 0.3 s apart must
    give the beat's period at 40 to 120 bpm, and noise no period at all."""
    from benchmarks.bench_heart_beats import heart_period

    rate, rng = 2000.0, np.random.default_rng(0)
    t = np.arange(int(20 * rate)) / rate
    for bpm in (40, 75, 120):
        phase = t % (60 / bpm)
        x = np.exp(-(((phase - 0.05) / 0.02) ** 2)) * np.sin(2 * np.pi * 50 * t)
        x += 0.7 * np.exp(-(((phase - 0.35) / 0.015) ** 2)) * np.sin(2 * np.pi * 80 * t)
        x += 0.02 * rng.standard_normal(len(t))
        assert heart_period(x, rate) == pytest.approx(60 / bpm, rel=0.02)
    assert np.isnan(heart_period(rng.standard_normal(len(t)), rate))


def test_retest_halves_split_each_recording_and_count_opposite_answers():
    X = Signals.from_arrays(
        [np.arange(5, dtype=np.float32), np.arange(4, dtype=np.float32)],
        8000,
        names=["a.wav", "b.wav"],
    )
    first, second = halves(X)
    for x, head, tail in zip(X.data, first.data, second.data, strict=True):
        assert np.array_equal(np.concatenate([head, tail]), x)
        assert len(head) - len(tail) in (0, 1)
    assert first.names.tolist() == second.names.tolist() == ["a.wav", "b.wav"]
    assert first.sample_rate == 8000
    y = np.array([0, 1, 0, 1])
    whole = np.array([0.2, 0.8, 0.4, 0.6])
    got = agreement(y, whole, np.array([0.1, 0.9, 0.6, 0.4]), whole)
    # 0.4 | 0.6 and 0.6 | 0.4 lie on either side of 0.5; 0.1 | 0.2 does not
    assert got["opposite"] == 2
    assert got["median"] == pytest.approx(0.15) and got["max"] == pytest.approx(0.2)
    assert got["auc"][1] == 0.75 and got["auc"][2] == 1.0


def test_a_cached_row_says_its_seconds_are_an_earlier_runs(monkeypatch, tmp_path):
    # a resumed run reported the seconds of the run that filled the cache,
    # on another machine perhaps, under this run's machine and load lines
    import benchmarks.bench_heart_sounds as heart

    monkeypatch.setattr(heart, "REPO", tmp_path)
    monkeypatch.setattr(heart, "cache_key", lambda *args: "key")
    monkeypatch.setattr(
        heart,
        "evaluate_by_patient",
        lambda *args, **kwargs: Bunch(recording_proba=np.array([0.2, 0.8])),
    )
    args = ("LODO", "m", lambda: None, None, np.array([0, 1]), None, None)
    fresh = heart._out_of_fold(*args)
    again = heart._out_of_fold(*args)
    assert isinstance(fresh[1], int)
    assert again[1] == f"{fresh[1]} (an earlier run's)"
    np.testing.assert_array_equal(again[0], fresh[0])


def test_run_counts_the_cores_it_may_use_and_needs_a_name_after_only(
    monkeypatch, capsys
):
    import benchmarks.run as run

    # the load verdict read os.cpu_count(), the machine line the cores allowed
    monkeypatch.setattr(run.os, "sched_getaffinity", lambda pid: {0})
    assert " 1 cores," in run._machine()
    assert "other work shared the cores" in run._load_note([1.8, 1.9, 1.7])
    # a bare --only ran every benchmark, hours of them
    monkeypatch.setattr(run, "BENCHMARKS", ["never_imported"])
    with pytest.raises(SystemExit) as stopped:
        run.main(["--only"])
    assert stopped.value.code == 2
    assert "expected at least one argument" in capsys.readouterr().err
