"""The questionnaire as data: a TOML file an operator can edit, checked in full at start-up.

The operator is one technical person, often editing on a server with no one to ask. So every
mistake stops the bot with one line that says where (file and line), which question, and what
is wrong, and a mistake that would only show up mid-conversation (a branch to nowhere, a loop,
a question no one can reach, a missing translation) is caught at load time instead.

The models are frozen and check themselves, so a questionnaire built in code (in a test) obeys
the same rules as one read from a file.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    Strict,
    StringConstraints,
    ValidationError,
    model_validator,
)

#: The step after the last question. A ``next`` may name it; no question may take it as id.
REVIEW = "review"

#: Languages shown to applicants but not written in the file: they are rendered from another.
DERIVED_LANGUAGES: Mapping[str, str] = {"my-zawgyi": "my"}

DEFAULT_RESOURCE = "questionnaire.toml"

# Buttons name options and questions by position, so ids are free to say what they mean; 32 is
# room enough for that.
ID_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"
LANGUAGE_PATTERN = r"^[a-z]{2,3}(-[a-z0-9]+)*$"
MIN_OPTIONS, MAX_OPTIONS = 2, 24
MAX_TEXT_LENGTH = 4000

AnswerValue = str | int | tuple[str, ...] | None

Id = Annotated[str, StringConstraints(strict=True, pattern=ID_PATTERN)]
StrictText = Annotated[str, Strict()]
Texts = Mapping[StrictText, StrictText]
Flag = Annotated[bool, Strict()]
Whole = Annotated[int, Strict(), Field(ge=0, le=999_999_999)]


class QuestionnaireError(Exception):
    """A questionnaire that cannot be used; ``str()`` is one line an operator can act on."""


class QuestionnaireLookupError(LookupError):
    """An id that is not in this questionnaire, e.g. a draft saved before the file was edited."""


class QuestionKind(StrEnum):
    CHOICE = "choice"  # one button
    MULTI = "multi"  # several buttons, then "done"
    YESNO = "yesno"
    TEXT = "text"  # free text, bounded by max_length
    NUMBER = "number"  # a whole number, bounded by min/max
    YEAR = "year"
    DATE = "date"


#: Keys that only make sense for some kinds; any other kind rejects them.
_KIND_KEYS: Mapping[QuestionKind, frozenset[str]] = {
    QuestionKind.CHOICE: frozenset({"option"}),
    QuestionKind.MULTI: frozenset({"option", "min_choices", "max_choices"}),
    QuestionKind.YESNO: frozenset({"yes_next", "no_next"}),
    QuestionKind.TEXT: frozenset({"max_length"}),
    QuestionKind.NUMBER: frozenset({"min", "max"}),
    QuestionKind.YEAR: frozenset(),
    QuestionKind.DATE: frozenset(),
}

#: Kinds whose answer is one of a few fixed values, so it can be read for queue priority without
#: exposing anything the applicant wrote in their own words.
TRIAGE_KINDS = frozenset(
    {QuestionKind.CHOICE, QuestionKind.MULTI, QuestionKind.YESNO, QuestionKind.NUMBER}
)
#: Kinds whose answer can route a case to a team: buttons only. A team's name is visible to
#: whoever holds the database, so it must say no more than an option id would.
ROUTABLE_KINDS = frozenset({QuestionKind.CHOICE, QuestionKind.MULTI, QuestionKind.YESNO})


def base_language(lang: str) -> str:
    """The language a text is written in for ``lang`` (Zawgyi Burmese is made from Unicode)."""
    return DERIVED_LANGUAGES.get(lang, lang)


def _pick(texts: Mapping[str, str], lang: str) -> str:
    base = base_language(lang)
    if base in texts:
        return texts[base]
    if "en" in texts:
        return texts["en"]
    return next(iter(texts.values()))


class _Invalid(ValueError):
    """A rule broken by a model, with enough to point at the line: pydantic keeps the exception
    in the error's context, and the loader turns it into a message with a line number."""

    def __init__(
        self,
        problem: str,
        *,
        key: str | None = None,
        question: int | None = None,
        option: int | None = None,
        meta: bool = False,
    ) -> None:
        super().__init__(problem)
        self.problem = problem
        self.key = key
        self.question = question
        self.option = option
        self.meta = meta


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Meta(_Model):
    version: Literal[1]
    languages: tuple[StrictText, ...] = Field(min_length=1)
    start: Id | None = None

    @model_validator(mode="after")
    def _check(self) -> Meta:
        seen: set[str] = set()
        for lang in self.languages:
            if not re.fullmatch(LANGUAGE_PATTERN, lang):
                raise _Invalid(
                    f"{lang!r} is not a language code like 'en' or 'my'", key="languages"
                )
            if lang in DERIVED_LANGUAGES:
                made_from = DERIVED_LANGUAGES[lang]
                raise _Invalid(
                    f"{lang!r} is made from {made_from!r} when the bot runs; "
                    f"list {made_from!r} and write the texts in it",
                    key="languages",
                )
            if lang in seen:
                raise _Invalid(f"{lang!r} is listed twice", key="languages")
            seen.add(lang)
        return self


