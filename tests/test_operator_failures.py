"""An operator's first deployment, failure by failure: each ends in one line naming what to fix.

Every command here runs as an operator runs it, as a process of its own. Where a failure needs a
folder the bot's user cannot write, the command runs as an unprivileged user (uid 10001, the
image's) in a user namespace, with the root file system read-only where the image has it so.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.crypto import MasterKey, new_recovery_key
from tests.conftest import RECOVERY_PRIVATE, RECOVERY_PUBLIC, write_config
from tests.test_cli import ROOT, _bot, _env

TOKEN = "123456:" + "A" * 35
GROUP = "-1009876543210"
IMAGE_UID = "10001"


MASTER_KEY = MasterKey.generate().to_text()


def _secrets(**extra: str) -> dict[str, str]:
    secrets = {
        "BOT_TOKEN": TOKEN,
        "BOT_MASTER_KEY": MASTER_KEY,
        "BOT_RECOVERY_PUBLIC_KEY": RECOVERY_PUBLIC,
        "BOT_GROUP_CHAT_ID": GROUP,
    }
    return _env(**(secrets | extra))


def _one_line(result: subprocess.CompletedProcess[str], *wanted: str) -> str:
    """The command failed with exactly one line on standard error, holding every ``wanted``."""
    assert result.returncode != 0, result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    for word in wanted:
        assert word in lines[0], lines[0]
    assert "Traceback" not in result.stderr
    return lines[0]


def _example_copy(folder: Path) -> Path:
    """``cp config.example.toml config.toml``, as the README says, and nothing else."""
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "config.toml"
    shutil.copy(ROOT / "config.example.toml", config)
    return config


def unprivileged(*, read_only: tuple[Path, ...] = (), writable: tuple[Path, ...] = ()) -> list[str]:
    """A command prefix: uid 10001 with no privileges, and, when ``read_only`` is given, the root
    file system and those folders read-only except ``writable`` (a container's --read-only with
    a volume). Skips where user namespaces are not allowed."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is needed to run as another user")
    probe = subprocess.run(
        ["unshare", "--user", "--map-user", IMAGE_UID, "true"], capture_output=True, check=False
    )
    if probe.returncode != 0:
        pytest.skip("user namespaces are not allowed here")
    drop = ["unshare", "--user", "--map-user", IMAGE_UID, "--map-group", IMAGE_UID]
    if not read_only:
        return drop
    script = " && ".join(
        [f'mount --bind "{p}" "{p}"' for p in writable]
        + ["mount -o remount,bind,ro /"]
        + [f'mount --bind "{p}" "{p}" && mount -o remount,bind,ro "{p}"' for p in read_only]
        + ['exec "$@"']
    )
    return ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script, "sh", *drop]


