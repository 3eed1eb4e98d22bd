"""The database file: pragmas that matter for the threat model, and migrations."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot.store import cases, open_database
from bot.store.db import Migration, apply_migrations, packaged_migrations


async def test_pragmas_are_set(tmp_path: Path) -> None:
    db = await open_database(tmp_path / "bot.sqlite3")
    try:
        values = {}
        for pragma in ("journal_mode", "secure_delete", "foreign_keys"):
            async with db.conn.execute(f"PRAGMA {pragma}") as cur:
                row = await cur.fetchone()
                assert row is not None
                values[pragma] = row[0]
        assert values == {"journal_mode": "wal", "secure_delete": 1, "foreign_keys": 1}
    finally:
        await db.close()


async def test_migrations_apply_once_and_in_order(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    db = await open_database(path)
    latest = packaged_migrations()[-1].version
    assert await db.schema_version() == latest
    await db.close()
    # Opening again applies nothing twice (a second CREATE TABLE would fail).
    db = await open_database(path)
    assert await db.schema_version() == latest
    await db.close()


async def test_failed_migration_leaves_previous_version(tmp_path: Path) -> None:
    db = await open_database(tmp_path / "bot.sqlite3", migrate=False)
    good = Migration(1, "0001_a.sql", "CREATE TABLE a (x INTEGER);")
    bad = Migration(2, "0002_b.sql", "CREATE TABLE b (x INTEGER); INSERT INTO nowhere VALUES (1);")
    with pytest.raises(sqlite3.OperationalError):
        await apply_migrations(db, [good, bad])
    assert await db.schema_version() == 1
    async with db.conn.execute("SELECT name FROM sqlite_master WHERE name = 'b'") as cur:
        assert await cur.fetchone() is None
    await db.close()


async def test_newer_database_is_refused(tmp_path: Path) -> None:
    db = await open_database(tmp_path / "bot.sqlite3")
    await db.conn.execute("PRAGMA user_version = 999")
    with pytest.raises(RuntimeError, match="newer than this program"):
        await apply_migrations(db)
    await db.close()


async def test_deleting_a_case_removes_its_fields(tmp_path: Path) -> None:
    db = await open_database(tmp_path / "bot.sqlite3")
    async with db.transaction() as conn:
        await cases.create_draft(conn, case_id="c1", pseudonym=b"p", wrapped_key=b"k", now=1)
        await cases.write_fields(conn, "c1", {"answer:x": b"ciphertext"}, now=2)
    assert await cases.read_fields(db.conn, "c1") == {"answer:x": b"ciphertext"}
    async with db.transaction() as conn:
        await cases.delete_case(conn, "c1")
    assert await cases.read_fields(db.conn, "c1") == {}
    await db.close()


async def test_a_submitted_case_keeps_no_pseudonym(tmp_path: Path) -> None:
    db = await open_database(tmp_path / "bot.sqlite3")
    async with db.transaction() as conn:
        await cases.create_draft(conn, case_id="c1", pseudonym=b"p", wrapped_key=b"k", now=1)
        await cases.mark_submitted(
            conn, case_id="c1", code="K7QX", receipt_hash="h", triage=b"t", now=5
        )
    assert await cases.find_draft(db.conn, b"p") is None
    async with db.conn.execute("SELECT pseudonym, status FROM cases") as cur:
        assert await cur.fetchall() == [(None, "submitted")]
    # The schema itself refuses a submitted case that is still linked to an account.
    with pytest.raises(sqlite3.IntegrityError):
        await db.conn.execute("UPDATE cases SET pseudonym = x'00' WHERE id = 'c1'")
    await db.close()
