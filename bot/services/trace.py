"""Which messages of an applicant's chat are still on their phone, so they can be erased.

Telegram lets a bot delete messages of a private chat (both sides) for 48 hours. The trace
holds the ids of the messages still visible and when each appeared, and nothing else: no text
and no link to a case. It lives inside the chat's state, sealed under the chat's own key, so
its times are for the bot alone: they say when each message must be erased before Telegram's
window closes. The one time stored in the clear (the row's expiry) is kept to the hour.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from bot.store.times import hour_after

DELETABLE_SECONDS = 48 * 3600
# A margin so we never try to delete what Telegram has just stopped allowing.
TRACE_LIFETIME = DELETABLE_SECONDS - 600


@dataclass
class ChatTrace:
    """``visible`` holds message ids; ``prompt`` is the current question; ``expires`` is when the
    whole trace is past deleting (0: empty).

    A few flags about the chat itself live here too, because after a form is sent the draft that
    held them is gone: ``lang``, the language the applicant chose (not identifying, and every
    reply, pop-up and warning must stay in it); ``sent``, that a form went out from this chat,
    so the next message is not taken for the start of another; ``receipt``, the message with
    the receipt, until the applicant keeps it or wipes it. Never a case id or code: the server
    must not know which case a chat sent.
    """

    visible: set[int] = field(default_factory=set)
    prompt: int | None = None
    # Messages only a wipe removes: the team's, and a receipt the applicant chose to keep.
    kept: set[int] = field(default_factory=set)
    expires: int = 0
    lang: str | None = None
    sent: bool = False
    receipt: int | None = None
    # When each visible message appeared: it must be erased before Telegram's window closes.
    times: dict[int, int] = field(default_factory=dict)

    @property
    def team(self) -> set[int]:
        """The name this set had when it held only the team's messages."""
        return self.kept

    def add(self, message_id: int | None, now: int, *, team: bool = False) -> None:
        if message_id is not None:
            self.visible.add(message_id)
            self.times[message_id] = min(now, self.times.get(message_id, now))
            self.expires = max(self.expires, hour_after(now + TRACE_LIFETIME))
            if team:
                self.kept.add(message_id)

    def add_all(self, message_ids: list[int], now: int) -> None:
        for message_id in message_ids:
            self.add(message_id, now)

    def keep(self, message_id: int) -> None:
        """Spare a visible message from every clearing but a wipe."""
        if message_id in self.visible:
            self.kept.add(message_id)

    def fresh(self, now: int) -> ChatTrace:
        """A copy without what Telegram no longer lets the bot delete: every message once the
        newest is past the window, else those older than it."""
        if now >= self.expires:
            return ChatTrace()
        copy = ChatTrace(
            set(self.visible),
            self.prompt,
            set(self.kept),
            self.expires,
            self.lang,
            self.sent,
            self.receipt,
            dict(self.times),
        )
        copy.forget([m for m, t in self.times.items() if now - t >= DELETABLE_SECONDS])
        return copy

    def take_all(self, *, keep: int | None = None, wipe: bool = False) -> list[int]:
        """Ids to delete to clear the chat (all but ``keep``, and the kept messages unless
        this is a wipe), forgetting them."""
        spared = {keep} | (set() if wipe else self.kept)
        gone = sorted(self.visible - spared)
        self.forget(gone)
        return gone

    def forget(self, message_ids: list[int]) -> None:
        """Messages gone from the phone (deleted, or erased before the window closed)."""
        self.visible.difference_update(message_ids)
        self.kept &= self.visible
        self.times = {m: t for m, t in self.times.items() if m in self.visible}
        if self.prompt not in self.visible:
            self.prompt = None
        if self.receipt not in self.visible:
            self.receipt = None

    def worth_keeping(self) -> bool:
        """Whether there is anything left to remember: messages to erase, or the chat's flags
        while a message of it may still be on the phone."""
        return bool(self.visible) or (self.expires > 0 and (self.sent or self.lang is not None))

    def expires_at(self) -> int:
        return self.expires

    def dump(self) -> bytes:
        return json.dumps(self.to_data()).encode()

    def to_data(self) -> dict[str, object]:
        """The trace as JSON-ready data, for a record that holds it beside other things."""
        data: dict[str, object] = {
            "v": sorted(self.visible),
            "p": self.prompt,
            "t": sorted(self.kept),
            "e": self.expires,
        }
        if self.lang is not None:
            data["l"] = self.lang
        if self.sent:
            data["s"] = 1
        if self.receipt is not None:
            data["r"] = self.receipt
        if self.times:
            data["m"] = {str(m): t for m, t in self.times.items()}
        return data

    @classmethod
    def load(cls, raw: bytes) -> ChatTrace:
        return cls.from_data(json.loads(raw))

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> ChatTrace:
        kept = {int(m) for m in data.get("t", [])}
        visible, expires = data["v"], data.get("e")
        if expires is None:  # written before traces dropped their send times
            times = [int(t) for t in visible.values()] if isinstance(visible, dict) else []
            expires = hour_after(max(times) + TRACE_LIFETIME) if times else 0
        lang = data.get("l")
        receipt = data.get("r")
        return cls(
            {int(m) for m in visible},
            data["p"],
            kept,
            int(expires),
            str(lang) if lang is not None else None,
            bool(data.get("s")),
            int(receipt) if receipt is not None else None,
            {int(m): int(t) for m, t in data.get("m", {}).items()},
        )
