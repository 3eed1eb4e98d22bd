"""A database an earlier release wrote, brought up to this release's rules at every start.

Migrations change the schema; they cannot open a key. What an upgrade must also do needs the
master key and the recovery key's public half, so it runs here, after the migrations, each time
the bot starts (every step finds nothing to do on a database already upgraded):

- a submitted case whose key is still under the master key (sent before anyone enrolled, under a
  release that kept it there) moves to a fresh key, sealed to its team and to the recovery key,
  and the master-key copy is destroyed;
- sealed copies the rules forbid (a revoked coordinator's, one outside the case's team) go;
- times stored beside cases, coordinators, relays and messages move to the grids this release
  writes (``bot.store.times``), so no old second can be matched against another row.

A case whose key the server cannot open (only coordinators' sealed copies exist) was sent under a
release that kept its key under the master key while the form was filled in, so backups of those
days open it. When one of its holders next unlocks (``CoordinationService``), it moves to a fresh
key sealed to its holders and to the recovery key; until then a log line at start and
``python -m bot health`` say how many are waiting.

Audit entries keep the times they were written with. Each entry's hash is a keyed MAC over its
time, and the posted heads vouch for those hashes: rounding an old entry's time would break the
chain at that entry and every head posted before the upgrade, and re-chaining would make those
heads vouch for nothing. Rounding would not hide the seconds either: with the master key, which
the seizer of the threat model holds, an entry's hash tells its second by trying the 86,400 of
its day. So old entries stay as written and verify as before; entries written from this release
on are kept to the day.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import aiosqlite

from bot.crypto import Vault
from bot.logs import get_logger
from bot.services import audit
from bot.services.sealing import holders_by_team, renew_key
from bot.store import Database
from bot.store import cases as case_store
from bot.store import coordination as store
from bot.store import upgrade as upgrade_store

log = get_logger(__name__)

WAITING_HINT = "each gets its recovery copy when a coordinator holding it next unlocks"


@dataclass(frozen=True)
class UpgradeReport:
    sealed: int  # cases taken from under the master key
    removed: int  # sealed copies the rules forbid
    moved: int  # times moved onto their grid
    waiting: int  # cases still without a copy for the recovery key


async def seal_master_wrapped(
    conn: aiosqlite.Connection, vault: Vault, recovery_public_key: bytes, *, now: int
) -> int:
    """Cases left under the master key leave it: moved to a fresh key (the master key held the
    old one, and so does every backup), sealed to their team's active coordinators (if any) and
    to the recovery key, and the master-key copy destroyed. A coordinator enrolled later gets
    such a case by ``/grant`` or the offline ``recover grant``."""
    waiting = await store.unsealed_case_ids(conn)
    holders_of = await holders_by_team(conn)  # read once, for every waiting case
    for case_id in waiting:
        case = await case_store.get_case(conn, case_id)
        if case is None or case.wrapped_key is None:
            continue
        key = vault.unwrap_case_key(case.wrapped_key, case_id=case_id)
        holders = holders_of(await store.case_team(conn, case_id))
        await renew_key(
            conn, case_id, key, holders, recovery_public_key=recovery_public_key, now=now
        )
        await store.drop_wrapped_key(conn, case_id)
        key.destroy()
        await audit.record(
            conn, vault, at=now, actor="system", action="sealed", case_code=case.code
        )
    return len(waiting)


async def upgrade(
    db: Database,
    vault: Vault,
    *,
    recovery_public_key: bytes,
    clock: Callable[[], float] = time.time,
) -> UpgradeReport:
    """Everything an earlier release left that this one forbids, in one transaction; the WAL
    is checkpointed after, so the old rows do not linger beside the new ones."""
    async with db.transaction() as conn:
        sealed = await seal_master_wrapped(conn, vault, recovery_public_key, now=int(clock()))
        removed = await upgrade_store.remove_forbidden_copies(conn)
        moved = await upgrade_store.regrid_times(conn)
        waiting = await upgrade_store.without_recovery_copy(conn)
    report = UpgradeReport(sealed, removed, moved, waiting)
    if sealed or removed or moved:
        await db.checkpoint()
        log.info("database_upgraded", cases=sealed, count=removed, moved=moved)
    if waiting:
        log.warning("recovery_copies_waiting", count=waiting, hint=WAITING_HINT)
    return report
