# modelrail: every entry point is a make target. `make demo` and `make test` set up first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: install layers demo test test-fast lint typecheck synth bench drift-parity clean

install: $(STAMP) layers

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[local,infra,dev]'
	touch $(STAMP)

# The managed Lambda layers rebuilt from PyPI for the local cloud (.modelrail/layers/);
# nothing to do when the cached environment matches. See docs/decisions.md D9.
layers: $(STAMP)
	@$(BIN)/python -m modelrail.local.layers build

demo: install
	$(BIN)/modelrail demo

test: install lint
	$(BIN)/python -m pytest

test-fast: install
	$(BIN)/python -m pytest -m "not e2e" tests/unit

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy modelrail infra
	@# every handler is a module named `handler`: check each folder on its own
	@for f in functions/*/handler.py; do $(BIN)/mypy --no-error-summary $$f || exit 1; done

synth: install
	$(BIN)/python -m infra.app --out cdk.out

bench: install
	$(BIN)/python -m benchmarks.run

# Evidently in its own environment (never the project's), then the recorded verdicts in
# tests/data/drift_parity.json regenerated from the seeded cases (D48).
EVIDENTLY_VENV ?= .modelrail/evidently-venv
drift-parity: install
	test -x $(EVIDENTLY_VENV)/bin/python || ($(PYTHON) -m venv $(EVIDENTLY_VENV) && \
	  $(EVIDENTLY_VENV)/bin/python -m pip install --quiet --disable-pip-version-check 'evidently==0.7.23' 'pandas<3')
	$(BIN)/python -m benchmarks.drift_parity --evidently-python $(EVIDENTLY_VENV)/bin/python

clean:
	rm -rf $(VENV) cdk.out build .pytest_cache .mypy_cache .ruff_cache
