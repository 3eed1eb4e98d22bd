"""Assemble the python-telegram-bot ``Application``: handlers, command menus, profile texts."""

from __future__ import annotations

from telegram import BotCommand, BotCommandScopeAllPrivateChats, BotCommandScopeChat, Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ChatMemberHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.i18n import Catalog
from bot.logs import get_logger
from bot.text import alarming_words_in
from bot.transport.applicant import ApplicantHandlers
from bot.transport.coordinator import CoordinatorHandlers
from bot.transport.framework import new_application

log = get_logger(__name__)

APPLICANT_COMMANDS = ("start", "back", "language", "cancel", "delete", "status", "help")
GROUP_COMMANDS = ("queue", "stats", "claim")
MENU_LANGUAGES = {"en": None, "my": "my"}  # catalogue -> Telegram language_code (None = default)


def build_application(
    *,
    token: str,
    base_url: str,
    applicant: ApplicantHandlers,
    coordinator: CoordinatorHandlers,
    catalog: Catalog,
    group_chat_id: int,
    rate_limit: bool = True,
) -> Application:  # type: ignore[type-arg]
    app = new_application(token, base_url, rate_limit=rate_limit)
    private = filters.ChatType.PRIVATE
    staff_chats = private | filters.Chat(group_chat_id)
    new_text = filters.UpdateType.MESSAGE & filters.TEXT
    app.add_handler(MessageHandler(new_text & staff_chats, coordinator.on_message), group=-1)
    app.add_handler(MessageHandler(private & filters.UpdateType.EDITED, applicant.on_message))
    app.add_handler(MessageHandler(private, applicant.on_message))
    app.add_handler(CallbackQueryHandler(applicant.on_button))
    strangers = GroupDoor(group_chat_id)
    app.add_handler(ChatMemberHandler(strangers.on_membership, ChatMemberHandler.MY_CHAT_MEMBER))
    app.add_handler(MessageHandler(~private, strangers.on_group_message))
    app.add_error_handler(applicant.on_error)

    async def post_init(application: Application) -> None:  # type: ignore[type-arg]
        await publish_profile(application, catalog, group_chat_id)

    app.post_init = post_init
    return app


class GroupDoor:
    """The bot belongs in private chats and the coordinators' group; it leaves anywhere else,
    so it can not be used to post into, or read, a stranger's group."""

    def __init__(self, group_chat_id: int) -> None:
        self.group_chat_id = group_chat_id

    async def on_membership(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        change = update.my_chat_member
        if change is not None and change.new_chat_member.status in ("left", "kicked"):
            return  # already out (often because the bot just left)
        await self._leave_if_stranger(update, context)

    async def on_group_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._leave_if_stranger(update, context)

    async def _leave_if_stranger(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        if chat is None or chat.type == ChatType.PRIVATE or chat.id == self.group_chat_id:
            return
        log.info("left_foreign_chat", kind=str(chat.type))
        await context.bot.leave_chat(chat.id)


async def publish_profile(app: Application, catalog: Catalog, group_chat_id: int) -> None:  # type: ignore[type-arg]
    """Set neutral command menus and descriptions; warn if the bot's name would alarm a reader."""
    bot = app.bot
    for lang, code in MENU_LANGUAGES.items():
        commands = [BotCommand(c, catalog.text(lang, f"cmd_{c}")) for c in APPLICANT_COMMANDS]
        await bot.set_my_commands(
            commands, scope=BotCommandScopeAllPrivateChats(), language_code=code
        )
        await bot.set_my_description(catalog.text(lang, "bot_description"), language_code=code)
        await bot.set_my_short_description(
            catalog.text(lang, "bot_short_description"), language_code=code
        )
    group_menu = [BotCommand(c, c) for c in GROUP_COMMANDS]
    try:
        await bot.set_my_commands(group_menu, scope=BotCommandScopeChat(group_chat_id))
    except TelegramError as exc:  # the bot may not be in the group yet
        log.warning("group_menu_not_set", error=type(exc).__name__)
    me = await bot.get_me()
    if alarming_words_in(f"{me.first_name} {me.last_name or ''} {me.username}"):
        log.warning("bot_name_alarming", hint="rename the bot with @BotFather")
