"""The real bot under load: the same Runtime as ``python -m bot run``, many applicants at once."""

from __future__ import annotations

import asyncio
import contextlib
import io
import math
import random
import time
import tomllib
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.process import BotProcess, bot_process
from bench.report import percentile
from bench.script import REPLY_TIMEOUT, Person, Step, intake_steps
from bench.timing import TimedServer
from bot.config import Config, load_config
from bot.crypto import Argon2Cost, MasterKey, new_recovery_key
from bot.logs import configure_logging

GROUP_CHAT_ID = -1_001_234_567_890
APPLICANT_BASE = 700_000_000
PACED_APPLICANT_BASE = 750_000_000
PEER_APPLICANT_BASE = 760_000_000
OPEN_LOOP_BASE = 800_000_000
# The same offered rates for the peer and the two unpaced echoes, each its own applicants.
PEER_OPEN_LOOP_BASE = 1_000_000_000
ECHO_OPEN_LOOP_BASE = 1_100_000_000
ECHO_DELETING_OPEN_LOOP_BASE = 1_200_000_000
EXAMPLE_CONFIG = Path(__file__).resolve().parent.parent / "config.example.toml"


@dataclass(frozen=True)
class Settings:
    """What the bot under test runs with besides pacing: as deployed, or the old fast ones."""

    fast: bool
    logging_level: str
    poll_timeout_seconds: int
    argon2: Argon2Cost

    def as_json(self) -> dict[str, Any]:
        return {
            "fast": self.fast,
            "logging_level": self.logging_level,
            "poll_timeout_seconds": self.poll_timeout_seconds,
        }


def settings(*, fast: bool = False, example: Path = EXAMPLE_CONFIG) -> Settings:
    """config.example.toml's logging level, poll timeout and Argon2id cost; with ``fast``,
    warnings only and a 1-second poll (the Argon2id floor is the example's cost already)."""
    with example.open("rb") as file:
        toml = tomllib.load(file)
    security = toml["security"]
    cost = Argon2Cost(
        iterations=int(security["argon2_iterations"]),
        memory_kib=int(security["argon2_memory_kib"]),
        lanes=int(security["argon2_lanes"]),
    )
    if fast:
        return Settings(True, "WARNING", 1, cost)
    level = str(toml["logging"]["level"])
    return Settings(False, level, int(toml["telegram"]["poll_timeout_seconds"]), cost)


def write_config(
    folder: Path, base_url: str, chosen: Settings | None = None, *, rate_limit: bool = False
) -> Path:
    chosen = chosen or settings()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.toml"
    path.write_text(
        f"""[telegram]
base_url = "{base_url}"
poll_timeout_seconds = {chosen.poll_timeout_seconds}
# Unpaced, the question is how far the bot's own work stays above Telegram's ~30 messages a
# second; paced, what the limiter lets a deployment do.
rate_limit = {"true" if rate_limit else "false"}

[storage]
database = "{folder / "bot.sqlite3"}"

[security]
recovery_public_key = "{new_recovery_key()[1]}"
argon2_memory_kib = {chosen.argon2.memory_kib}
argon2_iterations = {chosen.argon2.iterations}
argon2_lanes = {chosen.argon2.lanes}

[coordination]
group_chat_id = {GROUP_CHAT_ID}

[logging]
level = "{chosen.logging_level}"
format = "json"
""",
        encoding="utf-8",
    )
    return path


@dataclass(frozen=True)
class BenchBot:
    """A config file and the secrets ``python -m bot run`` reads from its environment."""

    path: Path
    environ: dict[str, str]

    def config(self) -> Config:
        return load_config(self.path, self.environ)


def bench_bot(
    folder: Path,
    base_url: str,
    token: str,
    chosen: Settings | None = None,
    *,
    rate_limit: bool = False,
) -> BenchBot:
    environ = {"BOT_TOKEN": token, "BOT_MASTER_KEY": MasterKey.generate().to_text()}
    return BenchBot(write_config(folder, base_url, chosen, rate_limit=rate_limit), environ)


def bench_config(folder: Path, base_url: str, token: str) -> Config:
    return bench_bot(folder, base_url, token).config()


def quiet_logs() -> None:
    """Warnings only, into a buffer: logging every update would be measured as the bot's cost."""
    configure_logging(level="WARNING", fmt="json", stream=io.StringIO())


