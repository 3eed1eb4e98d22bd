"""The journey after the handoff, end to end: check-ins on the local server's clock, a restart
that arms them again when a holder unlocks, and a case that follows its person to a new account.

The real bot against the local Bot API server; hours pass on the server's clock and the bot's
(``_pass``), never in sleeps.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot import demo
from bot.config import DEFAULT_VETTING_STEPS
from bot.crypto import MasterKey
from bot.devserver import DevServer, MessageRecord
from bot.intake.events import Command, Press
from bot.runtime import Services, open_services
from bot.services.intake import Incoming
from bot.services.outbox import OutMessage
from bot.store import coordination as coord_store
from bot.store import journey as journey_store
from tests import test_e2e_teams as teams
from tests.conftest import (
    GROUP_CHAT_ID,
    Applicant,
    RunningBot,
    running_bot,
    wait_for_text,
)
from tests.coordinator_driver import REQUIRED_STEPS, Coordinator
from tests.intake_driver import CATALOG, answer_all, begin
from tests.resting import rest
from tests.test_e2e_coordination import _enrol, _unlock, team
from tests.test_e2e_coordination import _group_texts as _group

team_text = team

APPLICANT = 630_000_001
NEW_PHONE = 630_000_002
STRANGER = 630_000_003
LEAD = 630_000_100
PASSPHRASE = "river lantern copper seven"
HOUR = 3600


async def _pass(bot: RunningBot, hours: float) -> None:
    """Time passes for Telegram and for the bot alike; the check-in runner is woken to look."""
    seconds = hours * HOUR
    await bot.server.advance(seconds)
    for service in (bot.runtime.coordination, bot.runtime.intake):
        before = service.clock
        service.clock = lambda before=before: before() + seconds  # type: ignore[misc]
    bot.runtime.coordination.checkins_now.set()
    await rest(bot.server)


async def _handed_off(bot: RunningBot) -> tuple[Applicant, Applicant, str, str]:
    """An applicant sends a form (keeping the receipt) and the lead takes it to the handoff;
    returns the applicant, the lead (unlocked), the full receipt and the case's code."""
    await bot.server.send_group_text(GROUP_CHAT_ID, LEAD, "hello", chat_type="supergroup")
    lead = await _enrol(bot, LEAD, "lead", PASSPHRASE)  # before the case: sealed to them too
    person = Applicant(bot.server, APPLICANT)
    await begin(person)
    await answer_all(person, "en", {"call_name": "Ko Zaw", "notes": "after 8pm"})
    await person.tap("Send")
    await person.tap(CATALOG.text("en", "wipe_keep"))
    receipt = _receipt(await person.visible())
    phrase = next(
        (m.text or "").split("they will first say: ")[1].splitlines()[0].strip()
        for m in await person.visible()
        if "they will first say: " in (m.text or "")
    )
    code = receipt.split("-")[0]
    await _unlock(bot, lead, PASSPHRASE)
    await _vetted(lead, code)
    await lead.send(f"/approve {code}")
    await lead.send(f"/handoff {code} A volunteer calls you on Friday.")
    assert await lead.last_text() == team("handed_off", code=code, phrase=phrase), (
        await lead.bot_texts()
    )
    await wait_for_text(bot.server, APPLICANT, "Friday")
    return person, lead, receipt, code


async def _vetted(coordinator: Applicant, code: str) -> None:
    """``coordinator`` claims the case and records every step /approve waits for."""
    await coordinator.send(f"/claim {code}")
    for step in REQUIRED_STEPS:
        await coordinator.send(f"/check {code} {step}")


async def _armed(bot: RunningBot, period: str = "3h 1d") -> tuple[Applicant, Applicant, str, str]:
    """Handed off (as ``_handed_off`` returns it), and the lead arms check-ins: ``period`` is
    /checkin's every and, if given, for how long."""
    person, lead, receipt, code = await _handed_off(bot)
    await lead.send(f"/checkin {code} {period}")
    return person, lead, receipt, code


async def _first_checkin(bot: RunningBot, person: Applicant) -> MessageRecord:
    """Three hours on, the first check-in: the one on the phone."""
    await _pass(bot, 3)
    [checkin] = await _checkins(person)
    return checkin


def _button(checkin: MessageRecord, key: str) -> str:
    """The callback data of the check-in's button labelled with ``key``'s English text."""
    label = CATALOG.text("en", key)
    return next(b["callback_data"] for b in checkin.buttons if b["text"] == label)


