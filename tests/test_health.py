"""The health check: healthy only when the database opens, its schema is current and the bot
heard from Telegram lately; each failure is named."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from telegram import Bot

from bot.config import Config, load_config
from bot.crypto import MasterKey
from bot.devserver import DevServer
from bot.ops.health import beat, check_health, heartbeat_forever, stale_after
from bot.store.db import apply_migrations, packaged_migrations
from tests.conftest import write_config
from tests.databases import opened

NOW = 1_800_000_000
TOKEN = "123456:" + "A" * 35


def _config(tmp_path: Path) -> Config:
    path = write_config(tmp_path, "http://127.0.0.1:9")
    env = {"BOT_TOKEN": TOKEN, "BOT_MASTER_KEY": MasterKey.generate().to_text()}
    return load_config(path, env)


async def test_a_migrated_database_with_a_recent_beat_is_healthy(tmp_path: Path) -> None:
    config = _config(tmp_path)
    async with opened(config.storage.database) as db:
        await beat(db, NOW - 5)

    report = await check_health(config, now=NOW)

    assert report.ok and report.exit_code == 0, report.lines
    assert any("5 s ago" in line for line in report.lines)


async def test_a_stale_beat_is_unhealthy(tmp_path: Path) -> None:
    config = _config(tmp_path)
    async with opened(config.storage.database) as db:
        await beat(db, NOW - stale_after(config) - 1)

    report = await check_health(config, now=NOW)

    assert not report.ok and report.exit_code == 1
    assert any("last contact with Telegram" in line and "FAIL" in line for line in report.lines)


async def test_no_beat_at_all_is_unhealthy(tmp_path: Path) -> None:
    config = _config(tmp_path)
    async with opened(config.storage.database):
        pass

    report = await check_health(config, now=NOW)

    assert not report.ok
    assert any("no contact with Telegram" in line for line in report.lines)


async def test_an_older_schema_is_unhealthy(tmp_path: Path) -> None:
    config = _config(tmp_path)
    async with opened(config.storage.database, migrate=False) as db:
        await apply_migrations(db, packaged_migrations()[:1])

    report = await check_health(config, now=NOW)

    assert not report.ok
    assert any("schema version 1 is older" in line for line in report.lines)


async def test_a_missing_database_is_unhealthy_and_not_created(tmp_path: Path) -> None:
    config = _config(tmp_path)

    report = await check_health(config, now=NOW)

    assert not report.ok and report.exit_code == 1
    assert any("does not exist" in line for line in report.lines)
    assert not config.storage.database.exists()


async def test_the_heartbeat_job_beats_when_telegram_answers(tmp_path: Path) -> None:
    config = _config(tmp_path)
    async with DevServer() as server, opened(config.storage.database) as db:
        bot = Bot(server.token, base_url=server.base_url)
        async with bot:
            job = asyncio.create_task(heartbeat_forever(bot, db, every=0.01, clock=lambda: NOW))
            for _ in range(500):
                await asyncio.sleep(0.01)
                report = await check_health(config, now=NOW)
                if report.ok:
                    break
            job.cancel()
            with pytest.raises(asyncio.CancelledError):
                await job
    assert report.ok, report.lines
