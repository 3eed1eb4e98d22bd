"""Alarming words are found in any reading of a text, and only where they really are."""

from __future__ import annotations

import pytest

from bot.text import (
    ALARMING_WORDS,
    alarming_words_in,
    check_first_line,
    first_line,
    normalize_input,
    to_zawgyi,
)

ENGLISH = ALARMING_WORDS["en"]
BURMESE = ALARMING_WORDS["my"]


def test_both_languages_have_a_substantial_list() -> None:
    assert set(ALARMING_WORDS) >= {"en", "my"}
    assert len(ENGLISH) >= 25
    assert len(BURMESE) >= 25
    for words in ALARMING_WORDS.values():
        assert len(set(words)) == len(words)
        assert all(word.strip() == word and word for word in words)


def test_the_list_cannot_be_changed_at_run_time() -> None:
    with pytest.raises(TypeError):
        ALARMING_WORDS["xx"] = ("anything",)  # type: ignore[index]


@pytest.mark.parametrize("word", ENGLISH)
def test_every_english_word_is_found_in_a_sentence(word: str) -> None:
    assert word in alarming_words_in(f"Please note: {word} is mentioned here.")
    assert word in alarming_words_in(f"{word.upper()}!")


@pytest.mark.parametrize("word", BURMESE)
def test_every_burmese_word_is_found_in_a_sentence(word: str) -> None:
    assert word in alarming_words_in(f"ဒီစာထဲမှာ {word}အကြောင်း ပါတယ်")


@pytest.mark.parametrize("word", BURMESE)
def test_every_burmese_word_is_found_when_rendered_for_a_zawgyi_phone(word: str) -> None:
    rendered = to_zawgyi(f"ဒီစာထဲမှာ {word}အကြောင်း ပါတယ်")

    assert word in alarming_words_in(rendered)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Two SOLDIERS arrived", "soldier"),
        ("the armies", "army"),
        ("spies everywhere", "spy"),
        ("refugees", "refugee"),
        ("Leave   the\narmy", "leave the army"),
        ("People’s Defence Force", "People's Defence Force"),
        ("cdm", "CDM"),
        ("(PDF)", "PDF"),
        ("ＡＲＭＹ", "army"),  # fullwidth letters
        ("ar\u200bmy", "army"),  # a zero-width space cannot split a word
        ("စစ်\u200bတပ်", "စစ်တပ်"),
    ],
)
def test_words_are_found_in_their_usual_disguises(text: str, expected: str) -> None:
    assert expected in alarming_words_in(text)


@pytest.mark.parametrize(
    "text",
    [
        "Hello! Thank you for your message.",
        "Please choose your language.",
        "Your answer was saved. Send /back to change it.",
        "software toward begun spyware warm armadillo",
        "မင်္ဂလာပါ",
        "ကျေးဇူးတင်ပါတယ်",
        "ရဲရင့်",  # brave: starts with the syllable for police
        "ရဲရင့်သော သူ",
        "စစ်မှန်သော",  # genuine
        "အဖြေများကို ပြန်လည်စစ်ဆေးပါ",  # please check your answers
        "ဘာသာစကား ရွေးပါ",
        "သင့်အဖြေကို ရရှိပါပြီ",
        "မိသားစု",
        "စစ်ကိုင်းတိုင်း",  # Sagaing Region
        "",
    ],
)
def test_neutral_texts_pass(text: str) -> None:
    assert alarming_words_in(text) == []
    assert alarming_words_in(to_zawgyi(text)) == []


def test_each_word_is_reported_once_in_list_order() -> None:
    found = alarming_words_in("army ARMY soldier, စစ်သား စစ်သား")

    assert found == ["army", "soldier", "စစ်သား"]


def test_a_zawgyi_rendered_burmese_word_is_caught() -> None:
    zawgyi = "ေက်းဇူးတင္ပါတယ္ စစ္တပ္ထဲက ထြက္ေျပးလာတယ္"  # thanks, ran away from the army

    assert alarming_words_in(zawgyi) == ["စစ်တပ်", "ထွက်ပြေး"]
    assert check_first_line(zawgyi) == ["စစ်တပ်", "ထွက်ပြေး"]


def test_a_short_zawgyi_word_is_caught_even_when_the_detector_is_unsure() -> None:
    police_officer = "ရဲအရာရွိ"  # Zawgyi
    assert normalize_input(police_officer).uncertain  # intake would not convert it

    assert alarming_words_in(police_officer) == ["ရဲအရာရှိ"]


def test_a_word_on_the_second_line_is_allowed_by_the_first_line_check() -> None:
    message = "Thank you for your message.\nWe help soldiers who leave the army."

    assert check_first_line(message) == []
    assert alarming_words_in(message) == ["army", "soldier", "leave the army"]


def test_a_word_on_the_first_line_is_refused() -> None:
    assert check_first_line("Army contact form\nHello") == ["army"]
    assert check_first_line("\n\n  စစ်သား\nမင်္ဂလာပါ") == ["စစ်သား"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello\nWorld", "Hello"),
        ("\n\n  Hello  \nWorld", "Hello"),
        ("\r\n\t\r\nHello\r\nWorld", "Hello"),
        ("\u200b\nHello", "Hello"),
        ("   \n \n", ""),
        ("", ""),
        ("မင်္ဂလာပါ\nဒုတိယ", "မင်္ဂလာပါ"),
    ],
)
def test_first_line_is_the_first_visible_line(text: str, expected: str) -> None:
    assert first_line(text) == expected


def test_the_services_and_the_lowest_rank_are_on_the_list() -> None:
    assert {"ကြည်းတပ်", "ရေတပ်", "လေတပ်", "တပ်သား"} <= set(BURMESE)
    assert {"navy", "air force"} <= set(ENGLISH)
    assert alarming_words_in("He joined the Air Force") == ["air force"]
    assert "ရေတပ်" in alarming_words_in("ရေတပ်မှာ ရှိတယ်")
    assert check_first_line("ကြည်းတပ်၊ ရေတပ်\nfine") != []
