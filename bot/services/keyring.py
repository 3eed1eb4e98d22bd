"""Unlocked coordinator keys, held in memory only and forgotten when idle or after a cap.

A stolen, unlocked phone gives Telegram access, not case content: the private key is only
here between ``/unlock`` and ``/lock``, an idle timeout, an absolute cap, or a restart of the
bot. Only a key that actually opened something renews the idle time: a thief who sends ``/help``,
``/queue``, ``/grant @nobody`` or a code with no copy for them to keep a key alive gets nothing,
and however busy its holder, a key is gone ``max_seconds`` after it was unlocked.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.crypto import UnlockedKey


@dataclass
class _Session:
    key: UnlockedKey
    unlocked_at: float
    last_used: float


class KeyRing:
    def __init__(self, idle_seconds: float, max_seconds: float = 8 * 3600) -> None:
        self.idle_seconds = idle_seconds
        self.max_seconds = max_seconds
        self._sessions: dict[str, _Session] = {}

    def hold(self, coordinator_id: str, key: UnlockedKey, now: float) -> None:
        self._sessions[coordinator_id] = _Session(key, now, now)

    def holds(self, coordinator_id: str, now: float) -> bool:
        """Whether the key is still unlocked; asking does not renew it."""
        return self._live(coordinator_id, now) is not None

    def use(self, coordinator_id: str, now: float) -> UnlockedKey | None:
        """The key, having opened something with it: restarts the idle clock."""
        key = self.peek(coordinator_id, now)
        if key is not None:
            self.opened(coordinator_id, now)
        return key

    def peek(self, coordinator_id: str, now: float) -> UnlockedKey | None:
        """The key, to try opening something with; renews nothing until ``opened``."""
        session = self._live(coordinator_id, now)
        return None if session is None else session.key

    def opened(self, coordinator_id: str, now: float) -> None:
        """The key has just opened a case key: this alone restarts the idle clock."""
        session = self._live(coordinator_id, now)
        if session is not None:
            session.last_used = now

    def forget(self, coordinator_id: str) -> bool:
        return self._sessions.pop(coordinator_id, None) is not None

    def sweep(self, now: float) -> int:
        stale = [c for c, s in self._sessions.items() if self._expired(s, now)]
        for coordinator_id in stale:
            del self._sessions[coordinator_id]
        return len(stale)

    def _live(self, coordinator_id: str, now: float) -> _Session | None:
        session = self._sessions.get(coordinator_id)
        if session is not None and self._expired(session, now):
            del self._sessions[coordinator_id]
            return None
        return session

    def _expired(self, session: _Session, now: float) -> bool:
        return (
            now - session.last_used > self.idle_seconds
            or now - session.unlocked_at > self.max_seconds
        )
