"""Catalogues of the bot's own texts, one TOML file per written language.

Burmese for Zawgyi phones is not a separate catalogue: it is the Unicode Burmese text converted
when it is rendered, so the two can never drift apart. A new language (Karen, Kachin, Chin…) is
one more ``<code>.toml`` beside these with every key of ``en.toml``.
"""

from __future__ import annotations

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


def written_languages() -> list[str]:
    return sorted(
        entry.name.removesuffix(".toml")
        for entry in resources.files("bot.i18n").iterdir()
        if entry.name.endswith(".toml")
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
        lang = lang if lang in self.languages else DEFAULT_LANGUAGE
        template = _load(base_language(lang))[key]
        return render(lang, template.format(**params) if params else template)

    def localize(self, lang: str | None, texts: Mapping[str, str]) -> str:
        """Pick a questionnaire text (written per base language) for the applicant's language."""
        lang = lang if lang in self.languages else DEFAULT_LANGUAGE
        base = base_language(lang)
        return render(lang, texts.get(base) or texts[DEFAULT_LANGUAGE])

    def keys(self, lang: str) -> frozenset[str]:
        return frozenset(_load(base_language(lang)))
