# Redress: everything a developer needs, from a machine that has only Python 3.11+ and make.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
TOOLS_DIR := .tools
UV_VERSION := 0.13.9
UV := $(TOOLS_DIR)/bin/uv
# uv uses this machine's Python and never downloads one.
export UV_PYTHON := $(PYTHON)
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := .venv
RUN := $(UV) run --frozen --no-sync

.PHONY: help install chromium run test bench lint format contract clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m venv $(TOOLS_DIR)
	$(TOOLS_DIR)/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

.venv/.synced: $(UV) uv.lock pyproject.toml */pyproject.toml shared/testing/pyproject.toml
	$(UV) sync --frozen --all-packages
	@touch $@

install: .venv/.synced ## install uv and every package (from the lock file)

run: install ## start the whole stack (embedded PostgreSQL + Tansu + 4 services); Ctrl-C stops it
	$(RUN) python -m redress_stack run

# The browser tests (the dashboard, the API docs front door) need Debian's chromium: installed
# here when missing, if this is Debian and we are root (as on CI); otherwise the command to run
# is printed.
chromium: ## install Debian's chromium (for the browser tests) if it is missing
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ -f /etc/debian_version ] && [ "$$(id -u)" = 0 ]; then \
		echo "installing Debian's chromium for the browser tests"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
	else \
		echo "chromium is missing; the browser tests need it:"; \
		echo "  Debian/Ubuntu: sudo apt-get install chromium"; \
	fi

test: install chromium ## run every test against real PostgreSQL and the real broker
	$(RUN) pytest

BENCHMARKS := pipeline intake cases sla notifications webhooks figures analytics analytics_burst restart languages

bench: install ## run every benchmark (throughput and p50/p99 latency)
	@set -e; for module in $(BENCHMARKS); do \
		echo "== redress_stack.bench.$$module"; $(RUN) python -m redress_stack.bench.$$module; done

lint: install ## static checks
	$(RUN) ruff check .

format: install ## format the code
	$(RUN) ruff format .

contract: install ## regenerate the event JSON Schemas and AsyncAPI document
	$(RUN) python -m redress_stack.contract write

clean: ## remove the virtualenv, tools and local data
	rm -rf .venv $(TOOLS_DIR) data
