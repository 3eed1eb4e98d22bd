"""The case workflow: a submission's notice, the queue and counts, and each move of a case from
claim to handoff, with the case views that vanish after a while.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping

import aiosqlite

from bot.coordination import (
    Action,
    CaseState,
    QueueItem,
    approve,
    locked_queue_lines,
    notice_text,
    order,
    priority,
    queue_lines,
    transition,
)
from bot.coordination.queue import SEPARATOR
from bot.coordination.teams import receives
from bot.crypto import DecryptionError, new_case_dropbox
from bot.intake.events import Reply
from bot.services.case_view import message_pieces, render_case
from bot.services.coordination.base import CoordIncoming, CoordResponse, ServiceBase, say
from bot.services.intake import Submission
from bot.services.outbox import OutMessage
from bot.services.sealing import sealed_copies
from bot.store import coordination as store
from bot.store.writes import apply

# Posted to the coordinators' group, read by everyone there: both languages on one line.
GROUP_SECOND_APPROVAL = (
    "Case {code} needs a second coordinator to confirm: /approve {code}"
    " · {code} ကို ဒုတိယ ညှိနှိုင်းရေးမှူး တစ်ယောက်က /approve {code} နဲ့ အတည်ပြုရမယ်"
)


class WorkflowMixin(ServiceBase):
    """Submission, /queue, /stats, and the commands that move or decide a case."""

    async def schedule_deletion(self, chat_id: int, message_ids: list[int]) -> None:
        delete_at = self._now() + self.settings.case_view_ttl_seconds
        async with self.db.transaction() as conn:
            for message_id in message_ids:
                await store.schedule_deletion(
                    conn,
                    chat=self.vault.seal_local(
                        str(chat_id).encode(), purpose="deletion", context="chat"
                    ),
                    message_id=message_id,
                    delete_at=delete_at,
                )

    async def run_due_deletions(self, delete: Callable[[int, int], Awaitable[None]]) -> int:
        done = 0
        for deletion_id, chat, message_id in await store.due_deletions(
            self.db.conn, now=self._now()
        ):
            chat_id = int(self.vault.open_local(chat, purpose="deletion", context="chat"))
            await delete(chat_id, message_id)
            async with self.db.transaction() as conn:
                await store.forget_deletion(conn, deletion_id)
            done += 1
        self.keys.sweep(self.clock())
        self._forget_stale_prompts()
        return done

    async def on_submit(self, conn: aiosqlite.Connection, sub: Submission) -> None:
        """Inside the submission's transaction: seal the case to its team, tell their group.

        The team is chosen by the answers; only its members and leads (and the leads of every
        team) get a sealed copy, so one traitor's key opens only their own team's cases."""
        item = QueueItem(sub.code, CaseState.SUBMITTED, self._now(), None, sub.triage, False)
        dropbox = new_case_dropbox(sub.case_key, case_id=sub.case_id)
        team = self.teams.route(sub.routing)
        holders = await self._team_holders(conn, team)
        writes = [
            store.case_team_write(sub.case_id, team),
            store.priority_write(sub.case_id, priority(item)),
            store.dropbox_write(sub.case_id, dropbox.public_key, dropbox.protected_private_key),
        ]
        if holders:
            writes.append(
                store.case_keys_write(
                    sub.case_id, sealed_copies(sub.case_id, sub.case_key, holders)
                )
            )
        await apply(conn, *writes)  # one hand-off: the connection is held by the submission
        # No code: the order of entries is the order things happened, and the order of
        # submissions would line up with the order of applicants' activity (their traces).
        await self._audit(conn, "system", "submitted", None)
        await self.outbox.put(
            conn,
            self.teams.group_of(team),
            OutMessage(notice_text(sub.code, sub.triage, languages=self._group_languages)),
        )

    async def _cmd_queue(
        self, me: store.CoordinatorRow, inc: CoordIncoming, *_: object
    ) -> CoordResponse:
        seen = await self._seen(me, inc)
        rows = [row for row in await store.open_work(self.db.conn) if seen(row.team)]
        items = [self._queue_item(row) for row in rows]
        if not items:
            return say(self._t(me, "queue_empty"))
        if not self.keys.holds(me.id, self.clock()):
            lines = locked_queue_lines(items, now=self._now(), words=self._words(me))
            return say(self._t(me, "queue_header_locked", count=len(items)), *lines)
        ordered = order(items)
        lines = queue_lines(ordered, now=self._now(), words=self._words(me))
        if inc.private:  # what the reader's key opens is never shown in a group
            after, below = await self._queue_additions(me, await self._openable(me, rows))
            lines = [
                SEPARATOR.join((line, *after.get(i.code, ())))
                for i, line in zip(ordered, lines, strict=True)
            ]
            lines += below
        return say(self._t(me, "queue_header"), *lines)

    async def _cmd_stats(
        self, me: store.CoordinatorRow, inc: CoordIncoming, *_: object
    ) -> CoordResponse:
        rows = await store.counts_by_state_and_week(self.db.conn, await self._seen(me, inc))
        if not rows:
            return say(self._t(me, "stats_empty"))
        return say(
            self._t(me, "stats_header"),
            *(self._stats_line(me, state, week, n) for state, week, n in rows),
        )

    async def _cmd_claim(
        self, me: store.CoordinatorRow, inc: CoordIncoming, work: store.WorkRow, _: str
    ) -> CoordResponse:
        await self._move(me, work, Action.CLAIM, assignee=me.id, audit="claimed")
        return say(self._t(me, "claimed", code=work.code))

    async def _cmd_release(
        self, me: store.CoordinatorRow, inc: CoordIncoming, work: store.WorkRow, _: str
    ) -> CoordResponse:
        await self._move(me, work, Action.RELEASE, assignee=None, audit="released")
        return say(self._t(me, "released", code=work.code))

    async def _cmd_reassign(
        self, me: store.CoordinatorRow, inc: CoordIncoming, work: store.WorkRow, arg: str
    ) -> CoordResponse:
        target = await self._known_coordinator(me, arg)
        if target is None:
            return say(self._no_coordinator(me, arg))
        if not receives(await store.membership_of(self.db.conn, target.id), work.team):
            # They hold no copy of it, and must not: the case stays in its team.
            return say(self._t(me, "reassign_other_team", code=work.code, handle=target.handle))
        await self._move(
            me,
            work,
            Action.REASSIGN,
            assignee=target.id,
            audit="reassigned",
            notify=(target.id, "assigned_to_you"),
        )
        return say(self._t(me, "reassigned", code=work.code, handle=target.handle))

    async def _cmd_flag(
        self, me: store.CoordinatorRow, inc: CoordIncoming, work: store.WorkRow, _: str
    ) -> CoordResponse:
        async with self.db.transaction() as conn:
            await store.set_flagged(conn, work.case_id, True, now=self._now())
            await self._audit(conn, me.handle, "flagged", work.code)
        return say(self._t(me, "flagged", code=work.code))

    async def _cmd_approve(
        self, me: store.CoordinatorRow, inc: CoordIncoming, work: store.WorkRow, _: str
    ) -> CoordResponse:
        # Refused first if the case cannot be approved, so a repeat meets the state's answer.
        transition(CaseState(work.status), Action.APPROVE)
        result = approve(
            actor_id=me.id,
            assignee_id=work.assignee,
            pending_by=work.pending_approval_by,
            two_person=self.settings.two_person_approval,
            flagged=work.flagged,
        )
        await self._before_approval(me, work)
        if not result.complete:
            async with self.db.transaction() as conn:
                await store.set_state(
                    conn,
                    work.case_id,
                    status=work.status,
                    assignee=work.assignee,
                    pending_approval_by=me.id,
                    now=self._now(),
                )
                await self._audit(conn, me.handle, "approval_pending", work.code)
                await self.outbox.put(
                    conn,
                    self.teams.group_of(work.team),
                    OutMessage(GROUP_SECOND_APPROVAL.format(code=work.code)),
                )
            return say(self._t(me, "approval_recorded", code=work.code))
        await self._move(me, work, Action.APPROVE, assignee=work.assignee, audit="approved")
        return say(self._t(me, "approved", code=work.code))

    async def _cmd_close(
        self, me: store.CoordinatorRow, inc: CoordIncoming, work: store.WorkRow, _: str
    ) -> CoordResponse:
        await self._move(me, work, Action.CLOSE, assignee=work.assignee, audit="closed")
        return say(self._t(me, "closed", code=work.code))

    async def _cmd_show(
        self, me: store.CoordinatorRow, inc: CoordIncoming, work: store.WorkRow, _: str
    ) -> CoordResponse:
        key, fields = await self._open(me, work)
        inbox = await self._inbox(work.case_id, key)
        text = render_case(
            code=work.code,
            status=work.status,
            submitted_at=work.submitted_at,
            fields=fields,
            inbox=inbox,
            questionnaire=self.questionnaire,
            catalog=self.catalog,
            language=me.language,
            texts=self.texts,
        )
        text = "\n\n".join((text, *await self._case_sections(me, work, fields)))
        text = "\n".join([*self._case_notes(me, fields), text])
        async with self.db.transaction() as conn:
            await self._audit(conn, me.handle, "shown", work.code)
        pieces = message_pieces(text)
        return CoordResponse(tuple(Reply(p, protect=True) for p in pieces), expire=True)

    async def _cmd_note(
        self, me: store.CoordinatorRow, inc: CoordIncoming, work: store.WorkRow, arg: str
    ) -> CoordResponse:
        if not arg:
            return say(self._t(me, "note_missing", code=work.code))
        opened = await self._open(me, work)
        async with self.db.transaction() as conn:
            await self._add_entry(
                conn, me, work, opened, "note", self._record(me.handle, arg), audit="noted"
            )
        return CoordResponse(
            (Reply(self._t(me, "note_saved", code=work.code)),), delete=(inc.message_id,)
        )

    async def _cmd_reject(
        self, me: store.CoordinatorRow, inc: CoordIncoming, work: store.WorkRow, arg: str
    ) -> CoordResponse:
        key, fields = await self._open(me, work)
        chat_id, lang = self._applicant(fields)
        await self._move(
            me,
            work,
            Action.REJECT,
            assignee=work.assignee,
            audit="rejected",
            write=(key, {"decision": self._record(me.handle, arg or "(no reason)")}),
            tell=(chat_id, OutMessage(self.catalog.text(lang, "decision_rejected"))),
        )
        return CoordResponse(
            (Reply(self._t(me, "rejected", code=work.code)),), delete=(inc.message_id,)
        )

    async def _cmd_handoff(
        self, me: store.CoordinatorRow, inc: CoordIncoming, work: store.WorkRow, arg: str
    ) -> CoordResponse:
        if not arg:
            return say(self._t(me, "handoff_missing", code=work.code))
        await self._before_handoff(me, work)
        key, fields = await self._open(me, work)
        chat_id, lang = self._applicant(fields)
        phrase = fields["verification_phrase"].decode()
        next_step = self.catalog.text(lang, "next_step", text=arg, phrase=phrase)
        # Once, in plain words: what the two buttons of a check-in mean (``checkins``).
        next_step += "\n\n" + self.catalog.text(lang, "checkin_explain")
        await self._move(
            me,
            work,
            Action.HANDOFF,
            assignee=work.assignee,
            audit="handed_off",
            write=(key, {"handoff": self._record(me.handle, arg)}),
            tell=(chat_id, OutMessage(next_step, protect=True)),
        )
        return CoordResponse(
            (Reply(self._t(me, "handed_off", code=work.code, phrase=phrase), protect=True),),
            delete=(inc.message_id,),
            expire=True,
        )

    async def _cmd_purge(
        self, me: store.CoordinatorRow, inc: CoordIncoming, work: store.WorkRow, _: str
    ) -> CoordResponse:
        async with self.db.transaction() as conn:
            await store.shred_case(conn, work.case_id)
            await self._audit(conn, me.handle, "purged", work.code)
        await self.db.checkpoint()
        return say(self._t(me, "purged", code=work.code))

    def _queue_item(self, row: store.WorkRow) -> QueueItem:
        triage: Mapping[str, object] = {}
        if row.triage is not None:
            try:
                triage = json.loads(
                    self.vault.open_local(row.triage, purpose="triage", context=row.case_id)
                )
            except DecryptionError:
                triage = {}
        return QueueItem(
            row.code,
            CaseState(row.status),
            row.submitted_at or 0,
            row.assignee_handle,
            triage,
            row.flagged,
        )

    def _stats_line(self, me: store.CoordinatorRow, state: str, week: str, count: int) -> str:
        """One ``/stats`` count. The ISO week ("2026-W48") is split so that its numbers, like
        the count, are written in the coordinator's digits, and the state is their word for it."""
        year, number = week.split("-W")
        if state in {s.value for s in CaseState}:
            state = self._t(me, f"state_{state}")
        return self._t(me, "stats_line", year=int(year), week=int(number), state=state, count=count)
