# The two commands a fresh machine needs (see README): `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: setup demo test check services stop-services unit

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

## Set up and run the demo on the embedded default (SQLite file, no server, no Kafka).
demo: setup
	$(BIN)/capledger demo

## Lint, type checks, and the layer rules of docs/architecture.md (import-linter).
check: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

## Start the real PostgreSQL server and Kafka broker used by the integration tests.
services:
	bash deploy/postgres/pg.sh start
	bash deploy/kafka/kafka.sh start

stop-services:
	-bash deploy/kafka/kafka.sh stop
	-bash deploy/postgres/pg.sh stop

## Everything CI runs: checks, then every test tier against SQLite, PostgreSQL and Kafka.
test: setup check services
	# Tests pick their store explicitly: only the connection settings are exported here.
	eval "$$(bash deploy/postgres/pg.sh env)" && unset CAPLEDGER_PERSISTENCE && \
	CAPLEDGER_TEST_POSTGRES=1 CAPLEDGER_TEST_BROWSER=1 CAPLEDGER_TEST_KAFKA=1 CAPLEDGER_TEST_GO=1 \
	$(BIN)/pytest $(PYTEST_ARGS)

## Fast feedback: unit tier only, no services.
unit: setup
	$(BIN)/pytest -m unit $(PYTEST_ARGS)
