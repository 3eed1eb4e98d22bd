"""Erasing what the bot sent before Telegram's 48 hours run out, after which only the person can.

An abandoned form leaves its question on the phone; a kept receipt, a team's question nobody
answered and the word to slow down stay too. Each is erased by the bot while Telegram still
lets it: ``ERASE_AFTER`` from when the message appeared. The schedule is in memory only (a
table of chats with their times would name who wrote, and when): it is rebuilt from a chat's
own trace, under the chat's key, when the person next writes after a restart.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field

from bot.logs import get_logger
from bot.services.trace import DELETABLE_SECONDS

log = get_logger(__name__)

# An hour before Telegram's window closes: time for retries on a bad network.
ERASE_AFTER = DELETABLE_SECONDS - 3600
MAX_CHATS = 100_000
SWEEP_SECONDS = 60.0

Erase = Callable[[int, list[int]], Awaitable[None]]
# Told which of the team's messages were erased (by their relay token): a question left
# unanswered, for the team to hear of.
Unanswered = Callable[[int, list[str]], Awaitable[None]]


@dataclass
class _Chat:
    times: dict[int, int] = field(default_factory=dict)  # message id -> when it appeared
    tokens: dict[int, str] = field(default_factory=dict)  # a team question's relay token


class Erasures:
    """Which messages of which chat must be erased by when, in memory, bounded."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        erase_after: int = ERASE_AFTER,
        max_chats: int | None = None,
    ) -> None:
        self.clock = clock
        self.erase_after = erase_after
        self.max_chats = MAX_CHATS if max_chats is None else max_chats
        self._chats: OrderedDict[int, _Chat] = OrderedDict()

    def track(self, chat_id: int, times: Mapping[int, int]) -> None:
        """The chat's visible messages now (from its trace): the schedule follows them."""
        known = self._chats.pop(chat_id, None) or _Chat()
        if not times:
            return
        merged = {m: min(t, known.times.get(m, t)) for m, t in times.items()}
        self._chats[chat_id] = _Chat(merged, {m: k for m, k in known.tokens.items() if m in merged})
        self._bound()

    def add(self, chat_id: int, message_ids: Iterable[int], at: int, token: str = "") -> None:
        """Messages seen in a chat whose trace the bot cannot write now (its key not held)."""
        chat = self._chats.pop(chat_id, None) or _Chat()
        for message_id in message_ids:
            chat.times.setdefault(message_id, at)
            if token:
                chat.tokens[message_id] = token
        self._chats[chat_id] = chat
        self._bound()

    def forget(self, chat_id: int) -> None:
        self._chats.pop(chat_id, None)

    def times(self, chat_id: int) -> dict[int, int]:
        chat = self._chats.get(chat_id)
        return dict(chat.times) if chat else {}

    def due(self, now: float) -> list[tuple[int, list[int], list[str]]]:
        """Take what must be erased now: by chat, its message ids and relay tokens."""
        out = []
        for chat_id, chat in list(self._chats.items()):
            ids = sorted(m for m, t in chat.times.items() if now - t >= self.erase_after)
            if not ids:
                continue
            tokens = [chat.tokens.pop(m) for m in ids if m in chat.tokens]
            for m in ids:
                del chat.times[m]
            if not chat.times:
                del self._chats[chat_id]
            out.append((chat_id, ids, tokens))
        return out

    def _bound(self) -> None:
        while len(self._chats) > self.max_chats:
            self._chats.popitem(last=False)

    def __len__(self) -> int:
        return len(self._chats)

    async def sweep(
        self, erase: Erase, unanswered: Unanswered | None = None
    ) -> list[tuple[int, list[int]]]:
        """Erase what is due now; returns what was erased, by chat."""
        count = 0
        erased = []
        for chat_id, ids, tokens in self.due(self.clock()):
            try:
                await erase(chat_id, ids)
            except Exception as exc:  # noqa: BLE001 - the other chats must still be erased
                log.error("erase_failed", error=type(exc).__name__)
                continue
            count += len(ids)
            erased.append((chat_id, ids))
            if tokens and unanswered is not None:
                try:
                    await unanswered(chat_id, tokens)
                except Exception as exc:  # noqa: BLE001 - the erasing is done either way
                    log.error("unanswered_not_told", error=type(exc).__name__)
        if count:
            log.info("erased_before_the_window_closed", count=count)
        return erased
