# Two entry points, both self-installing into .venv (see the README's quick start).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: run test lint bench dist clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.app: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.test: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]' -c constraints.txt
	touch $@ $(VENV)/.app

# An editable install never has its bytecode compiled by pip, and where
# PYTHONDONTWRITEBYTECODE is set nothing caches it: every start would compile
# concviz afresh (~40 ms of a `concviz run`). compileall writes it regardless,
# and skips what is up to date.
run: $(VENV)/.app  ## install and open the dashboard
	@$(BIN)/python -m compileall -q concviz >/dev/null
	$(BIN)/concviz $(ARGS)

lint: $(VENV)/.test
	$(BIN)/ruff check concviz tests benchmarks tools
	$(BIN)/ruff format --check concviz tests benchmarks tools
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint  ## install the test extras, then lint, type-check and run the tests
	$(BIN)/pytest

bench: $(VENV)/.test
	$(BIN)/python benchmarks/transport.py
	$(BIN)/python benchmarks/observer_overhead.py

dist: $(VENV)/.test  ## build the sdist and wheel into dist/ and check them (build, twine: here only)
	$(BIN)/python -m pip install --quiet build twine
	rm -rf dist
	$(BIN)/python -m build
	$(BIN)/twine check --strict dist/*

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache *.egg-info
