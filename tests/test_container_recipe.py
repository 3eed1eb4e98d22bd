"""The image's recipe, run here step by step (no Docker engine on our machines).

The build stage copies the project, installs the locked dependencies (hash-checked) and the
project into a fresh virtual environment and writes the container config; the final stage runs
``python -m bot`` as a non-root user with secrets as mounted files. This test does the same in a
temporary folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from bot.crypto import MasterKey, new_recovery_key

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = (ROOT / "Dockerfile").read_text()
INSTALLS = (
    "pip install --no-compile --require-hashes -r requirements.lock",
    "pip install --no-compile --no-deps .",
)
CONTAINER_DB = 's#^database = .*#database = "/data/bot.sqlite3"#'


def _copy_context(target: Path) -> None:
    """What the Dockerfile's COPY lines bring in (and .dockerignore leaves out)."""
    for name in ("pyproject.toml", "README.md", "config.example.toml", "requirements.lock"):
        shutil.copy(ROOT / name, target / name)
    shutil.copytree(ROOT / "bot", target / "bot", ignore=shutil.ignore_patterns("__pycache__"))


def test_the_image_recipe_installs_and_starts(tmp_path: Path) -> None:
    assert all(step in DOCKERFILE for step in INSTALLS)  # the steps below are these
    assert CONTAINER_DB in DOCKERFILE
    context, venv, data, secrets = (tmp_path / n for n in ("src", "venv", "data", "secrets"))
    for folder in (context, data, secrets):
        folder.mkdir()
    _copy_context(context)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    for step in INSTALLS:
        pip = [str(venv / "bin" / "python"), "-m", *step.split()]
        installed = subprocess.run(pip, cwd=context, capture_output=True, text=True, check=False)
        assert installed.returncode == 0, installed.stderr[-2000:]

    # The container's config: the example with the database on the data volume.
    example = (context / "config.example.toml").read_text()
    config = example.replace('database = "data/bot.sqlite3"', f'database = "{data}/bot.sqlite3"')
    assert config != example
    (context / "config.toml").write_text(config)
    assert tomllib.loads(config)["storage"]["database"].startswith(str(data))

    (secrets / "bot_token").write_text("123456:" + "A" * 35 + "\n")
    (secrets / "master_key").write_text(MasterKey.generate().to_text() + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "VIRTUAL_ENV"))}
    env |= {
        "BOT_CONFIG": str(context / "config.toml"),
        "BOT_TOKEN_FILE": str(secrets / "bot_token"),
        "BOT_MASTER_KEY_FILE": str(secrets / "master_key"),
        "BOT_RECOVERY_PUBLIC_KEY": new_recovery_key()[1],  # made offline, never in the image
        "BOT_GROUP_CHAT_ID": "-1001234567890",  # the operator's group, never in the image
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    python = str(venv / "bin" / "python")
    checked = subprocess.run(
        [python, "-m", "bot", "check-config"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
    assert "from BOT_TOKEN_FILE" in checked.stdout and "123456:" not in checked.stdout

    # The HEALTHCHECK command runs and answers: unhealthy, since no bot has talked to Telegram.
    assert 'CMD ["python", "-m", "bot", "health"]' in DOCKERFILE
    health = subprocess.run(
        [python, "-m", "bot", "health"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert health.returncode == 1 and "FAIL" in health.stdout
    assert "Traceback" not in health.stderr
