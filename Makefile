# The two commands of the README: `make run` and `make test`. Both install what they need
# (a virtualenv in .venv with the pinned dependencies) on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint install clean-data

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Dagster UI on http://127.0.0.1:3000 (and the dashboard on :3001) over 90 days of demo telemetry
run: $(STAMP)
	$(BIN)/telemetry-pipeline dev

## Lint, types (mypy, config in pyproject) and the whole test suite against a real PostgreSQL (embedded unless TELEMETRY_DATABASE_URL is set)
test: $(STAMP)
	$(BIN)/ruff check telemetry_pipeline telemetry_pipeline_tests bench
	$(BIN)/mypy
	scripts/ensure-chromium
	scripts/ensure-prometheus
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check telemetry_pipeline telemetry_pipeline_tests bench
	$(BIN)/mypy

clean-data:
	-$(BIN)/telemetry-pipeline db stop
	rm -rf .data
