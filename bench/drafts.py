"""Memory with many open drafts: applicants who answered two questions and went quiet.

Drives the IntakeService directly, as the transport would, without Telegram in between: the
question is what an idle draft costs the process and the disk, not what a message costs.
"""

from __future__ import annotations

import gc
import time
from pathlib import Path
from typing import Any

from bench.load import database_bytes
from bench.report import current_rss_mib, peak_rss_mib
from bot.config import Config
from bot.i18n import LANGUAGES, Catalog
from bot.intake.events import Command, Event, Press
from bot.runtime import open_services
from bot.services.intake import Incoming, IntakeService, Response

DRAFT_USER_BASE = 900_000_000
ANSWERED = 2


def _reset_peak_rss() -> bool:
    """Linux lets a process reset its own high-water mark; elsewhere the peak is the run's."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _button(response: Response, label: str | None) -> str:
    for reply in reversed(response.replies):
        for row in reply.buttons:
            for button in row:
                if label is None or button.label == label:
                    return button.data
    raise LookupError("the expected button is not offered")


class _Chat:
    """One applicant's chat, with made-up message ids the transport would have got back."""

    def __init__(self, intake: IntakeService, user_id: int) -> None:
        self.intake = intake
        self.user_id = user_id
        self.next_id = 1

    async def do(self, event: Event) -> Response:
        mine = None
        if not isinstance(event, Press):
            mine, self.next_id = self.next_id, self.next_id + 1
        incoming = Incoming(self.user_id, self.user_id, event, message_id=mine)

        async def deliver(response: Response, sent: list[int]) -> None:
            sent += range(self.next_id, self.next_id + len(response.replies))
            self.next_id += len(response.replies)

        return await self.intake.handle(incoming, deliver)


async def open_drafts(config: Config, count: int) -> dict[str, Any]:
    cat = Catalog(LANGUAGES)
    async with open_services(config) as services:
        gc.collect()
        reset = _reset_peak_rss()
        before = current_rss_mib()
        db_before = database_bytes(config.storage.database)
        started = time.perf_counter()
        for i in range(count):
            chat = _Chat(services.intake, DRAFT_USER_BASE + i)
            response = await chat.do(Command("start"))
            response = await chat.do(Press(_button(response, "English")))
            response = await chat.do(Press(_button(response, cat.text("en", "consent_yes"))))
            for _ in range(ANSWERED):
                response = await chat.do(Press(_button(response, None)))
        elapsed = time.perf_counter() - started
        gc.collect()
        after = current_rss_mib()
        async with services.db.conn.execute("SELECT count(*) FROM chat_states") as cur:
            row = await cur.fetchone()
        stored = int(row[0]) if row else 0
        db_after = database_bytes(config.storage.database)
    return {
        "drafts": count,
        "drafts_in_database": stored,
        "rss_before_mib": before,
        "rss_after_mib": after,
        "rss_growth_mib": after - before,
        "rss_growth_bytes_per_draft": (after - before) * 1024 * 1024 / max(1, count),
        "peak_rss_mib": peak_rss_mib() if not reset else _hwm_mib(),
        "peak_is_since_reset": reset,
        "database_bytes_per_draft": (db_after - db_before) / max(1, count),
        "seconds": elapsed,
    }


def _hwm_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return peak_rss_mib()
