"""Catalogues of the bot's own texts, one TOML file per written language.

Burmese for Zawgyi phones is not a separate catalogue: it is the Unicode Burmese text converted
when it is rendered, so the two can never drift apart. A new language (Karen, Kachin, Chin…) is
one more ``<code>.toml`` beside these with every key of ``en.toml``.

Coordinators' texts are a catalogue of their own (``coordinator_<code>.toml``): another
audience, written for vetting under pressure, and changed on another rhythm than the form.
"""

from __future__ import annotations

import string
import tomllib
from collections.abc import Mapping
from functools import cache
from importlib import resources

from bot.text import to_zawgyi

ZAWGYI = "my-zawgyi"
DEFAULT_LANGUAGE = "en"

#: Languages the bot can speak, in the order their buttons appear.
LANGUAGES: tuple[str, ...] = ("en", "my", ZAWGYI)


def base_language(lang: str) -> str:
    """The catalogue a language's texts are written in (Zawgyi is rendered from Unicode Burmese)."""
    return "my" if lang == ZAWGYI else lang


def render(lang: str, unicode_text: str) -> str:
    """Put a text written in the base language into the encoding the applicant's phone shows."""
    return to_zawgyi(unicode_text) if lang == ZAWGYI else unicode_text


#: Digits a written language shows numbers in; a language not listed uses ASCII digits. Burmese
#: readers count in ၀-၉, and "11 ခုထဲက 3" in a Burmese sentence reads as foreign.
_DIGITS: Mapping[str, str] = {"my": "၀၁၂၃၄၅၆၇၈၉"}


_TO_DIGITS: Mapping[str, dict[int, int]] = {
    lang: str.maketrans("0123456789", digits) for lang, digits in _DIGITS.items()
}


def _in_digits(lang: str | None, text: str) -> str:
    """``text``'s ASCII digits in the digits of ``lang`` (Zawgyi Burmese shares the Unicode
    digits)."""
    table = _TO_DIGITS.get(base_language(lang or DEFAULT_LANGUAGE))
    return text.translate(table) if table else text


def local_number(lang: str | None, number: int) -> str:
    """``number`` in the digits of ``lang``."""
    return _in_digits(lang, str(number))


#: The format spec that writes a text's digits in the reader's digits: ``{phrase:digits}`` gives
#: the verification number "482 915 7036" as "၄၈၂ ၉၁၅ ၇၀၃၆" to a Burmese reader.
DIGITS_SPEC = "digits"


class _LocalFormatter(string.Formatter):
    """``str.format`` that writes whole numbers in a language's digits after their format spec,
    so ``{month:02}`` gives "03" in English and "၀၃" in Burmese: dates and weeks keep their
    fixed width in every language, and a number is never padded with the wrong zero. A text
    marked ``:digits`` has its digits written so too."""

    def __init__(self, lang: str) -> None:
        self.lang = lang

    def format_field(self, value: object, format_spec: str) -> str:
        if format_spec == DIGITS_SPEC:  # a text of digits, such as the verification number
            return _in_digits(self.lang, str(value))
        if isinstance(value, int) and not isinstance(value, bool):
            return _in_digits(self.lang, format(value, format_spec))
        return str(super().format_field(value, format_spec))


COORDINATOR_PREFIX = "coordinator_"


def written_languages() -> list[str]:
    """The applicant catalogues' languages (the coordinators' catalogue is not one of them)."""
    return sorted(
        entry.name.removesuffix(".toml")
        for entry in resources.files("bot.i18n").iterdir()
        if entry.name.endswith(".toml") and not entry.name.startswith(COORDINATOR_PREFIX)
    )


@cache
def _load(lang: str) -> Mapping[str, str]:
    raw = resources.files("bot.i18n").joinpath(f"{lang}.toml").read_text("utf-8")
    data = tomllib.loads(raw)
    return {key: str(value) for key, value in data.items()}


class Catalog:
    """Looks up a text by key for a language, falling back to English for unknown languages."""

    def __init__(self, languages: tuple[str, ...] = LANGUAGES) -> None:
        self.languages = languages
        for lang in languages:
            _load(base_language(lang))

    def text(self, lang: str | None, key: str, /, **params: object) -> str:
        """A catalogue text with its values in place; whole numbers in the language's digits."""
        lang = self._known(lang)
        return render(lang, self.unrendered(lang, key, **params))

    def unrendered(self, lang: str | None, key: str, /, **params: object) -> str:
        """``text`` before Zawgyi rendering, for a caller that must still shorten it."""
        lang = self._known(lang)
        template = _load(base_language(lang))[key]
        return _LocalFormatter(lang).vformat(template, (), params) if params else template

    def localize(self, lang: str | None, texts: Mapping[str, str]) -> str:
        """Pick a questionnaire text (written per base language) for the applicant's language."""
        lang = self._known(lang)
        return render(lang, self.pick(lang, texts))

    def pick(self, lang: str | None, texts: Mapping[str, str]) -> str:
        """``localize`` before Zawgyi rendering."""
        base = base_language(self._known(lang))
        return texts.get(base) or texts[DEFAULT_LANGUAGE]

    def number(self, lang: str | None, number: int) -> str:
        return local_number(self._known(lang), number)

    def render(self, lang: str | None, text: str) -> str:
        """Put text made from ``unrendered`` and ``pick`` into the phone's encoding."""
        return render(self._known(lang), text)

    def _known(self, lang: str | None) -> str:
        return lang if lang is not None and lang in self.languages else DEFAULT_LANGUAGE

    def keys(self, lang: str) -> frozenset[str]:
        return frozenset(_load(base_language(lang)))


#: Languages coordinators can read the bot's answers in; English first, the default.
COORDINATOR_LANGUAGES: tuple[str, ...] = ("en", "my")


def coordinator_language(code: str | None) -> str:
    """A coordinator catalogue for a language code as Telegram or a coordinator gives it
    ("my", "my-MM", "MY"); English for anything else. Zawgyi phones are not served apart:
    coordinators use the organisation's phones, set up for Unicode."""
    base = (code or "").strip().lower().replace("_", "-").split("-")[0]
    return base if base in COORDINATOR_LANGUAGES else DEFAULT_LANGUAGE


class CoordinatorCatalog:
    """The coordinators' texts, by key, in English or Burmese (``coordinator_<lang>.toml``)."""

    def __init__(self, languages: tuple[str, ...] = COORDINATOR_LANGUAGES) -> None:
        self.languages = languages
        for lang in languages:
            _load(COORDINATOR_PREFIX + lang)

    def text(self, lang: str | None, key: str, /, **params: object) -> str:
        """A text with its values in place; whole numbers in the language's digits."""
        lang = coordinator_language(lang)
        template = _load(COORDINATOR_PREFIX + lang)[key]
        return _LocalFormatter(lang).vformat(template, (), params) if params else template

    def keys(self, lang: str) -> frozenset[str]:
        return frozenset(_load(COORDINATOR_PREFIX + coordinator_language(lang)))
