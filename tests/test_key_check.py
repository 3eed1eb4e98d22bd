"""A master key that is not the database's is refused at once, in one line, by every command
that opens the database; the right key, and during a rotation the old or the new, is accepted.

Each test plays the operator's mistake (the wrong key file) or an attacker's move (a forged or
swapped key check row) and looks for the refusal."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
from pathlib import Path

import pytest

from bot.config import ConfigError
from bot.crypto import MasterKey, Vault
from bot.ops.keycheck import ensure_master_key, inspect_master_key, write_key_check
from bot.ops.rotation import rotate
from bot.services import audit
from bot.store import Database
from bot.store import keycheck as kc_store
from tests.conftest import write_config
from tests.databases import opened
from tests.test_cli import _bot, _env

NOW = 1_800_000_000
TOKEN = "1:" + "A" * 35
MISMATCH = "config error: security.master_key: does not match this database"


async def _refused(db: Database, vault: Vault) -> str:
    with pytest.raises(ConfigError) as caught:
        await ensure_master_key(db, vault)
    return str(caught.value)


async def _seal_something(db: Database, vault: Vault) -> None:
    """A master-key blob as the bot stores one: a case view's chat id, to delete later."""
    chat = vault.seal_local(b"42", purpose="deletion", context="chat")
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO scheduled_deletions (chat, message_id, delete_at) VALUES (?, 1, ?)",
            (chat, NOW),
        )


async def _forget_key_check(db: Database) -> None:
    """The database as it was before the key_check table existed (or with its row removed)."""
    async with db.transaction() as conn:
        await conn.execute("DELETE FROM key_check")


# --- the check itself --------------------------------------------------------------------------


async def test_a_fresh_database_takes_the_first_key_and_refuses_any_other(db: Database) -> None:
    right, wrong = MasterKey.generate(), MasterKey.generate()
    await ensure_master_key(db, Vault(right))
    row = await kc_store.read_key_check(db.conn)
    assert row is not None and row.key_id == right.key_id

    await ensure_master_key(db, Vault(right))  # again: nothing to say
    line = await _refused(db, Vault(wrong))

    assert line.startswith(MISMATCH) and "\n" not in line
    assert right.key_id in line and wrong.key_id in line
    assert line.endswith("use the key this database was made with")
    assert (await kc_store.read_key_check(db.conn)) == row  # the wrong key wrote nothing


async def test_a_forged_row_naming_the_right_key_id_is_refused(db: Database) -> None:
    """Someone with the file alone can copy the key id, not make a value that key opens."""
    right, other = MasterKey.generate(), MasterKey.generate()
    await ensure_master_key(db, Vault(right))
    forged = Vault(other).seal_local(b"x", purpose="key-check", context="master-key")
    async with db.transaction() as conn:
        await kc_store.write_key_check(conn, key_id=right.key_id, value=forged)

    assert MISMATCH in await _refused(db, Vault(right))


async def test_an_older_database_is_not_adopted_by_a_wrong_key(db: Database) -> None:
    """No KCV yet (made before the key_check table): its blobs name the key that made them, so
    the first start after the upgrade cannot stamp a wrong key as the database's."""
    right, wrong = MasterKey.generate(), MasterKey.generate()
    await _seal_something(db, Vault(right))
    await _forget_key_check(db)

    line = await _refused(db, Vault(wrong))
    assert "it holds data made with key id " + right.key_id in line
    assert await kc_store.read_key_check(db.conn) is None

    await ensure_master_key(db, Vault(right))
    assert (await inspect_master_key(db.conn, Vault(right))).stored_key_id == right.key_id


async def test_an_older_database_with_only_an_audit_log_is_not_adopted(db: Database) -> None:
    """An operator who only ran ``invite``: no blob, but the audit entry is a MAC of the key."""
    right, wrong = MasterKey.generate(), MasterKey.generate()
    async with db.transaction() as conn:
        await audit.record(
            conn, Vault(right), at=NOW, actor="operator", action="invited", case_code=None
        )
    await _forget_key_check(db)

    assert "audit entry" in await _refused(db, Vault(wrong))
    await ensure_master_key(db, Vault(right))


async def test_a_rotation_keeps_the_key_check_valid(db: Database) -> None:
    old, new = MasterKey.generate(), MasterKey.generate()
    await ensure_master_key(db, Vault(old))
    await _seal_something(db, Vault(old))

    # Restarted for the rotation: new key current, old one held. The old KCV is accepted...
    await ensure_master_key(db, Vault(new, previous=[old]))
    # ...but the new key alone is not the database's key yet: the drafts are under the old.
    assert MISMATCH in await _refused(db, Vault(new))

    report = await rotate(db, new, [old])
    assert report.ok, report.lines()

    await ensure_master_key(db, Vault(new))
    await ensure_master_key(db, Vault(new, previous=[old]))
    line = await _refused(db, Vault(old))  # rolled back to the old key after the rotation
    assert f"made with key id {new.key_id}" in line


async def test_rotate_refuses_keys_that_are_not_the_databases(db: Database) -> None:
    """Otherwise every blob would count as "unopenable" and the wrong key be stamped as the
    database's at the end, locking the right one out."""
    right, stranger, other = (MasterKey.generate() for _ in range(3))
    await ensure_master_key(db, Vault(right))
    await _seal_something(db, Vault(right))

    with pytest.raises(ConfigError, match="does not match this database"):
        await rotate(db, stranger, [other])

    row = await kc_store.read_key_check(db.conn)
    assert row is not None and row.key_id == right.key_id
    await ensure_master_key(db, Vault(right))


