# Each target installs what it needs into .venv, so both work on a fresh clone.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

$(BIN)/activate: pyproject.toml requirements/constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements/constraints.txt -e ".[network,export,runtime,test,plots,dask,ray,accelerate]"
	touch $(BIN)/activate

.PHONY: install demo test lint bench
install: $(BIN)/activate

demo: install  ## the main job on the built-in synthetic data
	$(BIN)/vascular-sklearn demo

test: install  ## lint, then the test suite with doctests
	$(BIN)/ruff check vascular_sklearn tests benchmarks examples
	$(BIN)/python -m pytest

bench: install  ## benchmarks; writes docs/benchmarks.md
	$(BIN)/python -m benchmarks.run

.PHONY: docs
$(VENV)/.docs-installed: $(BIN)/activate pyproject.toml requirements/constraints.txt
	$(BIN)/python -m pip install --quiet -c requirements/constraints.txt -e ".[docs]"
	touch $@

docs: $(VENV)/.docs-installed  ## the site and its gallery (runs every example); warnings are errors
	rm -rf docs/generated  # API stubs of renamed or moved objects must not linger
	MPLBACKEND=Agg $(BIN)/sphinx-build -W --keep-going -b html docs docs/_build/html
