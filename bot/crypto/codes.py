"""Random codes people read, type or say, drawn with ``secrets``.

Case codes and receipt secrets use an alphabet without 0/O, 1/I/L, so a code copied by hand or
read off a small screen has one reading. The verification phrase is digits, because a coordinator
says it aloud over a phone in whatever language the applicant speaks, and every such language has
its own words (and for Burmese, its own numerals) for digits.
"""

from __future__ import annotations

import secrets

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CASE_CODE_LENGTH = 4
RECEIPT_GROUPS = 3
GROUP_LENGTH = 4
VERIFICATION_DIGIT_GROUPS = (3, 3, 4)

# Myanmar digits ၀-၉ typed back by an applicant mean the same as 0-9.
_MYANMAR_DIGITS = {0x1040 + d: str(d) for d in range(10)}
_SEPARATORS = {ord(c): None for c in " -_\t\n\u00a0"}


def new_case_code() -> str:
    """A short public handle such as ``K7QX`` (~20 bits): unique only if the store checks."""
    return _random_chars(CASE_CODE_LENGTH)


def new_receipt_secret() -> str:
    """A receipt such as ``K7QX-M3PA-9TRE`` (~59 bits); store only ``hash_secret`` of it."""
    return "-".join(_random_chars(GROUP_LENGTH) for _ in range(RECEIPT_GROUPS))


def new_verification_phrase() -> str:
    """Ten digits grouped like a phone number, such as ``482 915 7036`` (~33 bits)."""
    return " ".join(
        "".join(secrets.choice("0123456789") for _ in range(size))
        for size in VERIFICATION_DIGIT_GROUPS
    )


def canonical_code(text: str) -> str:
    """The form codes are stored and hashed in, from whatever a person typed back.

    Upper case, separators dropped, Myanmar digits as ASCII, then regrouped in fours with ``-``:
    ``" k7qx m3pa 9tre"`` becomes ``"K7QX-M3PA-9TRE"``, and ``"k7qx"`` becomes ``"K7QX"``. Codes
    made by this module are already canonical, so ``canonical_code(c) == c`` for them.
    """
    cleaned = text.translate(_MYANMAR_DIGITS).translate(_SEPARATORS).upper()
    return "-".join(cleaned[i : i + GROUP_LENGTH] for i in range(0, len(cleaned), GROUP_LENGTH))


def _random_chars(count: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(count))