async def test_a_kcv_written_under_a_held_previous_key_is_accepted(db: Database) -> None:
    old, new = MasterKey.generate(), MasterKey.generate()
    async with db.transaction() as conn:
        await write_key_check(conn, Vault(old))
    check = await inspect_master_key(db.conn, Vault(new, previous=[old]))
    assert check.ok and check.stored_key_id == old.key_id
    assert not (await inspect_master_key(db.conn, Vault(new))).ok


# --- as the operator meets it: one line, exit status 2, no traceback ---------------------------


def _prepare(folder: Path, key: MasterKey) -> Path:
    """A database made (by ``invite``) with ``key``, and the config that points at it."""
    config = write_config(folder, "http://127.0.0.1:9/bot")
    made = _bot(
        "invite", "--config", str(config), env=_env(BOT_TOKEN=TOKEN, BOT_MASTER_KEY=key.to_text())
    )
    assert made.returncode == 0, made.stderr
    return config


def _assert_one_line_refusal(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(
        "config error: security.master_key (from BOT_MASTER_KEY): does not match this database"
    )
    assert "Traceback" not in result.stderr and "BROKEN" not in result.stderr


def test_every_command_refuses_a_wrong_key_in_one_line(tmp_path: Path) -> None:
    right, wrong = MasterKey.generate(), MasterKey.generate()
    config = _prepare(tmp_path, right)
    env = _env(BOT_TOKEN=TOKEN, BOT_MASTER_KEY=wrong.to_text())
    for command in ("check-config", "health", "verify-audit", "invite", "purge"):
        result = _bot(command, "--config", str(config), env=env)
        _assert_one_line_refusal(result)
    _assert_one_line_refusal(_bot("run", "--config", str(config), env=env))
    # rotate-key with an old key to rotate from, neither of them this database's.
    rotating = tmp_path / "rotating.toml"
    (tmp_path / "old.key").write_text(MasterKey.generate().to_text(), encoding="utf-8")
    rotating.write_text(
        config.read_text(encoding="utf-8").replace(
            "[security]\n", "[security]\nprevious_master_key_files = ['old.key']\n"
        ),
        encoding="utf-8",
    )
    _assert_one_line_refusal(_bot("rotate-key", "--config", str(rotating), env=env))

    good = _env(BOT_TOKEN=TOKEN, BOT_MASTER_KEY=right.to_text())
    checked = _bot("check-config", "--config", str(config), env=good)
    assert checked.returncode == 0, checked.stderr
    assert f"the master key matches this database (key id {right.key_id})" in checked.stdout
    audited = _bot("verify-audit", "--config", str(config), env=good)
    assert audited.returncode == 0 and "intact" in audited.stdout, audited.stderr


def test_check_config_without_a_database_is_fine_and_creates_nothing(tmp_path: Path) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:9/bot")
    env = _env(BOT_TOKEN=TOKEN, BOT_MASTER_KEY=MasterKey.generate().to_text())
    result = _bot("check-config", "--config", str(config), env=env)
    assert result.returncode == 0, result.stderr
    assert "does not exist yet" in result.stdout
    assert not (tmp_path / "bot.sqlite3").exists()


def test_a_backup_made_under_another_key_is_not_restored(tmp_path: Path) -> None:
    right, wrong = MasterKey.generate(), MasterKey.generate()
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    other_config = _prepare(theirs, wrong)
    copy = tmp_path / "copy.sqlite3"
    made = _bot(
        "backup",
        str(copy),
        "--config",
        str(other_config),
        env=_env(BOT_TOKEN=TOKEN, BOT_MASTER_KEY=wrong.to_text()),
    )
    assert made.returncode == 0, made.stderr

    config = _prepare(tmp_path, right)
    before = (tmp_path / "bot.sqlite3").read_bytes()
    env = _env(BOT_TOKEN=TOKEN, BOT_MASTER_KEY=right.to_text())
    _assert_one_line_refusal(
        _bot("restore", str(copy), "--force", "--config", str(config), env=env)
    )
    assert (tmp_path / "bot.sqlite3").read_bytes() == before


def test_health_refuses_a_wrong_key_and_changes_nothing(tmp_path: Path) -> None:
    """A probe must not change what it probes: the wrong key's refusal writes no KCV."""
    right, wrong = MasterKey.generate(), MasterKey.generate()
    config = _prepare(tmp_path, right)
    with sqlite3.connect(tmp_path / "bot.sqlite3") as conn:
        before = conn.execute("SELECT key_id, value FROM key_check").fetchone()
    result = _bot(
        "health", "--config", str(config), env=_env(BOT_TOKEN=TOKEN, BOT_MASTER_KEY=wrong.to_text())
    )
    _assert_one_line_refusal(result)
    with sqlite3.connect(tmp_path / "bot.sqlite3") as conn:
        assert conn.execute("SELECT key_id, value FROM key_check").fetchone() == before


async def test_two_processes_opening_a_fresh_database_agree(tmp_path: Path) -> None:
    """The runtime and a command may both find no KCV; only one is written, and both pass."""
    key = MasterKey.generate()
    path = tmp_path / "bot.sqlite3"
    async with opened(path) as first, opened(path) as second:
        await asyncio.gather(
            ensure_master_key(first, Vault(key)), ensure_master_key(second, Vault(key))
        )
        row = await kc_store.read_key_check(first.conn)
        assert row is not None and row.key_id == key.key_id
