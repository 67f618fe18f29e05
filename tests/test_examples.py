"""Every example script is a sphinx-gallery script that the docs build will run.

The documentation build (``make docs``, run by CI after ``make test``) executes
every example with ``abort_on_example_error``, so an example that fails fails
the build; running them here as well would train every example's network twice.
These tests are the fast part: each script is valid Python with the gallery's
header, and the gallery configuration picks it up.
"""

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLES_DIR = REPO / "examples"
EXAMPLES = sorted(EXAMPLES_DIR.glob("*.py"))
DOCS_CONF = REPO / "docs" / "conf.py"


def gallery_conf() -> dict:
    """``sphinx_gallery_conf`` from docs/conf.py, read without importing Sphinx."""
    tree = ast.parse(DOCS_CONF.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "sphinx_gallery_conf"
            for t in node.targets
        ):
            return ast.literal_eval(node.value)
    raise AssertionError("docs/conf.py defines no sphinx_gallery_conf")


def test_there_are_examples():
    assert len(EXAMPLES) >= 2


@pytest.mark.parametrize("script", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_is_a_gallery_script(script):
    source = script.read_text(encoding="utf-8")
    module = ast.parse(source, filename=str(script))  # valid Python
    docstring = ast.get_docstring(module, clean=False)
    assert source.lstrip().startswith('"""') and docstring, (
        f"{script.name} must start with a docstring"
    )
    lines = docstring.strip("\n").splitlines()
    assert len(lines) >= 2, f"{script.name}: the docstring needs a title"
    title, underline = lines[0].rstrip(), lines[1].rstrip()
    assert title and not title.startswith(" "), f"{script.name}: empty title"
    assert re.fullmatch(r"=+", underline) and len(underline) >= len(title), (
        f"{script.name}: underline the title {title!r} with at least "
        f"{len(title)} '=' characters"
    )


@pytest.mark.parametrize("script", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_the_docs_gallery_runs_every_example(script):
    conf = gallery_conf()
    examples_dirs = conf["examples_dirs"]
    examples_dirs = [examples_dirs] if isinstance(examples_dirs, str) else examples_dirs
    resolved = {(DOCS_CONF.parent / d).resolve() for d in examples_dirs}
    assert EXAMPLES_DIR.resolve() in resolved
    # sphinx-gallery matches filename_pattern against the path with re.search,
    # and skips files that match ignore_pattern
    assert re.search(conf["filename_pattern"], str(script)), (
        f"{script.name} is not executed by the docs build: name it plot_*.py"
    )
    assert not re.search(conf.get("ignore_pattern", r"^$"), script.name)
    assert conf["abort_on_example_error"] is True
    assert conf["only_warn_on_example_error"] is False


def test_the_gallery_has_a_header():
    headers = ["GALLERY_HEADER.rst", "README.txt", "README.rst"]
    assert any((EXAMPLES_DIR / name).is_file() for name in headers)
