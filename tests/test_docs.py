"""The code the documentation shows still matches the library.

Every Python block of README.md and docs/*.rst is compiled; every name it
imports from vascular_sklearn exists, and every keyword it passes to a class or
function it imported is a parameter of that callable. Every ``vascular-sklearn``
command of a shell block names a subcommand and options the parser knows. The
blocks are not run: most train a network for minutes (the gallery's examples
run in ``make docs``); a renamed parameter, flag or function is what rots a
page unseen, and that is caught here in a second.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import inspect
import re
import shlex
import textwrap
from pathlib import Path

import pytest

from vascular_sklearn import make_seed_pipeline, make_stenosis_pipeline
from vascular_sklearn.cli import _parser

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.rst"))]
SHELL = ("bash", "console", "shell", "sh")


def _rst_blocks(text: str) -> list[tuple[int, str, str]]:
    """(line, language, code) of each ``.. code-block::`` of a reST page."""
    lines, blocks = text.splitlines(), []
    for i, line in enumerate(lines):
        found = re.match(r"\s*\.\. code-block::\s*(\w+)", line)
        if not found:
            continue
        body, j = [], i + 1
        while j < len(lines) and (not lines[j].strip() or lines[j].startswith(" ")):
            if not re.match(r"\s+:\w+:", lines[j]) or body:  # options come first
                body.append(lines[j])
            j += 1
        blocks.append((i + 1, found[1], textwrap.dedent("\n".join(body))))
    return blocks


def _md_blocks(text: str) -> list[tuple[int, str, str]]:
    """(line, language, code) of each fenced block of a Markdown page."""
    return [
        (text[: m.start()].count("\n") + 1, m[1], m[2])
        for m in re.finditer(r"^```(\w+)\n(.*?)^```", text, re.S | re.M)
    ]


def _blocks(languages: tuple[str, ...]) -> list:
    cases = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        found = _md_blocks(text) if page.suffix == ".md" else _rst_blocks(text)
        cases += [
            pytest.param(code, id=f"{page.name}:{line}")
            for line, language, code in found
            if language in languages
        ]
    return cases


def _library_imports(code: str) -> list[str]:
    """The block's imports from vascular_sklearn, as source lines."""
    return [
        ast.unparse(node)
        for node in ast.walk(ast.parse(code))
        if (
            isinstance(node, ast.ImportFrom)
            and (node.module or "").startswith("vascular_sklearn")
        )
        or (
            isinstance(node, ast.Import)
            and any(a.name.startswith("vascular_sklearn") for a in node.names)
        )
    ]


def _python_blocks() -> list:
    """Each Python block with the imports of the blocks above it on its page:
    a page imports a name once and calls it in later blocks too."""
    cases = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        found = _md_blocks(text) if page.suffix == ".md" else _rst_blocks(text)
        earlier: list[str] = []
        for line, language, code in found:
            if language != "python":
                continue
            imports = "\n".join(earlier)
            cases.append(pytest.param(code, imports, id=f"{page.name}:{line}"))
            earlier += _library_imports(code)
    return cases


def test_the_pages_hold_code_blocks():
    """The extraction finds the blocks (an empty list would pass every test)."""
    assert len(_blocks(("python",))) >= 20 and len(_blocks(SHELL)) >= 10
    assert len(_python_blocks()) == len(_blocks(("python",)))


