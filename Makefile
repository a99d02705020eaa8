# newsspider — see README.md. Every target bootstraps .venv when it is missing.
# The venv is installed from requirements-dev.lock (pinned, hashed); `make lock`
# regenerates both lock files after a change to pyproject.toml's dependencies.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
# `make lock LOCK_ARGS=--upgrade` moves every pin to the newest allowed; `--upgrade-package X` one.
LOCK_ARGS ?=
LOCK := $(BIN)/uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes \
	--quiet --custom-compile-command "make lock" $(LOCK_ARGS)

.PHONY: venv test demo bench fuzz lint lock clean

venv: $(STAMP)

$(STAMP): pyproject.toml requirements-dev.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
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

# The dev lock first (everything), then the runtime lock (the image's) at the same versions.
lock: venv
	$(LOCK) --extra dev -o requirements-dev.lock
	$(LOCK) -c requirements-dev.lock -o requirements.lock
	@echo "locked: requirements-dev.lock, requirements.lock (commit both)"

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .hypothesis bench/out
