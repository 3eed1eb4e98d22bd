"""Which team a case belongs to, and who of the coordinators may hold and see it.

Infiltration is the threat defector-support groups name first: with one coordinator's phone and
passphrase, every case sealed to them opens. Teams bound that loss. A case goes to one team, by
its answers (a region, a service), and its key is sealed only to that team's members, the leads
of that team, the leads of every team, and the recovery key.

Membership is a set of team names; ``ALL_TEAMS`` in it is a lead over every team. An empty set
belongs to a setup without teams (or a person enrolled before teams were configured and not yet
adopted): everything is one team then, and everyone is in it. A case's team is ``None`` in the
same setup.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

ALL_TEAMS = "*"
"""The membership of a lead over every team."""


@dataclass(frozen=True)
class Team:
    """``route`` maps a question id to the option ids that send a case here; every question in
    it must match (an answer of a multiple choice matches if any of its options does). An empty
    route matches nothing: such a team gets cases by being the default, or by a transfer."""

    name: str
    route: Mapping[str, frozenset[str]] = field(default_factory=lambda: MappingProxyType({}))
    group_chat_id: int | None = None

    def matches(self, answers: Mapping[str, object]) -> bool:
        if not self.route:
            return False
        return all(_chosen(answers.get(q)) & options for q, options in self.route.items())


@dataclass(frozen=True)
class Teams:
    """The organisation's teams, in the order routes are tried; ``default`` gets the rest.

    With no teams (the default setup) there is one team without a name: every case is ``None``'s,
    every coordinator is in it, and every notice goes to the one group."""

    teams: tuple[Team, ...] = ()
    default: str | None = None
    group_chat_id: int = 0  # the coordinators' main group: notices of a team without its own

    def __post_init__(self) -> None:
        names = [team.name for team in self.teams]
        if len(set(names)) != len(names):
            raise ValueError("team names must be unique")
        if self.teams and self.default not in names:
            raise ValueError("the default team must be one of the teams")
        if not self.teams and self.default is not None:
            raise ValueError("a default team needs teams")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(team.name for team in self.teams)

    def route(self, answers: Mapping[str, object]) -> str | None:
        """The team of a case with these answers: the first whose route matches, else the
        default (``None`` when there are no teams)."""
        for team in self.teams:
            if team.matches(answers):
                return team.name
        return self.default

    def known(self, name: str) -> bool:
        return name in self.names

    def group_of(self, team: str | None) -> int:
        """Where a case's notices go: its team's group, else the main one."""
        for candidate in self.teams:
            if candidate.name == team and candidate.group_chat_id is not None:
                return candidate.group_chat_id
        return self.group_chat_id

    def groups(self) -> tuple[int, ...]:
        """Every group the bot serves coordinators in, the main one first."""
        found = [self.group_chat_id]
        for team in self.teams:
            if team.group_chat_id is not None and team.group_chat_id not in found:
                found.append(team.group_chat_id)
        return tuple(found)

    def membership(self, explicit: frozenset[str], role: str) -> frozenset[str]:
        """The teams of someone enrolling with ``explicit`` teams from their invite: none given
        means the default team for a coordinator and every team for a lead."""
        if not self.teams:
            return frozenset()
        if explicit:
            return explicit
        return frozenset({ALL_TEAMS}) if role == "lead" else frozenset({str(self.default)})

    def sees_in(
        self, member: frozenset[str], team: str | None, chat_id: int, *, private: bool
    ) -> bool:
        """Whether a case of ``team`` exists for this person in this chat. In a group, only the
        cases whose notices go there: a lead over every team typing /queue in one team's group
        must not show the others' cases to it."""
        if not receives(member, team):
            return False
        return private or self.group_of(self._configured(team)) == chat_id

    def _configured(self, team: str | None) -> str | None:
        """A case's team as the config knows it: a team since removed counts as the default."""
        return team if team is None or self.known(team) else self.default


def receives(member: frozenset[str], team: str | None) -> bool:
    """Whether a coordinator with this membership gets a sealed copy of a case of ``team``.

    The same rule binds the database (a trigger refuses any other copy) and the offline grant.
    """
    if team is None or not member:
        return True
    return ALL_TEAMS in member or team in member


def may_manage(lead: frozenset[str], target: frozenset[str]) -> bool:
    """Whether a lead may act on another coordinator (revoke them): a lead of every team may,
    a team's lead only over people wholly in the teams they lead, so a traitor leading one team
    cannot strip another team of its people."""
    if not lead or ALL_TEAMS in lead:
        return True
    return ALL_TEAMS not in target and bool(target) and target <= lead


def sees_person(member: frozenset[str], other: frozenset[str]) -> bool:
    """Whether someone with ``member`` teams may know that a coordinator with ``other`` teams
    exists: they share a team, or either works across every team. Anyone else's handle is
    answered as no one's, so a team cannot map the people of another."""
    if not member or not other or ALL_TEAMS in member or ALL_TEAMS in other:
        return True
    return bool(member & other)


def _chosen(answer: object) -> frozenset[str]:
    if isinstance(answer, str):
        return frozenset({answer})
    if isinstance(answer, list | tuple | set | frozenset):
        return frozenset(str(a) for a in answer)
    return frozenset()
