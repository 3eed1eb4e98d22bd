"""The team rules, table-tested: who gets a sealed copy, who sees a case where, who manages whom.

Expectations are written out here from the issue's words, not computed by the code under test.
"""

from __future__ import annotations

from types import MappingProxyType

import pytest

from bot.coordination.teams import ALL_TEAMS, Team, Teams, may_manage, receives, sees_person

MAIN, SOUTH_GROUP, NORTH_GROUP = -100, -201, -202
TEAMS = Teams(
    (
        Team("south", MappingProxyType({"region": frozenset({"mon", "tanintharyi"})}), SOUTH_GROUP),
        Team(
            "police",
            MappingProxyType(
                {"service": frozenset({"police"}), "region": frozenset({"yangon", "mon"})}
            ),
        ),
        Team("north", MappingProxyType({"region": frozenset({"kachin"})}), NORTH_GROUP),
        Team("desk"),
    ),
    default="desk",
    group_chat_id=MAIN,
)
ONE_TEAM = Teams(group_chat_id=MAIN)

S, N, ALL, NONE = frozenset({"south"}), frozenset({"north"}), frozenset({ALL_TEAMS}), frozenset()


@pytest.mark.parametrize(
    ("answers", "team"),
    [
        ({"region": "mon", "service": "armed_forces"}, "south"),
        ({"region": "tanintharyi"}, "south"),
        # The first team whose route matches wins, in the config's order.
        ({"region": "mon", "service": "police"}, "south"),
        ({"region": "yangon", "service": "police"}, "police"),
        ({"region": "yangon", "service": "armed_forces"}, "desk"),  # every question must match
        ({"region": "kachin"}, "north"),
        ({"region": ["kachin", "shan"]}, "north"),  # a multiple choice: any option matches
        ({"region": "shan"}, "desk"),
        ({}, "desk"),  # skipped: the default team
        ({"region": None}, "desk"),
    ],
)
def test_a_case_goes_to_the_first_matching_team_else_the_default(
    answers: dict[str, object], team: str
) -> None:
    assert TEAMS.route(answers) == team


def test_without_teams_there_is_one_nameless_team() -> None:
    assert ONE_TEAM.route({"region": "mon"}) is None
    assert ONE_TEAM.groups() == (MAIN,)
    assert ONE_TEAM.group_of(None) == MAIN
    assert ONE_TEAM.membership(NONE, "coordinator") == NONE
    assert ONE_TEAM.membership(NONE, "lead") == NONE


@pytest.mark.parametrize(
    ("member", "team", "gets_a_copy"),
    [
        (S, "south", True),
        (S, "north", False),
        (frozenset({"south", "north"}), "north", True),
        (ALL, "north", True),  # a lead over every team
        (ALL, "desk", True),
        (N, "desk", False),
        (NONE, "south", True),  # enrolled before teams, not yet adopted: the one team
        (S, None, True),  # a case from before teams
        (NONE, None, True),  # no teams at all
    ],
)
def test_who_gets_a_sealed_copy(
    member: frozenset[str], team: str | None, gets_a_copy: bool
) -> None:
    assert receives(member, team) is gets_a_copy


@pytest.mark.parametrize(
    ("member", "team", "chat", "private", "sees"),
    [
        (S, "south", 1, True, True),
        (S, "north", 1, True, False),
        (S, "south", SOUTH_GROUP, False, True),
        (S, "south", NORTH_GROUP, False, False),
        # The lead over every team: all in private, only the group's own team in a group.
        (ALL, "north", 1, True, True),
        (ALL, "north", SOUTH_GROUP, False, False),
        (ALL, "north", NORTH_GROUP, False, True),
        # Teams without a group of their own have their notices in the main group.
        (ALL, "desk", MAIN, False, True),
        (ALL, "police", MAIN, False, True),
        (ALL, "south", MAIN, False, False),
        # A case of a team since removed from the config counts as the default team's.
        (ALL, "gone", MAIN, False, True),
        (S, "gone", 1, True, False),
    ],
)
def test_where_a_case_exists_for_whom(
    member: frozenset[str], team: str, chat: int, private: bool, sees: bool
) -> None:
    assert TEAMS.sees_in(member, team, chat, private=private) is sees


def test_groups_and_notices() -> None:
    assert TEAMS.groups() == (MAIN, SOUTH_GROUP, NORTH_GROUP)
    assert TEAMS.group_of("south") == SOUTH_GROUP
    assert TEAMS.group_of("police") == MAIN
    assert TEAMS.group_of("desk") == MAIN
    assert TEAMS.group_of(None) == MAIN


@pytest.mark.parametrize(
    ("invited", "role", "member"),
    [
        (NONE, "coordinator", frozenset({"desk"})),  # no --team: the default team
        (NONE, "lead", ALL),  # no --team: a lead over every team
        (S, "lead", S),  # a lead of the south only
        (frozenset({"south", "north"}), "coordinator", frozenset({"south", "north"})),
    ],
)
def test_membership_from_an_invite(
    invited: frozenset[str], role: str, member: frozenset[str]
) -> None:
    assert TEAMS.membership(invited, role) == member


@pytest.mark.parametrize(
    ("lead", "target", "may"),
    [
        (ALL, S, True),
        (ALL, ALL, True),
        (S, S, True),
        (S, N, False),  # a traitor leading one team cannot strip another team of its people
        (S, frozenset({"south", "north"}), False),  # nor someone who is in another team too
        (S, ALL, False),
        (frozenset({"south", "north"}), S, True),
        (NONE, S, True),  # no teams: everyone is in the one team
    ],
)
def test_which_lead_manages_whom(lead: frozenset[str], target: frozenset[str], may: bool) -> None:
    assert may_manage(lead, target) is may


@pytest.mark.parametrize(
    ("teams", "problem"),
    [
        ((Team("a"), Team("a")), "unique"),
        ((Team("a"),), "default"),
    ],
)
def test_a_broken_setup_is_refused(teams: tuple[Team, ...], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        Teams(teams, default="a" if problem == "unique" else "b", group_chat_id=MAIN)


@pytest.mark.parametrize(
    ("member", "other", "knows"),
    [
        (S, S, True),
        (S, N, False),  # another team's people are no one to them
        (S, frozenset({"south", "north"}), True),
        (S, ALL, True),  # a lead of every team is known to all
        (ALL, N, True),
        (NONE, N, True),  # no teams: one team
    ],
)
def test_who_may_know_of_whom(member: frozenset[str], other: frozenset[str], knows: bool) -> None:
    assert sees_person(member, other) is knows
