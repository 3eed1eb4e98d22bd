"""Wait until the bot has finished answering.

A bot in another process can only be watched: it is taken to be done when nothing changed on
the server for a quiet spell. A bot in the same process can be asked (``done``), which costs no
spell of real time and holds however slow the machine is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from bot.devserver.protocol import Simulator

# Between two questions to a bot in this process, when nothing changed on the server meanwhile.
LOOK_AGAIN = 0.005


async def settle(
    sim: Simulator,
    *,
    quiet: float = 0.4,
    timeout: float = 15.0,  # noqa: ASYNC109
    done: Callable[[], Awaitable[bool]] | None = None,
) -> None:
    """Return once no update waits for the bot and the bot is done: ``done`` says so (asked
    with the server unchanged throughout), or, without it, nothing changed for ``quiet`` seconds.

    A reply may take a few round trips (send, then delete the old question), so the demo waits
    for the conversation to come to rest rather than for one message.
    """
    try:
        async with asyncio.timeout(timeout):
            version = await sim.version()
            while True:
                if done is None:
                    changed = await sim.wait_change(version, quiet)
                    if changed == version and await sim.pending_updates() == 0:
                        return
                    version = changed
                    continue
                if (
                    await sim.pending_updates() == 0
                    and await done()
                    and await sim.pending_updates() == 0
                    and await sim.version() == version
                ):
                    return
                version = await sim.wait_change(version, LOOK_AGAIN)
    except TimeoutError:
        raise TimeoutError("the bot did not come to rest") from None
