# newsspider — see README.md. Every target bootstraps .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: venv test demo bench fuzz lint clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

test: venv
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

demo: venv
	$(BIN)/newsspider demo

bench: venv
	$(BIN)/python -m bench

fuzz: venv
	NEWSSPIDER_FUZZ_EXAMPLES=$${NEWSSPIDER_FUZZ_EXAMPLES:-100000} $(BIN)/python -m pytest -q -m fuzz tests/test_fuzz.py -p no:cacheprovider --timeout=0

lint: venv
	$(BIN)/ruff check newsspider tests bench
	$(BIN)/mypy newsspider

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .hypothesis bench/out
