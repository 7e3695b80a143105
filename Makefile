# Portal developer commands. `make` (or `make help`) lists them.

PYTHON      ?= python3
VENV        := .venv
BIN         := $(VENV)/bin
STAMP       := $(VENV)/.installed
PYTEST_ARGS ?=
PYTEST_WORKERS ?= 2

.DEFAULT_GOAL := help
.PHONY: help venv install translations chromium dev test lint fmt

help: ## Show this help
	@echo "Usage: make <target> [PYTEST_ARGS='...']"
	@echo
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when pyproject.toml changes (or the venv is new).
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

venv: $(STAMP) ## Create .venv and install the project with its dev dependencies (idempotent)

install: $(STAMP) translations ## venv + compile the translation catalogs

translations: $(STAMP) ## Compile portal/translations/*.po into .mo (when catalogs exist)
	@if find portal/translations -name '*.po' 2>/dev/null | grep -q .; then \
		$(BIN)/pybabel -q compile -d portal/translations; \
	fi

# Browser tests use $$PORTAL_CHROMIUM, else /usr/bin/chromium, else Playwright's own Chromium. When none is
# present: Debian's `chromium` package where apt-get is available and we run as root (Playwright's download
# is unreachable on closed networks), else Playwright's download, else stop saying what to install.
chromium: $(STAMP) ## Make sure a Chromium is available for the Playwright tests
	@if [ -n "$$PORTAL_CHROMIUM" ] && [ -x "$$PORTAL_CHROMIUM" ]; then \
		echo "chromium: using PORTAL_CHROMIUM=$$PORTAL_CHROMIUM"; \
	elif [ -x /usr/bin/chromium ]; then \
		echo "chromium: using /usr/bin/chromium"; \
	elif $(BIN)/python -c 'import os, sys; from playwright.sync_api import sync_playwright; p = sync_playwright().start(); path = p.chromium.executable_path; p.stop(); sys.exit(0 if os.path.exists(path) else 1)' 2>/dev/null; then \
		echo "chromium: using Playwright's bundled Chromium"; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && \
		echo "chromium: none found, installing Debian's chromium package" && \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null && [ -x /usr/bin/chromium ]; then \
		echo "chromium: using /usr/bin/chromium"; \
	elif echo "chromium: trying: playwright install chromium" && $(BIN)/python -m playwright install chromium; then \
		echo "chromium: using Playwright's bundled Chromium"; \
	else \
		echo "chromium: no Chromium for the browser tests. Install Debian's 'chromium' package (apt-get install chromium, as root), or run '$(BIN)/python -m playwright install chromium', or set PORTAL_CHROMIUM to a Chromium binary." >&2; \
		exit 1; \
	fi

dev: install ## Run the whole product locally (embedded Redis + SMTP capture) on http://*.localhost:5000
	$(BIN)/portal dev

test: install chromium ## Run the test suite (extra pytest options: PYTEST_ARGS='-k foo -x')
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

lint: $(STAMP) ## Check style: ruff check + ruff format --check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: $(STAMP) ## Format the code and apply safe ruff fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .
