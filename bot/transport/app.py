"""Assemble the python-telegram-bot ``Application``: handlers, command menus, profile texts."""

from __future__ import annotations

from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    Update,
)
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
    group_chat_ids: tuple[int, ...],
    rate_limit: bool = True,
) -> Application:  # type: ignore[type-arg]
    """``group_chat_ids``: the coordinators' groups, the main one first (then each team's)."""
    app = new_application(token, base_url, rate_limit=rate_limit)
    private = filters.ChatType.PRIVATE
    staff_chats = private | filters.Chat(list(group_chat_ids))
    new_text = filters.UpdateType.MESSAGE & filters.TEXT
    app.add_handler(MessageHandler(new_text & staff_chats, coordinator.on_message), group=-1)
    app.add_handler(MessageHandler(private & filters.UpdateType.EDITED, applicant.on_message))
    app.add_handler(MessageHandler(private, applicant.on_message))
    app.add_handler(CallbackQueryHandler(applicant.on_button))
    strangers = GroupDoor(group_chat_ids)
    app.add_handler(ChatMemberHandler(strangers.on_membership, ChatMemberHandler.MY_CHAT_MEMBER))
    app.add_handler(MessageHandler(~private, strangers.on_group_message))
    app.add_error_handler(applicant.on_error)

    async def post_init(application: Application) -> None:  # type: ignore[type-arg]
        await publish_profile(application, catalog, group_chat_ids)

    app.post_init = post_init
    return app


class GroupDoor:
    """The bot belongs in private chats and the coordinators' groups; it leaves anywhere else,
    so it can not be used to post into, or read, a stranger's group."""

    def __init__(self, group_chat_ids: tuple[int, ...]) -> None:
        self.group_chat_ids = frozenset(group_chat_ids)

    async def on_membership(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        change = update.my_chat_member
        if change is not None and change.new_chat_member.status in ("left", "kicked"):
            return  # already out (often because the bot just left)
        chat = update.effective_chat
        if chat is not None and chat.id in self.group_chat_ids:
            # Added to a coordinators' group after start: the menu refused then works now.
            await set_group_menu(context.bot, chat.id)
            return
        await self._leave_if_stranger(update, context)

    async def on_group_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._leave_if_stranger(update, context)

    async def _leave_if_stranger(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        if chat is None or chat.type == ChatType.PRIVATE or chat.id in self.group_chat_ids:
            return
        # Never the chat's id (no Telegram ids in logs): `python -m bot group-id` tells it to
        # the operator alone, for a group meant to be the coordinators'.
        log.info(
            "left_foreign_chat",
            kind=str(chat.type),
            hint="for the coordinators' group's id, stop the bot and run: python -m bot group-id",
        )
        await context.bot.leave_chat(chat.id)


async def publish_profile(
    app: Application,  # type: ignore[type-arg]
    catalog: Catalog,
    group_chat_ids: tuple[int, ...],
) -> None:
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
    for group_chat_id in group_chat_ids:
        await set_group_menu(bot, group_chat_id)
    me = await bot.get_me()
    if alarming_words_in(f"{me.first_name} {me.last_name or ''} {me.username}"):
        log.warning("bot_name_alarming", hint="rename the bot with @BotFather")


async def set_group_menu(bot: Bot, group_chat_id: int) -> bool:
    """The coordinators' commands as the group's menu.

    A chat scope names a chat the Bot API server must know the bot in: Telegram (and the local
    server) answer "chat not found" while the bot is not in the group, or when group_chat_id is
    not the group's. Then notices cannot reach the team either, so the warning says what to do;
    the menu is set again when the bot is added (``GroupDoor.on_membership``)."""
    group_menu = [BotCommand(c, c) for c in GROUP_COMMANDS]
    try:
        await bot.set_my_commands(group_menu, scope=BotCommandScopeChat(group_chat_id))
    except TelegramError as exc:
        log.warning(
            "coordinators_group_unreachable",
            error=type(exc).__name__,
            hint="add the bot to the group whose id is coordination.group_chat_id"
            " (or a team's group_chat_id)",
        )
        return False
    return True
