"""The key check value's one row, read and written as opaque bytes (see ``bot.ops.keycheck``)."""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite

from bot.store.operations import SEALED_COLUMNS
from bot.store.query import one


@dataclass(frozen=True)
class KeyCheckRow:
    key_id: str
    value: bytes


async def has_table(conn: aiosqlite.Connection, name: str) -> bool:
    """Whether a table exists: a read-only check may face a file older than this program's
    schema, where reading a missing table would be an error rather than an answer."""
    row = await one(conn, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,))
    return row is not None


async def read_key_check(conn: aiosqlite.Connection) -> KeyCheckRow | None:
    """The stored row; None if there is none yet, or the schema predates it."""
    if not await has_table(conn, "key_check"):
        return None
    row = await one(conn, "SELECT key_id, value FROM key_check WHERE id = 1")
    return KeyCheckRow(str(row[0]), bytes(row[1])) if row else None


async def write_key_check(conn: aiosqlite.Connection, *, key_id: str, value: bytes) -> None:
    await conn.execute(
        "INSERT INTO key_check (id, key_id, value) VALUES (1, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET key_id = excluded.key_id, value = excluded.value",
        (key_id, value),
    )


# Every column holding a blob made under the master key: the sealed columns a rotation moves,
# and chat traces (which a rotation drops instead).
MASTER_KEY_COLUMNS: tuple[tuple[str, str], ...] = (
    *((table, column) for table, _, column in SEALED_COLUMNS),
    ("chat_traces", "body"),
)


async def blob_heads(conn: aiosqlite.Connection, length: int) -> set[bytes]:
    """The distinct first ``length`` bytes of every master-key blob stored, in one query per
    column: what a database without a key check value can say about the key that made it."""
    heads: set[bytes] = set()
    for table, column in MASTER_KEY_COLUMNS:
        if not await has_table(conn, table):
            continue
        query = (
            f"SELECT DISTINCT substr({column}, 1, ?) FROM {table}"  # noqa: S608 - fixed names
            f" WHERE {column} IS NOT NULL"
        )
        heads.update(bytes(row[0]) for row in await conn.execute_fetchall(query, (length,)))
    return heads
