"""Wire the parts together and run them: one place that knows every layer, so no layer has to.

``Runtime`` is used alike by ``python -m bot run``, the demo and the end-to-end tests, so what
the tests drive is exactly what an operator runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from types import MappingProxyType
from urllib.parse import urlsplit

from telegram.ext import Application, Updater

from bot.config import Config, CoordinationConfig, VettingConfig, check_routes
from bot.coordination.teams import ALL_TEAMS, Team, Teams
from bot.coordination.vetting import Step
from bot.crypto import Argon2Cost, Vault
from bot.i18n import Catalog
from bot.intake.questionnaire import load_questionnaire
from bot.logs import get_logger
from bot.ops.health import heartbeat_forever
from bot.ops.keycheck import ensure_master_key, key_name
from bot.ops.retention import purge_once, warn_expiring
from bot.ops.upgrade import upgrade
from bot.services.coordination import CoordinationService, CoordinationSettings
from bot.services.coordination.checkins import CHECKIN_SECONDS
from bot.services.erasures import SWEEP_SECONDS
from bot.services.intake import IntakeService, IntakeSettings
from bot.services.outbox import Outbox, OutMessage
from bot.store import Database, open_database
from bot.store import coordination as coordination_store
from bot.transport.app import build_application
from bot.transport.applicant import ApplicantHandlers
from bot.transport.coordinator import CoordinatorHandlers, send_out
from bot.transport.delivery import delete

log = get_logger(__name__)

OUTBOX_IDLE_SECONDS = 5.0  # a new message wakes the outbox at once; this is the retry pace
PURGE_INTERVAL_SECONDS = 600.0
AUDIT_HEAD_INTERVAL_SECONDS = 24 * 3600.0
DELETION_INTERVAL_SECONDS = 5.0


@dataclass
class Services:
    """Everything but Telegram: what the operator's commands (invite, revoke…) work with."""

    config: Config
    db: Database
    vault: Vault
    catalog: Catalog
    intake: IntakeService
    coordination: CoordinationService
    outbox: Outbox


class Rounds:
    """The periodic jobs' rounds under way, and the wake-ups not yet answered.

    A round woken by a handler (the outbox sending what a coordinator's command queued) goes on
    after the update that woke it was handled. With the updates still queued or being handled,
    this says whether the bot is at work: the demo and the tests wait for that, not for silence.
    """

    def __init__(self) -> None:
        self.under_way = 0
        self._wakes: list[asyncio.Event] = []

    def wakes_on(self, wake: asyncio.Event) -> None:
        self._wakes.append(wake)

    @contextlib.contextmanager
    def one(self) -> Iterator[None]:
        self.under_way += 1
        try:
            yield
        finally:
            self.under_way -= 1

    @property
    def idle(self) -> bool:
        return self.under_way == 0 and not any(wake.is_set() for wake in self._wakes)


@dataclass
class Runtime(Services):
    app: Application  # type: ignore[type-arg]
    rounds: Rounds = field(default_factory=Rounds)

    async def handled(self) -> bool:
        """Whether the bot has finished what it took from Telegram: every update it received is
        handled (this waits for that), and no round is under way or woken."""
        await self.app.update_queue.join()
        return self.rounds.idle


