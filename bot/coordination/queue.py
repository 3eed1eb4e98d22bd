"""The coordinators' queue: which case needs someone first, in lines that say nothing about it.

Only the triage answer of the default questionnaire is read (``status``), and only compared
with its fixed option ids, so nothing an applicant wrote can reach a queue
line or a group notice even if an operator marks other questions as triage. The notice's first
line shows in notifications on coordinators' phones, so it is neutral: a code and triage words.

Every word of a queue line comes from a ``Words`` lookup, so each coordinator reads the queue in
the language they chose; without one, lines are English (as group notices always are).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from bot.coordination.states import CaseState, state_word
from bot.coordination.words import Words, english

SEPARATOR = " · "

# The ``status`` options and what each says: (in danger, not in a safe place, already left).
_STATUS_SIGNALS: dict[str, tuple[bool, bool, bool]] = {
    "in_danger": (True, False, False),
    "still_there": (False, False, False),
    "not_safe": (False, True, True),
    "left": (False, False, True),
}
_NO_SIGNAL = (False, False, False)

# Bits, so each signal outranks every combination of the ones below it.
_IN_DANGER = 16
_NOT_SAFE = 8
_LEFT = 4
_FLAGGED = 2
_UNCLAIMED = 1

_MINUTE = 60
_HOUR = 60 * _MINUTE
_DAY = 24 * _HOUR


@dataclass(frozen=True)
class QueueItem:
    code: str
    state: CaseState
    submitted_at: int
    assignee_handle: str | None
    triage: Mapping[str, object]
    flagged: bool


def priority(item: QueueItem) -> int:
    """Higher is more urgent: in danger, then not in a safe place, then already left (and so
    missed), then flagged; among equals an unclaimed case comes before a claimed one."""
    in_danger, not_safe, left = _signals(item.triage)
    score = 0
    if in_danger:
        score |= _IN_DANGER
    if not_safe:
        score |= _NOT_SAFE
    if left:
        score |= _LEFT
    if item.flagged:
        score |= _FLAGGED
    if item.assignee_handle is None:
        score |= _UNCLAIMED
    return score


def order(items: Iterable[QueueItem]) -> list[QueueItem]:
    """Most urgent first; among equals the one waiting longest, then by code for a stable list."""
    return sorted(items, key=lambda item: (-priority(item), item.submitted_at, item.code))


def triage_words(
    triage: Mapping[str, object], *, flagged: bool = False, words: Words = english
) -> list[str]:
    """Fixed words for the triage answers, most urgent first; never an answer's own text."""
    keys: list[str] = []
    in_danger, not_safe, left = _signals(triage)
    if in_danger:
        keys.append("triage_in_danger")
    if not_safe:
        keys.append("triage_not_safe")
    if left:
        keys.append("triage_left")
    elif triage.get("status") in _STATUS_SIGNALS:
        keys.append("triage_still_there")
    if flagged:
        keys.append("triage_flagged")
    return [words(key) for key in keys]


def _signals(triage: Mapping[str, object]) -> tuple[bool, bool, bool]:
    status = triage.get("status")
    return _STATUS_SIGNALS.get(status, _NO_SIGNAL) if isinstance(status, str) else _NO_SIGNAL


def format_waiting(submitted_at: int, now: int, *, words: Words = english) -> str:
    """How long a case has waited, in days ("since today", "2 d").

    A case's submission is stored to the day (so rows cannot be joined by time), and an age in
    hours counted from midnight would call a case sent a minute ago "20 h" old: a coordinator
    sorting by urgency must not be misled, so the queue says no more than the day tells."""
    days = now // _DAY - submitted_at // _DAY
    if days <= 0:
        return words("age_today")
    return words("age_days", n=days)


def queue_lines(items: Sequence[QueueItem], *, now: int, words: Words = english) -> list[str]:
    """One line per case, in the order given (pass it through ``order`` first), such as
    ``K7QX · claimed · in danger, still there · waiting 2 d · C-7K3Q``, in ``words``' language."""
    return [_line(item, now, words) for item in items]


def locked_queue_lines(
    items: Iterable[QueueItem], *, now: int, words: Words = english
) -> list[str]:
    """The queue for a phone whose key is locked: codes and ages only, oldest first.

    No triage, no flag, no state and no holder, and an order that follows age alone: a
    phone taken with its key locked must not learn which applicant is in danger, not even from
    which case comes first."""
    by_age = sorted(items, key=lambda item: (item.submitted_at, item.code))
    return [
        SEPARATOR.join(
            (
                item.code,
                words("queue_waiting", age=format_waiting(item.submitted_at, now, words=words)),
            )
        )
        for item in by_age
    ]


def notice_text(
    code: str,
    triage: Mapping[str, object],
    *,
    flagged: bool = False,
    languages: Sequence[Words] = (english,),
) -> str:
    """The group notice for a new case, one line per language the group reads, e.g.
    ``New case K7QX · triage: in danger``. Everyone in the group reads it, so it comes in every
    coordinator language, English first: its first line is what a phone's notification shows."""
    lines = []
    for words in languages:
        said = triage_words(triage, flagged=flagged, words=words)
        shown = words("list_separator").join(said) or words("notice_triage_none")
        lines.append(words("notice_new_case", code=code, triage=shown))
    return "\n".join(lines)


def _line(item: QueueItem, now: int, words: Words) -> str:
    triage = triage_words(item.triage, flagged=item.flagged, words=words)
    return SEPARATOR.join(
        (
            item.code,
            state_word(item.state, words),
            words("list_separator").join(triage) or words("triage_none"),
            words("queue_waiting", age=format_waiting(item.submitted_at, now, words=words)),
            item.assignee_handle or words("queue_unclaimed"),
        )
    )
