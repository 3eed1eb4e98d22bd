"""The intake conversation as a pure function: (questionnaire, draft, event) -> outcome.

Nothing here knows Telegram, SQL or keys. The service around it loads the draft, calls
``handle`` and stores what comes back before any reply is sent, so an answer is never
acknowledged before it is written.

Callback data carries the draft's ``turn``: a button from an older message, or the same
button tapped twice on a slow network, names an old turn and changes nothing. It names an
option, or a question to edit, by its position in the questionnaire, not by its id.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from enum import StrEnum

from bot.i18n import DEFAULT_LANGUAGE, LANGUAGES, Catalog, base_language
from bot.intake.draft import Answer, AnswerValue, Draft, Phase
from bot.intake.events import Button, Command, Event, Keyboard, Press, Reply, Text, Unsupported
from bot.intake.questionnaire import Question, QuestionKind, Questionnaire
from bot.text import normalize_input, parse_date, parse_rough_number, parse_year
from bot.text.graphemes import shorten

LANGUAGE_LABELS = {"en": "English", "my": "မြန်မာ", "my-zawgyi": "ျမန္မာ"}
YES, NO = "yes", "no"
REVIEW_LABEL_CHARS = 48
REVIEW_ANSWER_CHARS = 200
TYPED_KINDS = frozenset(
    {QuestionKind.TEXT, QuestionKind.NUMBER, QuestionKind.YEAR, QuestionKind.DATE}
)


class Effect(StrEnum):
    """What the service must do with the outcome's draft before replying."""

    NONE = "none"  # nothing changed
    SAVE = "save"  # write the draft (creating it if new)
    DISCARD = "discard"  # destroy the draft
    SUBMIT = "submit"  # turn the draft into a case


@dataclass(frozen=True)
class Context:
    questionnaire: Questionnaire
    catalog: Catalog
    languages: tuple[str, ...] = LANGUAGES
    max_text_length: int = 1000
    today: date = date(2000, 1, 1)
    # What the chat remembers when there is no draft (a form was sent, or set aside): the
    # language chosen, so no reply falls back to English, and whether a form went out from it.
    language: str | None = None
    sent: bool = False
    # The organisation's own words on what happens after sending, by written language.
    next_steps: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    draft: Draft | None
    replies: tuple[Reply, ...] = ()
    effect: Effect = Effect.NONE
    toast: str | None = None  # a short answer to a button tap, shown without a new message
    language: str | None = None  # a language chosen with no draft to hold it


def handle(ctx: Context, draft: Draft | None, event: Event) -> Outcome:
    if isinstance(event, Unsupported):
        return _unsupported(ctx, draft, event)
    if isinstance(event, Command):
        return _command(ctx, draft, event)
    if isinstance(event, Press):
        return _press(ctx, draft, event.data)
    if draft is None:
        return Outcome(None, (after_sending(ctx) if ctx.sent else welcome(ctx),))
    return _typed(ctx, draft, event)


# --- prompts -----------------------------------------------------------------------------------


def welcome(ctx: Context, lang: str | None = None) -> Reply:
    """The first screen: each language button is written in its own encoding, so an applicant
    on a Zawgyi phone sees one button render properly and taps it."""
    if lang is None:
        text = "\n\n".join(ctx.catalog.text(code, "welcome") for code in _written(ctx))
    else:
        text = ctx.catalog.text(lang, "welcome")
    buttons = tuple(
        (Button(LANGUAGE_LABELS.get(code, code), f"L:{code}"),) for code in ctx.languages
    )
    return Reply(text, buttons, prompt=True, protect=True)


def after_sending(ctx: Context, lang: str | None = None) -> Reply:
    """What a chat that has sent a form gets for anything but a command it knows: the form was
    sent, what happens next, how to check on it, and a button to start another. Starting again
    takes that tap, never just any message: someone anxious for an answer who types "hello?"
    must not find the language picker and send the same form twice."""
    lang = _chat_language(ctx, lang)
    what_next = ctx.next_steps.get(base_language(lang)) or ctx.catalog.unrendered(lang, "what_next")
    text = ctx.catalog.text(lang, "wait_for_team", next_steps=what_next.strip())
    buttons = ((Button(ctx.catalog.text(lang, "new_form"), "N:y"),),)
    return Reply(text, buttons, prompt=True, protect=True)


