"""The recorder trap where the truth is known: a confounded simulator.

Training patients are recorded through two kinds of session (loud; quiet and
dull, as most stenosis-only seed patients were, on the same coarse converter,
whose levels then lie close to the sound). A session follows its recording's label
with probability 0.8 and is a coin flip otherwise, so it agrees with the label 90 %
of the time. Test patients are other patients, whose session is a coin flip
(independent of the label). Every row trains on the same
training recordings and is scored on the same test recordings.
"""

from __future__ import annotations

import dataclasses
import sys
import time

import numpy as np

from vascular_sklearn import make_stenosis_pipeline
from vascular_sklearn.datasets import make_recordings
from vascular_sklearn.evaluation import clinical_report
from vascular_sklearn.recorder import LOUD_SESSION, QUIET_SESSION, RecorderRanges

from .baselines import band_power_model, envelope_model, loudness_model
from .common import FLOW_BAND, JET_BAND, jet_levels

TITLE = "Confounded simulator: does the default learn the vessel or the recorder?"
#: Simulated patients (4 recordings each) for training and for testing.
N_TRAIN, N_TEST, SECONDS = 12, 8, 10.0
#: Every network row is trained once per seed (network and device steps): one
#: run's answer moves by about 0.1 of AUC with the seed alone.
SEEDS = (0, 1, 2)
#: Training and test seeds of a second simulated cohort, on which nothing was
#: chosen.
FRESH = (3, 4)
#: The offset (in full scale) the DC audit adds to the loud session.
DC_OFFSET = 0.05
FRESH_COHORT = f"fresh cohort (random_state={FRESH[0]} / {FRESH[1]})"
#: The training rows whose recordings are weighed (``classifier__confounder``).
WEIGHED = "confound 0.8, weighed by session and label"


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
    "|p(quiet) - p(original)| over the test recordings first recorded loud "
    "(the quiet ones only change one quiet session for another; as the seed "
    "audit's 39 loud recordings), median / max (the max a mean over seeds), "
    "answers that change side of 0.5 (flips), and the trap's direction: the "
    "mean p of the loud normal test recordings before -> after. Shift by "
    "part: the median shift when the loud test vessels are recorded again "
    "with one part of the quiet session at a time, the rest as LOUD_SESSION "
    "(its gain on a 16-bit converter; its gain on the loud session's coarse "
    "converter; its duller microphone), mean over seeds, and, part of no "
    f"session, the loud session with a DC offset of {DC_OFFSET:g} of full "
    "scale (a converter's or amplifier's: a microphone records none). 'Trained "
    "unconfounded': the same training "
    "vessels with confound=0, the reference the trap is measured against. "
    f"'{WEIGHED}': the confounded training recordings, each weighed so that "
    "every (session, label) pair weighs alike (classifier__confounder="
    "session kind: compute_sample_weight('balanced') on the pairs), which a "
    "clinic can do "
    "that knows which recorder took each training recording. "
    f"Every ResNet50 row is make_stenosis_pipeline(random_state=seed, "
    f"device='cpu'), trained once per seed {SEEDS} (the network and the device "
    "steps; the mean over seeds and, in brackets, the range), "
    "with the levers it does not name off (the harmonize and augment steps set "
    "to 'passthrough'; the spectrogram a log magnitude with an 80 dB floor "
    "below each cycle's peak, spectrogram__subtract_mean=False, floor_db=80, "
    "as in the earlier defaults; the harmonizer at each recording's own "
    "resolution: step_snr_db=None). The harmonizer sits after the "
    "augmentation and harmonises each augmented run alone, as a recording of "
    "its own (until 2026-11-28 it sat before it, and that default, "
    "'harmonizer + augmentation', measured AUC 0.889 and shift 0.616 on this "
    "machine). Mean subtraction: each recording's mean log spectrum removed "
    "(subtract_mean=True); each cycle over its own spectrum: "
    "subtract_mean='cycle', floor_db=40, each cycle's log magnitude over its "
    "own mean per frequency row, above a soft floor 40 dB below the cycle's "
    "mean power; less its mean: spectrogram__remove_dc=True, each cycle's "
    "mean subtracted before the STFT (the rows without it keep it, as the "
    "earlier defaults did). A common resolution "
    "rounds every recording to the converter step whose rounding noise lies "
    "step_snr_db below its power, as coarse as the quietest session; gains "
    "down to 0.003: the augmentation's devices from RecorderRanges(gain=(0.003, "
    "1)), whose quietest runs are as coarse as the quiet sessions (the default "
    "stops at 0.03, about 25 dB above a 40-level step); a floor at 25 dB: "
    "harmonize__snr_db=25 (default 40), a floor in the 1 kHz band above the "
    "quiet sessions' rounding noise there (30 to 45 dB below their power), "
    "so that every recording meets the quietest device's floor; "
    "', the default' marks "
    "the library's default; baselines (deterministic, fitted once) are logistic "
    "regressions with C chosen by StratifiedGroupKFold(3) inside the training "
    "patients. Seconds: fit wall time on 2 cores, mean over seeds. "
    f"'{FRESH_COHORT}': the previous and the chosen default again, on "
    f"training patients drawn with random_state={FRESH[0]} and test patients "
    f"with random_state={FRESH[1]}: the default was chosen among these rows on "
    "the first cohort's test patients, so its row there is the winner's score; "
    "this one is not."
)