@contextlib.asynccontextmanager
async def running_bot(
    server: TimedServer, bot: BenchBot, profile: Path | None = None, log: Path | None = None
) -> AsyncIterator[BotProcess]:
    """``python -m bot run`` in a process of its own; under cProfile with ``profile``; its
    logs (standard error) into ``log``."""
    server.state.group_chat(GROUP_CHAT_ID, "supergroup", "Coordinators")
    args = ["-m", "bot", "run", "--config", str(bot.path)]
    if profile is not None:
        args = ["-m", "cProfile", "-o", str(profile), *args]
    async with bot_process(server, args, bot.environ, log) as process:
        yield process


def database_bytes(database: Path) -> int:
    return sum(p.stat().st_size for p in database.parent.glob(database.name + "*") if p.is_file())


@dataclass
class ClosedLoop:
    people: list[Person]
    wall: float
    cpu: float  # the bot process's
    harness_cpu: float  # the local Bot API server's and the simulated people's
    completed: int
    bot_api_calls: int  # every call but getUpdates, group notices included
    calls_by_method: dict[str, int]
    group_calls: int = 0  # of those, the calls to the coordinators' group (a notice per form)
    chat_calls_by_method: dict[str, int] | None = None  # the applicants' chats only


async def closed_loop(
    server: TimedServer,
    bot: BotProcess,
    applicants: int,
    base: int = APPLICANT_BASE,
    *,
    settle: float = 0.0,
) -> ClosedLoop:
    """Every applicant completes the whole form at once, each acting as soon as it can.

    Calls are counted from the first action; with ``settle``, also those the bot still makes
    after the last reply (a tap's answer, the new-case notices the outbox sends), until it has
    been quiet for a second or ``settle`` seconds have passed. Paced, the limiter holds the
    group's notices for minutes (20 a minute): those are left out, and counted apart."""
    steps = intake_steps()
    people = [Person(server, base + i) for i in range(applicants)]
    first_call = len(server.log.timed)
    cpu, wall, harness = bot.cpu_seconds(), time.perf_counter(), time.process_time()
    outcomes = await asyncio.gather(*(p.run(steps) for p in people), return_exceptions=True)
    wall = time.perf_counter() - wall
    cpu = bot.cpu_seconds() - cpu
    harness = time.process_time() - harness
    completed = sum(1 for o in outcomes if o is None)
    if settle > 0:
        await wait_idle(server, within=settle)
    calls = [t for t in server.log.timed[first_call:] if t.method != "getUpdates"]
    by_method = Counter(t.method for t in calls)
    in_chats = Counter(t.method for t in calls if t.chat_id != GROUP_CHAT_ID)
    group = len(calls) - in_chats.total()
    return ClosedLoop(
        people,
        wall,
        cpu,
        harness,
        completed,
        by_method.total(),
        dict(by_method),
        group,
        dict(in_chats),
    )


async def offered_load(
    server: TimedServer,
    rates: Sequence[float],
    seconds: float,
    base: int,
    drain: float,
    steps: tuple[Step, ...] | None = None,
) -> list[dict[str, Any]]:
    """:func:`open_loop` at each rate in turn, a million applicant ids apart, each rate begun
    once the bot has caught up with the last."""
    rows = []
    for index, rate in enumerate(rates):
        first = base + index * 1_000_000
        rows.append(await open_loop(server, rate, seconds, first, drain, steps=steps))
        await wait_idle(server)
    return rows


def sustained(rows: list[dict[str, Any]]) -> float:
    """The most answered per second under any of the offered rates."""
    return max((row["answered_per_second"] for row in rows), default=math.nan)


KEPT_UP = 0.98  # answered per second as a share of the rate offered: the bot kept up


def kept_up_at_the_top(rows: list[dict[str, Any]]) -> bool:
    """Whether the bot answered everything at the highest rate offered: then its sustained
    figure is only a floor, the offered load's ceiling rather than the bot's."""
    if not rows:
        return False
    top = max(rows, key=lambda row: row["offered_per_second"])
    return (
        top["unanswered_within_drain"] == 0
        and top["answered_per_second"] >= KEPT_UP * top["offered_per_second"]
    )


def echo_steps(count: int) -> tuple[Step, ...]:
    """An echo's form: as many typed messages as the real form has actions, so newcomers
    arrive as often."""
    return tuple(Step(text=f"m{k}") for k in range(count))


