# Each target installs what it needs into .venv, so both work on a fresh clone.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

$(BIN)/activate: pyproject.toml requirements/constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements/constraints.txt -e ".[network,export,runtime,test,plots,dask,ray,accelerate]"
	touch $(BIN)/activate

.PHONY: install demo test test-oldest lint bench
install: $(BIN)/activate

demo: install  ## the main job on the built-in synthetic data
	$(BIN)/vascular-sklearn demo

test: install  ## lint, then the test suite with doctests
	$(BIN)/ruff check vascular_sklearn tests benchmarks examples
	$(BIN)/python -m pytest

# The same tests on the oldest releases pyproject.toml allows (requirements/oldest.txt),
# in a venv of their own; doctests are left out, as numpy 1.26 prints scalars otherwise.
OLDEST ?= .venv-oldest
$(OLDEST)/bin/activate: pyproject.toml requirements/constraints.txt requirements/oldest.txt
	$(PYTHON) -m venv $(OLDEST)
	$(OLDEST)/bin/python -m pip install --quiet --upgrade pip
	$(OLDEST)/bin/python -m pip install --quiet -c requirements/constraints.txt -c requirements/oldest.txt -e ".[network,export,runtime,test,plots,dask,ray,accelerate]"
	touch $@

test-oldest: $(OLDEST)/bin/activate  ## the test suite on the lower bounds of the dependencies
	$(OLDEST)/bin/python -m pip freeze | grep -iE "^(numpy|scipy|scikit-learn|joblib|soundfile|skorch|torch)=="
	$(OLDEST)/bin/python -m pytest -o addopts="-ra --strict-markers" -m "not cuda" tests

bench: install  ## benchmarks; writes docs/benchmarks.md
	$(BIN)/python -m benchmarks.run

.PHONY: docs
$(VENV)/.docs-installed: $(BIN)/activate pyproject.toml requirements/constraints.txt
	$(BIN)/python -m pip install --quiet -c requirements/constraints.txt -e ".[docs]"
	touch $@

docs: $(VENV)/.docs-installed  ## the site and its gallery (runs every example); warnings are errors
	rm -rf docs/generated  # API stubs of renamed or moved objects must not linger
	MPLBACKEND=Agg $(BIN)/sphinx-build -W --keep-going -b html docs docs/_build/html
