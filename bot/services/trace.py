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
    whole trace is past deleting (0: empty)."""

    visible: set[int] = field(default_factory=set)
    prompt: int | None = None
    team: set[int] = field(default_factory=set)  # the team's messages: only a wipe removes them
    expires: int = 0

    def add(self, message_id: int | None, now: int, *, team: bool = False) -> None:
        if message_id is not None:
            self.visible.add(message_id)
            self.expires = max(self.expires, hour_after(now + TRACE_LIFETIME))
            if team:
                self.team.add(message_id)

    def fresh(self, now: int) -> ChatTrace:
        """Forget everything once Telegram will no longer let us delete even the newest."""
        if now >= self.expires:
            return ChatTrace()
        return ChatTrace(set(self.visible), self.prompt, set(self.team), self.expires)

    def take_all(self, *, keep: int | None = None, wipe: bool = False) -> list[int]:
        """Ids to delete to clear the chat (all but ``keep``, and the team's messages unless
        this is a wipe), forgetting them."""
        spared = {keep} | (set() if wipe else self.team)
        gone = sorted(self.visible - spared)
        self.visible &= spared
        self.team &= self.visible
        if self.prompt != keep:
            self.prompt = None
        return gone

    def expires_at(self) -> int:
        return self.expires

    def dump(self) -> bytes:
        return json.dumps(
            {"v": sorted(self.visible), "p": self.prompt, "t": sorted(self.team), "e": self.expires}
        ).encode()

    @classmethod
    def load(cls, raw: bytes) -> ChatTrace:
        data = json.loads(raw)
        team = {int(m) for m in data.get("t", [])}
        visible, expires = data["v"], data.get("e")
        if expires is None:  # written before traces dropped their send times
            times = [int(t) for t in visible.values()] if isinstance(visible, dict) else []
            expires = hour_after(max(times) + TRACE_LIFETIME) if times else 0
        return cls({int(m) for m in visible}, data["p"], team, int(expires))
