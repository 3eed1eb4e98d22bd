"""Backups: a consistent copy of the database, taken while the bot runs, and its way back.

A backup holds what the database holds: ciphertext, opaque ids, codes and times. Submitted cases
open only with a coordinator's key or the recovery key, and applicants' chats (forms under way)
only with keys that live in those chats; the master key opens what the server reads alone (the
outbox, triage), so a backup must be kept away from the master key like the live file. A
shredded case stays unreadable in any older copy because its key copies were never in a form a
backup could open without those keys.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from bot.logs import get_logger
from bot.store import Database
from bot.store.db import packaged_migrations

log = get_logger(__name__)


class RestoreRefused(Exception):
    """The file is not a sound backup of this program's database, or the target is taken."""


@dataclass(frozen=True)
class BackupReport:
    path: Path
    size_bytes: int
    cases: int
    chats: int  # applicants' chats: forms under way, and messages still to erase
    schema_version: int
    seconds: float


async def backup_database(db: Database, target: Path) -> BackupReport:
    """Copy the live database to ``target`` (which must not exist) with SQLite's online backup.

    The copy is read on a connection of its own inside one read transaction, so in WAL mode the
    bot keeps writing meanwhile and the copy is the database as it stood at one instant. It is
    written under a temporary name beside ``target`` and only linked into place once complete,
    so a crash never leaves a half-written file under the real name.
    """
    return await asyncio.to_thread(_backup, db.path, target)


def restore_database(backup: Path, target: Path, *, force: bool = False) -> None:
    """Put ``backup`` in place as the database at ``target``; the bot must be stopped.

    Refuses (``RestoreRefused``) a file that fails SQLite's integrity check, is not this
    program's database, or comes from a newer version of the program; refuses to replace an
    existing ``target`` unless ``force`` is given, and always refuses one that is in use.
    """
    _check_backup(backup)
    leftovers = [Path(f"{target}{suffix}") for suffix in ("-wal", "-shm", "-journal")]
    if target.exists() or any(p.exists() for p in leftovers):
        if not force:
            raise RestoreRefused(f"{target} exists; pass force to replace it")
        if target.exists() and _in_use(target):
            raise RestoreRefused(f"{target} is in use; stop the bot first")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = _partial_name(target)
    try:
        _copy_database(backup, partial)
        # A WAL left from the old file would be replayed into the restored one: remove it first.
        for leftover in leftovers:
            leftover.unlink(missing_ok=True)
        partial.replace(target)
        _fsync_dir(target.parent)
    finally:
        partial.unlink(missing_ok=True)
    log.info("database_restored")


def check_backup(backup: Path) -> int:
    """The backup's schema version, after the checks ``restore_database`` makes."""
    return _check_backup(backup)


# --- work done in a thread ----------------------------------------------------------------------


def _backup(source: Path, target: Path) -> BackupReport:
    started = time.perf_counter()
    if target.exists():
        raise FileExistsError(f"{target} already exists")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = _partial_name(target)
    # Created empty and private first: SQLite then writes into a file only the owner can read.
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        src = sqlite3.connect(f"{source.as_uri()}?mode=ro", uri=True)
        try:
            dst = sqlite3.connect(partial)
            try:
                src.backup(dst)  # every page in one step: one read snapshot, no restarts
                # One self-contained file: a backup must not depend on a -wal beside it.
                dst.execute("PRAGMA journal_mode = DELETE")
                cases, chats, version = _summary(dst)
            finally:
                dst.close()
        finally:
            src.close()
        _fsync(partial)
        _link_into_place(partial, target)
        _fsync_dir(target.parent)
    finally:
        partial.unlink(missing_ok=True)
    report = BackupReport(
        path=target,
        size_bytes=target.stat().st_size,
        cases=cases,
        chats=chats,
        schema_version=version,
        seconds=time.perf_counter() - started,
    )
    log.info(
        "database_backed_up",
        size_bytes=report.size_bytes,
        cases=cases,
        chats=chats,
        seconds=round(report.seconds, 3),
    )
    return report


def _summary(conn: sqlite3.Connection) -> tuple[int, int, int]:
    row = conn.execute(
        "SELECT (SELECT count(*) FROM cases WHERE status <> 'draft'),"
        " (SELECT count(*) FROM chat_states)"
    ).fetchone()
    version = conn.execute("PRAGMA user_version").fetchone()
    return int(row[0]), int(row[1]), int(version[0])


def _check_backup(backup: Path) -> int:
    if not backup.is_file():
        raise RestoreRefused(f"{backup} is not a file")
    latest = packaged_migrations()[-1].version
    try:
        # Read-only and immutable: checking a backup must never change it or create files.
        conn = sqlite3.connect(f"{backup.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
        try:
            results = [str(r[0]) for r in conn.execute("PRAGMA integrity_check").fetchall()]
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            has_cases = conn.execute(
                "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'cases'"
            ).fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise RestoreRefused(f"{backup} is not a readable database ({type(exc).__name__})") from exc
    if results != ["ok"]:
        raise RestoreRefused(f"{backup} fails the integrity check")
    if version > latest:
        raise RestoreRefused(
            f"{backup} is at schema version {version}, newer than this program ({latest})"
        )
    if has_cases is None or version < 1:
        raise RestoreRefused(f"{backup} is not this bot's database")
    return version


def _in_use(target: Path) -> bool:
    """Whether another connection holds the database: an exclusive lock is refused then."""
    try:
        conn = sqlite3.connect(target, timeout=0)
    except sqlite3.DatabaseError:
        return False
    try:
        conn.execute("PRAGMA locking_mode = EXCLUSIVE")
        conn.execute("BEGIN EXCLUSIVE")
        conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()
        conn.execute("ROLLBACK")
    except sqlite3.OperationalError:
        return True
    except sqlite3.DatabaseError:
        return False  # not a database at all: nobody can be using it as one
    finally:
        conn.close()
    return False


def _copy_database(backup: Path, partial: Path) -> None:
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    src = sqlite3.connect(f"{backup.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
    try:
        dst = sqlite3.connect(partial)
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode = DELETE")
        finally:
            dst.close()
    finally:
        src.close()
    _fsync(partial)


def _partial_name(target: Path) -> Path:
    return target.with_name(f".{target.name}.{secrets.token_hex(4)}.partial")


def _link_into_place(partial: Path, target: Path) -> None:
    """Never replace a file that appeared at ``target`` meanwhile."""
    try:
        os.link(partial, target)
    except FileExistsError:
        raise
    except OSError:  # a file system without hard links
        if target.exists():
            raise FileExistsError(f"{target} already exists") from None
        partial.replace(target)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform lets a folder be opened
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
