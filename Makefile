# Tugboat developer entry points. `make demo` and `make test` set up everything they need.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev
SYSTEM_PACKAGES := prometheus prometheus-alertmanager
PYTEST_ARGS ?=
# pytest-xdist workers: two per core by default (many tests wait on real servers and processes);
# PYTEST_WORKERS=0 runs in one process
PYTEST_WORKERS ?= $(shell expr 2 \* $$(nproc))
FAST_MARKERS := not slow and not prometheus and not postgres and not shared and not alertmanager

.PHONY: demo test test-fast lint format bench record-demo system-deps grade clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(RUN_STAMP): pyproject.toml setup.py | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(DEV_STAMP): pyproject.toml setup.py | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $@ $(RUN_STAMP)

## demo: one incident end to end on embedded defaults (no Slack, GitHub or LLM keys)
demo: $(RUN_STAMP)
	@dir=$$(mktemp -d) && cd $$dir && env -u OPENAI_API_KEY -u SLACK_BOT_TOKEN -u GITHUB_TOKEN \
		$(abspath $(BIN))/tugboat demo

## system-deps: Debian's prometheus and prometheus-alertmanager, installed when missing (as root)
system-deps:
	@if command -v prometheus >/dev/null && command -v promtool >/dev/null \
		&& command -v prometheus-alertmanager >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing $(SYSTEM_PACKAGES)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES) >/dev/null; \
	else \
		echo "note: $(SYSTEM_PACKAGES) are missing and cannot be installed without root;" \
		     "tests that need them will skip (and fail under CI=true)"; \
	fi

## test: the whole suite, against real Prometheus, Alertmanager, git, SQLite and PostgreSQL
test: $(DEV_STAMP) system-deps
	$(BIN)/pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

## test-fast: the core suite without the slow and real-service groups (no Prometheus, PostgreSQL or shared data)
test-fast: $(DEV_STAMP)
	$(BIN)/pytest -n $(PYTEST_WORKERS) -m "$(FAST_MARKERS)" $(PYTEST_ARGS)

## lint: ruff (lint + format check) and mypy
lint: $(DEV_STAMP)
	$(BIN)/ruff check bot tests bench scenariogen testkit
	$(BIN)/ruff format --check bot tests bench scenariogen testkit
	$(BIN)/mypy

format: $(DEV_STAMP)
	$(BIN)/ruff check --fix bot tests bench scenariogen testkit
	$(BIN)/ruff format bot tests bench scenariogen testkit

## bench: speed and quality figures (see bench/README.md)
bench: $(DEV_STAMP) system-deps
	$(BIN)/python bench/run_all.py

## record-demo: re-record the demo's Prometheus answers against a real Prometheus
record-demo: $(DEV_STAMP) system-deps
	TUGBOAT_RECORD_DEMO=1 $(BIN)/pytest -q tests/demo -k recording

## grade: example scenarios graded as the unseen set is: make grade SCENARIOS=DIR (DIR holds grade.py and examples/)
grade: $(RUN_STAMP) system-deps
	@test -n "$(SCENARIOS)" || { echo "make grade needs SCENARIOS=DIR, a folder with grade.py and examples/"; exit 2; }
	$(BIN)/python $(SCENARIOS)/grade.py $(SCENARIOS)/examples $(BIN)/tugboat

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
