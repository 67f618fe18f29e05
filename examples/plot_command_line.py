"""
The command line: train on a folder, predict on files
=====================================================

``vascular-sklearn`` (also ``python -m vascular_sklearn``) does the common jobs
without writing Python: ``demo``, ``evaluate FOLDER`` (a patient-grouped
cross-validation report), ``train FOLDER -o MODEL``, ``describe MODEL`` (what
the model was trained on) and ``predict MODEL SOURCES -o TABLE.csv``. This
example writes a small folder of synthetic WAV
files in the layout the commands read (``normal/`` and ``abnormal/``, the
patient id before the first underscore of each file name), runs the commands
as a user would in a shell, and prints what they print.

Everything is written to a temporary folder that is removed at the end; tiny
settings (``--arch resnet18 --max-epochs 1``) keep it quick.
"""

# %%
import csv
import subprocess
import sys
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import soundfile as sf

from vascular_sklearn.datasets import make_recordings

workdir = tempfile.TemporaryDirectory()
root = Path(workdir.name)


def write_folder(folder, data):
    """Write recordings as 16-bit WAV files in normal/ and abnormal/."""
    for name, x, label in zip(
        data.filenames, data.recordings.data, data.target, strict=True
    ):
        sub = folder / ("abnormal" if label else "normal")
        sub.mkdir(parents=True, exist_ok=True)
        path = sub / f"{Path(name).name}.wav"  # P03_R1_normal.wav: patient P03
        sf.write(path, x, int(data.sample_rate), subtype="PCM_16")


train_data = make_recordings(
    n_patients=6, recordings_per_patient=2, duration=8, random_state=0
)
write_folder(root / "recordings", train_data)  # the training folder
for sub in ["normal", "abnormal"]:
    print(sub, sorted(p.name for p in (root / "recordings" / sub).iterdir()))


def run(*args):
    """Run ``python -m vascular_sklearn ARGS`` in the temporary folder and print
    what it prints."""
    command = [sys.executable, "-m", "vascular_sklearn", *map(str, args)]
    print("$ vascular-sklearn", " ".join(map(str, args)))
    done = subprocess.run(
        command, cwd=root, capture_output=True, text=True, check=False
    )
    print(done.stderr + done.stdout)
    if done.returncode != 0:
        raise RuntimeError(f"vascular-sklearn exited with {done.returncode}")


# %%
# Train on the folder and save the model. Progress goes to stderr, results to
# stdout.
tiny = ["--arch", "resnet18", "--max-epochs", "1"]
run("train", "recordings", "-o", "model.vsk", *tiny)

# %%
# The model file carries a card: what the model was trained on (recordings per
# label and patients, sample rates, the loudness and converter steps it heard,
# the date and the command). ``describe`` prints it; check it before trusting
# a model on recordings from another recorder.
run("describe", "model.vsk")

# %%
# Predict on new recordings: a folder (searched for audio files), a CSV
# manifest or single files. The table has one row per file: the probability of
# stenosis, the label at a threshold of 0.5, the heart cycles used and a
# quality flag with a message (``ok``, or why an answer is doubtful: clipped,
# coarse, short, or why a recording could not be scored). Recordings that could
# not be scored (no heart cycle, unreadable file) make the exit status 1, while
# the other files are still scored. Without ``-o`` the table goes to standard output.
new_data = make_recordings(
    n_patients=2, recordings_per_patient=2, duration=8, random_state=1
)
write_folder(root / "new", new_data)
run("predict", "model.vsk", "new", "-o", "predictions.csv")
table = root / "predictions.csv"
print(table.read_text())

# %%
# The table is easy to read back, here to plot it. The synthetic stenoses are
# easy to hear, so even one epoch on a few recordings separates them here; that
# says nothing about real recordings: use the default settings there.
with open(table, newline="") as f:
    rows = list(csv.DictReader(f))
names = [Path(row["path"]).name for row in rows]
proba = [float(row["probability_stenosis"]) for row in rows]
truth = ["stenosis" in name for name in names]  # the synthetic names say
fig, ax = plt.subplots(figsize=(7, 3))
ax.barh(names, proba, color=["C3" if t else "C0" for t in truth])
ax.axvline(0.5, color="0.5", lw=1, ls="--")
ax.set(xlim=(0, 1), xlabel="probability of stenosis (red: stenotic, blue: normal)")
fig.tight_layout()
plt.show()

# %%
# ``evaluate`` reports patient-grouped cross-validation on a folder, pooled
# over the folds, with a bootstrap interval over patients when there are at
# least four and each class holds recordings of two or more; ``demo`` does the
# same on built-in synthetic data:
#
# .. code-block:: bash
#
#    vascular-sklearn evaluate recordings/ --folds 5
#    vascular-sklearn demo

workdir.cleanup()
