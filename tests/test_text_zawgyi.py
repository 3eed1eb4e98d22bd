"""Zawgyi detection and conversion on real Burmese, Shan, Mon, Karen and Pa'O phrases."""

from __future__ import annotations

import subprocess
import sys
import unicodedata

import pytest
from myanmar.converter import convert as library_convert
from myanmar.converter import encoders as library_encoders

from bot.text import (
    CONVERT_AT,
    UNCERTAIN_FROM,
    NormalizedText,
    detect_zawgyi_probability,
    normalize_input,
    to_zawgyi,
    zawgyi_to_unicode,
)
from bot.text import zawgyi as zawgyi_module
from bot.text.script import contains_never_zawgyi, is_never_zawgyi_char

# Well-formed Unicode Burmese: greetings, thanks, names, places, family, time.
UNICODE_SENTENCES = [
    "ကျေးဇူးတင်ပါတယ်",
    "နေကောင်းလား",
    "မင်္ဂလာပါ ခင်ဗျာ",
    "ကျွန်တော့်နာမည် မောင်မောင် ပါ",
    "ကျွန်မ ရန်ကုန်မှာ နေပါတယ်",
    "မနက်ဖြန် ပြန်လာမယ်",
    "ဒီနေ့ မိုးရွာနေတယ်",
    "မြန်မာစာ ဖတ်တတ်ပါသလား",
    "ကျွန်တော့် မိသားစု ကျန်းမာပါတယ်",
    "အမေ့ကို ဖုန်းဆက်ချင်တယ်",
    "ဘယ်အချိန် ဆက်သွယ်ရမလဲ",
    "ကျွန်တော် မန္တလေးက လာတာပါ",
    "ကြိုးစားပါ",
    "သင်္ချိုင်း",
    "အပြည်ပြည်ဆိုင်ရာ လူ့အခွင့်အရေး ကြေညာစာတမ်း",
]

# Zawgyi as a Zawgyi keyboard produces it, typed independently of the converter under test.
HAND_TYPED_ZAWGYI = {
    "ေက်းဇူးတင္ပါတယ္": "ကျေးဇူးတင်ပါတယ်",
    "မဂၤလာပါ ခင္ဗ်ာ": "မင်္ဂလာပါ ခင်ဗျာ",
    "ေနေကာင္းလား": "နေကောင်းလား",
    "ကၽြန္ေတာ္": "ကျွန်တော်",
    "ၿမိဳ႕": "မြို့",
    "ႏိုင္ငံ": "နိုင်ငံ",
    "ေက်ာင္း": "ကျောင်း",
    "ဘယ္မွာလဲ": "ဘယ်မှာလဲ",
    "အျပည္ျပည္ဆိုင္ရာ လူ႔အခြင့္အေရး ေၾကညာစာတမ္း": "အပြည်ပြည်ဆိုင်ရာ လူ့အခွင့်အရေး ကြေညာစာတမ်း",
}

SHAN = ["မႂ်ႇသုင်ၶႃႈ", "ၶွပ်ႈၸႂ်", "ၵႂၢမ်းတႆး", "မိူင်းတႆး", "လိၵ်ႈတႆး", "ၵူၼ်းတႆး"]
MON = ["မ္ၚဵုရအဴ", "တၚ်ဂုဏ်", "ဘာသာမန်", "ဂကူမန်", "အက္ခရ်မန်", "ပ္ဍဲဍုၚ်"]
SGAW_KAREN = ["ကညီကျိာ်", "တၢ်ဘျုး", "ကညီသးစၢ်", "ကညီပိာ်မုၣ်", "တၢ်ကစီၣ်"]
PAO = ["စောက်ꩻလိုꩻခွိုꩻ", "ကိုꩻကွဲႏ", "ယိုꩻယာႏ"]

# Zawgyi words too short for the detector to be sure of, whose Unicode reading differs.
AMBIGUOUS_ZAWGYI = ["ဟုတ္ကဲ့", "မဂၤလာပါ"]


def _zawgyi_of(sentence: str) -> str:
    converted = library_convert(sentence, "unicode", "zawgyi")
    assert isinstance(converted, str)
    return converted


@pytest.mark.parametrize("sentence", UNICODE_SENTENCES)
def test_zawgyi_made_by_the_converter_is_stored_as_unicode(sentence: str) -> None:
    zawgyi = _zawgyi_of(sentence)
    assert zawgyi != sentence

    result = normalize_input(zawgyi)

    assert result.text == sentence
    assert result.converted is True
    assert result.uncertain is False
    assert result.probability >= CONVERT_AT


@pytest.mark.parametrize(("zawgyi", "unicode"), HAND_TYPED_ZAWGYI.items())
def test_hand_typed_zawgyi_is_stored_as_unicode(zawgyi: str, unicode: str) -> None:
    result = normalize_input(zawgyi)

    assert result == NormalizedText(
        unicode, converted=True, uncertain=False, probability=result.probability
    )


@pytest.mark.parametrize("sentence", UNICODE_SENTENCES)
def test_unicode_is_left_untouched(sentence: str) -> None:
    result = normalize_input(sentence)

    assert result.text is sentence
    assert not result.converted
    assert not result.uncertain
    assert result.probability < UNCERTAIN_FROM


@pytest.mark.parametrize("phrase", SHAN + MON + SGAW_KAREN + PAO)
def test_minority_language_unicode_is_not_taken_for_zawgyi(phrase: str) -> None:
    result = normalize_input(phrase)

    assert result.text == phrase
    assert not result.converted
    assert not result.uncertain


