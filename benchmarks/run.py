"""Run every benchmark and write docs/benchmarks.md.

Usage, from the repository root: ``python -m benchmarks.run [--only NAME ...]``
(or ``python benchmarks/run.py``). A benchmark is a module of this package listed
in ``BENCHMARKS`` that defines ``TITLE``, ``DESCRIPTION`` (its protocol) and
``run() -> list[dict]`` (the table rows); an optional ``notes() -> str`` adds text
computed during the run under its table, and an optional ``unavailable() -> str |
None`` says why it cannot run on this machine (a GPU benchmark on a CPU-only one):
a full run then keeps its last section, and ``--only`` it is an error.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import os
import platform
import shlex
import subprocess
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import scipy
import sklearn
import torch

_AS_SCRIPT = __package__ in (None, "")
if _AS_SCRIPT:  # python benchmarks/run.py: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import REPO, code_fingerprint  # noqa: E402

BENCHMARKS = [
    "bench_signal_chain",
    "bench_network",
    "bench_runtime",
    "bench_classifier",
    "bench_confound_default",
    "bench_confound",
    "bench_augment_devices",
    "bench_coarse",
    "bench_device_audit",
    "bench_device_levers",
    "bench_beats",
    "bench_pulse",
    "bench_heart_beats",
    "bench_real_data",
    "bench_retest",
    "bench_heart_sounds",
    "bench_heart_recipe",
    "bench_heart_cutter",
    "bench_site_reference",
    "bench_transfer",
    "bench_scale",
    "bench_determinism",
    "bench_gpu",
]


def _cores() -> int:
    """The cores this run may use (a container or taskset may allow fewer
    than the machine has)."""
    return len(os.sched_getaffinity(0))


def _machine() -> str:
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(
                line.split(":", 1)[1].strip()
                for line in f
                if line.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{cpu}, {_cores()} cores, {mem:.0f} GiB; Python "
        f"{platform.python_version()}, numpy {np.__version__}, scipy "
        f"{scipy.__version__}, scikit-learn {sklearn.__version__}, torch "
        f"{torch.__version__}"
    )


def _code_version() -> str:
    """The commit the run started from, and the source fingerprint its cached
    results are kept under: which code made a section."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            [
                "git",
                "-C",
                str(REPO),
                "status",
                "--porcelain",
                "--",
                "vascular_sklearn",
                "benchmarks",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        where = f"commit {commit}" + (" with local changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        where = "outside git"
    return f"{where}, source {code_fingerprint()}"


def _table(rows: list[dict]) -> str:
    keys = list(dict.fromkeys(k for r in rows for k in r))
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(r.get(k, "")) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def _command(argv) -> str:
    """The command line that is running, as typed from the repository root."""
    args = sys.argv[1:] if argv is None else list(argv)
    head = "python benchmarks/run.py" if _AS_SCRIPT else "python -m benchmarks.run"
    return " ".join([head, *map(shlex.quote, args)])


#: One markdown section per benchmark; docs/benchmarks.md joins them.
SECTIONS = REPO / "docs" / "benchmarks"


def write_index() -> None:
    """Write docs/benchmarks.md from the sections in docs/benchmarks/, as they
    are (a section run elsewhere, say in a worktree, joins by copying it in)."""
    out = [
        "# Benchmarks",
        "",
        "Written by `python -m benchmarks.run` (or `make bench`); each section "
        "gives the command that reproduces it, when it last ran and on what machine "
        "(sections not run this time are kept from their last run).",
        "",
        "Every ratio compares two rows measured in the same run.",
    ]
    # sections of benchmarks not run this time are kept from their last run
    for name in BENCHMARKS:
        if (SECTIONS / f"{name}.md").exists():
            out += ["", (SECTIONS / f"{name}.md").read_text().rstrip()]
    path = REPO / "docs" / "benchmarks.md"
    path.parent.mkdir(exist_ok=True)
    path.write_text("\n".join(out) + "\n")
    print(f"wrote {path}", file=sys.stderr)


@contextmanager
def _load_watch(every: float = 15.0):
    """Sample the machine's 1-minute load average while a benchmark runs; the
    list it yields fills until the block ends. Whether other work shared the
    cores is then stated by the run itself, not added to its section by hand."""
    samples: list[float] = []
    done = threading.Event()

    def watch() -> None:
        # from the first interval on: the load at the start is the last run's
        while not done.wait(every):
            try:
                samples.append(os.getloadavg()[0])
            except (AttributeError, OSError):  # not on every system
                return

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        yield samples
    finally:
        done.set()
        thread.join()


def _load_note(samples: list[float]) -> str:
    """One line on how busy the machine was: a 1-minute load average above
    the number of cores means the benchmark shared them (a benchmark that
    runs a worker per core loads them all itself)."""
    cores = _cores()
    if not samples:
        return ""
    high = max(samples)
    verdict = (
        "other work shared the cores, so its seconds are not timings of the code"
        if high > cores + 0.5
        else "it had the cores to itself"
    )
    return (
        f"Load: the 1-minute load average ran from {min(samples):.1f} to "
        f"{high:.1f} (median {np.median(samples):.1f}) on {cores} cores during "
        f"this run: {verdict}; numbers other than seconds do not depend on it."
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    # "+": a bare --only ran every benchmark, hours of them
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS)
    args = parser.parse_args(argv)
    names = args.only or BENCHMARKS
    SECTIONS.mkdir(parents=True, exist_ok=True)
    machine, version = _machine(), _code_version()
    for name in names:
        module = importlib.import_module(f"benchmarks.{name}")
        reason = getattr(module, "unavailable", lambda: None)()
        if reason and args.only:
            parser.error(f"{name} cannot run on this machine: {reason}")
        if reason:
            print(
                f"skipping {name} ({reason}); its last section is kept",
                file=sys.stderr,
                flush=True,
            )
            continue
        print(f"running {name} ...", file=sys.stderr, flush=True)
        with _load_watch() as load:
            rows = module.run()
        section = [
            f"## {module.TITLE}",
            "",
            module.DESCRIPTION,
            "",
            f"Command: `python -m benchmarks.run --only {name}`; last run "
            f"{datetime.datetime.now().isoformat(timespec='minutes')} by "
            f"`{_command(argv)}`, {version}.",
            "",
            f"Machine: {machine}.",
            "",
            _table(rows),
        ]
        if load_line := _load_note(load):
            section += ["", load_line]
        notes = getattr(module, "notes", None)
        text = notes() if callable(notes) else ""
        if text:
            section += ["", text]
        (SECTIONS / f"{name}.md").write_text("\n".join(section) + "\n")
    write_index()
    return 0


if __name__ == "__main__":
    sys.exit(main())
