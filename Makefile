# Two commands do all the set-up on a fresh machine with Python 3.11+ and pip:
#   make demo   - create .venv, install, run `familymatch demo`
#   make test   - create .venv, install with dev tools, lint, type-check, run the fast tests
#                 (--dist loadscope: a module's fixtures are made by one worker, not both)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test test-slow test-postgres test-libreoffice lint bench clean

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

# the build stage by stage at scales 1, 3, 10 and 20 (docs/status.md, issue 15): councils are
# generated once into work/bench/stages_S; JSON lines to work/bench/stages.jsonl, table on stderr;
# about 20 minutes and up to 11 GB the first time (generation), 10 minutes after
bench: $(BIN)/familymatch
	mkdir -p work/bench
	$(BIN)/python bench/bench_stages.py --scale 1 3 10 20 --stop-at-gb 14 > work/bench/stages.jsonl

clean:
	rm -rf $(VENV) work .pytest_cache .mypy_cache .ruff_cache
