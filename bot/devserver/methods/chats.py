"""Chats the bot is in: looking them up, its members, and leaving."""

from __future__ import annotations

from typing import Any

from bot.devserver.errors import bad_request
from bot.devserver.methods.base import Handler
from bot.devserver.objects import chat_full_json, chat_json, member_json, user_json
from bot.devserver.params import Params
from bot.devserver.state import Chat, State

PRESENT = ("creator", "administrator", "member", "restricted")


def _member_status(state: State, chat: Chat, user_id: int) -> str:
    if user_id == state.bot.id:
        return chat.bot_status
    if chat.type == "private":
        if user_id != chat.id:
            raise bad_request("user not found")
        return "member"
    if user_id in chat.members:
        return chat.members[user_id]
    if user_id in state.people:
        return "left"
    raise bad_request("user not found")


async def get_chat(state: State, params: Params) -> Any:
    chat = state.find_chat(params.chat_id())
    if chat.type != "private":
        state.writable_chat(chat.id)
    return chat_full_json(state, chat)


async def get_chat_member(state: State, params: Params) -> Any:
    chat = state.find_chat(params.chat_id())
    if chat.type != "private":
        state.writable_chat(chat.id)
    user_id = params.need_integer("user_id", "user not found")
    status = _member_status(state, chat, user_id)
    person = state.bot if user_id == state.bot.id else state.person(user_id)
    return member_json(person, status)


async def get_chat_administrators(state: State, params: Params) -> Any:
    chat = state.writable_chat(params.chat_id())
    if chat.type == "private":
        raise bad_request("there are no administrators in the private chat")
    admins = [
        member_json(state.person(uid), status)
        for uid, status in chat.members.items()
        if status in ("creator", "administrator")
    ]
    if chat.bot_status == "administrator":
        admins.append(member_json(state.bot, "administrator"))
    return admins


async def get_chat_member_count(state: State, params: Params) -> Any:
    chat = state.writable_chat(params.chat_id())
    if chat.type == "private":
        return 2
    return sum(1 for status in chat.members.values() if status in PRESENT) + 1


async def leave_chat(state: State, params: Params) -> Any:
    """Leaving also sends the bot a my_chat_member update, as Telegram does."""
    chat = state.find_chat(params.chat_id())
    if chat.type == "private":
        raise bad_request("chat member status can't be changed in private chats")
    state.writable_chat(chat.id)
    old = chat.bot_status
    chat.bot_status = "left"
    state.left_chats.append(chat.id)
    state.push_update(
        "my_chat_member",
        {
            "chat": chat_json(state, chat),
            "from": user_json(state.bot),
            "date": state.now(),
            "old_chat_member": member_json(state.bot, old),
            "new_chat_member": member_json(state.bot, "left"),
        },
    )
    return True


METHODS: dict[str, Handler] = {
    "getChat": get_chat,
    "getChatMember": get_chat_member,
    "getChatAdministrators": get_chat_administrators,
    "getChatMemberCount": get_chat_member_count,
    "leaveChat": leave_chat,
}
