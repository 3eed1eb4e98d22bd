"""The words the rules put into lines a coordinator reads, looked up by key.

The rules stay free of catalogues and languages: a caller hands in a ``Words`` lookup (the
service binds the coordinators' catalogue to the reader's language), and the rules only choose
keys and values. ``english`` is the lookup used when none is given: group notices, which every
coordinator reads, and the rules' own tests. ``coordinator_en.toml`` holds the same texts under
the same keys, and a test keeps the two equal, so English reads the same either way.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Protocol


class Words(Protocol):
    """A text by catalogue key, with its values in place, in the reader's language."""

    def __call__(self, key: str, /, **params: object) -> str: ...


#: The English texts of every key the rules ask for; the same as in ``coordinator_en.toml``.
ENGLISH: Mapping[str, str] = MappingProxyType(
    {
        "state_submitted": "submitted",
        "state_claimed": "claimed",
        "state_approved": "approved",
        "state_rejected": "rejected",
        "state_handed_off": "handed off",
        "state_closed": "closed",
        "triage_in_danger": "in danger",
        "triage_not_safe": "not safe",
        "triage_left": "left",
        "triage_still_there": "still there",
        "triage_flagged": "flagged",
        "triage_none": "no triage",
        "list_separator": ", ",
        "queue_waiting": "waiting {age}",
        "queue_unclaimed": "unclaimed",
        "notice_new_case": "New case {code} · triage: {triage}",
        "notice_triage_none": "none",
        "age_today": "since today",
        "age_days": "{n} d",
    }
)


def english(key: str, /, **params: object) -> str:
    """The English ``Words``: no catalogue needed, numbers in ASCII digits."""
    template = ENGLISH[key]
    return template.format(**params) if params else template
