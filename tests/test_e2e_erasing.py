"""Erasing at the worst moment, and before Telegram's 48 hours run out.

The real bot against the local Bot API server. The server enforces Telegram's rule (a bot may
delete a private chat's messages for 48 hours only), so "gone" here means the bot deleted it in
time. Days pass on the server's clock and the bot's, not in sleeps.
"""

from __future__ import annotations

import time
from pathlib import Path

from bot.crypto import MasterKey
from bot.devserver import DevServer
from bot.devserver.settle import settle
from tests.conftest import QUIET, Applicant, RunningBot, running_bot, wait_for_text
from tests.intake_driver import CATALOG, answer_all, begin, default_questionnaire
from tests.test_e2e_applicant_phone import _handlers

ALICE = 560_000_001
BOB = 560_000_002
LEAD = 560_000_100
HOUR = 3600
FLOOD = 45
PASSPHRASE = "harbour lantern copper eleven"
Q = default_questionnaire()


async def _pass(bot: RunningBot, hours: float) -> None:
    """Time passes for Telegram and for the bot alike; the bot's sweeper is woken to look."""
    seconds = hours * HOUR
    await bot.server.advance(seconds)
    intake = bot.runtime.intake
    before = intake.clock
    intake.clock = lambda: before() + seconds
    intake.sweep_now.set()
    await settle(bot.server, quiet=QUIET)


async def _flood(bot: RunningBot, user: int) -> None:
    """Faster than anyone reads: most of these are dropped by the flood limit."""
    for n in range(FLOOD):
        await bot.server.send_text(user, f"are you there {n}", first_name="T")
    await settle(bot.server, quiet=QUIET)


async def test_delete_right_after_a_flood_erases_everything(bot: RunningBot) -> None:
    """Within the same minute as a flood that went past the limit: /delete and the tap that
    confirms it are not throttled, and they erase what the flood left too."""
    person = Applicant(bot.server, ALICE)
    await begin(person)
    await answer_all(person, "en", stop_before="rank")
    await _flood(bot, ALICE)
    flood_limit = _handlers(bot)._flood
    assert not flood_limit.allow(ALICE, time.monotonic())  # still throttled, this minute
    await person.send("/delete")
    assert await person.last_text() == CATALOG.text("en", "delete_confirm")
    await person.tap(CATALOG.text("en", "delete_yes"))
    assert await person.visible() == [], [m.text for m in await person.visible()]


async def test_an_abandoned_form_is_erased_before_the_window_closes(bot: RunningBot) -> None:
    person = Applicant(bot.server, ALICE)
    await begin(person)
    await answer_all(person, "en", stop_before="rank")
    await _pass(bot, 46)
    assert await person.visible() != []  # not before its time
    await _pass(bot, 1.5)
    assert await person.visible() == []


async def test_a_kept_receipt_and_the_word_to_slow_down_are_erased_in_time(
    bot: RunningBot,
) -> None:
    person = Applicant(bot.server, ALICE)
    await begin(person)
    await answer_all(person, "en", {"call_name": "Ko Aung"})
    await person.tap(CATALOG.text("en", "submit"))
    await person.tap(CATALOG.text("en", "wipe_keep"))
    [receipt] = await person.visible()
    assert (receipt.text or "").endswith(CATALOG.text("en", "wipe_kept"))
    other = Applicant(bot.server, BOB)
    await begin(other)  # three actions of the minute
    limit = bot.config.intake.flood_messages_per_minute
    for n in range(limit - 3 + 15):  # the read ones answered first, then those past the limit
        if n == limit - 3:
            await settle(bot.server, quiet=QUIET)
        await bot.server.send_text(BOB, f"are you there {n}", first_name="T")
    await settle(bot.server, quiet=QUIET)
    assert CATALOG.text("en", "slow_down") in await other.bot_texts()
    await _pass(bot, 47.5)
    assert await person.visible() == []
    assert await other.visible() == []


async def test_a_team_question_left_unanswered_is_erased_in_time(bot: RunningBot) -> None:
    lead = Applicant(bot.server, LEAD)
    await lead.send(f"/enroll {await bot.runtime.coordination.create_invite('lead')}")
    for _ in range(2):
        await lead.send(PASSPHRASE)
    await lead.send("/unlock")
    await lead.send(PASSPHRASE)
    person = Applicant(bot.server, ALICE)
    await begin(person)
    await answer_all(person, "en", {"call_name": "Ko Aung"})
    await person.tap(CATALOG.text("en", "submit"))
    receipt = next(m.text or "" for m in await person.visible() if m.text)
    code = receipt.split("receipt code: ")[1].split("-")[0]
    await person.tap(CATALOG.text("en", "wipe_now"))
    await lead.send(f"/claim {code}")
    await lead.send(f"/ask {code} Which town are you near?")
    assert "Question sent" in await lead.last_text()
    await wait_for_text(bot.server, ALICE, "Which town are you near?")
    await _pass(bot, 47.5)
    assert await person.visible() == []


async def test_after_a_restart_erasing_resumes_when_the_person_next_writes(
    server: DevServer, tmp_path: Path, master_key: MasterKey
) -> None:
    """The schedule is in memory. After a restart it comes back with the chat's key: a person
    who writes again has their chat erased in time; one who never writes again keeps what the
    phone shows, as the README says (only they can delete it then)."""
    returning, silent = Applicant(server, ALICE), Applicant(server, BOB)
    async with running_bot(server, tmp_path, master_key):
        for person in (returning, silent):
            await begin(person)
            await answer_all(person, "en", stop_before="rank")
    started = time.time()
    async with running_bot(server, tmp_path, master_key) as bot:
        assert time.time() - started < 60
        await _pass(bot, 10)
        rank = Q.question("rank")
        await returning.tap(CATALOG.localize("en", rank.options[0].text))  # brings the key
        # The next question took the old one's place (an edit keeps a message's age).
        await _pass(bot, 37.5)
        assert await returning.visible() == []
        await _pass(bot, 1)  # Telegram's window has closed on the silent chat
        assert await silent.visible() != []
