# ATMP Quality Hub. Two commands for a newcomer: `make run` (dashboard) and `make test` (whole suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SCALE ?= small
export ATMP_DATABASE_URL ?= duckdb:///hub.duckdb

.PHONY: run test lint bench clean-data help

help:
	@echo "make run    - install, generate the sample network (if missing), serve on http://127.0.0.1:8050"
	@echo "make test   - install test dependencies (Chromium, PostgreSQL, Mosquitto when missing) and run pytest"
	@echo "make lint   - ruff"

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is required")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	@touch $@

$(VENV)/.test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@ $(VENV)/.runtime

run: $(VENV)/.runtime
	$(BIN)/atmp-hub generate --scale $(SCALE) --if-missing
	$(BIN)/atmp-hub users demo
	$(BIN)/atmp-hub serve

test: $(VENV)/.test
	scripts/ensure-test-services.sh
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.test
	$(BIN)/ruff check .

clean-data:
	rm -f hub.duckdb hub.duckdb.wal
