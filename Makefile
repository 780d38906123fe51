# ftpush — `make serve` runs it, `make test` tests it. `make help` lists the rest.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=
# Debian packages the test suite drives as real peers (clients and reference servers).
TEST_DEBS ?= openssh-client openssh-server vsftpd curl nodejs chromium

.PHONY: help serve test check lint format typecheck layers install clean system-deps migration

help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml setup.py src/ftpush/formats/_speedups.c
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## Create .venv and install ftpush with its development tools

serve: install ## Set up and run the whole system on embedded defaults (SQLite, local files)
	$(BIN)/ftpush serve

system-deps: ## Install the Debian packages the tests use as real peers (needs root)
	@missing=$$(for p in $(TEST_DEBS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q "ok installed" || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages: $$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

test: install system-deps ## Set up and run the whole test suite
	$(BIN)/python -m pytest --cov --cov-report=term --durations=15 $(PYTEST_ARGS)

check: install lint typecheck layers ## Quality gates: ruff lint + format, mypy strict, import layers

lint: install
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts

format: install ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix src tests bench scripts
	$(BIN)/ruff format src tests bench scripts

typecheck: install
	$(BIN)/mypy

layers: install
	$(BIN)/lint-imports

migration: install ## New Alembic revision from the models: make migration MSG="what changed"
	$(BIN)/python scripts/new_migration.py "$(MSG)"

clean: ## Remove the virtualenv and caches (not the data directory)
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .coverage .coverage.* htmlcov
