"""The operator's maintenance commands, run as separate processes against a real database."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from bot.crypto import MasterKey
from bot.ops.health import beat
from tests.conftest import write_config
from tests.databases import opened
from tests.test_cli import _bot, _env


def test_health_needs_a_recent_contact_with_telegram(tmp_path: Path) -> None:
    key = MasterKey.generate()
    config = write_config(tmp_path, "http://127.0.0.1:9/bot")
    env = _env(BOT_TOKEN="1:" + "A" * 35, BOT_MASTER_KEY=key.to_text())
    missing = _bot("health", "--config", str(config), env=env)
    assert missing.returncode == 1 and "FAIL" in missing.stdout

    async def prepare() -> None:
        async with opened(tmp_path / "bot.sqlite3") as db:
            await beat(db, time.time())

    asyncio.run(prepare())
    healthy = _bot("health", "--config", str(config), env=env)
    assert healthy.returncode == 0, healthy.stdout
    assert "FAIL" not in healthy.stdout


def test_rotate_key_from_the_command_line(tmp_path: Path) -> None:
    old, new = MasterKey.generate(), MasterKey.generate()
    (tmp_path / "old.key").write_text(old.to_text() + "\n")
    config = write_config(tmp_path, "http://127.0.0.1:9/bot")
    text = config.read_text().replace(
        "[security]\n", '[security]\nprevious_master_key_files = ["old.key"]\n'
    )
    config.write_text(text)
    first = _env(BOT_TOKEN="1:" + "A" * 35, BOT_MASTER_KEY=old.to_text())
    assert _bot("invite", "--config", str(config), env=first).returncode == 0  # audited, old key
    env = _env(BOT_TOKEN="1:" + "A" * 35, BOT_MASTER_KEY=new.to_text())
    rotated = _bot("rotate-key", "--config", str(config), env=env)
    assert rotated.returncode == 0, rotated.stdout + rotated.stderr
    assert f"new master key: {new.key_id}" in rotated.stdout
    again = _bot("rotate-key", "--config", str(config), env=env)
    assert again.returncode == 0  # a rerun finds nothing left to do
    # Completed: the new key alone is now the database's key, and the old one is refused.
    alone = config.read_text().replace('previous_master_key_files = ["old.key"]\n', "")
    config.write_text(alone)
    assert _bot("verify-audit", "--config", str(config), env=env).returncode == 0
    assert _bot("verify-audit", "--config", str(config), env=first).returncode == 2


def test_rotate_key_without_an_old_key_has_nothing_to_rotate(tmp_path: Path) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:9/bot")
    env = _env(BOT_TOKEN="1:" + "A" * 35, BOT_MASTER_KEY=MasterKey.generate().to_text())
    result = _bot("rotate-key", "--config", str(config), env=env)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "nothing to rotate: set security.previous_master_key_files to the old key's file"
    ]
    assert not (tmp_path / "bot.sqlite3").exists()  # refused before the database was touched


def test_purge_backup_and_restore_from_the_command_line(tmp_path: Path) -> None:
    key = MasterKey.generate()
    config = write_config(tmp_path, "http://127.0.0.1:9/bot")
    env = _env(BOT_TOKEN="1:" + "A" * 35, BOT_MASTER_KEY=key.to_text())
    assert _bot("invite", "--config", str(config), env=env).returncode == 0
    purged = _bot("purge", "--config", str(config), env=env)
    assert purged.returncode == 0 and "WAL checkpointed: True" in purged.stdout
    copy = tmp_path / "copy.sqlite3"
    made = _bot("backup", str(copy), "--config", str(config), env=env)
    assert made.returncode == 0 and copy.exists(), made.stderr
    assert _bot("backup", str(copy), "--config", str(config), env=env).returncode == 1
    refused = _bot("restore", str(copy), "--config", str(config), env=env)
    assert refused.returncode == 1  # no silent overwrite, and the flag named as it is typed
    assert refused.stderr.strip().endswith("exists; add --force to replace it"), refused.stderr
    restored = _bot("restore", str(copy), "--force", "--config", str(config), env=env)
    assert restored.returncode == 0, restored.stderr
    audit = _bot("verify-audit", "--config", str(config), env=env)
    assert audit.returncode == 0 and "intact: 1 entries" in audit.stdout


def test_invite_into_a_team_names_it_and_refuses_an_unknown_one(tmp_path: Path) -> None:
    teams = (
        '[[coordination.teams]]\nname = "south"\nroute = { region = ["mon"] }\n'
        "group_chat_id = -1001000000001\n"
        '[[coordination.teams]]\nname = "north"\ndefault = true\n'
        "group_chat_id = -1001000000002\n"
    )
    config = write_config(tmp_path, "http://127.0.0.1:9/bot", coordination_extra=teams)
    env = _env(BOT_TOKEN="1:" + "A" * 35, BOT_MASTER_KEY=MasterKey.generate().to_text())
    made = _bot("invite", "--team", "south", "--config", str(config), env=env)
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith("/enroll ")
    assert made.stderr.strip().endswith("Team(s): south.")
    lead = _bot("invite", "--role", "lead", "--config", str(config), env=env)
    assert lead.stderr.strip().endswith("Team(s): every team.")
    wrong = _bot("invite", "--team", "west", "--config", str(config), env=env)
    assert wrong.returncode == 2 and wrong.stdout == ""
    assert wrong.stderr.splitlines() == ["error: no team 'west'; teams: south, north"]
