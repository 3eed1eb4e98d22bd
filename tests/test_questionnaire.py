"""The questionnaire file: the default one, what it may never ask, and every mistake an operator
can make, each caught at load time with the file, the line, the question and the problem."""

from __future__ import annotations

import itertools
import re
from importlib import resources
from pathlib import Path

import pytest
from myanmartools import ZawgyiDetector
from pydantic import ValidationError

from bot.coordination.queue import QueueItem, priority
from bot.coordination.states import CaseState
from bot.intake.questionnaire import (
    Question,
    QuestionKind,
    Questionnaire,
    QuestionnaireError,
    QuestionnaireLookupError,
    load_questionnaire,
    parse_questionnaire,
)

ALL_LANGUAGES = ["en", "my", "my-zawgyi"]
MAX_QUESTIONS_ON_A_ROUTE = 11
#: /start, the language, consent, one tap or message per question, and Send.
MAX_ACTIONS = 15
#: Asked only where the applicant chose to be called, and skippable.
OPTIONAL_EXTRA = frozenset({"phone"})


@pytest.fixture(scope="module")
def default() -> Questionnaire:
    return load_questionnaire(languages=ALL_LANGUAGES)


def all_texts(q: Questionnaire) -> list[tuple[str, str]]:
    """(where, text) for every question and option text, in every language."""
    found = []
    for question in q.questions:
        for lang, text in question.text.items():
            found.append((f"{question.id}/{lang}", text))
        for option in question.options:
            for lang, text in option.text.items():
                found.append((f"{question.id}.{option.id}/{lang}", text))
    return found


# --- the default questionnaire ---------------------------------------------------------------


def test_default_loads_for_every_language(default: Questionnaire) -> None:
    assert default.first == "who"
    assert default.languages == ("en", "my")
    for question in default.questions:
        assert question.text_for("my-zawgyi") == question.text["my"]
        assert question.text_for("en") == question.text["en"]


def answers_for(question: Question) -> list[str | int | tuple[str, ...] | None]:
    """One answer of each shape that can change where a question leads."""
    answers: list[str | int | tuple[str, ...] | None] = []
    if question.kind is QuestionKind.CHOICE:
        answers += [o.id for o in question.options]
    elif question.kind is QuestionKind.YESNO:
        answers += ["yes", "no"]
    elif question.kind is QuestionKind.MULTI:
        answers.append(tuple(o.id for o in question.options))
    else:
        answers.append("anything" if question.kind is QuestionKind.TEXT else 1)
    if question.optional:
        answers.append(None)
    return answers


def walk_every_answer(q: Questionnaire) -> list[tuple[str, ...]]:
    """Every route, found by answering through ``next_step`` (independent of ``paths``)."""
    finished: list[tuple[str, ...]] = []
    pending: list[tuple[str, ...]] = [(q.first,)]
    while pending:
        route = pending.pop()
        assert len(route) <= len(q.questions), f"a route repeats: {route}"
        for answer in answers_for(q.question(route[-1])):
            step = q.next_step(route[-1], answer)
            if step is None:
                finished.append(route)
            else:
                assert step not in route, f"loop: {route} → {step}"
                pending.append((*route, step))
    return finished


def test_every_route_of_the_default_ends_at_the_review(default: Questionnaire) -> None:
    walked = set(walk_every_answer(default))
    assert walked == set(default.paths())
    visited = set(itertools.chain.from_iterable(walked))
    assert visited == set(default.ids)  # no dead questions


def test_default_routes_are_short(default: Questionnaire) -> None:
    for route in default.paths():
        extra = len(OPTIONAL_EXTRA.intersection(route))
        assert len(route) - extra <= MAX_QUESTIONS_ON_A_ROUTE, route


def _actions(q: Questionnaire, route: tuple[str, ...]) -> int:
    """What an applicant does to send the form along ``route``: skipping an optional text is a
    tap, a multi-choice is a tap per choice and Done (one choice here)."""
    taps = 3 + 1  # /start, language, consent ... Send
    for qid in route:
        taps += 2 if q.question(qid).kind is QuestionKind.MULTI else 1
    return taps


