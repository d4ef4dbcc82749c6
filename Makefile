# The interface to the project: `make run` serves it, `make test` tests it.
# Python 3.13 when there is one that runs (on PATH or installed by pyenv), else python3.
PYTHON ?= $(shell for c in python3.13 $$(ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.13*/bin/python3.13 2>/dev/null) python3; do \
	$$c -c '' 2>/dev/null && { echo $$c; break; }; done)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: help venv run test lint format check bench clean

help:
	@echo "make run               serve on :8001 (embedded PostgreSQL when DATABASE_URL is unset)"
	@echo "make test              run the whole test suite on PostgreSQL"
	@echo "make lint              ruff check and format check"
	@echo "make format            ruff format and fix"
	@echo "make check             lint + tests (CI runs exactly this)"
	@echo "make bench             throughput and latency at 50 connections (needs wrk)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python requirements.txt requirements-dev.txt
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

run: venv
	$(BIN)/python scripts/dev.py run

test: venv
	$(BIN)/python scripts/dev.py test $(ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

check: lint test

bench: venv
	$(BIN)/python bench/run.py $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache staticfiles
