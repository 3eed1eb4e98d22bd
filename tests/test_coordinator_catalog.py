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

from bot.coordination import (
    AUDIT_ACTIONS,
    COORDINATOR_COMMANDS,
    Action,
    CaseState,
    QueueItem,
    Words,
    commands_for,
    english,
    entry_line,
    notice_text,
    queue_lines,
)
from bot.coordination.passphrase import REASONS
from bot.coordination.vetting import Refusal
from bot.coordination.words import ENGLISH
from bot.i18n import (
    COORDINATOR_LANGUAGES,
    CoordinatorCatalog,
    coordinator_language,
    written_languages,
)
from bot.services.coordination.vetting import _REFUSALS

BOT = Path(__file__).parent.parent / "bot"
SERVICE = sorted((BOT / "services" / "coordination").glob("*.py"))  # the service, by part
# The pure rules and the case view take a ``words`` lookup and call it with a catalogue key.
WORD_USERS = [*sorted((BOT / "coordination").glob("*.py")), BOT / "services" / "case_view.py"]
# Texts that only lay out values (numbers, codes, handles) and so hold no Burmese letter.
LAYOUT_ONLY = {
    "language_usage",
    "audit_line",
    "case_when",
    "vetting_named",
    "vetting_note",
    "vetting_todo",
}
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
        if key not in LAYOUT_ONLY:  # language_usage names both languages, each in its script
            assert MYANMAR.search(text), key
        assert "\u200b" not in text, key  # no zero-width spaces pasted from a converter


def _keys_the_service_asks_for() -> set[str]:
    """String literals passed as the text key to ``_t``, ``_notify`` or kept in ``_DENIED``."""
    keys: set[str] = set()
    trees = [ast.parse(path.read_text("utf-8")) for path in SERVICE]
    for node in (node for tree in trees for node in ast.walk(tree)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            position = {"_t": 1, "_notify": 2}.get(node.func.attr)
            if position is not None and len(node.args) > position:
                arg = node.args[position]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    keys.add(arg.value)
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id in ("_DENIED", "_REFUSALS") for t in node.targets
        ):
            assert isinstance(node.value, ast.Dict)
            keys |= {v.value for v in node.value.values if isinstance(v, ast.Constant)}
    return keys


def test_every_key_the_service_uses_is_in_the_catalogue() -> None:
    assert set(_REFUSALS) == set(Refusal)  # each refusal of the vetting rules has its text
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
    needed |= {f"audit_{action}" for action in AUDIT_ACTIONS}
    needed |= {"actor_operator", "actor_system", "actor_other_team"}
    needed |= {f"case_{name}" for name in ("note", "ask", "decision", "handoff")}
    assert needed <= keys, needed - keys


def _keys_the_rules_ask_for() -> set[str]:
    """String literals passed as the key to a ``words`` lookup in the rules and the case view."""
    keys: set[str] = set()
    for path in WORD_USERS:
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "words"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                keys.add(node.args[0].value)
    return keys


def test_every_key_the_rules_and_the_case_view_use_is_in_the_catalogue() -> None:
    used = _keys_the_rules_ask_for()
    assert {"queue_waiting", "audit_line", "case_heading"} <= used  # the walk found the calls
    assert used <= set(_raw("en")), used - set(_raw("en"))


def test_the_rules_english_is_the_catalogues_english() -> None:
    """Group notices and the rules' tests use ``english``; a coordinator reading English gets
    the catalogue: the two must not drift apart."""
    english_catalogue = _raw("en")
    for key, text in ENGLISH.items():
        assert english_catalogue[key] == text, key


def _reader(lang: str) -> Words:
    catalog = CoordinatorCatalog()

    def words(key: str, /, **params: object) -> str:
        return catalog.text(lang, key, **params)

    return words


NOW = 1_800_000_000
QUEUE = [
    QueueItem("K7QX", CaseState.CLAIMED, NOW - 3 * 3600, "C-7K3Q", {"status": "in_danger"}, False),
    QueueItem("M3PA", CaseState.SUBMITTED, NOW - 600, None, {"status": "not_safe"}, True),
    QueueItem("9TRE", CaseState.APPROVED, NOW - 2 * 86_400, "C-7K3Q", {}, False),
    QueueItem("4HNB", CaseState.SUBMITTED, NOW - 30, None, {"status": "left"}, False),
]


