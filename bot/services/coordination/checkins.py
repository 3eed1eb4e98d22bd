"""Check-ins on the road after the handoff: the applicant taps one of two harmless buttons at
each time, and a missed check-in or the answer "I am not safe" reaches the team's group.

What a schedule needs to name the applicant's chat is held in memory only (the chat id comes
from the sealed case, opened by a holder's key). The schedule itself (every, until, grace) is a
case field under the case key, so after a restart it is armed again when a holder unlocks; the
check-in that was on the phone then, and any that fell due meanwhile, are lost (README).

Each check-in's two buttons carry a random token each, held here: the data names nothing, says
nothing of which button means what, and answers only the check-in it was sent with, from the
chat it was sent to.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from bot.coordination import CaseState
from bot.coordination.checkins import Refusal, Schedule, duration_text, missed, plan
from bot.crypto import CaseKey, CryptoError, UnlockedKey
from bot.i18n import COORDINATOR_LANGUAGES
from bot.intake.events import Button
from bot.logs import get_logger
from bot.services.coordination.base import CoordIncoming, CoordResponse, ServiceBase, say
from bot.services.outbox import DeliveryFailed, OutMessage
from bot.store import coordination as store
from bot.store import journey as journey_store

log = get_logger(__name__)

CHECKIN_FIELD = "checkin"
CHECKIN_SECONDS = 30.0  # the runner's pace; a moved clock wakes it at once
MAX_ARMED = 10_000

Erase = Callable[[int, list[int]], Awaitable[None]]
SendCheckin = Callable[[int, OutMessage], Awaitable[int]]


@dataclass
class _Shown:
    """A check-in on the phone, not answered yet."""

    message_id: int
    sent_at: float
    fine: str  # the tokens of its two buttons
    help: str
    told: bool = False  # posted as missed


@dataclass
class _Armed:
    case_id: str
    chat_id: int  # in memory only; from the sealed case
    language: str
    schedule: Schedule
    next_at: int | None
    shown: _Shown | None = None


class CheckinMixin(ServiceBase):
    """/checkin, the runner that sends and watches check-ins, and the applicant's answer."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._armed: dict[str, _Armed] = {}  # by case id
        self._checkin_tokens: dict[str, tuple[str, bool]] = {}  # token -> (case id, help)
        self._to_erase: list[tuple[int, int]] = []  # (chat, message) left by a stop or a move
        self.checkins_now = asyncio.Event()  # set to run a round at once (a moved clock)

    # --- the holder's command ---------------------------------------------------------------

    async def _cmd_checkin(
        self, me: store.CoordinatorRow, inc: CoordIncoming, work: store.WorkRow, arg: str
    ) -> CoordResponse:
        if work.status != CaseState.HANDED_OFF:
            return say(self._t(me, "checkin_not_yet", code=work.code))
        grace = self.checkin_grace(work.team)
        try:
            schedule = plan(arg, now=self._now(), grace=grace)
        except Refusal as refusal:
            return say(
                self._t(me, refusal.key, code=work.code, grace=duration_text(grace)),
            )
        key, fields = await self._open(me, work)
        if schedule is None:
            self._disarm(work.case_id)
            self.checkins_now.set()
            async with self.db.transaction() as conn:
                await journey_store.delete_field(conn, work.case_id, CHECKIN_FIELD)
                await self._audit(conn, me.handle, "checkin_off", work.code)
            return say(self._t(me, "checkin_stopped", code=work.code))
        body = json.dumps(schedule.dump()).encode()
        async with self.db.transaction() as conn:
            await self._write_fields(conn, work.case_id, key, {CHECKIN_FIELD: body})
            await self._audit(conn, me.handle, "checkin_armed", work.code)
        self._arm(work.case_id, fields, schedule)
        return say(
            self._t(
                me,
                "checkin_armed",
                code=work.code,
                every=duration_text(schedule.every),
                length=duration_text(schedule.until - schedule.start),
                grace=duration_text(grace),
            )
        )

    def checkin_grace(self, team: str | None) -> int:
        """The team's grace time, else the organisation's."""
        grace = self.settings.team_checkin_grace.get(team or "")
        return grace if grace is not None else self.settings.checkin_grace_seconds

    def _arm(self, case_id: str, fields: dict[str, bytes], schedule: Schedule) -> None:
        self._disarm(case_id)
        armed = _Armed(
            case_id,
            int(fields["chat_id"]),
            fields.get("language", b"en").decode(),
            schedule,
            schedule.next_after(self.clock()),
        )
        self._armed[case_id] = armed
        while len(self._armed) > MAX_ARMED:
            self._disarm(next(iter(self._armed)))

    def _disarm(self, case_id: str) -> None:
        armed = self._armed.pop(case_id, None)
        if armed is not None and armed.shown is not None:
            self._forget_shown(armed)

    def _forget_shown(self, armed: _Armed) -> None:
        """The check-in on the phone goes: its buttons answer nothing, the runner erases it."""
        shown = armed.shown
        if shown is None:
            return
        self._checkin_tokens.pop(shown.fine, None)
        self._checkin_tokens.pop(shown.help, None)
        self._to_erase.append((armed.chat_id, shown.message_id))
        armed.shown = None

    def moved_checkins(self, case_id: str, chat_id: int) -> None:
        """The case's applicant uses a new account: the check-in on the old phone is erased,
        and the next goes to the new chat."""
        armed = self._armed.get(case_id)
        if armed is None:
            return
        self._forget_shown(armed)
        armed.chat_id = chat_id
        self.checkins_now.set()  # erased now, not at the next round

    async def _after_unlock(self, me: store.CoordinatorRow, key: UnlockedKey) -> list[str]:
        rearmed = await self._rearm_checkins(me, key)
        return [self._t(me, "checkins_rearmed", count=rearmed)] if rearmed else []

    async def _rearm_checkins(self, me: store.CoordinatorRow, key: UnlockedKey) -> int:
        """After a restart, the schedules of the cases this holder's key opens, armed again."""
        armed = 0
        now = self.clock()
        for case_id in await store.cases_sealed_to(self.db.conn, me.id):
            if case_id in self._armed:
                continue
            sealed_schedule = await journey_store.read_field(self.db.conn, case_id, CHECKIN_FIELD)
            work = await self._work_by_id(self.db.conn, case_id)
            if sealed_schedule is None or work is None or work.status != CaseState.HANDED_OFF:
                continue
            sealed = await store.case_key_for(self.db.conn, case_id, me.id)
            if sealed is None:
                continue
            try:
                case_key = key.open_case_key(sealed, case_id=case_id)
                schedule = Schedule.load(
                    json.loads(
                        case_key.decrypt(sealed_schedule, case_id=case_id, field=CHECKIN_FIELD)
                    )
                )
                fields = await self._applicant_fields(case_id, case_key)
            except (CryptoError, ValueError, KeyError):
                continue  # a damaged copy: another holder's unlock may still arm it
            if schedule.next_after(now) is None or "chat_id" not in fields:
                continue
            self._arm(case_id, fields, schedule)
            armed += 1
        return armed

    async def _applicant_fields(self, case_id: str, key: CaseKey) -> dict[str, bytes]:
        """The case's chat id and language, opened with its key (a new account's included)."""
        fields = {}
        for name in ("language", "chat_id"):
            sealed = await journey_store.read_field(self.db.conn, case_id, name)
            if sealed is not None:
                fields[name] = key.decrypt(sealed, case_id=case_id, field=name)
        return await self._adopt_account(case_id, key, fields)

    # --- the runner ---------------------------------------------------------------------------

    async def run_checkins(self, send: SendCheckin, erase: Erase) -> None:
        """One round: erase what is to go, tell what was missed, send what is due."""
        await self._erase_left(erase)
        now = self.clock()
        for case_id, armed in list(self._armed.items()):
            work = await self._work_by_id(self.db.conn, case_id)
            if work is None or work.status != CaseState.HANDED_OFF:
                self._disarm(case_id)  # closed or shredded: nothing more to watch
                continue
            shown = armed.shown
            if (
                shown is not None
                and not shown.told
                and missed(shown.sent_at, armed.schedule.grace, now)
            ):
                shown.told = True
                await self._checkin_alarm(work, "checkin_missed", by_applicant=False)
            if armed.next_at is not None and now >= armed.next_at:
                self._forget_shown(armed)
                await self._erase_left(erase)
                await self._send_checkin(work, armed, send, now)
            if armed.next_at is None and (armed.shown is None or armed.shown.told):
                self._disarm(case_id)
                async with self.db.transaction() as conn:
                    if work.assignee is not None:
                        await self._notify(conn, work.assignee, "checkin_ended", code=work.code)
        await self._erase_left(erase)

    async def _send_checkin(
        self, work: store.WorkRow, armed: _Armed, send: SendCheckin, now: float
    ) -> None:
        fine, help_ = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        lang = armed.language
        message = OutMessage(
            self.catalog.text(lang, "checkin_message"),
            (
                (
                    Button(self.catalog.text(lang, "checkin_fine"), f"K:{fine}"),
                    Button(self.catalog.text(lang, "checkin_help"), f"K:{help_}"),
                ),
            ),
            protect=True,
        )
        try:
            message_id = await send(armed.chat_id, message)
        except DeliveryFailed as failure:
            if not failure.permanent:
                return  # tried again next round
            # Blocked, or the account is gone: a check-in that cannot arrive is a missed one.
            armed.next_at = armed.schedule.next_after(now)
            await self._checkin_alarm(work, "checkin_missed", by_applicant=False)
            return
        armed.shown = _Shown(message_id, now, fine, help_)
        self._checkin_tokens[fine] = (armed.case_id, False)
        self._checkin_tokens[help_] = (armed.case_id, True)
        armed.next_at = armed.schedule.next_after(now)

    async def _erase_left(self, erase: Erase) -> None:
        left, self._to_erase = self._to_erase, []
        by_chat: dict[int, list[int]] = {}
        for chat_id, message_id in left:
            by_chat.setdefault(chat_id, []).append(message_id)
        for chat_id, ids in by_chat.items():
            try:
                await erase(chat_id, ids)
            except Exception as exc:  # noqa: BLE001 - the other chats must still be erased
                log.error("checkin_not_erased", error=type(exc).__name__)

    # --- the applicant's answer ---------------------------------------------------------------

    async def checkin_answered(self, chat_id: int, token: str) -> bool:
        """A tap on a check-in's button: ``False`` if it answers no check-in of this chat."""
        found = self._checkin_tokens.get(token)
        armed = self._armed.get(found[0]) if found else None
        if found is None or armed is None or armed.chat_id != chat_id or armed.shown is None:
            return False
        late = armed.shown.told
        self._checkin_tokens.pop(armed.shown.fine, None)
        self._checkin_tokens.pop(armed.shown.help, None)
        armed.shown = None  # the tap's answer erases it
        work = await self._work_by_id(self.db.conn, armed.case_id)
        if work is None:
            return True
        if found[1]:
            await self._checkin_alarm(work, "checkin_needs_help", by_applicant=True)
        elif late:
            await self._checkin_alarm(work, "checkin_late", by_applicant=True)
        return True

    async def _checkin_alarm(self, work: store.WorkRow, what: str, *, by_applicant: bool) -> None:
        """The code and what happened, to the team's group in both languages and to the holder.

        An answer from the applicant is audited without the code, as a relayed answer is, and
        the WAL is folded before the chat's own trace is written: the order of commits must
        not pair the account with the case."""
        line = " · ".join(
            self._t(lang, f"group_{what}", code=work.code) for lang in COORDINATOR_LANGUAGES
        )
        async with self.db.transaction() as conn:
            await self.outbox.put(conn, self.teams.group_of(work.team), OutMessage(line))
            if work.assignee is not None:
                await self._notify(conn, work.assignee, what, code=work.code)
            await self._audit(conn, "system", what, None if by_applicant else work.code)
        if by_applicant:
            await self.db.checkpoint_or_retry()

    def armed_checkins(self) -> Iterable[str]:
        """The case ids whose check-ins run now (for the operator's health and the tests)."""
        return tuple(self._armed)