def _receipt(messages: list[MessageRecord]) -> str:
    for message in messages:
        text = message.text or ""
        if "receipt code: " in text:
            return text.split("receipt code: ")[1].split()[0]
    raise AssertionError("no receipt on the phone")


async def _checkins(person: Applicant, lang: str = "en") -> list[MessageRecord]:
    fine = CATALOG.text(lang, "checkin_fine")
    return [
        m
        for m in await person.visible()
        if m.from_bot
        and m.text == _checkin_text(lang)
        and any(b["text"] == fine for b in m.buttons)
    ]


def _checkin_text(lang: str) -> str:
    return CATALOG.text(lang, "team_message", text=CATALOG.text(lang, "checkin_message"))


async def test_check_ins_fine_missed_and_not_safe(
    server: DevServer, tmp_path: Path, master_key: MasterKey
) -> None:
    async with running_bot(server, tmp_path, master_key) as bot:
        person, lead, _, code = await _handed_off(bot)
        handoff = await wait_for_text(server, APPLICANT, "Friday")
        assert CATALOG.text("en", "checkin_explain") in handoff  # explained once, at handoff

        await lead.send(f"/checkin {code} 1h")
        assert await lead.last_text() == team("checkin_every", code=code, grace="2h")
        await lead.send(f"/checkin {code} 3h 1d")
        assert await lead.last_text() == team(
            "checkin_armed", code=code, every="3h", length="1d", grace="2h"
        )
        group_before = await _group(server)

        # All fine: nothing is posted, and the check-in is gone from the phone.
        await _pass(bot, 3)
        [checkin] = await _checkins(person)
        assert checkin.protect_content
        await person.tap(CATALOG.text("en", "checkin_fine"))
        assert person.last_toast == CATALOG.text("en", "checkin_thanks")
        assert await _checkins(person) == []
        await _pass(bot, 2.5)  # past the grace time: an answered check-in is not missed
        assert await _group(server) == group_before

        # Missed: posted once to the team's group, told to the holder; erased by the next one.
        await _pass(bot, 0.5)
        [missed] = await _checkins(person)
        await _pass(bot, 2)
        missed_line = team("group_checkin_missed", code=code)
        assert [t for t in await _group(server) if missed_line in t] == [
            " · ".join(team("group_checkin_missed", lang, code=code) for lang in ("en", "my"))
        ]
        await wait_for_text(server, LEAD, team("checkin_missed", code=code))
        await _pass(bot, 1)  # the next check-in comes, the missed one goes
        [after] = await _checkins(person)
        assert after.message_id != missed.message_id
        gone = await server.message(APPLICANT, missed.message_id)
        assert gone is not None and gone.deleted
        assert len([t for t in await _group(server) if missed_line in t]) == 1  # once

        # Not safe: the other button, answered the same way; the group reads "needs help".
        await person.tap(CATALOG.text("en", "checkin_help"))
        assert person.last_toast == CATALOG.text("en", "checkin_thanks")
        assert await _checkins(person) == []
        help_line = await wait_for_text(
            server, GROUP_CHAT_ID, team("group_checkin_needs_help", code=code)
        )
        assert help_line == " · ".join(
            team("group_checkin_needs_help", lang, code=code) for lang in ("en", "my")
        )
        await wait_for_text(server, LEAD, team("checkin_needs_help", code=code))

        # Nothing else is posted: the code and what happened.
        for line in await _group(server):
            assert "Ko Zaw" not in line and str(APPLICANT) not in line

        await _unlock(bot, lead, PASSPHRASE)  # hours went by: the key was forgotten
        await lead.send(f"/checkin {code} off")
        assert await lead.last_text() == team("checkin_stopped", code=code)
        await _pass(bot, 3)
        assert await _checkins(person) == []


async def test_which_button_was_tapped_leaves_no_trace_on_disk(
    server: DevServer, tmp_path: Path, master_key: MasterKey
) -> None:
    """A seizer who reads the audit log must not learn that a case's person tapped "not safe":
    either answer leaves the log as it was (the group and the holder are told, off the disk)."""

    async def audit(bot: RunningBot) -> list[tuple[str, str, str | None]]:
        async with bot.runtime.db.conn.execute(
            "SELECT actor, action, case_code FROM audit_log ORDER BY seq"
        ) as cur:
            return [(str(a), str(b), c) for a, b, c in await cur.fetchall()]

    async with running_bot(server, tmp_path, master_key) as bot:
        person, _, _, code = await _armed(bot)
        for key in ("checkin_fine", "checkin_help"):
            await _pass(bot, 3)
            [_] = await _checkins(person)
            before = await audit(bot)
            await person.tap(CATALOG.text("en", key))
            await rest(server)
            assert await _checkins(person) == []
            assert await audit(bot) == before, key
        await wait_for_text(server, GROUP_CHAT_ID, team("group_checkin_needs_help", code=code))


