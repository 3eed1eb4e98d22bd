"""Teams: moving a case to another team under a new key."""

from __future__ import annotations

from bot.coordination import CaseState
from bot.crypto import CaseKey
from bot.logs import get_logger
from bot.services.coordination.base import CoordIncoming, CoordResponse, ServiceBase, say
from bot.services.outbox import OutMessage
from bot.services.sealing import rekey, sealed_copies
from bot.store import coordination as store
from bot.store.writes import apply

log = get_logger(__name__)

GROUP_TRANSFERRED = (
    "Case {code} was moved to this team: /claim {code} · {code} ကို ဒီအဖွဲ့ဆီ လွှဲပေးလိုက်ပြီ။ /claim {code}"
)


class TeamsMixin(ServiceBase):
    """/transfer and the re-encryption behind it."""

    async def _cmd_transfer(
        self, me: store.CoordinatorRow, inc: CoordIncoming, work: store.WorkRow, arg: str
    ) -> CoordResponse:
        """Move the case to another team under a new key, sealed to that team alone.

        The old team held the old key (and any backup holds their sealed copies of it), so the
        case is encrypted anew: every field, the dropbox's key pair and what it holds, the
        recovery copy. What the new team writes from here on opens with no key the old team
        ever had. Whoever held the case lets go unless they are in the new team too, and the
        new team's group is told."""
        name = arg.strip().lower()
        if not self.teams.names:
            return say(self._t(me, "transfer_no_teams"))
        if not self.teams.known(name):
            return say(
                self._t(me, "transfer_usage", code=work.code, teams=", ".join(self.teams.names))
            )
        if name == (work.team or self.teams.default):
            return say(self._t(me, "transfer_same", code=work.code, team=name))
        old_key, fields = await self._open(me, work)
        key = CaseKey.generate()
        async with self.db.transaction() as conn:
            holders = await self._team_holders(conn, name)
            keep = frozenset(c.id for c in holders)
            await apply(conn, store.case_team_write(work.case_id, name))
            await rekey(
                conn,
                work.case_id,
                old_key,
                key,
                fields,
                recovery_public_key=self.settings.recovery_public_key,
                now=self._now(),
            )
            removed = await store.drop_case_keys_except(conn, work.case_id, keep)
            await store.add_case_keys(  # replaces the kept holders' copies of the old key
                conn, work.case_id, sealed_copies(work.case_id, key, holders)
            )
            if work.assignee is not None and work.assignee not in keep:
                released = CaseState(work.status) is CaseState.CLAIMED
                await store.set_state(
                    conn,
                    work.case_id,
                    status=CaseState.SUBMITTED.value if released else work.status,
                    assignee=None,
                    pending_approval_by=None,
                    now=self._now(),
                )
            await self._audit(conn, me.handle, "transferred", work.code)
            await self.outbox.put(
                conn,
                self.teams.group_of(name),
                OutMessage(GROUP_TRANSFERRED.format(code=work.code)),
            )
        old_key.destroy()
        key.destroy()
        # The old copies must not linger in the WAL beside the new ones.
        await self.db.checkpoint_or_retry()
        log.info("case_transferred", count=removed)
        return say(self._t(me, "transferred", code=work.code, team=name, count=removed))
