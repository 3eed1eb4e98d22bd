"""Backups taken while the bot writes, restored, and refused when they are not sound."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import stat
from pathlib import Path

import pytest

from bot.ops.backup import RestoreRefused, backup_database, check_backup, restore_database
from bot.runtime import Services
from bot.store.db import packaged_migrations
from tests.databases import opened
from tests.test_retention import Clock, Person, services_at, submit

CANARY = "Canary9b4cBACKUP"


Rows = list[tuple[object, ...]]


async def _rows(path: Path) -> tuple[Rows, Rows, Rows]:
    async with opened(path) as db:
        async with db.conn.execute("SELECT id, status, updated_at FROM cases ORDER BY id") as cur:
            cases = [tuple(r) async for r in cur]
        async with db.conn.execute("SELECT * FROM case_fields ORDER BY case_id, name") as cur:
            fields = [tuple(r) async for r in cur]
        async with db.conn.execute("SELECT * FROM chat_states ORDER BY name") as cur:
            chats = [tuple(r) async for r in cur]
        return cases, fields, chats


async def _ids(services: Services) -> set[str]:
    async with services.db.conn.execute("SELECT id FROM cases") as cur:
        return {str(r[0]) async for r in cur}


async def test_a_backup_taken_during_writes_holds_everything_committed_before_it(
    tmp_path: Path,
) -> None:
    clock = Clock()
    async with services_at(tmp_path / "live", clock) as services:
        for _ in range(3):
            await submit(services, clock)
        written = asyncio.Event()
        stop = asyncio.Event()

        async def keep_writing() -> int:
            n = 0
            while not stop.is_set():
                await Person(services, 760_000_000 + n).begin()  # a new draft each round
                n += 1
                written.set()
                await asyncio.sleep(0)
            return n

        writer = asyncio.create_task(keep_writing())
        await written.wait()
        committed = await _ids(services)
        try:
            report = await backup_database(services.db, tmp_path / "copy.sqlite3")
        finally:
            stop.set()
        drafts_written = await writer
        await submit(services, clock)  # the live database carries on after the backup

    assert drafts_written >= 1
    assert report.cases == 3 and report.chats >= 1
    assert report.size_bytes == (tmp_path / "copy.sqlite3").stat().st_size
    assert report.schema_version == packaged_migrations()[-1].version
    assert stat.S_IMODE((tmp_path / "copy.sqlite3").stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.is_file()] == ["copy.sqlite3"]
    async with opened(tmp_path / "copy.sqlite3") as copy:
        async with copy.conn.execute("PRAGMA integrity_check") as cur:
            assert [tuple(r) async for r in cur] == [("ok",)]
        async with copy.conn.execute("SELECT id FROM cases") as cur:
            in_copy = {str(r[0]) async for r in cur}
    assert committed <= in_copy
    assert len(in_copy) == report.cases


async def test_backup_never_overwrites_a_file(tmp_path: Path) -> None:
    clock = Clock()
    target = tmp_path / "copy.sqlite3"
    target.write_bytes(b"keep me")
    async with services_at(tmp_path / "live", clock) as services:
        with pytest.raises(FileExistsError):
            await backup_database(services.db, target)
    assert target.read_bytes() == b"keep me"


async def test_restore_round_trip_and_the_canary_is_not_in_the_backup(tmp_path: Path) -> None:
    clock = Clock()
    backup = tmp_path / "copy.sqlite3"
    async with services_at(tmp_path / "live", clock) as services:
        await submit(services, clock, typed=CANARY)
        drafter = Person(services, 781_234_567)
        await drafter.begin()
        await submit(services, clock)
        await backup_database(services.db, backup)
    original = await _rows(tmp_path / "live" / "bot.sqlite3")
    assert len(original[0]) == 2 and original[1] and original[2]  # two cases, the drafter's chat

    data = backup.read_bytes()
    for form in (CANARY.encode(), CANARY.encode("utf-16-le"), b"781234567"):
        assert form not in data

    restored = tmp_path / "restored" / "bot.sqlite3"
    restore_database(backup, restored)
    assert await _rows(restored) == original
    with pytest.raises(RestoreRefused, match="exists"):
        restore_database(backup, restored)
    restore_database(backup, restored, force=True)
    assert await _rows(restored) == original


async def test_restore_refuses_a_target_in_use_even_with_force(tmp_path: Path) -> None:
    clock = Clock()
    backup = tmp_path / "copy.sqlite3"
    async with services_at(tmp_path / "live", clock) as services:
        await backup_database(services.db, backup)
        with pytest.raises(RestoreRefused, match="in use"):
            restore_database(backup, tmp_path / "live" / "bot.sqlite3", force=True)


async def test_restore_refuses_corrupt_foreign_and_newer_files(tmp_path: Path) -> None:
    clock = Clock()
    backup = tmp_path / "copy.sqlite3"
    async with services_at(tmp_path / "live", clock) as services:
        await submit(services, clock)
        await backup_database(services.db, backup)
    assert check_backup(backup) == packaged_migrations()[-1].version
    target = tmp_path / "restored.sqlite3"

    corrupt = tmp_path / "corrupt.sqlite3"
    data = bytearray(backup.read_bytes())
    page = 4096
    assert len(data) > 4 * page
    data[2 * page : 4 * page] = bytes(range(256)) * (2 * page // 256)
    corrupt.write_bytes(bytes(data))

    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"not a database at all, just bytes" * 200)

    newer = tmp_path / "newer.sqlite3"
    newer.write_bytes(backup.read_bytes())
    with contextlib.closing(sqlite3.connect(newer)) as conn:
        conn.execute("PRAGMA user_version = 999")
        conn.commit()

    foreign = tmp_path / "foreign.sqlite3"
    with contextlib.closing(sqlite3.connect(foreign)) as conn:
        conn.execute("CREATE TABLE t (x)")
        conn.execute("PRAGMA user_version = 1")
        conn.commit()

    for bad, reason in (
        (corrupt, "integrity|readable"),
        (junk, "readable"),
        (newer, "newer"),
        (foreign, "not this bot"),
        (tmp_path / "missing.sqlite3", "not a file"),
    ):
        with pytest.raises(RestoreRefused, match=reason):
            restore_database(bad, target)
        assert not target.exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
