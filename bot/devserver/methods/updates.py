"""Getting updates out: long polling, webhook settings, and the bot's own identity."""

from __future__ import annotations

import re
from typing import Any

from bot.devserver.errors import bad_request, conflict
from bot.devserver.methods.base import Described, Handler
from bot.devserver.objects import me_json
from bot.devserver.params import Params
from bot.devserver.state import State, Webhook

_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
MAX_LIMIT = 100


async def get_me(state: State, params: Params) -> Any:
    return me_json(state)


async def log_out(state: State, params: Params) -> Any:
    return True


async def get_updates(state: State, params: Params) -> Any:
    if state.webhook.url:
        raise conflict(
            "can't use getUpdates method while webhook is active; use deleteWebhook to delete "
            "the webhook first"
        )
    offset = params.integer("offset") or 0
    limit = params.integer("limit")
    limit = MAX_LIMIT if limit is None or limit <= 0 else min(limit, MAX_LIMIT)
    timeout = max(0.0, params.number("timeout") or 0.0)
    state.set_allowed_updates(params.obj("allowed_updates"))
    state.confirm_updates(offset)
    state.poll_generation += 1
    mine = state.poll_generation
    await state.notify()  # an older poll still waiting learns it has been replaced
    if timeout > 0:
        await state.wait(lambda: bool(state.updates) or state.poll_generation != mine, timeout)
    if state.poll_generation != mine:
        raise conflict(
            "terminated by other getUpdates request; make sure that only one bot instance is "
            "running"
        )
    return state.updates[:limit]


async def set_webhook(state: State, params: Params) -> Any:
    url = params.text("url") or ""
    if url and not url.startswith(("https://", "http://")):
        raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
    secret = params.text("secret_token")
    if secret is not None and not _SECRET.fullmatch(secret):
        raise bad_request("secret token contains unallowed characters")
    max_connections = params.integer("max_connections") or 40
    if not 1 <= max_connections <= 100:
        raise bad_request("bad webhook: max_connections must be between 1 and 100")
    state.set_allowed_updates(params.obj("allowed_updates"))
    if params.flag("drop_pending_updates"):
        state.updates.clear()
    already = bool(url) and state.webhook.url == url
    state.webhook = Webhook(
        url=url,
        secret_token=secret,
        max_connections=max_connections,
        ip_address=params.text("ip_address"),
    )
    if not url:
        return Described(True, "Webhook was deleted")
    return Described(True, "Webhook is already set" if already else "Webhook was set")


async def delete_webhook(state: State, params: Params) -> Any:
    had = bool(state.webhook.url)
    if params.flag("drop_pending_updates"):
        state.updates.clear()
    state.webhook = Webhook()
    return Described(True, "Webhook was deleted" if had else "Webhook is already deleted")


async def get_webhook_info(state: State, params: Params) -> Any:
    hook = state.webhook
    info: dict[str, Any] = {
        "url": hook.url,
        "has_custom_certificate": False,
        "pending_update_count": len(state.updates),
    }
    if hook.url:
        info["max_connections"] = hook.max_connections
        if hook.ip_address:
            info["ip_address"] = hook.ip_address
        if hook.last_error_date is not None:
            info["last_error_date"] = hook.last_error_date
            info["last_error_message"] = hook.last_error_message
    return info


METHODS: dict[str, Handler] = {
    "getMe": get_me,
    "logOut": log_out,
    "close": log_out,
    "getUpdates": get_updates,
    "setWebhook": set_webhook,
    "deleteWebhook": delete_webhook,
    "getWebhookInfo": get_webhook_info,
}
