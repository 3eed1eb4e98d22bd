"""Rows of cases, their encrypted fields, and the chat traces used to wipe a conversation.

Every function takes an open connection so the caller decides the transaction: an answer, the
draft's progress and anything it causes are written together or not at all. The writes on an
applicant's every step are also offered as :class:`Write` values, for ``Database.write``.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import aiosqlite

from bot.store.query import every, one
from bot.store.times import hour_after, to_day, to_hour
from bot.store.writes import Write, apply


@dataclass(frozen=True)
class DraftRow:
    case_id: str
    wrapped_key: bytes
    updated_at: int


@dataclass(frozen=True)
class CaseRow:
    case_id: str
    code: str | None
    status: str
    wrapped_key: bytes | None
    receipt_hash: str | None
    triage: bytes | None
    created_at: int
    updated_at: int
    submitted_at: int | None


async def find_draft(conn: aiosqlite.Connection, pseudonym: bytes) -> DraftRow | None:
    row = await one(
        conn,
        "SELECT id, wrapped_key, updated_at FROM cases WHERE pseudonym = ? AND status = 'draft'",
        (pseudonym,),
    )
    return DraftRow(row[0], bytes(row[1]), int(row[2])) if row else None


async def draft_with_fields(
    conn: aiosqlite.Connection, pseudonym: bytes
) -> tuple[DraftRow, dict[str, bytes]] | None:
    """The applicant's draft and its encrypted fields in one read (every update needs both)."""
    rows = await every(
        conn,
        "SELECT c.id, c.wrapped_key, c.updated_at, f.name, f.value FROM cases c"
        " LEFT JOIN case_fields f ON f.case_id = c.id"
        " WHERE c.pseudonym = ? AND c.status = 'draft'",
        (pseudonym,),
    )
    if not rows:
        return None
    first = rows[0]
    draft = DraftRow(first[0], bytes(first[1]), int(first[2]))
    return draft, {str(r[3]): bytes(r[4]) for r in rows if r[3] is not None}


def new_draft(*, case_id: str, pseudonym: bytes, wrapped_key: bytes, now: int) -> Write:
    return Write.one(
        "INSERT INTO cases (rowid, id, status, pseudonym, wrapped_key, created_at, updated_at)"
        " VALUES (?, ?, 'draft', ?, ?, ?, ?)",
        _random_rowid(),
        case_id,
        pseudonym,
        wrapped_key,
        to_hour(now),
        to_hour(now),
    )


def new_case(
    *,
    case_id: str,
    code: str,
    receipt_hash: str,
    triage: bytes,
    recovery_key: bytes,
    now: int,
    team: str | None = None,
) -> Write:
    """A submitted case: a row of its own, with no pseudonym and no key the master key opens.

    It is not the draft's row updated: that row's id and wrapped key were on disk (and in any
    backup or WAL frame taken meanwhile), so the case is born again under a fresh id and key.
    """
    day = to_day(now)
    return Write.one(
        "INSERT INTO cases (rowid, id, code, status, receipt_hash, triage, recovery_key,"
        " created_at, updated_at, submitted_at, team)"
        " VALUES (?, ?, ?, 'submitted', ?, ?, ?, ?, ?, ?, ?)",
        _random_rowid(),
        case_id,
        code,
        receipt_hash,
        triage,
        recovery_key,
        day,
        day,
        day,
        team,
    )


def _random_rowid() -> int:
    """SQLite numbers rows in the order they are made; a case numbered just after a draft
    would say which draft it came from. A random number says nothing."""
    return secrets.randbelow(2**62) + 1


def case_deletion(case_id: str) -> Write:
    return Write.one("DELETE FROM cases WHERE id = ?", case_id)


_CASE_COLUMNS = (
    "SELECT id, code, status, wrapped_key, receipt_hash, triage, created_at, updated_at,"
    " submitted_at FROM cases"
)


async def get_case(conn: aiosqlite.Connection, case_id: str) -> CaseRow | None:
    return await _one_case(conn, _CASE_COLUMNS + " WHERE id = ?", case_id)


async def get_case_by_code(conn: aiosqlite.Connection, code: str) -> CaseRow | None:
    return await _one_case(conn, _CASE_COLUMNS + " WHERE code = ?", code)


