"""How close two cases' answers are: the same person, or the same probe, coming in again.

The other side sends probes, and a probe is often sent more than once with the same story; a
person turned away may try again. The form never asks for a name, a unit or an ID, so what is
left to compare is the answers themselves: the same service, rank level, years, region, family
size and contact window, and free text that reads nearly the same, in either script.

Plain Python over answers already opened in memory: the caller passes only cases its reader can
open, and nothing computed here is ever stored or posted.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

#: Free texts at least this alike (difflib's ratio, after normalising) count as the same answer.
TEXT_ALIKE = 0.8
#: A case is named as close from this share of its answers the same...
CLOSE_SHARE = 0.75
#: ...over at least this many answers, so two nearly empty forms are not "close".
MIN_COMPARED = 4
#: A typed answer is compared on its first this many characters (folded): longer stories say
#: whether they are the same by then, and the comparison's cost grows with the square of it.
TEXT_COMPARED = 300
#: Several close cases sent within this many days of each other make a burst.
BURST_DAYS = 1
BURST_SIZE = 3

_DAY = 86400
_NOT_WORD = re.compile(r"[\W_]+")

Answer = str | int | float | tuple[str, ...] | None


@dataclass(frozen=True)
class CaseAnswers:
    """One case as the comparison sees it: its code, its day, and each question's answer.

    ``texts`` holds, for a free-text answer, every reading worth comparing (as stored, and a
    Zawgyi conversion where the script was uncertain)."""

    code: str
    submitted_at: int
    choices: Mapping[str, Answer]
    texts: Mapping[str, tuple[str, ...]]


@dataclass(frozen=True)
class Closeness:
    code: str
    same: int
    compared: int
    days_apart: int


def text_readings(
    text: str, uncertain: bool, to_unicode: Callable[[str], str | None]
) -> tuple[str, ...]:
    """The readings of a typed answer to compare: as stored and, where the script was in doubt
    (kept as typed), as converted from Zawgyi, each folded to letters and digits."""
    readings = [text]
    if uncertain:
        converted = to_unicode(text)
        if converted and converted != text:
            readings.append(converted)
    return tuple(dict.fromkeys(_fold(r)[:TEXT_COMPARED] for r in readings))


def _fold(text: str) -> str:
    """Case, spacing, punctuation and digit script do not make two answers different."""
    text = unicodedata.normalize("NFC", text).casefold()
    text = "".join(str(unicodedata.decimal(c)) if c.isdecimal() else c for c in text)
    return _NOT_WORD.sub(" ", text).strip()


def _texts_alike(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    return any(_alike(x, y) for x in a for y in b)


def _alike(x: str, y: str) -> bool:
    """difflib's ratio, asked only when its two cheap upper bounds (lengths, then letters in
    common) leave the pair a chance of reaching ``TEXT_ALIKE``. The readings are already cut to
    ``TEXT_COMPARED`` characters."""
    if x == y:
        return True
    if not (x and y):
        return False
    matcher = SequenceMatcher(None, x, y)
    return (
        matcher.real_quick_ratio() >= TEXT_ALIKE
        and matcher.quick_ratio() >= TEXT_ALIKE
        and matcher.ratio() >= TEXT_ALIKE
    )


def _may_be_close(a: CaseAnswers, b: CaseAnswers) -> bool:
    """Whether ``b`` can be close to ``a`` at all, from the button answers alone (cheap): even
    if every typed answer both have were alike, would the share reach ``CLOSE_SHARE``?"""
    choices = set(a.choices) | set(b.choices)
    texts = set(a.texts) | set(b.texts)
    compared = len(choices) + len(texts)
    same = sum(1 for q in set(a.choices) & set(b.choices) if a.choices[q] == b.choices[q])
    best = same + len(set(a.texts) & set(b.texts))
    return compared >= MIN_COMPARED and best >= CLOSE_SHARE * compared


def compare(a: CaseAnswers, b: CaseAnswers) -> Closeness:
    """How many of the questions either case answered have the same answer in both."""
    same = compared = 0
    for qid in set(a.choices) | set(b.choices):
        compared += 1
        if qid in a.choices and qid in b.choices and a.choices[qid] == b.choices[qid]:
            same += 1
    for qid in set(a.texts) | set(b.texts):
        compared += 1
        if qid in a.texts and qid in b.texts and _texts_alike(a.texts[qid], b.texts[qid]):
            same += 1
    days = abs(a.submitted_at // _DAY - b.submitted_at // _DAY)
    return Closeness(b.code, same, compared, days)


def is_close(found: Closeness) -> bool:
    return found.compared >= MIN_COMPARED and found.same >= CLOSE_SHARE * found.compared


def closest(case: CaseAnswers, others: Sequence[CaseAnswers], *, most: int = 3) -> list[Closeness]:
    """The other cases close to ``case``, closest first (then nearest in time, then code)."""
    found = [
        compare(case, other)
        for other in others
        if other.code != case.code and _may_be_close(case, other)
    ]
    close = [c for c in found if is_close(c)]
    close.sort(key=lambda c: (-c.same / c.compared, c.days_apart, c.code))
    return close[:most]


def bursts(cases: Sequence[CaseAnswers]) -> list[tuple[str, ...]]:
    """Groups of at least ``BURST_SIZE`` cases, each close to another of the group and sent
    within ``BURST_DAYS`` of it: several near-identical forms at once, worth a line in the
    queue. Each group's codes in order, groups by their first code."""
    parent = {case.code: case.code for case in cases}

    def root(code: str) -> str:
        while parent[code] != code:
            parent[code] = parent[parent[code]]
            code = parent[code]
        return code

    for i, a in enumerate(cases):
        for b in cases[i + 1 :]:
            if abs(a.submitted_at - b.submitted_at) > (BURST_DAYS + 1) * _DAY:
                continue
            if not _may_be_close(a, b):
                continue
            found = compare(a, b)
            if found.days_apart <= BURST_DAYS and is_close(found):
                parent[root(b.code)] = root(a.code)
    groups: dict[str, list[str]] = {}
    for case in cases:
        groups.setdefault(root(case.code), []).append(case.code)
    return sorted(tuple(sorted(g)) for g in groups.values() if len(g) >= BURST_SIZE)
