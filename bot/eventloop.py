"""The event loop the bot runs on: uvloop where it is installed, asyncio's own otherwise.

Every update is a few dozen hand-offs through the loop (Bot API calls, database calls), and
uvloop makes each cheaper: on the benchmark the bot needs about a sixth less CPU per update.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    try:
        import uvloop
    except ImportError:  # not on every platform; asyncio's loop does the same, slower
        return asyncio.run(main)
    return uvloop.run(main)
