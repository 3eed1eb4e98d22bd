"""Webhook mode: Telegram's secret token is checked on every request before anything runs."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import aiohttp

from bot.crypto import MasterKey
from bot.devserver import DevServer
from tests.conftest import Applicant, running_bot

SECRET = "webhook-secret-for-tests-0123"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _update(update_id: int, user: int) -> dict[str, object]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": 1,
            "date": 1_800_000_000,
            "chat": {"id": user, "type": "private", "first_name": "X"},
            "from": {"id": user, "is_bot": False, "first_name": "X"},
            "text": "/start",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    }


async def test_webhook_mode_refuses_requests_without_the_secret(
    server: DevServer, tmp_path: Path, master_key: MasterKey
) -> None:
    port = _free_port()
    hook = f"http://127.0.0.1:{port}/hook"
    telegram = f'mode = "webhook"\nwebhook_port = {port}\nwebhook_url = "{hook}"\n'
    telegram += f'webhook_secret = "{SECRET}"\n'
    async with running_bot(server, tmp_path, master_key, telegram_extra=telegram):
        # Telegram (here the local server) delivers with the secret: the bot answers.
        person = Applicant(server, 801)
        await person.send("/start")
        assert (await person.last_text()).startswith("Hello, and welcome.")

        before = await server.messages(801, include_deleted=True)
        async with aiohttp.ClientSession() as http:
            for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong-secret-000000"}):
                body = json.dumps(_update(900_001, 801))
                async with http.post(hook, data=body, headers=headers) as response:
                    assert response.status == 403
            assert await server.messages(801, include_deleted=True) == before  # nothing ran
            right = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
            async with http.post(hook, data=json.dumps(_update(900_002, 801)), headers=right) as ok:
                assert ok.status == 200
        # The request with the right secret was handled like any update.
        last = max(m.message_id for m in before)
        reply = await server.wait_for_bot_message(801, after_id=last, timeout=10.0)
        assert reply.text is not None and reply.text.startswith("Hello, and welcome.")
