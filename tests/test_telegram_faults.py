"""Telegram misbehaves: 429 with retry_after, 502, connections cut mid-request, and requests
that hang past the client's read timeout, on each method.

Whatever fails, the bot must keep answering, an answer it saved must stay saved, and a message
queued in the outbox must reach the coordinators' group: exactly once where the failure leaves
no doubt; when a send timed out, Telegram may have performed it anyway, and the outbox cannot
tell (see ``test_a_group_notice_whose_send_hung_is_not_lost``).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from bot.crypto import MasterKey
from bot.devserver import DevServer
from bot.intake.draft import Draft
from bot.intake.questionnaire import QuestionKind
from bot.store import Database
from tests.conftest import (
    GROUP_CHAT_ID,
    Applicant,
    RunningBot,
    phone_state,
    running_bot,
    until,
)
from tests.intake_driver import (
    CATALOG,
    answer_all,
    answer_one,
    begin,
    default_questionnaire,
    default_route,
)
from tests.resting import rest

USER = 550_000_001
Q = default_questionnaire()


def _question(qid: str) -> str:
    return CATALOG.localize("en", Q.question(qid).text)


async def _draft(server: DevServer, db: Database) -> Draft:
    """The form under way, opened with the key the phone holds, as only that chat can."""
    state = await phone_state(server, db, USER)
    assert state.draft is not None, "the draft is gone"
    return state.draft


async def _to_family(person: Applicant) -> None:
    """Up to the form's typed number question."""
    await begin(person)
    for qid in ("who", "service", "rank", "years", "status", "region"):
        await answer_one(person, Q, qid, "en")
    assert _question("family") in await person.last_text()


FAULTS: list[tuple[str, dict[str, Any]]] = [
    ("sendMessage", {"error_code": 429, "retry_after": 1}),
    ("sendMessage", {"error_code": 502, "times": 2}),
    ("sendMessage", {"error_code": None, "drop_connection": True}),
    ("editMessageText", {"error_code": 502}),
    ("editMessageText", {"error_code": None, "drop_connection": True}),
    ("deleteMessages", {"error_code": 502}),
    ("getUpdates", {"error_code": 502, "times": 2}),
    ("getUpdates", {"error_code": 429, "retry_after": 1}),
    ("getUpdates", {"error_code": None, "drop_connection": True}),
]


@pytest.mark.parametrize(("method", "fault"), FAULTS, ids=lambda v: str(v))
async def test_a_fault_loses_no_answer_and_the_bot_keeps_answering(
    server: DevServer, tmp_path: Path, master_key: MasterKey, method: str, fault: dict[str, Any]
) -> None:
    async with running_bot(server, tmp_path, master_key) as bot:
        person = Applicant(server, USER)
        await _to_family(person)
        await server.inject_fault(method, **fault)
        if method == "editMessageText":
            await person.send("7")  # family, then a tap on "when" edits the prompt in place
            await server.inject_fault(method, **fault)
            when = Q.question("when")
            message = await person.message_with_button(CATALOG.localize("en", when.options[0].text))
            await server.press_button(USER, message.message_id, message.buttons[0]["callback_data"])
        else:
            await server.send_text(USER, "7", first_name="Test")
        await rest(server, timeout=30.0)
        await server.clear_faults()

        draft = await _draft(server, bot.runtime.db)
        assert draft.answers["family"].value == 7, "a saved answer was lost"
        if method == "editMessageText":
            assert draft.answers["when"].value == Q.question("when").options[0].id

        # The bot still answers, and shows the question the draft is really at.
        await person.send("/start")
        assert _question(draft.step or "") in await person.last_text()
        await answer_one(person, Q, draft.step or "", "en")
        later = await _draft(server, bot.runtime.db)
        assert draft.step in later.answers