class Option(_Model):
    id: Id
    text: Texts
    next: Id | None = None

    def text_for(self, lang: str) -> str:
        """The label in the language ``lang`` is written in (convert for Zawgyi yourself)."""
        return _pick(self.text, lang)


class Question(_Model):
    id: Id
    kind: QuestionKind
    text: Texts
    optional: Flag = False
    sensitive: Flag = False
    triage: Flag = False
    next: Id | None = None
    max_length: Whole | None = None
    min: Whole | None = None
    max: Whole | None = None
    min_choices: Whole | None = None
    max_choices: Whole | None = None
    yes_next: Id | None = None
    no_next: Id | None = None
    options: tuple[Option, ...] = Field(
        default=(), validation_alias=AliasChoices("option", "options")
    )

    def text_for(self, lang: str) -> str:
        """The question in the language ``lang`` is written in (convert for Zawgyi yourself)."""
        return _pick(self.text, lang)

    def option(self, option_id: str) -> Option:
        for option in self.options:
            if option.id == option_id:
                return option
        raise QuestionnaireLookupError(f"question {self.id!r} has no option {option_id!r}")

    def has_option(self, option_id: str) -> bool:
        return any(option.id == option_id for option in self.options)

    @model_validator(mode="after")
    def _check(self) -> Question:
        if self.id == REVIEW:
            raise _Invalid(
                f"{REVIEW!r} names the review step and cannot be a question id", key="id"
            )
        self._check_kind_keys()
        self._check_options()
        self._check_bounds()
        if self.triage and self.kind not in TRIAGE_KINDS:
            why = (
                "free text must never be readable without opening the case"
                if self.kind is QuestionKind.TEXT
                else "only choice, multi, yesno and number answers may be triage"
            )
            raise _Invalid(f"triage is not allowed on a {self.kind} question: {why}", key="triage")
        return self

    def _check_kind_keys(self) -> None:
        present = {
            "option": bool(self.options),
            "min_choices": self.min_choices is not None,
            "max_choices": self.max_choices is not None,
            "yes_next": self.yes_next is not None,
            "no_next": self.no_next is not None,
            "max_length": self.max_length is not None,
            "min": self.min is not None,
            "max": self.max is not None,
        }
        allowed = _KIND_KEYS[self.kind]
        for key, is_set in present.items():
            if is_set and key not in allowed:
                what = "options" if key == "option" else f"{key!r}"
                raise _Invalid(f"a {self.kind} question takes no {what}", key=key)

    def _check_options(self) -> None:
        if not MIN_OPTIONS <= len(self.options) <= MAX_OPTIONS and self.kind in (
            QuestionKind.CHOICE,
            QuestionKind.MULTI,
        ):
            raise _Invalid(
                f"a {self.kind} question needs {MIN_OPTIONS} to {MAX_OPTIONS} options "
                f"([[question.option]]), it has {len(self.options)}",
            )
        seen: set[str] = set()
        for index, option in enumerate(self.options):
            if option.id in seen:
                raise _Invalid(f"option id {option.id!r} is used twice", key="id", option=index)
            seen.add(option.id)
            if option.next is not None and self.kind is not QuestionKind.CHOICE:
                raise _Invalid(
                    f"only options of a choice question can branch, this is a {self.kind} question",
                    key="next",
                    option=index,
                )

    def _check_bounds(self) -> None:
        if self.kind is QuestionKind.TEXT:
            if self.max_length is None:
                raise _Invalid("a text question needs max_length (1 to 4000)", key="max_length")
            if not 1 <= self.max_length <= MAX_TEXT_LENGTH:
                raise _Invalid(
                    f"max_length must be 1 to {MAX_TEXT_LENGTH}, not {self.max_length}",
                    key="max_length",
                )
        if self.min is not None and self.max is not None and self.min > self.max:
            raise _Invalid(f"min ({self.min}) is greater than max ({self.max})", key="min")
        count = len(self.options)
        for key, value in (("min_choices", self.min_choices), ("max_choices", self.max_choices)):
            if value is not None and not 1 <= value <= count:
                raise _Invalid(f"{key} must be 1 to {count} (the number of options)", key=key)
        if (
            self.min_choices is not None
            and self.max_choices is not None
            and self.min_choices > self.max_choices
        ):
            raise _Invalid(
                f"min_choices ({self.min_choices}) is greater than "
                f"max_choices ({self.max_choices})",
                key="min_choices",
            )


