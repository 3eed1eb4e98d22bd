"""The ``/_dev/<action>`` control API: the simulated users and readers, for another process.

Every action takes a JSON object of the same keyword arguments as the in-process method and
answers ``{"ok": true, "result": ...}``, or status 400 with ``{"ok": false, "description"}``.
Only the actions listed here exist; nothing is looked up by name on the server object.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.devserver.api import json_response
from bot.devserver.errors import ApiError, DevServerError
from bot.devserver.params import Params

if TYPE_CHECKING:
    from bot.devserver.server import DevServer

MAX_CHANGE_WAIT = 30.0
Action = Callable[["DevServer", Params, dict[str, Any]], Awaitable[Any]]


def _need_int(p: Params, name: str) -> int:
    return p.need_integer(name, f"{name} is required")


def _need_text(p: Params, name: str) -> str:
    return p.need_text(name, f"{name} is required")


async def _send_text(s: DevServer, p: Params, body: dict[str, Any]) -> Any:
    return await s.send_text(
        _need_int(p, "user_id"),
        _need_text(p, "text"),
        first_name=p.text("first_name"),
        last_name=p.text("last_name"),
        username=p.text("username"),
        language_code=p.text("language_code"),
        reply_to_message_id=p.integer("reply_to_message_id"),
    )


async def _send_media(s: DevServer, p: Params, body: dict[str, Any]) -> Any:
    return await s.send_media(
        _need_int(p, "user_id"),
        _need_text(p, "kind"),
        caption=p.text("caption"),
        first_name=p.text("first_name"),
        language_code=p.text("language_code"),
    )


async def _forward_text(s: DevServer, p: Params, body: dict[str, Any]) -> Any:
    return await s.forward_text(
        _need_int(p, "user_id"),
        _need_text(p, "text"),
        _need_text(p, "from_name"),
        from_user_id=p.integer("from_user_id"),
    )


async def _edit_text(s: DevServer, p: Params, body: dict[str, Any]) -> Any:
    return await s.edit_text(
        _need_int(p, "user_id"), _need_int(p, "message_id"), _need_text(p, "text")
    )


async def _press_button(s: DevServer, p: Params, body: dict[str, Any]) -> Any:
    return await s.press_button(
        _need_int(p, "user_id"), _need_int(p, "message_id"), _need_text(p, "callback_data")
    )


async def _forge_callback(s: DevServer, p: Params, body: dict[str, Any]) -> Any:
    return await s.forge_callback(
        _need_int(p, "user_id"), _need_int(p, "message_id"), p.text("data") or ""
    )


async def _block_bot(s: DevServer, p: Params, body: dict[str, Any]) -> Any:
    await s.block_bot(_need_int(p, "user_id"))


async def _unblock_bot(s: DevServer, p: Params, body: dict[str, Any]) -> Any:
    await s.unblock_bot(_need_int(p, "user_id"))


async def _add_bot_to_group(s: DevServer, p: Params, body: dict[str, Any]) -> Any:
    return await s.add_bot_to_group(
        _need_int(p, "chat_id"),
        _need_int(p, "by_user_id"),
        chat_type=p.text("chat_type") or "group",
        title=p.text("title"),
        as_admin=p.flag("as_admin"),
    )


async def _set_chat_member(s: DevServer, p: Params, body: dict[str, Any]) -> Any:
    await s.set_chat_member(
        _need_int(p, "chat_id"), _need_int(p, "user_id"), _need_text(p, "status")
    )


async def _send_group_text(s: DevServer, p: Params, body: dict[str, Any]) -> Any:
    return await s.send_group_text(
        _need_int(p, "chat_id"),
        _need_int(p, "user_id"),
        _need_text(p, "text"),
        chat_type=p.text("chat_type") or "group",
        title=p.text("title"),
        first_name=p.text("first_name"),
        reply_to_message_id=p.integer("reply_to_message_id"),
    )


async def _advance(s: DevServer, p: Params, body: dict[str, Any]) -> Any:
    seconds = p.number("seconds")
    if seconds is None:
        raise DevServerError("seconds is required")
    return await s.advance(seconds)


async def _now(s: DevServer, p: Params, body: dict[str, Any]) -> Any:
    return await s.now()


async def _inject_fault(s: DevServer, p: Params, body: dict[str, Any]) -> Any:
    await s.inject_fault(
        _need_text(p, "method"),
        error_code=p.integer("error_code") if "error_code" in body else 429,
        retry_after=p.integer("retry_after"),
        description=p.text("description"),
        times=p.integer("times") or 1,
        delay=p.number("delay"),
        drop_connection=p.flag("drop_connection"),
    )


async def _clear_faults(s: DevServer, p: Params, body: dict[str, Any]) -> Any:
    await s.clear_faults()


async def _messages(s: DevServer, p: Params, body: dict[str, Any]) -> Any:
    records = await s.messages(_need_int(p, "chat_id"), include_deleted=p.flag("include_deleted"))
    return [r.to_json() for r in records]


async def _bot_messages(s: DevServer, p: Params, body: dict[str, Any]) -> Any:
    records = await s.bot_messages(
        _need_int(p, "chat_id"), include_deleted=p.flag("include_deleted")
    )
    return [r.to_json() for r in records]


async def _message(s: DevServer, p: Params, body: dict[str, Any]) -> Any:
    record = await s.message(_need_int(p, "chat_id"), _need_int(p, "message_id"))
    return record.to_json() if record else None


async def _reply_keyboard(s: DevServer, p: Params, body: dict[str, Any]) -> Any:
    return await s.reply_keyboard(_need_int(p, "chat_id"))


async def _callback_answers(s: DevServer, p: Params, body: dict[str, Any]) -> Any:
    return [a.to_json() for a in await s.callback_answers(p.text("query_id"))]


async def _commands(s: DevServer, p: Params, body: dict[str, Any]) -> Any:
    scope = body.get("scope", "default")
    if not isinstance(scope, str | dict):
        raise DevServerError("scope must be a key or a BotCommandScope object")
    records = await s.commands(scope, p.text("language_code") or "")
    return [r.to_json() for r in records]


async def _menu(s: DevServer, p: Params, body: dict[str, Any]) -> Any:
    records = await s.menu(
        _need_int(p, "chat_id"),
        user_id=p.integer("user_id"),
        language_code=p.text("language_code"),
    )
    return [r.to_json() for r in records]


async def _bot_profile(s: DevServer, p: Params, body: dict[str, Any]) -> Any:
    return (await s.bot_profile()).to_json()


async def _left_chats(s: DevServer, p: Params, body: dict[str, Any]) -> Any:
    return await s.left_chats()


async def _api_calls(s: DevServer, p: Params, body: dict[str, Any]) -> Any:
    return [c.to_json() for c in await s.api_calls(p.text("method"))]


async def _pending_updates(s: DevServer, p: Params, body: dict[str, Any]) -> Any:
    return await s.pending_updates()


async def _version(s: DevServer, p: Params, body: dict[str, Any]) -> Any:
    return await s.version()


async def _wait_change(s: DevServer, p: Params, body: dict[str, Any]) -> Any:
    within = min(max(p.number("within") or 0.0, 0.0), MAX_CHANGE_WAIT)
    return await s.wait_change(_need_int(p, "since"), within)


ACTIONS: dict[str, Action] = {
    "send_text": _send_text,
    "send_media": _send_media,
    "forward_text": _forward_text,
    "edit_text": _edit_text,
    "press_button": _press_button,
    "forge_callback": _forge_callback,
    "block_bot": _block_bot,
    "unblock_bot": _unblock_bot,
    "add_bot_to_group": _add_bot_to_group,
    "set_chat_member": _set_chat_member,
    "send_group_text": _send_group_text,
    "advance": _advance,
    "now": _now,
    "inject_fault": _inject_fault,
    "clear_faults": _clear_faults,
    "messages": _messages,
    "bot_messages": _bot_messages,
    "message": _message,
    "reply_keyboard": _reply_keyboard,
    "callback_answers": _callback_answers,
    "commands": _commands,
    "menu": _menu,
    "bot_profile": _bot_profile,
    "left_chats": _left_chats,
    "api_calls": _api_calls,
    "pending_updates": _pending_updates,
    "version": _version,
    "wait_change": _wait_change,
}


class ControlApi:
    def __init__(self, server: DevServer) -> None:
        self.server = server

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/_dev/{action}", self.handle),
            web.get("/_dev/health", self.health),
        ]

    async def health(self, request: web.Request) -> web.StreamResponse:
        return json_response({"ok": True, "result": True})

    async def handle(self, request: web.Request) -> web.StreamResponse:
        action = ACTIONS.get(request.match_info["action"])
        if action is None:
            return json_response({"ok": False, "description": "unknown action"}, status=404)
        try:
            body = await request.json() if request.body_exists else {}
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return json_response({"ok": False, "description": "body must be a JSON object"}, 400)
        try:
            result = await action(self.server, Params(body), body)
        except (DevServerError, ValueError) as exc:
            return json_response({"ok": False, "description": str(exc)}, status=400)
        except ApiError as exc:
            return json_response({"ok": False, "description": exc.description}, status=400)
        return json_response({"ok": True, "result": result})
