"""Applicants' chats: one opaque row each, named and sealed by a key the store never sees.

The store hands back the bytes it was given. It cannot tell which chat a row is, nor what a
row holds; it knows one thing, the hour after which a row is worth nothing and goes.
"""

from __future__ import annotations

import aiosqlite

from bot.store.query import one
from bot.store.times import hour_after
from bot.store.writes import Write, apply


async def read_state(conn: aiosqlite.Connection, name: bytes, *, now: int) -> bytes | None:
    row = await one(
        conn, "SELECT body FROM chat_states WHERE name = ? AND expires_at > ?", (name, now)
    )
    return bytes(row[0]) if row else None


def state_write(name: bytes, body: bytes, *, expires_at: int) -> Write:
    """Insert or replace a chat's row; the expiry goes to the end of its hour."""
    return Write.one(
        "INSERT INTO chat_states (name, body, expires_at) VALUES (?, ?, ?)"
        " ON CONFLICT (name) DO UPDATE SET body = excluded.body,"
        " expires_at = excluded.expires_at",
        name,
        body,
        hour_after(expires_at),
    )


def state_deletion(name: bytes) -> Write:
    return Write.one("DELETE FROM chat_states WHERE name = ?", name)


async def delete_expired_states(conn: aiosqlite.Connection, *, now: int) -> int:
    cur = await conn.execute("DELETE FROM chat_states WHERE expires_at <= ?", (now,))
    return cur.rowcount


async def count_states(conn: aiosqlite.Connection) -> int:
    row = await one(conn, "SELECT count(*) FROM chat_states")
    return int(row[0]) if row else 0


async def count_legacy(conn: aiosqlite.Connection) -> int:
    """Drafts and chat traces an earlier release wrote under a master-derived pseudonym."""
    row = await one(
        conn,
        "SELECT (SELECT count(*) FROM cases WHERE status = 'draft')"
        " + (SELECT count(*) FROM chat_traces)",
    )
    return int(row[0]) if row else 0


async def delete_legacy(conn: aiosqlite.Connection, *, case_id: str | None, trace: bytes) -> None:
    """An earlier release's draft and trace of one chat, once moved under its chat key."""
    writes = [Write.one("DELETE FROM chat_traces WHERE pseudonym = ?", trace)]
    if case_id is not None:
        writes.append(Write.one("DELETE FROM cases WHERE id = ? AND status = 'draft'", case_id))
    await apply(conn, *writes)
