"""What a reader sees as one letter, and where a Burmese line may be cut.

Python counts code points, and Burmese spends several on what a reader sees as one letter:
"ကြည့်" is five code points and two letters. Neither ``regex`` nor any other segmentation
package is among the locked dependencies, so the rules are written here from the Unicode
character data that ``unicodedata`` already carries.

``clusters`` follows the extended grapheme cluster rules of UAX #29 that matter for the bot's
texts: a base character takes every combining mark after it (general categories Mn, Mc and Me,
which cover all Myanmar medials, vowel signs, tone marks and the asat), ZWJ and ZWNJ, and a
character joined by ZWJ; CR LF stays one; regional indicators pair up. One addition for Myanmar,
which UAX #29 leaves to tailoring: the virama U+1039 stacks the next consonant under the one
before it ("န္တ", and the kinzi "င်္ဂ"), so the two are one cluster.

``shorten`` cuts only between syllables. A Myanmar syllable begins at a consonant that is not
killed by an asat or stacked by a virama (such a consonant closes the syllable before it,
"ကျော" + "င်း", "မ" + "န္တ") or at an
independent vowel, digit, punctuation or anything that is not Burmese (the rule of the widely
used sylbreak segmenter). Text is cut in Unicode, before any rendering for Zawgyi phones: cut
after rendering, a line could end in a Zawgyi ``ေ`` or ya-yit, which is typed before its
consonant and would dangle.
"""

from __future__ import annotations

import unicodedata

ELLIPSIS = "…"

_ZWNJ, _ZWJ = "\u200c", "\u200d"
_VIRAMA = "\u1039"
_ASAT = "\u103a"
_DOT_BELOW = "\u1037"
_EXTENDING_CATEGORIES = frozenset({"Mn", "Mc", "Me"})
_REGIONAL_INDICATORS = range(0x1F1E6, 0x1F200)


def _extends(char: str) -> bool:
    return char in (_ZWNJ, _ZWJ) or unicodedata.category(char) in _EXTENDING_CATEGORIES


def _is_myanmar_consonant(char: str) -> bool:
    return "\u1000" <= char <= "\u1021"


def _pairs(first: str, second: str) -> bool:
    """CR LF, and two regional indicators (one flag), are one cluster."""
    if first == "\r":
        return second == "\n"
    return bool(second) and all(ord(char) in _REGIONAL_INDICATORS for char in first + second)


def clusters(text: str) -> list[str]:
    """``text`` split into what a reader sees as single letters (see the module docstring)."""
    found: list[str] = []
    index = 0
    while index < len(text):
        end = index + 1
        if _pairs(text[index], text[end : end + 1]):
            end += 1
        while end < len(text):
            char, before = text[end], text[end - 1]
            if _extends(char) or (before in (_VIRAMA, _ZWJ) and not char.isspace()):
                end += 1
            else:
                break
        found.append(text[index:end])
        index = end
    return found


def length(text: str) -> int:
    """How many letters a reader counts in ``text``."""
    return len(clusters(text))


def _starts_syllable(cluster: str) -> bool:
    first = cluster[0]
    if not _is_myanmar_consonant(first):
        return True
    rest = cluster[1:].lstrip(_DOT_BELOW)
    return not rest.startswith((_ASAT, _VIRAMA))


def syllables(text: str) -> list[str]:
    """``text`` split where a line may be cut without breaking a syllable apart."""
    found: list[str] = []
    for cluster in clusters(text):
        if found and not _starts_syllable(cluster):
            found[-1] += cluster
        else:
            found.append(cluster)
    return found


def shorten(text: str, limit: int, ellipsis: str = ELLIPSIS) -> str:
    """``text`` if it has at most ``limit`` letters, else its longest run of whole syllables
    that fits with ``ellipsis`` within ``limit`` letters, and the ellipsis."""
    if length(text) <= limit:
        return text
    room = limit - length(ellipsis)
    kept: list[str] = []
    used = 0
    for syllable in syllables(text):
        size = length(syllable)
        if used + size > room:
            break
        kept.append(syllable)
        used += size
    if not kept:  # one syllable longer than the room: whole letters at least
        kept = clusters(text)[: max(room, 0)]
    return "".join(kept).rstrip() + ellipsis
