# modelkin: the two commands a new user needs are `make demo` and `make test`.
# Everything is installed into .venv from the project's own files.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint typecheck unit fixtures clean

$(STAMP): pyproject.toml dev/pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]' -e ./dev
	touch $(STAMP)

setup: $(STAMP)

fixtures: setup
	$(BIN)/python scripts/fetch_models.py

## The main job on the embedded default (SQLite + local files): seed the demo registry
## with the real models and serve the web UI and API on http://127.0.0.1:8000 (Ctrl-C stops).
demo: fixtures
	$(BIN)/python -m modelkin_dev.demo

lint: setup
	$(BIN)/ruff check src dev tests benchmarks scripts
	$(BIN)/ruff format --check src dev tests benchmarks scripts

typecheck: setup
	$(BIN)/mypy

unit: fixtures
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 $(BIN)/pytest -q -n 2

## Lint, type-check and run the whole test suite.
test: lint typecheck unit

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
