# Two commands do all the set-up on a fresh machine with Python 3.11+ and pip:
#   make demo   - create .venv, install, run `familymatch demo`
#   make test   - create .venv, install with dev tools, lint, type-check, run the fast tests
#                 (--dist loadscope: a module's fixtures are made by one worker, not both)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test test-slow test-postgres test-libreoffice lint clean

$(BIN)/familymatch: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

demo: $(BIN)/familymatch
	$(BIN)/familymatch demo

lint: $(BIN)/familymatch
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -n 2 --dist load

test-slow: $(BIN)/familymatch
	$(BIN)/pytest -m slow || [ $$? -eq 5 ]

test-postgres: $(BIN)/familymatch
	$(BIN)/pytest -m postgres || [ $$? -eq 5 ]

test-libreoffice: $(BIN)/familymatch
	$(BIN)/pytest -m libreoffice || [ $$? -eq 5 ]

clean:
	rm -rf $(VENV) work .pytest_cache .mypy_cache .ruff_cache