async def test_a_check_in_reads_the_same_on_the_lock_screen_in_both_languages() -> None:
    """A lock screen shows a message's first line, an expanded notification a few more: a
    check-in's first four are a team message's, in English and in Burmese (Unicode and
    Zawgyi), and either button's answer is the same toast."""
    for lang in ("en", "my", "my-zawgyi"):
        head = _checkin_text(lang).splitlines()[:4]
        assert head == CATALOG.text(lang, "team_message", text="x").splitlines()[:4]
        assert CATALOG.text(lang, "checkin_fine") != CATALOG.text(lang, "checkin_help")
        assert CATALOG.text(lang, "checkin_fine") in CATALOG.text(lang, "checkin_explain")


async def test_a_button_of_another_chat_or_a_made_up_one_answers_nothing(
    server: DevServer, tmp_path: Path, master_key: MasterKey
) -> None:
    async with running_bot(server, tmp_path, master_key) as bot:
        person, _, _, _ = await _armed(bot, "3h")
        help_data = _button(await _first_checkin(bot, person), "checkin_help")
        group_before = await _group(server)
        stranger = Applicant(server, STRANGER)
        await stranger.send("/start")
        [shown] = [m for m in await stranger.visible() if m.from_bot][-1:]
        await stranger.press_data(shown.message_id, help_data)  # the token, from another chat
        await stranger.press_data(shown.message_id, "K:" + "A" * 22)
        await rest(server)
        assert await _group(server) == group_before
        assert len(await _checkins(person)) == 1  # still waiting for its own answer


async def test_a_restart_arms_check_ins_again_when_a_holder_unlocks(
    server: DevServer, tmp_path: Path, master_key: MasterKey
) -> None:
    async with running_bot(server, tmp_path, master_key) as bot:
        person, lead, _, code = await _armed(bot, "3h 2d")
    async with running_bot(server, tmp_path, master_key) as bot:
        assert bot.runtime.coordination.armed_checkins() == ()  # nothing at rest says whom
        await _pass(bot, 3)
        assert await _checkins(person) == []
        await lead.send("/unlock")
        sent = await server.send_text(LEAD, PASSPHRASE, first_name="Coord")
        await server.wait_for_bot_message(LEAD, after_id=sent["message_id"], timeout=30.0)
        await rest(server)
        answer = await lead.last_text()
        assert answer.endswith(team("checkins_rearmed", count=1)), answer
        await _pass(bot, 3)
        assert len(await _checkins(person)) == 1
        await person.tap(CATALOG.text("en", "checkin_help"))
        await wait_for_text(server, GROUP_CHAT_ID, team("group_checkin_needs_help", code=code))


