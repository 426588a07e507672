# ATMP Quality Hub. Two commands for a newcomer: `make run` (dashboard) and `make test` (whole suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SCALE ?= small
export ATMP_DATABASE_URL ?= duckdb:///hub.duckdb

.PHONY: run test test-fast lint bench load serve-prod migrate clean-data help validate constraints

help:
	@echo "make run    - install, generate the sample network (if missing), serve on http://127.0.0.1:8050"
	@echo "make test   - install test dependencies (Chromium, PostgreSQL, Mosquitto when missing) and run pytest"
	@echo "make test-fast - the suite without browser, benchmark and fault-injection tests (while working)"
	@echo "make validate - installation and operational qualification: a PDF and JSON report (validation-report/)"
	@echo "make lint   - ruff"
	@echo "make serve-prod - gunicorn workers on PostgreSQL (ATMP_DATABASE_URL), Alembic first, MQTT bridge as its own process"
	@echo "make migrate    - bring the PostgreSQL schema up to date (Alembic)"
	@echo "make bench      - benchmark every page's callbacks (medium, large; DuckDB, PostgreSQL); BENCH_ARGS='--scales medium'"
	@echo "make load       - 100 wall displays + 20 analysts against gunicorn + PostgreSQL on 127.0.0.1 (locust, bounded)"

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is required")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install --quiet -c constraints.txt -e .
	@touch $@

$(VENV)/.test: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	@touch $@ $(VENV)/.runtime

run: $(VENV)/.runtime
	$(BIN)/atmp-hub generate --scale $(SCALE) --if-missing
	$(BIN)/atmp-hub users demo
	$(BIN)/atmp-hub notify demo
	$(BIN)/atmp-hub serve

# Each test file on one worker (module fixtures such as a served app or a broker are built once per
# file), files in the order tests/conftest.py gives them (heaviest first; xdist would otherwise reorder
# by test count and start a 2-test benchmark last). The whole suite runs three workers on two cores:
# its browser, broker and subprocess tests spend much of their time waiting, and a third worker uses
# it (372 s against 440 s with two, 2026-12-07). The fast tier is all computation: two workers (198 s
# against 214 s with three).
XDIST ?= --dist loadfile --no-loadscope-reorder

test: $(VENV)/.test
	scripts/ensure-test-services.sh
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n 3 $(XDIST) --requirements-trace=test-output/requirements-trace.json $(PYTEST_ARGS)

# While working: everything but the browser, benchmark and fault-injection tests (they run in `make test`).
test-fast: $(VENV)/.test
	scripts/ensure-test-services.sh
	$(BIN)/python -m pytest -n 2 $(XDIST) -m "not browser and not bench and not faults" $(PYTEST_ARGS)

lint: $(VENV)/.test
	$(BIN)/ruff check .

$(VENV)/.bench: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test,bench]'
	@touch $@ $(VENV)/.test $(VENV)/.runtime

migrate: $(VENV)/.runtime
	$(BIN)/alembic upgrade head

serve-prod: $(VENV)/.runtime
	$(BIN)/python scripts/serve_prod.py

# Generated warehouses are kept in bench/.data (and databases atmp_bench_<scale>): the first run of the
# large scale generates them (minutes), later runs reuse them. `$(BIN)/python -m bench data --drop` removes them.
bench: $(VENV)/.bench
	scripts/ensure-test-services.sh
	nice -n 10 $(BIN)/python -m bench run $(BENCH_ARGS)

load: $(VENV)/.bench
	scripts/ensure-test-services.sh
	$(BIN)/python -m bench load $(LOAD_ARGS)

# The exact versions installs use and `atmp-hub validate` checks (after changing pyproject.toml's dependencies).
constraints: $(VENV)/.bench
	{ sed -n '1,2p' constraints.txt; $(BIN)/pip freeze --exclude-editable | sort -f; } > constraints.tmp && mv constraints.tmp constraints.txt

# The installation and operational qualification of this installation (the app stopped when on DuckDB).
validate: $(VENV)/.test
	scripts/ensure-test-services.sh
	$(BIN)/atmp-hub validate $(VALIDATE_ARGS)

clean-data:
	rm -f hub.duckdb hub.duckdb.wal
