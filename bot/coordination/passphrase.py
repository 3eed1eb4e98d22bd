"""The least a coordinator passphrase must be before it guards a private key.

The passphrase is all that stands between a stolen, unlocked phone and every case its owner can
open, and Argon2id only slows guessing down: a passphrase from a guess list falls anyway. The
rules are deliberately few and explained in one word each, so a coordinator typing in Burmese or
English knows what to change. Nothing here stores or logs the passphrase.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

MIN_LENGTH = 12
MIN_DISTINCT = 6

TOO_SHORT = "too_short"
TOO_SIMPLE = "too_simple"
CONTAINS_CODE = "contains_code"

# Guess lists try these first, with digits and symbols tacked on; compared without case,
# spaces or trailing digits and symbols.
_COMMON_WORDS: frozenset[str] = frozenset(
    {
        "password",
        "passw0rd",
        "passphrase",
        "letmein",
        "welcome",
        "iloveyou",
        "admin",
        "administrator",
        "qwerty",
        "qwertyuiop",
        "asdfghjkl",
        "zxcvbnm",
        "abc",
        "abcdef",
        "abcdefgh",
        "monkey",
        "dragon",
        "sunshine",
        "princess",
        "football",
        "baseball",
        "superman",
        "trustno1",
        "secret",
        "changeme",
        "myanmar",
        "burma",
        "yangon",
        "rangoon",
        "mandalay",
        "naypyidaw",
        "telegram",
        "coordinator",
        "mingalaba",
        "mingalarbar",
    }
)

# Rows and columns people run a finger along; any stretch of these, either way, is a walk.
_WALKS: tuple[str, ...] = (
    "`1234567890-=",
    "qwertyuiop[]\\",
    "asdfghjkl;'",
    "zxcvbnm,./",
    "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik,9ol.0p;/",
    "qazwsxedcrfvtgbyhnujmikolp",
    "abcdefghijklmnopqrstuvwxyz",
    "0123456789",
    "\u1041\u1042\u1043\u1044\u1045\u1046\u1047\u1048\u1049\u1040",  # Myanmar digits ၁…၀
)
_WALK_TEXT = "\n".join((*_WALKS, *(walk[::-1] for walk in _WALKS)))


def passphrase_problem(passphrase: str, *, forbidden: Sequence[str] = ()) -> str | None:
    """``None`` if acceptable, else one reason key: ``too_short``, ``too_simple`` or
    ``contains_code``. ``forbidden`` holds strings it must not contain, such as the invite code
    or the coordinator's handle, matched ignoring case, spaces and separators."""
    text = unicodedata.normalize("NFC", passphrase).strip()
    if len(text) < MIN_LENGTH:
        return TOO_SHORT
    if _too_simple(text):
        return TOO_SIMPLE
    if _contains_any(text, forbidden):
        return CONTAINS_CODE
    return None


def _too_simple(text: str) -> bool:
    folded = "".join(text.casefold().split())
    if len(set(folded)) < MIN_DISTINCT or folded.isdigit():
        return True
    if _repeats(folded) or folded in _WALK_TEXT:
        return True
    base = folded.rstrip("0123456789!@#$%^&*()-_=+.,?;:~`'\"/\\|[]{}<>")
    return base in _COMMON_WORDS or base.lstrip("0123456789") in _COMMON_WORDS


def _repeats(text: str) -> bool:
    """True for one short piece said over and over: "abc123abc123", "ကခဂကခဂ..."."""
    size = len(text)
    return any(
        size % width == 0 and text[:width] * (size // width) == text
        for width in range(1, size // 2 + 1)
    )


def _contains_any(text: str, forbidden: Sequence[str]) -> bool:
    folded = text.casefold()
    compact = _compact(text)
    for item in forbidden:
        needle = unicodedata.normalize("NFC", item).strip().casefold()
        if needle and needle in folded:
            return True
        squeezed = _compact(item)
        if squeezed and squeezed in compact:
            return True
    return False


def _compact(text: str) -> str:
    """Letters, digits and marks only, so "K7QX-M3PA" and "k7qx m3pa" are one code."""
    folded = unicodedata.normalize("NFC", text).casefold()
    return "".join(ch for ch in folded if unicodedata.category(ch)[0] in "LNM")
