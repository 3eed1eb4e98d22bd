"""The organisation's vetting steps: which are done on a case, which approval still waits for,
and who may record each one.

The army sends infiltrators, so a case is approved only after the organisation's own checks
(a call, the story checked with someone who served there, the verification number said back…).
The steps are the organisation's, from its config; what was done lives sealed inside the case as
a list of marks (a step checked, or a check undone with a reason), and these rules read the list
in the order it was written. They know nothing of keys, SQL or Telegram.

An ordinary step is the holder's to record (or a lead's): they made the call, they checked the
story. A step marked ``second_person`` is what "a second coordinator agrees" needs: whoever checks
it must neither hold the case nor have checked any other of its steps, and whoever checked it may
check no other step. So the agreement is always a different person's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

#: The most characters a step's note or an undo's reason may have: the case view lists one of
#: each per step, and must stay readable (and within a message).
TEXT_LIMIT = 300


@dataclass(frozen=True)
class Step:
    """One step of the organisation's list: its id, its text in each coordinator language (the
    rules never read it), whether approval waits for it, and whether it is a second person's."""

    id: str
    required: bool = True
    second_person: bool = False
    text: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)
    # Done again when the case moves to a new account (a call, the number said back): the
    # person on the new account may not be the one who did it the first time.
    reopen_on_account_change: bool = False


@dataclass(frozen=True)
class Mark:
    """One entry of a case's vetting record, in the order written: a step checked by ``by`` at
    ``at`` with a note, or (``undone``) a check taken back, with the reason."""

    step: str
    by: str
    at: int
    undone: bool = False
    text: str = ""


@dataclass(frozen=True)
class Done:
    """A step that stands checked: by whom, when, and their note."""

    step: str
    by: str
    at: int
    text: str = ""


class Refusal(StrEnum):
    """Why a step cannot be recorded or undone; each is a text the coordinator reads."""

    UNKNOWN_STEP = "unknown_step"
    ALREADY_DONE = "already_done"
    NOT_DONE = "not_done"
    HOLDER = "holder"  # a second-person step, by the case's holder
    SAME_PERSON = "same_person"  # a second-person step and another, by one person
    NOT_HOLDER = "not_holder"  # an ordinary step, by neither the holder nor a lead
    NOT_THEIRS = "not_theirs"  # undoing another's check, neither holder nor lead


class StepRefused(Exception):
    """A check or an undo the rules refuse; ``reason`` says which rule."""

    def __init__(self, reason: Refusal, step: str = "") -> None:
        super().__init__(reason.value)
        self.reason = reason
        self.step = step


def progress(marks: Iterable[Mark]) -> dict[str, Done]:
    """The steps that stand checked after every mark, in the order written: an undo removes
    the check before it, and a later check stands again."""
    done: dict[str, Done] = {}
    for mark in marks:
        if mark.undone:
            done.pop(mark.step, None)
        else:
            done[mark.step] = Done(mark.step, mark.by, mark.at, mark.text)
    return done


def missing(steps: Sequence[Step], done: Mapping[str, Done], *, flagged: bool) -> tuple[str, ...]:
    """The steps approval still waits for, in the list's order: the required ones, or every
    one on a case flagged as suspect."""
    return tuple(step.id for step in steps if (step.required or flagged) and step.id not in done)


def reopened_by_account_change(steps: Sequence[Step], done: Mapping[str, Done]) -> tuple[str, ...]:
    """The steps done on a case that its move to a new account takes back, in the list's order."""
    return tuple(s.id for s in steps if s.reopen_on_account_change and s.id in done)


def check(
    steps: Sequence[Step],
    done: Mapping[str, Done],
    step_id: str,
    *,
    actor: str,
    holder: str | None,
    lead: bool = False,
) -> Step:
    """The step ``actor`` may check now, or ``StepRefused``. ``actor`` and ``holder`` name
    coordinators the same way (their handles); ``lead`` says the actor is a lead."""
    step = _step(steps, step_id)
    if step.id in done:
        raise StepRefused(Refusal.ALREADY_DONE, step.id)
    second = {s.id for s in steps if s.second_person}
    others = [d for d in done.values() if d.by == actor]
    if step.second_person:
        if actor == holder:
            raise StepRefused(Refusal.HOLDER, step.id)
        if others:
            raise StepRefused(Refusal.SAME_PERSON, step.id)
    elif any(d.step in second for d in others):
        # They agreed as the second person: their agreement stays a second person's.
        raise StepRefused(Refusal.SAME_PERSON, step.id)
    elif not (actor == holder or lead):
        raise StepRefused(Refusal.NOT_HOLDER, step.id)
    return step


def uncheck(
    steps: Sequence[Step],
    done: Mapping[str, Done],
    step_id: str,
    *,
    actor: str,
    holder: str | None,
    lead: bool,
) -> Step:
    """The step ``actor`` may take back now, or ``StepRefused``: whoever checked it, the case's
    holder, or a lead."""
    step = _step(steps, step_id)
    record = done.get(step.id)
    if record is None:
        raise StepRefused(Refusal.NOT_DONE, step.id)
    if not (record.by == actor or actor == holder or lead):
        raise StepRefused(Refusal.NOT_THEIRS, step.id)
    return step


@dataclass(frozen=True)
class Latest:
    """What a case view shows of one step: its last mark, and how many undos came before it."""

    mark: Mark
    earlier_undos: int


def latest(marks: Iterable[Mark]) -> dict[str, Latest]:
    """Each step's last mark and the count of undos before it: every undo stays sealed in the
    case, but the view lists one line per step, so it never grows past a message."""
    last: dict[str, Mark] = {}
    undos: dict[str, int] = {}
    for mark in marks:
        before = last.get(mark.step)
        if before is not None and before.undone:
            undos[mark.step] = undos.get(mark.step, 0) + 1
        last[mark.step] = mark
    return {step: Latest(mark, undos.get(step, 0)) for step, mark in last.items()}


def _step(steps: Sequence[Step], step_id: str) -> Step:
    wanted = step_id.strip().lower()
    for step in steps:
        if step.id == wanted:
            return step
    raise StepRefused(Refusal.UNKNOWN_STEP, step_id)
