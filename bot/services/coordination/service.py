"""Coordinator messages in, responses out: who is asking, which command, and whether it may run.

Someone who is not an active coordinator gets ``None`` back for every admin command, and the
transport answers them exactly as it answers any unknown command: nothing reveals that admin
commands exist.
"""

from __future__ import annotations

from dataclasses import replace

from bot.coordination import (
    Action,
    ApprovalRefused,
    CaseState,
    Denied,
    IllegalTransition,
    decide,
    relation_of,
    transition,
)
from bot.coordination.access import PERMISSIONS, Rule
from bot.coordination.approval import ALREADY_APPROVED
from bot.crypto import canonical_code
from bot.i18n import COORDINATOR_LANGUAGES
from bot.intake.events import Reply
from bot.ops.rotation import adopt_coordinator
from bot.services.coordination.accounts import AccountsMixin
from bot.services.coordination.audit import AuditMixin
from bot.services.coordination.base import ENROLLING, CoordIncoming, CoordResponse, Refused, say
from bot.services.coordination.enrolment import EnrolmentMixin
from bot.services.coordination.probes import ProbesMixin
from bot.services.coordination.relay import RelayMixin
from bot.services.coordination.teams import TeamsMixin
from bot.services.coordination.vetting import VettingMixin
from bot.services.coordination.workflow import WorkflowMixin
from bot.store import coordination as store