def test_a_relative_writing_without_a_phone_call_sends_in_fifteen_actions(
    default: Questionnaire,
) -> None:
    no_call = [route for route in default.paths() if "phone" not in route]
    assert no_call
    assert max(_actions(default, route) for route in no_call) <= MAX_ACTIONS
    with_call = [route for route in default.paths() if "phone" in route]
    assert [_actions(default, route) for route in with_call] == [MAX_ACTIONS + 1]


def test_the_phone_question_follows_only_a_phone_call_and_is_never_shown_back(
    default: Questionnaire,
) -> None:
    phone = default.question("phone")
    assert phone.optional and phone.sensitive and not phone.triage
    reached_from = {
        (qid, option.id)
        for qid in default.ids
        for option in default.question(qid).options
        if option.next == "phone"
    }
    assert reached_from == {("how", "call")}
    for route in default.paths():
        if "phone" in route:
            assert route[route.index("phone") - 1] == "how"
    for lang in ("en", "my"):
        warning = phone.text[lang].splitlines()
        assert len(warning) == 2  # the question, then one line of warning


def test_default_status_options_are_the_ones_the_queue_ranks(default: Questionnaire) -> None:
    """The queue reads ``status`` by option id; a renamed option would silently lose priority."""
    status = default.question("status")
    ranked = {
        o.id: priority(QueueItem("K7QX", CaseState.SUBMITTED, 0, None, {"status": o.id}, False))
        for o in status.options
    }
    unranked = priority(QueueItem("K7QX", CaseState.SUBMITTED, 0, None, {}, False))
    assert set(ranked) == {"in_danger", "still_there", "not_safe", "left"}
    assert ranked["in_danger"] > ranked["not_safe"] > ranked["left"] > ranked["still_there"]
    assert ranked["still_there"] == unranked
    assert default.next_step("notes", None) is None


def test_default_marks_what_a_searched_phone_must_not_show(default: Questionnaire) -> None:
    sensitive = {q.id for q in default.questions if q.sensitive}
    assert {"call_name", "notes"} <= sensitive
    for question in default.questions:
        if question.kind is QuestionKind.TEXT:
            assert question.sensitive
            assert not question.triage
    assert {q.id for q in default.questions if q.triage} == {"status"}
    name = default.question("call_name")
    assert name.max_length == 60
    assert not name.optional
    notes = default.question("notes")
    assert notes.optional
    assert notes.max_length == 1000


def test_default_region_lists_every_state_and_region(default: Questionnaire) -> None:
    region = default.question("region")
    english = {o.text["en"] for o in region.options}
    states = {"Kachin", "Kayah", "Kayin", "Chin", "Mon", "Rakhine", "Shan"}
    regions = {"Sagaing", "Tanintharyi", "Bago", "Magway", "Mandalay", "Yangon", "Ayeyarwady"}
    assert {f"{s} State" for s in states} <= english
    assert {f"{r} Region" for r in regions} <= english
    assert "Naypyitaw Union Territory" in english
    assert len(region.options) == 17


@pytest.mark.filterwarnings("ignore:open_binary is deprecated:DeprecationWarning")
def test_default_burmese_is_unicode_not_zawgyi(default: Questionnaire) -> None:
    detector = ZawgyiDetector()
    burmese = [text for where, text in all_texts(default) if where.endswith("/my")]
    assert len(burmese) == sum(1 + len(q.options) for q in default.questions)
    for text in burmese:
        assert re.search("[\u1000-\u109f]", text), text
        if len(text) >= 10:  # a word or two is too short to tell the encodings apart
            assert detector.get_zawgyi_probability(text) < 0.01, text


# --- what the questionnaire may never ask --------------------------------------------------------

