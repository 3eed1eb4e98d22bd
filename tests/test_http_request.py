"""The aiohttp carrier keeps python-telegram-bot's request contract, against a real HTTP server.

What the bot relies on: parameters arrive as Telegram reads them, Telegram's errors become the
library's exceptions, a request that outlasts its timeout is TimedOut (so the outbox and the
delivery retry rather than give up), and a server that cannot be reached is a NetworkError.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile
from telegram.error import BadRequest, NetworkError, RetryAfter, TimedOut
from telegram.request import RequestData
from telegram.request._requestparameter import RequestParameter

from bot.transport.http import AiohttpRequest, tls_context


@dataclass
class Seen:
    content_type: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    user_agent: str = ""


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, Seen]]:
    seen = Seen()

    async def ok(request: web.Request) -> web.Response:
        seen.content_type = request.content_type
        seen.user_agent = request.headers.get("User-Agent", "")
        if request.content_type == "application/json":
            seen.params = await request.json()
        else:
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    seen.files[key] = value.file.read()
                else:
                    seen.params[key] = value
        return web.json_response({"ok": True, "result": True})

    async def refused(_: web.Request) -> web.Response:
        body = {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}
        return web.json_response(body, status=400)

    async def limited(_: web.Request) -> web.Response:
        body = {"ok": False, "error_code": 429, "parameters": {"retry_after": 7}}
        return web.json_response(body, status=429)

    async def slow(_: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.json_response({"ok": True, "result": True})

    app = web.Application()
    app.router.add_post("/ok", ok)
    app.router.add_post("/refused", refused)
    app.router.add_post("/limited", limited)
    app.router.add_post("/slow", slow)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}", seen
    await runner.cleanup()


@pytest.fixture
async def request_() -> AsyncIterator[AiohttpRequest]:
    request = AiohttpRequest(4, read_timeout=0.5)
    await request.initialize()
    yield request
    await request.shutdown()


def _data(**params: Any) -> RequestData:
    return RequestData([RequestParameter.from_input(k, v) for k, v in params.items()])


async def test_parameters_arrive_as_telegram_reads_them(
    server: tuple[str, Seen], request_: AiohttpRequest
) -> None:
    base, seen = server
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("ဟုတ်ကဲ့", callback_data="c:y")]])
    result = await request_.post(
        f"{base}/ok", _data(chat_id=42, text="မင်္ဂလာပါ", reply_markup=markup)
    )
    assert result is True
    assert seen.content_type == "application/json"
    assert seen.params["chat_id"] == 42
    assert seen.params["text"] == "မင်္ဂလာပါ"
    assert seen.params["reply_markup"]["inline_keyboard"][0][0]["text"] == "ဟုတ်ကဲ့"
    assert seen.user_agent.startswith("python-telegram-bot")


async def test_a_file_goes_as_multipart(server: tuple[str, Seen], request_: AiohttpRequest) -> None:
    base, seen = server
    upload = InputFile(b"case export", filename="case.txt", attach=True)
    await request_.post(f"{base}/ok", _data(chat_id=42, document=upload))
    assert seen.content_type == "multipart/form-data"
    assert seen.params["chat_id"] == "42"
    assert list(seen.files.values()) == [b"case export"]


async def test_telegrams_errors_become_the_librarys(
    server: tuple[str, Seen], request_: AiohttpRequest
) -> None:
    base, _ = server
    with pytest.raises(BadRequest, match="Chat not found"):
        await request_.post(f"{base}/refused", _data(chat_id=1))
    with pytest.raises(RetryAfter, match="Retry in 7 seconds"):
        await request_.post(f"{base}/limited", _data(chat_id=1))


async def test_a_reply_slower_than_the_read_timeout_is_timed_out(
    server: tuple[str, Seen], request_: AiohttpRequest
) -> None:
    base, _ = server
    with pytest.raises(TimedOut):
        await request_.post(f"{base}/slow", _data(chat_id=1))
    # A per-call timeout overrides the default one (the outbox waits longer than a reply does).
    assert await request_.post(f"{base}/slow", _data(chat_id=1), read_timeout=5) is True


async def test_waiting_for_a_free_connection_is_bounded(server: tuple[str, Seen]) -> None:
    base, _ = server
    # aiohttp bounds getting a connection as a whole: waiting for one plus connecting.
    request = AiohttpRequest(1, read_timeout=5, pool_timeout=0.1, connect_timeout=0.1)
    await request.initialize()
    try:
        hanging = asyncio.create_task(request.post(f"{base}/slow", _data(chat_id=1)))
        await asyncio.sleep(0.2)
        with pytest.raises(TimedOut):
            await request.post(f"{base}/ok", _data(chat_id=1))
        assert await hanging is True
    finally:
        await request.shutdown()


async def test_an_unreachable_server_is_a_network_error(request_: AiohttpRequest) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(NetworkError) as raised:
        await request_.post(f"http://127.0.0.1:{port}/ok", _data(chat_id=1))
    assert not isinstance(raised.value, TimedOut)


async def test_it_is_used_only_between_initialize_and_shutdown(server: tuple[str, Seen]) -> None:
    base, _ = server
    request = AiohttpRequest()
    with pytest.raises(RuntimeError, match="not initialized"):
        await request.do_request(f"{base}/ok", "POST")
    await request.initialize()
    await request.initialize()  # twice is harmless
    assert await request.post(f"{base}/ok", _data(chat_id=1)) is True
    await request.shutdown()
    await request.shutdown()
    assert request.read_timeout == 5.0


def test_telegrams_certificate_is_checked() -> None:
    context = tls_context()
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.get_ca_certs()  # a bundle is loaded, not an empty store
