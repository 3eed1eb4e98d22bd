"""Which messages of an applicant's chat are still on their phone, so they can be erased.

Telegram lets a bot delete messages of a private chat (both sides) for 48 hours. The trace
holds the ids of the messages still visible, sealed under a master-derived key, and nothing
else: no text, no link to a case.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

DELETABLE_SECONDS = 48 * 3600
# A margin so we never try to delete what Telegram has just stopped allowing.
TRACE_LIFETIME = DELETABLE_SECONDS - 600


@dataclass
class ChatTrace:
    """``visible`` maps message id to the time it was sent; ``prompt`` is the current question."""

    visible: dict[int, int] = field(default_factory=dict)
    prompt: int | None = None
    team: set[int] = field(default_factory=set)  # the team's messages: only a wipe removes them

    def add(self, message_id: int | None, now: int, *, team: bool = False) -> None:
        if message_id is not None:
            self.visible[message_id] = now
            if team:
                self.team.add(message_id)

    def fresh(self, now: int) -> ChatTrace:
        """Forget messages Telegram will no longer let us delete."""
        kept = {m: t for m, t in self.visible.items() if now - t < TRACE_LIFETIME}
        team = {m for m in self.team if m in kept}
        return ChatTrace(kept, self.prompt if self.prompt in kept else None, team)

    def take_all(self, *, keep: int | None = None, wipe: bool = False) -> list[int]:
        """Ids to delete to clear the chat (all but ``keep``, and the team's messages unless
        this is a wipe), forgetting them."""
        spared = {keep} | (set() if wipe else self.team)
        gone = sorted(m for m in self.visible if m not in spared)
        self.visible = {m: t for m, t in self.visible.items() if m in spared}
        self.team &= set(self.visible)
        if self.prompt != keep:
            self.prompt = None
        return gone

    def expires_at(self) -> int:
        return max(self.visible.values(), default=0) + TRACE_LIFETIME

    def dump(self) -> bytes:
        return json.dumps({"v": self.visible, "p": self.prompt, "t": sorted(self.team)}).encode()

    @classmethod
    def load(cls, raw: bytes) -> ChatTrace:
        data = json.loads(raw)
        team = {int(m) for m in data.get("t", [])}
        return cls({int(k): int(v) for k, v in data["v"].items()}, data["p"], team)