@contextlib.asynccontextmanager
async def open_services(
    config: Config, *, clock: Callable[[], float] = time.time
) -> AsyncIterator[Services]:
    """Open the database and build the services; closes the database on exit."""
    questionnaire = load_questionnaire(
        config.intake.questionnaire, languages=list(config.intake.languages)
    )
    check_routes(config.coordination, questionnaire)
    catalog = Catalog(tuple(config.intake.languages))
    vault = Vault(config.security.master_key, previous=list(config.security.previous_master_keys))
    argon2 = Argon2Cost(
        iterations=config.security.argon2_iterations,
        memory_kib=config.security.argon2_memory_kib,
        lanes=config.security.argon2_lanes,
    )
    teams = teams_of(config.coordination)
    db = await open_database(config.storage.database)
    try:
        await ensure_master_key(db, vault, name=key_name(config))
        await adopt_teams(db, teams)
        await upgrade(
            db, vault, recovery_public_key=config.security.recovery_public_key, clock=clock
        )
        outbox = Outbox(db, vault, clock=clock, expiry_seconds=config.retention.outbox_hours * 3600)
        coordination = CoordinationService(
            db,
            vault,
            questionnaire,
            catalog,
            outbox,
            CoordinationSettings(
                teams=teams,
                recovery_public_key=config.security.recovery_public_key,
                two_person_approval=config.coordination.two_person_approval,
                case_view_ttl_seconds=config.coordination.case_view_ttl_seconds,
                unlock_idle_seconds=config.coordination.unlock_idle_minutes * 60,
                unlock_max_seconds=config.coordination.unlock_max_hours * 3600,
                invite_ttl_seconds=config.coordination.invite_ttl_hours * 3600,
                checkin_grace_seconds=config.coordination.checkin_grace_minutes * 60,
                team_checkin_grace={
                    team.name: team.checkin_grace_minutes * 60
                    for team in config.coordination.teams
                    if team.checkin_grace_minutes is not None
                },
                argon2=argon2,
                vetting=vetting_steps(config.vetting),
                master_keys=(
                    config.security.master_key,
                    *config.security.previous_master_keys,
                ),
            ),
            clock=clock,
        )
        intake = IntakeService(
            db,
            vault,
            questionnaire,
            catalog,
            IntakeSettings(
                recovery_public_key=config.security.recovery_public_key,
                draft_ttl_seconds=config.intake.draft_ttl_hours * 3600,
                max_text_length=config.intake.max_text_length,
                status_attempts_per_hour=config.intake.status_attempts_per_hour,
                next_steps=dict(config.intake.next_steps),
                languages=tuple(config.intake.languages),
            ),
            clock=clock,
            on_submit=coordination.on_submit,
            relay=coordination,
            journey=coordination,
        )
        yield Services(config, db, vault, catalog, intake, coordination, outbox)
    finally:
        await db.close()


@contextlib.asynccontextmanager
async def open_runtime(
    config: Config, *, clock: Callable[[], float] = time.time
) -> AsyncIterator[Runtime]:
    """The services plus the Telegram application around them."""
    async with open_services(config, clock=clock) as services:
        applicant = ApplicantHandlers(
            services.intake, services.catalog, config.intake.flood_messages_per_minute
        )
        app = build_application(
            token=config.telegram.token.get_secret_value(),
            base_url=config.telegram.base_url,
            applicant=applicant,
            coordinator=CoordinatorHandlers(services.coordination),
            catalog=services.catalog,
            group_chat_ids=services.coordination.teams.groups(),
            rate_limit=config.telegram.rate_limit,
        )
        yield Runtime(**vars(services), app=app)


async def serve(runtime: Runtime, stop: asyncio.Event) -> None:
    """Long-poll Telegram until ``stop`` is set, then finish cleanly."""
    app = runtime.app
    async with app:
        if app.post_init is not None:  # run_polling would call it; this manual start must too
            await app.post_init(app)
        await app.start()
        updater = app.updater
        if updater is None:
            raise RuntimeError("the application was built without an updater")
        await _receive(runtime, updater)
        bot = app.bot

        async def send(chat_id: int, message: OutMessage) -> int:
            return await send_out(bot, chat_id, message)

        async def forget(chat_id: int, message_id: int) -> None:
            await delete(bot, chat_id, [message_id])

        async def erase(chat_id: int, message_ids: list[int]) -> None:
            await delete(bot, chat_id, message_ids)

        rounds = runtime.rounds
        workers = [
            asyncio.create_task(heartbeat_forever(bot, runtime.db)),
            asyncio.create_task(
                _every(rounds, PURGE_INTERVAL_SECONDS, lambda: _retention(runtime))
            ),
            asyncio.create_task(
                _every(
                    rounds,
                    OUTBOX_IDLE_SECONDS,
                    lambda: runtime.outbox.flush(send, runtime.intake.note_delivered),
                    runtime.outbox.wake,
                )
            ),
            asyncio.create_task(
                _every(
                    rounds,
                    SWEEP_SECONDS,
                    lambda: runtime.intake.erase_due(erase, runtime.coordination.relay_unanswered),
                    runtime.intake.sweep_now,
                )
            ),
            asyncio.create_task(
                _every(rounds, AUDIT_HEAD_INTERVAL_SECONDS, runtime.coordination.post_audit_head)
            ),
            asyncio.create_task(
                _every(
                    rounds,
                    CHECKIN_SECONDS,
                    lambda: runtime.coordination.run_checkins(send, erase),
                    runtime.coordination.checkins_now,
                )
            ),
            asyncio.create_task(
                _every(
                    rounds,
                    DELETION_INTERVAL_SECONDS,
                    lambda: runtime.coordination.run_due_deletions(forget),
                )
            ),
        ]
        try:
            await stop.wait()
        finally:
            for worker in workers:
                worker.cancel()
            for worker in workers:
                with contextlib.suppress(asyncio.CancelledError):
                    await worker
            await updater.stop()
            await app.stop()
    log.info("bot_stopped")


ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member", "channel_post"]


