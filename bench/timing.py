"""Exact server-side timestamps of the bot's replies, without touching the dev server's code.

The dev server records every Bot API call it answers in ``state.calls`` right after the call
took effect; swapping that list for one that also notes the time and the chat lets a waiter be
woken by the very reply it waits for, instead of polling every chat on every change.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, SupportsIndex

from bot.devserver import ApiCall, DevServer

REPLY_METHODS = frozenset({"sendMessage", "editMessageText"})


@dataclass(frozen=True)
class Timed:
    at: float
    method: str
    chat_id: int | None
    size: int
    ok: bool


def _chat_of(params: dict[str, Any]) -> int | None:
    try:
        return int(params["chat_id"])
    except (KeyError, TypeError, ValueError):
        return None


class CallLog:
    """Every Bot API call with its arrival time; futures that resolve on a chat's next reply."""

    def __init__(self) -> None:
        self.timed: list[Timed] = []
        self.bytes_by_chat: dict[int, int] = defaultdict(int)
        self._reply_waiters: dict[int, asyncio.Future[float]] = {}
        self._change_waiters: dict[int, asyncio.Event] = {}

    def note(self, call: ApiCall) -> None:
        now = time.perf_counter()
        chat = _chat_of(call.params)
        size = len(json.dumps(call.params, ensure_ascii=False, separators=(",", ":")))
        self.timed.append(Timed(now, call.method, chat, size, call.ok))
        if chat is None:
            return
        self.bytes_by_chat[chat] += size
        if call.ok and call.method in REPLY_METHODS:
            waiter = self._reply_waiters.pop(chat, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(now)
        event = self._change_waiters.get(chat)
        if event is not None:
            event.set()

    def expect_reply(self, chat_id: int) -> asyncio.Future[float]:
        """Arm before acting: resolves with the time of the chat's next sendMessage/edit."""
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._reply_waiters[chat_id] = future
        return future

    def changed(self, chat_id: int) -> asyncio.Event:
        event = self._change_waiters.get(chat_id)
        if event is None:
            event = self._change_waiters[chat_id] = asyncio.Event()
        return event

    def forget_chat(self, chat_id: int) -> None:
        self._change_waiters.pop(chat_id, None)
        self._reply_waiters.pop(chat_id, None)


class _RecordingList(list[ApiCall]):
    def __init__(self, log: CallLog) -> None:
        super().__init__()
        self.log = log

    def append(self, call: ApiCall, /) -> None:
        super().append(call)
        self.log.note(call)

    def __delitem__(self, key: SupportsIndex | slice, /) -> None:  # the server trims old calls
        super().__delitem__(key)


class TimedServer(DevServer):
    """The dev server unchanged, except that its record of calls also feeds a :class:`CallLog`."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.log = CallLog()
        self.state.calls = _RecordingList(self.log)

    async def __aenter__(self) -> TimedServer:
        await self.start()
        return self
