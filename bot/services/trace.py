"""Which messages of an applicant's chat are still on their phone, so they can be erased.

Telegram lets a bot delete messages of a private chat (both sides) for 48 hours. The trace
holds the ids of the messages still visible, sealed under a master-derived key, and nothing
else: no text, no link to a case, and no send times. A seizer holding the master key can tell
whose trace it is (by enumerating Telegram ids); times to the second beside that would match the
moment a case was submitted or a question answered. So the trace keeps one expiry, on the hour
grid: the end of the hour in which Telegram stops letting the bot delete its newest message.
An older message in a trace that lives on may already be beyond deleting; trying costs one
refused call.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

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

    @property
    def team(self) -> set[int]:
        """The name this set had when it held only the team's messages."""
        return self.kept

    def add(self, message_id: int | None, now: int, *, team: bool = False) -> None:
        if message_id is not None:
            self.visible.add(message_id)
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
        """Forget everything once Telegram will no longer let us delete even the newest."""
        if now >= self.expires:
            return ChatTrace()
        return ChatTrace(
            set(self.visible),
            self.prompt,
            set(self.kept),
            self.expires,
            self.lang,
            self.sent,
            self.receipt,
        )

    def take_all(self, *, keep: int | None = None, wipe: bool = False) -> list[int]:
        """Ids to delete to clear the chat (all but ``keep``, and the kept messages unless
        this is a wipe), forgetting them."""
        spared = {keep} | (set() if wipe else self.kept)
        gone = sorted(self.visible - spared)
        self.visible &= spared
        self.kept &= self.visible
        if self.prompt != keep:
            self.prompt = None
        if self.receipt not in self.visible:
            self.receipt = None
        return gone

    def worth_keeping(self) -> bool:
        """Whether there is anything left to remember: messages to erase, or the chat's flags
        while a message of it may still be on the phone."""
        return bool(self.visible) or (self.expires > 0 and (self.sent or self.lang is not None))

    def expires_at(self) -> int:
        return self.expires

    def dump(self) -> bytes:
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
        return json.dumps(data).encode()

    @classmethod
    def load(cls, raw: bytes) -> ChatTrace:
        data = json.loads(raw)
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
        )
