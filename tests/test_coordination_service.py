"""Coordination service pieces that need a clock: case views expire, unlocked keys time out."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

from bot.config import load_config
from bot.crypto import MasterKey
from bot.runtime import open_services
from bot.services.keyring import KeyRing
from tests.conftest import write_config
from tests.test_cli import _bot, _env


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_case_views_are_deleted_after_their_time_even_across_a_restart(
    tmp_path: Path,
) -> None:
    key, clock = MasterKey.generate(), Clock()
    environ = {"BOT_TOKEN": "1:" + "A" * 35, "BOT_MASTER_KEY": key.to_text()}
    config = load_config(write_config(tmp_path, "http://127.0.0.1:9/bot"), environ)
    async with open_services(config, clock=clock) as services:
        await services.coordination.schedule_deletion(777_001, [11, 12])
    deleted: list[tuple[int, int]] = []

    async def delete(chat_id: int, message_id: int) -> None:
        deleted.append((chat_id, message_id))

    async with open_services(config, clock=clock) as services:  # a restart in between
        clock.now += 9
        assert await services.coordination.run_due_deletions(delete) == 0
        clock.now += 2  # past case_view_ttl_seconds = 10
        assert await services.coordination.run_due_deletions(delete) == 2
        assert await services.coordination.run_due_deletions(delete) == 0
    assert deleted == [(777_001, 11), (777_001, 12)]


def test_an_unlocked_key_is_forgotten_when_idle() -> None:
    ring = KeyRing(idle_seconds=60)
    marker = object()
    ring.hold("c1", marker, 0.0)  # type: ignore[arg-type]
    assert ring.use("c1", 59.0) is marker  # opening a case restarts the idle clock
    assert ring.use("c1", 118.0) is marker
    assert ring.use("c1", 179.0) is None
    ring.hold("c1", marker, 0.0)  # type: ignore[arg-type]
    assert ring.forget("c1") and ring.use("c1", 1.0) is None


def test_asking_whether_a_key_is_unlocked_does_not_keep_it_alive() -> None:
    """A thief with an unlocked phone who sends /help or /queue every few minutes must not
    keep the key in memory: only opening a case renews it."""
    ring = KeyRing(idle_seconds=60)
    marker = object()
    ring.hold("c1", marker, 0.0)  # type: ignore[arg-type]
    for t in (30.0, 50.0, 59.0):
        assert ring.holds("c1", t)
    assert not ring.holds("c1", 61.0) and ring.use("c1", 61.0) is None


def test_an_unlocked_key_is_forgotten_at_the_cap_however_busy() -> None:
    ring = KeyRing(idle_seconds=60, max_seconds=3600)
    marker = object()
    ring.hold("c1", marker, 0.0)  # type: ignore[arg-type]
    t = 0.0
    while t < 3600.0:
        assert ring.use("c1", t) is marker
        t += 50.0
    assert ring.use("c1", 3601.0) is None
    assert ring.sweep(3601.0) == 0  # already gone


def _cli(*args: str, config: Path, key: MasterKey) -> subprocess.CompletedProcess[str]:
    env = _env(BOT_TOKEN="1:" + "A" * 35, BOT_MASTER_KEY=key.to_text())
    return _bot(*args, "--config", str(config), env=env)


def test_invite_and_verify_audit_from_the_command_line(tmp_path: Path) -> None:
    key = MasterKey.generate()
    config = write_config(tmp_path, "http://127.0.0.1:9/bot")
    invite = _cli("invite", "--role", "lead", config=config, key=key)
    assert invite.returncode == 0, invite.stderr
    assert invite.stdout.startswith("/enroll ") and len(invite.stdout.split()[1]) >= 20
    second = _cli("invite", config=config, key=key)
    assert second.stdout != invite.stdout
    ok = _cli("verify-audit", config=config, key=key)
    assert ok.returncode == 0 and "intact: 2 entries" in ok.stdout

    # Someone with the file edits an entry behind the triggers' back.
    with sqlite3.connect(tmp_path / "bot.sqlite3") as conn:
        conn.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger'"
        ).fetchall():
            if "audit" in name:
                conn.execute(f"DROP TRIGGER {name}")
        conn.execute("UPDATE audit_log SET actor = 'system' WHERE seq = 1")
    broken = _cli("verify-audit", config=config, key=key)
    assert broken.returncode == 1 and "BROKEN" in broken.stderr and "1" in broken.stderr

    revoke = _cli("revoke", "C-NOPE", config=config, key=key)
    assert revoke.returncode == 1 and "no active coordinator" in revoke.stderr


async def test_a_first_passphrase_nobody_typed_again_leaves_memory_with_its_prompt(
    tmp_path: Path,
) -> None:
    from bot.services.coordination import PENDING_SECONDS, CoordIncoming

    key, clock = MasterKey.generate(), Clock()
    environ = {"BOT_TOKEN": "1:" + "A" * 35, "BOT_MASTER_KEY": key.to_text()}
    config = load_config(write_config(tmp_path, "http://127.0.0.1:9/bot"), environ)
    user = 777_002
    async with open_services(config, clock=clock) as services:
        coordination = services.coordination
        invite = await coordination.create_invite("coordinator")

        def message(n: int, text: str, command: str | None = None) -> CoordIncoming:
            arg = invite if command else ""
            return CoordIncoming(user, user, True, n, text, command=command, arg=arg)

        assert await coordination.handle(message(1, f"/enroll {invite}", "enroll")) is not None
        answer = await coordination.handle(message(2, "river lantern copper seven"))
        assert answer is not None and answer.delete == (2,)
        assert coordination.expects_secret(user)  # the same again is awaited
        held = [p for p in coordination._pending.values() if p.first]
        assert held and "river" not in repr(held)  # kept, but never shown in a repr
        clock.now += PENDING_SECONDS - 1

        async def delete(chat_id: int, message_id: int) -> None:
            pass

        await coordination.run_due_deletions(delete)
        assert coordination.expects_secret(user)
        clock.now += 2
        await coordination.run_due_deletions(delete)
        assert not coordination.expects_secret(user) and not coordination._pending
