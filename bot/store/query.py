"""Reads in one round trip to the database thread.

aiosqlite runs every call on its own thread, and each call is a hand-off there and back; a read
written as ``execute``, ``fetchone`` and closing the cursor is three. ``execute_fetchall`` does
the same in one, which matters on the paths every applicant update takes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

import aiosqlite


async def one(
    conn: aiosqlite.Connection, sql: str, params: Iterable[Any] = ()
) -> sqlite3.Row | None:
    """The first row, or None. For queries that match at most a row (a key, a LIMIT 1)."""
    for row in await conn.execute_fetchall(sql, tuple(params)):
        return row
    return None


async def every(
    conn: aiosqlite.Connection, sql: str, params: Iterable[Any] = ()
) -> list[sqlite3.Row]:
    """All rows at once: for results bounded by their nature (a case's fields), not tables."""
    return list(await conn.execute_fetchall(sql, tuple(params)))
