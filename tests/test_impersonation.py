"""People hunting defectors probe the bot: strangers, a revoked coordinator, forwarded messages,
coordinator commands in a foreign group or from someone not enrolled in the team's group.

Each of them must get only what any applicant gets: the unknown-command answer in a private chat,
and nothing (or the bot leaving) in a group.
"""

from __future__ import annotations

import statistics
import time

from bot.store import coordination as coord_store
from tests.conftest import GROUP_CHAT_ID, Applicant, RunningBot
from tests.resting import rest
from tests.test_e2e_coordination import _enrol, team

LEAD = 560_000_100
STRANGER = 560_000_666
FOREIGN_GROUP = -1_009_999_999_999
PASSPHRASE = "granite orchid seventy lantern"
# What only a coordinator reads, in either language of the coordinators' catalogue.
SECRET_MARKS = (
    "enrolled",
    "Unlocked",
    "C-",
    "Audit",
    *(
        team(key, lang)
        for key in ("queue_header", "queue_empty", "language_set", "denied_locked", "unlock_ask")
        for lang in ("en", "my")
    ),
)
COMMANDS = ("/queue", "/claim K7QX", "/show K7QX", "/audit", "/stats", "/purge K7QX", "/unlock")


async def _unknown(bot: RunningBot) -> str:
    probe = Applicant(bot.server, 560_000_001)
    await probe.send("/frobnicate")
    return await probe.last_text()


async def test_strangers_forwards_and_revoked_coordinators_get_the_public_answer(
    bot: RunningBot,
) -> None:
    unknown = await _unknown(bot)
    lead = await _enrol(bot, LEAD, "lead", PASSPHRASE)
    await lead.send("/queue")
    assert await lead.last_text() == team("queue_empty")

    stranger = Applicant(bot.server, STRANGER)
    for command in COMMANDS:
        await stranger.send(command)
        assert await stranger.last_text() == unknown, command
    # /language is the applicants' command too: a stranger gets theirs, never the team's.
    for command in ("/language my", "/language en", "/language"):
        await stranger.send(command)
        reply = await stranger.last_text()
        assert not any(mark in reply for mark in SECRET_MARKS), (command, reply)

    # A stranger forwards a coordinator's own command: it is the stranger who sent it.
    for command in COMMANDS:
        sent = await bot.server.forward_text(STRANGER, command, "Coord", from_user_id=LEAD)
        await bot.server.wait_for_bot_message(STRANGER, after_id=sent["message_id"], timeout=10.0)
        await rest(bot.server)
        reply = await stranger.last_text()
        assert not any(mark in reply for mark in SECRET_MARKS), (command, reply)

    [row] = await coord_store.active_coordinators(bot.runtime.db.conn)
    await bot.runtime.coordination.revoke(row.handle)
    for command in COMMANDS:
        await lead.send(command)
        assert await lead.last_text() == unknown, command


async def test_groups_other_than_the_team_get_nothing(bot: RunningBot) -> None:
    await _enrol(bot, LEAD, "lead", PASSPHRASE)
    server = bot.server
    # The enrolled coordinator's own command, in a group the bot was never meant to serve.
    for command in COMMANDS:
        await server.send_group_text(FOREIGN_GROUP, LEAD, command, chat_type="supergroup")
    await rest(server)
    foreign = [m.text or "" for m in await server.messages(FOREIGN_GROUP) if m.from_bot]
    assert not any(mark in t for t in foreign for mark in SECRET_MARKS), foreign

    # Someone in the team's group who is not enrolled asks for the queue.
    await server.send_group_text(GROUP_CHAT_ID, STRANGER, "/queue", chat_type="supergroup")
    await rest(server)
    group = [m.text or "" for m in await server.messages(GROUP_CHAT_ID) if m.from_bot]
    marks = [team(key, lang) for key in ("queue_header", "queue_empty") for lang in ("en", "my")]
    assert not any(mark in t for t in group for mark in marks), group


async def test_reply_time_of_queue_for_a_stranger_and_a_coordinator(bot: RunningBot) -> None:
    """Measured, not asserted: whether /queue's timing tells a coordinator from a stranger."""
    unknown = await _unknown(bot)
    lead = await _enrol(bot, LEAD, "lead", PASSPHRASE)
    stranger = Applicant(bot.server, STRANGER)
    timings: dict[str, list[float]] = {"stranger": [], "coordinator": []}
    for _ in range(20):
        for name, person in (("stranger", stranger), ("coordinator", lead)):
            sent = await bot.server.send_text(person.user_id, "/queue", first_name="T")
            start = time.perf_counter()
            await bot.server.wait_for_bot_message(
                person.user_id, after_id=sent["message_id"], timeout=10.0
            )
            timings[name].append((time.perf_counter() - start) * 1000)
            await rest(bot.server)
        assert await stranger.last_text() == unknown
    for name, values in timings.items():
        print(
            f"/queue reply time, {name}: mean {statistics.mean(values):.1f} ms, "
            f"stdev {statistics.stdev(values):.1f} ms"
        )