FORBIDDEN_ENGLISH = [
    r"real name",
    r"full name",
    r"true name",
    r"legal name",
    r"surname",
    r"last name",
    r"family name",
    r"father'?s name",
    r"mother'?s name",
    r"service number",
    r"serial number",
    r"personal number",
    r"ID card",
    r"identity card",
    r"NRC",
    r"national registration",
    r"passport",
    r"photo",
    r"photograph",
    r"picture",
    r"selfie",
    r"video",
    r"address",
    r"GPS",
    r"location",
    r"coordinates",
    r"unit name",
    r"name of (your|the|their) unit",
    r"battalion",
    r"regiment",
    r"brigade",
    r"commander",
    r"login code",
    r"verification code",
    r"password",
    r"PIN",
    r"phone number",
    r"telephone number",
    r"mobile number",
    r"date of birth",
]
FORBIDDEN_BURMESE = [
    "အမည်ရင်း",  # real name
    "နာမည်အရင်း",
    "အမည်အပြည့်အစုံ",  # full name
    "နာမည်အပြည့်အစုံ",
    "မှတ်ပုံတင်",  # NRC card
    "နိုင်ငံသားစိစစ်ရေး",
    "ကိုယ်ပိုင်အမှတ်",  # service number
    "ကိုယ်ပိုင်နံပါတ်",
    "ပတ်စပို့",  # passport
    "ဓာတ်ပုံ",  # photo
    "ဆယ်လ်ဖီ",  # selfie
    "ဗီဒီယို",
    "လိပ်စာ",  # address
    "တည်နေရာ",  # location
    "တပ်ရင်း",  # battalion
    "တပ်မှူး",  # commander
    "တပ်ခွဲ",  # company
    "တပ်စု",  # platoon
    "ဖုန်းနံပါတ်",  # phone number
    "ဖုန်းနံပတ်",
    "စကားဝှက်",  # password
    "ကုဒ်",  # code
    "မွေးနေ့",  # birthday
    "မွေးသက္ကရာဇ်",
]
_FORBIDDEN = re.compile(r"\b(?:" + "|".join(FORBIDDEN_ENGLISH) + r")(?:s|es)?\b", re.IGNORECASE)


#: A sentence that tells the applicant what not to write names the thing without asking for it.
_PROHIBITION = re.compile(r"\b(?:do not|don't|never)\b|မရေးပါနဲ့|မသုံးပါနဲ့|မလိုပါ", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.?!။])\s*|\n")

#: The one ask the default may make of these, where the test below pins it down: a phone
#: number, optional and masked, after the applicant said a call is fine.
PERMITTED = {"phone": {"phone number", "ဖုန်းနံပါတ်"}}


def _asking_sentences(text: str) -> str:
    sentences = _SENTENCE_END.split(text)
    return "\n".join(s for s in sentences if not _PROHIBITION.search(s))


def forbidden_asks(q: Questionnaire) -> list[str]:
    hits = []
    for where, text in all_texts(q):
        asking = _asking_sentences(text)
        found = [m.group(0) for m in _FORBIDDEN.finditer(asking)]
        found += [word for word in FORBIDDEN_BURMESE if word in asking]
        permitted = PERMITTED.get(where.split("/")[0], set())
        hits += [f"{where}: {word}" for word in found if word.casefold() not in permitted]
    return hits


def test_a_prohibition_does_not_hide_an_ask_beside_it(tmp_path: Path) -> None:
    path = tmp_path / "asks.toml"
    path.write_text(
        one_question(
            "What is your phone number? Do not write your real name.",
            "ဖုန်းနံပါတ် ရေးပါ။ နာမည်အရင်း မရေးပါနဲ့။",
        ),
        encoding="utf-8",
    )
    asked = load_questionnaire(path, languages=["en", "my"])
    assert forbidden_asks(asked) == ["ask/en: phone number", "ask/my: ဖုန်းနံပါတ်"]


def test_default_asks_for_no_identifying_data(default: Questionnaire) -> None:
    assert forbidden_asks(default) == []


