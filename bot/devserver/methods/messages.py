"""Sending, editing and deleting messages, and answering button presses, with Telegram's rules.

The rules tests lean on: a bot edits only its own messages and an identical edit is refused;
a message is deletable for 48 hours; a callback query is answered once, and soon.
"""

from __future__ import annotations

from typing import Any

from bot.devserver.errors import bad_request
from bot.devserver.formatting import MAX_CAPTION, check_length, parse_text
from bot.devserver.keyboards import Markup, parse_markup
from bot.devserver.methods.base import Handler
from bot.devserver.objects import message_json, takes_caption
from bot.devserver.params import Params
from bot.devserver.records import CallbackAnswer
from bot.devserver.state import Chat, Message, State

DELETE_WINDOW = 48 * 3600
MAX_DELETE_BATCH = 100
MAX_CALLBACK_TEXT = 200
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)


def _markup(params: Params, *, inline_only: bool = False) -> Markup | None:
    value = params.obj("reply_markup", error="can't parse reply keyboard markup JSON object")
    return parse_markup(value, inline_only=inline_only)


def _formatted(params: Params, name: str, entities_name: str) -> tuple[str, list[dict[str, Any]]]:
    raw = params.text(name) or ""
    entities = params.obj(entities_name, error="can't parse entities JSON object")
    return parse_text(raw, params.text("parse_mode"), entities)


def _reply_target(chat: Chat, params: Params) -> int | None:
    reply = params.obj("reply_parameters", error="can't parse reply parameters JSON object")
    if reply is not None and not isinstance(reply, dict):
        raise bad_request("can't parse reply parameters JSON object")
    if reply is not None:
        message_id = reply.get("message_id")
        allow_missing = bool(reply.get("allow_sending_without_reply"))
        if not isinstance(message_id, int):
            raise bad_request("message to be replied not found")
    else:
        message_id = params.integer("reply_to_message_id")
        allow_missing = params.flag("allow_sending_without_reply")
    if message_id is None:
        return None
    target = chat.messages.get(message_id)
    if target is None or target.deleted:
        if allow_missing:
            return None
        raise bad_request("message to be replied not found")
    return message_id


def _link_preview(params: Params) -> dict[str, Any] | None:
    options = params.obj("link_preview_options", error="can't parse link preview options")
    if options is not None:
        if not isinstance(options, dict):
            raise bad_request("can't parse link preview options")
        return options
    if params.flag("disable_web_page_preview"):
        return {"is_disabled": True}
    return None


async def send_message(state: State, params: Params) -> Any:
    chat = state.writable_chat(params.chat_id())
    text, entities = _formatted(params, "text", "entities")
    check_length(text)
    markup = _markup(params)
    reply_to = _reply_target(chat, params)
    message = state.add_message(
        chat,
        sender_id=state.bot.id,
        from_bot=True,
        kind="text",
        text=text,
        entities=entities,
        inline=(markup.inline or None) if markup else None,
        protect_content=params.flag("protect_content"),
        reply_to=reply_to,
        link_preview_options=_link_preview(params),
        force_reply=markup is not None and markup.force_reply,
    )
    if markup is not None and markup.keyboard is not None:
        chat.reply_keyboard = markup.keyboard
    elif markup is not None and markup.remove_keyboard:
        chat.reply_keyboard = None
    return message_json(state, message)


def _own_message(state: State, params: Params) -> Message:
    if params.has("inline_message_id"):
        raise bad_request("MESSAGE_ID_INVALID")
    chat = state.find_chat(params.chat_id())
    message_id = params.need_integer("message_id", "message identifier is not specified")
    message = chat.messages.get(message_id)
    if message is None or message.deleted:
        raise bad_request("message to edit not found")
    if not message.from_bot:
        raise bad_request("message can't be edited")
    return message


def _apply_edit(
    state: State,
    message: Message,
    text: str | None,
    entities: list[dict[str, Any]],
    markup: Markup | None,
) -> Any:
    inline = (markup.inline or None) if markup else None
    same_text = text is None or (text == message.text and entities == message.entities)
    if same_text and inline == message.inline:
        raise bad_request(NOT_MODIFIED)
    if text is not None and not same_text:
        message.text = text
        message.entities = entities
        message.edit_date = state.now()
    message.inline = inline
    return message_json(state, message)


