"""The organisation's vetting steps on a case: recorded with /check, taken back with /uncheck,
shown in /show and /queue, and waited for by /approve.

Each check or undo is an entry sealed into the case under its key, as a note is: who, when, which
step and the note or reason. Its audit entry names the action and the case, never the step or
the note. The rules of who may record what are ``bot.coordination.vetting``'s.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from bot.coordination import CaseState
from bot.coordination.vetting import (
    TEXT_LIMIT,
    Done,
    Latest,
    Mark,
    Refusal,
    Step,
    StepRefused,
    latest,
    missing,
    progress,
)
from bot.coordination.vetting import check as check_step
from bot.coordination.vetting import uncheck as uncheck_step
from bot.i18n import coordinator_language
from bot.intake.events import Reply
from bot.services.coordination.base import (
    CoordIncoming,
    CoordResponse,
    Opened,
    Refused,
    ServiceBase,
)
from bot.store import coordination as store
from bot.text import normalize_input

#: The kind of a case's entries that record the steps: ``step:0001``, ``step:0002``… The name
#: says only that some step was checked or taken back; which, by whom and why is sealed.
ENTRY = "step"

# The text for each refusal of the rules, told the step and the case code.
_REFUSALS = {
    Refusal.UNKNOWN_STEP: "check_unknown",
    Refusal.ALREADY_DONE: "check_already",
    Refusal.NOT_DONE: "uncheck_not_done",
    Refusal.HOLDER: "check_holder",
    Refusal.SAME_PERSON: "check_same_person",
    Refusal.NOT_THEIRS: "uncheck_not_theirs",
    Refusal.NOT_HOLDER: "check_not_holder",
}


def marks_of(fields: Mapping[str, bytes]) -> list[Mark]:
    """A case's vetting record from its opened fields, in the order it was written."""
    marks = []
    for name in sorted(n for n in fields if n.startswith(ENTRY + ":")):
        data = json.loads(fields[name])
        undo = bool(data.get("undo"))
        marks.append(Mark(data["step"], data["by"], int(data["at"]), undo, data["text"]))
    return marks


