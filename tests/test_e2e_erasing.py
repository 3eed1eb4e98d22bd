"""Erasing at the worst moment, and before Telegram's 48 hours run out.

The real bot against the local Bot API server. The server enforces Telegram's rule (a bot may
delete a private chat's messages for 48 hours only), so "gone" here means the bot deleted it in
time. Days pass on the server's clock and the bot's, not in sleeps.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from bot.crypto import MasterKey
from bot.devserver import DevClient, DevServer
from bot.intake.events import Command, Text
from bot.services.intake import Incoming
from tests.conftest import Applicant, RunningBot, running_bot, wait_for_text
from tests.intake_driver import CATALOG, answer_all, begin, default_questionnaire, default_route
from tests.resting import rest
from tests.test_e2e_applicant_phone import _handlers
from tests.test_floods import bot_at, telegram_elsewhere
from tests.test_retention import Clock, Person, services_at

ALICE = 560_000_001
BOB = 560_000_002
LEAD = 560_000_100
HOUR = 3600
FLOOD = 45
PASSPHRASE = "harbour lantern copper eleven"
Q = default_questionnaire()
T = TypeVar("T")


async def _pass(bot: RunningBot, hours: float) -> None:
    """Time passes for Telegram and for the bot alike; the bot's sweeper is woken to look."""
    seconds = hours * HOUR
    await bot.server.advance(seconds)
    intake = bot.runtime.intake
    before = intake.clock
    intake.clock = lambda: before() + seconds
    intake.sweep_now.set()
    await rest(bot.server)


async def _flood(bot: RunningBot, user: int) -> None:
    """Faster than anyone reads: most of these are dropped by the flood limit."""
    for n in range(FLOOD):
        await bot.server.send_text(user, f"are you there {n}", first_name="T")
    await rest(bot.server)


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
            await rest(bot.server)
        await bot.server.send_text(BOB, f"are you there {n}", first_name="T")
    await rest(bot.server)
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
    told = await wait_for_text(bot.server, LEAD, "went unanswered")
    assert told.startswith(f"Case {code}:")


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


# --- a crowd flooding and erasing at once --------------------------------------------------------

CROWD = 200
CROWD_FLOOD = 12
ANSWER_WITHIN = 2.0
POLL = 0.02


async def _polled(check: Callable[[], Awaitable[T | None]], what: str, within: float = 60.0) -> T:
    """A person's own chat looked at every few milliseconds: with hundreds waiting at once,
    the server's wake-everyone wait would have each change read every chat."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        found = await check()
        if found is not None:
            return found
        assert loop.time() < deadline, what
        await asyncio.sleep(POLL)


async def _tap(server: DevServer | DevClient, user: int, label: str) -> None:
    async def shown() -> tuple[int, str] | None:
        for message in reversed(await server.messages(user)):
            for button in message.buttons:
                if button["text"] == label and button["callback_data"]:
                    return message.message_id, button["callback_data"]
        return None

    async def answered() -> bool | None:
        return True if await server.callback_answers(query) else None

    message_id, data = await _polled(shown, f"{user}: no button {label!r}")
    query = await server.press_button(user, message_id, data)
    await _polled(answered, f"{user}: the tap on {label!r} was not answered")


async def test_a_crowd_flooding_and_erasing_leaves_nothing_and_others_are_answered(
    tmp_path: Path,
) -> None:
    """Two hundred people flood past their limit and erase their chats at the same moment,
    while someone else fills in the form: every chat of the crowd is empty after, and the
    other person waits no more than two seconds for any answer."""
    extra = "[intake]\nflood_messages_per_minute = 8\n"
    # Telegram's own pacing of the bot's sends (30 a second) would make this minutes long.
    fast = "rate_limit = false"
    async with (
        telegram_elsewhere(tmp_path / "devserver.log") as (server, base_url),
        bot_at(base_url, tmp_path, extra=extra, telegram_extra=fast),
    ):
        crowd = [600_000_000 + n for n in range(CROWD)]
        neighbour = 599_999_999
        for user in (*crowd, neighbour):  # each at the safety note, with the chat's key
            await server.send_text(user, "/start", first_name="T")
        await rest(server, timeout=60.0)
        await asyncio.gather(*(_tap(server, user, "English") for user in (*crowd, neighbour)))
        await rest(server, timeout=60.0)

        async def flood_and_erase() -> None:
            for user in crowd:  # every message of the flood and every /delete sent at once
                for n in range(CROWD_FLOOD):
                    await server.send_text(user, f"are you there {n}", first_name="T")
                await server.send_text(user, "/delete", first_name="T")
            await rest(server, timeout=120.0)
            confirm = CATALOG.text("en", "delete_yes")
            for user in crowd:  # and every "Delete everything" tapped at once
                shown = await server.messages(user)
                found = [
                    (m.message_id, b["callback_data"])
                    for m in shown
                    for b in m.buttons
                    if b["text"] == confirm and b["callback_data"]
                ]
                assert len(found) == 1, [(m.from_bot, m.text) for m in shown]
                [(message_id, data)] = found
                await server.press_button(user, message_id, data)
            await rest(server, timeout=120.0)

        waits: list[float] = []
        loop = asyncio.get_running_loop()

        async def fill_in() -> None:
            labels = [CATALOG.text("en", "consent_yes")]
            labels += [
                CATALOG.localize("en", Q.question(qid).options[0].text)
                for qid in default_route(Q)[:4]
            ]
            for label in labels:
                started = loop.time()
                await _tap(server, neighbour, label)
                waits.append(round(loop.time() - started, 3))

        erasing = asyncio.create_task(flood_and_erase())
        try:
            await fill_in()
        finally:
            await erasing
        left = {user: len(await server.messages(user)) for user in crowd}
        print(f"\ncrowd: {CROWD} flooding and erasing; the other person's waits (s): {waits}")
        assert not {u: n for u, n in left.items() if n}, "chats not empty after the erase"
        assert max(waits) <= ANSWER_WITHIN, waits


async def test_a_message_sent_before_delete_and_handled_after_it_is_deleted_unanswered(
    tmp_path: Path,
) -> None:
    """Updates are handled concurrently, so one sent just before /delete can be handled just
    after it; answering it would put a question back on the phone the person is erasing."""
    async with services_at(tmp_path, Clock(time.time())) as services:
        person = Person(services, ALICE)
        await person.begin()
        person.message_id = 100
        await person.send(Command("delete"))  # message 101
        late = Incoming(ALICE, ALICE, Text("are you there"), message_id=99, key=person.key)
        response = await services.intake.handle(late)
        assert response.replies == () and response.delete == (99,)
        later = Incoming(ALICE, ALICE, Text("hello"), message_id=102, key=person.key)
        assert (await services.intake.handle(later)).replies != ()  # sent after: answered
