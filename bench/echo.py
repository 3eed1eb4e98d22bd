"""The framework's ceiling: an Application that only echoes, built like the real bot's.

Built by ``bot.transport.framework.new_application`` like the real bot (base URL, concurrent
updates, the rate limiter), so the gap between this and the real bot is the bot's own work.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import time
from collections.abc import Sequence
from typing import Any

from telegram import Update
from telegram.ext import (
    Application,
    ContextTypes,
    MessageHandler,
    filters,
)

from bench.load import echo_steps, kept_up_at_the_top, offered_load, sustained
from bench.process import bot_process
from bench.report import percentile
from bench.script import Person, Step
from bench.timing import TimedServer
from bot import eventloop
from bot.transport.framework import new_application

ECHO_USER_BASE = 600_000_000


async def _echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is not None and message.text is not None:
        await context.bot.send_message(message.chat_id, message.text)


async def _echo_and_delete(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The least a bot that clears the chat can do: answer, then delete what was answered."""
    message = update.effective_message
    if message is not None and message.text is not None:
        await context.bot.send_message(message.chat_id, message.text)
        await context.bot.delete_messages(message.chat_id, [message.message_id])


def build_echo(
    base_url: str, token: str, *, rate_limiter: bool = True, deleting: bool = False
) -> Application:  # type: ignore[type-arg]
    app = new_application(token, base_url, rate_limit=rate_limiter)
    app.add_handler(MessageHandler(filters.TEXT, _echo_and_delete if deleting else _echo))
    return app


def echo_args(server: TimedServer, *, rate_limiter: bool, deleting: bool) -> list[str]:
    flags = ["--rate-limit"] if rate_limiter else []
    flags += ["--deleting"] if deleting else []
    return ["-m", "bench.echo", "--base-url", server.base_url, *flags]


async def measure_echo(
    server: TimedServer,
    users: int,
    messages: int,
    *,
    rate_limiter: bool,
    base: int,
    deleting: bool = False,
    rates: Sequence[float] = (),
    seconds: float = 0.0,
    drain: float = 0.0,
    open_base: int = 0,
    form_steps: int = 15,
) -> dict[str, Any]:
    """``users`` people each send ``messages`` texts, each waiting for the echo (closed loop);
    then, with ``rates``, the real bot's offered rates (open loop), a form of ``form_steps``
    typed messages for each newcomer."""
    people = [Person(server, base + i) for i in range(users)]
    offered: list[dict[str, Any]] = []
    args = echo_args(server, rate_limiter=rate_limiter, deleting=deleting)
    async with bot_process(server, args, {"BOT_TOKEN": server.token}) as echo:
        cpu, wall, harness = echo.cpu_seconds(), time.perf_counter(), time.process_time()
        await asyncio.gather(
            *(p.run(tuple(Step(text=f"m{k}") for k in range(messages))) for p in people)
        )
        wall = time.perf_counter() - wall
        cpu = echo.cpu_seconds() - cpu
        harness = time.process_time() - harness
        if rates:
            steps = echo_steps(form_steps)
            offered = await offered_load(server, rates, seconds, open_base, drain, steps)
    handled = sum(p.actions for p in people)
    latencies = sorted(x for p in people for x in p.latencies)
    return {
        "updates": handled,
        "wall_seconds": wall,
        "updates_per_second": handled / wall,
        "cpu_seconds_per_update": cpu / handled,
        "harness_cpu_seconds_per_update": harness / handled,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p95_ms": percentile(latencies, 95) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "offered_load": offered,
        "sustained_open_loop_per_second": sustained(offered),
        "sustained_is_a_floor": kept_up_at_the_top(offered),
    }


def main(argv: list[str] | None = None) -> None:
    """Run one echo bot until SIGTERM (the benchmark starts it as a process of its own), on the
    event loop the bot runs on."""
    parser = argparse.ArgumentParser(prog="python -m bench.echo", description=__doc__)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--rate-limit", action="store_true")
    parser.add_argument("--deleting", action="store_true")
    args = parser.parse_args(argv)
    app = build_echo(
        args.base_url,
        os.environ["BOT_TOKEN"],
        rate_limiter=args.rate_limit,
        deleting=args.deleting,
    )
    eventloop.run(_serve(app))


async def _serve(app: Application) -> None:  # type: ignore[type-arg]
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    async with app:
        await app.start()
        if app.updater is None:
            raise RuntimeError("the echo bot was built without an updater")
        await app.updater.start_polling(timeout=1)
        await stop.wait()
        await app.updater.stop()
        await app.stop()


if __name__ == "__main__":
    main()
