"""A coordinator's phone taken while the key is locked decides nothing.

Through the real services (SQLite file, Argon2id, sealed copies), each command that changes or
decides a case, or the team, is sent from an enrolled account whose key is locked: every row of
the database stays as it was, and the answer says to unlock. Then the idle time and the cap as
the config sets them, through the service rather than on the key ring alone.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.runtime import Services
from bot.store import cases as case_store
from tests.coordinator_driver import Coordinator, snapshot, text
from tests.test_retention import T0, Clock, Person, services_at

LEAD, MEMBER, LATER = 640_000_001, 640_000_002, 640_000_003
PASSPHRASES = {
    LEAD: "amber lotus quarry seventy",
    MEMBER: "violet canal ember twelve",
    LATER: "saffron delta hollow nine",
}


async def _code(services: Services, case_id: str) -> str:
    case = await case_store.get_case(services.db.conn, case_id)
    assert case is not None and case.code
    return case.code


async def _lead_and_case(services: Services) -> tuple[Coordinator, str]:
    """An enrolled lead, locked, and the code of a case sent after they enrolled."""
    lead = Coordinator(services, LEAD, PASSPHRASES[LEAD])
    await lead.enrol("lead")
    return lead, await _code(services, await Person(services, 700_000_001).submit())


# command -> (state the lead puts the case in while unlocked, what follows the code)
COMMANDS: dict[str, tuple[str, str]] = {
    "claim": ("unclaimed", ""),
    "release": ("claimed", ""),
    "reassign": ("claimed", "@MEMBER"),
    "approve": ("claimed", ""),
    "flag": ("claimed", ""),
    "reject": ("claimed", "not credible"),
    "note": ("claimed", "called back, no answer"),
    "check": ("claimed", "call spoke twenty minutes"),
    "uncheck": ("claimed", "call the contact was unsure"),
    "ask": ("claimed", "which unit were you in?"),
    "handoff": ("claimed", "meet at the usual place"),
    "close": ("claimed", ""),
    "transfer": ("claimed", "south"),
    "purge": ("unclaimed", ""),
    "grant": ("", "@MEMBER"),
    "revoke": ("", "@MEMBER"),
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
async def test_a_locked_key_decides_nothing(tmp_path: Path, command: str) -> None:
    clock = Clock()
    async with services_at(tmp_path, clock) as services:
        member = Coordinator(services, MEMBER, PASSPHRASES[MEMBER])
        await member.enrol()
        lead, code = await _lead_and_case(services)
        state, rest = COMMANDS[command]
        if state == "claimed":
            await lead.unlock()
            assert await lead.say(f"/claim {code}") == text("claimed", code=code)
            await lead.say("/lock")
        # Never unlocked, or locked again: as a phone taken from its owner's pocket.
        target = code if state else ""
        typed = " ".join(p for p in (f"/{command}", target, rest) if p)
        typed = typed.replace("@MEMBER", f"@{member.handle}")
        before = snapshot(services.config.storage.database)

        answer = await lead.say(typed)

        assert answer == text("denied_locked"), answer
        assert snapshot(services.config.storage.database) == before


async def test_a_locked_idle_key_is_as_locked_as_one_never_unlocked(tmp_path: Path) -> None:
    """The idle time passed is the same as a /lock: an approval from the pocket does nothing."""
    clock = Clock()
    async with services_at(tmp_path, clock) as services:
        lead, code = await _lead_and_case(services)
        await lead.unlock()
        await lead.say(f"/claim {code}")
        clock.now += 15 * 60 + 1  # the default idle time
        before = snapshot(services.config.storage.database)
        assert await lead.say(f"/approve {code}") == text("denied_locked")
        assert snapshot(services.config.storage.database) == before


async def test_a_locked_queue_shows_codes_and_ages_but_no_triage(tmp_path: Path) -> None:
    clock = Clock()
    async with services_at(tmp_path, clock) as services:
        lead, first = await _lead_and_case(services)
        clock.now += 2 * 86_400
        second = await _code(services, await Person(services, 700_000_002).submit())

        locked = await lead.say("/queue")

        assert locked.splitlines()[0] == text("queue_header_locked", count=2)
        # Oldest first, whatever their urgency; nothing of the answers, the flag or the holder.
        assert locked.splitlines()[1].startswith(first)
        assert locked.splitlines()[2].startswith(second)
        for word in ("in_danger", "not_safe", "left", "still_there", "flagged", "none"):
            assert text(f"triage_{word}") not in locked
        assert text("queue_unclaimed") not in locked
        assert "2 d" in locked  # ages stay: a coordinator can still see what waits
        stats = await lead.say("/stats")
        assert text("stats_header") in stats and "in danger" not in stats

        await lead.unlock()
        unlocked = await lead.say("/queue")
        assert text("triage_in_danger") in unlocked
        assert text("queue_unclaimed") in unlocked


def _settings(idle_minutes: int, max_hours: int) -> str:
    """Lines of the config's [coordination] table (``services_at``'s extra lands there)."""
    return f"unlock_idle_minutes = {idle_minutes}\nunlock_max_hours = {max_hours}\n"


async def test_the_configured_idle_time_and_cap_reach_the_key_ring(tmp_path: Path) -> None:
    """Two minutes idle, one hour in all, as the operator set them: neither default (15 minutes,
    8 hours) would lock the key where these tests expect it locked."""
    clock = Clock(T0)
    async with services_at(tmp_path, clock, _settings(2, 1)) as services:
        lead, code = await _lead_and_case(services)
        await lead.unlock()
        unlocked_at = clock.now
        # Each /show opens the case and renews the idle time, every 100 s, for the hour.
        while clock.now + 100 <= unlocked_at + 3600:
            clock.now += 100
            shown = await lead.say(f"/show {code}")
            assert code in shown and shown != text("denied_locked"), clock.now - unlocked_at
        clock.now = unlocked_at + 3601
        assert await lead.say(f"/show {code}") == text("denied_locked")

        await lead.unlock()
        clock.now += 119
        assert await lead.say(f"/show {code}") != text("denied_locked")
        clock.now += 121  # two minutes and a second since the last opening
        assert await lead.say(f"/show {code}") == text("denied_locked")


async def test_a_command_that_opens_nothing_does_not_renew_the_idle_time(tmp_path: Path) -> None:
    clock = Clock(T0)
    async with services_at(tmp_path, clock, _settings(2, 1)) as services:
        lead, code = await _lead_and_case(services)
        later = Coordinator(services, LATER, PASSPHRASES[LATER])
        await later.enrol("lead")  # after the case: no copy of it is sealed to them

        # /grant naming nobody: refused before any key is used.
        await lead.unlock()
        clock.now += 100
        assert await lead.say("/grant @C-NONE") == text("no_coordinator", handle="@C-NONE")
        clock.now += 30  # 130 s since the unlock, 30 s since the /grant
        assert await lead.say(f"/show {code}") == text("denied_locked")

        # A case they hold no copy of: the key opened nothing.
        await later.unlock()
        clock.now += 100
        refused = await later.say(f"/show {code}")
        assert refused == text("not_yours_key", code=code, handle=later.handle)
        clock.now += 30
        assert await later.say(f"/note {code} x") == text("denied_locked")
