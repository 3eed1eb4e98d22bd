"""Who holds a sealed copy of a case key, and the copies themselves: one rule for submission,
enrolment, transfer, grants and upgrades, so no path seals a case to someone outside its team."""

from __future__ import annotations

from collections.abc import Callable

import aiosqlite

from bot.coordination.teams import receives
from bot.crypto import CaseKey, seal_case_key
from bot.store import coordination as store


async def holders_by_team(
    conn: aiosqlite.Connection,
) -> Callable[[str | None], list[store.CoordinatorRow]]:
    """Who gets a sealed copy of a case of a given team, from one read of the coordinators and
    their teams."""
    members = await store.memberships(conn)
    active = await store.active_coordinators(conn)

    def holders_of(team: str | None) -> list[store.CoordinatorRow]:
        return [c for c in active if receives(members.get(c.id, frozenset()), team)]

    return holders_of


def sealed_copies(
    case_id: str, key: CaseKey, holders: list[store.CoordinatorRow]
) -> dict[str, bytes]:
    return {c.id: seal_case_key(key, c.public_key, case_id=case_id) for c in holders}
