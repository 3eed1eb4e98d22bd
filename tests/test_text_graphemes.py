"""Letters as a reader counts them, and cuts that never split a Burmese syllable.

Every expected split below is written out by hand from how the words are read, not produced by
the code under test.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.text import to_zawgyi
from bot.text.graphemes import ELLIPSIS, clusters, length, shorten, syllables

CLUSTERS = {
    "ကြည့်": ["ကြ", "ည့်"],  # five code points, two letters
    "ကျောင်း": ["ကျော", "င်း"],
    "မင်္ဂလာ": ["မ", "င်္ဂ", "လာ"],  # kinzi rides on the consonant it sits on
    "မန္တလေး": ["မ", "န္တ", "လေး"],  # stacked consonants are one letter
    "ဥက္ကဋ္ဌ": ["ဥ", "က္က", "ဋ္ဌ"],
    "ဦး": ["ဦး"],
    "၁၂": ["၁", "၂"],
    "ab": ["a", "b"],
    "e\u0301": ["e\u0301"],
    "\r\n": ["\r\n"],
    "🇲🇲🇹🇭": ["🇲🇲", "🇹🇭"],
    "👩\u200d👧!": ["👩\u200d👧", "!"],
}

SYLLABLES = {
    "ကြည့်တဲ့": ["ကြည့်", "တဲ့"],
    "ကျောင်းသား": ["ကျောင်း", "သား"],
    "မင်္ဂလာပါ": ["မင်္ဂ", "လာ", "ပါ"],
    "မန္တလေး": ["မန္တ", "လေး"],
    "ကျွန်ုပ်တို့": ["ကျွန်ုပ်", "တို့"],
    "သင်္ချိုင်း": ["သင်္ချိုင်း"],
    "ခင်ဗျာ ၁၂": ["ခင်", "ဗျာ", " ", "၁", "၂"],
}


@pytest.mark.parametrize(("text", "expected"), CLUSTERS.items())
def test_clusters_are_what_a_reader_sees(text: str, expected: list[str]) -> None:
    assert clusters(text) == expected
    assert length(text) == len(expected)


@pytest.mark.parametrize(("text", "expected"), SYLLABLES.items())
def test_syllables_keep_killed_and_stacked_consonants_with_their_syllable(
    text: str, expected: list[str]
) -> None:
    assert syllables(text) == expected


def test_shorten_cuts_between_syllables_and_counts_letters() -> None:
    text = "သက်ဆိုင်သူ၏ ယခုလက်ရှိ အခြေအနေ"
    # Syllables and their letters: သက် (2) ဆိုင် (2) သူ (1) ၏ (1), a space (1), ...
    # Seven letters leave six beside the ellipsis: the first four syllables exactly.
    assert shorten(text, 7) == "သက်ဆိုင်သူ၏" + ELLIPSIS
    # Three letters of room: "ဆိုင်" would be split after "ဆို", so the cut comes before it.
    assert shorten(text, 4) == "သက်" + ELLIPSIS
    assert shorten(text, 100) == text


def test_shorten_never_leaves_a_dangling_e_vowel_on_a_zawgyi_phone() -> None:
    label = "သက်ဆိုင်သူ၏ ယခုလက်ရှိ အခြေအနေနှင့် အနီးစပ်ဆုံး"
    for limit in range(2, length(label)):
        rendered = to_zawgyi(shorten(label, limit))
        body = rendered.removesuffix(ELLIPSIS)
        assert not body.endswith(("\u1031", "\u103b", *map(chr, range(0x107E, 0x1085)))), limit


def test_shorten_counts_the_ellipsis_and_falls_back_to_letters() -> None:
    assert shorten("abcdef", 4) == "abc" + ELLIPSIS
    assert shorten("သင်္ချိုင်းသင်္ချိုင်း", 3) == "သ" + "င်္ချို" + ELLIPSIS


@given(st.text(alphabet="ကခဂငစညတနပမယရလဝသအါာိီုူေဲံ့်္ျြွှ ၁၂abc", max_size=40))
def test_shortening_keeps_a_prefix_within_the_limit(text: str) -> None:
    for limit in (1, 5, 12):
        short = shorten(text, limit)
        assert length(short) <= max(limit, 1) or short == text
        assert text.startswith(short.removesuffix(ELLIPSIS).rstrip()) or short == text
