"""A case as a coordinator reads it: answers in the questionnaire's order, notes, the exchange.

Only ever built in memory from fields just decrypted with a coordinator's unlocked key, and
sent with forwarding protected; it is deleted from the chat after the configured time.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime

from bot.i18n import Catalog
from bot.intake.engine import Context, display_answer
from bot.intake.questionnaire import Questionnaire

COORDINATOR_LANGUAGE = "en"


def _when(at: int) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC")


def render_case(
    *,
    code: str,
    status: str,
    submitted_at: int | None,
    fields: Mapping[str, bytes],
    inbox: list[tuple[int, str]],
    questionnaire: Questionnaire,
    catalog: Catalog,
) -> str:
    ctx = Context(questionnaire, catalog)
    lines = [f"Case {code} · {status}"]
    if submitted_at:
        # Kept to the day on disk, so it cannot be matched with an applicant's activity.
        lines.append(f"Submitted {datetime.fromtimestamp(submitted_at, UTC):%Y-%m-%d}")
    language = fields.get("language", b"?").decode()
    lines.append(f"Applicant's language: {language}")
    lines.append("")
    for qid in questionnaire.ids:
        raw = fields.get(f"answer:{qid}")
        if raw is None:
            continue
        answer = json.loads(raw)
        question = questionnaire.question(qid)
        value = answer["value"]
        value = tuple(value) if isinstance(value, list) else value
        shown = display_answer(ctx, COORDINATOR_LANGUAGE, question, value)
        label = question.text.get(COORDINATOR_LANGUAGE, qid).splitlines()[0]
        flag = (
            "  ⚠ encoding uncertain (may be Zawgyi): read with care" if answer["uncertain"] else ""
        )
        lines.append(f"• {label}\n   → {shown}{flag}")
    history = _history(fields)
    if history or inbox:
        lines += ["", "Notes and questions:"]
        answers = [(at, f"applicant answered: {text}") for at, text in inbox]
        for at, line in sorted(history + answers):
            lines.append(f"  {_when(at)} {line}")
    for name, title in (("decision", "Decision"), ("handoff", "Next step sent")):
        if name in fields:
            lines += ["", f"{title}: {json.loads(fields[name])['text']}"]
    return "\n".join(lines)


def _history(fields: Mapping[str, bytes]) -> list[tuple[int, str]]:
    entries: list[tuple[int, str]] = []
    for name, raw in fields.items():
        kind = name.split(":", 1)[0]
        if kind not in ("note", "ask"):
            continue
        data = json.loads(raw)
        verb = "note" if kind == "note" else "asked"
        entries.append((int(data["at"]), f"{data['by']} {verb}: {data['text']}"))
    return entries