_NOTES: list[str] = []


@dataclasses.dataclass(frozen=True)
class Levers:
    """The device levers of one network row: the noise-floor harmonizer, the
    recorder augmentation, spectral mean subtraction, and other parameters of
    those steps (``set_params`` names)."""

    harmonize: bool
    augment: bool
    subtract_mean: bool | str = False
    floor_db: float = 80.0
    params: dict = dataclasses.field(default_factory=dict)
    remove_dc: bool = False


#: The network without device levers, the reference every lever is measured from.
PLAIN = "plain network (the previous default)"
#: A step 20 dB below each recording's power is as coarse as the quietest
#: simulated session (recorder.QUIET_SESSION: 20 to 35 dB). Augmentation's
#: gains reach down to 0.03 of the peak, which on a 40-level converter leaves
#: about 25 dB; down to 0.003 covers the quiet sessions (20 to 35 dB).
LEVERS = {
    PLAIN: Levers(False, False),
    "+ recorder augmentation only": Levers(False, True),
    "+ noise-floor harmonizer only": Levers(True, False),
    "+ spectral mean subtraction only": Levers(False, False, True),
    "harmonizer + augmentation": Levers(True, True),
    "harmonizer at a common resolution (step_snr_db=20) + augmentation": Levers(
        True, True, params={"harmonize__step_snr_db": 20.0}
    ),
    "harmonizer + augmentation with gains down to 0.003": Levers(
        True, True, params={"augment__ranges": RecorderRanges(gain=(0.003, 1.0))}
    ),
    "harmonizer + augmentation + mean subtraction": Levers(True, True, True),
    "augmentation + each cycle over its own spectrum": Levers(
        False, True, "cycle", 40.0
    ),
    "harmonizer + augmentation + each cycle over its own spectrum": Levers(
        True, True, "cycle", 40.0
    ),
    # a microphone records no DC: an offset is the converter's or amplifier's
    "harmonizer + augmentation + each cycle over its own spectrum, less its "
    "mean": Levers(True, True, "cycle", 40.0, remove_dc=True),
    # the two levers that each cut one part of the quiet session's shift
    # (converter, microphone): do they add up?
    "harmonizer at a common resolution (step_snr_db=20) + augmentation + each "
    "cycle over its own spectrum": Levers(
        True, True, "cycle", 40.0, params={"harmonize__step_snr_db": 20.0}
    ),
    # the harmonizer's own advice: a floor no device in the study rises above
    "harmonizer floor at 25 dB (above the quiet sessions' own) + augmentation + "
    "each cycle over its own spectrum": Levers(
        True, True, "cycle", 40.0, params={"harmonize__snr_db": 25.0}
    ),
    "harmonizer + augmentation with gains down to 0.003 + each cycle over its "
    "own spectrum": Levers(
        True,
        True,
        "cycle",
        40.0,
        params={"augment__ranges": RecorderRanges(gain=(0.003, 1.0))},
    ),
}
OFF = "passthrough"


def _levers(pipe) -> Levers:
    steps = pipe.named_steps
    return Levers(
        steps["harmonize"] != OFF,
        steps["augment"] != OFF,
        steps["spectrogram"].subtract_mean,
        steps["spectrogram"].floor_db,
        remove_dc=steps["spectrogram"].remove_dc,
    )


def with_levers(pipe, levers: Levers):
    """``pipe`` with the device levers it is not given switched off."""
    off = {
        name: OFF
        for name, on in (("harmonize", levers.harmonize), ("augment", levers.augment))
        if not on
    }
    return pipe.set_params(
        spectrogram__subtract_mean=levers.subtract_mean,
        spectrogram__floor_db=levers.floor_db,
        spectrogram__remove_dc=levers.remove_dc,
        **off,
        **levers.params,
    )


def lever_models(make_base, names=tuple(LEVERS)) -> dict:
    """A factory ``make(random_state)`` per lever combination in ``names`` (from
    ``make_base(random_state)``), the library's default marked."""
    default = _levers(make_stenosis_pipeline())
    return {
        name + (", the default" if LEVERS[name] == default else ""): (
            lambda random_state=0, levers=LEVERS[name]: with_levers(
                make_base(random_state), levers
            )
        )
        for name in names
    }


