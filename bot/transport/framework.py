"""python-telegram-bot, assembled so that memory does not grow with the crowd.

The bot keeps no per-person state in memory beyond bounded tables; these classes make the
framework beneath it do the same, and :func:`new_application` is the one place the Application
is put together (the benchmark's echo bots use it too, so they compare like with like).
"""

from __future__ import annotations

import asyncio
from typing import Any

from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, ExtBot, Job

from bot.transport.http import AiohttpRequest

# Updates taken from Telegram and not yet handled, at most. Equal to the number handled at once
# (``concurrent_updates(True)``), so a burst waits with Telegram instead of in the bot's memory.
UPDATE_BACKLOG = 256
GET_UPDATES_BATCH = 100  # Telegram's largest getUpdates batch
RATE_LIMIT_RETRIES = 3
SEND_CONNECTIONS = 256  # python-telegram-bot's default pool for everything but getUpdates


class BoundedUpdateQueue(asyncio.Queue[object]):
    """An update queue that counts updates until ``task_done``, which the Application calls
    once an update has been handled (it takes each one off the queue at once, so the queue's
    length says nothing).

    Polling asks for no more updates than there is :meth:`room` for, so it never waits halfway
    through a batch (updates queued but not yet confirmed to Telegram would come again after a
    stop). Once the queue is full it waits for a quarter of it to be handled first: asking
    again for each update as it is handled, a flood of thousands cost a round trip to Telegram
    per update, and everyone behind the flood waited for all of them. ``put`` waits only past a
    batch beyond the limit: in webhook mode, where Telegram pushes, that holds its requests
    back.
    """

    def __init__(self, limit: int = UPDATE_BACKLOG) -> None:
        super().__init__()
        self.limit = limit
        self.refill = max(1, min(GET_UPDATES_BATCH, limit) // 4)
        self.in_flight = 0
        self._freed = asyncio.Event()

    async def room(self) -> int:
        """How many more updates may be taken now; waits until at least ``refill`` may."""
        await self._until_below(self.limit - self.refill + 1)
        return self.limit - self.in_flight

    async def put(self, item: object) -> None:
        await self._until_below(self.limit + GET_UPDATES_BATCH)
        self.in_flight += 1
        self.put_nowait(item)

    async def _until_below(self, bound: int) -> None:
        while self.in_flight >= bound:
            self._freed.clear()
            await self._freed.wait()

    def task_done(self) -> None:
        super().task_done()
        self.in_flight = max(0, self.in_flight - 1)
        self._freed.set()


class PacedBot(ExtBot[Any]):
    """Asks Telegram for only as many updates as the queue has room for."""

    def __init__(self, updates: BoundedUpdateQueue, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._updates = updates

    async def get_updates(self, *args: Any, **kwargs: Any) -> Any:
        room = await self._updates.room()
        kwargs["limit"] = min(kwargs.get("limit") or GET_UPDATES_BATCH, room)
        return await super().get_updates(*args, **kwargs)


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


def new_application(token: str, base_url: str, *, rate_limit: bool = True) -> Application:  # type: ignore[type-arg]
    """The Application with a paced bot on a bounded queue, handling updates concurrently.

    With ``rate_limit`` it keeps within Telegram's sending limits and waits out 429 retry_after,
    then retries.
    """
    updates = BoundedUpdateQueue()
    limiter = AIORateLimiter(max_retries=RATE_LIMIT_RETRIES) if rate_limit else None
    bot = PacedBot(
        updates,
        token=token,
        base_url=base_url,
        base_file_url=base_url.replace("/bot", "/file/bot"),
        request=AiohttpRequest(SEND_CONNECTIONS),
        get_updates_request=AiohttpRequest(),
        rate_limiter=limiter,
    )
    builder = (
        ApplicationBuilder()
        .application_class(NoPersistenceApplication)
        .bot(bot)
        .update_queue(updates)
        .concurrent_updates(True)
    )
    app: Application = builder.build()  # type: ignore[type-arg]
    return app
