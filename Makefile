# The README's two commands: `make demo` and `make test`. Everything installs into .venv from
# this repository's own files.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit catalogs install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

catalogs: $(STAMP)
	$(PY) -c "from pathlib import Path; from bot.i18n import compile_catalogs; compile_catalogs(Path('locales'))"

demo: $(STAMP) catalogs
	$(PY) -m bot demo

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

typecheck: $(STAMP)
	$(VENV)/bin/mypy

unit: $(STAMP) catalogs
	$(PY) -m pytest -q

test: lint typecheck unit

clean:
	rm -rf $(VENV) .demo .pytest_cache .mypy_cache .ruff_cache
