"""Shared fixtures: the real bot, polling the project's local Bot API server.

Nothing here is a stand-in: the bot is the same ``Runtime`` that ``python -m bot run`` starts,
with a real SQLite file in a temporary folder and a real master key.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import structlog

from bot.config import Config, load_config
from bot.crypto import ChatKey, MasterKey, load_recovery_key
from bot.crypto.recovery import public_text
from bot.devserver import DevServer, MessageRecord
from bot.logs import configure_logging
from bot.runtime import Runtime, open_runtime, serve
from bot.services.chats import STATE_FIELD, ChatState
from bot.store import Database
from bot.store import chats as chat_store
from bot.transport import carried
from tests.databases import opened
from tests.resting import in_process, rest

GROUP_CHAT_ID = -1_001_234_567_890
# The organisation's offline recovery key: the public half goes in every config the suite
# writes; the private half is what an operator would keep on a USB stick.
# A fixed pair: pytest may import this file twice (as ``conftest`` and ``tests.conftest``), and
# both must name the same key.
RECOVERY_PRIVATE = "recovery-private:" + "5e" * 32
RECOVERY_PUBLIC = public_text(load_recovery_key(RECOVERY_PRIVATE).public_key)

# The deployed bot runs on uvloop (``bot.eventloop``); the suite on asyncio's own loop. These
# modules run a second time on uvloop, so the intake and coordination end to end, the outbox,
# Telegram's faults and the Bot API client are also proven on the loop that runs in production.
ON_BOTH_LOOPS = (
    "test_e2e_intake.py",
    "test_e2e_coordination.py",
    "test_outbox.py",
    "test_telegram_faults.py",
    "test_http_request.py",
)


# Modules whose tests each judge one costly thing their module builds once (the seizure haul,
# the flood crowd). Run on several workers (``make unit``), each such module runs whole on one
# worker, so it is built once; every other test goes to whichever worker is free.
BUILT_ONCE = ("test_seizure.py", "test_floods.py")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class OneWorkerForWhatIsBuiltOnce(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return module if module.rsplit("/", 1)[-1] in BUILT_ONCE else nodeid

    return OneWorkerForWhatIsBuiltOnce(config, log)


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    loops: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {"asyncio": asyncio.new_event_loop}
    if item.path.name in ON_BOTH_LOOPS:
        try:
            import uvloop
        except ImportError:  # not on every platform: asyncio's loop only
            return loops
        loops["uvloop"] = uvloop.new_event_loop
    return loops


def write_config(
    folder: Path,
    base_url: str,
    extra: str = "",
    coordination_extra: str = "",
    telegram_extra: str = "",
    recovery_public: str = RECOVERY_PUBLIC,
) -> Path:
    """A config as an operator would write it, Argon2id at the floor the config allows."""
    path = folder / "config.toml"
    path.write_text(
        f"""[telegram]
base_url = "{base_url}"
poll_timeout_seconds = 1
{telegram_extra}

[storage]
database = "{folder / "bot.sqlite3"}"

[security]
recovery_public_key = "{recovery_public}"
argon2_memory_kib = 65536
argon2_iterations = 3
argon2_lanes = 4

[coordination]
group_chat_id = {GROUP_CHAT_ID}
case_view_ttl_seconds = 10
{coordination_extra}
{extra}
""",
        encoding="utf-8",
    )
    return path


@dataclass
class RunningBot:
    server: DevServer
    config: Config
    runtime: Runtime
    master_key: MasterKey
    folder: Path


@contextlib.asynccontextmanager
async def running_bot(
    server: DevServer,
    folder: Path,
    master_key: MasterKey,
    extra: str = "",
    coordination_extra: str = "",
    telegram_extra: str = "",
    recovery_public: str = RECOVERY_PUBLIC,
    clock: Callable[[], float] = time.time,
) -> AsyncIterator[RunningBot]:
    """The bot polling ``server``; with ``clock`` (the server's, say), its time is the test's."""
    environ = {"BOT_TOKEN": server.token, "BOT_MASTER_KEY": master_key.to_text()}
    path = write_config(
        folder, server.base_url, extra, coordination_extra, telegram_extra, recovery_public
    )
    config = load_config(path, environ)
    stop = asyncio.Event()
    async with open_runtime(config, clock=clock) as runtime:
        task = asyncio.create_task(serve(runtime, stop))
        try:
            await _until_polling(runtime, task)
            with in_process(server, runtime):
                yield RunningBot(server, config, runtime, master_key, folder)
        finally:
            stop.set()
            await task


async def chat_state(bot: RunningBot, user_id: int) -> ChatState:
    """What the bot keeps of a chat whose key it holds, read back through that key."""
    intake = bot.runtime.intake
    chat = intake._known(user_id)
    assert chat is not None, "the bot holds no key for this chat"
    return await intake._read_state(chat)


async def phone_state(server: DevServer, db: Database, user_id: int) -> ChatState:
    """A chat's state opened with the key its phone holds (a button's data, or the link on a
    typed question): what only someone holding both the phone and the database could read."""
    for message in reversed(await server.messages(user_id)):
        tokens = [carried.split_callback(d)[1] for d in message.callback_data]
        tokens += [
            str(e["url"]).split("start=", 1)[1]
            for e in message.entities
            if "start=" in str(e.get("url"))
        ]
        for token in tokens:
            key = ChatKey.from_token(token) if token else None
            if key is None:
                continue
            name = key.row_name(user_id)
            raw = await chat_store.read_state(db.conn, name, now=int(time.time()))
            if raw is not None:
                return ChatState.load(key.open(raw, row=name, field=STATE_FIELD))
    raise AssertionError("no key on the phone opens a chat's state")


async def until(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:  # noqa: ASYNC109
    """Poll a condition the local server's waiters cannot see change (a fault's count, the
    bot's own state) until it holds; fail with ``what`` if it never does."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, what
        await asyncio.sleep(0.005)


