"""
Spectrograms of normal and stenotic cycles
==========================================

What the network sees: one 20 x 100 image per heart cycle (0 to 1 kHz, 100
frames over the cycle), the cycle's log magnitude over its own mean spectrum.
A stenosis adds a high-pitched jet to the bruit during systole; in the
synthetic recordings it sits between 300 and 1000 Hz. Run with the seed
recordings beside the repository (``../shared/data/seed_recordings``) to see
real ones instead; this page shows whichever was found when it was built (the
title of each figure says which).

The images here come from the signal steps of the recommended pipeline, taken
from :func:`~vascular_sklearn.make_stenosis_pipeline` itself (every step but
the classifier, which is never fitted).
"""

# %%
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.base import clone

from vascular_sklearn import make_stenosis_pipeline
from vascular_sklearn.datasets import load_recordings, make_recordings

# ../shared/data/seed_recordings beside the repository, found from this script
# (run from any folder) or, where it has no file (a notebook), from the cwd
here = Path(globals().get("__file__", ".")).resolve()
seed_dirs = [p / "shared" / "data" / "seed_recordings" for p in here.parents]
seed_dir = next((p for p in seed_dirs if p.is_dir()), None)
if seed_dir is not None:
    data = load_recordings(seed_dir)
    source = "seed recordings"
else:
    data = make_recordings(
        n_patients=6, recordings_per_patient=2, duration=10, random_state=0
    )
    source = "synthetic recordings"
print(f"{len(data.target)} {source} of {len(np.unique(data.groups))} patients")

# %%
# The recommended pipeline's steps up to the classifier: ``lowpass``,
# ``smooth`` and ``cut``, then ``augment`` (fit only), ``harmonize`` and
# ``spectrogram``. Cut every recording into cycles once; the steps after the
# cutter then transform those cycles as at prediction (the augmentation passes
# them through), so the images below are the ones the network would score.
# They learn nothing from the data but its sample rate, so two recordings'
# cycles are enough to fit them (fitted on all, the augmentation would record
# every recording again through random devices, cycles no image here uses).
# The cycles stay at hand for other settings of the spectrogram further down.
pipe = make_stenosis_pipeline(random_state=0)
print([name for name, _ in pipe.steps])
cutter, after_cut = pipe[:3], pipe[3:-1]
bags = cutter.fit_transform(data.recordings)
print("cycles per recording:", bags.n_cycles.tolist())
images = after_cut.fit(bags[:2]).transform(bags)
spectrogram = pipe.named_steps["spectrogram"]

# %%
# One cycle from the middle of four recordings of each class, taken from
# different patients where the data allow.


def pick(label, n=4):
    """Up to ``n`` recordings of ``label`` with cycles, one per patient first."""
    rows = [i for i in np.flatnonzero(data.target == label) if bags.n_cycles[i]]
    first = {}
    for i in rows:
        first.setdefault(data.groups[i], i)
    chosen = list(first.values())[:n]
    chosen += [i for i in rows if i not in chosen][: n - len(chosen)]
    return chosen


# rows are 1 / window apart (50.1 Hz), from 0 Hz up
max_hz = (images.images.shape[2] - 1) / spectrogram.window
# each row is centred on its own mean over the cycle: one colour scale for all,
# symmetric about 0 (the row's mean)
shown = {label: pick(label) for label in (0, 1)}
middle = {i: images[i][len(images[i]) // 2, 0] for ids in shown.values() for i in ids}
limit = np.percentile(np.abs(np.concatenate(list(middle.values()))), 99)
fig, axes = plt.subplots(2, 4, figsize=(10, 5), sharex=True, sharey=True)
for row, label in zip(axes, [0, 1], strict=True):
    for ax, i in zip(row, shown[label], strict=False):
        im = ax.imshow(
            middle[i],
            origin="lower",
            aspect="auto",
            cmap="RdBu_r",
            vmin=-limit,
            vmax=limit,
            extent=(0, 100, 0, max_hz),
        )
        title = f"{data.target_names[label]}: patient {data.groups[i]}"
        ax.set_title(title, fontsize=9)
    row[0].set_ylabel("frequency (Hz)")
for ax in axes[1]:
    ax.set_xlabel("frame in cycle")
fig.suptitle(f"One image per cycle, over its own mean spectrum ({source})")
fig.tight_layout()
fig.colorbar(im, ax=axes, label="log magnitude - its row's mean", shrink=0.8)

# %%
# The recommended image has no average spectrum left: every row of every cycle
# is centred on its own mean, which takes a microphone's response away and
# keeps how each band changes over the beat. The whole spectrum is what the
# plain network reads (``spectrogram__subtract_mean=False``, a log magnitude
# with a floor below each cycle's peak), computed here from the same cycles,
# before the harmonizer. Averaged over every cycle of every recording, the
# classes differ above a few hundred hertz. On the synthetic recordings that
# is the stenotic jet. On the seed recordings, look at how the difference
# changes with the spectrogram's floor (the level below each image's peak
# where quieter bins are cut off): most stenotic seed recordings were made at
# a low recorder gain, whose coarse quantisation fills the quiet bins with
# noise. A floor of 40 dB hides that noise, and with it most of the difference
# between the classes: the difference was the recording session, not the
# vessel (see the documentation's "Evaluation done right" page).

freqs = np.linspace(0, max_hz, images.images.shape[2])
fig, axes = plt.subplots(1, 3, figsize=(10, 3.5), sharex=True)
for ax, floor in zip(axes, [None, 80, 40], strict=True):
    whole = clone(spectrogram).set_params(
        subtract_mean=False, floor_db=floor, remove_dc=False
    )
    spec = whole.fit_transform(bags)
    cycle_label = data.target[spec.recording_index]
    for label, color in [(0, "C0"), (1, "C3")]:
        profile = spec.images[cycle_label == label, 0].mean(axis=(0, 2))
        ax.plot(freqs, profile, color=color, label=data.target_names[label])
    ax.axvspan(300, 1000, color="0.9", zorder=0)
    ax.set(
        title="no floor" if floor is None else f"floor {floor} dB",
        xlabel="frequency (Hz)",
    )
axes[0].set_ylabel("mean log magnitude")
axes[0].legend()
fig.suptitle(f"Class means over all cycles ({source}); grey: 300 to 1000 Hz")
fig.tight_layout()
plt.show()
