"""Opening the database: pragmas that keep deleted ciphertext from lingering, and migrations."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import aiosqlite

from bot.logs import get_logger
from bot.store.query import one
from bot.store.writes import Write, apply_groups, on_thread

log = get_logger(__name__)

CHECKPOINT_RETRY_SECONDS = 1.0
CHECKPOINT_RETRIES = 3600  # an hour of a reader holding it up: then the retention round's turn

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

    A single connection serialises writes, which SQLite does anyway. Writers queue for it, and
    those that queued while one was writing share its commit (group commit): the SQLite
    transaction is committed once for them all, so a surge of answers costs one disk flush per
    group rather than per answer. Each still gets all or nothing, and ``transaction`` returns
    only once its writes are on disk. A read on the connection outside ``transaction`` can see
    a group's writes before their commit, as it could always see a writer's between statements;
    ``settled`` is for reads that must not.
    """

    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path
        # Updates are handled concurrently on one connection: one writer at a time.
        self._writing = asyncio.Lock()
        self._queued = 0  # writers waiting for the lock
        self._batch: asyncio.Future[None] | None = None  # the open transaction's commit
        self._committer: asyncio.Task[None] | None = None
        self._pending: list[tuple[tuple[Write, ...], asyncio.Future[None]]] = []
        self._holder: asyncio.Task[object] | None = None  # inside ``transaction()``
        self._retrying: asyncio.Task[None] | None = None  # a checkpoint a reader held up

    async def write(self, *writes: Write) -> None:
        """All of ``writes`` or none, durable on return: ``transaction`` for writes known in
        advance, at the cost of one hand-off shared with every writer waiting at the time.

        The applicant's hot path (an answer, the chat trace) writes this way. The writes are
        queued, and the next queued commit takes them all to the database thread in one
        hand-off: each writer's part in a savepoint, one commit for all (``apply_groups``).
        A cancelled caller's writes may still be committed, as with a commit in flight.
        """
        if self._holder is not None and self._holder is asyncio.current_task():
            # It would wait for the connection its own caller holds, forever.
            raise RuntimeError("write() inside transaction(): use the transaction's connection")
        done = asyncio.get_running_loop().create_future()
        self._pending.append((writes, done))
        self._commit_later()
        await asyncio.shield(done)

    async def _apply_pending(
        self,
        pending: list[tuple[tuple[Write, ...], asyncio.Future[None]]],
        batch: asyncio.Future[None] | None,
    ) -> None:
        writers = [done for _, done in pending] + ([batch] if batch is not None else [])
        try:
            outcomes = await on_thread(self.conn, apply_groups, [w for w, _ in pending])
        except Exception as exc:  # noqa: BLE001 - every writer in the group is told
            for done in writers:
                if not done.done():
                    done.set_exception(exc)
            return
        for (_, done), error in zip(pending, outcomes, strict=True):
            if done.done():
                continue
            if error is None:
                done.set_result(None)
            else:
                done.set_exception(error)
        if batch is not None and not batch.done():
            batch.set_result(None)

    def transaction(self) -> contextlib.AbstractAsyncContextManager[aiosqlite.Connection]:
        """All of the block's writes, or none; durable when the block is left without an error.

        The first writer of a group opens the SQLite transaction (BEGIN IMMEDIATE, so a
        read-then-write never fails half-way); each later one works inside a savepoint, so its
        failure undoes only its own writes. Whoever finds nobody queued behind it commits.
        """
        return self._writer()

    @asynccontextmanager
    async def _writer(self) -> AsyncIterator[aiosqlite.Connection]:
        """One writer's turn on the connection, in the group's transaction.

        A statement handed to the database thread runs even if the task that sent it is
        cancelled meanwhile (at shutdown, say), and the thread runs statements in the order
        sent; so after a cancellation the matching undo is sent at once, and the connection is
        never left inside a transaction nobody will end.
        """
        self._queued += 1
        try:
            await self._writing.acquire()
        finally:
            self._queued -= 1
        self._holder = asyncio.current_task()
        try:
            joined = self._batch is not None  # then in a savepoint, to be undone alone
            try:
                await self.conn.execute("SAVEPOINT writer" if joined else "BEGIN IMMEDIATE")
            except asyncio.CancelledError:
                await self._undo(joined)  # it was sent: it ran, or will
                raise
            if self._batch is None:
                self._batch = asyncio.get_running_loop().create_future()
                # Read the outcome even if every writer in it was cancelled meanwhile.
                self._batch.add_done_callback(lambda f: f.cancelled() or f.exception())
            batch = self._batch
            try:
                yield self.conn
            except BaseException:
                await self._undo(joined)
                raise
            if joined:
                try:
                    await self.conn.execute("RELEASE writer")
                except BaseException:
                    self._commit_later()  # its writes are in the transaction now, or undone
                    raise
            if self._queued:
                self._commit_later()
            else:
                await self._commit()
        finally:
            self._holder = None
            self._writing.release()
        await asyncio.shield(batch)

    async def _undo(self, joined: bool) -> None:
        """Undo this writer's part; the rest of the group commits as planned."""
        if not joined:
            await self._abandon()
            return
        try:
            await self.conn.execute("ROLLBACK TO writer")
            await self.conn.execute("RELEASE writer")
        except BaseException:
            await self._abandon()
            raise
        finally:
            self._commit_later()

    async def _abandon(self) -> None:
        """Roll the whole transaction back: nobody in it gets their writes."""
        batch, self._batch = self._batch, None
        try:
            await self.conn.rollback()  # a no-op if no transaction is open
        finally:
            if batch is not None and not batch.done():
                batch.set_exception(RuntimeError("the transaction was rolled back"))

    async def _commit(self) -> None:
        """Commit the open transaction, the lock held. The commit and the news of its outcome
        to every writer in it go on even if this task is cancelled."""
        batch, self._batch = self._batch, None
        if batch is not None:
            await asyncio.shield(self._settle(batch))

    async def _settle(self, batch: asyncio.Future[None]) -> None:
        try:
            await self.conn.commit()
        except BaseException as exc:
            try:
                await self.conn.rollback()
            finally:
                if not batch.done():
                    batch.set_exception(exc)
            raise
        if not batch.done():
            batch.set_result(None)

    def _commit_later(self) -> None:
        """Queue a commit of what waits (queued writes, the open transaction) behind the writers
        already waiting: they join it first."""
        if (self._batch is not None or self._pending) and (
            self._committer is None or self._committer.done()
        ):
            self._committer = asyncio.get_running_loop().create_task(self._commit_queued())

    async def _commit_queued(self) -> None:
        self._queued += 1  # a writer finishing meanwhile leaves its transaction for this commit
        try:
            await self._writing.acquire()
        finally:
            self._queued -= 1
        try:
            # What is queued from here on gets a commit of its own, behind those waiting.
            self._committer = None
            with contextlib.suppress(Exception):  # the writers in it are told by their futures
                await self._commit_all()
        finally:
            self._writing.release()

    async def flush(self) -> None:
        """Commit whatever is waiting for a group commit, before anything that needs no open
        transaction on the connection (closing)."""
        async with self.settled():
            pass

    async def _commit_all(self) -> None:
        """The lock held: queued writes and the open transaction, committed."""
        pending, self._pending = self._pending, []
        if pending:
            batch, self._batch = self._batch, None
            await asyncio.shield(self._apply_pending(pending, batch))
        await self._commit()

    @asynccontextmanager
    async def settled(self) -> AsyncIterator[aiosqlite.Connection]:
        """The connection with nothing uncommitted on it, for reads that must see only what is
        on disk (what goes out to Telegram cannot be taken back if its transaction fails).
        Writers wait meanwhile: read, then leave."""
        async with self._writing:
            await self._commit_all()
            yield self.conn

    async def schema_version(self) -> int:
        row = await one(self.conn, "PRAGMA user_version")
        return int(row[0]) if row else 0

    async def checkpoint(self) -> bool:
        """Fold the WAL into the main file and truncate it, so removed pages are overwritten.

        False if a reader (a backup, say) kept it from completing."""
        async with self.settled() as conn:
            row = await one(conn, "PRAGMA wal_checkpoint(TRUNCATE)")
        return row is not None and int(row[0]) == 0

    async def checkpoint_or_retry(self) -> bool:
        """Checkpoint now; if a reader (a long backup) stops it, keep trying every second in
        the background until it completes.

        Between checkpoints the WAL keeps every commit in order, the rows since deleted
        included: a draft beside the case it became, a notice beside a chat trace. Left to the
        next retention round, that history would lie on disk for minutes.
        """
        if await self.checkpoint():
            return True
        if self._retrying is None or self._retrying.done():
            self._retrying = asyncio.create_task(self._retry_checkpoint())
        return False

    async def _retry_checkpoint(self) -> None:
        for _ in range(CHECKPOINT_RETRIES):
            await asyncio.sleep(CHECKPOINT_RETRY_SECONDS)
            with contextlib.suppress(Exception):  # a failed try is tried again
                if await self.checkpoint():
                    return
        log.warning("checkpoint_given_up")

    async def close(self) -> None:
        if self._retrying is not None:
            self._retrying.cancel()
            with contextlib.suppress(BaseException):
                await self._retrying
        with contextlib.suppress(Exception):
            await self.flush()
        await self.conn.close()


async def open_database(path: Path, *, migrate: bool = True) -> Database:
    path.parent.mkdir(parents=True, exist_ok=True)
    _owner_only(path)
    conn = await aiosqlite.connect(path, isolation_level=None)
    try:
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
            await apply_migrations(db)
    except BaseException:
        # An open connection's thread would keep the process alive, and one left to the
        # garbage collector reports "Event loop is closed" over the one line that matters.
        await conn.close()
        raise
    return db


def _owner_only(path: Path) -> None:
    """The database file readable and writable by its owner alone (0600), made so before SQLite
    first opens it; SQLite gives its WAL and shared-memory files the database file's mode. An
    older file with a wider mode is narrowed."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        for file in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            with contextlib.suppress(OSError):  # gone, or not ours to change: SQLite will say
                if file.is_file() and file.stat().st_mode & 0o077:
                    file.chmod(0o600)
    except OSError:
        return  # SQLite names the trouble when it opens the file


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
