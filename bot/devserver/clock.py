"""The server's notion of "now", which tests move forward instead of sleeping.

Telegram's time rules (the 48-hour delete window, stale callback queries) are checked against
this clock, so a test can cross them in an instant.
"""

from __future__ import annotations

import time


class Clock:
    """Follows the wall clock plus an offset, or stands still if started at a fixed time."""

    def __init__(self, start: float | None = None) -> None:
        self._frozen_at = start
        self._offset = 0.0

    def now(self) -> int:
        base = time.time() if self._frozen_at is None else self._frozen_at
        return int(base + self._offset)

    def advance(self, seconds: float) -> int:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self._offset += seconds
        return self.now()