@dataclass(frozen=True)
class _Edge:
    """One way out of a question, and the key that sends it there (None: file order)."""

    target: str | None  # None is the review
    key: str | None
    option: int | None = None


class Questionnaire(_Model):
    meta: Meta
    questions: tuple[Question, ...] = Field(
        min_length=1, validation_alias=AliasChoices("question", "questions")
    )

    _index: dict[str, int] = PrivateAttr(default_factory=dict)

    # --- what the engine uses ------------------------------------------------------------------

    @property
    def first(self) -> str:
        return self.meta.start if self.meta.start is not None else self.questions[0].id

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(q.id for q in self.questions)

    @property
    def languages(self) -> tuple[str, ...]:
        return self.meta.languages

    def __contains__(self, question_id: object) -> bool:
        return question_id in self._index

    def get(self, question_id: str) -> Question | None:
        index = self._index.get(question_id)
        return None if index is None else self.questions[index]

    def question(self, question_id: str) -> Question:
        found = self.get(question_id)
        if found is None:
            raise QuestionnaireLookupError(f"no question {question_id!r} in this questionnaire")
        return found

    def next_step(self, question_id: str, answer: AnswerValue) -> str | None:
        """Where an answer leads: a question id, or None for the review.

        A branch is taken only for the option or yes/no actually chosen; a skip (None) or an
        answer without a branch goes to the question's ``next``, else the next one in the file.
        """
        q = self.question(question_id)
        target: str | None = None
        if q.kind is QuestionKind.CHOICE and isinstance(answer, str) and q.has_option(answer):
            target = q.option(answer).next
        elif q.kind is QuestionKind.YESNO and answer == "yes":
            target = q.yes_next
        elif q.kind is QuestionKind.YESNO and answer == "no":
            target = q.no_next
        return _step(target) if target is not None else self._default(q).target

    def successors(self, question_id: str) -> tuple[str | None, ...]:
        """Every step some answer (or a skip) can lead to from this question, None = review."""
        found: dict[str | None, None] = {}
        for edge in self._edges(self.question(question_id)):
            found[edge.target] = None
        return tuple(found)

    def paths(self) -> tuple[tuple[str, ...], ...]:
        """Every distinct route from the first question to the review.

        Meant for tests and checks: the count grows with every branch, so do not call it per
        message.
        """
        routes: dict[tuple[str, ...], None] = {}

        def walk(step: str, route: tuple[str, ...]) -> None:
            route = (*route, step)
            for target in self.successors(step):
                if target is None:
                    routes[route] = None
                else:
                    walk(target, route)

        walk(self.first, ())
        return tuple(routes)

    # --- the graph -----------------------------------------------------------------------------

    def _default(self, q: Question) -> _Edge:
        if q.next is not None:
            return _Edge(_step(q.next), "next")
        index = self._index[q.id] + 1
        return _Edge(self.questions[index].id if index < len(self.questions) else None, None)

    def _edges(self, q: Question) -> Iterator[_Edge]:
        default = self._default(q)
        if q.kind is QuestionKind.CHOICE:
            for index, option in enumerate(q.options):
                if option.next is not None:
                    yield _Edge(_step(option.next), "next", index)
                else:
                    yield default
        elif q.kind is QuestionKind.YESNO:
            yield _Edge(_step(q.yes_next), "yes_next") if q.yes_next is not None else default
            yield _Edge(_step(q.no_next), "no_next") if q.no_next is not None else default
        else:
            yield default
        if q.optional:
            yield default

    # --- checks --------------------------------------------------------------------------------

    @model_validator(mode="after")
    def _check(self) -> Questionnaire:
        index: dict[str, int] = {}
        for position, q in enumerate(self.questions):
            if q.id in index:
                raise _Invalid(
                    f"question id {q.id!r} is used twice "
                    f"(also by question number {index[q.id] + 1})",
                    key="id",
                    question=position,
                )
            index[q.id] = position
        self._index = index
        self._check_texts()
        self._check_targets()
        self._check_graph()
        return self

    def _check_texts(self) -> None:
        wanted = self.meta.languages
        for position, q in enumerate(self.questions):
            _check_texts(q.text, wanted, question=position, option=None)
            for number, option in enumerate(q.options):
                _check_texts(option.text, wanted, question=position, option=number)

    def _check_targets(self) -> None:
        start = self.meta.start
        if start is not None and start not in self._index:
            raise _Invalid(f"start {start!r} is not a question id", key="start", meta=True)
        for position, q in enumerate(self.questions):
            named: list[tuple[str, str | None, int | None]] = [
                ("next", q.next, None),
                ("yes_next", q.yes_next, None),
                ("no_next", q.no_next, None),
            ]
            named += [("next", option.next, n) for n, option in enumerate(q.options)]
            for key, target, option in named:
                if target is not None and target != REVIEW and target not in self._index:
                    hint = _close(target, [*self._index, REVIEW])
                    raise _Invalid(
                        f"{key} = {target!r} is not a question id (nor {REVIEW!r}){hint}",
                        key=key,
                        question=position,
                        option=option,
                    )

    def _check_graph(self) -> None:
        """No loops and no dead questions: every route from the start reaches the review.

        Any loop is refused, not only one with no way out: answers are kept per question, so a
        second visit would overwrite the first, and "question 3 of 11" would stop meaning much.
        """
        reaches_review = self._reaching_review()
        state: dict[str, int] = {}  # 1 = on the current route, 2 = done
        stack: list[tuple[str, Iterator[_Edge]]] = [
            (self.first, self._edges(self.question(self.first)))
        ]
        state[self.first] = 1
        while stack:
            qid, edges = stack[-1]
            edge = next(edges, None)
            if edge is None:
                state[qid] = 2
                stack.pop()
                continue
            if edge.target is None:
                continue
            seen = state.get(edge.target)
            if seen == 1:
                route = [step for step, _ in stack]
                loop = " → ".join([*route[route.index(edge.target) :], edge.target])
                trapped = edge.target not in reaches_review
                problem = f"the questionnaire loops ({loop})" + (
                    f" with no way out to the {REVIEW}" if trapped else "; a route must not repeat"
                )
                raise _Invalid(problem, key=edge.key, question=self._index[qid], option=edge.option)
            if seen is None:
                state[edge.target] = 1
                stack.append((edge.target, self._edges(self.question(edge.target))))
        for position, q in enumerate(self.questions):
            if q.id not in state:
                raise _Invalid(
                    f"no route from the start ({self.first!r}) leads to this question",
                    key="id",
                    question=position,
                )

    def _reaching_review(self) -> set[str]:
        done: set[str] = set()
        changed = True
        while changed:
            changed = False
            for q in self.questions:
                if q.id not in done and any(
                    e.target is None or e.target in done for e in self._edges(q)
                ):
                    done.add(q.id)
                    changed = True
        return done

    def _check_languages(self, languages: Sequence[str]) -> None:
        """Refuse a questionnaire that lacks texts for a language the bot is set to speak."""
        for lang in languages:
            base = base_language(lang)
            if base not in self.meta.languages:
                made = f" (it is made from {base!r})" if base != lang else ""
                listed = ", ".join(self.meta.languages)
                raise _Invalid(
                    f"no {base!r} text, but {lang!r} is enabled in the config{made}; "
                    f"this file has texts in: {listed}",
                    key="text",
                    question=0,
                )


