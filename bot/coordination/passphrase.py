"""The least a coordinator passphrase must be before it guards a private key.

The passphrase is all that stands between a stolen, unlocked phone and every case its owner can
open, and Argon2id only slows guessing down: a passphrase from a guess list falls anyway. The
rules are deliberately few and explained in one word each, so a coordinator typing in Burmese or
English knows what to change. Past those, zxcvbn estimates how many guesses the passphrase takes
(dictionaries, names, dates, keyboard walks, l33t spellings) and its feedback names the weakness;
each kind of feedback has a key of its own, so the coordinator reads the reason in their language.
Nothing here stores or logs the passphrase.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence

from zxcvbn import zxcvbn  # type: ignore[import-untyped]

MIN_LENGTH = 12
MIN_DISTINCT = 6
#: zxcvbn's scores run 0 to 4; 3 is "safely unguessable" against an offline attack that is slowed
#: down, which is what Argon2id makes of a stolen database.
MIN_SCORE = 3
#: zxcvbn refuses longer input; what follows the first 72 characters only adds strength.
ZXCVBN_MAX_LENGTH = 72

TOO_SHORT = "too_short"
TOO_SIMPLE = "too_simple"
CONTAINS_CODE = "contains_code"
WEAK_COMMON = "weak_common"
WEAK_WORD = "weak_word"
WEAK_NAMES = "weak_names"
WEAK_KEYBOARD = "weak_keyboard"
WEAK_REPEATS = "weak_repeats"
WEAK_SEQUENCE = "weak_sequence"
WEAK_DATES = "weak_dates"
WEAK_OTHER = "weak_other"  # guessable, and zxcvbn gave no warning (or one not listed here)

#: Every reason key ``passphrase_problem`` can return, for the catalogue test.
REASONS: tuple[str, ...] = (
    TOO_SHORT,
    TOO_SIMPLE,
    CONTAINS_CODE,
    WEAK_COMMON,
    WEAK_WORD,
    WEAK_NAMES,
    WEAK_KEYBOARD,
    WEAK_REPEATS,
    WEAK_SEQUENCE,
    WEAK_DATES,
    WEAK_OTHER,
)

# zxcvbn's warnings (its English sentences, stable across 4.x) by the reason key they explain.
_WARNINGS: Mapping[str, str] = {
    "This is a top-10 common password.": WEAK_COMMON,
    "This is a top-100 common password.": WEAK_COMMON,
    "This is a very common password.": WEAK_COMMON,
    "This is similar to a commonly used password.": WEAK_COMMON,
    "A word by itself is easy to guess.": WEAK_WORD,
    "Names and surnames by themselves are easy to guess.": WEAK_NAMES,
    "Common names and surnames are easy to guess.": WEAK_NAMES,
    "Straight rows of keys are easy to guess.": WEAK_KEYBOARD,
    "Short keyboard patterns are easy to guess.": WEAK_KEYBOARD,
    'Repeats like "aaa" are easy to guess.': WEAK_REPEATS,
    'Repeats like "abcabcabc" are only slightly harder to guess than "abc".': WEAK_REPEATS,
    'Sequences like "abc" or "6543" are easy to guess.': WEAK_SEQUENCE,
    "Recent years are easy to guess.": WEAK_DATES,
    "Dates are often easy to guess.": WEAK_DATES,
}

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
    """``None`` if acceptable, else one of ``REASONS``. ``forbidden`` holds strings it must not
    contain, such as the invite code or the coordinator's handle, matched ignoring case, spaces
    and separators; zxcvbn also counts them as known to an attacker."""
    text = unicodedata.normalize("NFC", passphrase).strip()
    if len(text) < MIN_LENGTH:
        return TOO_SHORT
    if _too_simple(text):
        return TOO_SIMPLE
    if _contains_any(text, forbidden):
        return CONTAINS_CODE
    return _weakness(text, forbidden)


def _weakness(text: str, forbidden: Sequence[str]) -> str | None:
    known = [item for item in forbidden if item]
    result = zxcvbn(text[:ZXCVBN_MAX_LENGTH], user_inputs=known)
    if int(result["score"]) >= MIN_SCORE:
        return None
    warning = str(result["feedback"].get("warning") or "")
    return _WARNINGS.get(warning, WEAK_OTHER)


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