async def test_a_group_notice_survives_502s_and_arrives_exactly_once(
    server: DevServer, tmp_path: Path, master_key: MasterKey
) -> None:
    # The bot keeps the server's time: each retry falls due when the test moves the clock.
    async with running_bot(server, tmp_path, master_key, clock=server.clock.now) as bot:
        await server.send_group_text(GROUP_CHAT_ID, 550_000_900, "hi", chat_type="supergroup")
        person = Applicant(server, USER)
        await begin(person)
        await answer_all(person, "en", {"call_name": "Ko Faults"})
        # The notice's first tries all get a 502 (the receipt is the review, edited).
        await server.inject_fault("sendMessage", error_code=502, times=3)
        message = await person.message_with_button(CATALOG.text("en", "submit"))
        data = next(b["callback_data"] for b in message.buttons if b["text"] == "Send")
        await server.press_button(USER, message.message_id, data)

        async def notices() -> list[str] | None:
            texts = [
                m.text or "" for m in await server.messages(GROUP_CHAT_ID, include_deleted=True)
            ]
            found = [t for t in texts if t.startswith("New case")]
            return found or None

        for refused in range(1, 4):
            await until(lambda n=refused: server.faults.pending() == 3 - n, FAULT_NEVER_CAME, 15.0)
            await rest(server)
            assert await notices() is None  # a refused send left no notice
            server.clock.advance(RETRY_PASSED)  # the retry's backoff passes
            bot.runtime.outbox.wake.set()  # and the outbox looks again, as its pace would
        first = await server.wait_for(notices, timeout=30.0)
        assert len(first) == 1

        # The outbox keeps nothing back and sends nothing again.
        async def outbox_empty() -> bool | None:
            async with bot.runtime.db.conn.execute("SELECT count(*) FROM outbox") as cur:
                return await cur.fetchone() == (0,) or None

        await server.wait_for(outbox_empty, timeout=10.0)
        await bot.runtime.outbox.flush(_never_called)
        await rest(server)
        assert await notices() == first
        await person.send("/help")
        assert await person.last_text()


async def _never_called(chat_id: int, message: object) -> int:
    raise AssertionError("the outbox sent a message twice")


# --- requests that hang past the client's read timeout ----------------------------------------
#
# The devserver sleeps, then performs the request anyway, as Telegram does with a request it
# received: python-telegram-bot has given up (TimedOut) by then, so a hung send may well have
# been delivered. The bot sets no timeouts of its own: python-telegram-bot's 5 s read timeout
# (kept by ``bot.transport.http.AiohttpRequest``), plus the long-poll timeout for getUpdates.

ROUTE = default_route(Q)
TYPED = next(s for s in ROUTE if Q.question(s).kind is QuestionKind.NUMBER)
TAPPED = next(s for s in ROUTE if Q.question(s).kind is QuestionKind.CHOICE)
HANG_MARGIN = 1.0
FAULT_NEVER_CAME = "the faulty request never came"
# More than the outbox waits after any of a notice's first three refusals (2, 4, 8 seconds, +1).
RETRY_PASSED = 10


def _read_timeout(bot: RunningBot) -> float:
    timeout = bot.runtime.app.bot.request.read_timeout
    assert timeout is not None, "no read timeout: a hung request would hang the bot"
    return timeout


def _hang(bot: RunningBot, method: str) -> float:
    """Long enough for the client to give up first."""
    hang = _read_timeout(bot) + HANG_MARGIN
    if method == "getUpdates":
        hang += bot.config.telegram.poll_timeout_seconds
    return hang


def _typed_value() -> str:
    question = Q.question(TYPED)
    return str((question.min or 0) + 1)


def _expected(step: str) -> object:
    return int(_typed_value()) if step == TYPED else Q.question(step).options[0].id


async def _shown(server: DevServer, step: str) -> int:
    """How many messages ever showed this question (an edit in place counts once)."""
    text = CATALOG.localize("en", Q.question(step).text)
    return sum(
        1
        for m in await server.messages(USER, include_deleted=True)
        if m.from_bot and text in (m.text or "")
    )


async def _prompt(person: Applicant, step: str) -> int:
    text = _question(step)
    shown = [m.message_id for m in await person.visible() if text in (m.text or "")]
    assert len(shown) == 1, f"expected one prompt for {step!r}"
    return shown[0]


async def _walk_to(person: Applicant, step: str) -> None:
    await begin(person)
    for qid in ROUTE[: ROUTE.index(step)]:
        await answer_one(person, Q, qid, "en")
    assert _question(step) in await person.last_text()


HANGS = [
    ("sendMessage", TYPED),  # the next question goes out late
    ("editMessageText", TAPPED),  # a tap on the prompt edits it in place, late
    ("deleteMessages", TYPED),  # the old prompt and the answer are cleared late
    ("getUpdates", TYPED),  # the poll that would carry the answer hangs
]