def _step(target: str | None) -> str | None:
    return None if target == REVIEW else target


def _close(word: str, choices: Sequence[str]) -> str:
    match = difflib.get_close_matches(word, choices, n=1)
    return f"; did you mean {match[0]!r}?" if match else ""


def _check_texts(
    texts: Mapping[str, str], wanted: Sequence[str], *, question: int, option: int | None
) -> None:
    for lang in texts:
        if lang not in wanted:
            raise _Invalid(
                f"text in {lang!r}, which meta.languages does not list ({', '.join(wanted)})",
                key="text",
                question=question,
                option=option,
            )
    for lang in wanted:
        if lang not in texts:
            raise _Invalid(
                f"text is missing its {lang!r} translation",
                key="text",
                question=question,
                option=option,
            )
        if not texts[lang].strip():
            raise _Invalid(
                f"text in {lang!r} is empty", key="text", question=question, option=option
            )


# --- loading -------------------------------------------------------------------------------------


def load_questionnaire(path: Path | None = None, *, languages: Sequence[str]) -> Questionnaire:
    """Read and check a questionnaire; None reads the one shipped with the bot.

    ``languages`` are the languages the bot is set to speak; each needs its texts in the file.
    """
    if path is None:
        resource = resources.files("bot.intake").joinpath(DEFAULT_RESOURCE)
        source, raw = str(resource), resource.read_bytes()
    else:
        source = str(path)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise QuestionnaireError(
                f"{source}: cannot read the questionnaire: {exc.strerror}"
            ) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise QuestionnaireError(
            f"{source}:{line}: not UTF-8 text; save the file as UTF-8"
        ) from None
    return parse_questionnaire(text, source=source, languages=languages)


