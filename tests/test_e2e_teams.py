"""End to end: two teams. A case routed by region reaches only its team's group and keys.

The real bot against the local Bot API server, the shipped questionnaire (it asks for the state
or region), and teams as an organisation working in two parts of the country would set them.
Then the claim is attacked the way an infiltrator of the other team would: with their own
passphrase, the files of the database copied at every stage, and the master key.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.crypto import MasterKey
from bot.devserver import DevServer
from bot.i18n import CoordinatorCatalog
from bot.store import cases as case_store
from bot.store import coordination as coord_store
from tests.conftest import GROUP_CHAT_ID, Applicant, RunningBot, running_bot, wait_for_text
from tests.intake_driver import CATALOG, answer_one, begin, default_questionnaire, default_route

SOUTH_GROUP = -1_001_000_000_201
NORTH_GROUP = -1_001_000_000_202
SOUTHERNER, NORTHERNER = 630_000_001, 630_000_002
SOUTH_MEMBER, NORTH_MEMBER, LEAD = 630_000_101, 630_000_102, 630_000_103
SOUTH_LEAD = 630_000_104
BEFORE_MOVE = "BeforeMoveCanary answer 4kd"
NOTE_AFTER_MOVE = "NoteAfterMoveCanary 7qq"
AFTER_MOVE = "AfterMoveCanary answer 2zz"
PASSPHRASES = {
    SOUTH_MEMBER: "tide mango lantern forty",
    NORTH_MEMBER: "pine ridge copper eleven",
    LEAD: "river harbour maple ninety",
    SOUTH_LEAD: "coral dune window thirty",
}
TEXTS = CoordinatorCatalog()

TEAMS = f"""
[[coordination.teams]]
name = "south"
route = {{ region = ["mon", "tanintharyi", "kayin"] }}
group_chat_id = {SOUTH_GROUP}

[[coordination.teams]]
name = "north"
default = true
route = {{ region = ["kachin", "sagaing"] }}
group_chat_id = {NORTH_GROUP}
"""


def text(key: str, /, **params: object) -> str:
    return TEXTS.text("en", key, **params)


async def _submit(bot: RunningBot, user: int, region: str) -> str:
    """An applicant fills in the form, answering ``region``; returns the case code."""
    q = default_questionnaire()
    person = Applicant(bot.server, user)
    await begin(person)
    for qid in default_route(q):
        if qid == "region":
            await person.tap(CATALOG.localize("en", q.question("region").option(region).text))
        else:
            await answer_one(person, q, qid, "en", "x" if qid == "call_name" else None)
    await person.tap("Send")
    receipt = (await person.visible())[0].text or ""
    return receipt.split("receipt code: ")[1].split("-")[0]


async def _enrol(bot: RunningBot, user: int, role: str, teams: tuple[str, ...]) -> Applicant:
    person = Applicant(bot.server, user)
    invite = await bot.runtime.coordination.create_invite(role, teams)
    await person.send(f"/enroll {invite}")
    await person.send(PASSPHRASES[user])
    await person.send(PASSPHRASES[user])
    assert "You are enrolled" in await person.last_text()
    await person.send("/unlock")
    await person.send(PASSPHRASES[user])
    assert (await person.last_text()).startswith("Unlocked.")
    return person


async def _holders(bot: RunningBot, code: str) -> set[int]:
    """The Telegram ids of whoever holds a sealed copy of the case's key."""
    conn = bot.runtime.db.conn
    case = await case_store.get_case_by_code(conn, code)
    assert case is not None
    by_id = {c.id: c for c in await coord_store.active_coordinators(conn)}
    ids = await coord_store.holders(conn, case.case_id)
    users = {bot.runtime.vault.pseudonym(u): u for u in PASSPHRASES}
    return {users[by_id[i].pseudonym] for i in ids}


async def _group_texts(server: DevServer, chat: int) -> str:
    return "\n".join(m.text or "" for m in await server.messages(chat) if m.from_bot)


