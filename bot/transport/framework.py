"""Two places where python-telegram-bot's defaults would let memory grow with the crowd.

The bot keeps no per-person state in memory beyond bounded tables; these classes make the
framework beneath it do the same.
"""

from __future__ import annotations

import asyncio
from typing import Any

from telegram.ext import Application, Job

# Updates taken from Telegram and not yet handled, at most. Equal to the number handled at once
# (``concurrent_updates(True)``), so a burst waits with Telegram instead of in the bot's memory.
UPDATE_BACKLOG = 256


class BoundedUpdateQueue(asyncio.Queue[object]):
    """An update queue whose ``put`` waits while ``limit`` updates are queued or being handled.

    The Application takes each update off the queue at once and makes it a task, so a plain
    bounded queue never fills; counting until ``task_done`` (which the Application calls when
    an update has been handled) does. Polling then pauses, and in webhook mode Telegram's
    request waits, so a burst of thousands stays on Telegram's side.
    """

    def __init__(self, limit: int = UPDATE_BACKLOG) -> None:
        super().__init__()
        self.limit = limit
        self.in_flight = 0
        self._room = asyncio.Event()

    async def put(self, item: object) -> None:
        while self.in_flight >= self.limit:
            self._room.clear()
            await self._room.wait()
        self.in_flight += 1
        self.put_nowait(item)

    def task_done(self) -> None:
        super().task_done()
        self.in_flight = max(0, self.in_flight - 1)
        self._room.set()


class NoPersistenceApplication(Application):  # type: ignore[type-arg]
    """An Application that does not mark chats and users for a persistence it does not have.

    Without persistence nothing ever empties those two sets: they grow by every person who
    writes, and would be a list, in memory, of everyone who contacted the bot.
    """

    def _mark_for_persistence_update(
        self, *, update: object | None = None, job: Job[Any] | None = None
    ) -> None:
        if self.persistence is not None:
            super()._mark_for_persistence_update(update=update, job=job)
