"""The bot's own texts: complete in every language, renderable, neutral at a glance, and the
Burmese written in Unicode so that Zawgyi phones can be served by converting it."""

from __future__ import annotations

import re
import string
import tomllib
import unicodedata
from collections import Counter
from importlib import resources

import pytest

from bot.i18n import ZAWGYI, Catalog, local_number, written_languages
from bot.text import (
    CONVERT_AT,
    UNCERTAIN_FROM,
    alarming_words_in,
    check_first_line,
    detect_zawgyi_probability,
    first_line,
    zawgyi_to_unicode,
)
from bot.text.graphemes import clusters
from bot.text.script import contains_myanmar, is_myanmar_char

#: Texts shown outside any chat: the bot's profile and its command menu.
PROFILE_KEYS_PREFIX = "cmd_"
PROFILE_KEYS = ("bot_description", "bot_short_description")

#: Burmese texts at least this long are sentences the Zawgyi detector judges with confidence.
DETECTABLE_LENGTH = 20

#: Values for the placeholders, each distinct and Latin so a rendering can be searched for it.
SAMPLE_VALUES: dict[str, object] = {
    "n": 3,
    "total": 12,
    "min": 1,
    "max": 400,
    "length": 523,
    "receipt": "K7QX-M2PD-4HTR",
    "phrase": "green lantern",
    "answer": "Mandalay",
}

SLASH_COMMAND = re.compile(r"(?<![\w/])/[a-z_]+")

#: Code points of Burmese as Unicode writes it; Zawgyi puts its stacked and reordered forms
#: on code points beyond this block's Burmese part (U+1060 onwards), so they show up here.
BURMESE_BLOCK = range(0x1000, 0x1050)


def _raw(lang: str) -> dict[str, object]:
    text = resources.files("bot.i18n").joinpath(f"{lang}.toml").read_text("utf-8")
    return tomllib.loads(text)


def _templates(lang: str) -> dict[str, str]:
    return {key: str(value) for key, value in _raw(lang).items()}


def _placeholders(template: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}


def _params(key: str) -> dict[str, object]:
    return {name: SAMPLE_VALUES.get(name, f"sample-{name}") for name in _placeholders(EN[key])}


EN = _templates("en")
WRITTEN = written_languages()
SHOWN = (*WRITTEN, ZAWGYI)
CATALOG = Catalog(SHOWN)
MY = _templates("my")


def _shared_keys(lang: str) -> list[str]:
    """Keys to render; a missing or extra key is reported once, by the completeness test."""
    return sorted(CATALOG.keys(lang) & EN.keys())


def _is_profile_key(key: str) -> bool:
    return key in PROFILE_KEYS or key.startswith(PROFILE_KEYS_PREFIX)


def _rendered(lang: str, key: str) -> str:
    return CATALOG.text(lang, key, **_params(key))


# --- completeness -------------------------------------------------------------------------


def test_the_languages_the_bot_offers_are_all_written() -> None:
    assert {"en", "my"} <= set(WRITTEN)
    assert ZAWGYI not in WRITTEN  # rendered from Unicode Burmese, never written by hand


def test_placeholders_are_read_by_name() -> None:
    assert _placeholders("Question {n} of {total}") == {"n", "total"}
    assert _placeholders("no fields, {{escaped}} braces") == set()
    assert _placeholders("{receipt}\n{phrase}") == {"receipt", "phrase"}


def test_english_placeholders_are_all_named() -> None:
    """The catalogue is formatted with keyword arguments only, so ``{}`` or ``{0}`` would fail."""
    for key, template in EN.items():
        for name in _placeholders(template):
            assert name.isidentifier(), (key, name)


@pytest.mark.parametrize("lang", WRITTEN)
def test_every_catalogue_has_exactly_the_english_keys(lang: str) -> None:
    keys = set(_raw(lang))
    assert sorted(set(EN) - keys) == [], f"{lang}.toml lacks these keys"
    assert sorted(keys - set(EN)) == [], f"{lang}.toml has keys English does not"
    assert CATALOG.keys(lang) == frozenset(EN)


@pytest.mark.parametrize("lang", WRITTEN)
def test_every_text_is_a_non_empty_string(lang: str) -> None:
    for key, value in _raw(lang).items():
        assert isinstance(value, str), key
        assert first_line(value), key


