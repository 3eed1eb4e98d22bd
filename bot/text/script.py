"""Code-point facts about the Myanmar script that the Zawgyi rules and the word check rely on.

Zawgyi is not an encoding of its own: it is a font that draws Burmese glyphs on the code points
of the Myanmar Unicode block, including those Unicode assigns to Shan, Mon, Karen and other
languages (Zawgyi puts stacked consonants and ligatures on U+1060-U+1097). So the presence of a
minority-language code point is, by itself, no sign of Unicode. Only the points listed in
``_NOT_IN_ZAWGYI`` are: neither python-myanmar's Zawgyi table nor the CLDR/Rabbit Zawgyi-to-
Unicode rules read any of them, so no Zawgyi keyboard produces them and a Zawgyi font has no
glyph for them. They occur in Unicode Shan (U+1022, Shan digits 8-9, tone marks U+109A-U+109D),
Mon (U+1028, U+1035, U+105B-U+105F), Pali/Sanskrit (U+1050-U+1059) and in the two extension
blocks (Khamti, Aiton, Pa'O, Tai Laing...). U+105A (Mon NGA) is deliberately absent: Zawgyi
uses it for the tall-aa-plus-asat ligature.
"""

from __future__ import annotations

_MYANMAR_RANGES: tuple[tuple[int, int], ...] = (
    (0x1000, 0x109F),  # Myanmar
    (0xA9E0, 0xA9FF),  # Myanmar Extended-B
    (0xAA60, 0xAA7F),  # Myanmar Extended-A
)

_NOT_IN_ZAWGYI: tuple[tuple[int, int], ...] = (
    (0x1022, 0x1022),  # Shan letter A
    (0x1028, 0x1028),  # Mon letter E
    (0x1035, 0x1035),  # vowel sign E above (Mon)
    (0x1050, 0x1059),  # Pali and Sanskrit letters and vowel signs
    (0x105B, 0x105F),  # Mon letters and medials
    (0x1098, 0x109F),  # Shan digits 8-9, Khamti/Aiton tone marks, Shan symbols
    (0xA9E0, 0xA9FF),  # Myanmar Extended-B
    (0xAA60, 0xAA7F),  # Myanmar Extended-A
)


def _in(ranges: tuple[tuple[int, int], ...], char: str) -> bool:
    code = ord(char)
    return any(low <= code <= high for low, high in ranges)


def is_myanmar_char(char: str) -> bool:
    """True for any code point of the Myanmar blocks, whatever language or font it serves."""
    return _in(_MYANMAR_RANGES, char)


def contains_myanmar(text: str) -> bool:
    """Whether there is anything in ``text`` a Zawgyi rule could apply to."""
    return any(is_myanmar_char(char) for char in text)


def is_never_zawgyi_char(char: str) -> bool:
    """True for a code point that only Unicode text uses (see the module docstring)."""
    return _in(_NOT_IN_ZAWGYI, char)


def contains_never_zawgyi(text: str) -> bool:
    """Whether ``text`` holds evidence, independent of the detector, that it is Unicode."""
    return any(is_never_zawgyi_char(char) for char in text)
