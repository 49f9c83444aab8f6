# cchc: `make run` starts the engine on the shipped config; `make test` runs every test.
# Both create the virtualenv and install what they need first.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test lint bench check clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/cchc check
	$(BIN)/cchc init-db
	$(BIN)/cchc run

check: install
	$(BIN)/cchc check

lint: install
	$(BIN)/ruff check .

test: install lint
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python bench/sweep.py

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
