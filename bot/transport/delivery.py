"""Carry out a service's response with Bot API calls, in the order that keeps the chat sane.

New messages go out before old ones are deleted, so a failed send never leaves an empty chat;
deletions that Telegram refuses (too old, already gone) are not errors worth an applicant's
attention.

Deletion uses ``deleteMessages`` (Bot API 7.0), a hundred ids a call. A self-hosted Bot API
server older than that answers it 404 Not Found, and then nothing would ever be deleted: the
applicant's answers and the questions would stay on the phone. Such a server is noted, for the
life of the process, and its messages are deleted one ``deleteMessage`` call at a time.
"""

from __future__ import annotations

from typing import Any

from telegram import Bot, CallbackQuery
from telegram.error import BadRequest, InvalidToken, TelegramError

from bot.intake.events import Keyboard, Reply
from bot.logs import get_logger
from bot.services.intake import Response
from bot.services.outbox import OutMessage
from bot.transport import carried

log = get_logger(__name__)

DELETE_BATCH = 100  # Telegram's limit for deleteMessages

#: Base URLs of Bot API servers that do not know ``deleteMessages`` (see the module docstring).
_WITHOUT_DELETE_MESSAGES: set[str] = set()


def markup(buttons: Keyboard) -> dict[str, Any] | None:
    """The keyboard as the Bot API's JSON: the library's objects for it cost more to build
    and serialise than the rest of a question's call."""
    if not buttons:
        return None
    return {
        "inline_keyboard": [
            [{"text": b.label, "callback_data": b.data} for b in row] for row in buttons
        ]
    }


async def send(
    bot: Bot,
    chat_id: int,
    reply: Reply | OutMessage,
    *,
    read_timeout: float | None = None,
    key: str | None = None,
) -> int:
    """Send one message; with ``key`` (the chat's key, see ``carried``) it rides along in the
    buttons, and a typed question asks for a reply and links back to the chat's form."""
    params: dict[str, Any] = {"chat_id": chat_id, "text": reply.text}
    if reply.protect:
        params["protect_content"] = True
    keyboard = markup(reply.buttons)
    if key is not None and isinstance(reply, Reply):
        keyboard = _keyed(bot, params, reply, key)
    answer = await _call(bot, "sendMessage", params, keyboard, read_timeout)
    return int(answer["message_id"])


async def edit(
    bot: Bot, chat_id: int, message_id: int, reply: Reply, *, key: str | None = None
) -> None:
    params: dict[str, Any] = {"chat_id": chat_id, "message_id": message_id, "text": reply.text}
    keyboard = markup(reply.buttons)
    if key is not None:
        keyboard = _keyed(bot, params, reply, key, editing=True)
    await _call(bot, "editMessageText", params, keyboard)


def _keyed(
    bot: Bot, params: dict[str, Any], reply: Reply, key: str, *, editing: bool = False
) -> dict[str, Any] | None:
    """The chat's key written into a message: after every button's data, and for a typed
    question in a link on its first line (with ``ForceReply`` when it has no buttons)."""
    if reply.typed and bot.username:
        link = carried.resume_link(bot.username, key)
        params["entities"] = carried.first_line_link(reply.text, link)
        params["link_preview_options"] = {"is_disabled": True}
    if reply.buttons:
        return {"inline_keyboard": carried.stamped(reply.buttons, key)}
    if reply.asks_reply and not editing:
        return {"force_reply": True}
    return None


async def _call(
    bot: Bot,
    method: str,
    params: dict[str, Any],
    keyboard: dict[str, Any] | None = None,
    read_timeout: float | None = None,
) -> Any:
    """The call, with Telegram's answer left as it came.

    The library's own methods build objects from every answer: for each question sent or
    edited, a Message with its whole keyboard, of which the bot reads only the id: about a
    tenth of the event loop's time at 300 actions a second. ``Bot._post`` is the step every
    one of those methods takes first (defaults, the rate limiter, the request, Telegram's
    errors raised as the library's exceptions); only the building is skipped. Every message the
    bot sends, edits or deletes, and every tap it answers, goes this one way, so a change of that
    private step shows in every test that sends.
    """
    if keyboard is not None:
        params["reply_markup"] = keyboard
    if read_timeout is None:
        return await bot._post(method, params)
    return await bot._post(method, params, read_timeout=read_timeout)


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
            await edit(bot, chat_id, response.edit_message_id, reply, key=response.key)
        except BadRequest as exc:
            if "not modified" not in str(exc):
                raise
    for reply in replies:
        sent.append(await send(bot, chat_id, reply, key=response.key))
    await delete(bot, chat_id, list(response.delete))
    if query is not None:
        try:
            answer = {"callback_query_id": query.id}
            if response.toast:
                answer["text"] = response.toast
            await _call(bot, "answerCallbackQuery", answer)
        except TelegramError as exc:  # the screen is already right; only the spinner lingers
            log.info("callback_answer_refused", error=type(exc).__name__)


async def delete(bot: Bot, chat_id: int, message_ids: list[int]) -> None:
    if _server(bot) in _WITHOUT_DELETE_MESSAGES:
        await _delete_one_by_one(bot, chat_id, message_ids)
        return
    for start in range(0, len(message_ids), DELETE_BATCH):
        batch = message_ids[start : start + DELETE_BATCH]
        try:
            await _call(bot, "deleteMessages", {"chat_id": chat_id, "message_ids": batch})
        except InvalidToken as exc:
            if not _unknown_method(exc):
                log.info("delete_refused", error=type(exc).__name__, count=len(batch))
                continue
            _WITHOUT_DELETE_MESSAGES.add(_server(bot))
            log.warning("delete_messages_unknown")
            await _delete_one_by_one(bot, chat_id, message_ids[start:])
            return
        except TelegramError as exc:
            log.info("delete_refused", error=type(exc).__name__, count=len(batch))


def _server(bot: Bot) -> str:
    """The server's address: python-telegram-bot's ``base_url`` ends with the token."""
    return bot.base_url.removesuffix(bot.token)


def _unknown_method(exc: InvalidToken) -> bool:
    """python-telegram-bot reports both 401 and 404 as ``InvalidToken``. A wrong token is 401
    (or fails every call, getUpdates first); a 404 on a bot that is running is a method the
    server does not have."""
    return "not found" in exc.message.casefold()


async def _delete_one_by_one(bot: Bot, chat_id: int, message_ids: list[int]) -> None:
    refused = 0
    for message_id in message_ids:
        try:
            await _call(bot, "deleteMessage", {"chat_id": chat_id, "message_id": message_id})
        except TelegramError:
            refused += 1
    if refused:
        log.info("delete_refused", error="one_by_one", count=refused)