@pytest.mark.parametrize("lang", WRITTEN)
def test_every_text_has_the_english_placeholders(lang: str) -> None:
    texts = _templates(lang)
    for key in _shared_keys(lang):
        assert _placeholders(texts[key]) == _placeholders(EN[key]), (lang, key)


@pytest.mark.parametrize("lang", WRITTEN)
def test_slash_commands_are_kept_in_latin_letters(lang: str) -> None:
    texts = _templates(lang)
    for key in _shared_keys(lang):
        expected = Counter(SLASH_COMMAND.findall(EN[key]))
        assert Counter(SLASH_COMMAND.findall(texts[key])) == expected, (lang, key)


def test_each_language_button_has_its_own_name() -> None:
    names = [_templates(lang)["language_name"] for lang in WRITTEN]
    assert len(set(names)) == len(names)
    assert _templates("my")["language_name"] == "မြန်မာ"


# --- rendering ----------------------------------------------------------------------------


@pytest.mark.parametrize("lang", SHOWN)
def test_every_text_renders_with_its_values_in_place(lang: str) -> None:
    for key in _shared_keys(lang):
        rendered = _rendered(lang, key)
        assert rendered.strip(), (lang, key)
        for value in _params(key).values():
            shown = local_number(lang, value) if isinstance(value, int) else str(value)
            assert shown in rendered, (lang, key, value)
        assert "{" not in rendered, (lang, key)
        assert "}" not in rendered, (lang, key)


@pytest.mark.parametrize("key", _shared_keys("my"))
def test_zawgyi_phones_get_a_faithful_conversion(key: str) -> None:
    """Every Burmese word must map to Zawgyi: one left in Unicode would show as broken glyphs."""
    unicode_text = _rendered("my", key)
    zawgyi_text = _rendered(ZAWGYI, key)
    assert contains_myanmar(unicode_text), "the Burmese catalogue holds an untranslated text"
    assert zawgyi_text != unicode_text
    assert zawgyi_to_unicode(zawgyi_text) == unicodedata.normalize("NFC", unicode_text)


def test_burmese_screens_count_in_burmese_digits() -> None:
    assert CATALOG.text("my", "question_header", n=3, total=11) == "မေးခွန်း ၁၁ ခုထဲက ၃ ခုမြောက်"
    zawgyi = CATALOG.text(ZAWGYI, "question_header", n=3, total=11)
    assert (
        "၁၁" in zawgyi
        and "၃" in zawgyi
        and not any(char.isdigit() and char.isascii() for char in zawgyi)
    )
    assert CATALOG.text("en", "question_header", n=3, total=11) == "Question 3 of 11"
    assert CATALOG.text("my", "hint_number", min=0, max=20).startswith("၀ ကနေ ၂၀ အထိ")


def test_only_whole_numbers_change_digits() -> None:
    """A receipt code is typed back with /status: its digits stay as they were sent. The
    verification number is said aloud, so a Burmese reader gets it in Burmese digits."""
    assert "K7QX" in CATALOG.text("my", "status_usage") + CATALOG.text(
        "my", "submitted", receipt="K7QX-M2PD-4HTR", phrase="4711"
    )
    submitted = CATALOG.text("my", "submitted", receipt="K7QX-M2PD-4HTR", phrase="4711")
    assert "K7QX-M2PD-4HTR" in submitted and "၄၇၁၁" in submitted and "4711" not in submitted
    assert local_number("my", 1990) == "၁၉၉၀"
    assert local_number(ZAWGYI, 205) == "၂၀၅"
    assert local_number("en", 205) == "205"
    assert local_number("fr", 7) == "7"


# --- neutral at a glance ------------------------------------------------------------------


@pytest.mark.parametrize("lang", SHOWN)
def test_no_first_line_alarms_a_reader(lang: str) -> None:
    alarming = {
        key: words
        for key in _shared_keys(lang)
        if (words := check_first_line(_rendered(lang, key)))
    }
    assert alarming == {}


@pytest.mark.parametrize("lang", SHOWN)
def test_profile_and_command_menu_hold_no_alarming_word(lang: str) -> None:
    profile_keys = [key for key in _shared_keys(lang) if _is_profile_key(key)]
    assert len(profile_keys) > len(PROFILE_KEYS)
    alarming = {
        key: words for key in profile_keys if (words := alarming_words_in(_rendered(lang, key)))
    }
    assert alarming == {}


