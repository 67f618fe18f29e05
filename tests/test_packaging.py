"""The source distribution: what a packager unpacks and tests."""

import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _source_files() -> list[str]:
    """What a clean clone holds, as CI builds from one; in an unpacked sdist
    (no .git), the sdist's own files."""
    if (ROOT / ".git").exists():
        return subprocess.run(
            ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.splitlines()
    return [
        str(path.relative_to(ROOT))
        for path in ROOT.rglob("*")
        if path.is_file()
        and not any(
            part.startswith(".") or part.endswith(".egg-info") or part == "__pycache__"
            for part in path.relative_to(ROOT).parts
        )
    ]


def test_sdist_carries_the_tests_and_what_they_read(tmp_path):
    """setuptools alone put tests/test_*.py into the sdist but not conftest.py
    nor __init__.py, so 14 test modules failed to collect from it, and the
    benchmarks, docs and examples the tests import or read were missing."""
    src = tmp_path / "src"
    for name in _source_files():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, src / name)
    out = tmp_path / "out"
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            f"from setuptools import build_meta; build_meta.build_sdist({str(out)!r})",
        ],
        cwd=src,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    (sdist,) = out.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {n.split("/", 1)[1] for n in archive.getnames() if "/" in n}
    needed = [
        *src.glob("tests/*.py"),
        *src.glob("benchmarks/*.py"),
        *src.glob("examples/*.py"),
        *src.glob("docs/*.rst"),
        src / "README.md",
        src / "LICENSE",
        src / "requirements" / "constraints.txt",
    ]
    missing = sorted(
        str(p.relative_to(src)) for p in needed if str(p.relative_to(src)) not in names
    )
    assert not missing, missing
