"""Wait until the bot has finished answering: no change on the server for a quiet spell."""

from __future__ import annotations

import asyncio

from bot.devserver.protocol import Simulator


async def settle(sim: Simulator, *, quiet: float = 0.4, timeout: float = 15.0) -> None:  # noqa: ASYNC109
    """Return once nothing changed for ``quiet`` seconds and no update waits for the bot.

    A reply may take a few round trips (send, then delete the old question), so the demo waits
    for the conversation to come to rest rather than for one message.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    version = await sim.version()
    while loop.time() < deadline:
        changed = await sim.wait_change(version, quiet)
        if changed == version and await sim.pending_updates() == 0:
            return
        version = changed
    raise TimeoutError("the bot did not come to rest")
