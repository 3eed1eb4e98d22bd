"""The image's recipe, run here step by step (no Docker engine on our machines).

The build stage's RUN lines are taken from the Dockerfile and run in a temporary folder standing
in for the image (``/opt/venv`` and ``/opt/bot`` moved there). The final stage is then played as
``docker run --read-only -v botdata:/data`` plays it: the image's entry command, as uid 10001, on
a root file system made read-only in a mount namespace, with only the data volume writable and
the operator's copy of ``config.example.toml`` mounted where BOT_CONFIG says.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

from bot.crypto import MasterKey
from bot.devserver import DevServer
from tests.conftest import RECOVERY_PRIVATE, RECOVERY_PUBLIC
from tests.test_operator_failures import unprivileged

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def _stages() -> list[str]:
    joined = DOCKERFILE.replace("\\\n", " ")
    return re.split(r"^FROM ", joined, flags=re.MULTILINE)[1:]


def _instructions(stage: str, name: str) -> list[str]:
    return [line[len(name) + 1 :].strip() for line in stage.splitlines() if line.startswith(name)]


def _env_of(stage: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in _instructions(stage, "ENV"):
        found |= dict(re.findall(r"(\w+)=(\S+)", line))
    return found


def test_the_build_fetches_only_hashed_wheels_and_builds_nothing() -> None:
    """`pip install --no-deps .` used to fetch setuptools and wheel, unpinned, to build the
    project; every pip step now takes the hash-checked lock, as wheels only."""
    steps = [s for s in DOCKERFILE.replace("\\\n", " ").split("&&") if "pip install" in s]
    assert steps
    for step in steps:
        assert "--require-hashes -r requirements.lock" in step, step
        assert "--only-binary :all:" in step, step
    assert "pip install --no-deps" not in DOCKERFILE


def _build(image: Path) -> tuple[Path, Path]:
    """The build stage, replayed under ``image``: its COPY and RUN lines, paths moved there."""
    build = _stages()[0]
    venv, source = image / "opt" / "venv", image / "opt" / "bot"
    work = image / "src"
    work.mkdir(parents=True)
    assert _instructions(build, "COPY") == ["requirements.lock ./", "bot /opt/bot/bot"]
    shutil.copy(ROOT / "requirements.lock", work / "requirements.lock")
    shutil.copytree(ROOT / "bot", source / "bot", ignore=shutil.ignore_patterns("__pycache__"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "VIRTUAL_ENV"))}
    env |= _env_of(build)
    for run in _instructions(build, "RUN"):
        for step in run.split("&&"):
            command = step.replace("/opt/venv", str(venv)).replace("/opt/bot", str(source))
            command = re.sub(r"^\s*python ", f"{sys.executable} ", command)
            done = subprocess.run(
                ["sh", "-c", command], cwd=work, env=env, capture_output=True, text=True
            )
            assert done.returncode == 0, (command, done.stderr[-2000:])
    return venv, source


def test_the_image_runs_on_a_read_only_root_with_a_writable_data_volume(tmp_path: Path) -> None:
    venv, _ = _build(tmp_path / "image")
    final = _stages()[1]
    image_env = _env_of(final)
    assert _instructions(final, "USER") == ["10001:10001"]
    assert 'ENTRYPOINT ["python", "-m", "bot"]' in final and 'CMD ["run"]' in final
    assert "chown bot:bot /data" in final and "chmod 0700 /data" in final

    # The operator's side: the example copied unchanged, secrets as files readable by 10001,
    # the group's id and the recovery key's public half from the environment.
    etc, data, secrets = (tmp_path / n for n in ("etc-bot", "data", "secrets"))
    for folder in (etc, data, secrets):
        folder.mkdir()
    data.chmod(0o700)
    shutil.copy(ROOT / "config.example.toml", etc / "config.toml")
    key = MasterKey.generate()
    (secrets / "master_key").write_text(key.to_text() + "\n")
    (secrets / "recovery.key").write_text(RECOVERY_PRIVATE + "\n")
    database = data / Path(image_env["BOT_DATABASE"]).name
    assert image_env["BOT_DATABASE"] == "/data/bot.sqlite3"

    async def scenario() -> None:
        async with DevServer() as server:
            (secrets / "bot_token").write_text(server.token + "\n")
            config = (etc / "config.toml").read_text()
            # The one change a test needs: Telegram is the local Bot API server.
            config = config.replace(
                'base_url = "https://api.telegram.org/bot"', f'base_url = "{server.base_url}"'
            )
            (etc / "config.toml").write_text(config)
            env = {
                "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
                "PYTHONDONTWRITEBYTECODE": image_env["PYTHONDONTWRITEBYTECODE"],
                "PYTHONUNBUFFERED": "1",
                "BOT_CONFIG": str(etc / "config.toml"),
                "BOT_DATABASE": str(database),
                "BOT_TOKEN_FILE": str(secrets / "bot_token"),
                "BOT_MASTER_KEY_FILE": str(secrets / "master_key"),
                "BOT_RECOVERY_PUBLIC_KEY": RECOVERY_PUBLIC,
                "BOT_GROUP_CHAT_ID": "-1001234567890",
            }
            container = unprivileged(read_only=(etc, secrets, venv.parent), writable=(data,))

            def docker_run(*args: str) -> subprocess.CompletedProcess[str]:
                """`docker run --read-only ... exit-intake-bot ARGS` in the simulated container."""
                return subprocess.run(
                    [*container, "python", "-m", "bot", *args],
                    cwd="/",
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=120,
                    check=False,
                )

            checked = await asyncio.to_thread(docker_run, "check-config")
            assert checked.returncode == 0, checked.stderr
            assert f"storage.database: {database} (from BOT_DATABASE)" in checked.stdout
            invited = await asyncio.to_thread(docker_run, "invite", "--role", "lead")
            assert invited.returncode == 0, invited.stderr
            assert invited.stdout.startswith("/enroll ")
            assert stat.S_IMODE(database.stat().st_mode) == 0o600

            bot = await asyncio.create_subprocess_exec(
                *container, "python", "-m", "bot", "run", cwd="/", env=env,
                stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            try:
                healthy = None
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    healthy = await asyncio.to_thread(docker_run, "health")
                    if healthy.returncode == 0 or bot.returncode is not None:
                        break
                assert healthy is not None and healthy.returncode == 0, healthy
                backup = await asyncio.to_thread(docker_run, "backup", "/nonexistent/b.sqlite3")
                assert backup.returncode == 1 and len(backup.stderr.splitlines()) == 1
                backup = await asyncio.to_thread(docker_run, "backup", str(data / "b.sqlite3"))
                assert backup.returncode == 0, backup.stderr
            finally:
                bot.send_signal(signal.SIGTERM)
                _, err = await asyncio.wait_for(bot.communicate(), timeout=30)
            assert bot.returncode == 0, err.decode()[-2000:]

            revoked = await asyncio.to_thread(docker_run, "revoke", "C-AAAA")
            assert revoked.returncode == 1 and "no active coordinator" in revoked.stderr
            restored = await asyncio.to_thread(
                docker_run, "restore", str(data / "b.sqlite3"), "--force"
            )
            assert restored.returncode == 0, restored.stderr
            recovered = await asyncio.to_thread(
                docker_run, "recover", "grant", "C-AAAA", "--key", str(secrets / "recovery.key"),
                "--database", str(data / "b.sqlite3"), "--out", str(data / "grants.json"),
            )  # fmt: skip
            # It ran in the image: key and copy read; nobody enrolled by that name, one line.
            assert recovered.returncode == 1, recovered.stderr
            assert recovered.stderr == "error: no active coordinator C-AAAA in that database\n"
            for file in data.iterdir():
                assert stat.S_IMODE(file.stat().st_mode) == 0o600, file

    asyncio.run(scenario())
    # Nothing was written outside the data volume: the root stayed read-only throughout.
    assert sorted(p.name for p in (tmp_path / "etc-bot").iterdir()) == ["config.toml"]
