"""The bot's public face: command menus per scope and language, name and descriptions."""

from __future__ import annotations

import re
from typing import Any

from bot.devserver.errors import bad_request
from bot.devserver.methods.base import Handler
from bot.devserver.params import Params
from bot.devserver.state import State

_COMMAND = re.compile(r"[a-z0-9_]{1,32}")
MAX_COMMANDS = 100
MAX_DESCRIPTION = 256
_SIMPLE_SCOPES = ("default", "all_private_chats", "all_group_chats", "all_chat_administrators")
_TEXT_LIMITS = {"name": 64, "description": 512, "short_description": 120}


def scope_key(state: State, scope: Any) -> str:
    """A stable key for a BotCommandScope object, e.g. ``chat:42`` or ``all_private_chats``."""
    if scope is None:
        return "default"
    if not isinstance(scope, dict) or not isinstance(scope.get("type"), str):
        raise bad_request("can't parse BotCommandScope JSON object")
    kind = scope["type"]
    if kind in _SIMPLE_SCOPES:
        return str(kind)
    if kind in ("chat", "chat_administrators", "chat_member"):
        raw_chat = scope.get("chat_id")
        if not isinstance(raw_chat, int | str) or isinstance(raw_chat, bool):
            raise bad_request("chat not found")
        chat = state.find_chat(raw_chat)
        if kind != "chat_member":
            return f"{kind}:{chat.id}"
        user_id = scope.get("user_id")
        if not isinstance(user_id, int) or isinstance(user_id, bool):
            raise bad_request("user not found")
        return f"{kind}:{chat.id}:{user_id}"
    raise bad_request("unsupported bot command scope type")


def _key(state: State, params: Params) -> tuple[str, str]:
    scope = params.obj("scope", error="can't parse BotCommandScope JSON object")
    return scope_key(state, scope), params.text("language_code") or ""


def _commands(value: Any) -> list[dict[str, str]]:
    if not isinstance(value, list):
        raise bad_request("can't parse commands JSON object")
    if len(value) > MAX_COMMANDS:
        raise bad_request("too many bot commands specified")
    out: list[dict[str, str]] = []
    for item in value:
        if not isinstance(item, dict):
            raise bad_request("can't parse BotCommand JSON object")
        command, description = item.get("command"), item.get("description")
        if not isinstance(command, str) or not _COMMAND.fullmatch(command):
            raise bad_request("BOT_COMMAND_INVALID")
        if not isinstance(description, str) or not 1 <= len(description) <= MAX_DESCRIPTION:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        out.append({"command": command, "description": description})
    return out


async def set_my_commands(state: State, params: Params) -> Any:
    """An empty list removes the menu for that scope, so a broader one applies again."""
    commands = _commands(params.obj("commands", error="can't parse commands JSON object"))
    key = _key(state, params)
    if commands:
        state.commands[key] = commands
    else:
        state.commands.pop(key, None)
    return True


async def get_my_commands(state: State, params: Params) -> Any:
    return [dict(c) for c in state.commands.get(_key(state, params), [])]


async def delete_my_commands(state: State, params: Params) -> Any:
    state.commands.pop(_key(state, params), None)
    return True


def _texts(state: State, field: str) -> dict[str, str]:
    if field == "name":
        return state.names
    if field == "description":
        return state.descriptions
    return state.short_descriptions


def _setter(field: str) -> Handler:
    async def handler(state: State, params: Params) -> Any:
        value = params.text(field) or ""
        if len(value) > _TEXT_LIMITS[field]:
            raise bad_request(f"{field.replace('_', ' ')} is too long")
        texts = _texts(state, field)
        language = params.text("language_code") or ""
        if value:
            texts[language] = value
        else:
            texts.pop(language, None)
        return True

    return handler


def _getter(field: str) -> Handler:
    async def handler(state: State, params: Params) -> Any:
        texts = _texts(state, field)
        language = params.text("language_code") or ""
        default = state.bot.first_name if field == "name" else ""
        return {field: texts.get(language) or texts.get("") or default}

    return handler


async def set_chat_menu_button(state: State, params: Params) -> Any:
    chat_id = params.integer("chat_id")
    button = params.obj("menu_button", error="can't parse menu button JSON object")
    if button is None:
        button = {"type": "default"}
    if not isinstance(button, dict) or button.get("type") not in ("commands", "web_app", "default"):
        raise bad_request("can't parse menu button JSON object")
    state.menu_buttons[chat_id] = button
    return True


async def get_chat_menu_button(state: State, params: Params) -> Any:
    button = state.menu_buttons.get(params.integer("chat_id"))
    if button is None or button.get("type") == "default":
        return {"type": "commands"}
    return button


METHODS: dict[str, Handler] = {
    "setMyCommands": set_my_commands,
    "getMyCommands": get_my_commands,
    "deleteMyCommands": delete_my_commands,
    "setMyName": _setter("name"),
    "getMyName": _getter("name"),
    "setMyDescription": _setter("description"),
    "getMyDescription": _getter("description"),
    "setMyShortDescription": _setter("short_description"),
    "getMyShortDescription": _getter("short_description"),
    "setChatMenuButton": set_chat_menu_button,
    "getChatMenuButton": get_chat_menu_button,
}