def one_question(en: str, my: str) -> str:
    return f"""
[meta]
version = 1
languages = ["en", "my"]

[[question]]
id = "ask"
kind = "text"
max_length = 100
text = {{ en = "{en}", my = "{my}" }}
"""


@pytest.mark.parametrize("phrase", ["real name", "service number", "ID card", "phone number"])
def test_the_scan_catches_an_english_ask(tmp_path: Path, phrase: str) -> None:
    path = tmp_path / "asks.toml"
    path.write_text(one_question(f"What is your {phrase}?", "မေးခွန်း"), encoding="utf-8")
    asked = load_questionnaire(path, languages=["en", "my"])
    assert forbidden_asks(asked) == [f"ask/en: {phrase}"]


@pytest.mark.parametrize("word", FORBIDDEN_BURMESE)
def test_the_scan_catches_a_burmese_ask(tmp_path: Path, word: str) -> None:
    path = tmp_path / "asks.toml"
    path.write_text(one_question("A question", f"သင်၏ {word} ကို ရေးပါ။"), encoding="utf-8")
    asked = load_questionnaire(path, languages=["en", "my"])
    assert f"ask/my: {word}" in forbidden_asks(asked)


def test_the_scan_catches_an_ask_slipped_into_the_default(tmp_path: Path) -> None:
    packaged = resources.files("bot.intake").joinpath("questionnaire.toml")
    text = packaged.read_text(encoding="utf-8").replace(
        "Please make up a name.", "Please send a selfie and your full name."
    )
    path = tmp_path / "edited.toml"
    path.write_text(text, encoding="utf-8")
    hits = forbidden_asks(load_questionnaire(path, languages=ALL_LANGUAGES))
    assert hits == ["call_name/en: selfie", "call_name/en: full name"]


# --- what a notification preview may show ----------------------------------------------------

ALARMING = re.compile(
    r"\b(army|armies|military|soldier|police|defect|desert|escape|junta|coup\b)"
    r"|စစ်တပ်|တပ်မတော်|စစ်သား",
    re.IGNORECASE,
)


def alarming_first_lines(q: Questionnaire) -> list[str]:
    hits = []
    for question in q.questions:
        for lang, text in question.text.items():
            first_line = text.strip().splitlines()[0]
            hits += [f"{question.id}/{lang}: {m.group(0)}" for m in ALARMING.finditer(first_line)]
    return hits


def test_first_lines_of_the_default_read_neutrally(default: Questionnaire) -> None:
    assert alarming_first_lines(default) == []


def test_the_first_line_check_catches_an_alarming_question(tmp_path: Path) -> None:
    path = tmp_path / "loud.toml"
    path.write_text(one_question("Which army unit?", "တပ်မတော် ဝင် ဘယ်နှစ်နှစ်"), encoding="utf-8")
    loud = load_questionnaire(path, languages=["en", "my"])
    assert alarming_first_lines(loud) == ["ask/en: army", "ask/my: တပ်မတော်"]


def test_the_first_line_check_reads_only_the_first_line(tmp_path: Path) -> None:
    path = tmp_path / "quiet.toml"
    path.write_text(one_question("How long?\\nIn the army.", "ဘယ်လောက်လဲ။"), encoding="utf-8")
    assert alarming_first_lines(load_questionnaire(path, languages=["en", "my"])) == []


# --- the engine's view -----------------------------------------------------------------------