NETWORKS = lever_models(
    lambda random_state: make_stenosis_pipeline(random_state=random_state, device="cpu")
)
#: The network row that is the library's default.
DEFAULT = next(name for name in NETWORKS if name.endswith("the default"))
MODELS = dict(NETWORKS)
MODELS.update(
    {
        "beat-envelope features, logistic regression": envelope_model,
        "band powers, logistic regression": band_power_model,
        "loudness only, logistic regression": loudness_model,
    }
)
REFERENCE = PLAIN
#: Which part of the quiet session moves an answer: the loud test vessels
#: recorded again with one part of QUIET_SESSION at a time, the rest loud.
PARTS = {
    "gain, 16-bit": dataclasses.replace(
        LOUD_SESSION, gain=QUIET_SESSION.gain, step=(1.0, 1.0)
    ),
    "gain, coarse step": dataclasses.replace(LOUD_SESSION, gain=QUIET_SESSION.gain),
    "microphone": dataclasses.replace(
        LOUD_SESSION, tilt_db_per_octave=QUIET_SESSION.tilt_db_per_octave
    ),
    # no part of either session: five times the largest offset of a seed
    # recording (0.011 of full scale), an audit of a converter of its own
    f"DC offset {DC_OFFSET:g}": dataclasses.replace(
        LOUD_SESSION, dc_offset=(DC_OFFSET, DC_OFFSET)
    ),
}


def _data(
    confound: float | None,
    seed: int,
    n: int,
    recorder="sessions",
    duration: float = SECONDS,
):
    kwargs = {"recorder": recorder}
    if confound is not None:
        kwargs["confound"] = confound
    # hearts slower than 55 per minute lose their cycles to the original
    # cutter's maximum gap (1.13 s); this benchmark is about the recorder
    return make_recordings(
        n_patients=n,
        duration=duration,
        random_state=seed,
        heart_rate=(55.0, 110.0),
        **kwargs,
    )


def converter_effect() -> str:
    """What the quiet session's converter does to a vessel's sound, before any
    model: the test vessels through the loud session and through its gain on
    the coarse converter (as the shift by part records them), lowpassed as the
    pipeline does, compared frame by frame (one vessel, one timeline)."""
    loud = _data(None, 2, N_TEST, recorder=LOUD_SESSION)
    coarse = _data(None, 2, N_TEST, recorder=PARTS["gain, coarse step"])
    lowpass = make_stenosis_pipeline().named_steps["lowpass"].fit(loud.recordings)
    rate = loud.recordings.sample_rate
    rows = []
    heard = [lowpass.transform(d.recordings) for d in (loud, coarse)]
    for a, b in zip(*heard, strict=True):
        # the same moments in both: the loud recording's beat and between beats
        loud_levels, moments = jet_levels(a, rate)
        rows.append(loud_levels + jet_levels(b, rate, moments)[0])
    rows = np.array(rows)
    lines = [
        "What the quiet session's converter does to the sound, before any model: "
        f"the {len(rows)} test vessels through the loud session and through its "
        "gain on the coarse converter (as 'shift by part' records them), "
        "lowpassed, in 20 ms frames. Beat: the loud recording's loudest fifth of "
        "frames in the flow band; between beats: its quietest 30 %, the same "
        f"moments in both recordings. Jet band {JET_BAND[0]:g}-{JET_BAND[1]:g} Hz "
        f"(the simulated stenosis jet), flow band {FLOW_BAND[0]:g}-"
        f"{FLOW_BAND[1]:g} Hz; levels in dB against the beat's flow-band power "
        "(-100: digital silence); silent: share of the frames between beats "
        "more than 100 dB below it. Medians over recordings.",
        "",
        "| class | recordings | jet band in the beat, loud -> coarse | jet band "
        "between beats, loud -> coarse | silent between beats, loud -> coarse |",
        "|---|---|---|---|---|",
    ]
    for label, name in ((0, "normal"), (1, "stenosis")):
        m = np.median(rows[loud.target == label], axis=0)
        lines.append(
            f"| {name} | {np.sum(loud.target == label)} | {m[0]:.1f} -> {m[3]:.1f} dB "
            f"| {m[1]:.1f} -> {m[4]:.1f} dB | {m[2]:.0%} -> {m[5]:.0%} |"
        )
    return "\n".join(lines)


