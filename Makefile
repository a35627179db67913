# Parley: `make dev` runs the platform locally, `make test` runs every test. Only Python 3.11 + pip needed.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
# The real interpreter path (not a pyenv shim), so uv accepts the existing .venv as built from it.
export UV_PYTHON ?= $(shell $(PYTHON) -c 'import sys; print(sys.executable)')
export UV_PYTHON_DOWNLOADS := never
UV := $(PYTHON) -m uv
RUN := $(UV) run --frozen --no-sync

.PHONY: help uv sync console browser dev demo test test-fast lint fmt docs bench chart clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

uv: ## install uv with pip when it is missing
	@$(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet --user uv \
		|| $(PYTHON) -m pip install --quiet uv

sync: uv ## install every workspace package and dev tool into .venv (from uv.lock)
	@$(UV) sync --all-packages --all-extras --frozen --quiet

console: sync ## build the console's web app into its package (Node.js from a PyPI wheel; skipped when up to date)
	$(RUN) python services/console/web/build.py

browser: sync ## a Chromium for the browser tests: the system's (Debian's chromium), else Playwright's download
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || $(RUN) python -m playwright install chromium

dev: sync console ## run the whole platform locally on embedded NATS + Postgres (Ctrl-C stops it; DEV_ARGS=--chart-users)
	$(RUN) parley-dev $(DEV_ARGS)

demo: sync console ## start the stack, run three conversations, print transcripts and recordings, stop
	$(RUN) python -m parley_devstack.demo

test: sync console browser chart ## the unit tier first, then every test against real NATS, Postgres, blob stores and a browser
	$(RUN) pytest tests/unit -q
	$(RUN) pytest --ignore=tests/unit

test-fast: sync ## the unit tier alone: the use cases through in-memory fakes, no server (seconds)
	$(RUN) pytest tests/unit

lint: sync ## ruff + mypy
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy

fmt: sync ## format and autofix
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

docs: sync ## regenerate docs/events (JSON Schemas + AsyncAPI) from the contract structs
	$(RUN) python -m parley_contracts.docs docs/events

bench: sync console browser ## every performance figure in one run: prints a table, writes bench/results.json
	$(RUN) python -m bench.run
	$(RUN) python -m bench.recordings_bench
	$(RUN) python -m bench.memory_bench
	$(RUN) python -m bench.voice_bench
	$(RUN) python -m bench.console_bench
	$(RUN) python -m bench.webhooks_bench
	$(RUN) python -m bench.redaction_bench

chart: sync ## lint, render and validate the Helm chart offline; hadolint the Dockerfiles
	$(RUN) python -m parley_devstack.chart

clean: ## remove the local stack's data (.parley) and caches
	rm -rf .parley .pytest_cache .mypy_cache .ruff_cache