Take = Callable[[RunningBot, str], Awaitable[None]]


@dataclass(frozen=True)
class Lived:
    south_code: str
    north_code: str
    south_copy: bytes  # the southern member's sealed copy of the southern case, before its move
    pseudonyms: Mapping[int, bytes]  # the coordinators', as the database knows them


async def _nothing(bot: RunningBot, stage: str) -> None:
    return None


async def test_two_teams_route_seal_hide_and_transfer(
    server: DevServer, tmp_path: Path, master_key: MasterKey
) -> None:
    await live_two_teams(server, tmp_path, master_key, _nothing)


async def live_two_teams(
    server: DevServer, folder: Path, master_key: MasterKey, take: Take
) -> Lived:
    """Two teams at work; ``take`` is called at each stage a seizure could happen."""
    async with running_bot(server, folder, master_key, coordination_extra=TEAMS) as bot:
        for group in (SOUTH_GROUP, NORTH_GROUP):
            await server.send_group_text(group, LEAD, "hello", chat_type="supergroup")
        south = await _enrol(bot, SOUTH_MEMBER, "coordinator", ("south",))
        north = await _enrol(bot, NORTH_MEMBER, "coordinator", ("north",))
        lead = await _enrol(bot, LEAD, "lead", ())  # a lead over every team

        south_code = await _submit(bot, SOUTHERNER, "tanintharyi")
        await take(bot, "southern case sent")
        north_code = await _submit(bot, NORTHERNER, "sagaing")
        await take(bot, "northern case sent")

        # Each notice reaches its own team's group, and only that one.
        await wait_for_text(server, SOUTH_GROUP, f"New case {south_code}")
        await wait_for_text(server, NORTH_GROUP, f"New case {north_code}")
        assert north_code not in await _group_texts(server, SOUTH_GROUP)
        assert south_code not in await _group_texts(server, NORTH_GROUP)

        # Sealed to the routed team, its lead(s), nobody else.
        assert await _holders(bot, south_code) == {SOUTH_MEMBER, LEAD}
        assert await _holders(bot, north_code) == {NORTH_MEMBER, LEAD}

        # The southern coordinator reads their case; the northern one is, for them, nothing:
        # the very answer a code nobody issued gets, in private and in their group.
        await south.send(f"/claim {south_code}")
        await south.send(f"/show {south_code}")
        assert f"Case {south_code}" in await south.last_text()
        await south.send(f"/show {north_code}")
        hidden = await south.last_text()
        await south.send("/show QQQQ")
        assert hidden.replace(north_code, "?") == (await south.last_text()).replace("QQQQ", "?")
        assert hidden == text("no_case", code=north_code)
        for command in (f"/claim {north_code}", f"/flag {north_code}", f"/approve {north_code}"):
            await south.send(command)
            assert await south.last_text() == text("no_case", code=north_code), command
        await south.send("/queue")
        queue = await south.last_text()
        assert south_code in queue and north_code not in queue
        await north.send("/queue")
        queue = await north.last_text()
        assert north_code in queue and south_code not in queue
        await south.send("/stats")
        stats = await south.last_text()
        assert ": 1" in stats and ": 2" not in stats  # the other team's case is not counted

        # In the southern group, even the lead of every team sees only the south.
        sent = await server.send_group_text(SOUTH_GROUP, LEAD, "/queue", chat_type="supergroup")
        await server.wait_for_bot_message(SOUTH_GROUP, after_id=sent["message_id"], timeout=10)
        shown = (await server.messages(SOUTH_GROUP))[-1].text or ""
        assert south_code in shown and north_code not in shown
        await lead.send("/queue")
        everything = await lead.last_text()
        assert south_code in everything and north_code in everything

        # A reassignment across teams is refused: the target's key could not open it.
        north_handle = await _handle(bot, NORTH_MEMBER)
        await lead.send(f"/reassign {south_code} {north_handle}")
        assert await lead.last_text() == text(
            "reassign_other_team", code=south_code, handle=north_handle
        )

        # A coordinator cannot move cases; a lead can, and is told how.
        await lead.send("/help")
        assert text("help_transfer") in await lead.last_text()
        menu = {c.command for c in await server.menu(LEAD, user_id=LEAD)}
        assert "transfer" in menu
        await south.send(f"/transfer {south_code} north")
        assert await south.last_text() == text("denied_role")
        # The applicant answers the south's question before the move.
        await _asked_and_answered(bot, south, south_code, "Before the move?", BEFORE_MOVE)
        south_copy = await _sealed_copy(bot, south_code, SOUTH_MEMBER)
        await lead.send(f"/transfer {south_code} north")
        assert await lead.last_text() == text("transferred", code=south_code, team="north", count=1)
        await take(bot, "southern case moved north")
        await wait_for_text(server, NORTH_GROUP, f"Case {south_code} was moved to this team")
        assert await _holders(bot, south_code) == {NORTH_MEMBER, LEAD}
        await south.send(f"/show {south_code}")
        assert await south.last_text() == text("no_case", code=south_code)
        # Its holder from the south let go of it; the north claims it and reads it.
        await north.send(f"/claim {south_code}")
        await north.send(f"/show {south_code}")
        shown = await north.last_text()
        assert f"Case {south_code}" in shown and BEFORE_MOVE in shown  # the answer moved too
        # What the north writes and is told from here on, under the case's new key.
        await north.send(f"/note {south_code} {NOTE_AFTER_MOVE}")
        await _asked_and_answered(bot, north, south_code, "After the move?", AFTER_MOVE)
        await north.send(f"/show {south_code}")
        assert NOTE_AFTER_MOVE in await north.last_text()
        assert AFTER_MOVE in await north.last_text()
        await lead.send("/audit")
        assert f"transferred {south_code}" in await lead.last_text()
        await take(bot, "after the audit")
        vault = bot.runtime.vault
        return Lived(
            south_code, north_code, south_copy, {u: vault.pseudonym(u) for u in PASSPHRASES}
        )


