"""The outbox: what was committed is sent once, even across a crash between commit and send."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import aiosqlite
import pytest

from bot.crypto import MasterKey, Vault
from bot.intake.events import Button
from bot.services.outbox import DeliveryFailed, Outbox, OutMessage
from bot.store import Database
from bot.store import coordination as store
from tests.databases import opened


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class Recorder:
    def __init__(self, fail_with: DeliveryFailed | None = None) -> None:
        self.sent: list[tuple[int, OutMessage]] = []
        self.fail_with = fail_with

    async def __call__(self, chat_id: int, message: OutMessage) -> int:
        if self.fail_with is not None:
            raise self.fail_with
        self.sent.append((chat_id, message))
        return len(self.sent)


MESSAGE = OutMessage("You have a new message.", ((Button("Reply", "Q:abc"),),), protect=True)


async def test_a_crash_after_commit_loses_nothing_and_sends_once(tmp_path: Path) -> None:
    key, clock = MasterKey.generate(), Clock()
    path = tmp_path / "bot.sqlite3"
    async with opened(path) as db, db.transaction() as conn:
        await Outbox(db, Vault(key), clock=clock).put(conn, 4242, MESSAGE)
    # The process dies here, before any send.

    async with opened(path) as db:
        outbox = Outbox(db, Vault(key), clock=clock)
        send = Recorder()
        assert await outbox.flush(send) == 1
        assert await outbox.flush(send) == 0  # not twice
        assert send.sent == [(4242, MESSAGE)]
        assert await store.outbox_depth(db.conn) == 0


async def test_retry_after_is_respected(db: Database) -> None:
    key, clock = MasterKey.generate(), Clock()
    outbox = Outbox(db, Vault(key), clock=clock)
    async with db.transaction() as conn:
        await outbox.put(conn, -100, OutMessage("New case K7QX"))
    assert await outbox.flush(Recorder(DeliveryFailed("RetryAfter", retry_after=30))) == 0
    send = Recorder()
    clock.now += 10
    assert await outbox.flush(send) == 0  # Telegram asked for 30 seconds
    clock.now += 25
    assert await outbox.flush(send) == 1
    assert send.sent[0][1].text == "New case K7QX"


async def test_the_outbox_holds_no_chat_id_or_text_in_the_clear(
    tmp_path: Path, db: Database
) -> None:
    async with db.transaction() as conn:
        await Outbox(db, Vault(MasterKey.generate())).put(
            conn, 987_654_321, OutMessage("Canary4411")
        )
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("bot.sqlite3*"))
    assert b"Canary4411" not in raw and b"987654321" not in raw
    assert (987_654_321).to_bytes(4, "big") not in raw


class Abandoned(Exception):
    pass


class OnlyCommitted(Recorder):
    """Records a send, and whether its message was on disk, seen from another connection (a
    restarted bot), at the moment it went out."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self.uncommitted: list[str] = []

    async def __call__(self, chat_id: int, message: OutMessage) -> int:
        with sqlite3.connect(self.path) as other:
            (rows,) = other.execute("SELECT count(*) FROM outbox").fetchone()
        if rows == 0:
            self.uncommitted.append(message.text)
        return await super().__call__(chat_id, message)


async def _round_trips(conn: aiosqlite.Connection, n: int = 20) -> None:
    """Statements handed to the database thread one after another: whatever another task had
    to ask of the database meanwhile (a read, the next read) has been answered by then."""
    for _ in range(n):
        await conn.execute("SELECT 1")


async def test_a_message_is_not_sent_before_its_transaction_commits(db: Database) -> None:
    """A group notice queued by a transaction that then fails must never go out: the worker,
    woken by the queueing, reads only what is committed."""
    key, clock = MasterKey.generate(), Clock()
    outbox = Outbox(db, Vault(key), clock=clock)
    send = OnlyCommitted(db.path)
    with pytest.raises(Abandoned):
        async with db.transaction() as conn:
            await outbox.put(conn, -100, OutMessage("New case K7QX"))
            flushing = asyncio.create_task(outbox.flush(send))
            await _round_trips(conn)  # the worker, woken, gets as far as it can meanwhile
            assert send.sent == []
            raise Abandoned
    assert await flushing == 0
    assert send.sent == []

    async with db.transaction() as conn:
        await outbox.put(conn, -100, OutMessage("New case K7QX"))
        flushing = asyncio.create_task(outbox.flush(send))
        await _round_trips(conn)
        assert send.sent == []  # not before the commit
    assert await flushing == 1
    assert send.uncommitted == []  # when it went out, it was on disk


