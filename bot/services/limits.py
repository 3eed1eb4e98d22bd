"""Small in-memory limiters: they slow one person down without slowing anyone else.

They hold at most ``max_keys`` entries (the oldest are dropped), so a flood of new accounts
cannot grow memory without bound. Kept in memory on purpose: a limiter's table would be a
list of who wrote recently.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Hashable


class AttemptLimiter:
    """At most ``limit`` attempts per ``window`` seconds per key."""

    def __init__(self, limit: int, window: float, *, max_keys: int = 50_000) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._seen: OrderedDict[Hashable, deque[float]] = OrderedDict()

    def allow(self, key: Hashable, now: float) -> bool:
        times = self._seen.pop(key, None) or deque()
        while times and now - times[0] >= self.window:
            times.popleft()
        allowed = len(times) < self.limit
        if allowed:
            times.append(now)
        self._seen[key] = times
        while len(self._seen) > self.max_keys:
            self._seen.popitem(last=False)
        return allowed

    def forgive(self, key: Hashable) -> None:
        self._seen.pop(key, None)
