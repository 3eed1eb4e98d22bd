"""The only clock readings the store keeps: coarse, so rows cannot be joined by time.

A seizer who enumerates Telegram ids can tell which pseudonym a draft or a chat trace belongs
to. If those rows kept the second of the applicant's last message, and a case kept the second
it was submitted (or an audit entry the second an answer came in), equal times would name the
account behind the case. So times stored beside a pseudonym (drafts, traces, messages waiting
for a chat) are kept to the hour, and times stored beside a case or an audit entry to the day:
enough for expiry, retention and a queue's waiting time, and nothing finer to match.
"""

from __future__ import annotations

HOUR = 3600
DAY = 24 * HOUR


def to_hour(t: int) -> int:
    """Beside a pseudonym or a chat id: the start of the hour."""
    return t - t % HOUR


def to_day(t: int) -> int:
    """Beside a case or an audit entry: the start of the (UTC) day."""
    return t - t % DAY


def hour_after(t: int) -> int:
    """An expiry beside a pseudonym: the end of the hour, so nothing expires early."""
    return to_hour(t) + HOUR