@pytest.mark.parametrize(("method", "step"), HANGS, ids=[m for m, _ in HANGS])
async def test_a_request_hanging_past_the_read_timeout_loses_nothing(
    server: DevServer, tmp_path: Path, master_key: MasterKey, method: str, step: str
) -> None:
    async with running_bot(server, tmp_path, master_key) as bot:
        person = Applicant(server, USER)
        await _walk_to(person, step)
        old_prompt = await _prompt(person, step)
        hang = _hang(bot, method)
        await server.inject_fault(method, error_code=None, delay=hang)
        if method == "getUpdates":  # let the hanging poll begin before there is news
            await until(lambda: server.faults.pending() == 0, FAULT_NEVER_CAME, 15.0)
        typed: int | None = None
        if step == TYPED:
            typed = (await server.send_text(USER, _typed_value(), first_name="Test"))["message_id"]
        else:
            first = CATALOG.localize("en", Q.question(step).options[0].text)
            data = (await person.message_with_button(first)).buttons[0]["callback_data"]
            assert data is not None
            await server.press_button(USER, old_prompt, data)
        # The bot did make this call.
        await until(lambda: server.faults.pending() == 0, FAULT_NEVER_CAME, 15.0)
        await asyncio.sleep(hang)  # the server sleeps as long, then performs the request
        await rest(server, timeout=30.0)

        draft = await _draft(server, bot.runtime.db)
        assert draft.answers[step].value == _expected(step), "a saved answer was lost"
        # Performed once, late; the bot did not send the next question a second time.
        following = ROUTE[ROUTE.index(step) + 1]
        assert draft.step == following
        assert await _shown(server, following) == 1
        if method == "deleteMessages":  # the late deletion went through: nothing left behind
            for gone in (old_prompt, typed):
                assert gone is not None
                record = await server.message(USER, gone)
                assert record is not None and record.deleted

        # The bot still answers, and shows the question the draft is really at.
        await person.send("/start")
        assert _question(following) in await person.last_text()
        await answer_one(person, Q, following, "en")
        later = await _draft(server, bot.runtime.db)
        assert following in later.answers


async def test_a_group_notice_whose_send_hung_is_not_lost(
    server: DevServer, tmp_path: Path, master_key: MasterKey
) -> None:
    """A send that hangs past a reply's timeout is still delivered by Telegram. The outbox
    waits longer for its sends (the Bot API has no idempotency key, so a send that timed out
    must be sent again and may arrive twice), so a hang of this length yields one notice."""
    async with running_bot(server, tmp_path, master_key) as bot:
        await server.send_group_text(GROUP_CHAT_ID, 550_000_900, "hi", chat_type="supergroup")
        person = Applicant(server, USER)
        await begin(person)
        await answer_all(person, "en", {"call_name": "Ko Hangs"})
        # The receipt (the review, edited) and the notice go out at the same moment; both hang.
        hang = _hang(bot, "sendMessage")
        await server.inject_fault("editMessageText", error_code=None, delay=hang)
        await server.inject_fault("sendMessage", error_code=None, delay=hang)
        submit = CATALOG.text("en", "submit")
        message = await person.message_with_button(submit)
        data = next(b["callback_data"] for b in message.buttons if b["text"] == submit)
        assert data is not None
        await server.press_button(USER, message.message_id, data)
        await until(lambda: server.faults.pending() == 0, FAULT_NEVER_CAME, 15.0)

        async def outbox_empty() -> bool | None:
            async with bot.runtime.db.conn.execute("SELECT count(*) FROM outbox") as cur:
                return await cur.fetchone() == (0,) or None

        # Nothing is lost: the outbox keeps the notice until a send is accepted.
        await server.wait_for(outbox_empty, timeout=30.0)
        await rest(server, timeout=30.0)
        notices = [
            m
            for m in await server.messages(GROUP_CHAT_ID, include_deleted=True)
            if (m.text or "").startswith("New case")
        ]
        # The outbox waits longer for Telegram's answer than the hang lasts: one notice.
        assert len(notices) == 1
        # The applicant's case was submitted, and the bot still answers them.
        async with bot.runtime.db.conn.execute(
            "SELECT count(*) FROM cases WHERE status = 'submitted'"
        ) as cur:
            assert await cur.fetchone() == (1,)
        await person.send("/help")
        assert await person.last_text()


async def test_delete_still_wipes_the_whole_chat_after_a_failed_reply(
    server: DevServer, tmp_path: Path, master_key: MasterKey
) -> None:
    """When a reply fails, the applicant's own message and the bot's apology still join the
    chat's trace, so a wipe removes them. (A reply whose send timed out but was performed stays
    out of reach: its id never came back.)"""
    async with running_bot(server, tmp_path, master_key):
        person = Applicant(server, USER)
        await _walk_to(person, TYPED)
        await server.inject_fault("sendMessage", error_code=502)
        await server.send_text(USER, _typed_value(), first_name="Test")
        await rest(server)
        await person.send("/delete")
        await person.tap(CATALOG.text("en", "delete_yes"))
        assert await person.visible() == []
