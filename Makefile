# Two commands matter: `make demo` and `make test`. Both set up a private virtual environment
# in .venv on first use, so a fresh clone needs nothing but Python 3.11+ and make.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test lint typecheck unit bench lock setup clean

# Dependencies come from requirements-dev.lock (the image uses requirements.lock, without the
# test tools), every file checked against its hash; the project itself is then installed
# without resolving anything again.
$(VENV)/.installed: pyproject.toml requirements-dev.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes -r requirements-dev.lock
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

# Regenerate the lock after changing dependencies in pyproject.toml.
lock: $(VENV)/.installed
	$(PY) -m pip install --quiet pip-tools
	$(PY) -m piptools compile --quiet --generate-hashes --no-emit-index-url --no-emit-find-links \
		--strip-extras --output-file requirements.lock pyproject.toml
	$(PY) -m piptools compile --quiet --generate-hashes --no-emit-index-url --no-emit-find-links \
		--extra dev --extra bench --strip-extras --output-file requirements-dev.lock pyproject.toml

setup: $(VENV)/.installed

demo: $(VENV)/.installed
	$(PY) -m bot demo

lint: $(VENV)/.installed
	$(PY) -m ruff check bot tests bench
	$(PY) -m ruff format --check bot tests bench

typecheck: $(VENV)/.installed
	$(PY) -m mypy

unit: $(VENV)/.installed
	$(PY) -m pytest -q

test: lint typecheck unit

# Not part of `make test`: a few minutes of load on this machine (see README, Performance).
bench: $(VENV)/.installed
	$(PY) -m bench --out bench-out

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
