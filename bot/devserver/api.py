"""The Bot API over HTTP: ``/bot<TOKEN>/<method>`` and ``/file/bot<TOKEN>/<path>``.

Requests are authenticated, decoded and routed as api.telegram.org does it, planned faults are
applied, and every call is recorded for tests to inspect.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import traceback
from functools import partial
from typing import Any

from aiohttp import web

from bot.devserver.errors import NOT_FOUND, UNAUTHORIZED, ApiError, bad_request
from bot.devserver.faults import Fault, Faults
from bot.devserver.methods import BY_LOWER_NAME, Described
from bot.devserver.params import Params
from bot.devserver.records import ApiCall
from bot.devserver.state import State

log = logging.getLogger(__name__)
TOKEN_SHAPE = re.compile(r"\d{1,20}:[A-Za-z0-9_-]{20,}")
MAX_RECORDED_CALLS = 10_000
_dumps = partial(json.dumps, ensure_ascii=False, separators=(",", ":"))


def json_response(body: dict[str, Any], status: int = 200) -> web.Response:
    return web.json_response(body, status=status, dumps=_dumps)


def error_response(error: ApiError) -> web.Response:
    return json_response(error.payload(), status=error.error_code)


async def read_params(request: web.Request) -> Params:
    """Query string, then the body: JSON, url-encoded or multipart (files become markers)."""
    raw: dict[str, Any] = dict(request.query)
    if not request.body_exists:
        return Params(raw)
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise bad_request("can't parse JSON request body") from None
        if not isinstance(body, dict):
            raise bad_request("JSON request body must be an object")
        raw.update(body)
    elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        for key, value in form.items():
            if isinstance(value, web.FileField):
                raw[key] = {"uploaded_file": value.filename}
            else:
                raw[key] = value
    return Params(raw)


class BotApi:
    def __init__(
        self, state: State, faults: Faults, unknown_methods: frozenset[str] = frozenset()
    ) -> None:
        """``unknown_methods`` are answered as a server that predates them answers: 404."""
        self.state = state
        self.faults = faults
        self.unknown_methods = frozenset(name.lower() for name in unknown_methods)

    def routes(self) -> list[web.RouteDef]:
        return [
            web.route("*", "/bot{token}/{method}", self.handle),
            web.get("/file/bot{token}/{path:.+}", self.download),
        ]

    def _auth_error(self, token: str) -> ApiError | None:
        if token == self.state.token:
            return None
        return UNAUTHORIZED if TOKEN_SHAPE.fullmatch(token) else NOT_FOUND

    async def handle(self, request: web.Request) -> web.StreamResponse:
        refusal = self._auth_error(request.match_info["token"])
        if refusal is not None:
            return error_response(refusal)
        method = request.match_info["method"].lower()
        entry = BY_LOWER_NAME.get(method)
        if entry is None:
            return error_response(NOT_FOUND)
        if method in self.unknown_methods:
            # Recorded, unlike a misspelt method, so a test can see the bot tried it.
            self._record(entry[0], Params({}), NOT_FOUND)
            await self.state.notify()
            return error_response(NOT_FOUND)
        name, handler = entry
        try:
            params = await read_params(request)
        except ApiError as exc:
            return error_response(exc)
        fault = self.faults.take(name, params.raw().get("chat_id"))
        if fault is not None:
            faulted = await self._apply_fault(request, fault, name, params)
            if faulted is not None:
                return faulted
        try:
            result = await handler(self.state, params)
        except ApiError as exc:
            self._record(name, params, exc)
            await self.state.notify()
            return error_response(exc)
        except Exception as exc:  # noqa: BLE001 - answer 500 like Telegram, keep serving
            # Only where it broke: messages and arguments may hold what a person wrote.
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            log.error(
                "devserver bug in %s: %s at %s:%s",
                name,
                type(exc).__name__,
                frame.filename,
                frame.lineno,
            )
            failure = ApiError(500, "Internal Server Error")
            self._record(name, params, failure)
            return error_response(failure)
        self._record(name, params, None)
        await self.state.notify()
        if isinstance(result, Described):
            return json_response(
                {"ok": True, "result": result.result, "description": result.description}
            )
        return json_response({"ok": True, "result": result})

    async def _apply_fault(
        self, request: web.Request, fault: Fault, name: str, params: Params
    ) -> web.StreamResponse | None:
        if fault.delay:
            await asyncio.sleep(fault.delay)
        if fault.drop_connection:
            self._record(name, params, ApiError(0, "connection dropped"))
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError
        error = fault.error()
        if error is None:
            return None
        self._record(name, params, error)
        return error_response(error)

    def _record(self, name: str, params: Params, error: ApiError | None) -> None:
        calls = self.state.calls
        calls.append(
            ApiCall(
                method=name,
                params=params.decoded(),
                date=self.state.now(),
                ok=error is None,
                error=None if error is None else error.description,
            )
        )
        if len(calls) > MAX_RECORDED_CALLS:
            del calls[: len(calls) - MAX_RECORDED_CALLS]

    async def download(self, request: web.Request) -> web.StreamResponse:
        if self._auth_error(request.match_info["token"]) is not None:
            return error_response(NOT_FOUND)
        path = request.match_info["path"]
        for file in self.state.files.values():
            if file["file_path"] == path:
                return web.Response(body=bytes(file["file_size"]))
        return error_response(NOT_FOUND)
