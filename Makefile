# Mediamon: every target builds .venv from uv.lock first; nothing to install by hand.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
STAMP := $(VENV)/.synced

export MEDIAMON_HOME ?= $(CURDIR)/var

.PHONY: demo test airflow lint typecheck venv clean browser

# uv itself is pinned and installed from PyPI into a private tools venv.
$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(STAMP): $(UV) uv.lock pyproject.toml
	$(UV) sync --locked --python $(PYTHON)
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/mediamon demo

# The UI tests drive a real Chromium: Debian's package (no browser download of our own).
browser:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else echo "UI tests need Chromium: sudo apt-get install chromium" >&2; exit 1; fi; }

test: $(STAMP) browser
	$(VENV)/bin/python -m pytest -ra

lint: $(STAMP)
	$(VENV)/bin/ruff check pipeline dags plugins tests
	$(VENV)/bin/mypy

typecheck: lint

# Airflow standalone (api-server, scheduler, dag-processor, triggerer) on this project's dags and
# plugins, metadata in var/airflow/airflow.db; UI on http://localhost:8080 (login printed at start).
# standalone starts its components as `airflow ...`, so .venv/bin must be on PATH. The demo feeds
# (pointed at serve-samples) are registered in the warehouse first: polling reads no file.
airflow: $(STAMP)
	$(VENV)/bin/mediamon db upgrade
	$(VENV)/bin/python -m pipeline.demo import-feeds
	set -a; eval "$$($(VENV)/bin/python -m pipeline.demo)"; set +a; \
	  $(VENV)/bin/mediamon serve-samples & SAMPLES=$$!; \
	  trap "kill $$SAMPLES" EXIT; \
	  PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/airflow standalone

clean:
	rm -rf var
