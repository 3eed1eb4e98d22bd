"""End to end: the real Application polling the local Bot API server, applicants typing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.crypto import MasterKey, load_recovery_key
from bot.devserver import DevServer, MessageRecord
from bot.i18n import ZAWGYI
from bot.store import cases
from bot.text import to_zawgyi
from bot.transport import applicant as applicant_transport
from tests.conftest import (
    GROUP_CHAT_ID,
    RECOVERY_PRIVATE,
    Applicant,
    RunningBot,
    chat_state,
    running_bot,
)
from tests.intake_driver import (
    CATALOG,
    answer_all,
    answer_one,
    begin,
    default_questionnaire,
    status_answer,
)
from tests.resting import rest

ALICE = 510_000_001
BOB = 510_000_002
Q = default_questionnaire()


async def _submitted_case_fields(bot: RunningBot) -> dict[str, bytes]:
    """Open the one submitted case as the organisation would: with the recovery key's private
    half, which never reaches the server (the master key cannot open a sent case)."""
    conn = bot.runtime.db.conn
    async with conn.execute("SELECT id, recovery_key FROM cases WHERE status = 'submitted'") as cur:
        rows = list(await cur.fetchall())
    assert len(rows) == 1, rows
    case_id, sealed = str(rows[0][0]), bytes(rows[0][1])
    key = load_recovery_key(RECOVERY_PRIVATE).open_case_key(sealed, case_id=case_id)
    encrypted = await cases.read_fields(conn, case_id)
    return {n: key.decrypt(v, case_id=case_id, field=n) for n, v in encrypted.items()}


@pytest.fixture
async def bot(
    server: DevServer, tmp_path: Path, master_key: MasterKey
) -> AsyncIterator[RunningBot]:
    """The bot as conftest's fixture starts it, but through ``tests.conftest``: pytest loads
    conftest.py as a module of its own, with a recovery key of its own, and a case sealed to
    that key would not open with the ``RECOVERY_PRIVATE`` imported here."""
    async with running_bot(server, tmp_path, master_key) as running:
        yield running


async def test_start_greets_with_a_language_choice(bot: RunningBot) -> None:
    person = Applicant(bot.server, ALICE)
    await person.send("/start")
    [greeting] = await person.visible()  # the /start itself is cleared away
    assert greeting.from_bot and greeting.text is not None
    assert greeting.text.splitlines()[0] == "Hello, and welcome."
    assert [b["text"] for b in greeting.buttons] == ["English", "မြန်မာ", to_zawgyi("မြန်မာ")]


async def test_full_intake_in_english_then_wipe(bot: RunningBot) -> None:
    person = Applicant(bot.server, ALICE)
    await begin(person)
    route = await answer_all(person, "en", {"call_name": "Ko Aung", "notes": "hello team"})
    review = (await person.visible())[-1]
    assert review.text is not None and review.text.startswith("Please check your answers.")
    assert review.protect_content
    assert "Ko Aung" not in review.text  # sensitive answers are masked in the review
    await person.tap("Send")

    shown = await person.visible()
    assert len(shown) == 1  # the receipt with the offer to wipe; every question is gone
    assert shown[0].message_id == review.message_id  # the review became the receipt
    receipt_text = shown[0].text or ""
    assert shown[0].protect_content and "receipt code" in receipt_text
    assert receipt_text.endswith(CATALOG.text("en", "wipe_offer"))
    assert "Ko Aung" not in receipt_text
    fields = await _submitted_case_fields(bot)
    assert json.loads(fields["answer:call_name"]) == {"value": "Ko Aung", "uncertain": False}
    assert {n.removeprefix("answer:") for n in fields if n.startswith("answer:")} == set(route)
    assert fields["chat_id"] == str(ALICE).encode()
    assert fields["verification_phrase"].decode() in receipt_text
    async with bot.runtime.db.conn.execute(
        "SELECT count(*) FROM cases WHERE pseudonym IS NOT NULL"
    ) as cur:
        assert (await cur.fetchone()) == (0,)  # the link to the Telegram account is gone

    receipt = receipt_text.split("receipt code: ")[1].split()[0]
    await person.send(f"/status {receipt}")
    assert await person.last_text() == status_answer("en", "submitted")
    await person.send("/status K7QX-AAAA-BBBB-CCCC")
    assert "No form matches" in await person.last_text()

    await person.tap(CATALOG.text("en", "wipe_now"))
    assert await person.visible() == []
    everything = await bot.server.messages(ALICE, include_deleted=True)
    assert everything and all(m.deleted for m in everything)


async def test_an_applicant_who_acts_at_once_sees_only_the_current_question(
    bot: RunningBot,
) -> None:
    """Each tap or answer lands the moment its question appears, before the bot has finished
    with the previous one: every question must still replace the last, or stale questions
    pile up on the phone and are never cleared."""
    person = Applicant(bot.server, ALICE)
    route = Q.paths()[0]
    family = route.index("family")
    steps: list[tuple[str | None, str]] = [
        (None, "/start"),
        ("Hello, and welcome.", "English"),
        (CATALOG.text("en", "consent_yes"), CATALOG.text("en", "consent_yes")),
    ]
    for qid in route[: family + 2]:
        question = Q.question(qid)
        answer = "3" if qid == "family" else CATALOG.localize("en", question.options[0].text)
        steps.append((CATALOG.localize("en", question.text), answer))
    queries = []
    for expect, action in steps:

        async def shown(expect: str | None = expect) -> MessageRecord | bool | None:
            if expect is None:
                return True
            found = [
                m
                for m in await person.visible()
                if expect in (m.text or "") or any(b["text"] == expect for b in m.buttons)
            ]
            return found[-1] if found else None

        message = await bot.server.wait_for(shown, timeout=10.0)
        buttons = message.buttons if isinstance(message, MessageRecord) else []
        data = next((b["callback_data"] for b in buttons if b["text"] == action), None)
        if data is None:
            await bot.server.send_text(ALICE, action, first_name="Test")
        else:
            assert isinstance(message, MessageRecord)
            queries.append(await bot.server.press_button(ALICE, message.message_id, data))
    for query in queries:
        await bot.server.wait_for_callback_answer(query, timeout=10.0)
    await rest(bot.server)
    shown_now = await person.visible()
    assert len(shown_now) == 1, [m.text for m in shown_now]
    next_question = CATALOG.localize("en", Q.question(route[family + 2]).text)
    assert shown_now[0].from_bot and next_question in (shown_now[0].text or "")


async def test_full_intake_in_burmese_with_zawgyi_free_text(bot: RunningBot) -> None:
    person = Applicant(bot.server, BOB)
    typed_unicode = "ကျွန်တော့်ကို ညနေပိုင်း ဆက်သွယ်ပေးပါ"
    await begin(person, to_zawgyi("မြန်မာ"), ZAWGYI)
    # The Zawgyi phone shows Zawgyi; the applicant types in Zawgyi too.
    await answer_all(
        person, ZAWGYI, {"call_name": to_zawgyi("ကိုအောင်"), "notes": to_zawgyi(typed_unicode)}
    )
    await person.tap(CATALOG.text(ZAWGYI, "submit"))
    fields = await _submitted_case_fields(bot)
    assert json.loads(fields["answer:notes"]) == {"value": typed_unicode, "uncertain": False}
    assert json.loads(fields["answer:call_name"])["value"] == "ကိုအောင်"
    assert fields["language"] == ZAWGYI.encode()


async def test_a_review_edit_changes_one_answer(bot: RunningBot) -> None:
    person = Applicant(bot.server, ALICE)
    await begin(person)
    route = await answer_all(person, "en", {"call_name": "Ko Aung"})
    family_number = route.index("family") + 1
    await person.tap(str(family_number))
    assert "Your answer so far: 0" in await person.last_text()
    await person.send("၁၂")
    review = await person.last_text()
    assert review.startswith("Please check your answers.") and "→ 12" in review
    await person.tap("Send")
    fields = await _submitted_case_fields(bot)
    assert json.loads(fields["answer:family"])["value"] == 12


async def test_a_restart_mid_questionnaire_resumes_the_same_draft(
    server: DevServer, tmp_path: Path, master_key: MasterKey
) -> None:
    q = default_questionnaire()
    person = Applicant(server, ALICE)
    async with running_bot(server, tmp_path, master_key):
        await begin(person)
        await answer_all(person, "en", stop_before="family")
    # A new Application on the same database and key; the question is still on the phone.
    async with running_bot(server, tmp_path, master_key) as second:
        await answer_one(person, q, "family", "en", "7")
        await answer_one(person, q, "when", "en")
        conn = second.runtime.db.conn
        async with conn.execute("SELECT count(*) FROM chat_states") as cur:
            assert await cur.fetchone() == (1,)  # the same chat's row, not a second one
        async with conn.execute("SELECT count(*) FROM cases WHERE status = 'draft'") as cur:
            assert await cur.fetchone() == (0,)
        await person.send("/back")
        await person.send("/back")
        assert "Your answer so far: 7" in await person.last_text()


async def test_delete_destroys_the_draft_and_wipes_the_chat(bot: RunningBot) -> None:
    person = Applicant(bot.server, ALICE)
    await begin(person)
    await answer_all(person, "en", stop_before="rank")
    await person.send("/delete")
    await person.tap(CATALOG.text("en", "delete_yes"))
    assert await person.visible() == []
    assert person.last_toast == CATALOG.text("en", "wiped")
    async with bot.runtime.db.conn.execute("SELECT count(*) FROM cases") as cur:
        assert await cur.fetchone() == (0,)
    async with bot.runtime.db.conn.execute("SELECT count(*) FROM case_fields") as cur:
        assert await cur.fetchone() == (0,)


async def _started(bot: RunningBot, user: int = ALICE) -> Applicant:
    person = Applicant(bot.server, user)
    await begin(person)
    return person


async def _draft_fields(bot: RunningBot) -> dict[str, bytes]:
    async with bot.runtime.db.conn.execute("SELECT name, value FROM case_fields") as cur:
        return {str(n): bytes(v) async for n, v in cur}


@pytest.mark.parametrize(
    "kind", ["photo", "document", "sticker", "voice", "video", "location", "contact"]
)
async def test_files_and_media_are_refused_and_deleted(bot: RunningBot, kind: str) -> None:
    person = await _started(bot)
    before = await _draft_fields(bot)
    sent = await bot.server.send_media(ALICE, kind)
    await rest(bot.server)
    record = await bot.server.message(ALICE, sent["message_id"])
    assert record is not None and record.deleted  # deleted from the chat at once
    texts = await person.bot_texts()
    assert texts[-2].startswith("Sorry, I can only read typed text")
    assert "Who are you filling this in for?" in texts[-1]  # the question is asked again
    assert await _draft_fields(bot) == before  # nothing stored


async def test_forwarded_and_edited_messages_are_not_read(bot: RunningBot) -> None:
    person = await _started(bot)
    before = await _draft_fields(bot)
    await bot.server.forward_text(ALICE, "a forwarded text", "Someone")
    await rest(bot.server)
    assert (await person.bot_texts())[-2].startswith("Sorry, forwarded messages are not read")
    # /status without a code is answered without clearing the chat, so it can still be edited.
    sent = await bot.server.send_text(ALICE, "/status", first_name="Test")
    await rest(bot.server)
    await bot.server.edit_text(ALICE, sent["message_id"], "/status K7QX")
    await rest(bot.server)
    assert (await person.bot_texts())[-2].startswith("Sorry, changes to sent messages")
    assert await _draft_fields(bot) == before


async def test_too_long_text_is_refused_and_not_stored(bot: RunningBot) -> None:
    person = await _started(bot)
    await answer_all(person, "en", stop_before="call_name")
    before = await _draft_fields(bot)
    await person.send("y" * 999)
    assert "a little long" in (await person.bot_texts())[-2]
    assert await _draft_fields(bot) == before


async def test_an_old_button_and_a_double_tap_record_one_answer(bot: RunningBot) -> None:
    person = await _started(bot)
    question = (await person.visible())[-1]
    data = question.buttons[0]["callback_data"]
    assert data is not None
    await person.press_data(question.message_id, data)
    after_one = await _draft_fields(bot)
    await person.press_data(question.message_id, data)  # the same tap again, late
    assert await _draft_fields(bot) == after_one
    answers = await bot.server.callback_answers()
    assert "earlier message" in (answers[-1].text or "")


async def test_a_command_mid_question_gets_help_and_the_question_again(bot: RunningBot) -> None:
    person = await _started(bot)
    await person.send("/queue")
    texts = await person.bot_texts()
    assert texts[-2].startswith("Sorry, I did not understand that.")
    assert "Who are you filling this in for?" in texts[-1]


async def test_strange_groups_are_left_and_the_coordinators_group_is_not(bot: RunningBot) -> None:
    await bot.server.add_bot_to_group(-555, ALICE)
    await bot.server.send_group_text(-777, ALICE, "/start")
    await bot.server.send_group_text(GROUP_CHAT_ID, ALICE, "/start", chat_type="supergroup")
    await bot.server.wait_for(lambda: _left(bot.server, {-555, -777}), timeout=5.0)
    assert GROUP_CHAT_ID not in await bot.server.left_chats()
    assert await bot.server.messages(-777) == [] or all(
        not m.from_bot for m in await bot.server.messages(-777)
    )


async def _left(server: DevServer, chats: set[int]) -> bool:
    return chats <= set(await server.left_chats())


async def test_a_flooding_user_is_slowed_and_others_still_answered(bot: RunningBot) -> None:
    flood = 80
    for i in range(flood):
        await bot.server.send_text(ALICE, f"message {i}", first_name="Flood")
    other = Applicant(bot.server, BOB)
    await other.send("/start")
    assert (await other.last_text()).startswith("Hello, and welcome.")
    replies = [m for m in await bot.server.messages(ALICE, include_deleted=True) if m.from_bot]
    slow = [m for m in replies if m.text == CATALOG.text(None, "slow_down")]
    assert len(slow) == 1  # one calm word, not one per message
    assert len(replies) < flood  # the rest were dropped unread


async def test_telegram_asking_to_slow_down_loses_nothing(bot: RunningBot) -> None:
    """A 429 with retry_after on the reply: the bot waits as told and the reply still arrives."""
    person = Applicant(bot.server, ALICE)
    await person.at_rest()  # the audit head posted to the group at start is out of the way
    await bot.server.inject_fault("sendMessage", error_code=429, retry_after=1, times=1)
    await person.send("/start")
    assert (await person.last_text()).startswith("Hello, and welcome.")
    calls = await bot.server.api_calls("sendMessage")
    refused = [c for c in calls if not c.ok and c.params["chat_id"] == ALICE]
    assert len(refused) == 1


async def test_profile_and_menu_are_neutral(bot: RunningBot) -> None:
    from bot.text import alarming_words_in

    profile = await bot.server.bot_profile()
    assert profile.description[""].startswith("A step-by-step form.")
    assert profile.description["my"] and profile.short_description["my"]
    menu = await bot.server.commands("all_private_chats")
    assert [c.command for c in menu] == [
        "start",
        "back",
        "language",
        "cancel",
        "delete",
        "status",
        "help",
    ]
    texts = [*profile.description.values(), *profile.short_description.values()]
    texts += [c.description for c in menu]
    texts += [c.description for c in await bot.server.commands("all_private_chats", "my")]
    assert all(alarming_words_in(text) == [] for text in texts)


async def test_wrong_receipt_codes_are_limited(
    server: DevServer, tmp_path: Path, master_key: MasterKey
) -> None:
    extra = "[intake]\nstatus_attempts_per_hour = 2\n"
    async with running_bot(server, tmp_path, master_key, extra=extra):
        person = Applicant(server, ALICE)
        for _ in range(2):
            await person.send("/status K7QX-AAAA-BBBB-CCCC")
            assert "No form matches" in await person.last_text()
        await person.send("/status K7QX-AAAA-BBBB-CCCC")
        assert await person.last_text() == CATALOG.text("en", "status_limited")


async def test_the_outbox_does_not_wait_behind_an_applicants_reply(bot: RunningBot) -> None:
    """An applicant's lock is held while Telegram is called, rate-limit waits included; noting a
    message the outbox sent to that applicant must not wait for it, or every group notice
    queued behind would wait too."""
    intake = bot.runtime.intake
    await Applicant(bot.server, ALICE).send("/start")  # the chat's key is held
    held = intake._locks.setdefault(ALICE, asyncio.Lock())
    async with held:  # the applicant's reply is still with Telegram
        await asyncio.wait_for(intake.note_sent(ALICE, 4242), timeout=10.0)
    assert 4242 in (await chat_state(bot, ALICE)).trace.visible


async def test_a_team_message_noted_during_an_applicants_reply_stays_in_the_trace(
    bot: RunningBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The trace read to answer a tap is reused to note what the answer sent, unless it changed
    meanwhile: a message the outbox delivered while the reply was with Telegram must stay in
    the trace, or a later /delete would leave it on the phone."""
    intake = bot.runtime.intake
    person = Applicant(bot.server, ALICE)
    await begin(person)
    original = applicant_transport.deliver

    async def with_a_team_message(*args: Any, **kwargs: Any) -> None:
        await intake.note_sent(ALICE, 4242)
        await original(*args, **kwargs)

    monkeypatch.setattr(applicant_transport, "deliver", with_a_team_message)
    await answer_one(person, Q, Q.first, "en")
    monkeypatch.undo()

    trace = (await chat_state(bot, ALICE)).trace
    assert 4242 in trace.visible and 4242 in trace.team
    assert len(trace.visible) == 2  # the team's message and the next question, nothing more