async def test_a_case_follows_its_person_to_a_new_account(
    server: DevServer, tmp_path: Path, master_key: MasterKey
) -> None:
    async with running_bot(server, tmp_path, master_key) as bot:
        old, lead, receipt, code = await _armed(bot, "3h")
        await lead.send(f"/ask {code} Which road FirstCanary?")  # never answered on the old phone
        await wait_for_text(server, APPLICANT, "FirstCanary")
        old_checkin = await _first_checkin(bot, old)

        new = Applicant(server, NEW_PHONE)
        await new.send(f"/status {receipt}")
        status = await new.last_text()
        assert status.startswith(CATALOG.text("en", "status_handed_off"))
        assert CATALOG.text("en", "account_offer") in status
        await new.tap(CATALOG.text("en", "account_use"))
        moved = await new.last_text()
        new_receipt = moved.split("receipt code: ")[1].split()[0]
        assert moved == CATALOG.text("en", "account_changed", receipt=new_receipt)
        assert new_receipt.split("-")[0] == code and new_receipt != receipt
        await wait_for_text(server, GROUP_CHAT_ID, team("group_account_changed", code=code))
        await wait_for_text(server, LEAD, team("account_changed", code=code))
        gone = await server.message(APPLICANT, old_checkin.message_id)
        assert gone is not None and gone.deleted  # erased from the old phone
        # ... and not forgotten: unanswered there, it is posted as missed; the check-ins stop
        # until the holder, having vetted again, starts them.
        missed_line = team("group_checkin_missed", code=code)
        assert [t for t in await _group(server) if missed_line in t] != []
        await wait_for_text(server, LEAD, team("checkins_paused_moved", code=code))
        # The old phone's open question answers nothing now: its relay is closed.
        await old.tap(CATALOG.text("en", "reply"))
        assert old.last_toast == CATALOG.text("en", "stale_button")

        # The relay's next question reaches the new chat, not the old.
        await _unlock(bot, lead, PASSPHRASE)
        old_count = len(await old.visible())
        await lead.send(f"/ask {code} Where are you now?")
        await wait_for_text(server, NEW_PHONE, "Where are you now?")
        assert len(await old.visible()) == old_count
        assert all("Where are you now?" not in (m.text or "") for m in await old.visible())
        await lead.send(f"/show {code}")
        shown = await lead.last_text()
        assert shown.startswith(team("case_account_changed"))
        row = await coord_store.work_row_by_code(bot.runtime.db.conn, code)
        assert row is not None and row.flagged

        # Check-ins do not follow the code by themselves; armed again, they go to the new chat.
        await _pass(bot, 3)
        assert await _checkins(new) == []
        await _unlock(bot, lead, PASSPHRASE)  # hours went by: the key was forgotten
        await lead.send(f"/checkin {code} 3h")
        await _pass(bot, 3)
        assert len(await _checkins(new)) == 1
        assert await _checkins(old) == []

        # The old receipt now answers exactly as a code nobody issued.
        unknown = "ABCD-EFGH-JKMN-PQRS"
        texts = []
        for typed in (receipt, unknown):
            phone = Applicant(server, STRANGER)
            await phone.send(f"/status {typed}")
            [last] = [m for m in await phone.visible() if m.from_bot][-1:]
            texts.append((last.text, last.entities, last.buttons))
        assert texts[0] == texts[1]
        assert texts[0][0] == CATALOG.text("en", "status_unknown")
        await new.send(f"/status {new_receipt}")
        assert (await new.last_text()).startswith(CATALOG.text("en", "status_handed_off"))


async def test_a_stale_or_borrowed_account_button_moves_nothing(
    server: DevServer, tmp_path: Path, master_key: MasterKey
) -> None:
    async with running_bot(server, tmp_path, master_key) as bot:
        _, _, receipt, code = await _handed_off(bot)
        new = Applicant(server, NEW_PHONE)
        await new.send(f"/status {receipt}")
        offer = await new.message_with_button(CATALOG.text("en", "account_use"))
        data = next(b["callback_data"] for b in offer.buttons)
        stranger = Applicant(server, STRANGER)
        await stranger.send("/help")
        [shown] = [m for m in await stranger.visible() if m.from_bot][-1:]
        await stranger.press_data(shown.message_id, data)  # another account's button
        assert all(team("group_account_changed", code=code) not in t for t in await _group(server))
        row = await coord_store.work_row_by_code(bot.runtime.db.conn, code)
        assert row is not None and not row.flagged


async def test_the_demo_shows_one_check_in() -> None:
    """``make demo``: the lead hands the case off, arms check-ins, three hours pass, and the
    applicant's screen shows the check-in with its two buttons; a tap answers it."""
    form = ["1", "1", "1", "1", "1", "1", "1", "1", "0", "1", "1", "Ko Demo", "1", "12", "2"]
    passphrase = "copper lantern river ninety"
    team = [
        "!team",
        passphrase,
        passphrase,
        "/unlock",
        passphrase,
        "/claim {code}",
        *(f"/check {{code}} {step}" for step in REQUIRED_STEPS),
        "/approve {code}",
        "/handoff {code} A volunteer calls on Friday.",
        "/checkin {code} 3h",
        "!later 3",
        "!applicant",
        "1",
        "q",
    ]
    script = iter([*form, *team])
    screens: list[str] = []
    sent: list[str] = []
    waited = 0

    async def read() -> str | None:
        nonlocal waited
        if sent[-2:] == ["/unlock", passphrase] and "Unlocked." not in screens[-1]:
            # Argon2id is still at work: Enter alone (nothing is sent) until the unlock
            # answers, so the commands after it find the key held.
            waited += 1
            assert waited < 1000, "the unlock never answered"
            return ""
        line = next(script, None)
        if line is not None and "{code}" in line:
            shown = "\n".join(screens)
            line = line.format(code=shown.split("Your receipt code: ")[1][:4])
        if line is not None:
            sent.append(line)
        return line

    await demo.run(read, screens.append)
    code = "\n".join(screens).split("Your receipt code: ")[1][:4]
    armed = team_text("checkin_armed", code=code, every="3h", length="7d", grace="2h")
    assert any(armed in screen for screen in screens)
    fine, thanks = CATALOG.text("en", "checkin_fine"), CATALOG.text("en", "checkin_help")
    [checkin] = [s for s in screens if f"[1] {fine}   [2] {thanks}" in s]
    assert "bot: " + _checkin_text("en").replace("\n", "\n     ") in checkin
    assert f"({CATALOG.text('en', 'checkin_thanks')})" in screens[-1]


