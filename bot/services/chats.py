"""An applicant's chat as the server keeps it: one row, under a key that lives in the chat.

``ChatState`` is the whole of it (the form under way and the chat's trace) and is sealed as one
blob, so a seizer sees rows of opaque bytes that no account id, master key or other row leads
to. ``ChatMemory`` is what the process holds while chats are active: each chat's key, for a
while, and for chats whose key it does not hold (after a restart), what waits for the key to
come back. Both are bounded and forget on their own: a table of who wrote recently is a list
of applicants, and lives in memory only.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass, field

from bot.crypto import ChatKey
from bot.intake.draft import Draft
from bot.intake.events import Command
from bot.services.trace import ChatTrace

STATE_FIELD = "state"
# How long a chat's key stays in memory after its last update. A button or a reply brings it
# back at any time; a shorter hold only costs a database read on the next tap.
KEY_IDLE_SECONDS = 3600.0
MAX_KEYS = 100_000
# Messages of a chat whose key the process does not hold (after a restart), noted so they can
# be erased once the key comes back: at most this many chats, this many ids each.
MAX_WAITING_CHATS = 50_000
MAX_WAITING_IDS = 200
WAITING_SECONDS = 48 * 3600.0


@dataclass
class ChatState:
    """The form under way (``draft``, changed last in the hour ``touched``) and the trace."""

    draft: Draft | None = None
    touched: int = 0
    trace: ChatTrace = field(default_factory=ChatTrace)

    def dump(self) -> bytes:
        data: dict[str, object] = {"t": self.trace.to_data()}
        if self.draft is not None:
            fields = self.draft.to_fields()
            data["d"] = {name: value.decode("utf-8") for name, value in fields.items()}
            data["u"] = self.touched
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    @classmethod
    def load(cls, raw: bytes) -> ChatState:
        data = json.loads(raw)
        trace = ChatTrace.from_data(data["t"])
        fields = data.get("d")
        if fields is None:
            return cls(trace=trace)
        draft = Draft.from_fields({k: str(v).encode("utf-8") for k, v in fields.items()})
        return cls(draft, int(data.get("u", 0)), trace)

    def expires_at(self, draft_ttl: int) -> int:
        """When the row is worth nothing: the draft idle past its lifetime and every message
        of the trace past Telegram's deletion window. 0: it is worth nothing now."""
        trace = self.trace.expires_at() if self.trace.worth_keeping() else 0
        draft = self.touched + draft_ttl if self.draft is not None else 0
        return max(trace, draft)


@dataclass
class Waiting:
    """What a chat without its key left for when the key comes back: message ids to erase with
    the rest of the chat, and a command to carry out (``/delete`` above all)."""

    message_ids: list[int] = field(default_factory=list)
    command: Command | None = None
    since: float = 0.0
    team_ids: list[int] = field(default_factory=list)  # the team's: only a wipe removes them

    def join(self, state: ChatState, now: int) -> None:
        """Into the chat's trace, once its key is back."""
        state.trace.add_all(self.message_ids, now)
        for message_id in self.team_ids:
            state.trace.add(message_id, now, team=True)


class ChatMemory:
    """Chat keys by account id, and what waits for a key, in memory only and bounded."""

    def __init__(self) -> None:
        self._keys: OrderedDict[int, tuple[ChatKey, float]] = OrderedDict()
        self._waiting: OrderedDict[int, Waiting] = OrderedDict()
        self._erasing: OrderedDict[int, int] = OrderedDict()

    def erasing_from(self, account: int, message_id: int) -> None:
        """The person asked to erase the chat with this message: anything they sent before
        it and that is handled only now (updates are handled concurrently) is moot."""
        self._erasing.pop(account, None)
        self._erasing[account] = message_id
        while len(self._erasing) > MAX_WAITING_CHATS:
            self._erasing.popitem(last=False)

    def superseded(self, account: int, message_id: int) -> bool:
        mark = self._erasing.get(account)
        return mark is not None and message_id < mark

    def key(self, account: int, now: float) -> ChatKey | None:
        held = self._keys.get(account)
        if held is None:
            return None
        if now - held[1] > KEY_IDLE_SECONDS:
            del self._keys[account]
            return None
        return held[0]

    def hold(self, account: int, key: ChatKey, now: float) -> None:
        self._keys.pop(account, None)
        self._keys[account] = (key, now)
        while len(self._keys) > MAX_KEYS:
            self._keys.popitem(last=False)

    def wait(
        self,
        account: int,
        message_ids: list[int],
        now: float,
        command: Command | None = None,
        *,
        team: bool = False,
    ) -> None:
        waiting = self._waiting.pop(account, None)
        if waiting is None or now - waiting.since > WAITING_SECONDS:
            waiting = Waiting(since=now)
        if team:
            waiting.team_ids = (waiting.team_ids + message_ids)[-MAX_WAITING_IDS:]
        else:
            waiting.message_ids = (waiting.message_ids + message_ids)[-MAX_WAITING_IDS:]
        if command is not None:
            waiting.command = command
        self._waiting[account] = waiting
        while len(self._waiting) > MAX_WAITING_CHATS:
            self._waiting.popitem(last=False)

    def take_waiting(self, account: int, now: float) -> Waiting | None:
        waiting = self._waiting.pop(account, None)
        if waiting is None or now - waiting.since > WAITING_SECONDS:
            return None
        return waiting

    def clear_waiting(self, account: int) -> list[int]:
        """The ids waiting (not the team's) that a new answer in a chat without its key can
        delete, as any answer clears what came before it."""
        waiting = self._waiting.get(account)
        if waiting is None:
            return []
        ids, waiting.message_ids = waiting.message_ids, []
        return ids

    def __len__(self) -> int:
        return len(self._keys)