def parse_questionnaire(text: str, *, source: str, languages: Sequence[str]) -> Questionnaire:
    """Check a questionnaire given as TOML text; ``source`` names it in error messages."""
    layout = _Layout(text)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise QuestionnaireError(_syntax_message(source, layout, str(exc))) from None
    except (ValueError, RecursionError):
        raise QuestionnaireError(
            f"{source}: TOML syntax error: a number is too large or values are nested too deeply"
        ) from None
    try:
        questionnaire = Questionnaire.model_validate(data)
        questionnaire._check_languages(languages)
    except ValidationError as exc:
        raise QuestionnaireError(_validation_message(source, layout, data, exc)) from None
    except _Invalid as exc:
        raise QuestionnaireError(_invalid_message(source, layout, data, exc, ())) from None
    return questionnaire


def _syntax_message(source: str, layout: _Layout, message: str) -> str:
    found = re.search(r"\(at line (\d+), column \d+\)|\(at end of document\)", message)
    problem = message[: found.start()].strip() if found else message
    at_end = max(1, len(layout.lines))
    line = int(found.group(1)) if found and found.group(1) else at_end
    qid = layout.question_id_at(line - 1)
    where = f"question {qid!r}: " if qid else ""
    return _one_line(f"{source}:{line}: {where}TOML syntax error: {problem}")


