"""Handlers for coordinators: in their private chats and in the coordinators' group.

They run before the applicant handlers. When the service answers ``None`` (the sender is no
coordinator, or the command is not an admin command) the update falls through to the
applicant side, which answers like any unknown command: nothing tells a stranger that admin
commands exist.
"""

from __future__ import annotations

from telegram import Bot, BotCommand, BotCommandScopeChat, Update
from telegram.constants import ChatType
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError
from telegram.ext import ApplicationHandlerStop, ContextTypes

from bot.logs import get_logger
from bot.services.coordination import CoordinationService, CoordIncoming
from bot.services.outbox import DeliveryFailed, OutMessage
from bot.transport.delivery import delete, send
from bot.transport.updates import parse_command

log = get_logger(__name__)

OUTBOX_READ_TIMEOUT = 30.0  # seconds; python-telegram-bot's default is 5


class CoordinatorHandlers:
    def __init__(self, service: CoordinationService) -> None:
        self.service = service

    async def on_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message, user, chat = update.message, update.effective_user, update.effective_chat
        if message is None or user is None or chat is None or message.text is None:
            return
        if message.forward_origin is not None:
            return
        command = parse_command(message.text) if message.text.startswith("/") else None
        incoming = CoordIncoming(
            user_id=user.id,
            chat_id=chat.id,
            private=chat.type == ChatType.PRIVATE,
            message_id=message.message_id,
            text=message.text,
            command=command.name if command else None,
            arg=command.arg if command else "",
            language=user.language_code or "",
        )
        if command is None and incoming.private and self.service.expects_secret(user.id):
            await delete(context.bot, chat.id, [message.message_id])  # before the slow check
        response = await self.service.handle(incoming)
        if response is None:
            return  # the applicant side answers, as for anyone
        await delete(context.bot, chat.id, list(response.delete))
        sent = [await send(context.bot, chat.id, reply) for reply in response.replies]
        if response.expire and sent:
            await self.service.schedule_deletion(chat.id, sent)
        if response.menu:
            commands = [BotCommand(c, c.replace("_", " ")) for c in response.menu]
            await context.bot.set_my_commands(commands, scope=BotCommandScopeChat(chat.id))
        log.info("coordinator_update", command=incoming.command or "text")
        raise ApplicationHandlerStop


async def send_out(bot: Bot, chat_id: int, message: OutMessage) -> int:
    """Hand one outbox message to Telegram, translating refusals for the outbox's retry.

    The Bot API cannot tell a resend from a new message, and a send that timed out may still
    have been delivered; waiting longer for Telegram's answer than for a reply makes such a
    duplicate rare (only a send hanging past ``OUTBOX_READ_TIMEOUT`` is sent twice).
    """
    try:
        return await send(bot, chat_id, message, read_timeout=OUTBOX_READ_TIMEOUT)
    except RetryAfter as exc:
        retry = exc.retry_after
        seconds = retry if isinstance(retry, int | float) else retry.total_seconds()
        raise DeliveryFailed("RetryAfter", float(seconds)) from None
    except Forbidden:  # blocked by the user, account deleted, bot removed from the group
        raise DeliveryFailed("Forbidden", permanent=True) from None
    except BadRequest as exc:
        gone = any(reason in exc.message.lower() for reason in _CHAT_GONE)
        raise DeliveryFailed("BadRequest", permanent=gone) from None
    except TelegramError as exc:
        raise DeliveryFailed(type(exc).__name__) from None


# Telegram's words for a chat that no longer exists: retrying would only keep the message
# (and the chat id in it) on disk longer.
_CHAT_GONE = ("chat not found", "user is deactivated", "peer_id_invalid")
