"""The coordinators' catalogue: English and Burmese hold the same keys and placeholders, and
every key the service asks for is there, so no coordinator ever meets a missing text."""

from __future__ import annotations

import ast
import re
import string
import tomllib
from importlib import resources
from pathlib import Path

import pytest

from bot.coordination import COORDINATOR_COMMANDS, Action, CaseState, commands_for
from bot.coordination.passphrase import REASONS
from bot.i18n import (
    COORDINATOR_LANGUAGES,
    CoordinatorCatalog,
    coordinator_language,
    written_languages,
)

SERVICE = Path(__file__).parent.parent / "bot" / "services" / "coordination.py"
MYANMAR = re.compile(r"[\u1000-\u109f]")


def _raw(lang: str) -> dict[str, str]:
    text = resources.files("bot.i18n").joinpath(f"coordinator_{lang}.toml").read_text("utf-8")
    return {key: str(value) for key, value in tomllib.loads(text).items()}


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_both_catalogues_have_every_key_and_the_same_placeholders() -> None:
    english, burmese = _raw("en"), _raw("my")
    assert set(english) == set(burmese)
    for key, text in english.items():
        assert _placeholders(text) == _placeholders(burmese[key]), key
        assert text.strip() and burmese[key].strip(), key


def test_burmese_texts_are_burmese_unicode() -> None:
    for key, text in _raw("my").items():
        if key != "language_usage":  # names both languages, each in its own script
            assert MYANMAR.search(text), key
        assert "\u200b" not in text, key  # no zero-width spaces pasted from a converter


def _keys_the_service_asks_for() -> set[str]:
    """String literals passed as the text key to ``_t``, ``_notify`` or kept in ``_DENIED``."""
    tree = ast.parse(SERVICE.read_text("utf-8"))
    keys: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            position = {"_t": 1, "_notify": 2}.get(node.func.attr)
            if position is not None and len(node.args) > position:
                arg = node.args[position]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    keys.add(arg.value)
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "_DENIED" for t in node.targets
        ):
            assert isinstance(node.value, ast.Dict)
            keys |= {v.value for v in node.value.values if isinstance(v, ast.Constant)}
    return keys


def test_every_key_the_service_uses_is_in_the_catalogue() -> None:
    used = _keys_the_service_asks_for()
    assert len(used) > 40  # the walk found the calls at all
    assert used <= set(_raw("en")), used - set(_raw("en"))


def test_keys_made_from_names_exist_for_every_name() -> None:
    keys = set(_raw("en"))
    needed = {f"help_{name}" for name in COORDINATOR_COMMANDS}
    needed |= {f"state_{state.value}" for state in CaseState}
    needed |= {f"next_{state.value}" for state in CaseState}
    needed |= {f"done_{action.value}" for action in Action}
    needed |= {"role_coordinator", "role_lead", *REASONS}
    assert needed <= keys, needed - keys


@pytest.mark.parametrize("lang", COORDINATOR_LANGUAGES)
def test_help_shows_each_command_with_an_example(lang: str) -> None:
    catalog = CoordinatorCatalog()
    example = "Example:" if lang == "en" else "ဥပမာ:"
    for name in commands_for("lead"):
        line = catalog.text(lang, f"help_{name}")
        assert line.startswith(f"/{name}") and f"{example} /{name}" in line, line


def test_numbers_are_shown_in_the_readers_digits() -> None:
    catalog = CoordinatorCatalog()
    assert "12" in catalog.text("en", "too_short", min=12)
    assert "၁၂" in catalog.text("my", "too_short", min=12)
    assert "K7QX" in catalog.text("my", "claimed", code="K7QX")  # a code is never translated


@pytest.mark.parametrize(
    ("given", "chosen"),
    [
        ("my", "my"),
        ("my-MM", "my"),
        ("MY", "my"),
        ("en", "en"),
        ("en-GB", "en"),
        ("th", "en"),
        ("", "en"),
        (None, "en"),
        ("my-zawgyi", "my"),
    ],
)
def test_a_telegram_language_code_picks_a_catalogue(given: str | None, chosen: str) -> None:
    assert coordinator_language(given) == chosen


def test_the_applicant_catalogues_do_not_count_the_coordinators() -> None:
    assert not any(lang.startswith("coordinator") for lang in written_languages())