async def test_a_new_account_reopens_the_steps_the_config_says(
    server: DevServer, tmp_path: Path, master_key: MasterKey
) -> None:
    """The default steps: the call and the number said back are done again with the person on
    the new account, the story check stands; flagged, the case now waits for every step."""
    async with running_bot(server, tmp_path, master_key) as bot:
        await server.send_group_text(GROUP_CHAT_ID, LEAD, "hello", chat_type="supergroup")
        lead = await _enrol(bot, LEAD, "lead", PASSPHRASE)
        person = Applicant(server, APPLICANT)
        await begin(person)
        await answer_all(person, "en", {"call_name": "Ko Zaw"})
        await person.tap("Send")
        receipt = _receipt(await person.visible())
        code = receipt.split("-")[0]
        await _unlock(bot, lead, PASSPHRASE)
        await _vetted(lead, code)

        new = Applicant(server, NEW_PHONE)
        await new.send(f"/status {receipt}")
        await new.tap(CATALOG.text("en", "account_use"))
        await wait_for_text(server, GROUP_CHAT_ID, team("group_account_changed", code=code))

        await lead.send(f"/approve {code}")
        reopened = [s.id for s in DEFAULT_VETTING_STEPS if s.reopen_on_account_change]
        assert reopened == ["call", "number"]
        refusal = await lead.last_text()
        assert refusal.startswith(f"Case {code} cannot be approved yet."), refusal
        for step in (*reopened, "second"):  # flagged: the second person's step too
            assert step in refusal, refusal
        assert "story" not in refusal.split("Still to do:")[1]
        await lead.send(f"/show {code}")
        shown = await lead.last_text()
        assert shown.startswith(team("case_account_changed"))
        for step in reopened:
            assert f"↺ {step} taken back by system" in shown, shown


# The southern team waits one hour for a check-in to be answered, not the default two.
SOUTH_GRACE = teams.TEAMS.replace(
    f"group_chat_id = {teams.SOUTH_GROUP}\n",
    f"group_chat_id = {teams.SOUTH_GROUP}\ncheckin_grace_minutes = 60\n",
)


async def _greet_groups(server: DevServer) -> None:
    """The bot is added to each team's group and to the default one."""
    for group in (teams.SOUTH_GROUP, teams.NORTH_GROUP, GROUP_CHAT_ID):
        await server.send_group_text(group, teams.LEAD, "hello", chat_type="supergroup")


async def _armed_in_the_south(bot: RunningBot, member: Applicant) -> str:
    """A southerner's case, vetted and handed off by the southern ``member``, who then arms
    check-ins every three hours (left as /checkin's answer); returns its code."""
    code = await teams._submit(bot, teams.SOUTHERNER, "mon")
    await _vetted(member, code)
    await member.send(f"/approve {code}")
    await member.send(f"/handoff {code} Friday.")
    await member.send(f"/checkin {code} 3h")
    return code


async def test_a_missed_check_in_goes_to_the_cases_own_team_after_its_own_grace_time(
    server: DevServer, tmp_path: Path, master_key: MasterKey
) -> None:
    """Two teams, each with its group; the southern team waits one hour, not the default two."""
    assert "checkin_grace_minutes = 60" in SOUTH_GRACE
    async with running_bot(server, tmp_path, master_key, coordination_extra=SOUTH_GRACE) as bot:
        await _greet_groups(server)
        member = await teams._enrol(bot, teams.SOUTH_MEMBER, "coordinator", ("south",))
        code = await _armed_in_the_south(bot, member)
        assert await member.last_text() == team(
            "checkin_armed", code=code, every="3h", length="7d", grace="1h"
        )
        await _pass(bot, 3)
        assert len(await _checkins(Applicant(server, teams.SOUTHERNER))) == 1
        await _pass(bot, 1)
        missed = await wait_for_text(
            server, teams.SOUTH_GROUP, team("group_checkin_missed", code=code)
        )
        assert missed.startswith(team("group_checkin_missed", code=code))
        for other in (teams.NORTH_GROUP, GROUP_CHAT_ID):
            texts = [m.text or "" for m in await server.messages(other) if m.from_bot]
            assert all(code not in t for t in texts), (other, texts)