async def edit_message_text(state: State, params: Params) -> Any:
    message = _own_message(state, params)
    if message.kind != "text":
        raise bad_request("there is no text in the message to edit")
    text, entities = _formatted(params, "text", "entities")
    check_length(text)
    return _apply_edit(state, message, text, entities, _markup(params, inline_only=True))


async def edit_message_caption(state: State, params: Params) -> Any:
    message = _own_message(state, params)
    if not takes_caption(message.kind):
        raise bad_request("there is no caption in the message to edit")
    text, entities = _formatted(params, "caption", "caption_entities")
    if len(text) > MAX_CAPTION:
        raise bad_request("message caption is too long")
    return _apply_edit(state, message, text, entities, _markup(params, inline_only=True))


async def edit_message_reply_markup(state: State, params: Params) -> Any:
    message = _own_message(state, params)
    return _apply_edit(state, message, None, [], _markup(params, inline_only=True))


def _deletion_refusal(state: State, chat: Chat, message: Message | None) -> str | None:
    if message is None or message.deleted:
        return "message to delete not found"
    own = message.from_bot
    if chat.type != "private" and not own and chat.bot_status != "administrator":
        return "message can't be deleted"
    if state.now() - message.date >= DELETE_WINDOW:
        return "message can't be deleted for everyone"
    return None


async def delete_message(state: State, params: Params) -> Any:
    chat = state.find_chat(params.chat_id())
    message_id = params.need_integer("message_id", "message identifier is not specified")
    message = chat.messages.get(message_id)
    refusal = _deletion_refusal(state, chat, message)
    if refusal is not None:
        raise bad_request(refusal)
    if message is not None:
        message.deleted = True
    return True


async def delete_messages(state: State, params: Params) -> Any:
    """Messages that are missing or no longer deletable are skipped, as the Bot API documents."""
    chat = state.find_chat(params.chat_id())
    ids = params.obj("message_ids", error="can't parse message identifiers")
    if not isinstance(ids, list) or not ids:
        raise bad_request("message identifiers are not specified")
    if len(ids) > MAX_DELETE_BATCH:
        raise bad_request("too many message identifiers specified")
    if not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise bad_request("can't parse message identifiers")
    for message_id in ids:
        message = chat.messages.get(message_id)
        if message is not None and _deletion_refusal(state, chat, message) is None:
            message.deleted = True
    return True


async def answer_callback_query(state: State, params: Params) -> Any:
    query_id = params.text("callback_query_id") or ""
    query = state.callbacks.get(query_id)
    too_old = query is None or state.now() - query.date > state.callback_timeout
    if query is None or query.answered or too_old:
        raise bad_request("query is too old and response timeout expired or query ID is invalid")
    text = params.text("text")
    if text is not None and len(text) > MAX_CALLBACK_TEXT:
        raise bad_request("MESSAGE_TOO_LONG")
    if params.has("url"):
        raise bad_request("URL_INVALID")
    query.answered = True
    state.answers.append(
        CallbackAnswer(
            query_id=query_id,
            text=text,
            show_alert=params.flag("show_alert"),
            url=None,
            cache_time=params.integer("cache_time") or 0,
            date=state.now(),
        )
    )
    return True


async def send_chat_action(state: State, params: Params) -> Any:
    state.writable_chat(params.chat_id())
    if params.text("action") not in CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    return True


async def get_file(state: State, params: Params) -> Any:
    file = state.files.get(params.text("file_id") or "")
    if file is None:
        raise bad_request("invalid file_id")
    return dict(file)


METHODS: dict[str, Handler] = {
    "sendMessage": send_message,
    "editMessageText": edit_message_text,
    "editMessageCaption": edit_message_caption,
    "editMessageReplyMarkup": edit_message_reply_markup,
    "deleteMessage": delete_message,
    "deleteMessages": delete_messages,
    "answerCallbackQuery": answer_callback_query,
    "sendChatAction": send_chat_action,
    "getFile": get_file,
}