def _validation_message(
    source: str, layout: _Layout, data: Mapping[str, Any], exc: ValidationError
) -> str:
    errors = exc.errors()
    first = errors[0]
    loc = tuple(first["loc"])
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    cause = first.get("ctx", {}).get("error")
    if isinstance(cause, _Invalid):
        return _invalid_message(source, layout, data, cause, loc) + more
    question, option, path = _split_loc(loc)
    key = path[0] if path else None
    kind = first["type"]
    if kind == "extra_forbidden":
        model = _model_at(loc)
        hint = _close(str(path[-1]), list(_keys(model))) if model is not None else ""
        problem = f"unknown key {_dotted(path)!r}{hint}"
    elif kind == "missing":
        problem = f"missing key {_dotted(path)!r}"
    else:
        shown = first.get("input")
        got = f" (got {_short(shown)})" if not isinstance(shown, dict | list) else ""
        problem = f"{_dotted(path) or 'value'}: {first['msg']}{got}"
    meta = len(loc) > 1 and loc[0] == "meta"
    if meta:
        key = str(loc[1]) if len(loc) > 1 else None
    return _message(source, layout, data, problem + more, question, option, key, meta=meta)


def _invalid_message(
    source: str,
    layout: _Layout,
    data: Mapping[str, Any],
    exc: _Invalid,
    loc: tuple[int | str, ...],
) -> str:
    from_loc, option_from_loc, _ = _split_loc(loc)
    question = exc.question if exc.question is not None else from_loc
    option = exc.option if exc.option is not None else option_from_loc
    meta = exc.meta or (bool(loc) and loc[0] == "meta")
    return _message(source, layout, data, exc.problem, question, option, exc.key, meta=meta)


def _message(
    source: str,
    layout: _Layout,
    data: Mapping[str, Any],
    problem: str,
    question: int | None,
    option: int | None,
    key: str | None,
    *,
    meta: bool,
) -> str:
    if meta:
        line = layout.meta_line(key)
        subject = "[meta]"
    elif question is not None:
        line = layout.question_line(question, option, key)
        subject = _subject(data, question, option)
    else:
        line = layout.top_line(key)
        subject = ""
    where = f"{source}:{line or 1}"
    return _one_line(f"{where}: {subject + ': ' if subject else ''}{problem}")


def _subject(data: Mapping[str, Any], question: int, option: int | None) -> str:
    q = _raw_at(data.get("question"), question)
    qid = q.get("id") if isinstance(q, dict) else None
    subject = f"question {qid!r}" if isinstance(qid, str) else f"question number {question + 1}"
    if option is not None and isinstance(q, dict):
        o = _raw_at(q.get("option"), option)
        oid = o.get("id") if isinstance(o, dict) else None
        subject += f", option {oid!r}" if isinstance(oid, str) else f", option number {option + 1}"
    return subject


def _raw_at(items: object, index: int) -> object:
    return items[index] if isinstance(items, list) and 0 <= index < len(items) else None


def _split_loc(loc: tuple[int | str, ...]) -> tuple[int | None, int | None, list[str]]:
    """('question', 2, 'option', 0, 'text', 'my') → (2, 0, ['text', 'my'])."""
    question = option = None
    rest = list(loc)
    if len(rest) >= 2 and rest[0] in ("question", "questions") and isinstance(rest[1], int):
        question, rest = rest[1], rest[2:]
        if len(rest) >= 2 and rest[0] in ("option", "options") and isinstance(rest[1], int):
            option, rest = rest[1], rest[2:]
    elif len(rest) > 1 and rest[0] == "meta":
        rest = rest[1:]
    return question, option, [str(part) for part in rest]


def _model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    question, option, path = _split_loc(loc)
    if len(path) != 1:
        return None
    if option is not None:
        return Option
    if question is not None:
        return Question
    return Meta if len(loc) > 1 and loc[0] == "meta" else Questionnaire


def _keys(model: type[BaseModel]) -> Iterator[str]:
    for name, info in model.model_fields.items():
        alias = info.validation_alias
        yield str(alias.choices[0]) if isinstance(alias, AliasChoices) else name


def _dotted(path: Sequence[str]) -> str:
    return ".".join(path)