def test_queue_lines_in_burmese() -> None:
    assert queue_lines(QUEUE, now=NOW, words=_reader("my")) == [
        "K7QX · ယူထားပြီး · အန္တရာယ် ရှိ၊ တာဝန်ကျရာမှာ ရှိနေတုန်း · ဒီနေ့ကတည်းက စောင့်နေပြီ · C-7K3Q",
        "M3PA · ပို့ထားဆဲ · လုံခြုံတဲ့နေရာ မရောက်သေး၊ ထွက်လာပြီ၊ သံသယ အမှတ်အသား · ဒီနေ့ကတည်းက စောင့်နေပြီ · ဘယ်သူမှ မယူရသေး",
        "9TRE · အတည်ပြုပြီး · အခြေအနေ မဖြေထား · ၂ ရက် စောင့်နေပြီ · C-7K3Q",
        "4HNB · ပို့ထားဆဲ · ထွက်လာပြီ · ဒီနေ့ကတည်းက စောင့်နေပြီ · ဘယ်သူမှ မယူရသေး",
    ]


def test_queue_lines_in_english_read_as_they_always_did() -> None:
    expected = [
        "K7QX · claimed · in danger, still there · waiting since today · C-7K3Q",
        "M3PA · submitted · not safe, left, flagged · waiting since today · unclaimed",
        "9TRE · approved · no triage · waiting 2 d · C-7K3Q",
        "4HNB · submitted · left · waiting since today · unclaimed",
    ]
    assert queue_lines(QUEUE, now=NOW, words=_reader("en")) == expected
    assert queue_lines(QUEUE, now=NOW) == expected
    assert queue_lines(QUEUE, now=NOW, words=english) == expected


def test_audit_entries_in_each_language() -> None:
    at = 1_799_971_200 + 3600  # 2027-01-15, kept to the day
    claimed = {"seq": 12, "at": at, "actor": "C-7K3Q", "action": "claimed", "case_code": "K7QX"}
    invited = {"seq": 3, "at": at, "actor": "operator", "action": "invited", "case_code": None}
    shredded = {"seq": 40, "at": at, "actor": "system", "action": "shredded", "case_code": "M3PA"}
    english_lines = [entry_line(**e, words=_reader("en")) for e in (claimed, invited, shredded)]
    assert english_lines == [
        "#12 2027-01-15 C-7K3Q claimed K7QX",
        "#3 2027-01-15 operator invited",
        "#40 2027-01-15 system shredded M3PA",
    ]
    burmese_lines = [entry_line(**e, words=_reader("my")) for e in (claimed, invited, shredded)]
    assert burmese_lines == [
        "#၁၂ ၂၀၂၇-၀၁-၁၅ C-7K3Q ယူပြီး K7QX",
        "#၃ ၂၀၂၇-၀၁-၁၅ ဘော့ထိန်းသူ ဖိတ်ကြားကုဒ် ထုတ်ပြီး",
        "#၄၀ ၂၀၂၇-၀၁-၁၅ ဘော့ (အလိုအလျောက်) သက်တမ်းကုန်လို့ ဖျက်ဆီးပြီး M3PA",
    ]


def test_a_padded_number_is_padded_in_the_readers_digits() -> None:
    catalog = CoordinatorCatalog()
    when = {"year": 2027, "month": 1, "day": 5, "hour": 7, "minute": 3}
    assert catalog.text("en", "case_when", **when) == "2027-01-05 07:03 UTC"
    assert catalog.text("my", "case_when", **when) == "၂၀၂၇-၀၁-၀၅ ၀၇:၀၃ UTC"
    assert catalog.text("en", "stats_line", year=2026, week=7, state="claimed", count=2) == (
        "2026-W07  claimed: 2"
    )


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


def test_the_new_case_notice_reads_in_every_language_english_first() -> None:
    """The whole group reads it: both languages, the first line English (what a notification
    shows), the second Burmese; nothing but the code and fixed triage words in either."""
    both = (english, _reader("my"))
    assert notice_text("K7QX", {"status": "in_danger"}, languages=both).splitlines() == [
        "New case K7QX · triage: in danger, still there",
        "ကိစ္စအသစ် K7QX · အခြေအနေ: အန္တရာယ် ရှိ၊ တာဝန်ကျရာမှာ ရှိနေတုန်း",
    ]
    assert notice_text("M3PA", {}, languages=both).splitlines() == [
        "New case M3PA · triage: none",
        "ကိစ္စအသစ် M3PA · အခြေအနေ: မဖြေထား",
    ]
