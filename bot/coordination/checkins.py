"""Check-ins on the road after the handoff: how often, for how long, and when one is missed.

A holder arms a case with ``/checkin CODE EVERY [FOR]``; the applicant then gets a neutral
message at each time, and a check-in left unanswered past the team's grace time is missed.
Plain rules over seconds: the service supplies the clock and does the sending.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MINUTE = 60
HOUR = 3600
DAY = 24 * HOUR
MIN_EVERY = 15 * MINUTE  # more often than this is a phone that never stops buzzing
# A check-in still on the phone is erased when the next one comes: well inside the 48 hours
# Telegram lets a bot delete a private chat's message.
MAX_EVERY = DAY
MAX_FOR = 7 * DAY  # a journey's worst days; a holder arms it again if it takes longer
DEFAULT_GRACE = 2 * HOUR

_DURATION = re.compile(r"(\d{1,4})([mhd])")
_UNITS = {"m": MINUTE, "h": HOUR, "d": DAY}


def parse_duration(text: str) -> int | None:
    """``30m``, ``12h``, ``7d`` in seconds; ``None`` for anything else."""
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None:
        return None
    seconds = int(match.group(1)) * _UNITS[match.group(2)]
    return seconds or None


def duration_text(seconds: int) -> str:
    """The shortest of ``7d``, ``12h``, ``90m`` that says ``seconds`` exactly."""
    for unit, size in (("d", DAY), ("h", HOUR)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds // MINUTE}m"


@dataclass(frozen=True)
class Schedule:
    """Check-ins every ``every`` seconds from ``start`` up to ``until``; one unanswered
    ``grace`` seconds after it was sent is missed."""

    start: int
    every: int
    until: int
    grace: int

    def next_after(self, t: float) -> int | None:
        """The first check-in time strictly after ``t``, or ``None`` past the end."""
        steps = max(0, int((t - self.start) // self.every) + 1)
        at = self.start + steps * self.every
        return at if at <= self.until else None

    def dump(self) -> dict[str, int]:
        return {"start": self.start, "every": self.every, "until": self.until, "grace": self.grace}

    @classmethod
    def load(cls, data: dict[str, object]) -> Schedule:
        return cls(*(int(str(data[name])) for name in ("start", "every", "until", "grace")))


class Refusal(ValueError):
    """Why ``/checkin`` arguments make no schedule: ``key`` names the coordinator text."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def plan(arg: str, *, now: int, grace: int) -> Schedule | None:
    """The schedule ``EVERY [FOR]`` asks for, ``None`` for ``off``; raises ``Refusal``.

    Every check-in must be able to be missed before the next is sent: ``EVERY`` longer than
    the grace time, so each unanswered one is told once, and never mistaken for the next."""
    words = arg.split()
    if words == ["off"]:
        return None
    if not words or len(words) > 2:
        raise Refusal("checkin_usage")
    every = parse_duration(words[0])
    length = parse_duration(words[1]) if len(words) == 2 else MAX_FOR
    if every is None or length is None:
        raise Refusal("checkin_usage")
    if every < MIN_EVERY or every <= grace or every > MAX_EVERY:
        raise Refusal("checkin_every")
    if length > MAX_FOR or length < every:
        raise Refusal("checkin_too_long")
    return Schedule(start=now, every=every, until=now + length, grace=grace)


def missed(sent_at: float, grace: int, now: float) -> bool:
    """A check-in sent at ``sent_at`` and still unanswered is missed from here on."""
    return now >= sent_at + grace
