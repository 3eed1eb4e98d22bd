"""The rows an earlier release left that this one's rules no longer allow, and its old times.

Every statement here is idempotent and cheap on a database already upgraded (each finds no row
to change), so they run at every start: no bookkeeping of which release wrote a database, and a
start that crashed half-way simply finishes the next time.
"""

from __future__ import annotations

import aiosqlite

from bot.store.query import every, one
from bot.store.times import DAY, HOUR

# (table, column, grid, condition): each time stored beside a case, an audit-free coordinator
# row or a message, on the grid ``bot.store.times`` writes today. Drafts and chat traces are
# the applicant side's, and audit entries keep theirs (see ``bot.ops.upgrade``).
_GRIDS: tuple[tuple[str, str, int, str], ...] = (
    ("cases", "created_at", DAY, "status <> 'draft'"),
    ("cases", "updated_at", DAY, "status <> 'draft'"),
    ("cases", "submitted_at", DAY, "status <> 'draft'"),
    ("cases", "expiry_warned_at", DAY, "status <> 'draft'"),
    ("case_inbox", "created_at", DAY, "1"),
    ("relays", "created_at", DAY, "1"),
    ("relays", "answered_at", DAY, "1"),
    ("coordinators", "created_at", DAY, "1"),
    ("coordinators", "revoked_at", DAY, "1"),
    ("outbox", "created_at", HOUR, "1"),
    ("outbox", "next_attempt_at", HOUR, "1"),
)


async def regrid_times(conn: aiosqlite.Connection) -> int:
    """Move every time off its grid back to the start of its day or hour; how many moved."""
    moved = 0
    for table, column, grid, where in _GRIDS:
        cur = await conn.execute(
            f"UPDATE {table} SET {column} = {column} - {column} % {grid}"  # noqa: S608 (constants)
            f" WHERE {column} % {grid} <> 0 AND ({where})"
        )
        moved += max(cur.rowcount, 0)
        await cur.close()
    return moved


async def off_grid_times(conn: aiosqlite.Connection) -> int:
    """How many stored times are finer than their grid (none, once upgraded)."""
    total = 0
    for table, column, grid, where in _GRIDS:
        row = await one(
            conn,
            f"SELECT count(*) FROM {table}"  # noqa: S608 (constants)
            f" WHERE {column} % {grid} <> 0 AND ({where})",
        )
        total += int(row[0]) if row else 0
    return total


async def remove_forbidden_copies(conn: aiosqlite.Connection) -> int:
    """Sealed copies the rules no longer allow: a revoked coordinator's (revoking removes them
    today), and a copy to someone outside the case's team (the schema refuses new ones)."""
    removed = 0
    for sql in (
        "DELETE FROM case_keys WHERE coordinator_id NOT IN"
        " (SELECT id FROM coordinators WHERE status = 'active')",
        "DELETE FROM case_keys WHERE"
        " (SELECT team FROM cases WHERE id = case_keys.case_id) IS NOT NULL"
        " AND EXISTS (SELECT 1 FROM coordinator_teams t"
        "   WHERE t.coordinator_id = case_keys.coordinator_id)"
        " AND NOT EXISTS (SELECT 1 FROM coordinator_teams t"
        "   WHERE t.coordinator_id = case_keys.coordinator_id"
        "   AND t.team IN ('*', (SELECT team FROM cases WHERE id = case_keys.case_id)))",
    ):
        cur = await conn.execute(sql)
        removed += max(cur.rowcount, 0)
        await cur.close()
    return removed


async def without_recovery_copy(conn: aiosqlite.Connection) -> int:
    """Submitted cases the offline recovery key cannot open yet."""
    row = await one(
        conn, "SELECT count(*) FROM cases WHERE status <> 'draft' AND recovery_key IS NULL"
    )
    return int(row[0]) if row else 0


async def without_recovery_sealed_to(
    conn: aiosqlite.Connection, coordinator_id: str
) -> list[tuple[str, bytes]]:
    """``(case id, this coordinator's sealed copy)`` of each case with no recovery copy yet."""
    rows = await every(
        conn,
        "SELECT k.case_id, k.sealed_key FROM case_keys k JOIN cases c ON c.id = k.case_id"
        " WHERE k.coordinator_id = ? AND c.recovery_key IS NULL AND c.status <> 'draft'"
        " ORDER BY k.case_id",
        (coordinator_id,),
    )
    return [(str(r[0]), bytes(r[1])) for r in rows]