async def wait_for_text(server: DevServer, chat: int, needle: str) -> str:
    """The newest message the bot shows in ``chat`` containing ``needle``, once there is one."""

    async def found() -> str | None:
        for message in reversed(await server.messages(chat)):
            if message.from_bot and message.text and needle in message.text:
                return message.text
        return None

    return await server.wait_for(found, timeout=15.0)


async def _until_polling(runtime: Runtime, task: asyncio.Task[None]) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10.0
    while not (runtime.app.updater and runtime.app.updater.running):
        if task.done():
            task.result()  # start-up failed: raise its error here
        if loop.time() > deadline:
            raise TimeoutError("the bot did not start polling")
        await asyncio.sleep(0.02)


@pytest.fixture
async def server() -> AsyncIterator[DevServer]:
    async with DevServer() as dev:
        yield dev


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    """A fresh database file, migrated, closed after the test."""
    async with opened(tmp_path / "bot.sqlite3") as database:
        yield database


@pytest.fixture
def master_key() -> MasterKey:
    return MasterKey.generate()


@pytest.fixture
async def bot(
    server: DevServer, tmp_path: Path, master_key: MasterKey
) -> AsyncIterator[RunningBot]:
    async with running_bot(server, tmp_path, master_key) as running:
        yield running


class Applicant:
    """A simulated person in a private chat with the bot, acting as a phone would.

    Like Telegram's phone apps, it answers a message sent with ForceReply in the reply field,
    so what it types next is a reply to that message; ``drops_force_reply`` plays a client that
    ignores the request (some desktop and web clients)."""

    def __init__(
        self,
        server: DevServer,
        user_id: int,
        language_code: str | None = None,
        *,
        drops_force_reply: bool = False,
    ) -> None:
        self.server = server
        self.user_id = user_id
        self.language_code = language_code
        self.drops_force_reply = drops_force_reply
        self.last_toast: str | None = None

    async def send(self, text: str) -> None:
        """Type a message and wait for the bot's answer to it (every message gets one)."""
        reply_to = None
        if not self.drops_force_reply:
            shown = [m for m in await self.visible() if m.from_bot]
            if shown and shown[-1].force_reply:
                reply_to = shown[-1].message_id
        sent = await self.server.send_text(
            self.user_id,
            text,
            first_name="Test",
            language_code=self.language_code,
            reply_to_message_id=reply_to,
        )
        await self.server.wait_for_bot_message(
            self.user_id, after_id=sent["message_id"], timeout=10.0
        )
        await self.at_rest()

    async def tap(self, label: str) -> None:
        message = await self.message_with_button(label)
        data = next(b["callback_data"] for b in message.buttons if b["text"] == label)
        assert data is not None
        query = await self.server.press_button(self.user_id, message.message_id, data)
        # The bot answers a tap after it has shown what follows: that is the sign it is done.
        answer = await self.server.wait_for_callback_answer(query, timeout=10.0)
        await self.at_rest()
        self.last_toast = answer.text

    async def tap_link(self) -> None:
        """Tap the link on the first line of the bot's newest message that has one: the bot's
        own deep link, which a phone turns into ``/start`` and the link's parameter."""
        for message in reversed(await self.visible()):
            links = [e for e in message.entities if e.get("type") == "text_link"]
            if message.from_bot and links:
                start = str(links[0]["url"]).split("start=", 1)[1]
                await self.send(f"/start {start}")
                return
        raise AssertionError("no message of the bot carries a link")

    async def press_data(self, message_id: int, data: str) -> None:
        query = await self.server.forge_callback(self.user_id, message_id, data)
        await self.server.wait_for_callback_answer(query, timeout=10.0)
        await self.at_rest()

    async def at_rest(self) -> None:
        """Until the bot has finished what the last action caused (``rest``)."""
        await rest(self.server)

    async def message_with_button(self, label: str) -> MessageRecord:
        for message in reversed(await self.visible()):
            if any(b["text"] == label for b in message.buttons):
                return message
        texts = [m.text for m in await self.visible()]
        raise AssertionError(f"no visible button {label!r}; chat shows {texts}")

    async def visible(self) -> list[MessageRecord]:
        return await self.server.messages(self.user_id)

    async def bot_texts(self) -> list[str]:
        return [m.text or "" for m in await self.visible() if m.from_bot]

    async def last_text(self) -> str:
        texts = await self.bot_texts()
        assert texts, "the bot has shown nothing"
        return texts[-1]


Configure = Callable[..., io.StringIO]
_LIBRARIES = (
    "httpx",
    "httpcore",
    "hpack",
    "aiosqlite",
    "aiohttp.access",
    "aiohttp.client",
    "telegram",
    "asyncio",
)


@pytest.fixture
def configure() -> Iterator[Configure]:
    """Configure logging into a fresh buffer; put everything back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    levels = {name: logging.getLogger(name).level for name in _LIBRARIES}
    saved = structlog.get_config()

    def setup(fmt: str = "json", level: str = "INFO") -> io.StringIO:
        stream = io.StringIO()
        configure_logging(level=level, fmt=fmt, stream=stream)  # type: ignore[arg-type]
        return stream

    yield setup
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    for name, old in levels.items():
        logging.getLogger(name).setLevel(old)
    logging.captureWarnings(False)
    structlog.contextvars.clear_contextvars()
    structlog.configure(**saved)
