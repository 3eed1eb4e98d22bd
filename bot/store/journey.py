"""Rows the journey after the handoff touches: one sealed field of a case, the receipt a new
account is given, the relays an old account must no longer answer, the outbox rows for it.

Nothing here names an account: a check-in's schedule is a case field sealed under the case
key, and the chat it goes to lives in memory (and, sealed, in the case).
"""

from __future__ import annotations

import aiosqlite

from bot.store.query import every, one
from bot.store.times import to_day


async def read_field(conn: aiosqlite.Connection, case_id: str, name: str) -> bytes | None:
    """One sealed field of a case, without reading the others."""
    row = await one(
        conn, "SELECT value FROM case_fields WHERE case_id = ? AND name = ?", (case_id, name)
    )
    return bytes(row[0]) if row else None


async def delete_field(conn: aiosqlite.Connection, case_id: str, name: str) -> None:
    await conn.execute("DELETE FROM case_fields WHERE case_id = ? AND name = ?", (case_id, name))


async def set_receipt_hash(conn: aiosqlite.Connection, case_id: str, receipt_hash: str) -> None:
    """A new receipt replaces the old, which from now on matches nothing."""
    await conn.execute("UPDATE cases SET receipt_hash = ? WHERE id = ?", (receipt_hash, case_id))


async def close_relays(conn: aiosqlite.Connection, case_id: str, *, now: int) -> int:
    """Every question of the case still open: closed, so the old account cannot answer it."""
    cur = await conn.execute(
        "UPDATE relays SET answered_at = ? WHERE case_id = ? AND answered_at IS NULL",
        (to_day(now), case_id),
    )
    return cur.rowcount


async def remove_inbox_items(conn: aiosqlite.Connection, item_ids: list[int]) -> None:
    await conn.executemany("DELETE FROM case_inbox WHERE id = ?", [(i,) for i in item_ids])


async def outbox_rows(conn: aiosqlite.Connection) -> list[tuple[int, bytes]]:
    """``(id, sealed chat)`` of every message waiting, whenever it is due."""
    rows = await every(conn, "SELECT id, chat FROM outbox ORDER BY id", ())
    return [(int(row[0]), bytes(row[1])) for row in rows]


async def outbox_body(conn: aiosqlite.Connection, row_id: int) -> bytes | None:
    row = await one(conn, "SELECT body FROM outbox WHERE id = ?", (row_id,))
    return bytes(row[0]) if row else None