async def _one_case(conn: aiosqlite.Connection, query: str, value: str) -> CaseRow | None:
    row = await one(conn, query, (value,))
    if row is None:
        return None
    return CaseRow(
        case_id=row[0],
        code=row[1],
        status=row[2],
        wrapped_key=bytes(row[3]) if row[3] is not None else None,
        receipt_hash=row[4],
        triage=bytes(row[5]) if row[5] is not None else None,
        created_at=int(row[6]),
        updated_at=int(row[7]),
        submitted_at=int(row[8]) if row[8] is not None else None,
    )


async def code_in_use(conn: aiosqlite.Connection, code: str) -> bool:
    return await one(conn, "SELECT 1 FROM cases WHERE code = ?", (code,)) is not None


async def read_fields(conn: aiosqlite.Connection, case_id: str) -> dict[str, bytes]:
    rows = await every(conn, "SELECT name, value FROM case_fields WHERE case_id = ?", (case_id,))
    return {str(name): bytes(value) for name, value in rows}


def field_writes(case_id: str, fields: Mapping[str, bytes], *, now: int) -> tuple[Write, ...]:
    """The fields, and the case marked as changed ``now``."""
    return (
        Write(
            "INSERT INTO case_fields (case_id, name, value) VALUES (?, ?, ?)"
            " ON CONFLICT (case_id, name) DO UPDATE SET value = excluded.value",
            [(case_id, name, value) for name, value in fields.items()],
        ),
        Write.one(
            "UPDATE cases SET updated_at = CASE WHEN pseudonym IS NULL THEN ? ELSE ? END"
            " WHERE id = ?",
            to_day(now),
            to_hour(now),
            case_id,
        ),
    )


async def write_fields(
    conn: aiosqlite.Connection, case_id: str, fields: Mapping[str, bytes], *, now: int
) -> None:
    await apply(conn, *field_writes(case_id, fields, now=now))


async def read_field(conn: aiosqlite.Connection, case_id: str, name: str) -> bytes | None:
    """One sealed field of a case, without reading the others."""
    row = await one(
        conn, "SELECT value FROM case_fields WHERE case_id = ? AND name = ?", (case_id, name)
    )
    return bytes(row[0]) if row else None


async def delete_fields(conn: aiosqlite.Connection, case_id: str, names: Iterable[str]) -> None:
    await apply(
        conn,
        Write(
            "DELETE FROM case_fields WHERE case_id = ? AND name = ?",
            [(case_id, name) for name in names],
        ),
    )


async def delete_case(conn: aiosqlite.Connection, case_id: str) -> None:
    """Crypto-shredding: the key copies go with the row, so any backup copy of the fields is
    ciphertext that nothing can open any more."""
    await conn.execute("DELETE FROM cases WHERE id = ?", (case_id,))


async def expired_draft_ids(conn: aiosqlite.Connection, *, idle_since: int) -> list[str]:
    async with conn.execute(
        "SELECT id FROM cases WHERE status = 'draft' AND updated_at < ?", (idle_since,)
    ) as cur:
        return [str(row[0]) async for row in cur]


async def count_by_status(conn: aiosqlite.Connection) -> dict[str, int]:
    async with conn.execute("SELECT status, count(*) FROM cases GROUP BY status") as cur:
        return {str(status): int(n) async for status, n in cur}


# --- chat traces -------------------------------------------------------------------------------


async def read_trace(conn: aiosqlite.Connection, pseudonym: bytes, *, now: int) -> bytes | None:
    row = await one(
        conn,
        "SELECT body FROM chat_traces WHERE pseudonym = ? AND expires_at > ?",
        (pseudonym, now),
    )
    return bytes(row[0]) if row else None


def trace_write(pseudonym: bytes, body: bytes, *, expires_at: int) -> Write:
    return Write.one(
        "INSERT INTO chat_traces (pseudonym, body, expires_at) VALUES (?, ?, ?)"
        " ON CONFLICT (pseudonym) DO UPDATE SET body = excluded.body,"
        " expires_at = excluded.expires_at",
        pseudonym,
        body,
        hour_after(expires_at),
    )


def trace_deletion(pseudonym: bytes) -> Write:
    return Write.one("DELETE FROM chat_traces WHERE pseudonym = ?", pseudonym)


async def delete_trace(conn: aiosqlite.Connection, pseudonym: bytes) -> None:
    await apply(conn, trace_deletion(pseudonym))


async def delete_expired_traces(conn: aiosqlite.Connection, *, now: int) -> int:
    cur = await conn.execute("DELETE FROM chat_traces WHERE expires_at <= ?", (now,))
    return cur.rowcount