async def test_a_question_still_waiting_for_the_old_account_never_reaches_it(
    server: DevServer, tmp_path: Path, master_key: MasterKey
) -> None:
    """The team asked while Telegram was out of reach (the bot down: the question waits in the
    outbox); meanwhile the person moved to a new phone. The question is dropped, not delivered
    to a phone that may be in other hands, and the relay it belonged to answers nothing."""
    async with running_bot(server, tmp_path, master_key) as bot:
        old, _, receipt, code = await _handed_off(bot)
        config = bot.config
    async with open_services(config) as services:  # no Telegram: the outbox only fills
        coordinator = Coordinator(services, LEAD, PASSPHRASE)
        await coordinator.unlock()
        assert "Question sent" in await coordinator.say(f"/ask {code} Still there QCanary?")
        assert await _outbox_chats(services) == [APPLICANT]
        status = await services.intake.handle(
            Incoming(NEW_PHONE, NEW_PHONE, Command("status", receipt), message_id=1)
        )
        [[button]] = status.replies[0].buttons
        moved = await services.intake.handle(
            Incoming(NEW_PHONE, NEW_PHONE, Press(button.data), pressed_message_id=2)
        )
        assert moved.replies[0].text.startswith(
            CATALOG.text("en", "account_changed", receipt="")[:20]
        )
        assert APPLICANT not in await _outbox_chats(services)  # the group's notice waits on
    async with running_bot(server, tmp_path, master_key) as bot:
        await wait_for_text(server, GROUP_CHAT_ID, team("group_account_changed", code=code))
        await rest(server)
        assert all("QCanary" not in (m.text or "") for m in await old.visible())
        assert all("QCanary" not in (m.text or "") for m in await server.messages(NEW_PHONE))


async def _outbox_chats(services: Services) -> list[int]:
    vault, chats = services.vault, []
    for row_id, sealed in await journey_store.outbox_rows(services.db.conn):
        chats.append(int(vault.open_local(sealed, purpose="outbox", context=f"chat:{row_id}")))
    return chats


async def test_a_not_safe_tap_on_a_check_in_sent_before_a_restart_reaches_the_team(
    server: DevServer, tmp_path: Path, master_key: MasterKey
) -> None:
    """The check-in on the phone outlives a restart: "not safe" is posted and told, with the
    same toast as "all fine"; the holder heard at startup that check-ins wait for /unlock."""
    async with running_bot(server, tmp_path, master_key) as bot:
        person, _, _, code = await _armed(bot)
        checkin = await _first_checkin(bot, person)
    async with running_bot(server, tmp_path, master_key) as bot:
        await wait_for_text(server, LEAD, team("checkins_paused", code=code))
        before = await _group(server)
        await person.tap(CATALOG.text("en", "checkin_help"))
        assert person.last_toast == CATALOG.text("en", "checkin_thanks")
        await rest(server)
        needs_help = team("group_checkin_needs_help", code=code)
        assert [t for t in (await _group(server))[len(before) :] if needs_help in t] != []
        await wait_for_text(server, LEAD, team("checkin_needs_help", code=code))
        gone = await server.message(APPLICANT, checkin.message_id)
        assert gone is not None and gone.deleted
        # Answered: its buttons' rows are gone, a second tap (another copy) answers nothing.
        rows = await bot.runtime.db.conn.execute_fetchall("SELECT * FROM checkin_tokens")
        assert list(rows) == []


