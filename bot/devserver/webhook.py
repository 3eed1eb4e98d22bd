"""Delivering updates to a webhook, as Telegram does once ``setWebhook`` names a URL.

Updates go out one at a time, in order, with the secret token header; an update leaves the queue
only when the bot answers 2xx, and failures show up in getWebhookInfo.
"""

from __future__ import annotations

import asyncio
import contextlib
import json

import aiohttp

from bot.devserver.state import State

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
RETRY_DELAY = 0.2
IDLE_WAIT = 3600.0


class WebhookDelivery:
    def __init__(self, state: State) -> None:
        self.state = state
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="devserver-webhook")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _ready(self) -> bool:
        return bool(self.state.webhook.url and self.state.updates)

    async def _run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while not self.state.closing:
                await self.state.wait(self._ready, IDLE_WAIT)
                if self.state.closing or not self._ready():
                    continue
                delivered = await self._post_first(session)
                await self.state.notify()
                if not delivered:
                    await asyncio.sleep(RETRY_DELAY)

    async def _post_first(self, session: aiohttp.ClientSession) -> bool:
        state = self.state
        update = state.updates[0]
        hook = state.webhook
        headers = {"Content-Type": "application/json"}
        if hook.secret_token:
            headers[SECRET_HEADER] = hook.secret_token
        body = json.dumps(update, ensure_ascii=False).encode("utf-8")
        try:
            async with session.post(hook.url, data=body, headers=headers) as response:
                if 200 <= response.status < 300:
                    state.updates = [u for u in state.updates if u is not update]
                    return True
                error = f"Wrong response from the webhook: {response.status} {response.reason}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = (
                "Connection refused"
                if isinstance(exc, aiohttp.ClientConnectorError)
                else (
                    "Read timeout expired" if isinstance(exc, TimeoutError) else "Connection error"
                )
            )
        hook.last_error_date = state.now()
        hook.last_error_message = error
        return False
