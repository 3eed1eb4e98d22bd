"""Retention: what the bot keeps is kept only as long as the work needs it.

A case is shredded (its row goes, and with it every field, sealed key copy, dropbox, inbox item
and relay) once it has sat unchanged in its state for longer than the operator's retention for
that state. Old undeliverable outbox rows and spent invites go too, and the WAL is checkpointed
and truncated afterwards, so with ``secure_delete`` on no removed ciphertext stays in the files.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import aiosqlite

from bot.config import RetentionConfig
from bot.logs import get_logger
from bot.services import audit
from bot.services.outbox import OutMessage
from bot.store import coordination as store

if TYPE_CHECKING:  # the runtime may run these rounds itself; no import cycle at run time
    from bot.runtime import Services

log = get_logger(__name__)

DAY = 86_400
HOUR = 3_600
DEFAULT_WARN_HOURS = 48


@dataclass(frozen=True)
class PurgeReport:
    """Counts only: nothing here tells one case from another."""

    drafts: int
    cases: int
    outbox: int
    invites: int
    checkpointed: bool


@dataclass(frozen=True)
class ExpiringCase:
    code: str
    assignee_id: str
    expires_at: int


def retention_seconds(retention: RetentionConfig, status: str) -> int | None:
    """How long a case may sit unchanged in ``status``; ``None`` for drafts, which the intake
    side expires on its own idle clock."""
    days = {
        "submitted": retention.submitted_days,
        "claimed": retention.submitted_days,
        "approved": retention.handed_off_days,
        "handed_off": retention.handed_off_days,
        "rejected": retention.rejected_days,
        "closed": retention.closed_days,
    }.get(status)
    return None if days is None else days * DAY


def expires_at(retention: RetentionConfig, row: store.RetainedRow) -> int | None:
    """A case's last change is kept to the day (``bot.store.times``), so it stands for any
    moment of that day: the retention runs from the day's end, never shredding early."""
    seconds = retention_seconds(retention, row.status)
    return None if seconds is None else row.updated_at + DAY + seconds


async def purge_once(services: Services, *, now: int | None = None) -> PurgeReport:
    """One retention round; safe to run at any time and as often as wanted.

    Drafts and chat traces follow the intake service's own clock; ``now`` (default: that same
    clock) decides everything else.
    """
    drafts = await services.intake.purge_expired()
    at = int(services.intake.clock()) if now is None else now
    retention = services.config.retention
    shredded = 0
    async with services.db.transaction() as conn:
        for row in await store.retained_cases(conn):
            deadline = expires_at(retention, row)
            if deadline is None or deadline > at:
                continue
            if await store.shred_case(conn, row.case_id):
                await audit.record(
                    conn,
                    services.vault,
                    at=at,
                    actor="system",
                    action="shredded",
                    case_code=row.code,
                )
                shredded += 1
        outbox = await store.prune_outbox(conn, created_before=at - retention.outbox_hours * 3600)
        invites = await store.delete_stale_invites(conn, now=at)
    checkpointed = await services.db.checkpoint()  # False: a reader held it; next round retries
    report = PurgeReport(drafts, shredded, outbox, invites, checkpointed)
    log.info(
        "retention_purge",
        drafts=drafts,
        cases=shredded,
        outbox=outbox,
        invites=invites,
        checkpointed=checkpointed,
    )
    return report


async def expiring_soon(
    conn: aiosqlite.Connection,
    retention: RetentionConfig,
    *,
    now: int,
    warn_hours: int = DEFAULT_WARN_HOURS,
) -> list[ExpiringCase]:
    """Held cases whose shredding falls within ``warn_hours``, soonest first."""
    due = await _expiring(conn, retention, now=now, warn_hours=warn_hours)
    return [ExpiringCase(row.code, row.assignee or "", deadline) for row, deadline in due]


async def warn_expiring(
    services: Services, *, now: int | None = None, warn_hours: int = DEFAULT_WARN_HOURS
) -> int:
    """Queue one notice to the coordinators' group per held case about to be shredded, once per
    deadline: a case that moved on since its warning has a new deadline and is warned again.
    The notice names the public code and the hours left, nothing else."""
    at = int(services.intake.clock()) if now is None else now
    teams = services.coordination.teams
    warned = 0
    async with services.db.transaction() as conn:
        for row, deadline in await _expiring(
            conn, services.config.retention, now=at, warn_hours=warn_hours
        ):
            if row.expiry_warned_at is not None and row.expiry_warned_at >= row.updated_at:
                continue
            case = ExpiringCase(row.code, row.assignee or "", deadline)
            group = teams.group_of(row.team)  # the team that holds it, nobody else
            await services.outbox.put(conn, group, OutMessage(warning_text(case, now=at)))
            await store.mark_expiry_warned(conn, row.case_id, now=at)
            warned += 1
    if warned:
        log.info("retention_warned", count=warned)
    return warned


async def _expiring(
    conn: aiosqlite.Connection, retention: RetentionConfig, *, now: int, warn_hours: int
) -> list[tuple[store.RetainedRow, int]]:
    due: list[tuple[store.RetainedRow, int]] = []
    for row in await store.retained_cases(conn):
        deadline = expires_at(retention, row)
        if row.assignee is None or deadline is None:
            continue
        if now < deadline <= now + warn_hours * HOUR:
            due.append((row, deadline))
    due.sort(key=lambda item: (item[1], item[0].code))
    return due


def warning_text(case: ExpiringCase, *, now: int) -> str:
    hours = max(1, math.ceil((case.expires_at - now) / HOUR))
    return f"Case {case.code} will be shredded in {hours} h unless it moves on."