class CoordinationService(
    EnrolmentMixin,
    ProbesMixin,
    VettingMixin,
    WorkflowMixin,
    RelayMixin,
    TeamsMixin,
    AuditMixin,
    AccountsMixin,
):
    """The coordinators' side as the transport sees it: one message in, one response out."""

    async def handle(self, inc: CoordIncoming) -> CoordResponse | None:
        pseudonym = self.vault.pseudonym(inc.user_id)
        pending = self._pending.get(pseudonym)
        if pending is not None and inc.private and inc.command is None:
            del self._pending[pseudonym]
            if pending.expires >= self.clock():
                return await self._secret(inc, pseudonym, pending)
            return CoordResponse(delete=(inc.message_id,))
        if (
            pending is not None
            and pending.kind in ENROLLING
            and inc.private
            and inc.command == "language"
        ):
            return self._enroll_language(inc, pseudonym, pending)
        if inc.command is None and not await self._may_be_coordinator(pseudonym):
            return None
        me = None
        if inc.command is not None or inc.private:
            me = await adopt_coordinator(self.db, self.vault, inc.user_id)
            if me is not None and me.status != "active":
                me = None
        if inc.command is None:
            if me is None:
                return None
            # The bot reads no plain text from a coordinator, and such a text is most likely a
            # passphrase that overtook its /unlock (both sent while the bot was down): it must
            # not stay in the chat, nor reach the applicant side.
            return CoordResponse((Reply(self._t(me, "text_deleted")),), delete=(inc.message_id,))
        if inc.command == "enroll" and inc.private and me is None:
            return await self._enroll_start(inc, pseudonym)
        rule = PERMISSIONS.get(inc.command)
        if me is None or rule is None:
            return None
        # One command at a time: each decides on the case row it reads, so two commands on one
        # case (a repeat sent while the bot was down arrives with the original) must not both
        # read it before either writes.
        async with self._acting:
            response = await self._command(me, rule, inc, inc.command)
        if response is not None and _carries_text(inc) and inc.message_id not in response.delete:
            # Refused or not (a group, a locked key, a typo in the code), a note, a question, a
            # reason or a step's note must not stay in the chat for whoever reads it later.
            response = replace(response, delete=(*response.delete, inc.message_id))
        return response

    async def _command(
        self, me: store.CoordinatorRow, rule: Rule, inc: CoordIncoming, command: str
    ) -> CoordResponse | None:
        work: store.WorkRow | None = None
        arg, code_text = inc.arg, ""
        if rule.takes_case:
            code_text, _, arg = inc.arg.strip().partition(" ")
            if not code_text:
                return say(self._t(me, "no_code", command=command))
            work = await store.work_row_by_code(self.db.conn, canonical_code(code_text))
            if work is None:
                return say(self._t(me, "no_case", code=code_text))
        relation = "none"
        if work is not None:
            member = await store.membership_of(self.db.conn, me.id)
            seen = self.teams.sees_in(member, work.team, inc.chat_id, private=inc.private)
            relation = relation_of(me.id, work.assignee, in_team=seen)
        unlocked = self.keys.holds(me.id, self.clock())
        denied = decide(command, me.role, relation, private_chat=inc.private, unlocked=unlocked)
        if denied is Denied.UNKNOWN:
            return None
        if denied is Denied.NO_CASE:  # another team's: exactly as for a code that names nothing
            return say(self._t(me, "no_case", code=code_text))
        if denied is Denied.LOCKED:
            # Before anything about the case's state: a locked phone learns nothing from the
            # refusal, and its holder is told the one thing that would help.
            return say(self._denied(me, denied, relation, work))
        if command == "claim" and work is not None and relation == "assignee":
            return say(self._t(me, "already_yours", code=work.code))
        action = _ACTIONS.get(command)
        if work is not None and action is not None and denied is None:
            # A move the case's state rules out is refused as such, naming the move that would.
            try:
                transition(CaseState(work.status), action)
            except IllegalTransition as exc:
                return say(self._illegal(me, work, exc))
        if denied is not None:
            return say(self._denied(me, denied, relation, work))
        handler = getattr(self, f"_cmd_{command}")
        try:
            result: CoordResponse = await handler(me, inc, work, arg.strip())
        except IllegalTransition as exc:
            return say(self._illegal(me, work, exc))
        except ApprovalRefused as exc:
            twice = str(exc) == ALREADY_APPROVED
            key = "approve_twice" if twice else "approve_not_assignee"
            return say(self._t(me, key, code=work.code if work else ""))
        except Refused as exc:
            return say(str(exc))
        return result

    def _denied(
        self,
        me: store.CoordinatorRow,
        denied: Denied,
        relation: str,
        work: store.WorkRow | None,
    ) -> str:
        """The refusal, with the command that would go through (or who can do it)."""
        if denied is Denied.RELATION and work is not None:
            key = "denied_not_claimed" if relation == "unclaimed" else "denied_held"
            return self._t(me, key, code=work.code)
        return self._t(me, _DENIED[denied])

    def _illegal(
        self, me: store.CoordinatorRow, work: store.WorkRow | None, exc: IllegalTransition
    ) -> str:
        code = work.code if work else ""
        return self._t(
            me,
            "illegal",
            code=code,
            state=self._t(me, f"state_{exc.state.value}"),
            done=self._t(me, f"done_{exc.action.value}"),
            next=self._t(me, f"next_{exc.state.value}", code=code),
        )

    async def _cmd_help(self, me: store.CoordinatorRow, *_: object) -> CoordResponse:
        """Only the commands of the coordinator's own role, each with its arguments and an
        example: a lead's tools are not advertised to a coordinator's (perhaps stolen) phone."""
        role = self._t(me, f"role_{me.role}")
        lines = [self._t(me, "help_header", role=role, handle=me.handle)]
        lines += [self._t(me, f"help_{name}") for name in self._commands(me.role)]
        return say(*lines)

    async def _cmd_language(
        self, me: store.CoordinatorRow, inc: CoordIncoming, work: object, arg: str
    ) -> CoordResponse:
        chosen = arg.strip().lower()
        if chosen not in COORDINATOR_LANGUAGES:
            return say(self._t(me, "language_usage"))
        async with self.db.transaction() as conn:
            await store.set_coordinator_language(conn, me.id, chosen)
        return say(self._t(chosen, "language_set"))


# Commands whose message carries what a coordinator wrote after the code.
_TEXT_COMMANDS = frozenset({"note", "ask", "check", "uncheck", "reject", "handoff"})


def _carries_text(inc: CoordIncoming) -> bool:
    """A text command with anything typed after its code (a bare code is no secret)."""
    return inc.command in _TEXT_COMMANDS and bool(inc.arg.strip().partition(" ")[2].strip())


# Commands that move a case, by the move: their name is the action's.
_ACTIONS = {action.value: action for action in Action}

# Catalogue keys of refusals that need no case code; a refusal about a case is ``_denied``'s.
_DENIED = {
    Denied.ROLE: "denied_role",
    Denied.RELATION: "denied_not_claimed",
    Denied.PRIVATE_ONLY: "denied_private",
    Denied.LOCKED: "denied_locked",
}