class VettingMixin(ServiceBase):
    """/check and /uncheck, and the steps in /show, /queue and /approve."""

    @property
    def _steps(self) -> tuple[Step, ...]:
        return self.settings.vetting

    async def _cmd_check(
        self, me: store.CoordinatorRow, inc: CoordIncoming, work: store.WorkRow, arg: str
    ) -> CoordResponse:
        return await self._mark(me, inc, work, arg, undo=False)

    async def _cmd_uncheck(
        self, me: store.CoordinatorRow, inc: CoordIncoming, work: store.WorkRow, arg: str
    ) -> CoordResponse:
        return await self._mark(me, inc, work, arg, undo=True)

    async def _mark(
        self,
        me: store.CoordinatorRow,
        inc: CoordIncoming,
        work: store.WorkRow,
        arg: str,
        *,
        undo: bool,
    ) -> CoordResponse:
        """A step checked (with an optional note) or taken back (with a reason, which is
        required), as the rules allow, while the case is claimed and undecided. Whatever the
        answer, the command's message leaves the chat once it carries more than the code (the
        service sees to it for every command that carries text), as a /note's does."""
        return CoordResponse((Reply(await self._marked(me, work, arg, undo=undo)),), expire=True)

    async def _marked(
        self, me: store.CoordinatorRow, work: store.WorkRow, arg: str, *, undo: bool
    ) -> str:
        step_id, _, typed = arg.partition(" ")
        text = normalize_input(typed.strip()).text  # Zawgyi stored as Unicode, as an answer
        if not self._steps:
            return self._t(me, "no_steps")
        refused = await self._decided(me, work, step_id, undo=undo)
        if refused:
            return refused
        if not step_id or (undo and not text):
            usage = "uncheck_usage" if undo else "check_usage"
            return self._t(me, usage, code=work.code, steps=self._ids())
        if len(text) > TEXT_LIMIT:
            return self._t(me, "check_too_long", limit=TEXT_LIMIT, length=len(text))
        opened = await self._open(me, work)
        marks = marks_of(opened[1])
        done, holder = progress(marks), work.assignee_handle
        lead = me.role == "lead"
        try:
            if undo:
                step = uncheck_step(
                    self._steps, done, step_id, actor=me.handle, holder=holder, lead=lead
                )
            else:
                step = check_step(
                    self._steps, done, step_id, actor=me.handle, holder=holder, lead=lead
                )
        except StepRefused as exc:
            refusal = _REFUSALS[exc.reason]
            return self._t(me, refusal, code=work.code, step=exc.step, steps=self._ids())
        record = self._record(me.handle, text, step=step.id, **({"undo": "1"} if undo else {}))
        audit = "unchecked" if undo else "checked"
        async with self.db.transaction() as conn:
            await self._add_entry(conn, me, work, opened, ENTRY, record, audit=audit)
        done = progress([*marks, Mark(step.id, me.handle, self._now(), undo, text)])
        if undo:
            return self._t(me, "unchecked", code=work.code, step=step.id, **self._tally(done))
        answer = self._t(me, "checked", code=work.code, step=step.id, **self._tally(done))
        return answer + self._still_needed(me, work, done)

    async def _decided(
        self, me: store.CoordinatorRow, work: store.WorkRow, step_id: str, *, undo: bool
    ) -> str:
        """The answer if the case's state closes its steps, else "". Steps change only while
        the case is claimed: an approval was given on the steps as they stood, so taking one
        back afterwards would hand off a case vetted less than its approver saw. The one
        exception is a step an approved case lacks (the config made it required, or the case
        was flagged, after approval): it may be checked, so /handoff can go ahead."""
        state = CaseState(work.status)
        if state is CaseState.CLAIMED:
            return ""
        if state is CaseState.APPROVED:
            if not undo and step_id.strip().lower() in await self._waiting(me, work):
                return ""
            return self._t(me, "check_approved", code=work.code)
        return self._t(me, "check_decided", code=work.code, state=self._t(me, f"state_{state}"))

    async def _waiting(self, me: store.CoordinatorRow, work: store.WorkRow) -> tuple[str, ...]:
        """The steps approval would wait for now, from the case as ``me``'s key opens it."""
        done = progress(marks_of((await self._open(me, work))[1]))
        return missing(self._steps, done, flagged=work.flagged)

    async def _before_approval(self, me: store.CoordinatorRow, work: store.WorkRow) -> None:
        await super()._before_approval(me, work)
        await self._refuse_while_waiting(me, work, "approve_steps_missing")

    async def _before_handoff(self, me: store.CoordinatorRow, work: store.WorkRow) -> None:
        """Steps cannot be taken back once a case is approved; this holds a handoff back all the
        same if one is missing, as when the config made a step required (or the case was
        flagged) after the approval: the applicant is sent on only once it is recorded."""
        await super()._before_handoff(me, work)
        await self._refuse_while_waiting(me, work, "handoff_steps_missing")

    async def _refuse_while_waiting(
        self, me: store.CoordinatorRow, work: store.WorkRow, refusal: str
    ) -> None:
        """Raise ``Refused`` (``refusal``'s text, naming the steps) while any is missing."""
        if self._steps and (waiting := await self._waiting(me, work)):
            steps = self._listed(me, waiting)
            raise Refused(self._t(me, refusal, code=work.code, steps=steps))

    async def _case_sections(
        self, me: store.CoordinatorRow, work: store.WorkRow, fields: Mapping[str, bytes]
    ) -> list[str]:
        sections = await super()._case_sections(me, work, fields)
        if not self._steps:
            return sections
        marks = marks_of(fields)
        done, last = progress(marks), latest(marks)
        lines = [self._t(me, "vetting_heading", **self._tally(done))]
        for step in self._steps:
            lines += self._step_lines(me, work, step, done.get(step.id), last.get(step.id))
        return [*sections, "\n".join(lines)]

    def _step_lines(
        self,
        me: store.CoordinatorRow,
        work: store.WorkRow,
        step: Step,
        record: Done | None,
        last: Latest | None,
    ) -> list[str]:
        """One step in the case view: done or to do, then its last undo if that is the latest
        word on it; earlier undos are counted, not listed, so the view stays one message."""
        text = self._step_text(me, step)
        earlier = last.earlier_undos if last is not None else 0
        again = self._t(me, "vetting_earlier_undos", n=earlier) if earlier else ""
        if record is not None:
            note = self._t(me, "vetting_note", text=record.text) if record.text else ""
            return [
                self._t(
                    me,
                    "vetting_done",
                    step=step.id,
                    text=text,
                    handle=record.by,
                    note=note + again,
                    **_day(record.at),
                )
            ]
        wanted = step.required or work.flagged
        kind = "vetting_todo_required" if wanted else "vetting_todo"
        second = self._t(me, "vetting_second") if step.second_person else ""
        lines = [self._t(me, kind, step=step.id, text=text, second=second)]
        if last is not None and last.mark.undone:
            by, reason, at = last.mark.by, last.mark.text, _day(last.mark.at)
            undone = self._t(me, "vetting_undone", step=step.id, handle=by, reason=reason, **at)
            lines.append(undone + again)
        return lines

    async def _queue_additions(
        self, me: store.CoordinatorRow, opened: Sequence[Opened]
    ) -> tuple[dict[str, list[str]], list[str]]:
        after, below = await super()._queue_additions(me, opened)
        if self._steps:
            for work, fields in opened:
                done = progress(marks_of(fields))
                tally = self._t(me, "queue_steps", **self._tally(done))
                after.setdefault(work.code, []).append(tally)
        return after, below

    def _still_needed(
        self, me: store.CoordinatorRow, work: store.WorkRow, done: Mapping[str, Done]
    ) -> str:
        waiting = missing(self._steps, done, flagged=work.flagged)
        if not waiting:
            return " " + self._t(me, "check_all_done", code=work.code)
        return " " + self._t(me, "check_still", steps=self._listed(me, waiting))

    def _tally(self, done: Mapping[str, Done]) -> dict[str, int]:
        return {"done": sum(1 for s in self._steps if s.id in done), "total": len(self._steps)}

    def _ids(self) -> str:
        return ", ".join(step.id for step in self._steps)

    def _listed(self, me: store.CoordinatorRow, ids: tuple[str, ...]) -> str:
        by_id = {step.id: step for step in self._steps}
        return self._t(me, "list_separator").join(
            self._t(me, "vetting_named", step=i, text=self._step_text(me, by_id[i])) for i in ids
        )

    def _step_text(self, me: store.CoordinatorRow, step: Step) -> str:
        return step.text.get(coordinator_language(me.language)) or step.text.get("en") or step.id


def _day(at: int) -> dict[str, int]:
    day = datetime.fromtimestamp(at, UTC)
    return {"year": day.year, "month": day.month, "day": day.day}