def _fit_score(model, train, test, again, weighed: bool = False) -> dict:
    """Fit on ``train``; score on ``test`` and on the recordings ``again`` (the
    same vessels recorded through other devices, by name, "quiet" first)."""
    start = time.perf_counter()
    last = model.steps[-1][0]
    params = {f"{last}__groups": train.groups}
    if weighed:
        # every (session, label) cell weighs alike: what a clinic can do that
        # knows which recorder took each training recording
        params[f"{last}__confounder"] = train.session_kind
    model.fit(train.recordings, train.target, **params)
    seconds = time.perf_counter() - start
    p = model.predict_proba(test.recordings)[:, 1]
    # only the loud recordings change recorder kind; a quiet one re-recorded
    # quietly would dilute the shift with near-zeros
    loud = test.session_kind == 0
    heard = {name: model.predict_proba(d.recordings)[:, 1] for name, d in again.items()}
    p_quiet = heard.pop("quiet")
    shift = np.abs(p_quiet - p)[loud]
    normal = loud & (test.target == 0)
    report = clinical_report(test.target, p)
    return {
        "auc": report["roc_auc"],
        "balanced": report["balanced_accuracy"],
        "median": float(np.median(shift)),
        "max": float(shift.max()),
        "flips": int(np.sum(((p >= 0.5) != (p_quiet >= 0.5))[loud])),
        "normal before": float(p[normal].mean()),
        "normal after": float(p_quiet[normal].mean()),
        "seconds": seconds,
        "parts": [float(np.median(np.abs(q - p)[loud])) for q in heard.values()],
    }


def _spread(values: list[float], digits: int = 3) -> str:
    """The mean, and the range over seeds where there are several."""
    mean = f"{np.mean(values):.{digits}f}"
    if len(values) == 1:
        return mean
    return f"{mean} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def _scores(make, train, test, again, seeds, weighed: bool = False) -> dict:
    runs = [
        _fit_score(make() if seed is None else make(seed), train, test, again, weighed)
        for seed in seeds
    ]
    each = {key: [r[key] for r in runs] for key in runs[0]}
    return {
        "test AUC": _spread(each["auc"]),
        "balanced acc.": _spread(each["balanced"]),
        "quiet shift median / max": f"{_spread(each['median'])} / "
        f"{np.mean(each['max']):.3f}",
        "flips": _spread(each["flips"], 1),
        "mean p, loud normal": f"{np.mean(each['normal before']):.2f} -> "
        f"{np.mean(each['normal after']):.2f}",
        "shift by part: " + " / ".join(PARTS): " / ".join(
            f"{v:.2f}" for v in np.mean(each["parts"], axis=0)
        ),
        "seconds": round(float(np.mean(each["seconds"])), 1),
        "_auc": float(np.mean(each["auc"])),
        "_median_shift": float(np.mean(each["median"])),
    }


def _cohort(train_seed: int, test_seed: int):
    """Confounded training patients, unconfounded test patients, and the test
    vessels recorded again through the quiet session and each of its parts."""
    train = _data(0.8, train_seed, N_TRAIN)
    test = _data(0.0, test_seed, N_TEST)
    again = {"quiet": _data(None, test_seed, N_TEST, recorder=QUIET_SESSION)}
    again.update(
        {name: _data(None, test_seed, N_TEST, recorder=r) for name, r in PARTS.items()}
    )
    assert all(np.array_equal(d.target, test.target) for d in again.values())
    return train, test, again


def run(models: dict | None = None) -> list[dict]:
    _NOTES.clear()
    train, test, again = _cohort(1, 2)
    loud = test.session_kind == 0
    _NOTES.append(converter_effect())
    _NOTES.append(
        f"Test recordings first recorded loud (the quiet-recorder audit's set): "
        f"{loud.sum()} of {len(loud)}, {np.sum(loud & (test.target == 0))} of "
        "them normal."
    )
    rows = []
    for name, make in (models or MODELS).items():
        seeds = SEEDS if name in NETWORKS else (None,)
        rows.append({"model": name, "trained on": "confound 0.8"})
        rows[-1].update(_scores(make, train, test, again, seeds))
        if name == REFERENCE:
            fair = _data(0.0, 1, N_TRAIN)
            rows.append({"model": name, "trained on": "unconfounded (reference)"})
            rows[-1].update(_scores(make, fair, test, again, seeds))
        if name == REFERENCE or name.endswith("the default"):
            rows.append({"model": name, "trained on": WEIGHED})
            rows[-1].update(_scores(make, train, test, again, seeds, weighed=True))
        print(f"  {rows[-1]}", file=sys.stderr, flush=True)
    default = next((r for r in rows if r["model"].endswith("the default")), None)
    if default is None:  # a subset of the rows was asked for
        return _strip(rows)
    # the default was chosen on the cohort above: confirmed on one it never met
    fresh = _cohort(*FRESH)
    for name in (REFERENCE, default["model"]):
        rows.append({"model": name, "trained on": f"confound 0.8, {FRESH_COHORT}"})
        rows[-1].update(_scores(MODELS[name], *fresh, SEEDS))
        print(f"  {rows[-1]}", file=sys.stderr, flush=True)
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
