# Two commands matter: `make run` and `make test`. Everything else is a helper they call.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DATA   ?= ./var
export FOUREYES_DATA_DIR ?= $(DATA)

.PHONY: help run test lint typecheck unit install clean browser-deps screenshots

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) browser-deps ## create the virtualenv and install foureyes with dev tools

browser-deps: ## Debian's chromium for the console's browser tests (never `playwright install`)
	@command -v /usr/bin/chromium > /dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > /dev/null)

run: $(STAMP) ## migrate, seed the demo org on first start, serve API and console on 127.0.0.1:8000
	$(BIN)/foureyes db upgrade
	@if [ ! -f "$(FOUREYES_DATA_DIR)/.demo-seeded" ]; then \
	  $(BIN)/foureyes seed src/foureyes/demo/demo-tenant.json > /dev/null && touch "$(FOUREYES_DATA_DIR)/.demo-seeded"; \
	fi
	@$(BIN)/python -m foureyes.demo.banner
	$(BIN)/foureyes serve

lint: $(STAMP) ## ruff: lint rules and formatting
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP) ## mypy
	$(BIN)/mypy

test: $(STAMP) browser-deps lint typecheck ## lint, type-check and run the whole suite on SQLite and PostgreSQL
	$(BIN)/pytest -q

screenshots: $(STAMP) browser-deps ## refresh the README's console screenshots (docs/screenshots/) from the browser tests
	FOUREYES_UPDATE_SCREENSHOTS=1 FOUREYES_TEST_STORES=sqlite $(BIN)/pytest -q tests/browser

clean: ## remove the virtualenv and local data
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
