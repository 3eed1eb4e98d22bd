"""Waiting until the bot has finished what a test's last action caused.

A bot in this process is asked, not watched (``Runtime.handled``): every update was taken from
the server (its next poll confirmed them) and handled, no periodic round (the outbox's sends,
the erasing sweep) is under way or woken, and nothing changed on the server meanwhile. A quiet
spell proves no more than that and costs real time on every action, so it is left for a bot in
another process (the crash loops, a SIGTERM), which can only be watched.

Its own module: pytest may import conftest twice, and both must see the same bots.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from bot.devserver.protocol import Simulator
from bot.devserver.settle import settle
from bot.runtime import Runtime

# How long a server must stay unchanged before a bot in another process counts as done.
QUIET = 0.2

# The bots polling each server from this process, by the server's id.
_IN_PROCESS: dict[int, list[Runtime]] = {}


@contextlib.contextmanager
def in_process(server: Simulator, runtime: Runtime) -> Iterator[None]:
    """While this bot polls ``server`` from this process, ``rest`` asks it."""
    polling = _IN_PROCESS.setdefault(id(server), [])
    polling.append(runtime)
    try:
        yield
    finally:
        polling.remove(runtime)
        if not polling:
            del _IN_PROCESS[id(server)]


async def rest(server: Simulator, timeout: float = 15.0) -> None:  # noqa: ASYNC109
    """Until the bots polling ``server`` have finished what the last action caused."""
    runtimes = list(_IN_PROCESS.get(id(server), ()))

    async def handled() -> bool:
        return all([await runtime.handled() for runtime in runtimes])

    await settle(server, quiet=QUIET, timeout=timeout, done=handled if runtimes else None)