async def test_a_message_refused_for_good_leaves_no_copy_not_even_in_the_wal(
    tmp_path: Path, db: Database
) -> None:
    """The applicant blocked the bot: retrying for days would keep their chat id and the team's
    words where a seizer holding the master key reads them. The row goes at once, and the WAL
    is folded and truncated, so no frame keeps it."""
    key, clock = MasterKey.generate(), Clock()
    outbox = Outbox(db, Vault(key), clock=clock)
    async with db.transaction() as conn:
        await outbox.put(conn, 4242, MESSAGE)
    [row] = await store.due_messages(db.conn, now=int(clock.now))
    wal = tmp_path / "bot.sqlite3-wal"
    assert row.body in wal.read_bytes()

    refused = Recorder(DeliveryFailed("Forbidden", permanent=True))
    assert await outbox.flush(refused) == 0
    assert await store.outbox_depth(db.conn) == 0
    assert wal.stat().st_size == 0
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("bot.sqlite3*"))
    assert row.body not in raw and row.chat not in raw


async def test_a_message_nobody_accepted_expires(db: Database) -> None:
    key, clock = MasterKey.generate(), Clock()
    outbox = Outbox(db, Vault(key), clock=clock, expiry_seconds=24 * 3600)
    async with db.transaction() as conn:
        await outbox.put(conn, 4242, MESSAGE)
    failing = Recorder(DeliveryFailed("NetworkError"))
    assert await outbox.flush(failing) == 0
    assert await store.outbox_depth(db.conn) == 1  # a passing fault: kept, tried again
    clock.now += 25 * 3600
    send = Recorder()
    assert await outbox.flush(send) == 0
    assert send.sent == [] and await store.outbox_depth(db.conn) == 0


@pytest.mark.parametrize("column", ["chat", "body"])
async def test_blobs_swapped_between_rows_reach_nobody(db: Database, column: str) -> None:
    """Someone with write access to the file (no key) swaps two rows' chat ids, hoping to send
    one applicant's message to another chat, or two rows' bodies, hoping to send one chat the
    words meant for another: each blob is bound to its row, so neither opens."""
    key, clock = MasterKey.generate(), Clock()
    outbox = Outbox(db, Vault(key), clock=clock)
    async with db.transaction() as conn:
        await outbox.put(conn, 1111, OutMessage("for 1111: say 4821 9930"))
        await outbox.put(conn, 2222, OutMessage("for 2222"))
    first, second = await store.due_messages(db.conn, now=int(clock.now))
    swap = {
        "chat": "UPDATE outbox SET chat = ? WHERE id = ?",
        "body": "UPDATE outbox SET body = ? WHERE id = ?",
    }[column]
    async with db.transaction() as conn:
        await conn.execute(swap, (getattr(second, column), first.id))
        await conn.execute(swap, (getattr(first, column), second.id))
    send = Recorder()
    assert await outbox.flush(send) == 0
    assert send.sent == []


async def test_a_delivered_group_notice_leaves_no_copy_not_even_in_the_wal(
    tmp_path: Path, db: Database
) -> None:
    """A notice names a case; committed beside an applicant's chat trace, a copy of it left in
    a WAL frame would pair the two. Once delivered it is gone from every file."""
    key, clock = MasterKey.generate(), Clock()
    outbox = Outbox(db, Vault(key), clock=clock)
    async with db.transaction() as conn:
        await outbox.put(conn, -100, OutMessage("New case K7QX"))
    [row] = await store.due_messages(db.conn, now=int(clock.now))
    assert await outbox.flush(Recorder()) == 1
    assert (tmp_path / "bot.sqlite3-wal").stat().st_size == 0
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("bot.sqlite3*"))
    assert row.body not in raw
