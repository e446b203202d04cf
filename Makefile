# Two commands on a fresh machine: `make example` and `make test`; `make dist` builds the wheel.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: example test lint bench validity dist clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

example: $(STAMP)
	$(BIN)/python -m pytest example_suite

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 tests

# The wheel and sdist to install elsewhere: pip install dist/pytest_hotmess-*.whl
dist: $(STAMP)
	rm -rf dist
	$(BIN)/python -m build --outdir dist

$(VENV)/.bench-installed: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $@

bench: $(VENV)/.bench-installed
	$(BIN)/python -m benchmarks
	$(BIN)/python -m benchmarks.validity --out benchmarks/out/validity.json

# Do the intervals cover and the gates keep their alpha? (seeded, under 10 minutes on 2 cores)
validity: $(STAMP)
	$(BIN)/python -m benchmarks.validity

lint: $(STAMP)
	$(BIN)/ruff check pytest_hotmess tests example_suite benchmarks
	$(BIN)/ruff format --check pytest_hotmess tests example_suite benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) dist build example_suite/out .pytest_cache .mypy_cache .ruff_cache