def prompt(ctx: Context, draft: Draft) -> Reply:
    """The message that shows where the applicant is now."""
    if draft.phase is Phase.CONSENT:
        t = draft.turn
        buttons = (
            (Button(_t(ctx, draft, "consent_yes"), f"C:{t}:y"),),
            (Button(_t(ctx, draft, "consent_no"), f"C:{t}:n"),),
        )
        return Reply(_t(ctx, draft, "safety"), buttons, prompt=True, protect=True)
    if draft.phase is Phase.REVIEW:
        return _review(ctx, draft)
    if draft.step is None:  # a question phase always has a step; recover rather than crash
        return _review(ctx, draft)
    return _question_prompt(ctx, draft, ctx.questionnaire.question(draft.step))


def _question_prompt(ctx: Context, draft: Draft, q: Question) -> Reply:
    route = path(ctx.questionnaire, draft)
    number = route.index(q.id) + 1 if q.id in route else len(route)
    lines = [
        _t(ctx, draft, "question_header", n=number, total=len(route)),
        "",
        ctx.catalog.localize(draft.language, q.text),
    ]
    hint = _hint(ctx, draft, q)
    if hint:
        lines += ["", hint]
    previous = draft.answers.get(q.id)
    if previous is not None and previous.value is not None and not q.sensitive:
        shown = _shown_answer(ctx, draft.language, q, previous.value)
        lines += ["", _t(ctx, draft, "current_answer", answer=shown)]
    typed = q.kind in TYPED_KINDS
    buttons = _question_buttons(ctx, draft, q)
    return Reply("\n".join(lines), buttons, prompt=True, protect=True, typed=typed)


def _hint(ctx: Context, draft: Draft, q: Question) -> str | None:
    kind = q.kind
    if kind is QuestionKind.TEXT:
        return _t(ctx, draft, "hint_text", max=_text_limit(ctx, q))
    if kind is QuestionKind.NUMBER:
        return _t(ctx, draft, "hint_number", min=q.min, max=q.max)
    if kind is QuestionKind.YEAR:
        return _t(ctx, draft, "hint_year")
    if kind is QuestionKind.DATE:
        return _t(ctx, draft, "hint_date")
    if kind is QuestionKind.MULTI:
        return _t(ctx, draft, "hint_multi")
    return None


def _question_buttons(ctx: Context, draft: Draft, q: Question) -> Keyboard:
    t = draft.turn
    rows: list[tuple[Button, ...]] = []
    if q.kind is QuestionKind.YESNO:
        rows.append(
            (
                Button(_t(ctx, draft, "yes"), f"A:{t}:{YES}"),
                Button(_t(ctx, draft, "no"), f"A:{t}:{NO}"),
            )
        )
    elif q.kind in (QuestionKind.CHOICE, QuestionKind.MULTI):
        multi = q.kind is QuestionKind.MULTI
        labels = []
        for option in q.options:
            label = ctx.catalog.localize(draft.language, option.text)
            if multi and option.id in draft.selection:
                label = "✓ " + label
            number = q.options.index(option)
            labels.append(Button(label, f"{'T' if multi else 'A'}:{t}:{number}"))
        per_row = 1 if any(len(b.label) > 18 for b in labels) else 2
        rows += [tuple(labels[i : i + per_row]) for i in range(0, len(labels), per_row)]
        if multi:
            rows.append((Button(_t(ctx, draft, "done"), f"D:{t}"),))
    if q.optional:
        rows.append((Button(_t(ctx, draft, "skip"), f"S:{t}"),))
    return tuple(rows)


def _review(ctx: Context, draft: Draft) -> Reply:
    lang = draft.language
    lines = [_t(ctx, draft, "review_title"), ""]
    edit_buttons: list[Button] = []
    for n, qid in enumerate(path(ctx.questionnaire, draft), start=1):
        q = ctx.questionnaire.question(qid)
        answer = draft.answers.get(qid)
        if q.sensitive:
            shown = _t(ctx, draft, "review_hidden")
        elif answer is None or answer.value is None:
            shown = _t(ctx, draft, "review_skipped")
        else:
            shown = _shown_answer(ctx, lang, q, answer.value)
        label = shorten(_first_line(ctx.catalog.pick(lang, q.text)), REVIEW_LABEL_CHARS)
        number = ctx.catalog.number(lang, n)
        lines.append(f"{number}. {ctx.catalog.render(lang, label)}\n    → {shown}")
        position = ctx.questionnaire.ids.index(qid)
        edit_buttons.append(Button(number, f"E:{draft.turn}:{position}"))
    lines += ["", _t(ctx, draft, "review_hint")]
    rows = [tuple(edit_buttons[i : i + 5]) for i in range(0, len(edit_buttons), 5)]
    rows.append((Button(_t(ctx, draft, "submit"), f"R:{draft.turn}"),))
    return Reply("\n".join(lines), tuple(rows), prompt=True, protect=True)


