"""The intake conversation driven through the pure engine: no Telegram, no database, no keys."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from importlib import resources

import pytest

from bot.i18n import Catalog
from bot.intake import engine
from bot.intake.draft import Draft, Phase
from bot.intake.engine import Context, Effect, Outcome
from bot.intake.events import Command, Event, Press, Reply, Text, Unsupported
from bot.intake.questionnaire import Question, QuestionKind, Questionnaire, load_questionnaire
from bot.text import to_zawgyi

LANGS = ("en", "my", "my-zawgyi")


@pytest.fixture(scope="module")
def ctx() -> Context:
    q = load_questionnaire(None, languages=list(LANGS))
    return Context(q, Catalog(LANGS), LANGS, max_text_length=1000, today=date(2026, 11, 25))


# The default asks one ``status`` question; operators may split it into branches, as here.
_BRANCHES = """
[[question]]
id = "status"
kind = "choice"
text = { en = "Still at the post?", my = "တာဝန်ကျရာတွင် ရှိနေဆဲလား။" }

[[question.option]]
id = "still_there"
text = { en = "Still there", my = "ရှိနေဆဲ" }
next = "danger"

[[question.option]]
id = "left"
text = { en = "Already left", my = "ထွက်ခွာပြီး" }
next = "safe"

[[question]]
id = "danger"
kind = "yesno"
next = "region"
text = { en = "In danger now?", my = "အန္တရာယ် ရှိနေပါသလား။" }

[[question]]
id = "safe"
kind = "yesno"
text = { en = "In a safe place now?", my = "လုံခြုံသော နေရာတွင် ရှိပါသလား။" }

