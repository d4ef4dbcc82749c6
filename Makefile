# The interface to the project: `make run` serves it, `make test` tests it.
# Python 3.13 when there is one that runs (on PATH or installed by pyenv), else python3.
PYTHON ?= $(shell for c in python3.13 $$(ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.13*/bin/python3.13 2>/dev/null) python3; do \
	$$c -c '' 2>/dev/null && { echo $$c; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
TOOLS := .venv-tools
MANIFESTS := $(filter-out deploy/kubernetes/kustomization.yaml,$(wildcard deploy/kubernetes/*.yaml))

.PHONY: help venv run test test-busy lint format check bench deploy-check audit clean

help:
	@echo "make run               serve on :8001 (embedded PostgreSQL when DATABASE_URL is unset)"
	@echo "make test              run the whole test suite on PostgreSQL"
	@echo "make test-busy         the same on one core that two CPU-hungry processes share"
	@echo "make lint              ruff check and format check"
	@echo "make format            ruff format and fix"
	@echo "make deploy-check      hadolint, kubernetes-validate (1.28-1.30) and checkov"
	@echo "make check             lint + tests + deploy-check (CI runs exactly this)"
	@echo "make bench             throughput and latency at 50 connections (needs wrk)"
	@echo "make audit             pip-audit of requirements.txt (when PyPI's advisory API answers)"

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

test-busy: venv
	$(BIN)/python scripts/dev.py busy $(ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

$(TOOLS)/.installed: requirements-tools.txt
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --upgrade pip
	$(TOOLS)/bin/python -m pip install --quiet -r requirements-tools.txt
	touch $@

deploy-check: $(TOOLS)/.installed
	$(TOOLS)/bin/hadolint --config .hadolint.yaml Dockerfile
	for version in 1.28.0 1.29.0 1.30.0; do \
		$(TOOLS)/bin/kubernetes-validate --strict --quiet -k $$version $(MANIFESTS) || exit 1; \
	done
	$(TOOLS)/bin/checkov --config-file .checkov.yaml --skip-download --quiet --compact --framework dockerfile -f Dockerfile
	$(TOOLS)/bin/checkov --config-file .checkov.yaml --skip-download --quiet --compact --framework kubernetes -d deploy/kubernetes

# pip-audit reads each pinned release's advisories from PyPI's JSON API. Where
# that is out of reach (behind a registry mirror), it could audit nothing, so
# say so and pass.
ADVISORY_API := https://pypi.org/pypi/Django/$(shell sed -n 's/^Django==//p' requirements.txt)/json
audit: $(TOOLS)/.installed
	@if $(TOOLS)/bin/python -c "import urllib.request as u; u.urlopen('$(ADVISORY_API)', timeout=10)" 2>/dev/null; then \
		$(TOOLS)/bin/pip-audit --strict --progress-spinner off -r requirements.txt; \
	else \
		echo "make audit: PyPI's advisory API ($(ADVISORY_API)) is not reachable from here; nothing was audited."; \
	fi

check: lint test deploy-check audit

bench: venv
	$(BIN)/python bench/run.py $(ARGS)

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache .ruff_cache staticfiles