BRANCHING = """
[meta]
version = 1
languages = ["en", "my"]
start = "intro"

[[question]]
id = "who"
kind = "choice"
text = { en = "Who?", my = "ဘယ်သူလဲ" }

[[question.option]]
id = "self"
text = { en = "Me", my = "ကျွန်ုပ်" }
next = "count"

[[question.option]]
id = "other"
text = { en = "Someone", my = "တစ်ယောက်" }

[[question]]
id = "relation"
kind = "multi"
min_choices = 1
max_choices = 2
text = { en = "How?", my = "ဘယ်လို" }

[[question.option]]
id = "kin"
text = { en = "Kin", my = "ဆွေမျိုး" }

[[question.option]]
id = "friend"
text = { en = "Friend", my = "မိတ်ဆွေ" }

[[question]]
id = "count"
kind = "number"
min = 0
max = 5
optional = true
next = "safe"
text = { en = "How many?", my = "ဘယ်နှစ်ယောက်" }

[[question]]
id = "when"
kind = "date"
text = { en = "When?", my = "ဘယ်တော့" }
next = "review"

[[question]]
id = "safe"
kind = "yesno"
yes_next = "review"
no_next = "when"
text = { en = "Safe?", my = "လုံခြုံလား" }

[[question]]
id = "intro"
kind = "yesno"
next = "who"
text = { en = "Before", my = "အရင်" }
"""


@pytest.fixture()
def branching(tmp_path: Path) -> Questionnaire:
    path = tmp_path / "branching.toml"
    path.write_text(BRANCHING, encoding="utf-8")
    return load_questionnaire(path, languages=["en", "my"])


def test_next_step_follows_branches_then_next_then_file_order(branching: Questionnaire) -> None:
    q = branching
    assert q.first == "intro"  # meta.start, not the first in the file
    assert q.ids == ("who", "relation", "count", "when", "safe", "intro")
    assert q.next_step("intro", "yes") == "who"  # the question's next
    assert q.next_step("who", "nonsense") == "relation"  # an unknown option takes no branch
    assert q.next_step("who", "self") == "count"  # option branch
    assert q.next_step("who", "other") == "relation"  # option without a branch: file order
    assert q.next_step("relation", ("kin", "friend")) == "count"
    assert q.next_step("count", 3) == "safe"
    assert q.next_step("count", None) == "safe"  # skipped
    assert q.next_step("safe", "yes") is None  # "review"
    assert q.next_step("safe", "no") == "when"
    assert q.next_step("when", "2024-01-01") is None  # next = "review"


def test_paths_enumerate_every_route(branching: Questionnaire) -> None:
    assert set(branching.paths()) == {
        ("intro", "who", "count", "safe"),
        ("intro", "who", "count", "safe", "when"),
        ("intro", "who", "relation", "count", "safe"),
        ("intro", "who", "relation", "count", "safe", "when"),
    }
    assert set(walk_every_answer(branching)) == set(branching.paths())
    assert branching.successors("safe") == (None, "when")


def test_lookups_fail_with_a_clear_error(branching: Questionnaire) -> None:
    with pytest.raises(QuestionnaireLookupError, match="no question 'gone' in this questionnaire"):
        branching.question("gone")
    assert branching.get("gone") is None
    assert "gone" not in branching
    assert "who" in branching
    who = branching.question("who")
    assert who.option("self").text_for("my-zawgyi") == "ကျွန်ုပ်"
    assert who.option("self").text_for("fr") == "Me"  # unknown languages fall back to English
    with pytest.raises(QuestionnaireLookupError, match="question 'who' has no option 'x'"):
        who.option("x")


def test_models_built_in_code_obey_the_same_rules() -> None:
    with pytest.raises(ValidationError, match="free text must never be readable"):
        Question(id="x", kind=QuestionKind.TEXT, text={"en": "x"}, max_length=5, triage=True)
    question = Question(id="x", kind=QuestionKind.TEXT, text={"en": "x"}, max_length=5)
    with pytest.raises(ValidationError):
        question.id = "y"


# --- mistakes, each with file, line, question and problem -------------------------------------

BASE = """\
[meta]
version = 1
languages = ["en", "my"]

[[question]]
id = "first"
kind = "choice"
text = { en = "Pick one", my = "တစ်ခု ရွေးပါ" }

[[question.option]]
id = "a"
text = { en = "A", my = "က" }

[[question.option]]
id = "b"
text = { en = "B", my = "ခ" }

[[question]]
id = "second"
kind = "text"
max_length = 100
text = { en = "Write", my = "ရေးပါ" }
"""