def display_answer(ctx: Context, lang: str, q: Question, value: AnswerValue) -> str:
    """An answer as the applicant (or a coordinator) reads it, numbers in the reader's digits."""
    return ctx.catalog.render(lang, _answer_text(ctx, lang, q, value))


def _shown_answer(ctx: Context, lang: str, q: Question, value: AnswerValue) -> str:
    """``display_answer`` shortened whole syllables at a time, before any Zawgyi rendering."""
    return ctx.catalog.render(lang, shorten(_answer_text(ctx, lang, q, value), REVIEW_ANSWER_CHARS))


def _answer_text(ctx: Context, lang: str, q: Question, value: AnswerValue) -> str:
    if value is None:
        return ctx.catalog.unrendered(lang, "review_skipped")
    if q.kind is QuestionKind.YESNO:
        return ctx.catalog.unrendered(lang, YES if value == YES else NO)
    if q.kind in (QuestionKind.CHOICE, QuestionKind.MULTI):
        chosen = value if isinstance(value, tuple) else (str(value),)
        by_id = {o.id: o for o in q.options}
        return ", ".join(ctx.catalog.pick(lang, by_id[c].text) for c in chosen if c in by_id)
    if isinstance(value, int):
        return ctx.catalog.number(lang, value)
    return str(value)


# --- the path through the questionnaire --------------------------------------------------------


def path(questionnaire: Questionnaire, draft: Draft) -> list[str]:
    """The questions this applicant's answers lead through, start to review.

    Unanswered questions follow their default branch, so the count shown ("question 3 of 11")
    is the best estimate, and answers left behind by a changed branch drop out of the path.
    """
    route: list[str] = []
    step: str | None = questionnaire.first
    while step is not None and step not in route:
        route.append(step)
        answer = draft.answers.get(step)
        step = questionnaire.next_step(step, answer.value if answer else None)
    return route


def submitted_answers(questionnaire: Questionnaire, draft: Draft) -> dict[str, Answer]:
    """Only answers on the final path are submitted; a branch not taken leaves nothing behind."""
    return {qid: draft.answers[qid] for qid in path(questionnaire, draft) if qid in draft.answers}


def is_complete(questionnaire: Questionnaire, draft: Draft) -> bool:
    return all(qid in draft.answers for qid in path(questionnaire, draft))


# --- events ------------------------------------------------------------------------------------


def _command(ctx: Context, draft: Draft | None, cmd: Command) -> Outcome:
    name = cmd.name
    if name == "help":
        help_reply = Reply(ctx.catalog.text(draft.language if draft else ctx.language, "help"))
        return _with_prompt(ctx, draft, help_reply)
    if draft is None:
        if name == "language":
            return Outcome(None, (welcome(ctx, ctx.language),))
        if ctx.sent:
            return Outcome(None, (after_sending(ctx),))
        if name == "start":
            return Outcome(None, (welcome(ctx),))
        if name in ("back", "cancel"):
            return Outcome(None, (Reply(ctx.catalog.text(ctx.language, "nothing_in_progress")),))
        return Outcome(None, (Reply(ctx.catalog.text(ctx.language, "unknown_command")),))
    if name == "start":
        again = Reply(_t(ctx, draft, "welcome_back"))
        return _with_prompt(ctx, draft, again)
    if name == "language":
        return Outcome(draft, (welcome(ctx, draft.language),))
    if name == "cancel":
        return Outcome(None, (Reply(_t(ctx, draft, "cancelled")),), Effect.DISCARD)
    if name == "back":
        return _back(ctx, draft)
    return _with_prompt(ctx, draft, Reply(_t(ctx, draft, "unknown_command")))


def _back(ctx: Context, draft: Draft) -> Outcome:
    if draft.phase is Phase.CONSENT:
        return Outcome(draft, (welcome(ctx, draft.language),))
    route = path(ctx.questionnaire, draft)
    if draft.phase is Phase.REVIEW:
        target = route[-1]
    else:
        index = route.index(draft.step) if draft.step in route else 0
        if index == 0:
            return _with_prompt(ctx, draft, Reply(_t(ctx, draft, "first_question")))
        target = route[index - 1]
    moved = draft.advance(phase=Phase.QUESTION, step=target, selection=(), editing=False)
    return Outcome(moved, (prompt(ctx, moved),), Effect.SAVE)


