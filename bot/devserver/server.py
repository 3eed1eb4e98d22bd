"""The development server: one object that is Telegram for the bot and for the test.

The bot reaches it over HTTP exactly as it reaches api.telegram.org (point python-telegram-bot's
``base_url`` at :attr:`DevServer.base_url`); tests drive simulated users either in-process
(methods of this object) or from another process through :class:`bot.devserver.client.DevClient`.
"""

from __future__ import annotations

from collections.abc import Iterable
from types import TracebackType
from typing import TYPE_CHECKING

from aiohttp import web

from bot.devserver.api import TOKEN_SHAPE, BotApi
from bot.devserver.clock import Clock
from bot.devserver.control import ControlApi
from bot.devserver.faults import Faults
from bot.devserver.state import State
from bot.devserver.users import UserActions
from bot.devserver.views import Readers
from bot.devserver.waiting import WaitHelpers
from bot.devserver.webhook import WebhookDelivery

if TYPE_CHECKING:
    from bot.devserver.protocol import Simulator

DEFAULT_TOKEN = "123456789:AAdevserverTokenNotValidAnywhere0000"  # noqa: S105 - a dummy
SHUTDOWN_TIMEOUT = 2.0
MAX_UPLOAD = 50 * 1024 * 1024  # Telegram's limit for files a bot uploads


class DevServer(UserActions, Readers, WaitHelpers):
    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        bot_username: str = "intake_bot",
        bot_name: str = "Intake",
        group_privacy: bool = True,
        clock_start: float | None = None,
        callback_timeout: float = 15.0,
        unknown_methods: Iterable[str] = (),
    ) -> None:
        """``clock_start`` freezes the clock at that unix time (it then moves only by
        ``advance``); by default it follows the wall clock plus whatever was advanced.

        ``unknown_methods`` (such as ``deleteMessages``, new in Bot API 7.0) are answered 404 Not
        Found, as a self-hosted Bot API server older than the method answers them."""
        if not TOKEN_SHAPE.fullmatch(token):
            raise ValueError("token must look like a Telegram bot token: <digits>:<secret>")
        self.clock = Clock(clock_start)
        self.state = State(
            token=token,
            bot_username=bot_username,
            bot_name=bot_name,
            clock=self.clock,
            group_privacy=group_privacy,
            callback_timeout=callback_timeout,
        )
        self.faults = Faults()
        self.unknown_methods = frozenset(unknown_methods)
        self._webhook = WebhookDelivery(self.state)
        self._runner: web.AppRunner | None = None
        self._host = ""
        self._port = 0

    # --- lifecycle ---------------------------------------------------------------------------

    def _app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_UPLOAD)
        app.add_routes(BotApi(self.state, self.faults, self.unknown_methods).routes())
        app.add_routes(ControlApi(self).routes())
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        if self._runner is not None:
            raise RuntimeError("the server is already running")
        # No access log: request paths carry the bot token.
        runner = web.AppRunner(self._app(), access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runner = runner
        self._host = host
        self._port = int(runner.addresses[0][1])
        self.state.closing = False
        self._webhook.start()

    async def stop(self) -> None:
        if self._runner is None:
            return
        self.state.closing = True
        await self.state.notify()  # long polls return at once
        await self._webhook.stop()
        await self._runner.cleanup()
        self._runner = None

    async def __aenter__(self) -> DevServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def token(self) -> str:
        return self.state.token

    @property
    def bot_id(self) -> int:
        return self.state.bot.id

    @property
    def port(self) -> int:
        if self._runner is None:
            raise RuntimeError("the server is not running")
        return self._port

    @property
    def http_url(self) -> str:
        """Root of the server, e.g. ``http://127.0.0.1:8081``; DevClient takes this."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """What python-telegram-bot takes as ``base_url``: the token is appended to it."""
        return f"{self.http_url}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.http_url}/file/bot"

    # --- faults ------------------------------------------------------------------------------

    async def inject_fault(
        self,
        method: str,
        *,
        error_code: int | None = 429,
        retry_after: int | None = None,
        description: str | None = None,
        times: int = 1,
        delay: float | None = None,
        drop_connection: bool = False,
    ) -> None:
        """Make the next ``times`` calls of ``method`` ("*" for any) fail.

        ``delay`` seconds pass first; then the connection is dropped, or the call fails with
        ``error_code`` (429 carries ``retry_after``, default 1), or with ``error_code=None``
        it goes through normally, only late.
        """
        self.faults.add(
            method,
            error_code=error_code,
            retry_after=retry_after,
            description=description,
            times=times,
            delay=delay,
            drop_connection=drop_connection,
        )

    async def clear_faults(self) -> None:
        self.faults.clear()


if TYPE_CHECKING:

    def _conforms(server: DevServer) -> Simulator:
        return server
