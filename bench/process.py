"""A bot under test in a process of its own, as deployed, with its CPU and memory read from /proc.

The local Bot API server and the simulated people stay in the benchmark's process: deployed,
Telegram's servers and the applicants' phones are not on the bot's machine either, so their cost
must not be counted as the bot's, nor slow its event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from bench.timing import TimedServer

START_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0
_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class BotProcess:
    process: asyncio.subprocess.Process

    def cpu_seconds(self) -> float:
        """User and system time of the process, all its threads included."""
        stat = Path(f"/proc/{self.process.pid}/stat").read_text()
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICKS

    def peak_rss_mib(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")


@contextlib.asynccontextmanager
async def bot_process(
    server: TimedServer, args: list[str], env: dict[str, str] | None = None, log: Path | None = None
) -> AsyncIterator[BotProcess]:
    """Start ``python <args>``, wait until it begins to long-poll the server, stop it with SIGTERM.

    With ``log``, its standard error (where the bot logs) goes to that file, as a deployment's
    logs go to a file or the journal rather than a terminal."""
    first = len(server.log.timed)
    # A long poll is recorded when it returns (up to the poll timeout later); the server counts
    # the polls it has begun to answer.
    polls = server.state.poll_generation
    with contextlib.ExitStack() as files:
        stderr = None if log is None else files.enter_context(log.open("ab"))
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            *args,
            env={**os.environ, **(env or {})},
            stdin=asyncio.subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        deadline = time.perf_counter() + START_TIMEOUT
        while server.state.poll_generation == polls and not any(
            t.method == "getUpdates" for t in server.log.timed[first:]
        ):
            if process.returncode is not None:
                raise RuntimeError(f"{' '.join(args)} exited with {process.returncode}")
            if time.perf_counter() > deadline:
                raise TimeoutError(f"{' '.join(args)} did not start polling")
            await asyncio.sleep(0.05)
        yield BotProcess(process)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
            except TimeoutError:
                process.kill()
                await process.wait()
