"""Every public class and function has a complete numpydoc docstring.

The public objects are found, not listed: every module of the package whose name
has no leading underscore is imported (new modules are picked up as they appear),
and each name in its ``__all__`` that the module itself defines (not re-exports)
and that is a class or a function is checked with :func:`numpydoc.validate.validate`:

- functions and classes: a docstring with a one-line summary, every parameter of
  the signature documented and nothing else, a Returns section when the function
  returns a value, and an Examples section (the examples themselves run as
  doctests through ``--doctest-modules``);
- public methods of those classes, where written in this package rather than
  inherited from scikit-learn (``fit``, ``transform``, ``predict_proba``, ...): a
  docstring, the parameters, and a Returns section when they return a value.

Each object is its own test case, so a failure names the object and what is
missing. There is no allowlist.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from dataclasses import dataclass

import pytest
from numpydoc.docscrape import get_doc_object
from numpydoc.validate import validate

import vascular_sklearn

PACKAGE = vascular_sklearn.__name__

#: Checked on every public function and class. GL08: no docstring at all.
#: SS01-SS06: a summary, capitalised, ending with a period, no leading blank,
#: in the imperative (functions), on one line. PR01/PR02: parameters missing from
#: or unknown to the Parameters section. RT01: no Returns section although the
#: function returns a value. EX01: no Examples section.
OBJECT_CHECKS = frozenset(
    {"GL08", "SS01", "SS02", "SS03", "SS04", "SS05", "SS06", "PR01", "PR02"}
    | {"RT01", "EX01"}
)
#: Checked on the public methods of public classes.
METHOD_CHECKS = frozenset({"GL08", "PR01", "PR02", "RT01"})


@dataclass(frozen=True)
class Target:
    """One object to validate: its dotted name, the object, and the checks."""

    name: str
    obj: object
    checks: frozenset

    def __str__(self) -> str:
        return self.name


def _public_module_names() -> list[str]:
    """The package and every submodule without an underscore in its dotted name."""
    names = [PACKAGE]
    for info in pkgutil.walk_packages(vascular_sklearn.__path__, prefix=f"{PACKAGE}."):
        parts = info.name.split(".")[1:]
        if not any(part.startswith("_") for part in parts):
            names.append(info.name)
    return sorted(names)


def _own_methods(cls: type) -> list[tuple[str, object]]:
    """Public methods of ``cls`` written in this package (``cls`` or its bases).

    Methods inherited from scikit-learn, NumPy or the standard library are theirs
    to document. Class and static methods are unwrapped to their functions so
    that numpydoc checks their Returns section too.
    """
    found: dict[str, object] = {}
    for klass in reversed(cls.__mro__):
        if not klass.__module__.startswith(f"{PACKAGE}."):
            continue
        for name, attr in vars(klass).items():
            if name.startswith("_"):
                continue
            if isinstance(attr, (classmethod, staticmethod)):
                attr = attr.__func__
            if inspect.isfunction(attr):
                found[name] = attr
            else:
                found.pop(name, None)  # overridden by a non-method (a property)
    return sorted(found.items())


def _collect() -> tuple[list, list[str]]:
    """Targets for every public object, and the modules that failed to import."""
    targets: list[Target] = []
    broken: list[str] = []
    for module_name in _public_module_names():
        try:
            module = importlib.import_module(module_name)
        except Exception as err:  # a module being rewritten must not hide others
            broken.append(f"{module_name}: {type(err).__name__}: {err}")
            continue
        for name in getattr(module, "__all__", ()):
            # lazy names of the package (torch-backed) resolve to other modules,
            # where they are checked; so are re-exports
            obj = inspect.getattr_static(module, name, None)
            if obj is None or getattr(obj, "__module__", None) != module_name:
                continue
            if not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            qualname = f"{module_name}.{name}"
            targets.append(Target(qualname, obj, OBJECT_CHECKS))
            if inspect.isclass(obj):
                for method_name, method in _own_methods(obj):
                    targets.append(
                        Target(f"{qualname}.{method_name}", method, METHOD_CHECKS)
                    )
    return targets, broken


TARGETS, BROKEN_MODULES = _collect()
OBJECTS = [t for t in TARGETS if t.checks is OBJECT_CHECKS]
METHODS = [t for t in TARGETS if t.checks is METHOD_CHECKS]


def _where(obj: object) -> str:
    try:
        path = inspect.getsourcefile(obj)
        line = inspect.getsourcelines(obj)[1]
    except (OSError, TypeError):
        return "source unknown"
    return f"{path}:{line}"


def _check(target: Target) -> None:
    result = validate(get_doc_object(target.obj))
    errors = [
        f"{code}: {msg}" for code, msg in result["errors"] if code in target.checks
    ]
    assert not errors, (
        f"{target.name} ({_where(target.obj)}) docstring:\n  " + "\n  ".join(errors)
    )


def test_every_public_module_imports():
    assert not BROKEN_MODULES, "\n".join(BROKEN_MODULES)


def test_every_public_module_declares_all():
    # without __all__ a module's public objects would escape the checks below
    missing = []
    for name in _public_module_names():
        try:
            module = importlib.import_module(name)
        except Exception:
            continue  # reported by test_every_public_module_imports
        if not hasattr(module, "__all__"):
            missing.append(name)
    assert not missing, f"public modules without __all__: {missing}"


def test_discovery_finds_the_package():
    # a guard against the collection silently finding nothing
    modules = _public_module_names()
    for name in ("containers", "cutting", "lowpass", "metrics", "evaluation", "cli"):
        assert f"{PACKAGE}.{name}" in modules
    names = {t.name for t in TARGETS}
    assert f"{PACKAGE}.lowpass.LowpassFilter" in names
    assert f"{PACKAGE}.lowpass.LowpassFilter.fit" in names
    assert f"{PACKAGE}.metrics.sensitivity_score" in names
    assert len(OBJECTS) >= 30


@pytest.mark.parametrize("target", OBJECTS, ids=str)
def test_public_object_docstring(target):
    _check(target)


@pytest.mark.parametrize("target", METHODS, ids=str)
def test_public_method_docstring(target):
    _check(target)
