# Every user-facing command. Each target installs what it needs first.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
PEOPLE ?= 2000
SOURCES := mobilize action_network nationbuilder

export WAREHOUSE_PATH ?= $(CURDIR)/warehouse.duckdb

.PHONY: help install demo test bench sync $(addprefix sync-,$(SOURCES)) transform sandbox clean

help:
	@echo "make demo        sandbox -> sync every source -> marts -> summary (PEOPLE=$(PEOPLE))"
	@echo "make test        install and run the whole test suite"
	@echo "make sync        sync configured sources, then build the marts"
	@echo "make sync-<src>  one source: $(SOURCES)"
	@echo "make transform   dbt build on $(WAREHOUSE_PATH)"
	@echo "make sandbox     serve the fake vendor APIs until Ctrl-C"
	@echo "make bench       benchmarks (BENCH=name to run one), figures as ratios to a ceiling"

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

install: $(INSTALLED)

demo: $(INSTALLED)
	$(BIN)/python -m pipelines demo --people $(PEOPLE)

test: $(INSTALLED)
	$(BIN)/python -m pytest

bench: $(INSTALLED)
	$(BIN)/python -m bench $(BENCH)

sync: $(INSTALLED)
	$(BIN)/python -m pipelines sync --progress

sync-%: $(INSTALLED)
	$(BIN)/python -m pipelines sync --progress $*

transform: $(INSTALLED)
	$(BIN)/python -m pipelines transform

sandbox: $(INSTALLED)
	$(BIN)/python -m pipelines sandbox --people $(PEOPLE)

clean:
	rm -rf $(VENV) warehouse.duckdb .warehouse.dlt dbt_project/target dbt_project/logs sandbox_data
