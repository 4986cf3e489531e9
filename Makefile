# Every user-facing command. Each target installs what it needs first.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
PEOPLE ?= 2000
# parallel test workers (pytest-xdist); each test file runs whole on one worker. The suite is
# bound by 2 cores: 3 workers spent less CPU than 4 (6:47 against 7:04 on this machine)
TEST_WORKERS ?= 3
# the sources are the registry's (pipelines/sources/__init__.py), asked when `make help` runs
SOURCES = $(shell $(BIN)/python -c 'from pipelines.sources import SOURCES; print(*SOURCES)' 2>/dev/null || \
	echo "see python -m pipelines sync --help")

export WAREHOUSE_PATH ?= $(CURDIR)/warehouse.duckdb

# sync-% is a pattern rule and must stay off this list: make never searches implicit rules for a
# phony target, so `make sync-mobilize` would do nothing. FORCE makes it run every time instead.
.PHONY: help install demo test test-fast bench sync transform sandbox clean \
	status schedule freshness docs docs-serve sql export report chromium postgresql FORCE
DOCS_PORT ?= 8080
DBT := $(BIN)/dbt --no-use-colors
DBT_DIRS := --project-dir dbt_project --profiles-dir dbt_project

help:
	@echo "make demo        sandbox -> sync every source -> marts -> summary (PEOPLE=$(PEOPLE))"
	@echo "make test        install and run the whole test suite"
	@echo "make test-fast   the unit-level tests only (no sync, no dbt build): the edit loop"
	@echo "make sync        sync configured sources, then build the marts"
	@echo "make sync-<src>  one source: $(SOURCES) (SYNC_ARGS=--no-transform to skip the marts)"
	@echo "make transform   dbt build on $(WAREHOUSE_PATH)"
	@echo "make sandbox     serve the fake vendor APIs until Ctrl-C"
	@echo "make bench       benchmarks (BENCH=name to run one), figures as ratios to a ceiling"
	@echo "make status      per source: last success, rows, cursors, freshness, last error (non-zero if stale/failing)"
	@echo "make schedule    print crontab lines for this checkout"
	@echo "make freshness   dbt source freshness on every synced raw table"
	@echo "make docs        build the dbt docs site; make docs-serve serves it on 127.0.0.1:$(DOCS_PORT)"
	@echo "make sql         SQL shell on the marts snapshot (read-only)"
	@echo "make export      the marts as exports/<mart>.parquet"
	@echo "make report      rewrite reports/latest.html (every sync does)"

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

install: $(INSTALLED)

# on Postgres without a server named, the demo runs a local one: the package is needed
demo: $(INSTALLED) $(if $(and $(filter postgres,$(WAREHOUSE_ENGINE)),$(if $(DESTINATION__POSTGRES__CREDENTIALS),,local)),postgresql)
	$(BIN)/python -m pipelines demo --people $(PEOPLE)

test: $(INSTALLED) chromium postgresql
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

# tests marked `integration` (real syncs, dbt builds) are left out; these are short and mostly wait on
# fakes, so two workers spread them test by test
test-fast: $(INSTALLED)
	$(BIN)/python -m pytest -n 2 -m "not integration"

# the run report's render test needs headless Chromium: install Debian's package when it is
# missing and we may (root with apt-get); otherwise that one test skips and says why
chromium:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  { echo "installing chromium for the report render test (apt-get)"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 || \
	    { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1; }; }; } || \
	  echo "chromium not available: the report render test will skip"

# the marts tests on the Postgres engine run a throwaway server from Debian's package: installed
# when missing and we may (root with apt-get); otherwise those tests skip and say why
postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  { echo "installing postgresql for the Postgres engine (tests, bench, a local demo server; apt-get)"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y -qq --no-install-recommends postgresql >/dev/null 2>&1 || \
	    { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq --no-install-recommends postgresql >/dev/null 2>&1; }; }; } || \
	  echo "postgresql not available: the Postgres engine tests will skip, and a demo needs DESTINATION__POSTGRES__CREDENTIALS"

bench: $(INSTALLED) postgresql
	$(BIN)/python -m bench $(BENCH)

sync: $(INSTALLED)
	$(BIN)/python -m pipelines sync --progress $(SYNC_ARGS)

# an unknown source fails in the CLI, naming the valid ones; SYNC_ARGS=--no-transform skips the marts
sync-%: $(INSTALLED) FORCE
	$(BIN)/python -m pipelines sync --progress $(SYNC_ARGS) $*

FORCE:

transform: $(INSTALLED)
	$(BIN)/python -m pipelines transform

status: $(INSTALLED)
	$(BIN)/python -m pipelines status

schedule: $(INSTALLED)
	@$(BIN)/python -m pipelines schedule

freshness: $(INSTALLED)
	$(BIN)/python -m pipelines freshness

docs: $(INSTALLED)
	$(BIN)/python -m pipelines docs

docs-serve: docs
	$(DBT) docs serve $(DBT_DIRS) --host 127.0.0.1 --port $(DOCS_PORT) --no-browser

sql: $(INSTALLED)
	@$(BIN)/python -m pipelines sql

export: $(INSTALLED)
	$(BIN)/python -m pipelines export

report: $(INSTALLED)
	$(BIN)/python -m pipelines report

sandbox: $(INSTALLED)
	$(BIN)/python -m pipelines sandbox --people $(PEOPLE)

clean:
	rm -rf $(VENV) warehouse.duckdb warehouse_marts.duckdb warehouse_runs.jsonl .warehouse.dlt dbt_project/target dbt_project/logs sandbox_data reports exports
