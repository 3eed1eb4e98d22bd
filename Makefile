# Two commands matter: `make demo` and `make test`. Both set up a private virtual environment
# in .venv on first use, so a fresh clone needs nothing but Python 3.11+ and make. An operator's
# server needs `make install` alone. `make help` lists every target.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
.DEFAULT_GOAL := help

.PHONY: help install demo test lint typecheck unit bench lock setup setup-demo clean

# Two stages, each with its stamp, every file checked against its hash. The demo needs only
# the runtime lock (requirements.lock, what the image installs): a first `make demo` should take
# seconds, not fetch type checkers and plotting. The test tools (requirements-dev.lock) come on
# top for everything else. The project itself is never built: the runtime stage puts this folder
# on the environment's path (a .pth file), so `.venv/bin/python -m bot` works from any folder,
# and no build backend (setuptools, wheel) is fetched unpinned. The runtime lock is taken as
# wheels only (--only-binary), for the same reason; the image does the same (see the Dockerfile).
export PIP_DISABLE_PIP_VERSION_CHECK := 1
RUNTIME := $(VENV)/.runtime-installed
DEV := $(VENV)/.dev-installed

$(RUNTIME): requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --only-binary :all: --require-hashes -r requirements.lock
	$(PY) -c 'import pathlib, sysconfig; pathlib.Path(sysconfig.get_path("purelib"), "exit_intake_bot.pth").write_text(str(pathlib.Path.cwd()) + "\n")'
	touch $@

$(DEV): $(RUNTIME) requirements-dev.lock
	$(PY) -m pip install --quiet --require-hashes -r requirements-dev.lock
	touch $@

# Regenerate the lock after changing dependencies in pyproject.toml.
lock: $(DEV)  ## recompute both locks after changing pyproject.toml
	$(PY) -m pip install --quiet pip-tools
	$(PY) -m piptools compile --quiet --generate-hashes --no-emit-index-url --no-emit-find-links \
		--strip-extras --output-file requirements.lock pyproject.toml
	$(PY) -m piptools compile --quiet --generate-hashes --no-emit-index-url --no-emit-find-links \
		--extra dev --extra bench --strip-extras --output-file requirements-dev.lock pyproject.toml

help:  ## list these targets
	@awk -F ':.*## ' '/^[a-z-]+:.*## / { printf "  make %-10s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

install: $(RUNTIME)  ## the bot for a server: .venv/bin/python -m bot, from any folder
	@echo "installed: $(abspath $(PY)) -m bot --help"

setup: $(DEV)  ## the bot and the test tools, nothing run

setup-demo: $(RUNTIME)

demo: $(RUNTIME)  ## try the bot in this terminal (no Telegram, nothing kept)
	$(PY) -m bot demo

lint: $(DEV)  ## ruff: lint and format check
	$(PY) -m ruff check bot tests bench tools
	$(PY) -m ruff format --check bot tests bench tools

typecheck: $(DEV)  ## mypy, strict on bot/
	$(PY) -m mypy

# Most tests wait on the local server and the bot rather than on the processor, so several run
# at once, four even on two cores. A module that builds one costly fixture for all its tests
# runs whole on one worker (BUILT_ONCE in tests/conftest.py); pytest prints the slowest tests.
TEST_WORKERS ?= 4
unit: $(DEV)  ## the test suite alone
	$(PY) -m pytest -q --numprocesses $(TEST_WORKERS) --dist load

test: lint typecheck unit  ## lint, type-check and every test (what CI runs)

# Not part of `make test`: a few minutes of load on this machine (see README, Performance).
bench: $(DEV)  ## the benchmark (minutes of load); rewrites its table in README.md
	$(PY) -m bench --out bench-out --readme README.md

clean:  ## remove .venv and the tools' caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
