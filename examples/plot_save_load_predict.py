"""
Save a model, load it, and screen new recordings
================================================

A fitted pipeline goes to a model file with
:func:`~vascular_sklearn.persistence.save_model`: JSON parameters and a
tensors-only weights file in one zip archive, so that
:func:`~vascular_sklearn.persistence.load_model` never runs code from the file
(unlike a pickle), with a card that says what the model was trained on. The
loaded model then scores new WAV files, here recorded at 44.1 kHz while the
model was trained at 22.05 kHz: its first step resamples them to the rate it
was trained at.

Every file is written to a temporary folder that is removed at the end. The
network is a ResNet18 trained briefly on a few synthetic patients, to keep the
example quick; its answers show the mechanics, not a validated screen.
"""

# %%
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import soundfile as sf

from vascular_sklearn import make_stenosis_pipeline
from vascular_sklearn.corpus import RecordingFiles
from vascular_sklearn.datasets import make_recordings
from vascular_sklearn.model_card import read_model_card
from vascular_sklearn.persistence import load_model, save_model

train = make_recordings(
    n_patients=6, recordings_per_patient=2, duration=8, random_state=0
)
pipe = make_stenosis_pipeline(max_epochs=2, batch_size=4, device="cpu", random_state=0)
pipe.set_params(classifier__estimator__arch="resnet18")
pipe.fit(train.recordings, train.target)

workdir = tempfile.TemporaryDirectory()
folder = Path(workdir.name)
model_path = folder / "model.vsk"
# the card: what the model heard in training, for whoever is given the file
card = {
    "trained_on": "synthetic recordings (make_recordings, random_state=0)",
    "recordings": len(train.target),
    "patients": len(np.unique(train.groups)),
    "sample_rates_hz": [train.sample_rate],
}
save_model(pipe, model_path, card=card)
print(f"{model_path.name}: {model_path.stat().st_size / 1e6:.1f} MB")

# %%
# :func:`~vascular_sklearn.model_card.read_model_card` reads the card back with
# what the file itself says (``vascular-sklearn describe model.vsk`` prints
# the same), without loading the network.
info = read_model_card(model_path)
for key in ["network", "classes", "sample_rate", "cycles_scored", "card"]:
    print(f"{key:>13}: {info[key]}")

# %%
# New recordings, saved as 16-bit WAV files at 44.1 kHz as a phone might record
# them. They come from a new random draw: other (synthetic) patients than the
# training ones, although ``make_recordings`` numbers them from P00 again.
new = make_recordings(
    n_patients=3,
    recordings_per_patient=2,
    duration=8,
    sample_rate=44100,
    random_state=1,
)
new_dir = folder / "new_recordings"
new_dir.mkdir()
paths = []
for name, x in zip(new.filenames, new.recordings.data, strict=True):
    path = new_dir / f"{Path(name).name}.wav"
    sf.write(path, x, 44100, subtype="PCM_16")
    paths.append(path)
print([p.name for p in paths])

# %%
# Load the model on the CPU (a model trained on a GPU loads the same way) and
# score the files. :class:`~vascular_sklearn.corpus.RecordingFiles` holds
# their paths; the model's first step reads each file and resamples it to the
# rate the model was trained at.
model = load_model(model_path, device="cpu")
X = RecordingFiles.from_paths(paths)
proba = model.predict_proba(X)[:, 1]
cycles = model[:-1].transform(X).n_cycles
for path, p, n in zip(paths, proba, cycles, strict=True):
    label = "stenosis" if p >= 0.5 else "normal"
    print(f"{path.name:<22} probability {p:.3f}  {label:<8} ({n} cycles found)")

# the saved model answers exactly as the one in memory
same = np.array_equal(proba, pipe.predict_proba(X)[:, 1])
print("loaded model agrees with the fitted one:", same)

# %%
fig, ax = plt.subplots(figsize=(8, 3.5))
colors = ["C3" if t else "C0" for t in new.target]
ax.bar(range(len(proba)), proba, color=colors)
ax.axhline(0.5, color="0.5", lw=1, ls="--")
ax.set(
    xticks=range(len(proba)),
    xticklabels=[p.stem for p in paths],
    ylabel="probability of stenosis",
    ylim=(0, 1),
    title="New recordings (red: stenotic, blue: normal)",
)
ax.tick_params(axis="x", labelrotation=30)
fig.tight_layout()
plt.show()

workdir.cleanup()
