"""A case as a coordinator reads it: answers in the questionnaire's order, notes, the exchange.

Only ever built in memory from fields just decrypted with a coordinator's unlocked key, and
sent with forwarding protected; it is deleted from the chat after the configured time.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime

from bot.coordination import CaseState, Words
from bot.i18n import DEFAULT_LANGUAGE, Catalog, CoordinatorCatalog, coordinator_language
from bot.intake.engine import Context, display_answer
from bot.intake.questionnaire import Questionnaire

#: The language of a case view when none is asked for: the operator's offline recovery.
COORDINATOR_LANGUAGE = DEFAULT_LANGUAGE

_STATES: frozenset[str] = frozenset(state.value for state in CaseState)

InboxEntry = tuple[int, str, bool]
"""An applicant's answer deposited into a case: ``(at, text as written, encoding uncertain)``."""


def render_case(
    *,
    code: str,
    status: str,
    submitted_at: int | None,
    fields: Mapping[str, bytes],
    inbox: list[InboxEntry],
    questionnaire: Questionnaire,
    catalog: Catalog,
    language: str | None = None,
    texts: CoordinatorCatalog | None = None,
) -> str:
    """The case in the reader's ``language`` (a coordinator's; English if none): every label
    from the coordinators' catalogue, every question and option from the questionnaire's text
    in that language where it has one, and what the applicant and coordinators wrote as they
    wrote it, since a translation could change what a vetting turns on."""
    lang = coordinator_language(language)
    catalogue = texts if texts is not None else CoordinatorCatalog()

    def words(key: str, /, **params: object) -> str:
        return catalogue.text(lang, key, **params)

    ctx = Context(questionnaire, catalog)
    state = words(f"state_{status}") if status in _STATES else status
    lines = [words("case_heading", code=code, state=state)]
    if submitted_at:
        # Kept to the day on disk, so it cannot be matched with an applicant's activity.
        day = datetime.fromtimestamp(submitted_at, UTC)
        lines.append(words("case_submitted", year=day.year, month=day.month, day=day.day))
    language_code = fields.get("language", b"?").decode()
    lines.append(words("case_language", language=language_code))
    lines.append("")
    for qid in questionnaire.ids:
        raw = fields.get(f"answer:{qid}")
        if raw is None:
            continue
        answer = json.loads(raw)
        question = questionnaire.question(qid)
        value = answer["value"]
        value = tuple(value) if isinstance(value, list) else value
        shown = display_answer(ctx, lang, question, value)
        label = question.text.get(lang) or question.text.get(DEFAULT_LANGUAGE, qid)
        flag = words("case_uncertain") if answer["uncertain"] else ""
        lines.append(f"• {label.splitlines()[0]}\n   → {shown}{flag}")
    history = _history(fields, words)
    if history or inbox:
        lines += ["", words("case_history")]
        answers = [
            (at, words("case_answered", text=text) + (words("inbox_uncertain") if unsure else ""))
            for at, text, unsure in inbox
        ]
        for at, line in sorted(history + answers):
            lines.append(f"  {_when(at, words)} {line}")
    for name in ("decision", "handoff"):
        if name in fields:
            lines += ["", words(f"case_{name}", text=json.loads(fields[name])["text"])]
    return "\n".join(lines)


def _when(at: int, words: Words) -> str:
    moment = datetime.fromtimestamp(at, UTC)
    return words(
        "case_when",
        year=moment.year,
        month=moment.month,
        day=moment.day,
        hour=moment.hour,
        minute=moment.minute,
    )


def _history(fields: Mapping[str, bytes], words: Words) -> list[tuple[int, str]]:
    entries: list[tuple[int, str]] = []
    for name, raw in fields.items():
        kind = name.split(":", 1)[0]
        if kind not in ("note", "ask"):
            continue
        data = json.loads(raw)
        entries.append(
            (int(data["at"]), words(f"case_{kind}", handle=data["by"], text=data["text"]))
        )
    return entries


#: The longest text one Telegram message may carry.
MESSAGE_LIMIT = 4096


def message_pieces(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """``text`` as messages Telegram takes: whole sections (blank-line separated) together as
    far as they fit, a longer section cut between lines, a longer line cut where it must. A
    case with many long notes is then read in several messages rather than not at all."""
    pieces: list[str] = []
    for section in text.split("\n\n"):
        for part in _cut(section, "\n", limit):
            joined = f"{pieces[-1]}\n\n{part}" if pieces else part
            if pieces and len(joined) <= limit:
                pieces[-1] = joined
            else:
                pieces.append(part)
    return pieces


def _cut(text: str, separator: str, limit: int) -> list[str]:
    if len(text) <= limit:
        return [text]
    parts: list[str] = []
    for line in text.split(separator):
        chunks = [line[i : i + limit] for i in range(0, len(line), limit)] or [""]
        for chunk in chunks:
            if parts and len(parts[-1]) + len(separator) + len(chunk) <= limit:
                parts[-1] += separator + chunk
            else:
                parts.append(chunk)
    return parts