"""


@pytest.fixture(scope="module")
def branching(tmp_path_factory: pytest.TempPathFactory) -> Context:
    default = (resources.files("bot.intake") / "questionnaire.toml").read_text(encoding="utf-8")
    start = default.index('[[question]]\nid = "status"')
    end = default.index('[[question]]\nid = "region"')
    path = tmp_path_factory.mktemp("branching") / "questionnaire.toml"
    path.write_text(default[:start] + _BRANCHES + default[end:], encoding="utf-8")
    q = load_questionnaire(path, languages=list(LANGS))
    return Context(q, Catalog(LANGS), LANGS, max_text_length=1000, today=date(2026, 11, 25))


@dataclass
class Chat:
    """Feeds events to the engine the way the service does: keeps the draft between turns."""

    ctx: Context
    draft: Draft | None = None
    outcomes: list[Outcome] = field(default_factory=list)

    def send(self, event: Event) -> Outcome:
        outcome = engine.handle(self.ctx, self.draft, event)
        if outcome.effect in (Effect.SAVE, Effect.SUBMIT):
            self.draft = outcome.draft
        elif outcome.effect is Effect.DISCARD:
            self.draft = None
        self.outcomes.append(outcome)
        return outcome

    @property
    def prompt(self) -> Reply:
        for outcome in reversed(self.outcomes):
            prompts = [r for r in outcome.replies if r.prompt]
            if prompts:
                return prompts[-1]
        raise AssertionError("no prompt yet")

    def tap(self, label_or_data: str) -> Outcome:
        for row in self.prompt.buttons:
            for button in row:
                if label_or_data in (button.label, button.data):
                    return self.send(Press(button.data))
        raise AssertionError(f"no button {label_or_data!r} in {self.prompt.buttons}")

    def begin(self, lang: str = "en") -> None:
        self.send(Command("start"))
        self.send(Press(f"L:{lang}"))
        assert self.draft is not None and self.draft.phase is Phase.CONSENT
        self.send(Press(f"C:{self.draft.turn}:y"))

    def answer(self, qid: str, choice: str | None = None) -> None:
        """Answer the current question (which must be ``qid``) with something valid."""
        assert self.draft is not None and self.draft.step == qid, (self.draft, qid)
        q = self.ctx.questionnaire.question(qid)
        turn = self.draft.turn
        if q.kind is QuestionKind.CHOICE:
            self.send(Press(f"A:{turn}:{_position(q, choice)}"))
        elif q.kind is QuestionKind.YESNO:
            self.send(Press(f"A:{turn}:{choice or 'no'}"))
        elif q.kind is QuestionKind.MULTI:
            self.send(Press(f"T:{turn}:{_position(q, choice)}"))
            self.send(Press(f"D:{turn}"))
        elif q.kind is QuestionKind.NUMBER:
            self.send(Text(choice or str(q.min or 0)))
        elif q.kind is QuestionKind.YEAR:
            self.send(Text(choice or "2021"))
        elif q.kind is QuestionKind.DATE:
            self.send(Text(choice or "15/03/2021"))
        else:
            self.send(Text(choice or f"answer to {qid}"))


def _route_choices(q: Questionnaire, route: tuple[str, ...]) -> dict[str, str | None]:
    """For each question on a route, an answer whose branch leads to the next one."""
    choices: dict[str, str | None] = {}
    for here, there in zip(route, [*route[1:], None], strict=True):
        question = q.question(here)
        candidates: list[str | None] = [None]
        if question.kind is QuestionKind.CHOICE:
            candidates = [o.id for o in question.options]
        elif question.kind is QuestionKind.YESNO:
            candidates = ["yes", "no"]
        for candidate in candidates:
            if q.next_step(here, candidate) == there:
                choices[here] = candidate
                break
        else:
            raise AssertionError(f"no answer of {here} leads to {there}")
    return choices


def test_start_offers_each_language_in_its_own_encoding(ctx: Context) -> None:
    outcome = Chat(ctx).send(Command("start"))
    assert outcome.effect is Effect.NONE and outcome.draft is None  # nothing kept before a choice
    labels = [b.label for row in outcome.replies[0].buttons for b in row]
    assert labels == ["English", "မြန်မာ", to_zawgyi("မြန်မာ")]
    assert labels[1] != labels[2]


@pytest.mark.parametrize("which", ["ctx", "branching"])
def test_every_branch_of_the_questionnaire_reaches_review(
    which: str, request: pytest.FixtureRequest
) -> None:
    ctx: Context = request.getfixturevalue(which)
    routes = ctx.questionnaire.paths()
    assert len(routes) > 1 or which == "ctx"
    for route in routes:
        chat = Chat(ctx)
        chat.begin()
        choices = _route_choices(ctx.questionnaire, route)
        for qid in route:
            chat.answer(qid, choices[qid])
        assert chat.draft is not None and chat.draft.phase is Phase.REVIEW, route
        assert tuple(engine.submitted_answers(ctx.questionnaire, chat.draft)) == route
        outcome = chat.tap("Send")
        assert outcome.effect is Effect.SUBMIT


def test_a_button_pressed_twice_records_one_answer(ctx: Context) -> None:
    chat = Chat(ctx)
    chat.begin()
    data = f"A:{chat.draft.turn}:1"  # type: ignore[union-attr]  # the second option
    chat.send(Press(data))
    after_first = chat.draft
    again = chat.send(Press(data))
    assert again.effect is Effect.NONE
    assert [r.text for r in again.replies] == [engine.prompt(ctx, after_first).text]  # type: ignore[arg-type]
    assert again.toast and "earlier message" in again.toast
    assert chat.draft == after_first


def test_a_button_from_an_old_message_changes_nothing(ctx: Context) -> None:
    chat = Chat(ctx)
    chat.begin()
    old_prompt = chat.prompt
    chat.answer(ctx.questionnaire.first)
    chat.answer(chat.draft.step)  # type: ignore[union-attr, arg-type]
    before = chat.draft
    stale = old_prompt.buttons[0][0].data
    outcome = chat.send(Press(stale))
    assert outcome.effect is Effect.NONE and chat.draft == before


@pytest.mark.parametrize(
    "data", ["E:1:who", "R:1", "A:1:not_an_option", "T:1:self", "D:1", "S:1", "C:1:y", "Z", ""]
)
def test_forged_button_data_is_refused(ctx: Context, data: str) -> None:
    chat = Chat(ctx)
    chat.begin()
    before = chat.draft
    outcome = chat.send(Press(data))
    assert outcome.effect is Effect.NONE and chat.draft == before


def test_back_goes_to_the_previous_question_and_stops_at_the_first(ctx: Context) -> None:
    chat = Chat(ctx)
    chat.begin()
    first = ctx.questionnaire.first
    outcome = chat.send(Command("back"))
    assert "first question" in outcome.replies[0].text and chat.draft.step == first  # type: ignore[union-attr]
    chat.answer(first)
    second = chat.draft.step  # type: ignore[union-attr]
    chat.send(Command("back"))
    assert chat.draft.step == first and second != first  # type: ignore[union-attr]
    assert "Your answer so far" in chat.prompt.text


def test_review_edit_returns_to_review_and_a_new_branch_is_asked(branching: Context) -> None:
    ctx = branching
    q = ctx.questionnaire
    route = next(r for r in q.paths() if "danger" in r)
    chat = Chat(ctx)
    chat.begin()
    choices = _route_choices(q, route)
    for qid in route:
        chat.answer(qid, choices[qid])
    assert chat.draft.phase is Phase.REVIEW  # type: ignore[union-attr]
    # Change a plain answer: straight back to the review.
    chat.send(Press(f"E:{chat.draft.turn}:{q.ids.index('family')}"))  # type: ignore[union-attr]
    chat.send(Text("12"))
    assert chat.draft.phase is Phase.REVIEW and chat.draft.answers["family"].value == 12  # type: ignore[union-attr]
    # Change the branch: the newly reached question is asked, then the review again.
    chat.send(Press(f"E:{chat.draft.turn}:{q.ids.index('status')}"))  # type: ignore[union-attr]
    chat.send(Press(f"A:{chat.draft.turn}:{_position(q.question('status'), 'left')}"))  # type: ignore[union-attr]
    assert chat.draft.step == "safe"  # type: ignore[union-attr]
    chat.answer("safe", "yes")
    assert chat.draft.phase is Phase.REVIEW  # type: ignore[union-attr]
    submitted = engine.submitted_answers(q, chat.draft)  # type: ignore[arg-type]
    assert "safe" in submitted and "danger" not in submitted  # the branch not taken is dropped


def test_review_masks_sensitive_answers_and_is_protected(ctx: Context) -> None:
    q = ctx.questionnaire
    route = q.paths()[0]
    chat = Chat(ctx)
    chat.begin()
    choices = _route_choices(q, route)
    for qid in route:
        if q.question(qid).kind is QuestionKind.TEXT:
            chat.answer(qid, f"secret-{qid}")
        else:
            chat.answer(qid, choices[qid])
    review = chat.prompt
    assert review.protect
    sensitive = [qid for qid in route if q.question(qid).sensitive]
    assert sensitive
    for qid in sensitive:
        assert f"secret-{qid}" not in review.text
    assert review.text.count("(hidden)") == len(sensitive)


def _go_to(chat: Chat, kind: QuestionKind) -> str:
    q = chat.ctx.questionnaire
    chat.begin()
    while chat.draft is not None and chat.draft.step is not None:
        step = chat.draft.step
        if q.question(step).kind is kind:
            return step
        chat.answer(step)
    raise AssertionError(f"no {kind} question on the default route")


def test_text_over_the_limit_is_refused_and_not_stored(ctx: Context) -> None:
    chat = Chat(ctx)
    step = _go_to(chat, QuestionKind.TEXT)
    limit = min(ctx.questionnaire.question(step).max_length or 1000, 1000)
    outcome = chat.send(Text("x" * (limit + 1)))
    assert outcome.effect is Effect.NONE
    assert step not in chat.draft.answers  # type: ignore[union-attr]
    assert str(limit) in outcome.replies[0].text


def test_zawgyi_free_text_is_stored_as_unicode(ctx: Context) -> None:
    chat = Chat(ctx)
    step = _go_to(chat, QuestionKind.TEXT)
    unicode_text = "ကျွန်တော် မနက်ဖြန် ဆက်သွယ်ပါမယ်"
    chat.send(Text(to_zawgyi(unicode_text)))
    answer = chat.draft.answers[step]  # type: ignore[union-attr]
    assert answer.value == unicode_text and not answer.uncertain


def test_uncertain_encoding_is_kept_as_typed_and_flagged(ctx: Context) -> None:
    chat = Chat(ctx)
    step = _go_to(chat, QuestionKind.TEXT)
    chat.send(Text("မဂၤလာပါ"))  # too short to tell Zawgyi from Unicode with confidence
    answer = chat.draft.answers[step]  # type: ignore[union-attr]
    assert answer.value == "မဂၤလာပါ" and answer.uncertain


@pytest.mark.parametrize(("typed", "value"), [("၁၂", 12), ("1ဝ", 10), ("၁ရ", 17), (" 7 ", 7)])
def test_numbers_in_burmese_digits_and_common_slips(ctx: Context, typed: str, value: int) -> None:
    chat = Chat(ctx)
    step = _go_to(chat, QuestionKind.NUMBER)
    chat.send(Text(typed))
    assert chat.draft.answers[step].value == value  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("typed", "value"),
    [("ဝ", 0), ("၀", 0), ("about 5", 5), ("5 years", 5), ("2.5", 3), ("၅ ယောက်လောက်", 5)],
)
def test_a_rough_number_is_taken_as_the_question_allows(
    ctx: Context, typed: str, value: int
) -> None:
    chat = Chat(ctx)
    step = _go_to(chat, QuestionKind.NUMBER)
    chat.send(Text(typed))
    assert chat.draft.answers[step].value == value  # type: ignore[union-attr]


def test_the_review_shows_the_number_as_it_was_read(ctx: Context) -> None:
    chat = Chat(ctx)
    step = _go_to(chat, QuestionKind.NUMBER)
    chat.send(Text("about 2.5"))
    while chat.draft is not None and chat.draft.step is not None:
        chat.answer(chat.draft.step)
    review = chat.prompt.text
    label = ctx.questionnaire.question(step).text["en"].splitlines()[0]
    lines = review.splitlines()
    at = next(n for n, line in enumerate(lines) if label[:20] in line)
    assert lines[at + 1].strip() == "→ 3"


@pytest.mark.parametrize("typed", ["many", "-3", "999", "ရဲ", "5-10", "about"])
def test_bad_numbers_get_a_hint_and_store_nothing(ctx: Context, typed: str) -> None:
    chat = Chat(ctx)
    step = _go_to(chat, QuestionKind.NUMBER)
    outcome = chat.send(Text(typed))
    assert step not in chat.draft.answers  # type: ignore[union-attr]
    assert "whole number" in outcome.replies[0].text and outcome.replies[-1].prompt


def test_optional_questions_can_be_skipped(ctx: Context) -> None:
    q = ctx.questionnaire
    chat = Chat(ctx)
    chat.begin()
    while chat.draft is not None and chat.draft.step is not None:
        step = chat.draft.step
        if q.question(step).optional:
            chat.tap("Skip")
            assert chat.draft.answers[step].value is None
            return
        chat.answer(step)
    raise AssertionError("the default questionnaire has an optional question")


def test_typing_on_a_button_question_asks_for_the_buttons(ctx: Context) -> None:
    chat = Chat(ctx)
    chat.begin()
    outcome = chat.send(Text("hello"))
    assert outcome.effect is Effect.NONE
    assert "buttons" in outcome.replies[0].text and outcome.replies[-1].prompt


@pytest.mark.parametrize("kind", list(Unsupported))
def test_unsupported_input_gets_a_calm_reply_and_changes_nothing(
    ctx: Context, kind: Unsupported
) -> None:
    chat = Chat(ctx)
    chat.begin()
    before = chat.draft
    outcome = chat.send(kind)
    assert outcome.effect is Effect.NONE and chat.draft == before
    assert outcome.replies[0].text.startswith("Sorry")
    assert outcome.replies[-1].prompt  # the question is shown again


def test_cancel_discards_and_consent_can_be_declined(ctx: Context) -> None:
    chat = Chat(ctx)
    chat.begin()
    assert chat.send(Command("cancel")).effect is Effect.DISCARD
    chat.send(Command("start"))
    chat.send(Press("L:my"))
    declined = chat.send(Press(f"C:{chat.draft.turn}:n"))  # type: ignore[union-attr]
    assert declined.effect is Effect.DISCARD


def test_language_can_change_mid_way_without_losing_answers(ctx: Context) -> None:
    chat = Chat(ctx)
    chat.begin("en")
    chat.answer(ctx.questionnaire.first)
    answers = dict(chat.draft.answers)  # type: ignore[union-attr]
    chat.send(Command("language"))
    chat.send(Press("L:my-zawgyi"))
    assert chat.draft.language == "my-zawgyi" and dict(chat.draft.answers) == answers  # type: ignore[union-attr]
    question = ctx.questionnaire.question(chat.draft.step)  # type: ignore[union-attr, arg-type]
    assert to_zawgyi(question.text["my"]) in chat.prompt.text


def test_unknown_command_mid_question_keeps_the_question(ctx: Context) -> None:
    chat = Chat(ctx)
    chat.begin()
    outcome = chat.send(Command("admin"))
    assert outcome.effect is Effect.NONE
    assert "did not understand" in outcome.replies[0].text and outcome.replies[-1].prompt


def test_a_draft_survives_being_written_down(ctx: Context) -> None:
    chat = Chat(ctx)
    chat.begin("my")
    for _ in range(5):
        chat.answer(chat.draft.step)  # type: ignore[union-attr, arg-type]
    draft = chat.draft
    assert draft is not None
    assert Draft.from_fields(draft.to_fields()) == draft


def _review_in(ctx: Context, lang: str) -> Chat:
    chat = Chat(ctx)
    chat.begin(lang)
    while chat.draft is not None and chat.draft.step is not None:
        chat.answer(chat.draft.step)
    return chat


def test_burmese_screens_number_questions_and_answers_in_burmese_digits(ctx: Context) -> None:
    chat = Chat(ctx)
    chat.begin("my")
    header = chat.prompt.text.splitlines()[0]
    total = len(engine.path(ctx.questionnaire, chat.draft))  # type: ignore[arg-type]
    assert header == f"မေးခွန်း {_burmese(total)} ခုထဲက ၁ ခုမြောက်"

    review = _review_in(ctx, "my").prompt
    labels = [button.label for row in review.buttons[:-1] for button in row]
    assert labels == [_burmese(n) for n in range(1, len(labels) + 1)]
    assert review.text.splitlines()[2].startswith("၁. ")
    assert not any(char in "0123456789" for char in review.text)


def _burmese(number: int) -> str:
    return "".join("၀၁၂၃၄၅၆၇၈၉"[int(digit)] for digit in str(number))


@pytest.mark.parametrize("lang", ["my", "my-zawgyi"])
def test_burmese_review_labels_count_letters_not_code_points(ctx: Context, lang: str) -> None:
    """Every default first line fits in the label's 48 letters, though most exceed 48 code
    points: counted as letters, none is cut."""
    chat = _review_in(ctx, lang)
    review = chat.prompt.text
    for qid in engine.path(ctx.questionnaire, chat.draft):  # type: ignore[arg-type]
        question = ctx.questionnaire.question(qid)
        first = question.text["my"].splitlines()[0]
        shown = first if lang == "my" else to_zawgyi(first)
        assert f". {shown}\n" in review, question.id


@pytest.mark.parametrize("lang", ["my", "my-zawgyi"])
def test_review_labels_are_cut_between_syllables(
    ctx: Context, lang: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.text.graphemes import ELLIPSIS, syllables

    monkeypatch.setattr(engine, "REVIEW_LABEL_CHARS", 12)
    chat = _review_in(ctx, lang)
    route = engine.path(ctx.questionnaire, chat.draft)  # type: ignore[arg-type]
    labels = [
        line.split(". ", 1)[1]
        for line in chat.prompt.text.splitlines()
        if line[:1] in "၀၁၂၃၄၅၆၇၈၉" and ". " in line
    ]
    assert len(labels) == len(route)
    for qid, label in zip(route, labels, strict=True):
        first = ctx.questionnaire.question(qid).text["my"].splitlines()[0]
        prefixes = [""]
        for syllable in syllables(first):
            prefixes.append(prefixes[-1] + syllable)
        whole_syllables = {
            (prefix.rstrip() if lang == "my" else to_zawgyi(prefix.rstrip())) + ELLIPSIS
            for prefix in prefixes[1:-1]
        }
        assert label in whole_syllables, (qid, label)


def _to_how(ctx: Context) -> Chat:
    chat = Chat(ctx)
    chat.begin()
    while chat.draft is not None and chat.draft.step != "how":
        chat.answer(chat.draft.step)  # type: ignore[arg-type]
    return chat


def test_the_phone_number_is_asked_only_after_a_call_is_fine_and_is_masked(
    ctx: Context,
) -> None:
    chat = _to_how(ctx)
    chat.answer("how", "call")
    assert chat.draft.step == "phone"  # type: ignore[union-attr]
    assert chat.prompt.text.count("\n") >= 2  # header, question and its one warning line
    chat.send(Text("+95 9 123 456 789"))
    assert chat.draft.step == "call_name"  # type: ignore[union-attr]
    chat.answer("call_name", "Ko Ko")
    chat.answer("notes", None)
    review = chat.prompt.text
    assert "123 456" not in review and "Ko Ko" not in review
    assert review.count("(hidden)") == 3


def test_the_phone_question_can_be_skipped_and_is_absent_otherwise(ctx: Context) -> None:
    chat = _to_how(ctx)
    chat.answer("how", "call")
    chat.tap("Skip")
    assert chat.draft.step == "call_name"  # type: ignore[union-attr]
    assert chat.draft.answers["phone"].value is None  # type: ignore[union-attr]

    other = _to_how(ctx)
    other.answer("how", "this_chat")
    assert other.draft.step == "call_name"  # type: ignore[union-attr]


def _position(q: Question, option_id: str | None) -> int:
    """How a button names an option: by its position (the first, if none is named)."""
    return [o.id for o in q.options].index(option_id) if option_id else 0