def _unsupported(ctx: Context, draft: Draft | None, kind: Unsupported) -> Outcome:
    key = {
        Unsupported.MEDIA: "unsupported",
        Unsupported.FORWARDED: "forwarded",
        Unsupported.EDITED: "edited",
    }[kind]
    note = Reply(ctx.catalog.text(draft.language if draft else ctx.language, key))
    return _with_prompt(ctx, draft, note)


def _press(ctx: Context, draft: Draft | None, data: str) -> Outcome:
    kind, _, rest = data.partition(":")
    if kind == "L" and rest in ctx.languages:
        if draft is None and ctx.sent:  # a new language for the replies, not a new form
            return Outcome(None, (after_sending(ctx, rest),), language=rest)
        if draft is None:
            fresh = Draft(language=rest)
            return Outcome(fresh, (prompt(ctx, fresh),), Effect.SAVE)
        changed = replace(draft, language=rest)
        return Outcome(changed, (prompt(ctx, changed),), Effect.SAVE)
    if kind == "N" and draft is None:
        return _new_form(ctx)
    turn_text, _, arg = rest.partition(":")
    if draft is None or turn_text != str(draft.turn):
        return _stale(ctx, draft)
    if draft.phase is Phase.CONSENT and kind == "C":
        if arg == "y":
            started = draft.advance(phase=Phase.QUESTION, step=ctx.questionnaire.first)
            return Outcome(started, (prompt(ctx, started),), Effect.SAVE)
        if arg == "n":
            return Outcome(None, (Reply(_t(ctx, draft, "not_now")),), Effect.DISCARD)
    if draft.phase is Phase.REVIEW:
        if kind == "R":
            return Outcome(draft, (), Effect.SUBMIT)
        target = _nth(ctx.questionnaire.ids, arg)
        if kind == "E" and target is not None and target in path(ctx.questionnaire, draft):
            editing = draft.advance(phase=Phase.QUESTION, step=target, selection=(), editing=True)
            return Outcome(editing, (prompt(ctx, editing),), Effect.SAVE)
    if draft.phase is Phase.QUESTION and draft.step is not None:
        return _question_press(ctx, draft, ctx.questionnaire.question(draft.step), kind, arg)
    return _stale(ctx, draft)


def _question_press(ctx: Context, draft: Draft, q: Question, kind: str, arg: str) -> Outcome:
    option_ids = [o.id for o in q.options]
    if kind in ("A", "T") and q.options:
        arg = _nth(tuple(option_ids), arg) or ""
    if kind == "S" and q.optional:
        return _accept(ctx, draft, q, Answer(None))
    if kind == "A" and q.kind is QuestionKind.YESNO and arg in (YES, NO):
        return _accept(ctx, draft, q, Answer(arg))
    if kind == "A" and q.kind is QuestionKind.CHOICE and arg in option_ids:
        return _accept(ctx, draft, q, Answer(arg))
    if q.kind is QuestionKind.MULTI and kind == "T" and arg in option_ids:
        chosen = set(draft.selection) ^ {arg}
        toggled = replace(draft, selection=tuple(o for o in option_ids if o in chosen))
        return Outcome(toggled, (prompt(ctx, toggled),), Effect.SAVE)
    if q.kind is QuestionKind.MULTI and kind == "D":
        low = q.min_choices if q.min_choices is not None else 1
        high = q.max_choices if q.max_choices is not None else len(option_ids)
        if len(draft.selection) < low:
            return _again(ctx, draft, _t(ctx, draft, "choose_more", min=low))
        if len(draft.selection) > high:
            return _again(ctx, draft, _t(ctx, draft, "choose_fewer", max=high))
        return _accept(ctx, draft, q, Answer(draft.selection))
    return _stale(ctx, draft)


