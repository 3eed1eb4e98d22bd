"""What a Zawgyi phone draws: the bot's texts checked against Zawgyi written out by hand.

The expected strings below are spelt code point by code point from the Zawgyi font's glyph
table, not taken from any converter, so a converter bug cannot hide in its own expectations.
Zawgyi code points that differ from Unicode's meaning: U+1039 asat, U+103A ya-pin, U+103B ya-yit,
U+103C wa, U+103D ha-htoe, U+1031 written before the consonant; U+1060-U+1097 stacked consonants,
shape variants and ligatures.
"""

from __future__ import annotations

import re

import pytest

from bot.i18n import ZAWGYI, Catalog
from bot.intake.questionnaire import load_questionnaire
from bot.text import (
    CONVERT_AT,
    UNCERTAIN_FROM,
    detect_zawgyi_probability,
    to_zawgyi,
    zawgyi_to_unicode,
)
from bot.text.script import contains_myanmar

HAND_WRITTEN = {
    # dot below and asat: Zawgyi asat is U+1039; U+103A here would draw a ya-pin
    "ကြည့်": "\u107e\u1000\u100a\u1039\u1037",  # wide ya-yit, ka, nnya, asat, dot
    "သင့်": "\u101e\u1004\u1039\u1037",
    "မကြည့်တဲ့": "\u1019\u107e\u1000\u100a\u1039\u1037\u1010\u1032\u1037",
    "ပြန့်": "\u103b\u1015\u1014\u1039\u1094",  # dot shifted right after na
    "သန့်": "\u101e\u1014\u1039\u1094",
    "ပို့": "\u1015\u102d\u102f\u1094",
    # ya-yit with wa below: the ya-yit cut at the bottom, wa kept
    "ကြွ": "\u1082\u1000\u103c",
    "ကြွေး": "\u1031\u1082\u1000\u103c\u1038",
    "ပြွန်": "\u1081\u1015\u103c\u1014\u1039",  # narrow ya-yit cut at the bottom
    # ya-pin with wa, and the na without its tail above a u
    "ကျွန်တော်": "\u1000\u107d\u103c\u1014\u1039\u1031\u1010\u102c\u1039",
    "ကျွန်ုပ်": "\u1000\u107d\u103c\u108f\u1039\u102f\u1015\u1039",
    # the tall and the short aa as written, whatever the consonant
    "ဓာတ်ပုံ": "\u1013\u102c\u1010\u1039\u1015\u102f\u1036",
    "ပါ": "\u1015\u102b",
    "ပေါ်": "\u1031\u1015\u105a",  # tall aa and asat as one glyph
    # e vowel written first, before any ya-yit
    "ကျော်": "\u1031\u1000\u103a\u102c\u1039",
    "ပြော": "\u1031\u103b\u1015\u102c",
    "ရွေး": "\u1031\u1090\u103c\u1038",  # short ra above the wa
    "ရှေ့": "\u1031\u101b\u103d\u1095",
    "မြို့": "\u107f\u1019\u102d\u1033\u1095",  # ya-yit cut at the top, long u
    "နှိပ်": "\u108f\u103d\u102d\u1015\u1039",
    # kinzi, and kinzi fused with the i vowel above
    "မင်္ဂလာ": "\u1019\u1002\u1064\u101c\u102c",
    "အင်္ဂလိပ်": "\u1021\u1002\u1064\u101c\u102d\u1015\u1039",
    "သင်္ချိုင်း": "\u101e\u1001\u103a\u108b\u1033\u1004\u1039\u1038",
    "တနင်္သာရီ": "\u1010\u1014\u101e\u1064\u102c\u101b\u102e",
    # stacked consonants
    "မန္တလေး": "\u1019\u108f\u1071\u1031\u101c\u1038",
    "ကမ္ဘာ": "\u1000\u1019\u107b\u102c",
    "အန္တရာယ်": "\u1021\u108f\u1071\u101b\u102c\u101a\u1039",
    "ဥက္ကဋ္ဌ": "\u1025\u1000\u1060\u1092",
}

#: In Zawgyi U+103A is ya-pin, a medial: it follows a consonant (or a stacked one), never a
#: vowel sign, anusvara or any of the three dot-below glyphs.
YAPIN_AFTER_A_MARK = re.compile("[\u102b-\u1032\u1036\u1037\u1094\u1095]\u103a")

#: Long enough for the detector to be sure of the encoding (see tests/test_i18n.py).
DETECTABLE_LENGTH = 20


@pytest.mark.parametrize(("unicode", "zawgyi"), HAND_WRITTEN.items())
def test_zawgyi_matches_the_hand_written_spelling(unicode: str, zawgyi: str) -> None:
    assert to_zawgyi(unicode) == zawgyi


@pytest.mark.parametrize(("unicode", "zawgyi"), HAND_WRITTEN.items())
def test_hand_written_zawgyi_reads_back_as_the_unicode(unicode: str, zawgyi: str) -> None:
    assert zawgyi_to_unicode(zawgyi) == unicode


def test_the_ya_pin_check_sees_the_old_rendering() -> None:
    assert YAPIN_AFTER_A_MARK.search("\u101e\u1004\u1037\u103a")  # "သင့်" copied through
    assert not YAPIN_AFTER_A_MARK.search(HAND_WRITTEN["ကျော်"])  # ya-pin after its consonant


def _bot_texts() -> list[tuple[str, str]]:
    """Every Burmese text an applicant can be shown, as (where, Unicode)."""
    catalog = Catalog()
    texts = [(f"catalogue {key}", catalog.text("my", key)) for key in sorted(catalog.keys("my"))]
    questionnaire = load_questionnaire(languages=["en", "my", ZAWGYI])
    for question in questionnaire.questions:
        texts.append((f"question {question.id}", question.text["my"]))
        for option in question.options:
            texts.append((f"option {question.id}.{option.id}", option.text["my"]))
    return [(where, text) for where, text in texts if contains_myanmar(text)]


BOT_TEXTS = _bot_texts()


def test_the_bot_texts_are_all_here() -> None:
    assert len(BOT_TEXTS) > 100


@pytest.mark.parametrize(("where", "text"), BOT_TEXTS, ids=[where for where, _ in BOT_TEXTS])
def test_no_zawgyi_text_draws_a_stray_ya_pin(where: str, text: str) -> None:
    rendered = to_zawgyi(text)

    assert not YAPIN_AFTER_A_MARK.search(rendered), where
    assert zawgyi_to_unicode(rendered) == text


@pytest.mark.parametrize(("where", "text"), BOT_TEXTS, ids=[where for where, _ in BOT_TEXTS])
def test_the_detector_tells_each_rendering_apart(where: str, text: str) -> None:
    """Short labels ("ဟုတ်ကဲ့") are too short for the detector's thresholds; the Zawgyi still
    reads as more Zawgyi than the Unicode does."""
    unicode_score = detect_zawgyi_probability(text)
    zawgyi_score = detect_zawgyi_probability(to_zawgyi(text))

    assert zawgyi_score > unicode_score, where
    if len(text) >= DETECTABLE_LENGTH:
        assert zawgyi_score >= CONVERT_AT, where
        assert unicode_score < UNCERTAIN_FROM, where
