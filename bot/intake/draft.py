"""The state of one applicant's unfinished form, and how it is written down field by field.

A draft is immutable: the engine returns a new one. ``to_fields``/``from_fields`` give the
store one entry per answer plus one for progress, so each answer is its own ciphertext bound
to its field name, and a change rewrites only what changed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum

AnswerValue = str | int | tuple[str, ...] | None

PROGRESS_FIELD = "progress"
ANSWER_PREFIX = "answer:"


class Phase(StrEnum):
    CONSENT = "consent"
    QUESTION = "question"
    REVIEW = "review"


@dataclass(frozen=True)
class Answer:
    """``value`` None means skipped. ``uncertain`` flags free text whose encoding (Zawgyi or
    Unicode) could not be told apart, so a coordinator reads it with that in mind."""

    value: AnswerValue
    uncertain: bool = False


@dataclass(frozen=True)
class Draft:
    language: str
    phase: Phase = Phase.CONSENT
    step: str | None = None
    answers: Mapping[str, Answer] = field(default_factory=dict)
    selection: tuple[str, ...] = ()
    editing: bool = False
    turn: int = 0

    def advance(self, **changes: object) -> Draft:
        """A new draft with a new turn: buttons of earlier messages stop working."""
        return replace(self, turn=self.turn + 1, **changes)  # type: ignore[arg-type]

    def with_answer(self, qid: str, answer: Answer) -> Draft:
        return replace(self, answers={**self.answers, qid: answer})

    def to_fields(self) -> dict[str, bytes]:
        progress = {
            "language": self.language,
            "phase": self.phase.value,
            "step": self.step,
            "selection": list(self.selection),
            "editing": self.editing,
            "turn": self.turn,
        }
        fields = {PROGRESS_FIELD: _dump(progress)}
        for qid, answer in self.answers.items():
            value = list(answer.value) if isinstance(answer.value, tuple) else answer.value
            fields[ANSWER_PREFIX + qid] = _dump({"value": value, "uncertain": answer.uncertain})
        return fields

    @classmethod
    def from_fields(cls, fields: Mapping[str, bytes]) -> Draft:
        progress = json.loads(fields[PROGRESS_FIELD])
        answers: dict[str, Answer] = {}
        for name, raw in fields.items():
            if name.startswith(ANSWER_PREFIX):
                data = json.loads(raw)
                value = data["value"]
                answers[name.removeprefix(ANSWER_PREFIX)] = Answer(
                    tuple(value) if isinstance(value, list) else value, bool(data["uncertain"])
                )
        return cls(
            language=str(progress["language"]),
            phase=Phase(progress["phase"]),
            step=progress["step"],
            answers=answers,
            selection=tuple(progress["selection"]),
            editing=bool(progress["editing"]),
            turn=int(progress["turn"]),
        )


def _dump(data: object) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
