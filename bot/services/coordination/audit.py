"""The audit log as coordinators read it: the whole chain for a lead of every team, only their
teams' part for a team's lead, and the chain's head posted off the server.
"""

from __future__ import annotations

from bot.coordination import ChainReport
from bot.coordination.audit import ViewedEntry, entry_line, team_view
from bot.coordination.teams import ALL_TEAMS, receives, sees_person
from bot.ops.rotation import verify_audit_log
from bot.services.audit_head import head_notice
from bot.services.coordination.base import CoordResponse, ServiceBase, say
from bot.services.outbox import OutMessage
from bot.store import coordination as store

AUDIT_LINES = 20  # entries /audit shows, newest first


class AuditMixin(ServiceBase):
    """/audit, verification and the posted head."""

    async def verify_audit(self) -> ChainReport:
        """The whole chain, across key rotations (anchors made at each rotation)."""
        return await verify_audit_log(self.db.conn, self.settings.master_keys)

    async def post_audit_head(self) -> None:
        """Post the chain's head to the group (daily, and on ``/audit``): once it sits in
        Telegram, no rewrite of the log behind it, even with the master key, goes unseen by
        ``verify-audit --head``. Read on a settled connection, so no uncommitted entry is named.
        """
        async with self.db.settled() as conn:
            if (await store.audit_head(conn))[0] == 0:
                return  # nothing to vouch for yet
            text = await head_notice(conn)
        async with self.db.transaction() as conn:
            await self.outbox.put(conn, self.teams.group_chat_id, OutMessage(text))

    async def _cmd_audit(self, me: store.CoordinatorRow, *_: object) -> CoordResponse:
        report = await self.verify_audit()
        view = await self._team_view(me)
        words = self._words(me)
        if view is None:  # a lead of every team (or of the one team) reads the whole log
            if report.ok:
                head = self._t(me, "audit_intact", count=report.checked)
            else:
                head = self._t(
                    me, "audit_broken", problem=report.problem or "", count=report.checked
                )
            rows = await store.audit_entries(self.db.conn, limit=AUDIT_LINES, newest_first=True)
            lines = [
                entry_line(seq=seq, at=at, actor=actor, action=action, case_code=code, words=words)
                for seq, at, actor, action, code, _prev, _hash in rows
            ]
        else:
            # Neither the whole chain's length nor where it broke: both count the other teams.
            key = "audit_intact_team" if report.ok else "audit_broken_team"
            head = self._t(me, key, count=len(view))
            lines = [
                entry_line(
                    seq=e.number,
                    at=e.at,
                    actor=e.actor,
                    action=e.action,
                    case_code=e.case_code,
                    words=words,
                )
                for e in reversed(view[-AUDIT_LINES:])
            ]
        await self.post_audit_head()
        return say(head, self._t(me, "audit_posted"), *lines)

    async def _team_view(self, me: store.CoordinatorRow) -> list[ViewedEntry] | None:
        """The part of the log a team's lead may read (see ``team_view``), or ``None`` for a
        lead of every team, who reads it all. Who and which case is theirs is looked up once
        per handle and per code, so a long log costs one read of each."""
        conn = self.db.conn
        member = await store.membership_of(conn, me.id)
        if not member or ALL_TEAMS in member:
            return None
        entries = [e[:5] for e in await store.audit_entries(conn)]
        case_seen: dict[str, bool] = {}
        person_known: dict[str, bool] = {}
        for _seq, _at, actor, _action, code in entries:
            if code is not None and code not in case_seen:
                work = await store.work_row_by_code(conn, code)
                case_seen[code] = work is not None and receives(member, work.team)
            if actor not in person_known:
                row = await store.coordinator_by_handle(conn, actor)
                theirs = await store.membership_of(conn, row.id) if row else None
                person_known[actor] = theirs is not None and sees_person(member, theirs)
        return team_view(entries, case_seen=case_seen, person_known=person_known)
