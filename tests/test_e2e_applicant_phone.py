"""End to end: what an applicant's phone shows, through the real Application.

An applicant identified at a checkpoint with this chat on their phone faces torture: every
message of the chat must be erasable (floods included), every screen must be in the language
they chose (after the form is sent too), and no message may lead nowhere or start a second form
by accident.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.crypto import MasterKey
from bot.devserver import DevServer, MessageRecord
from bot.i18n import ZAWGYI
from bot.text import to_zawgyi
from bot.transport.applicant import FLOOD_WINDOW_SECONDS, ApplicantHandlers
from tests.conftest import Applicant, RunningBot, chat_state, running_bot
from tests.intake_driver import CATALOG, answer_all, begin, default_questionnaire, status_answer
from tests.resting import rest

ALICE = 540_000_001
FLOOD_LIMIT = 30
FLOOD = 40
Q = default_questionnaire()
LANGUAGE_BUTTONS = {"en": "English", "my": "မြန်မာ", ZAWGYI: to_zawgyi("မြန်မာ")}


@pytest.fixture
async def bot(
    server: DevServer, tmp_path: Path, master_key: MasterKey
) -> AsyncIterator[RunningBot]:
    extra = f"[intake]\nflood_messages_per_minute = {FLOOD_LIMIT}\n"
    async with running_bot(server, tmp_path, master_key, extra=extra) as running:
        yield running


def _handlers(bot: RunningBot) -> ApplicantHandlers:
    for group in bot.runtime.app.handlers.values():
        for handler in group:
            owner = getattr(getattr(handler, "callback", None), "__self__", None)
            if isinstance(owner, ApplicantHandlers):
                return owner
    raise AssertionError("no applicant handlers")


def _a_minute_later(bot: RunningBot) -> None:
    """The flood window passes, without waiting a minute."""
    handlers = _handlers(bot)
    later = FLOOD_WINDOW_SECONDS + 1
    handlers.clock = lambda: time.monotonic() + later


async def _flood(
    bot: RunningBot, person: Applicant, count: int = FLOOD, *, already: int = 0
) -> None:
    """``count`` quick texts: as many as the limit allows are read first (each answer clears
    the chat), and only then come the ones past it, so what is left unread stays to be seen.
    ``already``: messages and taps the person sent before, within the minute."""
    for n in range(count):
        if n == FLOOD_LIMIT - already:
            await rest(bot.server)
        await bot.server.send_text(person.user_id, f"are you there {n}", first_name="T")
    await rest(bot.server)
    await _until_noted(bot, person.user_id)


async def _until_noted(bot: RunningBot, user_id: int) -> None:
    """Until every message the flood left on the phone is in the chat's trace."""
    intake = bot.runtime.intake
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10.0
    while True:
        shown = {m.message_id for m in await bot.server.messages(user_id)}
        # In the chat's trace, or, for a chat whose key the bot does not hold, in memory.
        noted = (
            set((await chat_state(bot, user_id)).trace.visible) if intake._known(user_id) else set()
        )
        waiting = intake.memory._waiting.get(user_id)
        noted |= set(waiting.message_ids) if waiting else set()
        if shown <= noted:
            return
        assert loop.time() < deadline, f"never noted: {sorted(shown - noted)}"
        await asyncio.sleep(0.05)


async def _delete_everything(person: Applicant, lang: str = "en") -> None:
    await person.send("/delete")
    await person.tap(CATALOG.text(lang, "delete_yes"))


async def _sent_form(bot: RunningBot, lang: str = "en", user: int = ALICE) -> Applicant:
    person = Applicant(bot.server, user)
    await begin(person, LANGUAGE_BUTTONS[lang], lang)
    await answer_all(person, lang, {"call_name": "Ko Aung"})
    await person.tap(CATALOG.text(lang, "submit"))
    return person


def _receipt(message: MessageRecord) -> str:
    text = message.text or ""
    assert "receipt code: " in text, text
    return text.split("receipt code: ")[1].split()[0]


# --- 1. every message of a flood can be erased -----------------------------------------------


async def test_messages_sent_while_throttled_are_erased_by_delete(bot: RunningBot) -> None:
    person = Applicant(bot.server, ALICE)
    await _flood(bot, person)
    shown = await person.visible()
    assert len([m for m in shown if not m.from_bot]) == FLOOD - FLOOD_LIMIT
    assert CATALOG.text("en", "slow_down") in await person.bot_texts()

    _a_minute_later(bot)
    await _delete_everything(person)
    assert await person.visible() == [], [m.text for m in await person.visible()]


