"""Rows the operator's tasks read and write: the heartbeat, audit anchors, and the sealed
columns a master-key rotation moves one row at a time."""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite

from bot.store.query import one

# --- heartbeat ---------------------------------------------------------------------------------


async def write_heartbeat(conn: aiosqlite.Connection, *, at: int) -> None:
    await conn.execute(
        "INSERT INTO heartbeat (id, at) VALUES (1, ?)"
        " ON CONFLICT (id) DO UPDATE SET at = max(at, excluded.at)",
        (at,),
    )


async def read_heartbeat(conn: aiosqlite.Connection) -> int | None:
    row = await one(conn, "SELECT at FROM heartbeat WHERE id = 1")
    return int(row[0]) if row else None


# --- audit anchors -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AnchorRow:
    through_seq: int
    key_id: str
    mac: str
    at: int


async def add_anchor(
    conn: aiosqlite.Connection, *, through_seq: int, key_id: str, mac: str, at: int
) -> None:
    await conn.execute(
        "INSERT INTO audit_anchors (through_seq, key_id, mac, at) VALUES (?, ?, ?, ?)",
        (through_seq, key_id, mac, at),
    )


async def anchors(conn: aiosqlite.Connection) -> list[AnchorRow]:
    """Newest first."""
    async with conn.execute(
        "SELECT through_seq, key_id, mac, at FROM audit_anchors ORDER BY id DESC"
    ) as cur:
        return [AnchorRow(int(r[0]), str(r[1]), str(r[2]), int(r[3])) async for r in cur]


# --- sealed columns, for rotation --------------------------------------------------------------

RowId = int | str

# Each sealed column a rotation moves: (table, key column, sealed column).
SEALED_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("cases", "id", "wrapped_key"),
    ("cases", "id", "triage"),
    ("outbox", "id", "chat"),
    ("outbox", "id", "body"),
    ("coordinators", "id", "chat"),
    ("scheduled_deletions", "id", "chat"),
)


def _checked(table: str, key: str, column: str) -> None:
    if (table, key, column) not in SEALED_COLUMNS:
        raise ValueError("not a sealed column")


async def sealed_row_ids(
    conn: aiosqlite.Connection, table: str, key: str, column: str
) -> list[RowId]:
    """Ids of the rows whose column holds a blob, in a stable order."""
    _checked(table, key, column)
    query = f"SELECT {key} FROM {table} WHERE {column} IS NOT NULL ORDER BY {key}"  # noqa: S608
    async with conn.execute(query) as cur:
        return [r[0] async for r in cur]


async def read_sealed(
    conn: aiosqlite.Connection, table: str, key: str, column: str, row_id: RowId
) -> bytes | None:
    _checked(table, key, column)
    query = f"SELECT {column} FROM {table} WHERE {key} = ?"  # noqa: S608
    row = await one(conn, query, (row_id,))
    return bytes(row[0]) if row and row[0] is not None else None


async def replace_sealed(
    conn: aiosqlite.Connection,
    table: str,
    key: str,
    column: str,
    row_id: RowId,
    *,
    old: bytes,
    new: bytes,
) -> bool:
    """Swap one blob for its rewrapped twin, only if nobody changed it meanwhile."""
    _checked(table, key, column)
    query = f"UPDATE {table} SET {column} = ? WHERE {key} = ? AND {column} = ?"  # noqa: S608
    cur = await conn.execute(query, (new, row_id, old))
    return cur.rowcount == 1


async def trace_bodies(conn: aiosqlite.Connection) -> list[tuple[bytes, bytes]]:
    async with conn.execute("SELECT pseudonym, body FROM chat_traces") as cur:
        return [(bytes(r[0]), bytes(r[1])) async for r in cur]


async def move_coordinator_pseudonym(
    conn: aiosqlite.Connection, coordinator_id: str, *, old: bytes, new: bytes
) -> bool:
    cur = await conn.execute(
        "UPDATE coordinators SET pseudonym = ? WHERE id = ? AND pseudonym = ?",
        (new, coordinator_id, old),
    )
    return cur.rowcount == 1
