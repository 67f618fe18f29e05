"""
Heartbeats and cycles in a recording
====================================

The signal chain of the original study on one synthetic recording: the 1 kHz
lowpass, the running median that follows the pressure pulse, the peaks found on
it, and the cycles cut peak to peak from the lowpassed signal. Run with the seed
recordings beside the repository to see a real one instead.
"""

# %%
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from vascular_sklearn import make_seed_pipeline
from vascular_sklearn.datasets import load_recordings, make_recordings

# ../shared/data/seed_recordings beside the repository, found from this script
# (run from any folder) or, where it has no file (a notebook), from the cwd
here = Path(globals().get("__file__", ".")).resolve()
seed_dirs = [p / "shared" / "data" / "seed_recordings" for p in here.parents]
seed_dir = next((p for p in seed_dirs if p.is_dir()), None)
if seed_dir is not None:
    data = load_recordings(seed_dir)
else:
    data = make_recordings(n_patients=2, random_state=0)

chain = make_seed_pipeline()[:-1]  # lowpass, smooth, cut, spectrogram
lowpassed = chain[:2].fit_transform(data.recordings[[0]])
bags = chain[2].fit_transform(lowpassed)
images = chain[3].fit_transform(bags)

# %%
# The smoothed reference rises once per beat; cycles run from peak to peak.
rate = data.sample_rate
x, ref = lowpassed.data[0], lowpassed.reference[0]
t = np.arange(len(x)) / rate
fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 5), sharex=True)
top.plot(t, x, lw=0.4, color="0.5", label="lowpassed signal")
top.plot(t, ref, color="C0", label="running median")
peaks = np.unique(bags.bounds[0])
top.plot(peaks / rate, ref[peaks], "v", color="C3", label="peaks")
top.legend(loc="upper right")
for k, (a, b) in enumerate(bags.bounds[0]):
    bottom.axvspan(a / rate, b / rate, color=f"C{k % 2}", alpha=0.3)
bottom.set(xlabel="time (s)", yticks=[], title=f"{len(bags.bounds[0])} cycles")
fig.suptitle(data.recordings.name(0))
fig.tight_layout()

# %%
# Each cycle becomes one 40 x 100 magnitude spectrogram (0 to 1954 Hz).
fig, axes = plt.subplots(1, 4, figsize=(9, 2.5), sharey=True)
for ax, image in zip(axes, images.images[:4], strict=False):
    ax.imshow(image[0], origin="lower", aspect="auto", cmap="magma")
    ax.set(xlabel="frame")
axes[0].set(ylabel="frequency bin")
fig.tight_layout()
plt.show()
