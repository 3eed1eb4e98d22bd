"""Floods: one person sending thousands of messages, and thousands of people writing at once.

The flooder must be slowed, not the bot: someone else's answers keep arriving while the flood
goes on. And what the bot keeps in memory per person stays within a fixed bound, however many
people write: the flood limiters forget the oldest entries, and nothing else grows with them.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import sys
from collections.abc import AsyncIterator, Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.config import load_config
from bot.crypto import MasterKey
from bot.devserver import DevClient, DevServer
from bot.devserver.server import DEFAULT_TOKEN
from bot.devserver.settle import settle
from bot.runtime import Runtime, open_runtime, serve
from bot.services.limits import AttemptLimiter
from bot.transport.applicant import FLOOD_WINDOW_SECONDS
from tests.conftest import Applicant, running_bot, write_config
from tests.intake_driver import CATALOG, answer_one, begin, default_questionnaire, default_route
from tests.resting import QUIET

Q = default_questionnaire()
PROJECT_ROOT = Path(__file__).resolve().parent.parent
SLOW_DOWN = CATALOG.text(None, "slow_down")
WELCOME = CATALOG.text(None, "welcome")
RESUME = CATALOG.text(None, "resume")

# --- one person floods, another fills in the questionnaire meanwhile -------------------------

FLOODER = 530_000_001
NEIGHBOUR = 530_000_002
FLOOD_BURST = 2_000  # sent at once, so the neighbour's first message waits behind all of them
FLOOD_AT_LEAST = 3_000
FLOOD_AT_MOST = 20_000  # a cap, should the neighbour stall
FLOOD_CHUNK = 25
STEPS_ANSWERED = 3


class BusyChatApplicant(Applicant):
    """Waits for their own chat to come to rest, not the whole server, which a flood keeps
    busy: ``settle`` would never see a quiet moment."""

    async def at_rest(self, quiet_polls: int = 4, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        last: list[tuple[Any, ...]] | None = None
        unchanged = 0
        while unchanged < quiet_polls:
            if loop.time() > deadline:
                raise TimeoutError("the applicant's chat did not come to rest")
            shown = [
                (m.message_id, m.text, m.edit_date, m.deleted)
                for m in await self.server.messages(self.user_id, include_deleted=True)
            ]
            unchanged = unchanged + 1 if shown == last else 0
            last = shown
            await asyncio.sleep(QUIET / quiet_polls)


async def test_a_flooder_is_slowed_while_a_neighbour_is_answered(
    server: DevServer, tmp_path: Path, master_key: MasterKey
) -> None:
    async with running_bot(server, tmp_path, master_key) as bot:
        per_window = bot.config.intake.flood_messages_per_minute
        loop = asyncio.get_running_loop()
        started = loop.time()
        neighbour_done = asyncio.Event()
        sent = 0

        async def flood() -> None:
            nonlocal sent
            burst = FLOOD_BURST
            while sent < FLOOD_AT_MOST and not (neighbour_done.is_set() and sent >= FLOOD_AT_LEAST):
                for _ in range(burst):
                    await server.send_text(FLOODER, f"message {sent}", first_name="Flood")
                    sent += 1
                burst = FLOOD_CHUNK
                await asyncio.sleep(0.01)  # let the bot and the neighbour have the loop

        neighbour = BusyChatApplicant(server, NEIGHBOUR)
        route = default_route(Q)

        async def fill_in() -> None:
            try:
                await begin(neighbour)
                for qid in route[:STEPS_ANSWERED]:
                    await answer_one(neighbour, Q, qid, "en")
            finally:
                neighbour_done.set()

        flooding = asyncio.create_task(flood())
        try:
            await fill_in()
        finally:
            await flooding  # ends soon after the neighbour is done, or gave up
        await settle(server, quiet=QUIET, timeout=60.0)
        elapsed = loop.time() - started

        # The neighbour was answered all along, and is at the next question.
        assert CATALOG.localize("en", Q.question(route[STEPS_ANSWERED]).text) in (
            await neighbour.last_text()
        )
        # The flood went on while the neighbour was being answered.
        assert sent >= FLOOD_AT_LEAST
        # The flooder was read at most flood_messages_per_minute times a minute, and told once
        # a minute to slow down; every other message was dropped unread.
        windows = int(elapsed // FLOOD_WINDOW_SECONDS) + 1
        replies = [m for m in await server.messages(FLOODER, include_deleted=True) if m.from_bot]
        warnings = [m for m in replies if m.text == SLOW_DOWN]
        assert 1 <= len(warnings) <= windows
        assert len(replies) <= (per_window + 1) * windows
        assert len(replies) * 50 < sent


# --- thousands of people, each writing twice -------------------------------------------------

LIMITER_BOUND = 200  # instead of 50,000, so a couple of thousand people show the eviction
BATCH = 100  # people writing at the same time; below the bound, so none is forgotten mid-batch
WARM_UP_PEOPLE = 2 * LIMITER_BOUND
MEASURED_PEOPLE = 1_600
CHECK_EVERY = 400
HEAP_SLACK = 256 * 1024  # bytes; a constant (buffers, caches), not per person
# Connections to Telegram kept open for sending (about 6 KB each), instead of 256: the first
# batch fills this many, so the pool is whole before the heap is first measured. The full
# pool fills only as far as a crowd's calls ever overlap, which would show as growth.
SEND_POOL = 32
BURST = 600
CONCURRENT_UPDATES = 256  # python-telegram-bot's default with concurrent_updates(True)
GET_UPDATES_LIMIT = 100
FIRST_PERSON = 700_000_000
NEWCOMER = 699_999_999


class WatchedLimiter(AttemptLimiter):
    """The real limiter, noting the largest its table ever was."""

    def __init__(self, limit: int, window: float, *, max_keys: int = LIMITER_BOUND) -> None:
        super().__init__(limit, window, max_keys=LIMITER_BOUND)
        self.peak = 0

    def allow(self, key: Hashable, now: float) -> bool:
        allowed = super().allow(key, now)
        self.peak = max(self.peak, len(self._seen))
        return allowed

    def size(self) -> int:
        return len(self._seen)


@dataclass
class ManyPeople:
    """What the crowd left behind, for the tests below to judge."""

    people: int = 0
    limiters: list[WatchedLimiter] = field(default_factory=list)
    heap: list[int] = field(default_factory=list)  # bytes, after warm-up and every CHECK_EVERY
    framework_ids: list[int] = field(default_factory=list)  # at the same moments
    answers: dict[int, list[str]] = field(default_factory=dict)  # sampled person -> bot texts
    backlog_peak: int = 0  # most updates taken from Telegram and not yet handled, at once
    newcomer: str = ""  # the answer to a newcomer's /start, after the crowd


def python_heap(excluded: tuple[set[int], ...]) -> int:
    """Bytes held by the objects the garbage collector tracks and the plain values (numbers,
    strings, bytes) they hold directly; the ``excluded`` sets (and their numbers) are left out
    so they can be judged on their own."""
    gc.collect()
    total = 0
    for obj in gc.get_objects():
        total += sys.getsizeof(obj)
        for ref in gc.get_referents(obj):
            if not gc.is_tracked(ref):
                total += sys.getsizeof(ref)
    for kept in excluded:
        total -= sys.getsizeof(kept) + sum(sys.getsizeof(i) for i in kept)
    return total


def framework_id_sets(runtime: Runtime) -> tuple[set[int], set[int]]:
    """python-telegram-bot notes every chat and user id it handles for its persistence, and
    only a persistence run empties these sets; the bot has no persistence."""
    app = runtime.app
    return app._chat_ids_to_be_updated_in_persistence, app._user_ids_to_be_updated_in_persistence


def updates_in_hand() -> int:
    """Updates the bot has taken from Telegram and not finished: one task each, holding the
    update, waiting for a turn or being handled."""
    return sum(
        1
        for task in asyncio.all_tasks()
        if task.get_name().endswith(":process_concurrent_update") and not task.done()
    )


@contextlib.asynccontextmanager
async def telegram_elsewhere(log: Path) -> AsyncIterator[tuple[DevClient, str]]:
    """The local Bot API server in its own process, so this process's heap is the bot's."""
    env = {**os.environ, "DEVSERVER_TOKEN": DEFAULT_TOKEN}
    with log.open("wb") as errors:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.devserver",
            "--port",
            "0",
            stdout=asyncio.subprocess.PIPE,
            stderr=errors,
            env=env,
            cwd=PROJECT_ROOT,
        )
        try:
            assert process.stdout is not None
            line = await asyncio.wait_for(process.stdout.readline(), timeout=30)
            base_url = line.decode().strip()
            assert base_url.endswith("/bot"), "the devserver did not start"
            async with DevClient(base_url.removesuffix("/bot")) as client:
                yield client, base_url
        finally:
            process.terminate()
            await asyncio.wait_for(process.wait(), timeout=10)


@contextlib.asynccontextmanager
async def bot_at(base_url: str, folder: Path, **config: str) -> AsyncIterator[Runtime]:
    """The real bot, as ``running_bot`` starts it, for a server in another process."""
    path = write_config(folder, base_url, **config)
    environ = {"BOT_TOKEN": DEFAULT_TOKEN, "BOT_MASTER_KEY": MasterKey.generate().to_text()}
    stop = asyncio.Event()
    async with open_runtime(load_config(path, environ)) as runtime:
        task = asyncio.create_task(serve(runtime, stop))
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 10.0
            while not (runtime.app.updater and runtime.app.updater.running):
                if task.done():
                    task.result()
                assert loop.time() < deadline, "the bot did not start polling"
                await asyncio.sleep(0.02)
            yield runtime
        finally:
            stop.set()
            await task


async def _crowd(folder: Path, made: list[WatchedLimiter]) -> ManyPeople:
    seen = ManyPeople(limiters=made)
    async with (
        telegram_elsewhere(folder / "devserver.log") as (client, base_url),
        bot_at(
            base_url,
            folder,
            # One message a minute, so each person's second message is dropped and answered
            # with one warning: both limiter tables get an entry per person.
            extra="[intake]\nflood_messages_per_minute = 1",
            # Telegram's send-rate limiter only paces replies (30 a second; it keeps state for
            # groups, not for people); here it would just make the test minutes long.
            telegram_extra="rate_limit = false",
        ) as runtime,
    ):
        ids = framework_id_sets(runtime)

        async def write_twice(person: int) -> None:
            await client.send_text(person, "hello", first_name="Crowd")
            await client.send_text(person, "hello again", first_name="Crowd")

        async def batch() -> None:
            first = FIRST_PERSON + seen.people
            people = range(first, first + BATCH)
            await asyncio.gather(*(write_twice(p) for p in people))
            seen.people += BATCH
            await settle(client, quiet=0.05, timeout=60.0)
            await runtime.app.update_queue.join()  # every update fetched is handled
            for person in (people[0], people[-1]):
                seen.answers[person] = [m.text or "" for m in await client.bot_messages(person)]

        while seen.people < WARM_UP_PEOPLE:
            await batch()
        seen.heap.append(python_heap(ids))
        seen.framework_ids.append(len(ids[1]))
        while seen.people < WARM_UP_PEOPLE + MEASURED_PEOPLE:
            await batch()
            if (seen.people - WARM_UP_PEOPLE) % CHECK_EVERY == 0:
                seen.heap.append(python_heap(ids))
                seen.framework_ids.append(len(ids[1]))

        # A burst: many people at the same moment, more than the bot can answer at once. What
        # it cannot handle yet should wait with Telegram, not in the bot's memory.
        handled = asyncio.Event()

        async def sample_backlog() -> None:
            while not handled.is_set():
                seen.backlog_peak = max(seen.backlog_peak, updates_in_hand())
                await asyncio.sleep(0.01)

        sampler = asyncio.create_task(sample_backlog())
        first = FIRST_PERSON + seen.people
        await asyncio.gather(
            *(client.send_text(p, "hello", first_name="Crowd") for p in range(first, first + BURST))
        )
        seen.people += BURST
        await settle(client, quiet=0.05, timeout=60.0)
        await runtime.app.update_queue.join()
        handled.set()
        await sampler

        # Someone new is still answered at once.
        sent = await client.send_text(NEWCOMER, "/start", first_name="New")
        welcome = await client.wait_for_bot_message(
            NEWCOMER, after_id=sent["message_id"], timeout=10.0
        )
        seen.newcomer = welcome.text or ""
    return seen


@pytest.fixture(scope="module")
def crowd(tmp_path_factory: pytest.TempPathFactory) -> ManyPeople:
    """Run the crowd once, in a loop of its own; the tests below each judge one thing it left
    behind. The bot builds its limiters with the small bound, through their constructor, and
    keeps a smaller pool of connections to Telegram."""
    made: list[WatchedLimiter] = []

    def watched(limit: int, window: float, *, max_keys: int = LIMITER_BOUND) -> AttemptLimiter:
        limiter = WatchedLimiter(limit, window, max_keys=max_keys)
        made.append(limiter)
        return limiter

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("bot.transport.applicant.AttemptLimiter", watched)
        # The tables kept per chat in memory (keys, what waits for a key, what is to be
        # erased), at the same small bound.
        for table in ("chats.MAX_KEYS", "chats.MAX_WAITING_CHATS", "erasures.MAX_CHATS"):
            patch.setattr(f"bot.services.{table}", LIMITER_BOUND)
        patch.setattr("bot.transport.framework.SEND_CONNECTIONS", SEND_POOL)
        return asyncio.run(_crowd(tmp_path_factory.mktemp("crowd"), made))


def test_the_flood_limiters_forget_the_oldest_and_never_exceed_their_bound(
    crowd: ManyPeople,
) -> None:
    assert crowd.people == WARM_UP_PEOPLE + MEASURED_PEOPLE + BURST
    # The flood limiter, the once-a-minute warning, and erasing's own (nobody erased here).
    flood, erasing, warning = crowd.limiters
    for limiter in (flood, warning):
        assert limiter.peak == LIMITER_BOUND  # filled up, then only ever evicted
        assert limiter.size() == LIMITER_BOUND
    assert erasing.peak == 0


def test_everyone_in_the_crowd_is_slowed_alike_and_a_newcomer_is_answered(
    crowd: ManyPeople,
) -> None:
    assert len(crowd.answers) == 2 * ((WARM_UP_PEOPLE + MEASURED_PEOPLE) // BATCH)
    for texts in crowd.answers.values():
        # The first message is read (the bot holds no key for a chat that did not /start: it
        # asks for a tap, or /start), the second is dropped with one warning; the warning may
        # well arrive first, as it needs no database.
        assert len(texts) == 2 and SLOW_DOWN in texts
        assert next(t for t in texts if t != SLOW_DOWN) == RESUME
    assert crowd.newcomer.startswith(WELCOME)
    assert crowd.backlog_peak > 0  # the burst was seen being handled


def test_the_heap_does_not_grow_with_the_number_of_people(crowd: ManyPeople) -> None:
    """From the warm-up on, MEASURED_PEOPLE more people leave less than a constant behind: a
    table that kept a few hundred bytes per person would exceed it several times over."""
    baseline = crowd.heap[0]
    assert len(crowd.heap) == 1 + MEASURED_PEOPLE // CHECK_EVERY
    growth = max(crowd.heap) - baseline
    assert growth < HEAP_SLACK, f"the heap grew by {growth} bytes over {MEASURED_PEOPLE} people"


def test_the_framework_keeps_no_list_of_everyone_who_wrote(crowd: ManyPeople) -> None:
    """python-telegram-bot marks every chat and user id for persistence; without one, nothing
    empties those two sets, which would grow by every person and list everyone who wrote. The
    bot's Application class does not mark them (``bot.transport.framework``)."""
    assert max(crowd.framework_ids) == 0


def test_a_burst_waits_with_telegram_not_in_the_bots_memory(crowd: ManyPeople) -> None:
    """With ``concurrent_updates`` the Application turns each fetched update into a task at
    once, and the Updater fetches again straight away; the bot answers a few dozen new people
    a second at best (Telegram's send limit), so a larger crowd would pile up in memory. The
    bot's update queue makes polling wait while 256 updates are in hand, so the backlog stays
    with Telegram (``bot.transport.framework``)."""
    assert 0 < crowd.backlog_peak <= CONCURRENT_UPDATES + GET_UPDATES_LIMIT