async def test_a_flood_mid_form_is_cleared_with_the_next_question(bot: RunningBot) -> None:
    person = Applicant(bot.server, ALICE)
    await begin(person)
    await _flood(bot, person, FLOOD_LIMIT + 4, already=3)
    _a_minute_later(bot)
    first = Q.question(Q.first)
    await person.tap(CATALOG.localize("en", first.options[0].text))
    [question] = await person.visible()  # the flood, the warning, the old question: gone
    assert CATALOG.localize(
        "en", Q.question(Q.next_step(first.id, first.options[0].id) or "").text
    ) in (question.text or "")


async def test_a_flood_costs_a_trace_write_a_second_not_one_a_message(
    bot: RunningBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    intake = bot.runtime.intake
    writes: list[int] = []
    original = intake.note_dropped

    async def counted(chat_id: int, message_ids: list[int]) -> None:
        writes.append(len(message_ids))
        await original(chat_id, message_ids)

    monkeypatch.setattr(intake, "note_dropped", counted)
    person = Applicant(bot.server, ALICE)
    await _flood(bot, person, 4 * FLOOD)
    assert sum(writes) == 4 * FLOOD - FLOOD_LIMIT + 1  # every unread message, and the warning
    assert len(writes) <= 4


async def test_a_tap_that_fails_on_our_side_is_answered_and_loses_nothing(
    bot: RunningBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk mid-tap: the button stops spinning, the person is told calmly to try again,
    and the same tap then goes through."""
    intake = bot.runtime.intake
    original = intake.handle
    failed: list[int] = []

    async def failing_once(*args: object, **kwargs: object) -> None:
        if not failed:
            failed.append(1)
            raise sqlite3.OperationalError("database or disk is full")
        await original(*args, **kwargs)  # type: ignore[arg-type]

    person = Applicant(bot.server, ALICE)
    await begin(person)
    monkeypatch.setattr(intake, "handle", failing_once)
    first = Q.question(Q.first)
    label = CATALOG.localize("en", first.options[0].text)
    await person.tap(label)  # waits for the tap's answer: without it, this times out
    assert failed == [1]
    assert await person.last_text() == CATALOG.text("en", "sorry")
    await person.tap(label)
    following = Q.question(Q.next_step(first.id, first.options[0].id) or "")
    assert CATALOG.localize("en", following.text) in await person.last_text()


# --- 2. the chosen language, everywhere ------------------------------------------------------


@pytest.mark.parametrize("lang", ["my", ZAWGYI])
async def test_a_burmese_flooder_is_told_to_wait_in_burmese(bot: RunningBot, lang: str) -> None:
    person = Applicant(bot.server, ALICE)
    await begin(person, LANGUAGE_BUTTONS[lang], lang)
    await _flood(bot, person, already=3)
    texts = await person.bot_texts()
    assert CATALOG.text(lang, "slow_down") in texts
    assert CATALOG.text("en", "slow_down") not in texts


@pytest.mark.parametrize("lang", ["my", ZAWGYI])
async def test_after_sending_every_reply_and_pop_up_is_in_the_chosen_language(
    bot: RunningBot, lang: str
) -> None:
    person = await _sent_form(bot, lang)
    await person.tap(CATALOG.text(lang, "wipe_keep"))
    assert person.last_toast == CATALOG.text(lang, "kept")
    [receipt] = await person.visible()
    assert (receipt.text or "").endswith(CATALOG.text(lang, "wipe_kept"))
    assert CATALOG.text(lang, "wipe_offer") not in (receipt.text or "")

    await person.send("/language")
    assert await person.last_text() == CATALOG.text(lang, "welcome")
    await person.send("/help")
    assert CATALOG.text(lang, "help") in await person.bot_texts()
    await person.send("/status 12")
    assert CATALOG.text(lang, "status_usage") in await person.bot_texts()

    await person.send("/delete")
    assert await person.last_text() == CATALOG.text(lang, "delete_confirm")
    await person.tap(CATALOG.text(lang, "delete_yes"))
    assert person.last_toast == CATALOG.text(lang, "wiped")


@pytest.mark.parametrize("lang", ["my", ZAWGYI])
async def test_clearing_the_chat_after_sending_answers_in_the_chosen_language(
    bot: RunningBot, lang: str
) -> None:
    """Erasing the chat erases the server's trace of it too: a seizer must not read that this
    account sent a form. So a later message finds a stranger's welcome, not "already sent"."""
    person = await _sent_form(bot, lang)
    await person.tap(CATALOG.text(lang, "wipe_now"))
    assert person.last_toast == CATALOG.text(lang, "wiped")
    assert await person.visible() == []
    async with bot.runtime.db.conn.execute("SELECT count(*) FROM chat_states") as cur:
        assert await cur.fetchone() == (0,)
    await person.send("hello?")
    assert (await person.last_text()).startswith(CATALOG.text("en", "welcome"))


# --- 3. after sending, no message starts a second form ---------------------------------------


async def test_after_sending_a_message_is_told_the_form_was_sent(bot: RunningBot) -> None:
    person = await _sent_form(bot)
    for typed in ("hello?", "/start", "/back"):
        await person.send(typed)
        answer = await person.last_text()
        assert answer.startswith("Thank you, your answers were sent."), answer
        assert "/status" in answer
        assert CATALOG.text("en", "what_next") in answer
        assert CATALOG.text("en", "welcome") not in await person.bot_texts()
    assert (await chat_state(bot, ALICE)).draft is None

    await person.tap(CATALOG.text("en", "new_form"))  # a new form takes this tap
    assert (await person.last_text()).startswith("Before we begin")
    await person.tap(CATALOG.text("en", "consent_yes"))
    assert (await chat_state(bot, ALICE)).draft is not None


async def test_what_happens_next_is_in_the_organisations_words(bot: RunningBot) -> None:
    bot.runtime.intake.settings.next_steps = {"en": "We call within two weeks.", "my": "နှစ်ပတ်"}
    person = await _sent_form(bot)
    await person.send("hello?")
    answer = await person.last_text()
    assert "We call within two weeks." in answer
    assert CATALOG.text("en", "what_next") not in answer


# --- 4. the receipt ---------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["lower", "no dashes", "spaces"])
async def test_status_accepts_the_receipt_however_it_is_typed(bot: RunningBot, typed: str) -> None:
    person = await _sent_form(bot)
    receipt = _receipt((await person.visible())[0])
    shown = {
        "lower": receipt.lower(),
        "no dashes": receipt.replace("-", ""),
        "spaces": " ".join(receipt.lower().split("-")),
    }[typed]
    await person.send(f"/status {shown}")
    assert await person.last_text() == status_answer("en", "submitted")


@pytest.mark.parametrize(
    "arg", ["", "12", "K7QX-AAAA", "K7QX-AAAA-BBBB-CCCC-DDDD", "K0QX-OOOO-BBBB-CCCC"]
)
async def test_a_receipt_of_the_wrong_shape_is_shown_the_right_one(
    bot: RunningBot, arg: str
) -> None:
    person = Applicant(bot.server, ALICE)
    await person.send(f"/status {arg}".strip())
    answer = await person.last_text()
    assert answer == CATALOG.text("en", "status_usage")
    assert "XXXX-XXXX-XXXX-XXXX" in answer


async def test_a_kept_receipt_survives_the_next_start_until_delete(bot: RunningBot) -> None:
    person = await _sent_form(bot)
    [receipt] = await person.visible()  # the receipt, ending with the offer to wipe
    await person.tap(CATALOG.text("en", "wipe_keep"))
    edited = await bot.server.message(ALICE, receipt.message_id)
    assert edited is not None and not edited.deleted
    assert edited.buttons == []  # the offer loses its buttons
    assert edited.protect_content
    assert _receipt(edited) == _receipt(receipt)  # the receipt itself stays as it was
    assert edited.text == (receipt.text or "").removesuffix(
        CATALOG.text("en", "wipe_offer")
    ).rstrip() + "\n\n" + CATALOG.text("en", "wipe_kept")

    await person.send("/start")
    still = await bot.server.message(ALICE, receipt.message_id)
    assert still is not None and not still.deleted
    await person.send("hello?")
    await person.tap(CATALOG.text("en", "new_form"))
    still = await bot.server.message(ALICE, receipt.message_id)
    assert still is not None and not still.deleted

    await _delete_everything(person)
    assert await person.visible() == []


def test_the_config_takes_next_steps_per_written_language(tmp_path: Path) -> None:
    from bot.config import ConfigError, load_config
    from tests.conftest import write_config

    environ = {"BOT_TOKEN": "123:" + "a" * 35, "BOT_MASTER_KEY": MasterKey.generate().to_text()}
    path = write_config(
        tmp_path, "http://127.0.0.1:1/bot", '[intake.next_steps]\nen = "Within a week."\n'
    )
    assert load_config(path, environ).intake.next_steps == {"en": "Within a week."}
    path = write_config(
        tmp_path, "http://127.0.0.1:1/bot", '[intake.next_steps]\nmy-zawgyi = "x"\n'
    )
    with pytest.raises(ConfigError, match='under "my"'):
        load_config(path, environ)
