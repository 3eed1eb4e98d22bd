"""Zawgyi in, Unicode stored; Unicode in, Zawgyi shown to phones that need it.

The thresholds are the two that myanmartools' authors publish for its detector:

``CONVERT_AT`` (0.95)
    fewer than 1% of Unicode strings score this high, so converting without asking is safe.
``UNCERTAIN_FROM`` (0.05)
    fewer than 1% of Zawgyi strings score lower, so below it the text is taken as Unicode.

Between them the text is kept exactly as typed and flagged for a coordinator, who can read it in
either font. Sentences land far outside the band (a few words of either encoding score below
1e-7 or above 0.9999); what lands in it is one or two syllables: Zawgyi "ဟုတ္ကဲ့" ("yes")
scores about 0.66 and a lone Zawgyi "မဂၤလာပါ" about 0.54, Unicode "အိမ်" ("home") about 0.05.

Two refinements keep the flag for texts where it means something:

* when reading the text as Zawgyi changes nothing (many syllables, such as "ကို" or "ပါ", are
  spelt the same in both), there is no doubt to resolve;
* text holding a code point that Zawgyi never uses (``script.contains_never_zawgyi``: Shan,
  Mon, Pa'O and other extensions) is not converted whatever the detector says. The detector
  already scores real Shan, Mon and Karen text near zero; this covers short words it is unsure
  of (Pa'O "ယိုꩻယာႏ" scores about 0.47) and sends a detector/code-point contradiction to a human.

Converted text is put in NFC. No Myanmar character has a decomposition except U+1026 (ဦ, which
NFC composes from ဥ + ီ) and the only reordering is dot below before asat, Unicode's own order,
so NFC cannot damage well-formed Burmese; it tidies what the converter emits.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass

from bot.text.backends import convert, raw_zawgyi_probability
from bot.text.script import contains_myanmar, contains_never_zawgyi

CONVERT_AT = 0.95
UNCERTAIN_FROM = 0.05

_WHITESPACE_RUN = re.compile(r"(\s+)")


@dataclass(frozen=True, slots=True)
class NormalizedText:
    """What to store for one typed text, and what a coordinator should know about it.

    ``text`` is Unicode when ``converted``; when ``uncertain`` it is exactly what was typed and
    may be Zawgyi. ``probability`` is the detector's score (0.0 with no Burmese to judge).
    """

    text: str
    converted: bool
    uncertain: bool
    probability: float


def detect_zawgyi_probability(text: str) -> float:
    """The probability that ``text`` is Zawgyi rather than Unicode; 0.0 if it has no Burmese."""
    if not contains_myanmar(text):
        return 0.0
    probability = raw_zawgyi_probability(text)
    return probability if math.isfinite(probability) else 0.0


def zawgyi_to_unicode(text: str) -> str | None:
    """``text`` read as Zawgyi, in Unicode NFC, or ``None`` if it is not readable as Zawgyi."""
    converted = convert(_split_kinzi_ligatures(text), "zawgyi", "unicode")
    return None if converted is None else unicodedata.normalize("NFC", converted)


#: Zawgyi medials that come between a consonant and its upper vowel.
_MEDIALS = "[\u103a\u107d\u103c\u103d\u1087\u108a]*"

#: Kinzi fused with an upper vowel, which python-myanmar's Zawgyi reader does not know; it reads
#: the kinzi only straight after the consonant, before any medial.
_KINZI_LIGATURE = re.compile(f"({_MEDIALS})([\u108b-\u108d])")
_KINZI_VOWEL = {"\u108b": "\u102d", "\u108c": "\u102e", "\u108d": "\u1036"}


def _split_kinzi_ligatures(zawgyi: str) -> str:
    return _KINZI_LIGATURE.sub(lambda match: f"\u1064{match[1]}{_KINZI_VOWEL[match[2]]}", zawgyi)


def normalize_input(text: str) -> NormalizedText:
    """Decide what to store for ``text`` typed by an applicant (see the module docstring)."""
    if not contains_myanmar(text):
        return NormalizedText(text, converted=False, uncertain=False, probability=0.0)
    probability = detect_zawgyi_probability(text)
    if probability < UNCERTAIN_FROM:
        return NormalizedText(text, converted=False, uncertain=False, probability=probability)
    as_unicode = zawgyi_to_unicode(text)
    if as_unicode == unicodedata.normalize("NFC", text):
        return NormalizedText(text, converted=False, uncertain=False, probability=probability)
    if contains_never_zawgyi(text):
        contradiction = probability >= CONVERT_AT
        return NormalizedText(
            text, converted=False, uncertain=contradiction, probability=probability
        )
    if as_unicode is None or probability < CONVERT_AT:
        return NormalizedText(text, converted=False, uncertain=True, probability=probability)
    return NormalizedText(as_unicode, converted=True, uncertain=False, probability=probability)


def to_zawgyi(unicode_text: str) -> str:
    """``unicode_text`` rendered for a phone whose font is Zawgyi.

    Non-Burmese parts (markup, placeholders, Latin text, line breaks) pass through unchanged. A
    word the converter cannot map is left in Unicode rather than dropped, so a message is never
    shortened; the catalogue tests are where such a word should be noticed.
    """
    if not contains_myanmar(unicode_text):
        return unicode_text
    source = unicodedata.normalize("NFC", unicode_text)
    whole = _render(source)
    if whole is not None:
        return whole
    pieces = _WHITESPACE_RUN.split(source)
    return "".join(_piece_to_zawgyi(piece) for piece in pieces)


def _piece_to_zawgyi(piece: str) -> str:
    if not contains_myanmar(piece):
        return piece
    converted = _render(piece)
    return piece if converted is None else converted


def _render(unicode_text: str) -> str | None:
    converted = convert(_DOT_BELOW_THEN_ASAT.sub("\u103a\u1037", unicode_text), "unicode", "zawgyi")
    if converted is None:
        return None
    for pattern, replacement in _ZAWGYI_SHAPES:
        converted = pattern.sub(replacement, converted)
    return converted


#: NFC (and Unicode's own spelling) puts the dot below before the asat. python-myanmar's tables
#: only know the asat-first order: given NFC it copies U+103A through unchanged, and a Zawgyi
#: font draws U+103A as ya-pin, so "ကြည့်" showed a ya-pin hanging under the syllable.
_DOT_BELOW_THEN_ASAT = re.compile("\u1037\u103a")

#: Zawgyi glyph choices the converter gets wrong or spells unlike Zawgyi keyboards, applied to
#: its output. Zawgyi has no shaping engine: each variant is a separate code point.
_ZAWGYI_SHAPES: tuple[tuple[re.Pattern[str], str], ...] = (
    # Kinzi and an upper vowel both sit above the consonant and collide; Zawgyi draws the pair
    # as one glyph (U+108B-U+108D), placed where the vowel would be.
    (re.compile(f"\u1064({_MEDIALS})\u102d"), "\\1\u108b"),
    (re.compile(f"\u1064({_MEDIALS})\u102e"), "\\1\u108c"),
    (re.compile(f"\u1064({_MEDIALS})\u1036"), "\\1\u108d"),
    # "ကျွန်ုပ်": the u under a na needs the na without its tail; the converter reads the
    # asat-then-u contraction as two syllables and never chooses it.
    (re.compile("\u1014\u1039\u102f"), "\u108f\u1039\u102f"),
    # Short ya-pin then wa, the order a Zawgyi keyboard types ("ကၽြန္ေတာ္"); both draw the same.
    (re.compile("\u103c\u107d"), "\u107d\u103c"),
)