# --- the chat's key: it lives in the chat, and comes back with a tap or a reply ---------------


async def test_after_a_restart_a_reply_brings_the_form_back_with_no_extra_tap(
    server: DevServer, tmp_path: Path, master_key: MasterKey
) -> None:
    """A typed question asks the phone for a reply: the answer comes back with the question,
    whose link holds the chat's key, so the process that lost it in a restart finds the form."""
    q = default_questionnaire()
    person = Applicant(server, ALICE)
    async with running_bot(server, tmp_path, master_key):
        await begin(person)
        await answer_all(person, "en", stop_before="family")
    [question] = [m for m in await person.visible() if m.from_bot]
    assert question.force_reply and question.entities[0]["type"] == "text_link"
    async with running_bot(server, tmp_path, master_key):
        await answer_one(person, q, "family", "en", "7")  # a reply: no word about a restart
        texts = await person.bot_texts()
        assert CATALOG.text("en", "resume") not in texts
        assert "Your answer so far" not in texts[-1]


async def test_after_a_restart_a_client_that_drops_force_reply_needs_one_tap(
    server: DevServer, tmp_path: Path, master_key: MasterKey
) -> None:
    q = default_questionnaire()
    person = Applicant(server, ALICE, drops_force_reply=True)
    async with running_bot(server, tmp_path, master_key):
        await begin(person)
        await answer_all(person, "en", stop_before="family")
    async with running_bot(server, tmp_path, master_key):
        await person.send("7")
        assert await person.last_text() == CATALOG.text("en", "resume")
        await person.tap_link()  # the blue first line of the question
        await answer_one(person, q, "family", "en", "7")
        await answer_one(person, q, "when", "en")
        shown = [m.text or "" for m in await person.visible()]
        # The word about the restart, the unread "7" and the old question are gone.
        assert len(shown) == 1 and "Question" in shown[0], shown


async def test_after_a_restart_delete_erases_everything_with_one_tap(
    server: DevServer, tmp_path: Path, master_key: MasterKey
) -> None:
    person = Applicant(server, ALICE, drops_force_reply=True)
    async with running_bot(server, tmp_path, master_key):
        await begin(person)
        await answer_all(person, "en", stop_before="rank")
    async with running_bot(server, tmp_path, master_key) as bot:
        await person.send("/delete")
        assert await person.last_text() == CATALOG.text("en", "resume_delete")
        resume = CATALOG.text("en", "resume_delete")
        [question] = [m for m in await person.visible() if m.buttons and m.text != resume]
        await person.tap(question.buttons[0]["text"])  # any button of the form's question
        assert await person.visible() == []
        async with bot.runtime.db.conn.execute("SELECT count(*) FROM chat_states") as cur:
            assert await cur.fetchone() == (0,)
