"""The two commands' set-up: `make demo` installs what the bot runs on, `make test` adds the tools.

A first `make demo` used to install the whole development lock (type checker, linters, plotting):
about a minute and over 400 MB before the operator saw a chat. These read the Makefile's plan
with ``make -n`` (nothing is installed) in a copy of the project's recipe files.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUNTIME_LOCK = "-r requirements.lock"
DEV_LOCK = "-r requirements-dev.lock"


def _newcomers_env() -> dict[str, str]:
    # Run under `make test` (as CI does), make would inherit the outer make's level and print
    # "Entering/Leaving directory" lines: run as a newcomer's own `make` would.
    drop = ("MAKELEVEL", "MAKEFLAGS", "MFLAGS")
    return {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("VIRTUAL_")}


def _make(*args: str, cwd: Path, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=cwd,
        env=_newcomers_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _plan(tmp_path: Path, target: str) -> str:
    """The commands ``make TARGET`` would run in a fresh clone, without running them."""
    for name in ("Makefile", "pyproject.toml", "requirements.lock", "requirements-dev.lock"):
        if not (tmp_path / name).exists():
            shutil.copy(ROOT / name, tmp_path / name)
    done = _make("-n", target, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_the_demo_installs_the_runtime_lock_only(tmp_path: Path) -> None:
    plan = _plan(tmp_path, "demo")
    assert RUNTIME_LOCK in plan and "--require-hashes" in plan
    assert DEV_LOCK not in plan
    assert "-e ." not in plan and "install ." not in plan  # it runs from the clone
    assert plan.strip().splitlines()[-1].endswith("-m bot demo")


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
@pytest.mark.parametrize("target", ["unit", "lint", "typecheck"])
def test_the_test_targets_add_the_dev_lock(tmp_path: Path, target: str) -> None:
    plan = _plan(tmp_path, target)
    assert plan.index(RUNTIME_LOCK) < plan.index(DEV_LOCK)
    assert "-e ." not in plan  # nothing is built: setuptools has nothing to warn about


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_a_demo_venv_is_not_set_up_again_for_the_tests(tmp_path: Path) -> None:
    """After `make demo`, `make test` installs the dev lock on top, not the runtime lock again."""
    _plan(tmp_path, "demo")
    venv = tmp_path / ".venv"
    venv.mkdir()
    (venv / ".runtime-installed").touch()
    plan = _plan(tmp_path, "unit")
    assert RUNTIME_LOCK not in plan and DEV_LOCK in plan


def test_the_license_is_an_spdx_expression() -> None:
    """setuptools warns on every install about a license table; the string form is the standard."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["license"] == "AGPL-3.0-or-later"


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_help_lists_every_target_with_what_it_does(tmp_path: Path) -> None:
    _plan(tmp_path, "help")
    for goal in (["help"], []):  # `make` alone says the same
        shown = _make(*goal, cwd=tmp_path)
        assert shown.returncode == 0, shown.stderr
        listed = {line.split()[1] for line in shown.stdout.splitlines()}
        assert {"install", "demo", "test", "bench", "help", "clean"} <= listed, shown.stdout
    assert not (tmp_path / ".venv").exists()  # help installs nothing


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_install_takes_hashed_wheels_only_and_builds_nothing(tmp_path: Path) -> None:
    plan = _plan(tmp_path, "install")
    assert "--only-binary :all: --require-hashes -r requirements.lock" in plan
    assert "exit_intake_bot.pth" in plan
    assert "install ." not in plan and DEV_LOCK not in plan


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_after_make_install_the_bot_runs_from_any_folder(tmp_path: Path) -> None:
    """The README's commands ran only inside the clone ("No module named bot" elsewhere)."""
    venv = tmp_path / "venv"
    installed = _make("install", f"VENV={venv}", cwd=ROOT, timeout=600)
    assert installed.returncode == 0, installed.stderr[-2000:]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    key = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "bot", "keygen"],
        cwd=elsewhere,
        env=_newcomers_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert key.returncode == 0, key.stderr
    assert len(key.stdout.strip()) == 43
