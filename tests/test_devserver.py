"""The development Bot API server, exercised through the real python-telegram-bot client."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    CallbackQuery,
    ChatMemberUpdated,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatMemberStatus, MessageOriginType
from telegram.error import (
    BadRequest,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
)

from bot.devserver import DevClient, DevServer, DevServerError, MessageRecord

USER = 4242
OTHER = 5151
GROUP = -100777
PROJECT_ROOT = Path(__file__).resolve().parents[1]


def keyboard(*data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(d.upper(), callback_data=d) for d in data]])


@pytest.fixture
async def server() -> AsyncIterator[DevServer]:
    async with DevServer(bot_name="Intake Helper") as running:
        yield running


@pytest.fixture
async def bot(server: DevServer) -> AsyncIterator[Bot]:
    async with Bot(
        server.token, base_url=server.base_url, base_file_url=server.base_file_url
    ) as client:
        yield client


async def updates_after(bot: Bot, offset: int = 0) -> tuple[Update, ...]:
    return await bot.get_updates(offset=offset, timeout=0)


# --- the Bot API as python-telegram-bot sees it ---------------------------------------------


async def test_get_me_describes_the_bot(server: DevServer, bot: Bot) -> None:
    me = await bot.get_me()
    assert me.id == server.bot_id
    assert me.is_bot
    assert me.username == "intake_bot"
    assert me.first_name == "Intake Helper"
    assert me.can_read_all_group_messages is False


async def test_send_with_keyboard_then_edit_then_delete(server: DevServer, bot: Bot) -> None:
    await server.send_text(USER, "hello")
    sent = await bot.send_message(USER, "Pick one", reply_markup=keyboard("yes", "no"))
    assert sent.chat.id == USER
    assert sent.reply_markup == keyboard("yes", "no")

    record = await server.message(USER, sent.message_id)
    assert record is not None
    assert record.from_bot and record.text == "Pick one"
    assert record.callback_data == ["yes", "no"]
    assert record.reply_markup[0][0] == {"text": "YES", "callback_data": "yes", "url": None}

    edited = await bot.edit_message_text("Picked", chat_id=USER, message_id=sent.message_id)
    assert edited is not True and edited.text == "Picked"
    record = await server.message(USER, sent.message_id)
    assert record is not None
    assert record.text == "Picked" and record.edited and record.reply_markup == []

    assert await bot.delete_message(USER, sent.message_id)
    assert [m.message_id for m in await server.messages(USER)] == [1]
    deleted = await server.messages(USER, include_deleted=True)
    assert deleted[-1].deleted
    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await bot.delete_message(USER, sent.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("again", chat_id=USER, message_id=sent.message_id)


async def test_message_ids_are_per_chat_and_increasing(server: DevServer, bot: Bot) -> None:
    await server.send_text(USER, "one")
    await server.send_text(OTHER, "one")
    reply = await bot.send_message(USER, "two")
    assert reply.message_id == 2
    assert (await bot.send_message(OTHER, "two")).message_id == 2


async def test_unknown_chat_and_users_who_never_wrote(server: DevServer, bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(999, "hi")
    await server.send_group_text(GROUP, OTHER, "/hello", chat_type="supergroup")
    with pytest.raises(Forbidden, match="can't initiate conversation"):
        await bot.send_message(OTHER, "hi")


async def test_identical_edit_is_not_modified(server: DevServer, bot: Bot) -> None:
    await server.send_text(USER, "hi")
    sent = await bot.send_message(USER, "Same", reply_markup=keyboard("a"))
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text(
            "Same", chat_id=USER, message_id=sent.message_id, reply_markup=keyboard("a")
        )
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_reply_markup(USER, sent.message_id, reply_markup=keyboard("a"))
    await bot.edit_message_reply_markup(USER, sent.message_id, reply_markup=keyboard("b"))
    record = await server.message(USER, sent.message_id)
    assert record is not None and record.callback_data == ["b"] and not record.edited


async def test_bot_cannot_edit_a_users_message(server: DevServer, bot: Bot) -> None:
    message = await server.send_text(USER, "mine")
    with pytest.raises(BadRequest, match=r"(?i)can't be edited"):
        await bot.edit_message_text("theirs", chat_id=USER, message_id=message["message_id"])


async def test_delete_window_is_48_hours(server: DevServer, bot: Bot) -> None:
    await server.send_text(USER, "hi")
    old = await bot.send_message(USER, "old")
    await server.advance(47 * 3600)
    recent = await bot.send_message(USER, "recent")
    assert await bot.delete_message(USER, recent.message_id)
    await server.advance(3600)
    with pytest.raises(BadRequest, match=r"(?i)can't be deleted for everyone"):
        await bot.delete_message(USER, old.message_id)
    with pytest.raises(BadRequest, match=r"(?i)can't be deleted for everyone"):
        await bot.delete_message(USER, 1)  # the user's own message, just as old
    record = await server.message(USER, old.message_id)
    assert record is not None and not record.deleted


async def test_delete_messages_skips_what_it_cannot_delete(server: DevServer, bot: Bot) -> None:
    await server.send_text(USER, "hi")
    old = await bot.send_message(USER, "old")
    await server.advance(49 * 3600)
    fresh = await bot.send_message(USER, "fresh")
    assert await bot.delete_messages(USER, [old.message_id, fresh.message_id, 999])
    remaining = [m.message_id for m in await server.messages(USER)]
    assert remaining == [1, old.message_id]


async def test_clock_dates_messages(server: DevServer, bot: Bot) -> None:
    before = await server.now()
    await server.advance(3600)
    await server.send_text(USER, "later")
    (update,) = await updates_after(bot)
    assert update.message is not None
    assert int(update.message.date.timestamp()) >= before + 3600
    with pytest.raises(ValueError, match="forward"):
        await server.advance(-1)


async def test_frozen_clock_moves_only_when_advanced() -> None:
    async with DevServer(clock_start=1_700_000_000) as frozen:
        assert await frozen.now() == 1_700_000_000
        await frozen.advance(90)
        message = await frozen.send_text(USER, "hi")
        assert message["date"] == 1_700_000_090


async def test_limits_on_text_markup_and_formatting(server: DevServer, bot: Bot) -> None:
    await server.send_text(USER, "hi")
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(USER, "x" * 4097)
    assert (await bot.send_message(USER, "x" * 4096)).text == "x" * 4096
    with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
        await bot.send_message(USER, "too much", reply_markup=keyboard("d" * 65))
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(USER, "   ")
    with pytest.raises(BadRequest, match=r"(?i)reserved and must be escaped"):
        await bot.send_message(USER, "Done.", parse_mode="MarkdownV2")
    with pytest.raises(BadRequest, match=r"(?i)unsupported start tag"):
        await bot.send_message(USER, "<div>x</div>", parse_mode="HTML")
    html = await bot.send_message(USER, "<b>Case</b> &amp; co", parse_mode="HTML")
    assert html.text == "Case & co"
    assert [(e.type, e.offset, e.length) for e in html.entities] == [("bold", 0, 4)]
    md = await bot.send_message(USER, r"*Done*\.", parse_mode="MarkdownV2")
    assert md.text == "Done." and md.entities[0].type == "bold"


async def test_reply_parameters_and_missing_target(server: DevServer, bot: Bot) -> None:
    asked = await server.send_text(USER, "question")
    reply = await bot.send_message(
        USER, "answer", reply_parameters=ReplyParameters(asked["message_id"])
    )
    assert reply.reply_to_message is not None
    assert reply.reply_to_message.text == "question"
    with pytest.raises(BadRequest, match=r"(?i)message to be replied not found"):
        await bot.send_message(USER, "answer", reply_to_message_id=77)
    lenient = await bot.send_message(
        USER, "answer", reply_parameters=ReplyParameters(77, allow_sending_without_reply=True)
    )
    assert lenient.reply_to_message is None


async def test_reply_keyboard_is_remembered_until_removed(server: DevServer, bot: Bot) -> None:
    from telegram import ReplyKeyboardMarkup, ReplyKeyboardRemove

    await server.send_text(USER, "hi")
    await bot.send_message(USER, "choose", reply_markup=ReplyKeyboardMarkup([["A", "B"], ["C"]]))
    assert await server.reply_keyboard(USER) == [["A", "B"], ["C"]]
    await bot.send_message(USER, "thanks", reply_markup=ReplyKeyboardRemove())
    assert await server.reply_keyboard(USER) is None


# --- errors the way PTB raises them ----------------------------------------------------------


async def test_unknown_method_is_404(server: DevServer, bot: Bot) -> None:
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("noSuchMethod")
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{server.base_url}{server.token}/noSuchMethod") as response,
    ):
        assert response.status == 404
        assert await response.json() == {"ok": False, "error_code": 404, "description": "Not Found"}


async def test_wrong_token_is_unauthorized(server: DevServer) -> None:
    stranger = Bot("123456789:AAthisIsNotTheTokenTheServerKnows00", base_url=server.base_url)
    with pytest.raises(InvalidToken):
        async with stranger:  # initialize() calls getMe
            pass
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{server.base_url}123456789:AAthisIsNotTheTokenTheServer0/getMe") as response,
    ):
        assert response.status == 401
        assert (await response.json())["description"] == "Unauthorized"


RETRY_AFTER_IS_INT = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


@RETRY_AFTER_IS_INT
async def test_injected_429_becomes_retry_after(server: DevServer, bot: Bot) -> None:
    await server.send_text(USER, "hi")
    await server.inject_fault("sendMessage", retry_after=7)
    with pytest.raises(RetryAfter, match="Retry in 7"):
        await bot.send_message(USER, "first")
    assert (await bot.send_message(USER, "second")).text == "second"
    calls = await server.api_calls("sendmessage")
    assert [c.ok for c in calls] == [False, True]
    assert calls[0].error == "Too Many Requests: retry after 7"


async def test_injected_faults_other_kinds(server: DevServer, bot: Bot) -> None:
    await server.send_text(USER, "hi")
    await server.inject_fault("*", error_code=502, times=2)
    for _ in range(2):
        with pytest.raises(NetworkError, match="Bad Gateway"):
            await bot.get_me()
    await server.inject_fault("SENDMESSAGE", drop_connection=True)
    with pytest.raises(NetworkError):
        await bot.send_message(USER, "lost")
    await server.inject_fault("sendMessage", error_code=None, delay=0.05)
    assert (await bot.send_message(USER, "late")).text == "late"
    await server.inject_fault("sendMessage", error_code=403)
    await server.clear_faults()
    assert (await bot.send_message(USER, "clean")).text == "clean"
    assert [m.text for m in await server.bot_messages(USER)] == ["late", "clean"]


# --- updates ---------------------------------------------------------------------------------


async def test_commands_arrive_with_bot_command_entities(server: DevServer, bot: Bot) -> None:
    await server.send_text(USER, "/start@intake_bot now", first_name="Aye", language_code="my")
    (update,) = await updates_after(bot)
    message = update.message
    assert message is not None and message.from_user is not None
    assert message.from_user.first_name == "Aye"
    assert message.from_user.language_code == "my"
    assert message.chat.id == USER and message.chat.type == "private"
    assert message.parse_entities(["bot_command"]) != {}
    assert list(message.parse_entities(["bot_command"]).values()) == ["/start@intake_bot"]


async def test_offset_confirms_updates(server: DevServer, bot: Bot) -> None:
    for text in ("a", "b", "c"):
        await server.send_text(USER, text)
    first = await bot.get_updates(limit=2, timeout=0)
    assert [u.message.text for u in first if u.message] == ["a", "b"]
    rest = await updates_after(bot, first[-1].update_id + 1)
    assert [u.message.text for u in rest if u.message] == ["c"]
    assert await server.pending_updates() == 1
    assert await updates_after(bot, rest[-1].update_id + 1) == ()


async def test_long_poll_returns_when_an_update_arrives(server: DevServer, bot: Bot) -> None:
    seen = await server.version()
    poll = asyncio.create_task(bot.get_updates(timeout=30, read_timeout=35))
    await server.wait_change(seen, 5)  # the server has the poll in hand
    assert not poll.done()
    await server.send_text(USER, "wake up")
    updates = await asyncio.wait_for(poll, timeout=5)
    assert [u.message.text for u in updates if u.message] == ["wake up"]


async def test_second_poller_ends_the_first_with_conflict(server: DevServer, bot: Bot) -> None:
    seen = await server.version()
    first = asyncio.create_task(bot.get_updates(timeout=30, read_timeout=35))
    await server.wait_change(seen, 5)
    async with Bot(server.token, base_url=server.base_url) as second_instance:
        assert await second_instance.get_updates(timeout=0) == ()
    with pytest.raises(Conflict, match="terminated by other getUpdates"):
        await asyncio.wait_for(first, timeout=5)


async def test_allowed_updates_filters_new_updates(server: DevServer, bot: Bot) -> None:
    await bot.get_updates(timeout=0, allowed_updates=["callback_query"])
    await server.send_text(USER, "ignored")
    assert await updates_after(bot) == ()
    await bot.get_updates(timeout=0, allowed_updates=[])
    await server.send_text(USER, "seen")
    assert [u.message.text for u in await updates_after(bot) if u.message] == ["seen"]


async def test_media_forwards_and_edits_parse_in_ptb(server: DevServer, bot: Bot) -> None:
    kinds = [
        "photo",
        "document",
        "sticker",
        "voice",
        "video",
        "video_note",
        "audio",
        "location",
        "contact",
        "animation",
        "poll",
    ]
    for kind in kinds:
        await server.send_media(USER, kind)
    await server.forward_text(USER, "copied text", "Someone")
    original = await server.send_text(USER, "typo")
    await server.edit_text(USER, original["message_id"], "fixed")
    updates = await updates_after(bot)
    messages = [u.message for u in updates if u.message]
    for kind, message in zip(kinds, messages, strict=False):
        assert getattr(message, kind), kind
    forwarded = messages[len(kinds)]
    assert forwarded.forward_origin is not None
    assert forwarded.forward_origin.type == MessageOriginType.HIDDEN_USER
    edited = updates[-1].edited_message
    assert edited is not None and edited.text == "fixed" and edited.edit_date is not None
    with pytest.raises(DevServerError):
        await server.send_media(USER, "hologram")


async def test_file_ids_resolve_and_download(server: DevServer, bot: Bot) -> None:
    await server.send_media(USER, "document")
    (update,) = await updates_after(bot)
    assert update.message is not None and update.message.document is not None
    file = await bot.get_file(update.message.document.file_id)
    data = await file.download_as_bytearray()
    assert len(data) == update.message.document.file_size


# --- buttons ---------------------------------------------------------------------------------


async def test_button_press_becomes_callback_query(server: DevServer, bot: Bot) -> None:
    await server.send_text(USER, "hi")
    sent = await bot.send_message(USER, "Ready?", reply_markup=keyboard("go"))
    with pytest.raises(DevServerError, match="no button"):
        await server.press_button(USER, sent.message_id, "stop")
    with pytest.raises(DevServerError, match="no such message"):
        await server.press_button(OTHER, sent.message_id, "go")
    query_id = await server.press_button(USER, sent.message_id, "go")
    updates = await updates_after(bot)
    query = updates[-1].callback_query
    assert isinstance(query, CallbackQuery)
    assert query.id == query_id and query.data == "go"
    assert query.from_user.id == USER
    assert query.message is not None and query.message.message_id == sent.message_id

    assert await query.answer("Saved", show_alert=True)
    (answer,) = await server.callback_answers(query_id)
    assert answer.text == "Saved" and answer.show_alert
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await query.answer("twice")


async def test_late_answers_are_refused(server: DevServer, bot: Bot) -> None:
    await server.send_text(USER, "hi")
    sent = await bot.send_message(USER, "Ready?", reply_markup=keyboard("go"))
    query_id = await server.press_button(USER, sent.message_id, "go")
    await server.advance(60)
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query(query_id)
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query("made-up")


async def test_forged_callback_data_reaches_the_bot(server: DevServer, bot: Bot) -> None:
    await server.send_text(USER, "hi")
    sent = await bot.send_message(USER, "Ready?", reply_markup=keyboard("go"))
    await server.forge_callback(USER, sent.message_id, "admin:purge")
    await server.forge_callback(USER, 9999, "x" * 200)
    updates = await updates_after(bot)
    forged = [u.callback_query for u in updates if u.callback_query]
    assert forged[0].data == "admin:purge"
    assert forged[1].data == "x" * 200
    assert forged[1].message is not None and forged[1].message.date.timestamp() == 0


# --- a real Application ----------------------------------------------------------------------


async def test_application_polls_and_handles_start_and_buttons(server: DevServer) -> None:
    pressed: list[str] = []

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_chat is not None
        await context.bot.send_message(
            update.effective_chat.id, "Welcome", reply_markup=keyboard("begin")
        )

    async def button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None and query.data is not None
        pressed.append(query.data)
        await query.answer("Started")
        await query.edit_message_text("Question 1")

    app: Application[Any, Any, Any, Any, Any, Any] = (
        ApplicationBuilder().token(server.token).base_url(server.base_url).build()
    )
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(button))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0)
        try:
            await server.send_text(USER, "/start")
            welcome = await server.wait_for_bot_message(USER)
            assert welcome.text == "Welcome" and welcome.callback_data == ["begin"]

            query_id = await server.press_button(USER, welcome.message_id, "begin")
            answer = await server.wait_for_callback_answer(query_id)
            assert answer.text == "Started"

            async def edited() -> MessageRecord | None:
                record = await server.message(USER, welcome.message_id)
                return record if record and record.text == "Question 1" else None

            assert (await server.wait_for(edited)).edited
            assert pressed == ["begin"]
        finally:
            await app.updater.stop()
            await app.stop()
    called = {c.method for c in await server.api_calls()}
    assert {"getMe", "deleteWebhook", "getUpdates", "sendMessage"} <= called


async def test_wait_for_times_out(server: DevServer) -> None:
    with pytest.raises(TimeoutError):
        await server.wait_for_bot_message(USER, timeout=0.05)


# --- profile, commands, chats ----------------------------------------------------------------


async def test_commands_are_stored_per_scope_and_language(server: DevServer, bot: Bot) -> None:
    await server.send_text(USER, "hi", language_code="my")
    await server.send_text(OTHER, "hi")
    await bot.set_my_commands(
        [BotCommand("start", "Begin")], scope=BotCommandScopeAllPrivateChats()
    )
    await bot.set_my_commands(
        [BotCommand("start", "စတင်")], scope=BotCommandScopeAllPrivateChats(), language_code="my"
    )
    await bot.set_my_commands(
        [BotCommand("queue", "Cases waiting")], scope=BotCommandScopeChat(OTHER)
    )
    private = await server.commands("all_private_chats")
    assert [(c.command, c.description) for c in private] == [("start", "Begin")]
    burmese = await server.commands({"type": "all_private_chats"}, language_code="my")
    assert burmese[0].description == "စတင်"
    assert [c.command for c in await server.commands({"type": "chat", "chat_id": OTHER})] == [
        "queue"
    ]
    assert [c.description for c in await server.menu(USER)] == ["စတင်"]
    assert [c.command for c in await server.menu(OTHER)] == ["queue"]
    fetched = await bot.get_my_commands(scope=BotCommandScopeAllPrivateChats())
    assert [c.command for c in fetched] == ["start"]
    assert await bot.delete_my_commands(scope=BotCommandScopeChat(OTHER))
    assert [c.command for c in await server.menu(OTHER)] == ["start"]
    with pytest.raises(BadRequest, match=r"(?i)bot_command_invalid"):
        await bot.set_my_commands([BotCommand("Start", "Begin")])


async def test_profile_texts(server: DevServer, bot: Bot) -> None:
    await bot.set_my_name("Helper")
    await bot.set_my_description("Answers questions", language_code="en")
    await bot.set_my_description("Default text")
    await bot.set_my_short_description("Short", language_code="my")
    profile = await server.bot_profile()
    assert profile.name[""] == "Helper"
    assert profile.description == {"en": "Answers questions", "": "Default text"}
    assert profile.short_description == {"my": "Short"}
    assert (await bot.get_my_description(language_code="fr")).description == "Default text"
    assert (await bot.get_my_name()).name == "Helper"
    assert (await bot.get_me()).first_name == "Helper"


async def test_groups_privacy_membership_and_leaving(server: DevServer, bot: Bot) -> None:
    joined = await server.add_bot_to_group(GROUP, OTHER, chat_type="supergroup", title="Team")
    assert joined["new_chat_member"]["status"] == "member"
    await server.send_group_text(GROUP, USER, "just chatting", chat_type="supergroup")
    await server.send_group_text(GROUP, USER, "/status", chat_type="supergroup")
    updates = await updates_after(bot)
    membership = updates[0].my_chat_member
    assert isinstance(membership, ChatMemberUpdated)
    assert membership.new_chat_member.status == ChatMemberStatus.MEMBER
    assert membership.chat.title == "Team"
    texts = [u.message.text for u in updates if u.message and u.message.text]
    assert texts == ["/status"]  # privacy mode: plain chatter does not reach the bot

    member = await bot.get_chat_member(GROUP, OTHER)
    assert member.status == ChatMemberStatus.OWNER
    await server.set_chat_member(GROUP, USER, "administrator")
    assert (await bot.get_chat_member(GROUP, USER)).status == ChatMemberStatus.ADMINISTRATOR
    chat = await bot.get_chat(GROUP)
    assert chat.type == "supergroup" and chat.title == "Team"

    assert await bot.leave_chat(GROUP)
    assert await server.left_chats() == [GROUP]
    last = await updates_after(bot, updates[-1].update_id + 1)
    assert last[-1].my_chat_member is not None
    assert last[-1].my_chat_member.new_chat_member.status == ChatMemberStatus.LEFT
    with pytest.raises(Forbidden, match="not a member"):
        await bot.send_message(GROUP, "still here?")


async def test_blocked_bot_is_forbidden(server: DevServer, bot: Bot) -> None:
    await server.send_text(USER, "hi")
    await server.block_bot(USER)
    with pytest.raises(Forbidden, match="blocked by the user"):
        await bot.send_message(USER, "hello?")
    await server.send_text(USER, "/start")  # writing again unblocks, as in the app
    assert (await bot.send_message(USER, "welcome back")).text == "welcome back"


async def test_chat_action_and_menu_button(server: DevServer, bot: Bot) -> None:
    await server.send_text(USER, "hi")
    assert await bot.send_chat_action(USER, "typing")
    with pytest.raises(BadRequest, match=r"(?i)wrong parameter action"):
        await bot.send_chat_action(USER, "dancing")
    assert (await bot.get_chat_menu_button()).type == "commands"


# --- webhooks --------------------------------------------------------------------------------


async def test_webhook_settings_block_polling(server: DevServer, bot: Bot) -> None:
    await server.send_text(USER, "pending")
    assert await bot.set_webhook("https://example.invalid/hook", secret_token="s3cret")
    info = await bot.get_webhook_info()
    assert info.url == "https://example.invalid/hook" and info.pending_update_count == 1
    with pytest.raises(Conflict, match="webhook is active"):
        await bot.get_updates(timeout=0)
    assert await bot.delete_webhook(drop_pending_updates=True)
    info = await bot.get_webhook_info()
    assert info.url == "" and info.pending_update_count == 0


async def test_webhook_delivers_updates_with_secret(server: DevServer, bot: Bot) -> None:
    received: list[tuple[str | None, dict[str, Any]]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(
            (request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json())
        )
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        await bot.set_webhook(f"http://127.0.0.1:{port}/hook", secret_token="s3cret")
        await server.send_text(USER, "via hook")
        await server.wait_for(lambda: received)
        secret, update = received[0]
        assert secret == "s3cret"
        assert update["message"]["text"] == "via hook"
        assert await server.wait_for(_no_pending(server))
    finally:
        await bot.delete_webhook()
        await runner.cleanup()


def _no_pending(server: DevServer) -> Any:
    async def check() -> bool:
        return await server.pending_updates() == 0

    return check


# --- request encodings -----------------------------------------------------------------------


async def test_json_form_and_query_requests(server: DevServer) -> None:
    await server.send_text(USER, "hi")
    url = f"{server.base_url}{server.token}"
    markup = {"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{url}/sendMessage",
            json={"chat_id": USER, "text": "json", "reply_markup": markup},
        ) as response:
            body = await response.json()
            assert body["ok"] and body["result"]["reply_markup"] == markup
        async with session.post(
            f"{url}/SENDMESSAGE",
            data={"chat_id": str(USER), "text": "123", "reply_markup": json.dumps(markup)},
        ) as response:
            assert (await response.json())["result"]["text"] == "123"
        form = aiohttp.FormData()
        form.add_field("chat_id", str(USER))
        form.add_field("text", "multipart")
        form.add_field("upload", b"bytes", filename="x.bin")
        async with session.post(f"{url}/sendMessage", data=form) as response:
            assert (await response.json())["result"]["text"] == "multipart"
        async with session.get(
            f"{url}/sendMessage", params={"chat_id": str(USER), "text": "query"}
        ) as response:
            assert (await response.json())["result"]["text"] == "query"
        async with session.post(f"{url}/sendMessage", json={"chat_id": USER}) as response:
            assert response.status == 400
            assert (await response.json())["description"] == "Bad Request: message text is empty"
    texts = [m.text for m in await server.bot_messages(USER)]
    assert texts == ["json", "123", "multipart", "query"]


# --- the HTTP control client -----------------------------------------------------------------


@RETRY_AFTER_IS_INT
async def test_control_client_plays_a_user(server: DevServer, bot: Bot) -> None:
    async with DevClient(server.http_url) as client:
        sent = await client.send_text(USER, "/start", first_name="Thida")
        assert sent["entities"][0]["type"] == "bot_command"
        (update,) = await updates_after(bot)
        assert update.message is not None and update.message.text == "/start"

        waiting = asyncio.create_task(client.wait_for_bot_message(USER, after_id=1))
        reply = await bot.send_message(USER, "Choose", reply_markup=keyboard("a", "b"))
        record = await waiting
        assert record.message_id == reply.message_id and record.callback_data == ["a", "b"]

        with pytest.raises(DevServerError, match="no button"):
            await client.press_button(USER, reply.message_id, "c")
        query_id = await client.press_button(USER, reply.message_id, "b")
        await bot.answer_callback_query(query_id, "ok")
        assert (await client.wait_for_callback_answer(query_id)).text == "ok"
        await client.forge_callback(USER, reply.message_id, "forged")

        start = await client.now()
        assert await client.advance(50 * 3600) >= start + 50 * 3600
        with pytest.raises(BadRequest, match=r"(?i)can't be deleted for everyone"):
            await bot.delete_message(USER, reply.message_id)

        await client.inject_fault("sendMessage", retry_after=2)
        with pytest.raises(RetryAfter):
            await bot.send_message(USER, "x")
        await client.inject_fault("sendMessage", error_code=None, delay=0.01)
        await bot.send_message(USER, "slow")

        records = await client.messages(USER)
        assert [m.from_bot for m in records] == [False, True, True]
        assert (await client.bot_messages(USER))[-1].text == "slow"
        assert (await client.message(USER, 1)) == (await server.message(USER, 1))
        assert [c.method for c in await client.api_calls("answerCallbackQuery")] == [
            "answerCallbackQuery"
        ]
        await client.add_bot_to_group(GROUP, OTHER)
        await client.send_group_text(GROUP, OTHER, "/hi")
        await client.set_chat_member(GROUP, USER, "administrator")
        await bot.leave_chat(GROUP)
        assert await client.left_chats() == [GROUP]
        await bot.set_my_short_description("Short")
        assert (await client.bot_profile()).short_description == {"": "Short"}
        await bot.set_my_commands([BotCommand("help", "Help")])
        assert [c.command for c in await client.commands()] == ["help"]
        assert [c.command for c in await client.menu(USER)] == ["help"]


async def test_standalone_cli_prints_base_url_without_token() -> None:
    env = {**os.environ, "DEVSERVER_TOKEN": "987654321:AAsecretTokenForTheCliTest000000"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.devserver",
        "--port",
        "0",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=PROJECT_ROOT,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), timeout=20)).decode().strip()
        assert line.startswith("http://127.0.0.1:") and line.endswith("/bot")
        assert "AAsecret" not in line
        async with Bot(env["DEVSERVER_TOKEN"], base_url=line) as cli_bot:
            assert (await cli_bot.get_me()).id == 987654321
        async with DevClient(line.removesuffix("/bot")) as client:
            await client.send_text(USER, "over http")
            assert [m.text for m in await client.messages(USER)] == ["over http"]
    finally:
        process.terminate()
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=10)
    assert process.returncode == 0
    assert b"AAsecret" not in stderr
