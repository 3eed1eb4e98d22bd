# Two commands matter: `make demo` and `make test`. Both set up a private virtual environment
# in .venv on first use, so a fresh clone needs nothing but Python 3.11+ and make.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test lint typecheck unit bench lock setup setup-demo clean

# Two stages, each with its stamp, every file checked against its hash. The demo needs only
# the runtime lock (requirements.lock, what the image installs): a first `make demo` should take
# seconds, not fetch type checkers and plotting. The test tools (requirements-dev.lock) come on
# top for everything else. The project itself is never installed here: every target runs from
# this folder (`python -m bot`, pytest's pythonpath, mypy's packages), so nothing is built, and
# setuptools has nothing to warn about; the image installs it (see the Dockerfile).
export PIP_DISABLE_PIP_VERSION_CHECK := 1
RUNTIME := $(VENV)/.runtime-installed
DEV := $(VENV)/.dev-installed

$(RUNTIME): requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes -r requirements.lock
	touch $@

$(DEV): $(RUNTIME) requirements-dev.lock
	$(PY) -m pip install --quiet --require-hashes -r requirements-dev.lock
	touch $@

# Regenerate the lock after changing dependencies in pyproject.toml.
lock: $(DEV)
	$(PY) -m pip install --quiet pip-tools
	$(PY) -m piptools compile --quiet --generate-hashes --no-emit-index-url --no-emit-find-links \
		--strip-extras --output-file requirements.lock pyproject.toml
	$(PY) -m piptools compile --quiet --generate-hashes --no-emit-index-url --no-emit-find-links \
		--extra dev --extra bench --strip-extras --output-file requirements-dev.lock pyproject.toml

setup: $(DEV)

setup-demo: $(RUNTIME)

demo: $(RUNTIME)
	$(PY) -m bot demo

lint: $(DEV)
	$(PY) -m ruff check bot tests bench tools
	$(PY) -m ruff format --check bot tests bench tools

typecheck: $(DEV)
	$(PY) -m mypy

unit: $(DEV)
	$(PY) -m pytest -q

test: lint typecheck unit

# Not part of `make test`: a few minutes of load on this machine (see README, Performance).
bench: $(DEV)
	$(PY) -m bench --out bench-out --readme README.md

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