async def test_an_offer_made_with_the_old_code_moves_nothing_after_the_move(
    server: DevServer, tmp_path: Path, master_key: MasterKey
) -> None:
    """Someone with the phone asks first and keeps the offer; the person moves; the offer
    taken then moves nothing and answers as a code nobody issued."""
    async with running_bot(server, tmp_path, master_key) as bot:
        _, _, receipt, code = await _handed_off(bot)
        new, thief = Applicant(server, NEW_PHONE), Applicant(server, STRANGER)
        await thief.send(f"/status {receipt}")
        await thief.message_with_button(CATALOG.text("en", "account_use"))
        await new.send(f"/status {receipt}")
        await new.tap(CATALOG.text("en", "account_use"))
        moved = [t for t in await _group(server) if team("group_account_changed", code=code) in t]
        assert len(moved) == 1
        await thief.tap(CATALOG.text("en", "account_use"))
        assert await thief.last_text() == CATALOG.text("en", "status_unknown")
        again = [t for t in await _group(server) if team("group_account_changed", code=code) in t]
        assert again == moved
        row = await coord_store.work_row_by_code(bot.runtime.db.conn, code)
        assert row is not None
        inbox = await coord_store.inbox(bot.runtime.db.conn, row.case_id)
        assert len(inbox) == 1  # one move, the person's: none sealed for the thief's chat


def _fail_once_to(bot: RunningBot, chat: int) -> list[int]:
    """The next message queued for ``chat`` fails as a full disk would, once; returns the
    list that records the failure."""
    outbox = bot.runtime.coordination.outbox
    real = outbox.put
    failed: list[int] = []

    async def put(conn: Any, chat_id: int, message: OutMessage) -> None:
        if chat_id == chat and not failed:
            failed.append(chat_id)
            raise sqlite3.OperationalError("database or disk is full")
        await real(conn, chat_id, message)

    outbox.put = put  # type: ignore[method-assign]
    return failed


async def test_an_alarm_that_could_not_be_written_is_written_at_the_next_try(
    server: DevServer, tmp_path: Path, master_key: MasterKey
) -> None:
    """A write that fails loses neither a missed check-in nor a "not safe" tap."""
    async with running_bot(server, tmp_path, master_key) as bot:
        person, _, _, code = await _armed(bot)
        await _pass(bot, 3)
        failed = _fail_once_to(bot, GROUP_CHAT_ID)
        await _pass(bot, 2)
        assert failed  # the first try failed ...
        await _pass(bot, 0.1)
        missed_line = team("group_checkin_missed", code=code)
        assert len([t for t in await _group(server) if missed_line in t]) == 1  # ... not lost

        await _pass(bot, 1)  # the next check-in
        failed = _fail_once_to(bot, GROUP_CHAT_ID)
        [checkin] = await _checkins(person)
        data = _button(checkin, "checkin_help")
        await server.forge_callback(APPLICANT, checkin.message_id, data)  # fails: no toast
        await rest(server)
        assert failed
        assert len(await _checkins(person)) == 1  # still there: tapped again, it answers
        await person.tap(CATALOG.text("en", "checkin_help"))
        await rest(server)
        needs_help = team("group_checkin_needs_help", code=code)
        assert len([t for t in await _group(server) if needs_help in t]) == 1


async def test_delete_everything_erases_the_handoff_and_a_check_in(
    server: DevServer, tmp_path: Path, master_key: MasterKey
) -> None:
    """The handoff (which explains the check-ins) and a check-in on the phone are messages of
    the chat like the others: "Delete everything" erases them."""
    async with running_bot(server, tmp_path, master_key) as bot:
        person, lead, _, code = await _handed_off(bot)
        handoff = next(m for m in await person.visible() if "Friday" in (m.text or ""))
        assert CATALOG.text("en", "checkin_explain") in (handoff.text or "")
        await person.send("/delete")
        await person.tap(CATALOG.text("en", "delete_yes"))
        await rest(server)
        left = await server.message(APPLICANT, handoff.message_id)
        assert left is not None and left.deleted

        await lead.send(f"/checkin {code} 3h 1d")
        checkin = await _first_checkin(bot, person)
        await person.send("/delete")
        await person.tap(CATALOG.text("en", "delete_yes"))
        await rest(server)
        left = await server.message(APPLICANT, checkin.message_id)
        assert left is not None and left.deleted


