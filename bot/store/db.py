"""Opening the database: pragmas that keep deleted ciphertext from lingering, and migrations."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import aiosqlite

from bot.logs import get_logger

log = get_logger(__name__)

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def packaged_migrations() -> list[Migration]:
    """The numbered SQL files shipped in ``bot/store/migrations``, in order."""
    found: list[Migration] = []
    for entry in resources.files("bot.store.migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise RuntimeError(f"migration {migration.name} is out of sequence")
    return found


class Database:
    """One aiosqlite connection with the pragmas the threat model needs.

    A single connection serialises writes, which SQLite does anyway; ``transaction`` takes the
    write lock up front (BEGIN IMMEDIATE) so a read-then-write never fails half-way.
    """

    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path
        # Updates are handled concurrently on one connection: one transaction at a time.
        self._writing = asyncio.Lock()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._writing:
            await self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                await self.conn.rollback()
                raise
            else:
                await self.conn.commit()

    async def schema_version(self) -> int:
        async with self.conn.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def checkpoint(self) -> None:
        """Fold the WAL into the main file and truncate it, so removed pages are overwritten."""
        await self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    async def close(self) -> None:
        await self.conn.close()


async def open_database(path: Path, *, migrate: bool = True) -> Database:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = await aiosqlite.connect(path, isolation_level=None)
    # secure_delete zeroes freed pages, so a deleted key or answer is not left in the file.
    for pragma in (
        "PRAGMA journal_mode = WAL",
        "PRAGMA secure_delete = ON",
        "PRAGMA foreign_keys = ON",
        "PRAGMA synchronous = FULL",
        "PRAGMA busy_timeout = 5000",
    ):
        await conn.execute(pragma)
    db = Database(conn, path)
    if migrate:
        try:
            await apply_migrations(db)
        except BaseException:
            await conn.close()  # an open connection's thread would keep the process alive
            raise
    return db


async def apply_migrations(db: Database, migrations: list[Migration] | None = None) -> int:
    """Apply every migration newer than the file's ``user_version``, each in its own transaction."""
    pending = migrations if migrations is not None else packaged_migrations()
    current = await db.schema_version()
    latest = pending[-1].version if pending else 0
    if current > latest:
        raise RuntimeError(
            f"the database is at schema version {current}, newer than this program ({latest})"
        )
    for migration in pending:
        if migration.version <= current:
            continue
        # One script per migration, inside one transaction: a crash leaves the old version whole.
        script = f"BEGIN IMMEDIATE;\n{migration.sql}\nPRAGMA user_version = {migration.version};"
        try:
            await db.conn.executescript(script + "\nCOMMIT;")
        except BaseException:
            if db.conn.in_transaction:
                await db.conn.rollback()
            raise
        log.info("migration_applied", migration=migration.name, version=migration.version)
    return latest