def _imported(tree: ast.AST) -> dict[str, object]:
    """The objects a block imports from vascular_sklearn, by the name it uses;
    a name the module lacks fails here."""
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
            "vascular_sklearn"
        ):
            module = importlib.import_module(node.module)
            for alias in node.names:
                assert hasattr(module, alias.name), f"{node.module} has no {alias.name}"
                names[alias.asname or alias.name] = getattr(module, alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("vascular_sklearn"):
                    importlib.import_module(alias.name)
    return names


#: Pipeline factories: they take any step's or the network's parameter by
#: name, so a keyword is checked by building the pipeline (it trains nothing).
FACTORIES = (make_seed_pipeline, make_stenosis_pipeline)


def _build_with_literals(factory, call: ast.Call) -> None:
    """Build the pipeline with the call's keywords whose values are written
    out; a keyword whose value is a variable (not known here) must at least
    name one of the factory's parameters or the pipeline's."""
    given = {}
    known = set(inspect.signature(factory).parameters) | set(factory().get_params())
    for keyword in call.keywords:
        try:
            given[keyword.arg] = ast.literal_eval(keyword.value)
        except ValueError:
            assert keyword.arg in known, (
                f"{factory.__name__}() takes no {keyword.arg!r}"
            )
    try:
        factory(**given)
    except (TypeError, ValueError) as err:
        raise AssertionError(f"{factory.__name__}({given}): {err}") from err


@pytest.mark.parametrize(("code", "earlier"), _python_blocks())
def test_python_blocks_call_what_the_library_has(code, earlier):
    tree = ast.parse(code)
    imported = _imported(ast.parse(earlier)) | _imported(tree)
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            continue
        target = imported.get(node.func.id)
        if target is None:
            continue
        params = inspect.signature(target).parameters
        if target in FACTORIES:
            _build_with_literals(target, node)
            continue
        if any(p.kind is p.VAR_KEYWORD for p in params.values()):
            continue
        for keyword in node.keywords:
            if keyword.arg is not None:
                assert keyword.arg in params, (
                    f"{node.func.id}() takes no {keyword.arg!r}"
                )


def _commands(code: str) -> list[list[str]]:
    """Each ``vascular-sklearn`` command of a shell block, as its words."""
    commands = []
    for line in code.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        if words[:1] == ["vascular-sklearn"]:
            commands.append(words[1:])
    return commands


@pytest.mark.parametrize("code", _blocks(SHELL))
def test_shell_blocks_use_subcommands_and_options_that_exist(code):
    subparsers = next(
        action
        for action in _parser()._actions
        if isinstance(action, argparse._SubParsersAction)
    )
    for words in _commands(code):
        assert words[0] in subparsers.choices, f"no subcommand {words[0]!r}"
        options = {
            option
            for action in subparsers.choices[words[0]]._actions
            for option in action.option_strings
        }
        for word in words[1:]:
            if word.startswith("-"):
                assert word.split("=")[0] in options, (
                    f"'vascular-sklearn {words[0]}' has no option {word}"
                )


def test_a_renamed_parameter_or_flag_is_caught():
    """The checks fail on what they are for: a keyword the callable lacks, a
    name the module lacks, a flag the subcommand lacks."""
    with pytest.raises(AssertionError, match="Invalid parameter 'n_epochs'"):
        test_python_blocks_call_what_the_library_has(
            "from vascular_sklearn import make_stenosis_pipeline\n"
            "make_stenosis_pipeline(n_epochs=3)\n",
            "",
        )
    # a keyword whose value the page computes: its name is checked all the same
    with pytest.raises(AssertionError, match="takes no 'n_epochs'"):
        test_python_blocks_call_what_the_library_has(
            "from vascular_sklearn import make_stenosis_pipeline\n"
            "make_stenosis_pipeline(n_epochs=epochs)\n",
            "",
        )
    with pytest.raises(AssertionError, match="takes no 'figsize'"):
        test_python_blocks_call_what_the_library_has(
            "from vascular_sklearn.evaluation import bootstrap_report as b\n"
            "b(y, p, g, figsize=3)\n",
            "",
        )
    # a name imported by an earlier block of the page is checked too
    with pytest.raises(AssertionError, match="takes no 'batch'"):
        test_python_blocks_call_what_the_library_has(
            "predict_files(model, paths, batch=64)\n",
            "from vascular_sklearn.screening import predict_files",
        )
    with pytest.raises(AssertionError, match="has no make_pipe"):
        test_python_blocks_call_what_the_library_has(
            "from vascular_sklearn import make_pipe\n", ""
        )
    with pytest.raises(AssertionError, match="no option --epochs"):
        test_shell_blocks_use_subcommands_and_options_that_exist(
            "vascular-sklearn train data \\\n  -o m.vsk --epochs 2  # comment\n"
        )