async def test_a_check_in_on_its_way_during_a_move_does_not_stay_on_the_old_phone(
    server: DevServer, tmp_path: Path, master_key: MasterKey
) -> None:
    """The move lands while a check-in is being sent to the old chat: it is erased there, and
    its buttons answer nothing."""
    async with running_bot(server, tmp_path, master_key) as bot:
        _, _, _, code = await _armed(bot)
        row = await coord_store.work_row_by_code(bot.runtime.db.conn, code)
        assert row is not None
        coordination = bot.runtime.coordination
        offered_with = await journey_store.receipt_hash(bot.runtime.db.conn, row.case_id)
        assert offered_with is not None
        sent: list[int] = []

        async def send(chat_id: int, message: OutMessage) -> int:
            message_id = await bot.runtime.app.bot.send_message(
                chat_id, message.text, reply_markup=_markup(message)
            )
            sent.append(message_id.message_id)
            await coordination.change_account(
                row.case_id, NEW_PHONE, "new-receipt", offered_with=offered_with
            )
            return message_id.message_id

        async def erase(chat_id: int, ids: list[int]) -> None:
            for message_id in ids:
                await bot.runtime.app.bot.delete_message(chat_id, message_id)

        for service in (coordination, bot.runtime.intake):
            before = service.clock
            service.clock = lambda before=before: before() + 3 * HOUR  # type: ignore[misc]
        await coordination.run_checkins(send, erase)
        await rest(server)  # the erasing may fall to the bot's own round, woken by the move
        [message_id] = sent
        left = await server.message(APPLICANT, message_id)
        assert left is not None and left.deleted
        assert list(coordination.armed_checkins()) == []
        rows = await bot.runtime.db.conn.execute_fetchall("SELECT * FROM checkin_tokens")
        assert list(rows) == []


def _markup(message: OutMessage) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(b.label, callback_data=b.data) for b in row]
            for row in message.buttons
        ]
    )


async def test_a_move_waits_for_a_command_that_read_the_old_chat(
    server: DevServer, tmp_path: Path, master_key: MasterKey
) -> None:
    """A question, a handoff or /checkin reads the case's chat and then writes for it: a move
    landing in between would send it to the old phone. The move waits for the command."""
    async with running_bot(server, tmp_path, master_key) as bot:
        _, _, _, code = await _handed_off(bot)
        row = await coord_store.work_row_by_code(bot.runtime.db.conn, code)
        assert row is not None
        conn, coordination = bot.runtime.db.conn, bot.runtime.coordination
        offered_with = await journey_store.receipt_hash(conn, row.case_id)
        assert offered_with is not None
        async with coordination._acting:  # a command under way, between its read and its write
            move = asyncio.ensure_future(
                coordination.change_account(
                    row.case_id, NEW_PHONE, "new-receipt", offered_with=offered_with
                )
            )
            for _ in range(100):  # round trips enough for the move to end, were it not held
                await conn.execute_fetchall("SELECT 1")
            assert not move.done()
            assert await journey_store.receipt_hash(conn, row.case_id) == offered_with
        assert await move


async def test_a_missed_check_in_waits_for_the_grace_time_of_the_team_it_moved_to(
    server: DevServer, tmp_path: Path, master_key: MasterKey
) -> None:
    """Armed in the south (one hour's grace), moved north (the default two hours): a check-in
    unanswered goes to the northern group after two hours, not one."""
    async with running_bot(server, tmp_path, master_key, coordination_extra=SOUTH_GRACE) as bot:
        await _greet_groups(server)
        lead = await teams._enrol(bot, teams.LEAD, "lead", ())
        member = await teams._enrol(bot, teams.SOUTH_MEMBER, "coordinator", ("south",))
        code = await _armed_in_the_south(bot, member)
        assert "1h" in await member.last_text()
        await lead.send(f"/transfer {code} north")
        assert await lead.last_text() == team("transferred", code=code, team="north", count=1)
        await _pass(bot, 3)
        assert len(await _checkins(Applicant(server, teams.SOUTHERNER))) == 1
        missed = team("group_checkin_missed", code=code)
        await _pass(bot, 1.5)
        for group in (teams.SOUTH_GROUP, teams.NORTH_GROUP):
            texts = [m.text or "" for m in await server.messages(group) if m.from_bot]
            assert all(missed not in t for t in texts), (group, texts)
        await _pass(bot, 0.5)
        await wait_for_text(server, teams.NORTH_GROUP, missed)


async def test_stopping_the_check_ins_of_a_closed_case_says_they_are_stopped(
    server: DevServer, tmp_path: Path, master_key: MasterKey
) -> None:
    async with running_bot(server, tmp_path, master_key) as bot:
        _, lead, _, code = await _armed(bot, "3h")
        await lead.send(f"/close {code}")
        await lead.send(f"/checkin {code} off")
        assert await lead.last_text() == team("checkin_stopped", code=code)
        await lead.send(f"/checkin {code} 3h")
        assert await lead.last_text() == team("checkin_not_yet", code=code)
