"""Wire the parts together and run them: one place that knows every layer, so no layer has to.

``Runtime`` is used alike by ``python -m bot run``, the demo and the end-to-end tests, so what
the tests drive is exactly what an operator runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from telegram.ext import Application

from bot.config import Config
from bot.crypto import Argon2Cost, Vault
from bot.i18n import Catalog
from bot.intake.questionnaire import load_questionnaire
from bot.logs import get_logger
from bot.services.intake import IntakeService, IntakeSettings
from bot.store import Database, open_database
from bot.transport.app import build_application
from bot.transport.applicant import ApplicantHandlers

log = get_logger(__name__)

PURGE_INTERVAL_SECONDS = 600.0


@dataclass
class Runtime:
    config: Config
    db: Database
    vault: Vault
    intake: IntakeService
    app: Application  # type: ignore[type-arg]


@contextlib.asynccontextmanager
async def open_runtime(
    config: Config, *, clock: Callable[[], float] = time.time
) -> AsyncIterator[Runtime]:
    """Open the database and build the bot; closes both on exit, whatever happened."""
    questionnaire = load_questionnaire(
        config.intake.questionnaire, languages=list(config.intake.languages)
    )
    catalog = Catalog(tuple(config.intake.languages))
    vault = Vault(config.security.master_key, previous=list(config.security.previous_master_keys))
    db = await open_database(config.storage.database)
    try:
        intake = IntakeService(
            db,
            vault,
            questionnaire,
            catalog,
            IntakeSettings(
                draft_ttl_seconds=config.intake.draft_ttl_hours * 3600,
                max_text_length=config.intake.max_text_length,
                status_attempts_per_hour=config.intake.status_attempts_per_hour,
                argon2=Argon2Cost(
                    iterations=config.security.argon2_iterations,
                    memory_kib=config.security.argon2_memory_kib,
                    lanes=config.security.argon2_lanes,
                ),
                languages=tuple(config.intake.languages),
            ),
            clock=clock,
        )
        applicant = ApplicantHandlers(intake, catalog, config.intake.flood_messages_per_minute)
        app = build_application(
            token=config.telegram.token.get_secret_value(),
            base_url=config.telegram.base_url,
            applicant=applicant,
            catalog=catalog,
            group_chat_id=config.coordination.group_chat_id,
        )
        yield Runtime(config, db, vault, intake, app)
    finally:
        await db.close()


async def serve(runtime: Runtime, stop: asyncio.Event) -> None:
    """Long-poll Telegram until ``stop`` is set, then finish cleanly."""
    app = runtime.app
    async with app:
        await app.start()
        updater = app.updater
        if updater is None:
            raise RuntimeError("the application was built without an updater")
        await updater.start_polling(
            timeout=runtime.config.telegram.poll_timeout_seconds,
            drop_pending_updates=False,
            allowed_updates=[
                "message",
                "edited_message",
                "callback_query",
                "my_chat_member",
                "channel_post",
            ],
        )
        log.info("bot_started", mode="polling")
        purger = asyncio.create_task(_purge_forever(runtime))
        try:
            await stop.wait()
        finally:
            purger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await purger
            await updater.stop()
            await app.stop()
    log.info("bot_stopped")


async def _purge_forever(runtime: Runtime) -> None:
    while True:
        try:
            await runtime.intake.purge_expired()
        except Exception as exc:  # noqa: BLE001 - a failed purge must not stop the bot
            log.error("purge_failed", error=type(exc).__name__)
        await asyncio.sleep(PURGE_INTERVAL_SECONDS)
