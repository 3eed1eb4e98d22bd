"""python-telegram-bot's requests carried by aiohttp instead of httpx.

Every reply the bot gives is one or two Bot API calls, so the HTTP client's cost per call is most
of the bot's cost per update: measured on the benchmark, httpx with httpcore, anyio and h11 took
about two thirds of the event loop's time. aiohttp (already used by the local Bot API server)
does the same work for a fraction of it. python-telegram-bot supports this swap through
:class:`~telegram.request.BaseRequest`; this keeps its contract: timeouts raise
:class:`~telegram.error.TimedOut`, anything else from the network raises
:class:`~telegram.error.NetworkError`, and the status and body go back unparsed.
"""

from __future__ import annotations

import json
import ssl
from typing import TYPE_CHECKING

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

if TYPE_CHECKING:  # the base class's own annotation for "a number, None, or not given"
    from telegram._utils.types import ODVInput

JSON = "application/json"


def _chosen(value: ODVInput[float], default: float | None) -> float | None:
    return default if value is BaseRequest.DEFAULT_NONE else value  # type: ignore[return-value]


def _sum(*parts: float | None) -> float | None:
    return None if any(p is None for p in parts) else sum(p for p in parts if p is not None)


def tls_context() -> ssl.SSLContext:
    """Certificates checked against certifi's bundle where installed, as python-telegram-bot's
    default client does, so a slim image without the system's CA store still verifies Telegram;
    else the system's."""
    try:
        import certifi
    except ImportError:
        return ssl.create_default_context()
    return ssl.create_default_context(cafile=certifi.where())


class AiohttpRequest(BaseRequest):
    """One aiohttp session with up to ``connections`` connections to the Bot API.

    The defaults are :class:`~telegram.request.HTTPXRequest`'s: 5 s to connect, send and read,
    1 s to wait for a free connection.
    """

    def __init__(
        self,
        connections: int = 1,
        *,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
    ) -> None:
        self._connections = connections
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._connections, ssl=tls_context()),
                cookie_jar=aiohttp.DummyCookieJar(),
                headers={"User-Agent": self.USER_AGENT},
            )

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        read = _chosen(read_timeout, self._read_timeout)
        write = _chosen(write_timeout, self._write_timeout)
        connect = _chosen(connect_timeout, self._connect_timeout)
        pool = _chosen(pool_timeout, self._pool_timeout)
        # aiohttp bounds getting a connection as a whole (waiting for a free one, then
        # connecting), and has no write timeout: sending counts towards the whole request's.
        timeout = aiohttp.ClientTimeout(
            total=_sum(pool, connect, write, read),
            connect=_sum(pool, connect),
            sock_connect=connect,
            sock_read=read,
        )
        body: aiohttp.FormData | bytes | None = None
        headers = {}
        if request_data is not None and request_data.contains_files:
            body = _multipart(request_data)
        elif request_data is not None:
            # One JSON document with the values as they are: python-telegram-bot's own payload
            # encodes each parameter as JSON and then the whole again.
            body = json.dumps(request_data.parameters).encode()
            headers["Content-Type"] = JSON
        try:
            async with self._session.request(
                method, url, data=body, headers=headers, timeout=timeout
            ) as response:
                return response.status, await response.read()
        except TimeoutError as err:
            raise TimedOut from err
        except aiohttp.ClientError as err:
            raise NetworkError(f"aiohttp.{err.__class__.__name__}: {err}") from err


def _multipart(request_data: RequestData) -> aiohttp.FormData:
    form = aiohttp.FormData()
    for name, value in request_data.json_parameters.items():
        form.add_field(name, value)
    for name, (filename, content, mimetype) in request_data.multipart_data.items():
        form.add_field(name, content, filename=filename, content_type=mimetype)
    return form
