# One-command entry points: each creates .venv on first use and installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint types unit browser-deps bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m skyhaul.demo

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

types: $(STAMP)
	$(BIN)/mypy

# Two processes, each test module whole in one of them (module fixtures start workers and
# servers once): the worker tests mostly wait on their subprocesses.
unit: $(STAMP) browser-deps
	$(BIN)/pytest -q -n 2 --dist loadfile

# The browser tests drive Debian's Chromium through Playwright (`playwright install` is
# never run): install chromium and chromium-driver when missing, as root or with sudo,
# refreshing the package lists only if the install fails without.
CHROMIUM := /usr/bin/chromium
APT_INSTALL := DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver
browser-deps:
	@if [ ! -x $(CHROMIUM) ]; then \
	  if ! command -v apt-get >/dev/null; then \
	    echo "browser tests: no $(CHROMIUM) and no apt-get: install Chromium" >&2; \
	    exit 0; \
	  fi; \
	  sudo=; if [ "$$(id -u)" -ne 0 ] && command -v sudo >/dev/null; then sudo=sudo; fi; \
	  echo "installing Debian's chromium and chromium-driver for the browser tests"; \
	  $$sudo env $(APT_INSTALL) >/dev/null 2>&1 \
	    || { $$sudo apt-get update -qq >/dev/null && $$sudo env $(APT_INSTALL) >/dev/null; }; \
	fi

test: lint types unit

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf $(VENV) demo-data .pytest_cache .mypy_cache .ruff_cache
