"""A team's lead reads only their teams' part of the audit log, and nothing that counts the rest.

Through the real services: two teams at work, a case that visits the north before coming
south, and a case that stays north. The south's lead reads /audit: it must hold no count,
number or handle from outside their teams.
"""

from __future__ import annotations

import re
from pathlib import Path

from bot.store import cases as case_store
from bot.store import coordination as store
from tests.coordinator_driver import Coordinator, text
from tests.test_retention import Clock, Person, services_at

TEAMS = """
[[coordination.teams]]
name = "north"
route = { region = ["kachin"] }
group_chat_id = -1001000000202

[[coordination.teams]]
name = "south"
default = true
route = { region = ["mon"] }
group_chat_id = -1001000000201
"""
ALL_LEAD, SOUTH_LEAD, SOUTH_MEMBER, NORTH_MEMBER = (
    670_000_001,
    670_000_002,
    670_000_003,
    670_000_004,
)
PASSPHRASES = {
    ALL_LEAD: "orchid basalt meadow forty",
    SOUTH_LEAD: "juniper quartz delta seven",
    SOUTH_MEMBER: "walnut signal harbor three",
    NORTH_MEMBER: "cobalt fennel ridge ninety",
}
_NUMBERED = re.compile(r"^#(\S+) ")


async def test_a_team_lead_reads_no_count_number_or_handle_outside_their_teams(
    tmp_path: Path,
) -> None:
    clock = Clock()
    async with services_at(tmp_path, clock, TEAMS) as services:
        people = {u: Coordinator(services, u, p) for u, p in PASSPHRASES.items()}
        everyone, south_lead = people[ALL_LEAD], people[SOUTH_LEAD]
        south_member, north_member = people[SOUTH_MEMBER], people[NORTH_MEMBER]
        await everyone.enrol("lead")
        await south_lead.enrol("lead", ("south",))
        await south_member.enrol("coordinator", ("south",))
        await north_member.enrol("coordinator", ("north",))
        for person in people.values():
            await person.unlock()

        # The default form answers Kachin: both cases go north.
        visiting = await Person(services, 700_000_001).submit()
        staying = await Person(services, 700_000_002).submit()
        codes = []
        for case_id in (visiting, staying):
            case = await case_store.get_case(services.db.conn, case_id)
            assert case is not None and case.code
            codes.append(case.code)
        visiting_code, staying_code = codes
        for code in codes:
            assert await north_member.say(f"/claim {code}") == text("claimed", code=code)
            await north_member.say(f"/note {code} called the brother")
        moved = await everyone.say(f"/transfer {visiting_code} south")
        assert "south" in moved, moved
        assert await south_lead.say(f"/claim {visiting_code}") == text(
            "claimed", code=visiting_code
        )
        await south_lead.say(f"/note {visiting_code} met at the border")
        await south_member.say("/lock")
        total = len(await store.audit_entries(services.db.conn))

        seen = await south_lead.say("/audit")

        lines = seen.splitlines()
        entries = [line for line in lines if line.startswith("#")]
        assert lines[0] == text("audit_intact_team", count=len(entries)), lines[0]
        assert len(entries) < total and str(total) not in lines[0]
        # Numbered in their own view, newest first, with no gap that counts the others' entries.
        numbers = [int(_NUMBERED.match(line).group(1)) for line in entries]  # type: ignore[union-attr]
        assert numbers == list(range(len(entries), 0, -1))
        assert north_member.handle not in seen
        assert staying_code not in seen
        # What the north did to the case that came south is there, by someone of another team.
        other = text("actor_other_team")
        assert any(visiting_code in line and other in line for line in entries)
        assert any(south_member.handle in line for line in entries)  # their own people, by name

        # A lead of every team still reads the whole log, by its own numbers.
        whole = await everyone.say("/audit")
        assert whole.splitlines()[0] == text("audit_intact", count=total)
        assert north_member.handle in whole and staying_code in whole