def test_shan_is_not_converted_even_if_the_detector_were_wrong(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shan = "မႂ်ႇသုင်ၶႃႈ ႘ ႙"  # Shan hello, Shan digits 8 and 9
    assert contains_never_zawgyi(shan)
    monkeypatch.setattr(zawgyi_module, "raw_zawgyi_probability", lambda _text: 0.999)

    result = normalize_input(shan)

    assert result.text == shan
    assert not result.converted
    assert result.uncertain  # the detector and the code points disagree: a human decides


def test_pao_word_the_detector_is_unsure_of_is_resolved_by_its_code_points() -> None:
    word = "ယိုꩻယာႏ"
    assert UNCERTAIN_FROM <= detect_zawgyi_probability(word) < CONVERT_AT

    assert normalize_input(word) == NormalizedText(
        word, converted=False, uncertain=False, probability=detect_zawgyi_probability(word)
    )


def test_never_zawgyi_code_points_are_absent_from_the_zawgyi_table() -> None:
    zawgyi_glyphs = "".join(library_encoders["zawgyi"].table.values())

    assert zawgyi_glyphs
    assert not any(is_never_zawgyi_char(char) for char in zawgyi_glyphs)


@pytest.mark.parametrize("sentence", UNICODE_SENTENCES)
def test_zawgyi_renderings_never_use_unicode_only_code_points(sentence: str) -> None:
    assert not contains_never_zawgyi(to_zawgyi(sentence))


@pytest.mark.parametrize("zawgyi", AMBIGUOUS_ZAWGYI)
def test_ambiguous_short_zawgyi_is_kept_as_typed_and_flagged(zawgyi: str) -> None:
    result = normalize_input(zawgyi)

    assert result.text == zawgyi
    assert not result.converted
    assert result.uncertain


def test_ambiguous_word_in_a_sentence_is_converted() -> None:
    assert normalize_input("မဂၤလာပါ ခင္ဗ်ာ").converted


@pytest.mark.parametrize("same_in_both", ["ကို", "ပါ", "သူ", "ငါ", "ညီ", "ရဲ"])
def test_text_spelt_the_same_in_both_encodings_is_not_flagged(same_in_both: str) -> None:
    assert zawgyi_to_unicode(same_in_both) == same_in_both

    result = normalize_input(same_in_both)

    assert result.text == same_in_both
    assert not result.converted
    assert not result.uncertain


def test_zawgyi_followed_by_shan_digits_is_kept_and_flagged() -> None:
    mixed = "ေက်းဇူးတင္ပါတယ္ ႘"

    result = normalize_input(mixed)

    assert result.text == mixed
    assert result.uncertain
    assert not result.converted


def test_zawgyi_the_converter_cannot_read_is_kept_flagged_and_never_printed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    typo = "အႉူ႔"  # Zawgyi ha-htoe-uu ligature followed by a second uu
    assert zawgyi_to_unicode(typo) is None

    result = normalize_input(typo)

    assert result.text == typo
    assert result.uncertain
    assert not result.converted
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == ""


@pytest.mark.parametrize(
    "text", ["Hello, I would like to talk.", "", "   ", "12345", "Ko Aung, 1990", "😀"]
)
def test_text_without_burmese_is_returned_unchanged(text: str) -> None:
    assert normalize_input(text) == NormalizedText(
        text, converted=False, uncertain=False, probability=0.0
    )
    assert detect_zawgyi_probability(text) == 0.0
    assert to_zawgyi(text) == text


def test_latin_parts_of_a_zawgyi_message_survive_conversion() -> None:
    result = normalize_input("Hi! ေက်းဇူးတင္ပါတယ္ (Ko Aung)\nline 2")

    assert result.text == "Hi! ကျေးဇူးတင်ပါတယ် (Ko Aung)\nline 2"
    assert result.converted


@pytest.mark.parametrize("sentence", UNICODE_SENTENCES)
def test_nfc_leaves_well_formed_burmese_alone(sentence: str) -> None:
    assert unicodedata.normalize("NFC", sentence) == sentence


def test_converted_text_is_nfc() -> None:
    for zawgyi in HAND_TYPED_ZAWGYI:
        text = normalize_input(zawgyi).text
        assert unicodedata.is_normalized("NFC", text)


def test_probabilities_are_between_zero_and_one() -> None:
    for text in [*UNICODE_SENTENCES, *HAND_TYPED_ZAWGYI, *SHAN, *MON, "abc"]:
        assert 0.0 <= detect_zawgyi_probability(text) <= 1.0


@pytest.mark.parametrize("sentence", UNICODE_SENTENCES)
def test_to_zawgyi_round_trips(sentence: str) -> None:
    rendered = to_zawgyi(sentence)

    assert rendered != sentence
    assert detect_zawgyi_probability(rendered) >= CONVERT_AT
    assert zawgyi_to_unicode(rendered) == sentence


def test_to_zawgyi_keeps_markup_placeholders_and_lines() -> None:
    rendered = to_zawgyi("<b>ကျေးဇူးတင်ပါတယ်</b> {code}\n/help ၁၂၃")

    assert rendered == "<b>ေက်းဇူးတင္ပါတယ္</b> {code}\n/help ၁၂၃"


def test_to_zawgyi_keeps_a_word_it_cannot_map_and_converts_the_rest(
    capsys: pytest.CaptureFixture[str],
) -> None:
    rendered = to_zawgyi("၎ ကျေးဇူးတင်ပါတယ်")

    assert rendered == "၎ ေက်းဇူးတင္ပါတယ္"
    assert capsys.readouterr().out == ""


def test_models_load_only_when_first_needed() -> None:
    probe = (
        "import sys, bot.text; "
        "print('myanmartools' in sys.modules, 'myanmar.converter' in sys.modules)"
    )
    completed = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )

    assert completed.stdout.split() == ["False", "False"]
