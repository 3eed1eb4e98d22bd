"""Writes described as data, so that many can be carried out in one trip to the database thread.

Every aiosqlite call is a hand-off to its thread and back, and under load each hand-off waits
its turn on a busy event loop. A writer that sends its statements one by one holds the single
connection for as many turns; applicants' answers then queue behind one another. A
:class:`Write` is just the SQL and its rows: :func:`apply_groups` runs a whole group of writers'
writes on the thread at once, and :func:`apply` runs them from a coroutine inside an ordinary
transaction, so each piece of SQL is written once for both.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import aiosqlite

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Write:
    """One statement, run once per row of parameters."""

    sql: str
    rows: Sequence[Sequence[Any]]

    @classmethod
    def one(cls, sql: str, *params: Any) -> Write:
        return cls(sql, (params,))


async def apply(conn: aiosqlite.Connection, *writes: Write) -> None:
    """From a coroutine that holds the connection (inside ``Database.transaction``): all of
    them in one hand-off, so the connection is held for one turn of the event loop, not one
    per statement."""
    await on_thread(conn, _apply_all, writes)


def _apply_all(conn: sqlite3.Connection, writes: Sequence[Write]) -> None:
    for write in writes:
        conn.executemany(write.sql, write.rows)


def on_thread(
    conn: aiosqlite.Connection, fn: Callable[[sqlite3.Connection, Any], T], arg: Any
) -> Awaitable[T]:
    """Run ``fn`` on the connection's own thread, as aiosqlite runs each of its calls (its
    ``_execute`` takes any function): many statements then cost one hand-off, not one each.
    The store tests exercise it against the aiosqlite version in the lock file."""
    return conn._execute(lambda: fn(conn._conn, arg))  # type: ignore[no-untyped-call]


def apply_groups(
    conn: sqlite3.Connection, groups: Sequence[Sequence[Write]]
) -> list[sqlite3.Error | None]:
    """On the database thread: each group in a savepoint of one transaction, then one commit.

    A group whose statement fails is undone alone and its error returned in its place; the
    others commit. If the commit itself fails, everything is rolled back and the error raised:
    nobody's writes are kept. A transaction already open on the connection (writers that came
    through ``Database.transaction``) is committed with them.
    """
    try:
        if not conn.in_transaction:
            conn.execute("BEGIN IMMEDIATE")
        outcomes: list[sqlite3.Error | None] = []
        for group in groups:
            conn.execute("SAVEPOINT writer")
            try:
                _apply_all(conn, group)
            except sqlite3.Error as exc:
                conn.execute("ROLLBACK TO writer")
                outcomes.append(exc)
            else:
                outcomes.append(None)
            conn.execute("RELEASE writer")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return outcomes
