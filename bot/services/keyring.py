"""Unlocked coordinator keys, held in memory only and forgotten when idle.

A stolen, unlocked phone gives Telegram access, not case content: the private key is only
here between ``/unlock`` and ``/lock``, an idle timeout, or a restart of the bot.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.crypto import UnlockedKey


@dataclass
class _Session:
    key: UnlockedKey
    last_used: float


class KeyRing:
    def __init__(self, idle_seconds: float) -> None:
        self.idle_seconds = idle_seconds
        self._sessions: dict[str, _Session] = {}

    def hold(self, coordinator_id: str, key: UnlockedKey, now: float) -> None:
        self._sessions[coordinator_id] = _Session(key, now)

    def get(self, coordinator_id: str, now: float) -> UnlockedKey | None:
        """The key if still unlocked; using it restarts the idle clock."""
        session = self._sessions.get(coordinator_id)
        if session is None:
            return None
        if now - session.last_used > self.idle_seconds:
            del self._sessions[coordinator_id]
            return None
        session.last_used = now
        return session.key

    def forget(self, coordinator_id: str) -> bool:
        return self._sessions.pop(coordinator_id, None) is not None

    def sweep(self, now: float) -> int:
        stale = [c for c, s in self._sessions.items() if now - s.last_used > self.idle_seconds]
        for coordinator_id in stale:
            del self._sessions[coordinator_id]
        return len(stale)