def _as(prefix: list[str], *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return _bot(*args, env=env, prefix=prefix)


# --- 1. the container's database beside a config mounted read-only -----------------------------


def test_the_examples_database_beside_a_read_only_config_is_named(tmp_path: Path) -> None:
    """The README's container run: the example's ``data/bot.sqlite3`` resolves beside the
    mounted config, on the read-only root. check-config said "config ok" and run "OSError"."""
    config = _example_copy(tmp_path / "etc-bot")
    data = tmp_path / "data"
    data.mkdir()
    prefix = unprivileged(read_only=(config.parent,), writable=(data,))
    env = _secrets()
    checked = _as(prefix, "check-config", "--config", str(config), env=env)
    line = _one_line(checked, "storage.database", "does not exist", "/data/bot.sqlite3")
    assert line.startswith("config error: storage.database: the folder ")
    ran = _as(prefix, "run", "--config", str(config), env=env)
    assert _one_line(ran) == line
    invited = _as(prefix, "invite", "--config", str(config), env=env)
    assert _one_line(invited) == line


# --- 2. an unwritable database ------------------------------------------------------------------


def test_a_read_only_database_folder_is_one_line_for_every_command(tmp_path: Path) -> None:
    """A folder the bot's user cannot write: run said OperationalError (and sometimes a
    25-line aiosqlite traceback), invite printed a 39-line traceback."""
    folder = tmp_path / "db"
    folder.mkdir()
    folder.chmod(0o555)
    config = write_config(tmp_path, "http://127.0.0.1:9/bot")
    config.write_text(config.read_text().replace(str(tmp_path / "bot.sqlite3"), f"{folder}/x.db"))
    env = _secrets()
    prefix = unprivileged()
    for command in ("check-config", "run", "invite", "purge", "verify-audit", "backup"):
        args = [command, "--config", str(config)]
        args += [str(tmp_path / "b.db")] if command == "backup" else []
        _one_line(_as(prefix, *args, env=env), "storage.database", "not writable", "uid 10001")


def test_a_database_folder_on_a_read_only_file_system_is_named(tmp_path: Path) -> None:
    etc, data = tmp_path / "etc", tmp_path / "data"
    etc.mkdir()
    data.mkdir()
    config = write_config(etc, "http://127.0.0.1:9/bot")
    prefix = unprivileged(read_only=(etc, data))
    config.write_text(config.read_text().replace(str(etc / "bot.sqlite3"), f"{data}/bot.db"))
    for command in ("check-config", "run", "invite"):
        result = _as(prefix, command, "--config", str(config), env=_secrets())
        _one_line(result, "storage.database", "read-only file system")


def test_a_folder_where_the_database_file_should_be_is_named(tmp_path: Path) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:9/bot")
    (tmp_path / "bot.sqlite3").mkdir()
    for command in ("check-config", "run", "invite", "revoke"):
        args = [command, "--config", str(config)] + (["C-AAAA"] if command == "revoke" else [])
        _one_line(_bot(*args, env=_secrets()), "storage.database", "is a folder")


def test_a_damaged_database_file_is_one_line_naming_the_setting(tmp_path: Path) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:9/bot")
    (tmp_path / "bot.sqlite3").write_bytes(b"not a database at all " * 100)
    for command in ("run", "invite"):
        _one_line(_bot(command, "--config", str(config), env=_secrets()), "storage.database")


# --- 6. check-config's answers ------------------------------------------------------------------


def test_check_config_reports_every_problem_of_a_fresh_copy_at_once(tmp_path: Path) -> None:
    """A fresh copy lacks the token, the master key, the recovery key and the group id, and its
    database folder: one run names them all, one line each (it took four rounds)."""
    config = _example_copy(tmp_path)
    result = _bot("check-config", "--config", str(config), env=_env())
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.splitlines()
    named = [line.split(":")[1].strip().split(" ")[0] for line in lines]
    assert named == [
        "telegram.token",
        "security.master_key",
        "security.recovery_public_key",
        "coordination.group_chat_id",
    ], lines
    assert all(line.startswith("config error: ") for line in lines)


def test_check_config_shows_the_recovery_key_as_the_line_to_write(tmp_path: Path) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:9/bot")
    result = _bot("check-config", "--config", str(config), env=_secrets())
    assert result.returncode == 0, result.stderr
    assert f"security.recovery_public_key: {RECOVERY_PUBLIC}" in result.stdout.splitlines()
    assert "b'" not in result.stdout


@pytest.mark.parametrize("where", ["file", "environment"])
def test_the_private_recovery_key_on_the_server_is_refused_loudly(
    tmp_path: Path, where: str
) -> None:
    private, _ = new_recovery_key()
    if where == "file":
        config = write_config(tmp_path, "http://127.0.0.1:9/bot", recovery_public=private)
        env = _secrets(BOT_RECOVERY_PUBLIC_KEY="")
    else:
        config = write_config(tmp_path, "http://127.0.0.1:9/bot")
        env = _secrets(BOT_RECOVERY_PUBLIC_KEY=RECOVERY_PRIVATE)
    for command in ("check-config", "run"):
        result = _bot(command, "--config", str(config), env=env)
        line = _one_line(result, "security.recovery_public_key", "PRIVATE", "NEVER be on the")
        assert private not in line and RECOVERY_PRIVATE not in line


def test_teams_list_left_beside_team_blocks_is_named(tmp_path: Path) -> None:
    config = _example_copy(tmp_path)
    text = config.read_text() + '\n[[coordination.teams]]\nname = "south"\ndefault = true\n'
    config.write_text(text)
    result = _bot("check-config", "--config", str(config), env=_secrets())
    line = text.splitlines().index("teams = []") + 1
    assert _one_line(result) == (
        f"config error: coordination.teams: delete the line `teams = []` (config.toml line "
        f"{line}); the [[coordination.teams]] blocks replace it"
    )


def test_a_route_to_a_missing_option_lists_the_options(tmp_path: Path) -> None:
    teams = (
        '[[coordination.teams]]\nname = "south"\ndefault = true\nroute = { service = ["navy"] }\n'
    )
    config = write_config(tmp_path, "http://127.0.0.1:9/bot", extra=teams)
    result = _bot("check-config", "--config", str(config), env=_secrets())
    _one_line(
        result,
        "route.service",
        "'navy' is not an option",
        "its options: armed_forces, police, other",
    )


# --- keys and the database, the owner's alone ---------------------------------------------------


def _with_umask_022(
    script: str, arg: str, *, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """``python -m bot …`` from a shell whose umask lets anyone read new files, as is common."""
    return subprocess.run(
        ["sh", "-c", f"umask 022 && exec {script}", sys.executable, arg],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_keygen_into_a_file_leaves_it_readable_by_its_owner_alone(tmp_path: Path) -> None:
    key = tmp_path / "master_key"
    done = _with_umask_022('"$0" -m bot keygen > "$1"', str(key), env=_env())
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    MasterKey.from_text(key.read_text())


def test_the_database_and_its_wal_are_the_owners_alone(tmp_path: Path) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:9/bot")
    made = _with_umask_022('"$0" -m bot invite --config "$1"', str(config), env=_secrets())
    assert made.returncode == 0, made.stderr
    database = tmp_path / "bot.sqlite3"
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
    # A database made before (0644) is narrowed, and SQLite gives its WAL the same mode.
    database.chmod(0o644)
    backup = tmp_path / "copy.sqlite3"
    assert _bot("backup", "--config", str(config), str(backup), env=_secrets()).returncode == 0
    for file in (database, backup, *tmp_path.glob("bot.sqlite3-*")):
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file


# --- the demo ------------------------------------------------------------------------------------


def test_ctrl_c_in_the_demo_ends_it_at_once() -> None:
    """Ctrl-C while the demo waits for a line used to hang until Enter."""
    demo = subprocess.Popen(
        [sys.executable, "-m", "bot", "demo"],
        cwd=ROOT,
        env=_env(),
        stdin=subprocess.PIPE,  # kept open: nobody presses Enter
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert demo.stdout is not None
        seen = b""
        deadline = time.monotonic() + 60
        while b"> " not in seen and time.monotonic() < deadline:
            chunk = os.read(demo.stdout.fileno(), 4096)
            if not chunk:
                break
            seen += chunk
        assert b"> " in seen, seen[-500:]
        demo.send_signal(signal.SIGINT)
        assert demo.wait(timeout=10) == 0
        assert demo.stderr is not None
        assert b"demo ended" in demo.stderr.read()
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()


def test_recover_from_a_file_that_is_not_a_database_is_one_line(tmp_path: Path) -> None:
    key, junk = tmp_path / "recovery.key", tmp_path / "copy.sqlite3"
    key.write_text(RECOVERY_PRIVATE + "\n")
    junk.write_bytes(b"not a database at all " * 100)
    for step in (["show", "K7QX"], ["grant", "C-AAAA", "--out", str(tmp_path / "g.json")]):
        result = _bot("recover", *step, "--key", str(key), "--database", str(junk), env=_env())
        _one_line(result, "--database", str(junk), "DatabaseError")


def test_secrets_the_bots_user_cannot_read_are_named_with_the_rest(tmp_path: Path) -> None:
    """Secrets mounted unreadable by the image's user, and a database folder in a file's place:
    check-config names both in one run; run names the first, in one line."""
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    token = secrets / "bot_token"
    token.write_text(TOKEN + "\n")
    token.chmod(0o000)
    (tmp_path / "not-a-folder").write_text("")
    config = write_config(tmp_path, "http://127.0.0.1:9/bot")
    config.write_text(
        config.read_text().replace(
            str(tmp_path / "bot.sqlite3"), str(tmp_path / "not-a-folder" / "bot.sqlite3")
        )
    )
    env = _secrets(BOT_TOKEN="", BOT_TOKEN_FILE=str(token))
    prefix = unprivileged()
    checked = _as(prefix, "check-config", "--config", str(config), env=env)
    assert checked.returncode == 2 and "Traceback" not in checked.stderr
    lines = checked.stderr.splitlines()
    assert len(lines) == 2, lines
    assert lines[0].startswith(f"config error: BOT_TOKEN_FILE: cannot read {token}")
    assert "Permission denied" in lines[0] and TOKEN not in checked.stderr
    assert lines[1].startswith("config error: storage.database: ")
    assert "not-a-folder is not a folder" in lines[1]
    assert _one_line(_as(prefix, "run", "--config", str(config), env=env)) == lines[0]


def test_a_database_failure_while_running_names_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A disk that fills up under the running bot: its one line names storage.database."""
    from bot import cli, runtime
    from bot.config import load_config

    config = load_config(write_config(tmp_path, "http://127.0.0.1:9/bot"), _secrets())

    async def disk_full(*_: object) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(runtime, "serve", disk_full)
    assert cli._run(config) == 1
    said = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("{")]
    assert said == [  # the rest is the JSON log, on standard error as in production
        f"error: the bot stopped: storage.database: {tmp_path / 'bot.sqlite3'} cannot be opened "
        "or written (OperationalError: database or disk is full)"
    ]
