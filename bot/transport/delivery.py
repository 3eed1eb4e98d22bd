"""Carry out a service's response with Bot API calls, in the order that keeps the chat sane.

New messages go out before old ones are deleted, so a failed send never leaves an empty chat;
deletions that Telegram refuses (too old, already gone) are not errors worth an applicant's
attention.
"""

from __future__ import annotations

from telegram import Bot, CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, TelegramError

from bot.intake.events import Keyboard, Reply
from bot.logs import get_logger
from bot.services.intake import Response

log = get_logger(__name__)

DELETE_BATCH = 100  # Telegram's limit for deleteMessages


def markup(buttons: Keyboard) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.label, callback_data=b.data) for b in row] for row in buttons]
    )


async def send(bot: Bot, chat_id: int, reply: Reply) -> int:
    message = await bot.send_message(
        chat_id,
        reply.text,
        reply_markup=markup(reply.buttons),
        protect_content=reply.protect,
    )
    return message.message_id


async def deliver(
    bot: Bot,
    chat_id: int,
    response: Response,
    query: CallbackQuery | None = None,
    *,
    sent: list[int] | None = None,
) -> None:
    """Send, edit, delete, then answer the tap; the ids of new messages go into ``sent`` one by
    one, so a caller knows what went out even if a later call fails.

    The tap is answered last, so the spinner on the applicant's button stops only once the next
    question is in place.
    """
    sent = [] if sent is None else sent
    replies = list(response.replies)
    if response.edit_message_id is not None and replies:
        reply = replies.pop(0)
        try:
            await bot.edit_message_text(
                reply.text,
                chat_id=chat_id,
                message_id=response.edit_message_id,
                reply_markup=markup(reply.buttons),
            )
        except BadRequest as exc:
            if "not modified" not in str(exc):
                raise
    for reply in replies:
        sent.append(await send(bot, chat_id, reply))
    await delete(bot, chat_id, list(response.delete))
    if query is not None:
        try:
            await query.answer(response.toast)
        except TelegramError as exc:  # the screen is already right; only the spinner lingers
            log.info("callback_answer_refused", error=type(exc).__name__)


async def delete(bot: Bot, chat_id: int, message_ids: list[int]) -> None:
    for start in range(0, len(message_ids), DELETE_BATCH):
        batch = message_ids[start : start + DELETE_BATCH]
        try:
            await bot.delete_messages(chat_id, batch)
        except TelegramError as exc:
            log.info("delete_refused", error=type(exc).__name__, count=len(batch))
