"""Waiting for the bot to do something, without sleeping in a loop.

Both the in-process server and the HTTP client wait the same way: note the state's version,
check the condition, and if it does not hold yet, block until the version moves on.
"""

from __future__ import annotations

import asyncio
import inspect
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from bot.devserver.records import CallbackAnswer, MessageRecord

T = TypeVar("T")


class WaitHelpers(ABC):
    @abstractmethod
    async def version(self) -> int:
        """A number that grows with every change of the simulated Telegram."""

    @abstractmethod
    async def wait_change(self, since: int, within: float) -> int:
        """Block until the version passes ``since`` or ``within`` seconds pass."""

    @abstractmethod
    async def messages(
        self, chat_id: int, *, include_deleted: bool = False
    ) -> list[MessageRecord]: ...

    @abstractmethod
    async def callback_answers(self, query_id: str | None = None) -> list[CallbackAnswer]: ...

    async def wait_for(
        self,
        predicate: Callable[[], Awaitable[T | None]] | Callable[[], T | None],
        timeout: float = 5.0,  # noqa: ASYNC109 - the deadline is the point of the helper
    ) -> T:
        """The predicate's first truthy result; it may be a plain or an async function."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            seen = await self.version()
            outcome: Any = predicate()
            if inspect.isawaitable(outcome):
                outcome = await outcome
            if outcome:
                return cast(T, outcome)
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"condition not met within {timeout} seconds")
            await self.wait_change(seen, remaining)

    async def wait_for_bot_message(
        self,
        chat_id: int,
        *,
        after_id: int = 0,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> MessageRecord:
        """The first message the bot sent to this chat with an id above ``after_id``."""

        async def found() -> MessageRecord | None:
            for record in await self.messages(chat_id):
                if record.from_bot and record.message_id > after_id:
                    return record
            return None

        return await self.wait_for(found, timeout)

    async def wait_for_callback_answer(
        self,
        query_id: str,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> CallbackAnswer:
        async def found() -> CallbackAnswer | None:
            answers = await self.callback_answers(query_id)
            return answers[0] if answers else None

        return await self.wait_for(found, timeout)