def _typed(ctx: Context, draft: Draft, event: Text) -> Outcome:
    if draft.phase is not Phase.QUESTION or draft.step is None:
        return _again(ctx, draft, _t(ctx, draft, "use_buttons"))
    q = ctx.questionnaire.question(draft.step)
    raw = event.text.strip()
    if q.kind is QuestionKind.TEXT:
        limit = _text_limit(ctx, q)
        if len(raw) > limit:
            return _again(ctx, draft, _t(ctx, draft, "too_long", max=limit, length=len(raw)))
        if not raw:
            return _again(ctx, draft, _t(ctx, draft, "hint_text", max=limit))
        normal = normalize_input(raw)
        if len(normal.text) > limit:
            return _again(
                ctx, draft, _t(ctx, draft, "too_long", max=limit, length=len(normal.text))
            )
        return _accept(ctx, draft, q, Answer(normal.text, normal.uncertain))
    if q.kind is QuestionKind.NUMBER:
        number = parse_rough_number(raw)
        low, high = q.min if q.min is not None else 0, q.max if q.max is not None else 10**9
        if number is None or not low <= number <= high:
            return _again(ctx, draft, _t(ctx, draft, "not_a_number", min=low, max=high))
        return _accept(ctx, draft, q, Answer(number))
    if q.kind is QuestionKind.YEAR:
        year = parse_year(raw, today=ctx.today)
        if year is None:
            return _again(ctx, draft, _t(ctx, draft, "not_a_year"))
        return _accept(ctx, draft, q, Answer(year))
    if q.kind is QuestionKind.DATE:
        day = parse_date(raw, today=ctx.today)
        if day is None:
            return _again(ctx, draft, _t(ctx, draft, "not_a_date"))
        return _accept(ctx, draft, q, Answer(day.isoformat()))
    return _again(ctx, draft, _t(ctx, draft, "use_buttons"))


def _accept(ctx: Context, draft: Draft, q: Question, answer: Answer) -> Outcome:
    answered = draft.with_answer(q.id, answer)
    following = ctx.questionnaire.next_step(q.id, answer.value)
    if answered.editing:
        route = path(ctx.questionnaire, answered)
        after = route[route.index(q.id) + 1 :] if q.id in route else []
        following = next((qid for qid in after if qid not in answered.answers), None)
    if following is None:
        moved = answered.advance(phase=Phase.REVIEW, step=None, selection=(), editing=False)
    else:
        moved = answered.advance(step=following, selection=())
    return Outcome(moved, (prompt(ctx, moved),), Effect.SAVE)


# --- small helpers -----------------------------------------------------------------------------


def _again(ctx: Context, draft: Draft, message: str) -> Outcome:
    """A calm word on what went wrong, then the same question again; nothing is stored."""
    return Outcome(draft, (Reply(message), prompt(ctx, draft)), toast=message)


def _new_form(ctx: Context) -> Outcome:
    """Another form, asked for with a tap: in the chat's language, straight to the safety
    note; the language picker only if the chat has none."""
    if ctx.language is None or ctx.language not in ctx.languages:
        return Outcome(None, (welcome(ctx),))
    fresh = Draft(language=ctx.language)
    return Outcome(fresh, (prompt(ctx, fresh),), Effect.SAVE)


def _with_prompt(ctx: Context, draft: Draft | None, note: Reply) -> Outcome:
    if draft is None and ctx.sent:
        return Outcome(None, (note, after_sending(ctx)))
    if draft is None:
        return Outcome(None, (note,))
    return Outcome(draft, (note, prompt(ctx, draft)))


def _stale(ctx: Context, draft: Draft | None) -> Outcome:
    """Nothing is recorded; the current question is shown again, because after a crash between
    saving an answer and showing the next question, the stale one is all the phone shows."""
    toast = ctx.catalog.text(draft.language if draft else ctx.language, "stale_button")
    return Outcome(draft, (prompt(ctx, draft),) if draft else (), toast=toast)


def _chat_language(ctx: Context, lang: str | None) -> str:
    chosen = lang or ctx.language
    return chosen if chosen is not None and chosen in ctx.languages else DEFAULT_LANGUAGE


def _t(ctx: Context, draft: Draft, key: str, **params: object) -> str:
    return ctx.catalog.text(draft.language, key, **params)


def _written(ctx: Context) -> list[str]:
    """One welcome per written language: Zawgyi Burmese would repeat the Unicode Burmese."""
    seen: list[str] = []
    for code in ctx.languages:
        if code != "my-zawgyi" and code not in seen:
            seen.append(code)
    return seen


def _text_limit(ctx: Context, q: Question) -> int:
    return min(q.max_length or ctx.max_text_length, ctx.max_text_length)


def _nth(ids: tuple[str, ...], arg: str) -> str | None:
    """The id a button names by its position: a number costs a tap's data a byte or two, where
    an id costs up to 32, on every button of every screen an applicant pays for."""
    if not arg.isdigit() or len(arg) > 3:
        return None
    n = int(arg)
    return ids[n] if n < len(ids) else None


def _first_line(text: str) -> str:
    return next((line for line in text.splitlines() if line.strip()), text).strip()
