"""The Application as the bot assembles it: bounded in what it takes from Telegram."""

from __future__ import annotations

import asyncio

from bot.devserver import DevServer
from bot.transport.framework import BoundedUpdateQueue, PacedBot, new_application


async def test_room_waits_while_the_queue_is_full_and_opens_on_task_done() -> None:
    queue = BoundedUpdateQueue(limit=2)
    await queue.put("a")
    await queue.put("b")
    waiting = asyncio.create_task(queue.room())
    await asyncio.sleep(0)  # it runs until it waits
    assert not waiting.done()  # two updates in hand: no room
    queue.get_nowait()
    queue.task_done()
    assert await asyncio.wait_for(waiting, 5) == 1


async def test_a_full_queue_is_refilled_by_the_batch_not_update_by_update() -> None:
    """Under a flood the queue stays full: asking Telegram again as each single update is
    handled would cost a round trip per update."""
    queue = BoundedUpdateQueue(limit=8)
    assert queue.refill == 2
    for n in range(8):
        await queue.put(n)
    waiting = asyncio.create_task(queue.room())
    queue.get_nowait()
    queue.task_done()
    await asyncio.sleep(0)  # woken by the task done, it looks again and goes back to waiting
    assert not waiting.done()  # room for one: not yet worth a request
    queue.get_nowait()
    queue.task_done()
    assert await asyncio.wait_for(waiting, 5) == 2


async def test_polling_asks_for_no_more_updates_than_there_is_room_for(
    server: DevServer,
) -> None:
    """Updates fetched but not queued would be confirmed to Telegram by the next poll and
    then lost, or, after a stop halfway through a batch, sent again; so the bot asks for
    only as many as it can queue."""
    for n in range(40):
        await server.send_text(560_000_001 + n, f"hello {n}", first_name="Test")
    app = new_application(server.token, server.base_url, rate_limit=False)
    bot = app.bot
    assert isinstance(bot, PacedBot)
    queue = app.update_queue
    assert isinstance(queue, BoundedUpdateQueue)
    for n in range(queue.limit - 30):  # updates in hand, not yet handled
        await queue.put(n)
    async with bot:
        updates = await bot.get_updates(timeout=0)
    assert len(updates) == 30
    assert await server.pending_updates() == 40  # nothing confirmed yet
