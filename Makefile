# cchc: `make run` starts the engine on the shipped config; `make test` runs every test,
# `make test-fast` the inner loop.
# Both create the virtualenv and install what they need first.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test test-fast lint bench check clean prefect-server-pg deploy worker

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

# Prefect: `make run` starts a local server (SQLite under var/prefect, UI on
# http://$(PREFECT_HOST):$(PREFECT_PORT)) unless PREFECT_API_URL names one, and stops it on exit.
PREFECT_HOST ?= 127.0.0.1
PREFECT_PORT ?= 4200
PREFECT_LOCAL := http://$(PREFECT_HOST):$(PREFECT_PORT)
PREFECT_PUBLIC_URL ?= $(PREFECT_LOCAL)
PREFECT_SERVER_ENV := PREFECT_SERVER_ANALYTICS_ENABLED=false PREFECT_UI_API_URL=$(PREFECT_PUBLIC_URL)/api
PREFECT_HEALTHY := $(BIN)/python -c "import sys, urllib.request as u; u.urlopen(sys.argv[1], timeout=2)" 2>/dev/null
WORK_POOL ?= cchc
# The intake (units upload there): `INTAKE_PORT=8090 make run`. The links in mails follow it
# (CCHC_INTAKE_ADDRESS) unless CCHC_PUBLIC_URL names another address (a reverse proxy).
INTAKE_HOST ?= 127.0.0.1
INTAKE_PORT ?= 8080
PREFECT_DB_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/prefect

run: install
	$(BIN)/cchc check
	$(BIN)/cchc init-db
	@pids=""; trap 'kill $$pids 2>/dev/null' EXIT; \
	if [ -z "$$PREFECT_API_URL" ]; then \
	  export PREFECT_API_URL=$(PREFECT_LOCAL)/api; \
	  if ! $(PREFECT_HEALTHY) "$$PREFECT_API_URL/health"; then \
	    mkdir -p var/prefect; \
	    echo "make run: starting a Prefect server, UI $(PREFECT_LOCAL) (log: var/prefect-server.log)"; \
	    PREFECT_HOME=$(CURDIR)/var/prefect $(PREFECT_SERVER_ENV) $(BIN)/prefect server start \
	      --host $(PREFECT_HOST) --port $(PREFECT_PORT) > var/prefect-server.log 2>&1 & \
	    server=$$!; pids="$$pids $$server"; \
	    for i in $$(seq 240); do \
	      $(PREFECT_HEALTHY) "$$PREFECT_API_URL/health" && break; \
	      kill -0 $$server 2>/dev/null || { tail -n 30 var/prefect-server.log; exit 1; }; \
	      sleep 0.5; \
	    done; \
	  fi; \
	fi; \
	export CCHC_INTAKE_ADDRESS=$(INTAKE_HOST):$(INTAKE_PORT) CCHC_SINGLE_MACHINE=1; \
	$(BIN)/cchc serve-intake --host $(INTAKE_HOST) --port $(INTAKE_PORT) & pids="$$pids $$!"; \
	$(BIN)/cchc run

check: install
	$(BIN)/cchc check

# ruff (lint and format), then import-linter: the layers of docs/development.md "How it works"
# and "nothing outside flows imports Prefect or APScheduler" (contracts in pyproject.toml), then
# mypy on the application packages ([tool.mypy] in pyproject.toml).
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

# Every test, in parallel (pytest-xdist, 2 workers: `make test TEST_WORKERS=3` for more; each
# worker has its own databases, ports and Prefect server). Each module runs on one worker, the
# longest first (tests/conftest.py). Measured: docs/development.md.
TEST_WORKERS ?= 2
test: install lint
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

# The inner loop: the pure and SQLite tiers, one process; no Prefect, no PostgreSQL, no
# browser, no long-lived process (tiers: pyproject.toml markers). Measured: docs/development.md.
# `make test-fast FAST_WORKERS=2` runs it on 2 xdist workers (worth it on an idle machine).
FAST_WORKERS ?= 0
test-fast: install
	$(BIN)/python -m pytest -q -n $(FAST_WORKERS) --dist loadfile --no-loadscope-reorder \
	  -m "not prefect and not slow and not postgres and not browser"

bench: install
	$(BIN)/python bench/sweep.py

# --- Scaled deployment (docs/operations.md): a Prefect server on PostgreSQL, cchc's database on
# PostgreSQL (CCHC_DATABASE_URL), deployments from the config, one or more process workers.

prefect-server-pg: install  ## Prefect server on PostgreSQL (PREFECT_DB_URL), in the foreground
	PREFECT_SERVER_DATABASE_CONNECTION_URL=$(PREFECT_DB_URL) $(PREFECT_SERVER_ENV) \
	  $(BIN)/prefect server start --host $(PREFECT_HOST) --port $(PREFECT_PORT)

deploy: install  ## register the deployments on PREFECT_API_URL (idempotent; prints the diff)
	@test -n "$$PREFECT_API_URL" || { echo "make deploy: set PREFECT_API_URL"; exit 1; }
	$(BIN)/cchc check
	$(BIN)/cchc init-db
	$(BIN)/cchc deploy --pool $(WORK_POOL)

# A worker takes its settings from its environment (the deployments record no folder; its runs
# start in a temporary folder): CCHC_CONFIG and CCHC_DATA_DIR default to this checkout's config/
# and var/ (or CCHC_CONFIG_SOURCE=database: the config snapshot the database keeps).
worker: install  ## a process worker for the pool; start as many as wanted, on any machine
	@test -n "$$PREFECT_API_URL" || { echo "make worker: set PREFECT_API_URL"; exit 1; }
	@test -n "$$CCHC_DATABASE_URL" || echo "make worker: CCHC_DATABASE_URL unset: SQLite under var/"
	CCHC_CONFIG=$${CCHC_CONFIG:-$(CURDIR)/config} CCHC_DATA_DIR=$${CCHC_DATA_DIR:-$(CURDIR)/var} \
	  $(BIN)/prefect worker start --pool $(WORK_POOL) --type process

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
