"""Who may run which coordinator command, on which case, where, and with what unlocked.

The table is data so a test can enumerate every command, role, relation and chat and compare it
with an expectation written out independently. ``decide`` answers in a fixed order: whether the
command exists for this person at all comes first, so anyone without a role (an applicant, a
stranger, a revoked coordinator) learns nothing, not even that the command exists.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Literal

Role = Literal["coordinator", "lead"]
Relation = Literal["assignee", "other", "unclaimed", "none", "outside"]

ROLES: frozenset[str] = frozenset({"coordinator", "lead"})
CASE_RELATIONS: frozenset[str] = frozenset({"assignee", "other", "unclaimed"})
OUTSIDE = "outside"
"""A case of a team the person is not in (or, in a group, a case of another group's team): for
them it does not exist, and every command on it is answered as for a code nobody issued."""


class Denied(StrEnum):
    """Why a command was refused. ``UNKNOWN`` must be answered exactly like an unknown command."""

    UNKNOWN = "unknown"
    NO_CASE = "no_case"  # must be answered exactly like a code that names no case
    ROLE = "role"
    RELATION = "relation"
    PRIVATE_ONLY = "private_only"
    LOCKED = "locked"


@dataclass(frozen=True)
class Rule:
    """One row of the table. ``relations`` maps each allowed role to the relations it may act
    in; a command that takes no case allows only the relation ``"none"``."""

    roles: frozenset[str]
    relations: Mapping[str, frozenset[str]]
    private_only: bool
    needs_unlock: bool
    takes_case: bool

    def allows(self, role: str, relation: str) -> bool:
        return role in self.roles and relation in self.relations.get(role, frozenset())


_BOTH = frozenset({"coordinator", "lead"})
_LEAD = frozenset({"lead"})
_NONE = frozenset({"none"})
_ASSIGNEE = frozenset({"assignee"})
_CLAIMED = frozenset({"assignee", "other"})
_ANY = CASE_RELATIONS


def _rule(
    roles: frozenset[str],
    coordinator: frozenset[str],
    lead: frozenset[str],
    *,
    private_only: bool = False,
    needs_unlock: bool = False,
) -> Rule:
    given = {"coordinator": coordinator, "lead": lead}
    relations = MappingProxyType({role: given[role] for role in sorted(roles)})
    takes_case = any(allowed & CASE_RELATIONS for allowed in relations.values())
    return Rule(roles, relations, private_only, needs_unlock, takes_case)


def _everyone(
    relations: frozenset[str], *, private_only: bool = False, needs_unlock: bool = False
) -> Rule:
    """Coordinators and leads alike, in the same relations."""
    return _rule(_BOTH, relations, relations, private_only=private_only, needs_unlock=needs_unlock)


def _lead_wider(
    coordinator: frozenset[str],
    lead: frozenset[str] = _ANY,
    *,
    private_only: bool = False,
    needs_unlock: bool = False,
) -> Rule:
    """Both roles, but a lead may act on cases a coordinator may not."""
    return _rule(_BOTH, coordinator, lead, private_only=private_only, needs_unlock=needs_unlock)


def _lead_only(
    relations: frozenset[str], *, private_only: bool = False, needs_unlock: bool = False
) -> Rule:
    return _rule(
        _LEAD, frozenset(), relations, private_only=private_only, needs_unlock=needs_unlock
    )


# Every command that changes or decides a case, or the team, needs the key unlocked: a phone
# taken while its key is locked (never unlocked, or past the idle time) claims, approves and
# rejects nothing. Reading the queue and the counts does not, and shows no triage while locked.
PERMISSIONS: Mapping[str, Rule] = MappingProxyType(
    {
        "queue": _everyone(_NONE),
        "stats": _everyone(_NONE),
        "claim": _everyone(frozenset({"unclaimed"}), needs_unlock=True),
        "release": _lead_wider(_ASSIGNEE, _CLAIMED, needs_unlock=True),
        "reassign": _lead_wider(_ASSIGNEE, _CLAIMED, needs_unlock=True),
        "show": _lead_wider(_ASSIGNEE, private_only=True, needs_unlock=True),
        "note": _lead_wider(_ASSIGNEE, private_only=True, needs_unlock=True),
        "ask": _everyone(_ASSIGNEE, private_only=True, needs_unlock=True),
        "flag": _everyone(_ANY, needs_unlock=True),
        # A vetting step: an ordinary one the holder's (or a lead's), a second person's step
        # anyone's but the holder's who checked no other step of the case; so "other" passes
        # here and vetting.py decides which step is whose. Sealed content: private only.
        "check": _everyone(_CLAIMED, private_only=True, needs_unlock=True),
        "uncheck": _everyone(_CLAIMED, private_only=True, needs_unlock=True),
        # The assignee makes the first approval; "other" lets a second coordinator confirm.
        # Which of the two a given approval is, and whether it is allowed, is approval.py's call.
        "approve": _everyone(_CLAIMED, needs_unlock=True),
        "reject": _lead_wider(_ASSIGNEE, private_only=True, needs_unlock=True),
        "handoff": _everyone(_ASSIGNEE, private_only=True, needs_unlock=True),
        # Arms (or stops) check-ins after the handoff: it opens the case for the chat.
        "checkin": _everyone(_ASSIGNEE, private_only=True, needs_unlock=True),
        "close": _lead_wider(_ASSIGNEE, needs_unlock=True),
        # Destructive: a lead's stolen phone must not shred cases or strip the team's copies.
        "purge": _lead_only(_ANY, private_only=True, needs_unlock=True),
        "grant": _lead_only(_NONE, private_only=True, needs_unlock=True),
        # Reseals the case to another team and removes the old team's copies.
        "transfer": _lead_only(_ANY, private_only=True, needs_unlock=True),
        "revoke": _lead_only(_NONE, private_only=True, needs_unlock=True),
        "audit": _lead_only(_NONE, private_only=True),
        "unlock": _everyone(_NONE, private_only=True),
        "lock": _everyone(_NONE),
        "language": _everyone(_NONE),
        "help": _everyone(_NONE),
    }
)

# The order a command menu lists them in: daily work first, key handling, then the lead's tools.
COORDINATOR_COMMANDS: tuple[str, ...] = (
    "queue",
    "claim",
    "show",
    "note",
    "ask",
    "check",
    "uncheck",
    "flag",
    "approve",
    "reject",
    "handoff",
    "checkin",
    "close",
    "release",
    "reassign",
    "stats",
    "unlock",
    "lock",
    "language",
    "help",
    "transfer",
    "purge",
    "grant",
    "revoke",
    "audit",
)

LEAD_ONLY: frozenset[str] = frozenset(
    name for name, rule in PERMISSIONS.items() if rule.roles == _LEAD
)


def commands_for(role: str | None) -> tuple[str, ...]:
    """The menu for ``role``, in menu order; empty for anyone without a role."""
    if role is None or role not in ROLES:
        return ()
    return tuple(name for name in COORDINATOR_COMMANDS if role in PERMISSIONS[name].roles)


def relation_of(actor_id: str, assignee_id: str | None, *, in_team: bool = True) -> Relation:
    """How the actor stands to a case; commands without a case use ``"none"`` instead. A case
    outside the actor's teams is ``"outside"`` whoever holds it."""
    if not in_team:
        return "outside"
    if assignee_id is None:
        return "unclaimed"
    return "assignee" if actor_id == assignee_id else "other"


def decide(
    command: str, role: str | None, relation: str, *, private_chat: bool, unlocked: bool
) -> Denied | None:
    """``None`` if allowed, else the first reason in the order: unknown, no such case, role,
    private chat, relation, locked. Private chat comes before relation so that a group never
    learns, from a different refusal, who holds which case; a case outside the person's teams is
    "no such case" before anything else, as a code nobody issued is."""
    rule = PERMISSIONS.get(command)
    if rule is None or role is None or role not in ROLES:
        return Denied.UNKNOWN
    if relation == OUTSIDE:
        return Denied.NO_CASE
    if role not in rule.roles:
        return Denied.ROLE
    if rule.private_only and not private_chat:
        return Denied.PRIVATE_ONLY
    if not rule.allows(role, relation):
        return Denied.RELATION
    if rule.needs_unlock and not unlocked:
        return Denied.LOCKED
    return None