async def _receive(runtime: Runtime, updater: Updater) -> None:
    """Long polling by default; a webhook, where every request must carry Telegram's secret
    token (python-telegram-bot answers 403 to any request without it, before any handler)."""
    telegram = runtime.config.telegram
    if telegram.mode == "webhook":
        secret = telegram.webhook_secret.get_secret_value() if telegram.webhook_secret else None
        await updater.start_webhook(
            listen=telegram.webhook_listen,
            port=telegram.webhook_port,
            url_path=urlsplit(telegram.webhook_url).path.lstrip("/"),
            webhook_url=telegram.webhook_url,
            secret_token=secret,
            allowed_updates=ALLOWED_UPDATES,
        )
    else:
        await updater.start_polling(
            timeout=telegram.poll_timeout_seconds, allowed_updates=ALLOWED_UPDATES
        )
    log.info("bot_started", mode=telegram.mode)


async def _retention(runtime: Runtime) -> None:
    """Shred what has outlived its retention, and warn coordinators a while before."""
    await purge_once(runtime)
    await warn_expiring(runtime)


async def _every(
    rounds: Rounds,
    seconds: float,
    job: Callable[[], Awaitable[object]],
    wake: asyncio.Event | None = None,
) -> None:
    """Run a periodic job; one failed round is logged and the next one still runs. With
    ``wake``, a round also starts as soon as it is set (a new message for the outbox)."""
    if wake is not None:
        rounds.wakes_on(wake)
    while True:
        with rounds.one():
            if wake is not None:
                wake.clear()
            try:
                await job()
            except Exception as exc:  # noqa: BLE001 - a failed round must not stop the bot
                log.error("job_failed", error=type(exc).__name__)
        if wake is None:
            await asyncio.sleep(seconds)
            continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), timeout=seconds)


def teams_of(coordination: CoordinationConfig) -> Teams:
    """The config's teams as the coordination rules use them."""
    default = next((team.name for team in coordination.teams if team.default), None)
    return Teams(
        tuple(
            Team(
                team.name,
                MappingProxyType({q: frozenset(options) for q, options in team.route.items()}),
                team.group_chat_id,
            )
            for team in coordination.teams
        ),
        default=default,
        group_chat_id=coordination.group_chat_id,
    )


def vetting_steps(vetting: VettingConfig) -> tuple[Step, ...]:
    """The config's vetting steps as the coordination rules use them."""
    return tuple(
        Step(
            s.id,
            s.required,
            s.second_person,
            MappingProxyType(dict(s.text)),
            reopen_on_account_change=s.reopen_on_account_change,
        )
        for s in vetting.steps
    )


async def adopt_teams(db: Database, teams: Teams) -> None:
    """Once teams are configured, people and cases from before join them (see the store)."""
    if teams.default is None:
        return
    async with db.transaction() as conn:
        adopted = await coordination_store.adopt_teams(
            conn, default=teams.default, lead_teams=ALL_TEAMS
        )
    if adopted:
        log.info("coordinators_joined_teams", count=adopted)