async def _asked_and_answered(
    bot: RunningBot, coordinator: Applicant, code: str, question: str, answer: str
) -> None:
    await coordinator.send(f"/ask {code} {question}")
    await wait_for_text(bot.server, SOUTHERNER, question)
    phone = Applicant(bot.server, SOUTHERNER)
    await phone.tap(CATALOG.text("en", "reply"))
    await phone.send(answer)
    assert await phone.last_text() == CATALOG.text("en", "reply_thanks")


async def _handle(bot: RunningBot, user: int) -> str:
    row = await coord_store.coordinator_by_pseudonym(
        bot.runtime.db.conn, bot.runtime.vault.pseudonym(user)
    )
    assert row is not None
    return row.handle


async def _sealed_copy(bot: RunningBot, code: str, user: int) -> bytes:
    conn = bot.runtime.db.conn
    case = await case_store.get_case_by_code(conn, code)
    row = await coord_store.coordinator_by_pseudonym(conn, bot.runtime.vault.pseudonym(user))
    assert case is not None and row is not None
    sealed = await coord_store.case_key_for(conn, case.case_id, row.id)
    assert sealed is not None
    return sealed


async def test_an_invite_names_only_configured_teams(
    server: DevServer, tmp_path: Path, master_key: MasterKey
) -> None:
    async with running_bot(server, tmp_path, master_key) as bot:
        # One team: a team's name has nothing to name.
        with pytest.raises(ValueError, match="needs teams in the config"):
            await bot.runtime.coordination.create_invite("coordinator", ("south",))
    (tmp_path / "teams").mkdir()
    async with running_bot(server, tmp_path / "teams", master_key, coordination_extra=TEAMS) as bot:
        with pytest.raises(ValueError, match="no team 'nowhere'; teams: south, north"):
            await bot.runtime.coordination.create_invite("coordinator", ("nowhere",))


