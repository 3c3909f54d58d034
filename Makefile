# modelkin: the two commands a new user needs are `make demo` and `make test`.
# Everything is installed into .venv from the project's own files.
PY ?= python3
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint typecheck unit fixtures clean

# pip prints one line per package it collects and installs (the progress of the longest
# step of a first `make demo`); "already satisfied" lines are left out.
$(STAMP): pyproject.toml dev/pyproject.toml
	@echo "==> [setup] creating $(VENV) and installing modelkin with its dependencies (first time: 2-3 min)"
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	set -o pipefail; $(BIN)/pip install --progress-bar off -e '.[dev]' -e ./dev \
	  | { grep -v '^Requirement already satisfied' || true; }
	touch $(STAMP)
	@echo "==> [setup] done"

setup: $(STAMP)

fixtures: setup
	@echo "==> [fixtures] the real models (downloaded once into the cache outside the repo)"
	$(BIN)/python scripts/fetch_models.py

## The main job on the embedded default (SQLite + local files): seed the demo registry
## with the real models and serve the web UI and API on http://127.0.0.1:8000 (Ctrl-C stops).
## `make demo PORT=8123` serves on another port; with the default port busy, a free one is
## chosen and printed.
demo: fixtures
	@echo "==> [demo] fingerprinting, registering and checking the demo records"
	$(BIN)/python -m modelkin_dev.demo $(if $(PORT),--port $(PORT))

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