def test_the_base_of_the_mistakes_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "q.toml"
    path.write_text(BASE, encoding="utf-8")
    assert load_questionnaire(path, languages=ALL_LANGUAGES).ids == ("first", "second")


def edit(old: str, new: str, text: str = BASE) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


SECOND_AS_YESNO = edit('kind = "text"\nmax_length = 100', 'kind = "yesno"')
SECOND_AS_NUMBER = edit('kind = "text"\nmax_length = 100', 'kind = "number"')
MULTI = edit('kind = "choice"', 'kind = "multi"')
THIRD = '\n[[question]]\nid = "third"\nkind = "year"\ntext = { en = "Year", my = "ခုနှစ်" }\n'

# (name, file text, a piece of the offending line, question named, problem named)
MISTAKES = [
    (
        "toml-syntax",
        edit('text = { en = "Write", my = "ရေးပါ" }', 'text = { en = "Write", my = }'),
        "my = }",
        "second",
        "TOML syntax error",
    ),
    (
        "toml-duplicate-key",
        edit("max_length = 100", "max_length = 100\nmax_length = 200"),
        "max_length = 200",
        "second",
        "TOML syntax error",
    ),
    (
        "unknown-key",
        edit("max_length = 100", "max_length = 100\ncolour = 'red'"),
        "colour = 'red'",
        "second",
        "unknown key 'colour'",
    ),
    (
        "unknown-key-typo",
        edit("max_length = 100", "max_length = 100\noptinal = true"),
        "optinal = true",
        "second",
        "unknown key 'optinal'; did you mean 'optional'?",
    ),
    (
        "unknown-key-in-option",
        edit('id = "b"', 'id = "b"\ngoto = "second"'),
        'goto = "second"',
        "first', option 'b",
        "unknown key 'goto'",
    ),
    (
        "wrong-type",
        edit("max_length = 100", 'max_length = 100\noptional = "yes"'),
        'optional = "yes"',
        "second",
        "optional: Input should be a valid boolean",
    ),
    (
        "wrong-type-number-as-text",
        edit("max_length = 100", 'max_length = "100"'),
        'max_length = "100"',
        "second",
        "max_length: Input should be a valid integer",
    ),
    (
        "wrong-kind",
        edit('kind = "text"', 'kind = "essay"'),
        'kind = "essay"',
        "second",
        "kind: Input should be 'choice', 'multi', 'yesno', 'text', 'number', 'year' or 'date'",
    ),
    (
        "bad-id",
        edit('id = "second"', 'id = "Second Question"'),
        'id = "Second Question"',
        "Second Question",
        "id: String should match pattern",
    ),
    (
        "missing-key",
        edit('kind = "text"\n', ""),
        'id = "second"',
        "second",
        "missing key 'kind'",
    ),
    (
        "duplicate-question-id",
        edit('id = "second"', 'id = "first"'),
        'id = "first"\nkind = "text"',  # the second one
        "first",
        "question id 'first' is used twice",
    ),
    (
        "duplicate-option-id",
        edit('id = "b"', 'id = "a"'),
        'id = "a"\ntext = { en = "B"',
        "first', option 'a",
        "option id 'a' is used twice",
    ),
    (
        "dangling-next",
        edit("max_length = 100", 'max_length = 100\nnext = "thrid"') + THIRD,
        'next = "thrid"',
        "second",
        "next = 'thrid' is not a question id (nor 'review'); did you mean 'third'?",
    ),
    (
        "dangling-option-branch",
        edit('id = "b"', 'id = "b"\nnext = "nowhere"'),
        'next = "nowhere"',
        "first', option 'b",
        "next = 'nowhere' is not a question id",
    ),
    (
        "dangling-yes-branch",
        edit('kind = "yesno"', 'kind = "yesno"\nyes_next = "later"', SECOND_AS_YESNO),
        'yes_next = "later"',
        "second",
        "yes_next = 'later' is not a question id",
    ),
    (
        "dangling-start",
        edit("version = 1", 'version = 1\nstart = "frist"'),
        'start = "frist"',
        "[meta]",
        "start 'frist' is not a question id",
    ),
    (
        "loop-with-no-way-out",
        edit("max_length = 100", 'max_length = 100\nnext = "first"'),
        'next = "first"',
        "second",
        "the questionnaire loops (first → second → first) with no way out to the review",
    ),
    (
        "loop-with-a-way-out",
        edit('kind = "yesno"', 'kind = "yesno"\nno_next = "first"', SECOND_AS_YESNO),
        'no_next = "first"',
        "second",
        "the questionnaire loops (first → second → first); a route must not repeat",
    ),
    (
        "unreachable-question",
        edit(
            'id = "b"', 'id = "b"\nnext = "review"', edit('id = "a"', 'id = "a"\nnext = "review"')
        ),
        'id = "second"',
        "second",
        "no route from the start ('first') leads to this question",
    ),
    (
        "missing-translation-of-a-question",
        edit('text = { en = "Write", my = "ရေးပါ" }', 'text = { en = "Write" }'),
        'text = { en = "Write" }',
        "second",
        "text is missing its 'my' translation",
    ),
    (
        "missing-translation-of-an-option",
        edit('text = { en = "B", my = "ခ" }', 'text = { en = "B" }'),
        'text = { en = "B" }',
        "first', option 'b",
        "text is missing its 'my' translation",
    ),
    (
        "text-in-an-unlisted-language",
        edit('text = { en = "B", my = "ခ" }', 'text = { en = "B", my = "ခ", mm = "ခ" }'),
        'mm = "ခ"',
        "first', option 'b",
        "text in 'mm', which meta.languages does not list (en, my)",
    ),
    (
        "empty-text",
        edit('text = { en = "Write", my = "ရေးပါ" }', 'text = { en = "Write", my = "  " }'),
        'my = "  "',
        "second",
        "text in 'my' is empty",
    ),
    (
        "options-on-a-yesno",
        SECOND_AS_YESNO + '\n[[question.option]]\nid = "x"\ntext = { en = "X", my = "X" }\n',
        '[[question.option]]\nid = "x"',
        "second",
        "a yesno question takes no options",
    ),
    (
        "options-missing-on-a-choice",
        edit('kind = "text"\nmax_length = 100', 'kind = "choice"'),
        'id = "second"',
        "second",
        "a choice question needs 2 to 24 options ([[question.option]]), it has 0",
    ),
    (
        "one-option-on-a-multi",
        edit('[[question.option]]\nid = "b"\ntext = { en = "B", my = "ခ" }\n', "", MULTI),
        'id = "first"',
        "first",
        "a multi question needs 2 to 24 options ([[question.option]]), it has 1",
    ),
    (
        "branch-on-a-multi-option",
        edit('id = "b"', 'id = "b"\nnext = "second"', MULTI),
        'next = "second"',
        "first', option 'b",
        "only options of a choice question can branch, this is a multi question",
    ),
    (
        "key-of-another-kind",
        edit("max_length = 100", "max_length = 100\nyes_next = 'review'"),
        "yes_next = 'review'",
        "second",
        "a text question takes no 'yes_next'",
    ),
    (
        "triage-on-free-text",
        edit("max_length = 100", "max_length = 100\ntriage = true"),
        "triage = true",
        "second",
        "triage is not allowed on a text question: "
        "free text must never be readable without opening the case",
    ),
    (
        "triage-on-a-date",
        edit('kind = "yesno"', 'kind = "date"\ntriage = true', SECOND_AS_YESNO),
        "triage = true",
        "second",
        "triage is not allowed on a date question",
    ),
    (
        "max-length-missing",
        edit("max_length = 100\n", ""),
        'id = "second"',
        "second",
        "a text question needs max_length (1 to 4000)",
    ),
    (
        "max-length-too-big",
        edit("max_length = 100", "max_length = 5000"),
        "max_length = 5000",
        "second",
        "max_length must be 1 to 4000, not 5000",
    ),
    (
        "min-above-max",
        edit('kind = "number"', 'kind = "number"\nmin = 10\nmax = 2', SECOND_AS_NUMBER),
        "min = 10",
        "second",
        "min (10) is greater than max (2)",
    ),
    (
        "min-choices-above-options",
        edit('kind = "multi"', 'kind = "multi"\nmin_choices = 3', MULTI),
        "min_choices = 3",
        "first",
        "min_choices must be 1 to 2 (the number of options)",
    ),
    (
        "review-as-question-id",
        edit('id = "second"', 'id = "review"'),
        'id = "review"',
        "review",
        "'review' names the review step and cannot be a question id",
    ),
    (
        "zawgyi-written-in-the-file",
        edit('languages = ["en", "my"]', 'languages = ["en", "my", "my-zawgyi"]'),
        "languages = [",
        "[meta]",
        "'my-zawgyi' is made from 'my' when the bot runs",
    ),
    (
        "wrong-version",
        edit("version = 1", "version = 2"),
        "version = 2",
        "[meta]",
        "version: Input should be 1",
    ),
]


