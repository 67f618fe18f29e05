"""The recorder trap where the truth is known: a confounded simulator.

Training patients are recorded through two kinds of session (loud on a fine
converter; quiet, coarse and dull, as most stenosis-only seed patients were) that
go with the label with probability 0.8. Test patients are other patients, whose
session is a coin flip (independent of the label). Every row trains on the same
training recordings and is scored on the same test recordings.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from vascular_sklearn import make_stenosis_pipeline
from vascular_sklearn.datasets import make_recordings
from vascular_sklearn.evaluation import clinical_report
from vascular_sklearn.recorder import LOUD_SESSION, QUIET_SESSION

from .baselines import band_power_model, envelope_model, loudness_model

TITLE = "Confounded simulator: does the default learn the vessel or the recorder?"
#: Simulated patients (4 recordings each) for training and for testing.
N_TRAIN, N_TEST, SECONDS = 12, 8, 10.0


def _session(ranges) -> str:
    """A session's ranges in words, from the objects the benchmark uses."""
    return (
        f"gain {ranges.gain[0]:g}-{ranges.gain[1]:g}, converter step "
        f"{ranges.step[0]:g}-{ranges.step[1]:g} 16-bit levels, microphone tilt "
        f"{ranges.tilt_db_per_octave[0]:g} to {ranges.tilt_db_per_octave[1]:g} dB "
        "per octave"
    )


DESCRIPTION = (
    f"make_recordings(recorder='sessions'): {N_TRAIN} training patients "
    f"(random_state=1, confound=0.8: a session follows its recording's label with "
    f"probability 0.8) and {N_TEST} other test patients (random_state=2, "
    "confound=0: the session is a coin flip), 4 recordings of "
    f"{SECONDS:g} s each. Sessions: LOUD_SESSION ({_session(LOUD_SESSION)}) or "
    f"QUIET_SESSION ({_session(QUIET_SESSION)}). The vessel's sound carries "
    "the label: a short 300-1000 Hz systolic jet and less diastolic flow sound "
    "with a stenosis. AUC: pooled recording ROC AUC on the test patients. "
    "Quiet-recorder shift: the same test vessels recorded again through quiet "
    "sessions (make_recordings with the same seed and QUIET_SESSION), "
    "|p(quiet) - p(original)| per recording, median / max, and answers that "
    "change side of 0.5 (flips). 'Trained unconfounded': the same training "
    "vessels with confound=0, the reference the trap is measured against. "
    "Every ResNet50 row is make_stenosis_pipeline(random_state=0, device='cpu') "
    "with the levers it does not name off (the harmonize and augment steps set "
    "to 'passthrough', spectrogram__subtract_mean=False); ', the default' marks "
    "the library's default; baselines are logistic "
    "regressions with C chosen by StratifiedGroupKFold(3) inside the training "
    "patients. Seconds: fit wall time on 2 cores."
)

_NOTES: list[str] = []


#: The network rows: which of the three device levers each one uses
#: (noise-floor harmonizer, recorder augmentation, spectral mean subtraction).
LEVERS = {
    "plain network (the previous default)": (False, False, False),
    "+ recorder augmentation only": (False, True, False),
    "+ noise-floor harmonizer only": (True, False, False),
    "+ spectral mean subtraction only": (False, False, True),
    "harmonizer + augmentation": (True, True, False),
    "harmonizer + augmentation + mean subtraction": (True, True, True),
}
OFF = "passthrough"


def _levers(pipe) -> tuple[bool, bool, bool]:
    steps = pipe.named_steps
    return (
        steps["harmonize"] != OFF,
        steps["augment"] != OFF,
        steps["spectrogram"].subtract_mean,
    )


def _resnet(harmonize: bool, augment: bool, subtract_mean: bool):
    pipe = make_stenosis_pipeline(random_state=0, device="cpu")
    pipe.set_params(spectrogram__subtract_mean=subtract_mean)
    return pipe.set_params(
        **{
            name: OFF
            for name, on in (("harmonize", harmonize), ("augment", augment))
            if not on
        }
    )


DEFAULT_LEVERS = _levers(make_stenosis_pipeline())
MODELS = {
    name + (", the default" if levers == DEFAULT_LEVERS else ""): (
        lambda levers=levers: _resnet(*levers)
    )
    for name, levers in LEVERS.items()
}
MODELS.update(
    {
        "beat-envelope features, logistic regression": envelope_model,
        "band powers, logistic regression": band_power_model,
        "loudness only, logistic regression": loudness_model,
    }
)
REFERENCE = "plain network (the previous default)"


def _data(confound: float | None, seed: int, n: int, recorder="sessions"):
    kwargs = {"recorder": recorder}
    if confound is not None:
        kwargs["confound"] = confound
    # hearts slower than 55 per minute lose their cycles to the original
    # cutter's maximum gap (1.13 s); this benchmark is about the recorder
    return make_recordings(
        n_patients=n,
        duration=SECONDS,
        random_state=seed,
        heart_rate=(55.0, 110.0),
        **kwargs,
    )


def _fit_score(make, train, test, quiet) -> dict:
    model = make()
    start = time.perf_counter()
    last = model.steps[-1][0]
    model.fit(train.recordings, train.target, **{f"{last}__groups": train.groups})
    seconds = time.perf_counter() - start
    p = model.predict_proba(test.recordings)[:, 1]
    p_quiet = model.predict_proba(quiet.recordings)[:, 1]
    shift = np.abs(p_quiet - p)
    report = clinical_report(test.target, p)
    return {
        "test AUC": round(report["roc_auc"], 3),
        "balanced acc.": round(report["balanced_accuracy"], 3),
        "quiet shift median / max": f"{np.median(shift):.3f} / {shift.max():.3f}",
        "flips": int(np.sum((p >= 0.5) != (p_quiet >= 0.5))),
        "seconds": round(seconds, 1),
        "_auc": report["roc_auc"],
        "_median_shift": float(np.median(shift)),
    }


def run(models: dict | None = None) -> list[dict]:
    _NOTES.clear()
    train = _data(0.8, 1, N_TRAIN)
    test = _data(0.0, 2, N_TEST)
    quiet = _data(None, 2, N_TEST, recorder=QUIET_SESSION)
    assert np.array_equal(quiet.target, test.target)
    rows = []
    for name, make in (models or MODELS).items():
        rows.append({"model": name, "trained on": "confound 0.8"})
        rows[-1].update(_fit_score(make, train, test, quiet))
        if name == REFERENCE:
            fair = _data(0.0, 1, N_TRAIN)
            rows.append({"model": name, "trained on": "unconfounded (reference)"})
            rows[-1].update(_fit_score(make, fair, test, quiet))
        print(f"  {rows[-1]}", file=sys.stderr, flush=True)
    default = next((r for r in rows if r["model"].endswith("the default")), None)
    if default is None:  # a subset of the rows was asked for
        return _strip(rows)
    passed = default["_auc"] >= 0.95 and default["_median_shift"] < 0.05
    _NOTES.append(
        f"Target (issue 13): the default keeps test AUC >= 0.95 with a median "
        f"quiet-recorder shift under 0.05: {'met' if passed else 'not met'} "
        f"(AUC {default['_auc']:.3f}, median shift {default['_median_shift']:.3f})."
    )
    return _strip(rows)


def _strip(rows: list[dict]) -> list[dict]:
    for row in rows:
        row.pop("_auc"), row.pop("_median_shift")
    return rows


def notes() -> str:
    return "\n\n".join(_NOTES)


if __name__ == "__main__":  # exploration: python -m benchmarks.bench_confound
    for row in run():
        print(row)
    print(notes())
