"""Rows the journey after the handoff touches: the receipt a new account is given, the relays
an old account must no longer answer, the outbox rows for it, a check-in's buttons.

Nothing here names an account: a check-in's schedule is a case field sealed under the case
key, the chat it goes to lives in memory (and, sealed, in the case), and a check-in's buttons
are kept as keyed digests of tokens only the applicant's chat holds.
"""

from __future__ import annotations

import aiosqlite

from bot.store.query import every, one
from bot.store.times import to_day


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


async def add_checkin_tokens(
    conn: aiosqlite.Connection, case_id: str, token_hashes: list[str]
) -> None:
    """The buttons of the case's check-in just sent; the previous one's answer nothing now."""
    await drop_checkin_tokens(conn, case_id)
    await conn.executemany(
        "INSERT INTO checkin_tokens (token_hash, case_id) VALUES (?, ?)",
        [(token_hash, case_id) for token_hash in token_hashes],
    )


async def checkin_token(conn: aiosqlite.Connection, token_hash: str) -> tuple[str, bool] | None:
    """``(case id, missed already)`` of the check-in a button's digest belongs to."""
    row = await one(
        conn, "SELECT case_id, missed FROM checkin_tokens WHERE token_hash = ?", (token_hash,)
    )
    return (str(row[0]), bool(row[1])) if row else None


async def mark_checkin_missed(conn: aiosqlite.Connection, case_id: str) -> bool:
    """The case's check-in on the phone is missed: ``False`` if it was answered meanwhile
    (its rows are gone) or already marked."""
    cur = await conn.execute(
        "UPDATE checkin_tokens SET missed = 1 WHERE case_id = ? AND missed = 0", (case_id,)
    )
    return cur.rowcount > 0


async def drop_checkin_tokens(conn: aiosqlite.Connection, case_id: str) -> None:
    await conn.execute("DELETE FROM checkin_tokens WHERE case_id = ?", (case_id,))


async def receipt_hash(conn: aiosqlite.Connection, case_id: str) -> str | None:
    row = await one(conn, "SELECT receipt_hash FROM cases WHERE id = ?", (case_id,))
    return str(row[0]) if row and row[0] is not None else None


async def cases_with_field(conn: aiosqlite.Connection, name: str) -> list[str]:
    """The cases holding a field of this name (names are visible; values are sealed)."""
    rows = await every(conn, "SELECT case_id FROM case_fields WHERE name = ?", (name,))
    return [str(row[0]) for row in rows]