def _short(value: object) -> str:
    if isinstance(value, int) and value.bit_length() > 64:
        return "a number too large"
    shown = repr(value)
    return shown if len(shown) <= 40 else shown[:37] + "..."


def _one_line(message: str) -> str:
    return " ".join(message.split())


_QUESTION_HEADER = re.compile(r"^\s*\[\[\s*question\s*\]\]\s*(#.*)?$")
_OPTION_HEADER = re.compile(r"^\s*\[\[\s*question\s*\.\s*option\s*\]\]\s*(#.*)?$")
_META_HEADER = re.compile(r"^\s*\[\s*meta\s*\]\s*(#.*)?$")
_ANY_HEADER = re.compile(r"^\s*\[")


@dataclass
class _Block:
    start: int  # line index of the header
    end: int  # line index after the block
    options: list[tuple[int, int]]


class _Layout:
    """Where the tables of a questionnaire file sit, found by reading its lines.

    tomllib gives no positions, so errors are placed by the file's own structure: the n-th
    ``[[question]]`` header starts the n-th question, and a key is the first line in that block
    that assigns it. If a key cannot be found, the message points at the block.
    """

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.questions: list[_Block] = []
        self.meta: tuple[int, int] | None = None
        self.first_table = len(self.lines)
        headers: list[tuple[int, str]] = []
        in_string: str | None = None
        for number, line in enumerate(self.lines):
            if in_string is None and _ANY_HEADER.match(line):
                if _QUESTION_HEADER.match(line):
                    headers.append((number, "question"))
                elif _OPTION_HEADER.match(line):
                    headers.append((number, "option"))
                elif _META_HEADER.match(line):
                    headers.append((number, "meta"))
                else:
                    headers.append((number, "other"))
            for quote in ('"""', "'''"):
                if line.count(quote) % 2 and in_string in (None, quote):
                    in_string = None if in_string == quote else quote
        if headers:
            self.first_table = headers[0][0]
        ends = [number for number, _ in headers[1:]] + [len(self.lines)] * bool(headers)
        for (number, kind), end in zip(headers, ends, strict=True):
            if kind == "question":
                self.questions.append(_Block(number, end, []))
            elif kind == "option" and self.questions:
                self.questions[-1].options.append((number, end))
                self.questions[-1].end = end
            elif kind == "meta":
                self.meta = (number, end)

    def question_line(self, question: int, option: int | None, key: str | None) -> int | None:
        if question >= len(self.questions):
            return None
        block = self.questions[question]
        if option is not None and option < len(block.options):
            start, end = block.options[option]
        else:
            start = block.start
            end = block.options[0][0] if block.options else block.end
        if key == "option" and option is None and block.options:
            return block.options[0][0] + 1
        return self._find(key, start, end) or self._find("id", start, end) or start + 1

    def meta_line(self, key: str | None) -> int | None:
        if self.meta is None:
            return self.top_line("meta")
        start, end = self.meta
        return self._find(key, start, end) or start + 1

    def top_line(self, key: str | None) -> int | None:
        if key is None:
            return None
        found = self._find(key, 0, self.first_table)
        if found:
            return found
        pattern = re.compile(rf"^\s*\[\[?\s*{re.escape(key)}\b")
        return next((n + 1 for n, line in enumerate(self.lines) if pattern.match(line)), None)

    def question_id_at(self, line: int) -> str | None:
        for block in self.questions:
            if block.start <= line < block.end:
                for text in self.lines[block.start : block.end]:
                    found = re.match(r"""^\s*id\s*=\s*["']([^"']*)["']""", text)
                    if found:
                        return found.group(1)
        return None

    def _find(self, key: str | None, start: int, end: int) -> int | None:
        if key is None:
            return None
        quoted = re.escape(key)
        pattern = re.compile(rf"""^\s*(?:{quoted}|"{quoted}"|'{quoted}')\s*[.=]""")
        for number in range(start, min(end, len(self.lines))):
            if pattern.match(self.lines[number]):
                return number + 1
        return None
