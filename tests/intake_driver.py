"""Walk an applicant through the default questionnaire over the local Bot API server."""

from __future__ import annotations

from collections.abc import Mapping

from bot.i18n import LANGUAGES, Catalog
from bot.intake.questionnaire import QuestionKind, Questionnaire, load_questionnaire
from tests.conftest import Applicant

CATALOG = Catalog(LANGUAGES)


async def begin(person: Applicant, language: str = "English", lang: str = "en") -> None:
    """Where every form begins: /start, the language, then consent."""
    await person.send("/start")
    await person.tap(language)
    await person.tap(CATALOG.text(lang, "consent_yes"))


def default_questionnaire() -> Questionnaire:
    return load_questionnaire(None, languages=list(LANGUAGES))


def default_route(q: Questionnaire) -> tuple[str, ...]:
    """The route taken when every choice question gets its first option."""
    route: list[str] = []
    step: str | None = q.first
    while step is not None:
        route.append(step)
        question = q.question(step)
        first = question.options[0].id if question.options else None
        if question.kind is QuestionKind.YESNO:
            first = "no"
        step = q.next_step(step, first)
    return tuple(route)


async def answer_all(
    person: Applicant,
    lang: str,
    typed: Mapping[str, str] | None = None,
    *,
    stop_before: str | None = None,
) -> tuple[str, ...]:
    """Answer each question on the default route; ``typed`` gives free-text answers by id."""
    q = default_questionnaire()
    typed = typed or {}
    route = default_route(q)
    for qid in route:
        if qid == stop_before:
            break
        await answer_one(person, q, qid, lang, typed.get(qid))
    return route


async def answer_one(
    person: Applicant, q: Questionnaire, qid: str, lang: str, typed: str | None = None
) -> None:
    question = q.question(qid)
    expected = CATALOG.localize(lang, question.text)
    prompt = await person.last_text()
    assert expected in prompt, f"expected question {qid!r}, the chat shows {prompt!r}"
    if question.kind is QuestionKind.CHOICE:
        await person.tap(CATALOG.localize(lang, question.options[0].text))
    elif question.kind is QuestionKind.YESNO:
        await person.tap(CATALOG.text(lang, "no"))
    elif question.kind is QuestionKind.MULTI:
        await person.tap(CATALOG.localize(lang, question.options[0].text))
        await person.tap(CATALOG.text(lang, "done"))
    elif question.kind is QuestionKind.NUMBER:
        await person.send(typed or str(question.min or 0))
    elif typed is None and question.optional:
        await person.tap(CATALOG.text(lang, "skip"))
    else:
        await person.send(typed or "2021" if question.kind is QuestionKind.YEAR else typed or "x")


def status_answer(language: str, status: str) -> str:
    """What ``/status`` with a right receipt shows for a case a new account may still take on:
    the status, then the offer to use this account for it."""
    catalog_status = CATALOG.text(language, f"status_{status}")
    return f"{catalog_status}\n\n{CATALOG.text(language, 'account_offer')}"