def test_the_alarm_check_sees_a_word_placed_on_a_first_line() -> None:
    """The neutrality tests above pass only because the texts are neutral, not by construction."""
    assert check_first_line(f"Soldier, {EN['welcome']}") != []
    assert check_first_line(f"စစ်တပ် {MY['welcome']}") != []
    assert check_first_line(f"{EN['welcome']}\nsoldier") == []


# --- Burmese is Unicode -------------------------------------------------------------------


def test_burmese_texts_are_in_nfc_and_use_only_unicode_burmese_letters() -> None:
    for key, text in MY.items():
        assert unicodedata.normalize("NFC", text) == text, key
        strays = {
            f"U+{ord(char):04X}"
            for char in text
            if is_myanmar_char(char) and ord(char) not in BURMESE_BLOCK
        }
        assert strays == set(), key


@pytest.mark.parametrize(
    "key", sorted(key for key, text in MY.items() if len(text) >= DETECTABLE_LENGTH)
)
def test_burmese_texts_read_as_unicode_not_zawgyi(key: str) -> None:
    assert detect_zawgyi_probability(MY[key]) < UNCERTAIN_FROM
    # The detector does tell the two apart: the same text rendered for Zawgyi scores high.
    assert detect_zawgyi_probability(_rendered(ZAWGYI, key)) >= CONVERT_AT


# --- lock screens and chat lists ----------------------------------------------------------

#: Lines a notification can show expanded (iOS about four, Android's big text style more).
NOTIFICATION_LINES = 12
#: Letters the chat list shows, with line breaks read as spaces, on a wide phone.
CHAT_LIST_CHARS = 100

#: Texts that carry what the team wrote, and the verification number, to the applicant.
TEAM_TEXTS = ("team_message", "next_step")


@pytest.mark.parametrize("lang", SHOWN)
@pytest.mark.parametrize("key", TEAM_TEXTS)
def test_team_messages_keep_their_content_off_the_lock_screen(lang: str, key: str) -> None:
    """The service sends these as plain text (bot/services/coordination.py): the catalogue
    alone has to keep the team's words and the number below what a glance shows."""
    rendered = CATALOG.text(lang, key, text="TEAMTEXT", phrase="482 915 7036")
    lines = rendered.splitlines()
    assert lines[0] == CATALOG.text(lang, key, text="", phrase="").splitlines()[0]
    glance = lines[:NOTIFICATION_LINES]
    assert not any("TEAMTEXT" in line or "482" in line for line in glance), glance
    chat_list = "".join(clusters(" ".join(rendered.split()))[:CHAT_LIST_CHARS])
    assert "TEAMTEXT" not in chat_list and "482" not in chat_list
    assert "TEAMTEXT" in rendered


def test_the_verification_number_is_called_a_number() -> None:
    submitted = CATALOG.text("en", "submitted", receipt="K7QX", phrase="482 915 7036")
    assert "they will first say: 482 915 7036\n" in submitted
    assert "your verification number. Do not trust anyone who cannot say it" in submitted
    assert "do not write it down on this phone" in submitted
    my = CATALOG.text("my", "submitted", receipt="K7QX", phrase="482 915 7036")
    assert "အတည်ပြုနံပါတ်" in my and "ဒီစကား" not in my  # one name, as the team's texts
    assert "ခေါင်းထဲမှာပဲ မှတ်ထားပါ" in my
    next_step = CATALOG.text("en", "next_step", text="x", phrase="482")
    assert "cannot say it" in next_step


def test_nothing_on_the_profile_or_the_last_screen_suggests_a_secret() -> None:
    assert EN["wipe_offer"] == "You can clear this chat now."
    assert MY["wipe_offer"] == "ဒီချတ်ကို အခု ရှင်းလို့ရပါတယ်။"
    assert EN["bot_description"].startswith("A step-by-step form.")
    for key in ("bot_description", "bot_short_description", "wipe_offer"):
        for word in ("private", "lock", "safe", "secret", "erase"):
            assert word not in EN[key].casefold(), (key, word)
        assert "သီးသန့်" not in MY[key] and "သော့" not in MY[key] and "စိတ်ချ" not in MY[key]
