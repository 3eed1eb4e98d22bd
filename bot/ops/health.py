"""Is the bot alive? The database opens, the master key is its key, its schema is current, and
Telegram answered lately.

``check_health`` only reads: it opens the database read-only and never creates or migrates it,
so a health probe cannot change what it is probing. The running bot records each successful
contact with Telegram (``beat``); polling alone says nothing while no one writes, so a periodic
``getMe`` (``heartbeat_forever``) keeps the record fresh on a quiet day too.

A master key that is not the database's is not "unhealthy" but misconfigured: ``check_health``
raises the one-line ``ConfigError`` for it (exit status 2), as every command does, rather than
a FAIL line that would send the operator after a fault in the running bot.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import aiosqlite
import telegram
from telegram.error import TelegramError

from bot.config import Config
from bot.logs import get_logger
from bot.ops.keycheck import describe, inspect_master_key, key_name, mismatch_error, vault_for
from bot.ops.upgrade import WAITING_HINT
from bot.store import Database
from bot.store import operations as ops_store
from bot.store import upgrade as upgrade_store
from bot.store.db import packaged_migrations

log = get_logger(__name__)

HEARTBEAT_SECONDS = 60.0


@dataclass
class HealthReport:
    ok: bool = True
    lines: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0 healthy, 1 not: what ``python -m bot health`` exits with."""
        return 0 if self.ok else 1

    def _good(self, line: str) -> None:
        self.lines.append(f"ok: {line}")

    def _warn(self, line: str) -> None:
        """Something an operator should know of, that the bot itself cannot fix: not a fault,
        so a container's health check does not restart the bot over it."""
        self.lines.append(f"warning: {line}")

    def _bad(self, line: str) -> None:
        self.ok = False
        self.lines.append(f"FAIL: {line}")


def stale_after(config: Config) -> int:
    """How old the last contact may be: three long polls plus a heartbeat period's slack."""
    return 3 * config.telegram.poll_timeout_seconds + int(HEARTBEAT_SECONDS)


async def check_health(config: Config, *, now: float) -> HealthReport:
    """Raises ``ConfigError`` if the configured master key is not the database's."""
    report = HealthReport()
    path = config.storage.database
    if not path.is_file():
        report._bad("the database file does not exist")
        return report
    try:
        conn = await aiosqlite.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        report._bad(f"the database does not open ({type(exc).__name__})")
        return report
    try:
        await _check_schema(conn, report)
        key = await inspect_master_key(conn, vault_for(config))
        if not key.ok:
            raise mismatch_error(key, name=key_name(config))
        report._good(describe(key))
        if report.ok:
            await _check_recovery_copies(conn, report)
            await _check_contact(conn, report, now=int(now), limit=stale_after(config))
    except sqlite3.Error as exc:
        report._bad(f"the database cannot be read ({type(exc).__name__})")
    finally:
        await conn.close()
    return report


async def _check_schema(conn: aiosqlite.Connection, report: HealthReport) -> None:
    async with conn.execute("PRAGMA user_version") as cur:
        row = await cur.fetchone()
    version = int(row[0]) if row else 0
    migrations = packaged_migrations()
    latest = migrations[-1].version if migrations else 0
    if version == latest:
        report._good(f"the database opens; schema version {version} is current")
    elif version < latest:
        report._bad(f"schema version {version} is older than this program's {latest}")
    else:
        report._bad(f"schema version {version} is newer than this program's {latest}")


async def _check_recovery_copies(conn: aiosqlite.Connection, report: HealthReport) -> None:
    """Cases an earlier release sealed only to coordinators: until one of their holders
    unlocks, losing those holders' passphrases loses the case."""
    waiting = await upgrade_store.without_recovery_copy(conn)
    if waiting:
        report._warn(f"{waiting} case(s) have no copy for the recovery key yet: {WAITING_HINT}")
    else:
        report._good("every case has a copy for the recovery key")


async def _check_contact(
    conn: aiosqlite.Connection, report: HealthReport, *, now: int, limit: int
) -> None:
    at = await ops_store.read_heartbeat(conn)
    if at is None:
        report._bad("no contact with Telegram has been recorded yet")
        return
    age = now - at
    if age > limit:
        report._bad(f"last contact with Telegram was {age} s ago (stale after {limit} s)")
    else:
        report._good(f"last contact with Telegram {max(age, 0)} s ago")


async def beat(db: Database, now: float) -> None:
    """Record a successful contact with Telegram at ``now``."""
    async with db.transaction() as conn:
        await ops_store.write_heartbeat(conn, at=int(now))


async def heartbeat_forever(
    bot: telegram.Bot,
    db: Database,
    *,
    every: float = HEARTBEAT_SECONDS,
    clock: Callable[[], float] = time.time,
) -> None:
    """Ask Telegram ``getMe`` every ``every`` seconds and beat when it answers; a failed round is
    logged (by type only) and simply leaves the last beat to age."""
    while True:
        try:
            await bot.get_me()
            await beat(db, clock())
        except (TelegramError, sqlite3.Error) as exc:
            log.warning("heartbeat_failed", error=type(exc).__name__)
        await asyncio.sleep(every)