def line_of(text: str, piece: str) -> int:
    """The 1-based line where ``piece`` starts (it may span lines)."""
    assert text.count(piece) >= 1, piece
    return text[: text.index(piece)].count("\n") + 1


@pytest.mark.parametrize(
    ("text", "piece", "question", "problem"),
    [case[1:] for case in MISTAKES],
    ids=[case[0] for case in MISTAKES],
)
def test_a_mistake_names_file_line_question_and_problem(
    tmp_path: Path, text: str, piece: str, question: str, problem: str
) -> None:
    path = tmp_path / "questions.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(QuestionnaireError) as caught:
        load_questionnaire(path, languages=ALL_LANGUAGES)
    message = str(caught.value)
    line = line_of(text, piece)
    assert "\n" not in message
    assert message.startswith(f"{path}:{line}: "), message
    subject = question if question == "[meta]" else f"question '{question}'"
    assert subject in message, message
    assert problem in message, message


def test_a_language_enabled_in_the_config_needs_its_texts(tmp_path: Path) -> None:
    text = edit('languages = ["en", "my"]', 'languages = ["en"]')
    text = re.sub(r', my = "[^"]*"', "", text)
    path = tmp_path / "english.toml"
    path.write_text(text, encoding="utf-8")
    assert load_questionnaire(path, languages=["en"]).languages == ("en",)
    with pytest.raises(QuestionnaireError) as caught:
        load_questionnaire(path, languages=["en", "my-zawgyi"])
    message = str(caught.value)
    line = line_of(text, 'text = { en = "Pick one" }')
    assert message.startswith(f"{path}:{line}: question 'first': "), message
    assert (
        "no 'my' text, but 'my-zawgyi' is enabled in the config (it is made from 'my')" in message
    )


def test_several_mistakes_are_counted(tmp_path: Path) -> None:
    text = edit("max_length = 100", "max_length = 100\nfoo = 1\nbar = 2")
    path = tmp_path / "q.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(QuestionnaireError, match=r"unknown key 'foo' \(and 1 more\)$"):
        load_questionnaire(path, languages=["en"])


def test_a_missing_or_garbled_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(QuestionnaireError, match=r"nope\.toml: cannot read the questionnaire"):
        load_questionnaire(missing, languages=["en"])
    garbled = tmp_path / "latin1.toml"
    garbled.write_bytes(BASE.encode() + b"\n# caf\xe9\n")
    with pytest.raises(QuestionnaireError, match=r"latin1\.toml:24: not UTF-8 text"):
        load_questionnaire(garbled, languages=["en"])


def test_a_questionnaire_needs_questions(tmp_path: Path) -> None:
    text = BASE[: BASE.index("[[question]]")]
    with pytest.raises(QuestionnaireError, match=r"^x\.toml:1: missing key 'question'$"):
        parse_questionnaire(text, source="x.toml", languages=["en"])
