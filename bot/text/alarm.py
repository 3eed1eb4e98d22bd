"""Words that must not show where a glance can see them: the bot's name, description, command
descriptions and the first line of every message (the part a lock-screen notification or a
scrolled chat list shows to whoever holds the phone at a checkpoint).

Every list is checked against every text, whatever its language, so an English acronym in a
Burmese message is still caught. English words match case-insensitively on word boundaries,
with an optional plural ("s", "es", "y" to "ies"). Burmese is written without spaces between
words, so Burmese words match as substrings, and a short word that also lives inside harmless
words is listed only in its telling compounds. "ရဲ" (police) is the case in point: it is the
first syllable of "ရဲရင့်" (brave), so the list has "ရဲတပ်ဖွဲ့",
"ရဲအရာရှိ", "ရဲဝန်ထမ်း"... and never the bare syllable. Bare "စစ်" (war,
but also "to check" in "စစ်ဆေး" and "genuine" in "စစ်မှန်") is left out
the same way.

A text is checked in two readings, as Unicode and as Zawgyi converted to Unicode, whatever the
detector thinks of it, so a word rendered for a Zawgyi phone cannot slip through. Both readings
are put in NFC with invisible format characters removed, so a zero-width space or a different
order of marks cannot split a word either.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from functools import cache
from types import MappingProxyType

from bot.text.script import contains_myanmar
from bot.text.zawgyi import zawgyi_to_unicode

_ENGLISH: tuple[str, ...] = (
    "defect",
    "defected",
    "defector",
    "defection",
    "desert",
    "deserted",
    "deserter",
    "desertion",
    "military",
    "army",
    "navy",
    "air force",
    "soldier",
    "police",
    "policeman",
    "policemen",
    "junta",
    "tatmadaw",
    "sit-tat",
    "coup",
    "resistance",
    "revolution",
    "CDM",
    "civil disobedience",
    "PDF",
    "People's Defence Force",
    "People's Defense Force",
    "NUG",
    "National Unity Government",
    "escape",
    "escaped",
    "flee",
    "fled",
    "fleeing",
    "rebel",
    "regime",
    "war",
    "weapon",
    "gun",
    "battalion",
    "regiment",
    "troop",
    "armed",
    "militia",
    "uniform",
    "intelligence",
    "informer",
    "spy",
    "asylum",
    "refugee",
    "leave the army",
    "quit",
    "checkpoint",
)

_BURMESE: tuple[str, ...] = (
    "စစ်တပ်",  # the military
    "တပ်မတော်",  # Tatmadaw
    "စစ်သား",  # soldier
    "တပ်သား",  # private, the lowest rank
    "ကြည်းတပ်",  # army
    "ရေတပ်",  # navy
    "လေတပ်",  # air force
    "စစ်ကောင်စီ",  # military council (the junta)
    "စစ်အစိုးရ",  # military government
    "စစ်ဘက်",  # military side, military-
    "စစ်ကြောင်း",  # military column
    "စစ်ဆင်ရေး",  # military operation
    "စစ်ပွဲ",  # war, battle
    "စစ်ဝတ်စုံ",  # military uniform
    "စစ်မှုထမ်း",  # military service, conscription
    "စစ်ရှောင်",  # people displaced by fighting
    "ပြည်သူ့စစ်",  # militia
    "ရဲတပ်ဖွဲ့",  # police force
    "ရဲအရာရှိ",  # police officer
    "ရဲဝန်ထမ်း",  # police staff
    "ရဲစခန်း",  # police station
    "ရဲဘော်",  # comrade (resistance usage)
    "တပ်ဖွဲ့",  # armed force, unit
    "တပ်ရင်း",  # battalion
    "တပ်ပြေး",  # deserter
    "တပ်ထွက်",  # leaving the army
    "ထွက်ပြေး",  # flee, escape
    "ပြည်သူ့ဘက်ရပ်",  # joining the people's side (defection)
    "တော်လှန်ရေး",  # revolution
    "အာဏာသိမ်း",  # coup
    "အာဏာရှင်",  # dictator
    "အာဏာဖီဆန်ရေး",  # civil disobedience (CDM)
    "ကာကွယ်ရေးတပ်",  # defence force (PDF, local defence forces)
    "ပြည်သူ့ကာကွယ်ရေးတပ်",  # People's Defence Force
    "အမျိုးသားညီညွတ်ရေးအစိုးရ",  # National Unity Government
    "နယ်ခြားစောင့်",  # border guard
    "လက်နက်",  # weapon
    "သေနတ်",  # gun
    "သူလျှို",  # spy
    "သတင်းပေးသူ",  # informer
    "ထောက်လှမ်းရေး",  # intelligence service
    "သူပုန်",  # rebel
    "ပုန်ကန်",  # mutiny, revolt
    "အကြမ်းဖက်",  # terrorist (the regime's label)
    "ဒုက္ခသည်",  # refugee
    "ခိုလှုံ",  # seek refuge, asylum
    "ဖမ်းဆီး",  # arrest
)

ALARMING_WORDS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {"en": _ENGLISH, "my": tuple(unicodedata.normalize("NFC", word) for word in _BURMESE)}
)


def alarming_words_in(text: str) -> list[str]:
    """Every listed word found anywhere in ``text``, in list order, each once."""
    readings = _readings(text)
    found: list[str] = []
    for words in ALARMING_WORDS.values():
        for word in words:
            if word not in found and any(_matches(word, reading) for reading in readings):
                found.append(word)
    return found


def first_line(text: str) -> str:
    """The first line with anything visible on it, stripped; "" if there is none."""
    for line in text.splitlines():
        if _visible(line).strip():
            return line.strip()
    return ""


def check_first_line(text: str) -> list[str]:
    """The listed words in the line a notification preview shows first."""
    return alarming_words_in(first_line(text))


def _readings(text: str) -> tuple[str, ...]:
    unicode_reading = _canonical(text)
    if not contains_myanmar(text):
        return (unicode_reading,)
    as_zawgyi = zawgyi_to_unicode(text)
    if as_zawgyi is None:
        return (unicode_reading,)
    return (unicode_reading, _canonical(as_zawgyi))


def _canonical(text: str) -> str:
    return unicodedata.normalize("NFC", _visible(text))


def _visible(text: str) -> str:
    """``text`` without format characters (zero-width space, joiners, soft hyphen...)."""
    return "".join(char for char in text if unicodedata.category(char) != "Cf")


def _matches(word: str, reading: str) -> bool:
    if _is_latin(word):
        return _latin_pattern(word).search(unicodedata.normalize("NFKC", reading)) is not None
    return word in reading


def _is_latin(word: str) -> bool:
    return word.isascii()


@cache
def _latin_pattern(word: str) -> re.Pattern[str]:
    parts: Iterable[str] = (re.escape(part) for part in word.split())
    body = r"\s+".join(parts).replace("'", "['\u2019]")
    plural = "(?:e?s)?"
    if body.endswith("y"):  # army, armies; spy, spies
        body, plural = body[:-1], "(?:y|ies)"
    return re.compile(rf"(?<![^\W_]){body}{plural}(?![^\W_])", re.IGNORECASE)
