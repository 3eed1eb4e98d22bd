"""The database file: pragmas that matter for the threat model, and migrations."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.store import cases
from bot.store import db as db_module
from bot.store.db import Database, Migration, apply_migrations, packaged_migrations
from bot.store.writes import Write, apply
from tests.databases import opened


async def test_pragmas_are_set(tmp_path: Path) -> None:
    async with opened(tmp_path / "bot.sqlite3") as db:
        values = {}
        for pragma in ("journal_mode", "secure_delete", "foreign_keys"):
            async with db.conn.execute(f"PRAGMA {pragma}") as cur:
                row = await cur.fetchone()
                assert row is not None
                values[pragma] = row[0]
        assert values == {"journal_mode": "wal", "secure_delete": 1, "foreign_keys": 1}


async def test_migrations_apply_once_and_in_order(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    latest = packaged_migrations()[-1].version
    async with opened(path) as db:
        assert await db.schema_version() == latest
    # Opening again applies nothing twice (a second CREATE TABLE would fail).
    async with opened(path) as db:
        assert await db.schema_version() == latest


async def test_failed_migration_leaves_previous_version(tmp_path: Path) -> None:
    good = Migration(1, "0001_a.sql", "CREATE TABLE a (x INTEGER);")
    bad = Migration(2, "0002_b.sql", "CREATE TABLE b (x INTEGER); INSERT INTO nowhere VALUES (1);")
    async with opened(tmp_path / "bot.sqlite3", migrate=False) as db:
        with pytest.raises(sqlite3.OperationalError):
            await apply_migrations(db, [good, bad])
        assert await db.schema_version() == 1
        async with db.conn.execute("SELECT name FROM sqlite_master WHERE name = 'b'") as cur:
            assert await cur.fetchone() is None


async def test_newer_database_is_refused(migrated: Database) -> None:
    await migrated.conn.execute("PRAGMA user_version = 999")
    with pytest.raises(RuntimeError, match="newer than this program"):
        await apply_migrations(migrated)


async def test_deleting_a_case_removes_its_fields(migrated: Database) -> None:
    db = migrated
    async with db.transaction() as conn:
        await apply(conn, cases.new_draft(case_id="c1", pseudonym=b"p", wrapped_key=b"k", now=1))
        await cases.write_fields(conn, "c1", {"answer:x": b"ciphertext"}, now=2)
    assert await cases.read_fields(db.conn, "c1") == {"answer:x": b"ciphertext"}
    async with db.transaction() as conn:
        await cases.delete_case(conn, "c1")
    assert await cases.read_fields(db.conn, "c1") == {}


def _submission(*, draft_id: str, case_id: str, now: int) -> tuple[Write, ...]:
    """What the bot writes at submission: a case born under a new id, the draft gone."""
    return (
        cases.new_case(
            case_id=case_id,
            code="K7QX",
            receipt_hash="h",
            triage=b"t",
            recovery_key=b"r",
            now=now,
        ),
        cases.case_deletion(draft_id),
    )


async def test_a_draft_is_read_with_its_fields_in_one_go(migrated: Database) -> None:
    db = migrated
    assert await cases.draft_with_fields(db.conn, b"p") is None
    async with db.transaction() as conn:
        await apply(conn, cases.new_draft(case_id="c1", pseudonym=b"p", wrapped_key=b"k", now=1))
    found = await cases.draft_with_fields(db.conn, b"p")
    assert found is not None and found[0].case_id == "c1" and found[1] == {}
    async with db.transaction() as conn:
        await cases.write_fields(conn, "c1", {"a": b"1", "b": b"2"}, now=7203)
    found = await cases.draft_with_fields(db.conn, b"p")
    assert found is not None
    assert (found[0].wrapped_key, found[0].updated_at, found[1]) == (
        b"k",
        7200,  # kept to the hour: the row holds a pseudonym
        {"a": b"1", "b": b"2"},
    )
    async with db.transaction() as conn:
        await apply(conn, *_submission(draft_id="c1", case_id="c2", now=7205))
    assert await cases.draft_with_fields(db.conn, b"p") is None


async def test_a_submitted_case_keeps_no_pseudonym(migrated: Database) -> None:
    db = migrated
    async with db.transaction() as conn:
        await apply(conn, cases.new_draft(case_id="c1", pseudonym=b"p", wrapped_key=b"k", now=1))
        await apply(conn, *_submission(draft_id="c1", case_id="c2", now=90_061))
    assert await cases.find_draft(db.conn, b"p") is None
    async with db.conn.execute(
        "SELECT id, pseudonym, wrapped_key, status, created_at, submitted_at FROM cases"
    ) as cur:
        # A new row, with no pseudonym, no master-wrapped key, and times kept to the day.
        assert await cur.fetchall() == [("c2", None, None, "submitted", 86_400, 86_400)]
    # The schema itself refuses a submitted case that is still linked to an account.
    with pytest.raises(sqlite3.IntegrityError):
        await db.conn.execute("UPDATE cases SET pseudonym = x'00' WHERE id = 'c2'")


@pytest.fixture
async def migrated(tmp_path: Path) -> AsyncIterator[Database]:
    """A fresh database file, migrated, closed after the test."""
    async with opened(tmp_path / "bot.sqlite3") as db:
        yield db


# --- group commit ------------------------------------------------------------------------------


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    """A database with a table ``w`` of numbered rows, for the writers below."""
    async with opened(tmp_path / "bot.sqlite3") as db:
        async with db.transaction() as conn:
            await conn.execute("CREATE TABLE w (n INTEGER PRIMARY KEY, note TEXT)")
        yield db


def _committed(path: Path) -> set[int]:
    """What another connection (a restarted bot) finds on disk."""
    with sqlite3.connect(path) as other:
        return {int(n) for (n,) in other.execute("SELECT n FROM w")}


async def test_a_surge_of_writers_shares_commits_and_every_write_is_on_disk(db: Database) -> None:
    statements: list[str] = []
    await db.conn.set_trace_callback(statements.append)
    seen_on_return: dict[int, bool] = {}

    async def writer(n: int) -> None:
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO w (n) VALUES (?)", (n,))
            await conn.execute("UPDATE w SET note = 'x' WHERE n = ?", (n,))
        seen_on_return[n] = n in _committed(db.path)  # durable by the time it returns

    await asyncio.gather(*(writer(n) for n in range(60)))
    await db.conn.set_trace_callback(None)
    commits = sum(1 for s in statements if s.strip().upper() == "COMMIT")
    assert _committed(db.path) == set(range(60))
    assert all(seen_on_return.values()) and len(seen_on_return) == 60
    assert 1 <= commits < 60 / 4


async def test_a_failing_writer_loses_only_its_own_writes(db: Database) -> None:

    async def writer(n: int) -> None:
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO w (n) VALUES (?)", (n,))
            if n % 3 == 0:
                raise ValueError("changed its mind after writing")

    outcomes = await asyncio.gather(*(writer(n) for n in range(30)), return_exceptions=True)
    failed = {n for n, o in enumerate(outcomes) if isinstance(o, ValueError)}
    assert failed == {n for n in range(30) if n % 3 == 0}
    assert _committed(db.path) == {n for n in range(30) if n % 3}


@pytest.fixture
async def deferred(tmp_path: Path) -> AsyncIterator[Database]:
    """Table ``w`` whose ``parent`` is checked only at COMMIT: a write that passes its own
    statements and fails the commit, taking every writer in the group with it."""
    async with opened(tmp_path / "bot.sqlite3") as db:
        async with db.transaction() as conn:
            await conn.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
            await conn.execute(
                "CREATE TABLE w (n INTEGER PRIMARY KEY,"
                " parent INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)"
            )
        yield db


async def test_a_commit_that_fails_fails_every_writer_in_it(deferred: Database) -> None:
    """Nobody is told "saved" for writes that did not reach the disk."""
    db, path = deferred, deferred.path
    release, holding = asyncio.Event(), asyncio.Event()

    async def first() -> None:
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO w (n, parent) VALUES (1, 999)")  # fails at COMMIT
            holding.set()
            await release.wait()  # others queue meanwhile and join this transaction

    async def later(n: int) -> None:
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO w (n) VALUES (?)", (n,))

    tasks = [asyncio.create_task(first())]
    await holding.wait()
    tasks += [asyncio.create_task(later(n)) for n in (2, 3, 4)]
    await asyncio.sleep(0)  # each runs to the writers' lock and queues there
    release.set()
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(o, sqlite3.IntegrityError) for o in outcomes), outcomes
    assert _committed(path) == set()
    # The connection is usable afterwards.
    await later(5)
    assert _committed(path) == {5}


async def test_a_checkpoint_commits_what_waits_first(db: Database) -> None:
    queued = [db.write(Write.one("INSERT INTO w (n) VALUES (?)", n)) for n in range(10, 20)]
    await asyncio.gather(
        *(asyncio.create_task(_insert(db, n)) for n in range(10)), *queued, db.checkpoint()
    )
    assert _committed(db.path) == set(range(20))
    assert Path(f"{db.path}-wal").stat().st_size == 0 or await db.checkpoint()


async def _insert(db: Database, n: int) -> None:
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO w (n) VALUES (?)", (n,))


async def test_a_writer_cancelled_mid_statement_leaves_no_transaction_open(db: Database) -> None:
    """At shutdown a worker is cancelled wherever it is; the statement it sent runs anyway, and
    the writers after it must not find the connection stuck inside its transaction."""
    for pause in range(6):  # cancel after 0..5 hand-offs: at BEGIN, in the body, at the commit

        async def doomed(pause: int = pause) -> None:
            async with db.transaction() as conn:
                await conn.execute("INSERT INTO w (n) VALUES (?)", (1000 + pause,))
                await conn.execute("UPDATE w SET note = 'x' WHERE n = ?", (1000 + pause,))

        task = asyncio.create_task(doomed())
        others = [asyncio.create_task(_insert(db, pause * 10 + k)) for k in range(3)]
        for _ in range(pause):
            await asyncio.sleep(0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await asyncio.gather(*others)
        await db.flush()
        assert not db.conn.in_transaction
        assert {pause * 10 + k for k in range(3)} <= _committed(db.path)
    await _insert(db, 999)
    assert 999 in _committed(db.path)


async def test_queued_writes_share_a_commit_and_a_failing_one_costs_only_itself(
    db: Database,
) -> None:
    statements: list[str] = []
    await db.conn.set_trace_callback(statements.append)
    seen_on_return: dict[int, bool] = {}

    async def writer(n: int) -> None:
        await db.write(
            Write.one("INSERT INTO w (n) VALUES (?)", n % 20),  # 20..39 collide
            Write.one("UPDATE w SET note = 'x' WHERE n = ?", n % 20),
        )
        seen_on_return[n] = n in _committed(db.path)

    outcomes = await asyncio.gather(*(writer(n) for n in range(40)), return_exceptions=True)
    await db.conn.set_trace_callback(None)
    assert all(o is None for o in outcomes[:20])
    assert all(isinstance(o, sqlite3.IntegrityError) for o in outcomes[20:])
    assert _committed(db.path) == set(range(20))
    assert all(seen_on_return.values()) and len(seen_on_return) == 20
    assert sum(1 for s in statements if s == "COMMIT") < 5


async def test_a_write_is_all_or_nothing(db: Database) -> None:
    await db.write(Write.one("INSERT INTO w (n) VALUES (1)"))
    with pytest.raises(sqlite3.IntegrityError):
        await db.write(
            Write("INSERT INTO w (n) VALUES (?)", [(2,), (3,)]),
            Write.one("INSERT INTO w (n) VALUES (1)"),  # collides: 2 and 3 go too
        )
    assert _committed(db.path) == {1}


async def test_writes_and_transactions_mixed_all_commit_and_none_waits_forever(
    db: Database,
) -> None:
    """Queued writes and ``transaction`` writers share the connection: the queued ones commit
    an open transaction with theirs, and a transaction started meanwhile waits its turn."""

    async def queued(n: int) -> None:
        await db.write(Write.one("INSERT INTO w (n) VALUES (?)", n))
        assert n in _committed(db.path)

    async def held(n: int) -> None:
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO w (n) VALUES (?)", (n,))
            await asyncio.sleep(0)  # others arrive meanwhile
            await conn.execute("UPDATE w SET note = 'x' WHERE n = ?", (n,))
        assert n in _committed(db.path)

    writers = [queued(n) if n % 2 else held(n) for n in range(60)]
    await asyncio.wait_for(asyncio.gather(*writers), 30)
    assert _committed(db.path) == set(range(60))
    assert not db.conn.in_transaction


async def test_a_commit_that_fails_fails_every_queued_write_in_it(deferred: Database) -> None:
    db, path = deferred, deferred.path
    orphan = Write.one("INSERT INTO w (n, parent) VALUES (1, 999)")  # fails at COMMIT
    outcomes = await asyncio.gather(
        db.write(orphan),
        *(db.write(Write.one("INSERT INTO w (n) VALUES (?)", n)) for n in (2, 3, 4)),
        return_exceptions=True,
    )
    assert all(isinstance(o, sqlite3.IntegrityError) for o in outcomes), outcomes
    assert _committed(path) == set()
    await db.write(Write.one("INSERT INTO w (n) VALUES (5)"))
    assert _committed(path) == {5}


async def test_a_queued_write_inside_a_transaction_is_refused_not_left_waiting(
    db: Database,
) -> None:
    """It would wait for the connection its own caller holds."""

    async def nested() -> None:
        async with db.transaction():
            await db.write(Write.one("INSERT INTO w (n) VALUES (1)"))

    with pytest.raises(RuntimeError, match="inside transaction"):
        await asyncio.wait_for(nested(), 5)
    await db.write(Write.one("INSERT INTO w (n) VALUES (2)"))
    assert _committed(db.path) == {2}


async def test_a_cancelled_writer_leaves_the_database_usable(db: Database) -> None:
    for pause in range(4):
        task = asyncio.create_task(db.write(Write.one("INSERT INTO w (n) VALUES (?)", pause)))
        for _ in range(pause):
            await asyncio.sleep(0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await db.write(Write.one("INSERT INTO w (n) VALUES (?)", 100 + pause))
        assert 100 + pause in _committed(db.path)
        assert not db.conn.in_transaction


async def test_a_checkpoint_a_reader_holds_up_is_retried_until_done(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A long backup holds a read transaction; the submission's checkpoint cannot complete then.
    It must not wait for the next retention round: it is retried until the WAL is empty."""
    monkeypatch.setattr(db_module, "CHECKPOINT_RETRY_SECONDS", 0.01)
    outcomes: list[bool] = []
    tried = asyncio.Event()
    checkpoint = db.checkpoint

    async def counted() -> bool:
        done = await checkpoint()
        outcomes.append(done)
        tried.set()
        return done

    monkeypatch.setattr(db, "checkpoint", counted)
    # A checkpoint the reader holds up waits this long for it (the bot's own: 5 s).
    await db.conn.execute("PRAGMA busy_timeout = 50")
    wal = Path(f"{db.path}-wal")
    reader = sqlite3.connect(db.path)
    try:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM w").fetchone()
        await db.write(Write.one("INSERT INTO w (n) VALUES (1)"))
        assert not await db.checkpoint_or_retry()
        assert outcomes == [False] and wal.stat().st_size > 0
        reader.rollback()
        while not outcomes[-1]:
            tried.clear()
            await asyncio.wait_for(tried.wait(), 10)
        assert len(outcomes) >= 2  # done by a retry, not by the first try
        assert wal.stat().st_size == 0
    finally:
        reader.close()
