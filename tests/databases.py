"""How a test opens a database: as a context, closed when the test fails as when it passes.

An open aiosqlite connection keeps a thread alive; a test that fails between opening and a
closing line of its own leaves the thread running, and pytest, its summary printed, never exits.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from bot.store import Database, open_database


@contextlib.asynccontextmanager
async def opened(path: Path, *, migrate: bool = True) -> AsyncIterator[Database]:
    """The database at ``path``, migrated unless told not to, closed on the way out."""
    db = await open_database(path, migrate=migrate)
    try:
        yield db
    finally:
        await db.close()