async def open_loop(
    server: TimedServer,
    rate: float,
    seconds: float,
    first_id: int,
    drain: float,
    seed: int = 0,
    steps: tuple[Step, ...] | None = None,
) -> dict[str, Any]:
    """Actions arrive at ``rate`` per second whatever the bot does (open loop).

    Newcomers arrive at random, one tick in ``len(steps)`` on average (as people finding the
    bot would, independently of each other), so that a steady share of the load is first
    contact and one in as many is a submission; every other tick goes to the applicant who
    has waited longest for a turn, or to a newcomer if nobody is waiting. So neither the rate
    nor the mix of actions depends on how fast the bot answers: with newcomers only when
    nobody waits, a bot slowed for a moment drew a wave of newcomers, whose first steps (and,
    a form later, submissions) then came all at once. ``steps`` is the form (the real one by
    default; an echo's is typed messages only).
    """
    steps = steps or intake_steps()
    arrivals = random.Random(seed)  # noqa: S311 - a load model, not a secret
    waiting: list[asyncio.Future[None]] = []
    actions: list[asyncio.Task[asyncio.Future[float]]] = []  # each resolves once sent
    people: list[Person] = []
    tasks: list[asyncio.Task[None]] = []

    async def applicant(person: Person) -> None:
        for index, step in enumerate(steps):
            target = await person.wait_ready(step)
            if index > 0:
                turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                waiting.append(turn)
                await turn
            action = asyncio.create_task(person.act(step, target))
            actions.append(action)
            await (await action)

    interval = 1 / rate
    start = time.perf_counter()
    ticks = 0
    while (now := time.perf_counter()) - start < seconds:
        due = start + ticks * interval
        if due > now:
            await asyncio.sleep(due - now)
        ticks += 1
        if waiting and arrivals.random() >= 1 / len(steps):
            waiting.pop(0).set_result(None)
        else:
            person = Person(server, first_id + len(people))
            people.append(person)
            tasks.append(asyncio.create_task(applicant(person)))
            await asyncio.sleep(0)  # let the newcomer send its /start on this tick
    elapsed = time.perf_counter() - start
    for turn in waiting:
        turn.cancel()
    await asyncio.sleep(0)  # an applicant given the last tick takes its action
    taken = [a for a in actions if not a.done()]  # still being sent
    if taken:
        await asyncio.wait(taken)
    replies = [a.result() for a in actions if not a.cancelled() and a.exception() is None]
    pending = [reply for reply in replies if not reply.done()]
    if pending:
        await asyncio.wait(pending, timeout=drain)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    sent = sum(p.actions for p in people)
    latencies = sorted(x for p in people for x in p.latencies)
    # Past its capacity the bot works through a backlog after the offered load stops: what it
    # answered over the time it took is the rate it sustains.
    finished = max((p.last_answer_at for p in people), default=start)
    unanswered = sent - len(latencies)
    # Unanswered actions count as slower than the drain time, so p99 is not flattered.
    censored = latencies + [max(drain, *(latencies or [0.0]))] * unanswered
    censored.sort()
    for person in people:
        server.log.forget_chat(person.user_id)
    return {
        "offered_per_second": rate,
        "sent": sent,
        "sent_per_second": sent / elapsed,
        "answered": len(latencies),
        "answered_per_second": len(latencies) / max(finished - start, elapsed),
        "unanswered_within_drain": unanswered,
        "drain_seconds": drain,
        "p50_ms": percentile(censored, 50) * 1000,
        "p95_ms": percentile(censored, 95) * 1000,
        "p99_ms": percentile(censored, 99) * 1000,
    }


async def wait_idle(server: TimedServer, quiet: float = 1.0, within: float = REPLY_TIMEOUT) -> None:
    """Until the bot has caught up: no update waiting and no call for ``quiet`` seconds."""
    deadline = time.perf_counter() + within
    while time.perf_counter() < deadline:
        chats = [t.at for t in server.log.timed[-200:] if t.chat_id is not None]
        last = chats[-1] if chats else 0.0
        if not server.state.updates and time.perf_counter() - last >= quiet:
            return
        await asyncio.sleep(quiet / 4)


def per_applicant(people: list[Person], server: TimedServer) -> dict[str, float]:
    done = [p for p in people if p.latencies]
    n = max(1, len(done))
    return {
        "actions_per_intake": sum(p.actions for p in done) / n,
        "bytes_sent_per_applicant": sum(server.log.bytes_by_chat[p.user_id] for p in done) / n,
    }