async def test_teams_added_later_adopt_what_came_before_and_bound_grants_and_revocations(
    server: DevServer, tmp_path: Path, master_key: MasterKey
) -> None:
    """An organisation starts with one team, then splits in two: nothing set before is lost,
    and from then on a lead's /grant and a team lead's /revoke stay inside the teams."""
    async with running_bot(server, tmp_path, master_key) as bot:
        await server.send_group_text(GROUP_CHAT_ID, LEAD, "hello", chat_type="supergroup")
        await _enrol(bot, NORTH_MEMBER, "coordinator", ())
        await _enrol(bot, LEAD, "lead", ())
        before = await _submit(bot, NORTHERNER, "tanintharyi")  # no teams yet: everyone's
        assert await _holders(bot, before) == {NORTH_MEMBER, LEAD}

    async with running_bot(server, tmp_path, master_key, coordination_extra=TEAMS) as bot:
        for group in (SOUTH_GROUP, NORTH_GROUP):
            await server.send_group_text(group, LEAD, "hello", chat_type="supergroup")
        conn = bot.runtime.db.conn
        # The coordinator joined the default team, the lead leads every team, the old case is
        # the default team's (those who hold it are all in that team now).
        assert sorted(sorted(m) for m in (await coord_store.memberships(conn)).values()) == [
            ["*"],
            ["north"],
        ]
        case = await case_store.get_case_by_code(conn, before)
        assert case is not None and await coord_store.case_team(conn, case.case_id) == "north"

        south_case = await _submit(bot, SOUTHERNER, "tanintharyi")
        assert await _holders(bot, south_case) == {LEAD}  # nobody of the north

        lead, north = Applicant(server, LEAD), Applicant(server, NORTH_MEMBER)
        for person, user in ((lead, LEAD), (north, NORTH_MEMBER)):
            await person.send("/unlock")
            await person.send(PASSPHRASES[user])
        south = await _enrol(bot, SOUTH_MEMBER, "coordinator", ("south",))
        await lead.send(f"/grant {await _handle(bot, SOUTH_MEMBER)}")
        # Only the southern case: the lead holds the northern one too, but it stays north.
        assert await lead.last_text() == text(
            "granted", handle=await _handle(bot, SOUTH_MEMBER), count=1
        )
        assert await _holders(bot, south_case) == {LEAD, SOUTH_MEMBER}
        assert await _holders(bot, before) == {LEAD, NORTH_MEMBER}
        await south.send(f"/claim {south_case}")
        await south.send(f"/show {south_case}")
        assert f"Case {south_case}" in await south.last_text()

        # A lead of the south alone cannot remove a northern coordinator: for them there is
        # nobody of that name. Their own team's, they can.
        south_lead = await _enrol(bot, SOUTH_LEAD, "lead", ("south",))
        north_handle = await _handle(bot, NORTH_MEMBER)
        await south_lead.send(f"/revoke {north_handle}")
        assert await south_lead.last_text() == text("no_coordinator", handle=north_handle)
        assert await _holders(bot, before) == {LEAD, NORTH_MEMBER}
        # Nor learn, from /grant or /reassign, that a handle is another team's coordinator.
        await south_lead.send(f"/grant {north_handle}")
        assert await south_lead.last_text() == text("no_coordinator", handle=north_handle)
        south_handle = await _handle(bot, SOUTH_MEMBER)
        await north.send(f"/claim {before}")
        await north.send(f"/reassign {before} {south_handle}")
        assert await north.last_text() == text("no_coordinator", handle=south_handle)
        # The audit log a team's lead reads holds their teams' cases and people only.
        await south_lead.send("/audit")
        audit = await south_lead.last_text()
        assert f"claimed {south_case}" in audit
        assert before not in audit and north_handle not in audit
        await lead.send("/audit")  # the lead of every team reads it all
        assert f"{north_handle} claimed {before}" in await lead.last_text()
        await south_lead.send(f"/revoke {south_handle}")
        assert await south_lead.last_text() == text("revoked", handle=south_handle, count=1)
