"""Probes and repeats: a case read beside the other cases its reader can open.

When an unlocked coordinator opens a case, its answers are compared, in memory, with those of
every other case their own key opens and not yet closed (the newest few hundred), and the
closest are named in the case view; a burst of near-identical cases in the queue gets a line of
its own. Nothing is compared that the reader could not already read, nothing computed is
stored, and nothing of it goes to a group: another team's coordinator, holding no key to these
cases, is shown nothing of them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from bot.coordination.probes import CaseAnswers, Closeness, bursts, closest, text_readings
from bot.intake.questionnaire import QuestionKind
from bot.services.coordination.base import Opened, ServiceBase
from bot.store import coordination as store
from bot.text import zawgyi_to_unicode

#: The most other cases a case view is compared with (the most recently sent).
MOST_COMPARED = 500


class ProbesMixin(ServiceBase):
    """Close cases named in /show, bursts of them in /queue."""

    async def _case_sections(
        self, me: store.CoordinatorRow, work: store.WorkRow, fields: Mapping[str, bytes]
    ) -> list[str]:
        sections = await super()._case_sections(me, work, fields)
        others = []
        for case_id in await store.cases_sealed_to(self.db.conn, me.id):
            row = await self._work_by_id(self.db.conn, case_id)
            # A closed case is done with; a rejected or handed-off one may still come back.
            if row is not None and row.case_id != work.case_id and row.status != "closed":
                others.append(row)
        # Each is opened and compared while every other command waits: the newest only.
        others.sort(key=lambda row: row.submitted_at or 0, reverse=True)
        capped = len(others) > MOST_COMPARED
        near = closest(
            self._answers(work, fields),
            [
                self._answers(row, opened)
                for row, opened in await self._openable(me, others[:MOST_COMPARED])
            ],
        )
        lines = [self._t(me, "probe_heading")] if near else []
        lines += [self._close_line(me, found) for found in near]
        if capped:  # nothing named may still mean something among the older ones
            lines.append(self._t(me, "probe_capped", n=MOST_COMPARED))
        return [*sections, "\n".join(lines)] if lines else sections

    async def _queue_additions(
        self, me: store.CoordinatorRow, opened: Sequence[Opened]
    ) -> tuple[dict[str, list[str]], list[str]]:
        after, below = await super()._queue_additions(me, opened)
        for group in bursts([self._answers(row, fields) for row, fields in opened]):
            codes = self._t(me, "list_separator").join(group)
            below.append(self._t(me, "queue_burst", count=len(group), codes=codes))
        return after, below

    def _close_line(self, me: store.CoordinatorRow, found: Closeness) -> str:
        if found.days_apart == 0:
            apart = self._t(me, "probe_same_day")
        else:
            apart = self._t(me, "probe_days_apart", n=found.days_apart)
        return self._t(
            me,
            "probe_line",
            code=found.code,
            same=found.same,
            compared=found.compared,
            apart=apart,
        )

    def _answers(self, work: store.WorkRow, fields: Mapping[str, bytes]) -> CaseAnswers:
        """A case's answers as the comparison takes them: a button's option ids as they are,
        a typed answer in every reading worth comparing."""
        choices: dict[str, str | int | float | tuple[str, ...] | None] = {}
        texts: dict[str, tuple[str, ...]] = {}
        for qid in self.questionnaire.ids:
            raw = fields.get(f"answer:{qid}")
            if raw is None:
                continue
            answer = json.loads(raw)
            value = answer["value"]
            if self.questionnaire.question(qid).kind is QuestionKind.TEXT and isinstance(
                value, str
            ):
                texts[qid] = text_readings(value, bool(answer["uncertain"]), zawgyi_to_unicode)
            elif isinstance(value, list):
                choices[qid] = tuple(sorted(str(v) for v in value))
            else:
                choices[qid] = value
        return CaseAnswers(work.code, work.submitted_at or 0, choices, texts)
