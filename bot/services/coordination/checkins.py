"""Check-ins on the road after the handoff: the applicant taps one of two harmless buttons at
each time, and a missed check-in or the answer "I am not safe" reaches the team's group.

What a schedule needs to name the applicant's chat is held in memory only (the chat id comes
from the sealed case, opened by a holder's key). The schedule itself (every, until, grace) is a
case field under the case key, so after a restart it is armed again when a holder unlocks (each
assignee is told at startup that theirs wait for that); the check-ins that fell due meanwhile
are lost (README).

Each check-in's two buttons carry a random token each: the data names nothing and says nothing
of which button means what. The tokens themselves are never kept: a row per button holds a
keyed digest of the token and the chat's pseudonym, whose purpose says which button it is, so
a tap answers only the check-in it was sent with, from the chat it was sent to, and still
reaches the team after a restart. Both rows go at the answer, at the next check-in, and when
the schedule stops.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import aiosqlite

from bot.coordination import CaseState
from bot.coordination.checkins import Refusal, Schedule, duration_text, missed, plan
from bot.crypto import CaseKey, CryptoError, UnlockedKey
from bot.i18n import COORDINATOR_LANGUAGES
from bot.intake.events import Button
from bot.logs import get_logger
from bot.services.coordination.base import CoordIncoming, CoordResponse, ServiceBase, say
from bot.services.outbox import DeliveryFailed, OutMessage
from bot.store import cases as case_store
from bot.store import coordination as store
from bot.store import journey as journey_store

log = get_logger(__name__)

CHECKIN_FIELD = "checkin"
CHECKIN_SECONDS = 30.0  # the runner's pace; a moved clock wakes it at once
MAX_ARMED = 10_000
# The digest's purpose names the button: a row alone does not say which one it is.
_BUTTONS = {False: "checkin:fine", True: "checkin:help"}

Erase = Callable[[int, list[int]], Awaitable[None]]
SendCheckin = Callable[[int, OutMessage], Awaitable[int]]


@dataclass
class _Shown:
    """A check-in on the phone, not answered yet (its buttons' rows are in the database)."""

    message_id: int
    sent_at: float
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
        self._to_erase: list[tuple[int, int]] = []  # (chat, message) left by a stop or a move
        self._to_drop: set[str] = set()  # cases whose buttons' rows go at the next round
        self._fold_wal = False  # an answer committed: the WAL is folded at the next round
        self.checkins_now = asyncio.Event()  # set to run a round at once (a moved clock)

    # --- the holder's command ---------------------------------------------------------------

    async def _cmd_checkin(
        self, me: store.CoordinatorRow, inc: CoordIncoming, work: store.WorkRow, arg: str
    ) -> CoordResponse:
        grace = self.checkin_grace(work.team)
        try:
            schedule = plan(arg, now=self._now(), grace=grace)
        except Refusal as refusal:
            return say(
                self._t(me, refusal.key, code=work.code, grace=duration_text(grace)),
            )
        if schedule is None:
            # Stopping needs no key: check-ins of a closed case have stopped already.
            self._disarm(work.case_id)
            self.checkins_now.set()
            async with self.db.transaction() as conn:
                await case_store.delete_fields(conn, work.case_id, [CHECKIN_FIELD])
                await journey_store.drop_checkin_tokens(conn, work.case_id)
                await self._audit(conn, me.handle, "checkin_off", work.code)
            return say(self._t(me, "checkin_stopped", code=work.code))
        if work.status != CaseState.HANDED_OFF:
            return say(self._t(me, "checkin_not_yet", code=work.code))
        key, fields = await self._open(me, work)
        body = json.dumps(schedule.dump()).encode()
        async with self.db.transaction() as conn:
            await self._write_fields(conn, work.case_id, key, {CHECKIN_FIELD: body})
            await journey_store.drop_checkin_tokens(conn, work.case_id)
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
        chat_id, language = self._applicant(fields)
        armed = _Armed(case_id, chat_id, language, schedule, schedule.next_after(self.clock()))
        self._armed[case_id] = armed
        while len(self._armed) > MAX_ARMED:
            self._disarm(next(iter(self._armed)))

    def _disarm(self, case_id: str) -> _Shown | None:
        """The case's check-ins stop; the one on the phone (returned) is erased at the next
        round and its buttons answer nothing from then on."""
        armed = self._armed.pop(case_id, None)
        if armed is None:
            return None
        shown = armed.shown
        self._forget_shown(armed)
        self._to_drop.add(case_id)
        self.checkins_now.set()
        return shown

    def _forget_shown(self, armed: _Armed) -> None:
        """The check-in on the phone goes: the runner erases it (its rows go with the next's,
        or with the schedule)."""
        shown = armed.shown
        if shown is None:
            return
        self._to_erase.append((armed.chat_id, shown.message_id))
        armed.shown = None

    async def checkins_paused_at_start(self) -> int:
        """At startup: each assignee of a handed-off case whose check-ins were armed is told
        they wait for an /unlock. Counted from the field's name, which is visible anyway; no
        key is needed and nothing is written but the notices."""
        told = 0
        async with self.db.transaction() as conn:
            for case_id in await journey_store.cases_with_field(conn, CHECKIN_FIELD):
                if case_id in self._armed:
                    continue
                work = await self._work_by_id(conn, case_id)
                if work is None or work.status != CaseState.HANDED_OFF or work.assignee is None:
                    continue
                await self._notify(conn, work.assignee, "checkins_paused", code=work.code)
                told += 1
        return told

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
            sealed_schedule = await case_store.read_field(self.db.conn, case_id, CHECKIN_FIELD)
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
            sealed = await case_store.read_field(self.db.conn, case_id, name)
            if sealed is not None:
                fields[name] = key.decrypt(sealed, case_id=case_id, field=name)
        return await self._adopt_account(case_id, key, fields)

    # --- the runner ---------------------------------------------------------------------------

    async def run_checkins(self, send: SendCheckin, erase: Erase) -> None:
        """One round: fold what answers left, erase what is to go, tell what was missed, send
        what is due."""
        if self._fold_wal:
            self._fold_wal = False
            await self.db.checkpoint_or_retry()
        await self._drop_stopped()
        await self._erase_left(erase)
        now = self.clock()
        for case_id, armed in list(self._armed.items()):
            work = await self._work_by_id(self.db.conn, case_id)
            if work is None or work.status != CaseState.HANDED_OFF:
                self._disarm(case_id)  # closed or shredded: nothing more to watch
                continue
            shown = armed.shown
            grace = self.checkin_grace(work.team)  # the case's team now, after a transfer too
            if shown is not None and not shown.told and missed(shown.sent_at, grace, now):
                await self._missed(work)
                shown.told = True  # only once the alarm is committed
            if armed.next_at is not None and now >= armed.next_at:
                self._forget_shown(armed)
                await self._erase_left(erase)
                await self._send_checkin(work, armed, send, erase, now)
            if armed.next_at is None and (armed.shown is None or armed.shown.told):
                self._disarm(case_id)
                async with self.db.transaction() as conn:
                    if work.assignee is not None:
                        await self._notify(conn, work.assignee, "checkin_ended", code=work.code)
        await self._drop_stopped()
        await self._erase_left(erase)

    async def _missed(self, work: store.WorkRow) -> None:
        """The check-in on the phone is missed, unless a tap answered it just now."""
        async with self.db.transaction() as conn:
            if await journey_store.mark_checkin_missed(conn, work.case_id):
                await self._put_alarm(conn, work, "checkin_missed", by_applicant=False)

    async def _send_checkin(
        self, work: store.WorkRow, armed: _Armed, send: SendCheckin, erase: Erase, now: float
    ) -> None:
        tokens = {False: secrets.token_urlsafe(16), True: secrets.token_urlsafe(16)}
        lang, chat_id = armed.language, armed.chat_id
        pseudonym = self.vault.pseudonym(chat_id)
        message = OutMessage(
            # The lock screen shows a check-in as it shows a question from the team.
            self.catalog.text(
                lang, "team_message", text=self.catalog.text(lang, "checkin_message")
            ),
            (
                (
                    Button(self.catalog.text(lang, "checkin_fine"), f"K:{tokens[False]}"),
                    Button(self.catalog.text(lang, "checkin_help"), f"K:{tokens[True]}"),
                ),
            ),
            protect=True,
        )
        async with self.db.transaction() as conn:
            await journey_store.add_checkin_tokens(
                conn,
                work.case_id,
                [self._checkin_hash(pseudonym, token, help_) for help_, token in tokens.items()],
            )
        # The case's rows leave the WAL before the chat's own trace notes the message.
        await self.db.checkpoint_or_retry()
        try:
            message_id = await send(chat_id, message)
        except DeliveryFailed as failure:
            async with self.db.transaction() as conn:
                await journey_store.drop_checkin_tokens(conn, work.case_id)
            if not failure.permanent:
                return  # tried again next round
            # Blocked, or the account is gone: a check-in that cannot arrive is a missed one.
            armed.next_at = armed.schedule.next_after(now)
            async with self.db.transaction() as conn:
                await self._put_alarm(conn, work, "checkin_missed", by_applicant=False)
            return
        if self._armed.get(work.case_id) is not armed or armed.chat_id != chat_id:
            # Stopped or moved to a new account while it was on its way: it goes again.
            self._to_erase.append((chat_id, message_id))
            self._to_drop.add(work.case_id)
            await self._drop_stopped()
            await self._erase_left(erase)
            return
        armed.shown = _Shown(message_id, now)
        armed.next_at = armed.schedule.next_after(now)

    def _checkin_hash(self, pseudonym: bytes, token: str, help_: bool) -> str:
        return self._digest(f"{pseudonym.hex()}:{token}", _BUTTONS[help_])

    async def _drop_stopped(self) -> None:
        """The buttons' rows of the check-ins stopped since the last round."""
        stopped = {case_id for case_id in self._to_drop if case_id not in self._armed}
        self._to_drop -= stopped
        if stopped:
            async with self.db.transaction() as conn:
                for case_id in stopped:
                    await journey_store.drop_checkin_tokens(conn, case_id)

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
        """A tap on a check-in's button: ``False`` if it answers no check-in of this chat.

        Found by its row, so a check-in sent before a restart still answers. Either button
        costs the same one commit (its rows deleted, the alarm queued with them, so a crash
        loses no answer); the WAL is folded by the runner's next round, after the tap has
        its answer."""
        pseudonym = self.vault.pseudonym(chat_id)
        async with self.db.transaction() as conn:
            for help_ in (False, True):
                found = await journey_store.checkin_token(
                    conn, self._checkin_hash(pseudonym, token, help_)
                )
                if found is not None:
                    break
            else:
                return False
            case_id, was_missed = found
            await journey_store.drop_checkin_tokens(conn, case_id)
            work = await self._work_by_id(conn, case_id)
            what = "checkin_needs_help" if help_ else "checkin_late" if was_missed else None
            if work is not None and what is not None:
                await self._put_alarm(conn, work, what, by_applicant=True)
        armed = self._armed.get(case_id)
        if armed is not None:
            armed.shown = None  # the tap's answer erases it
        self._fold_wal = True
        self.checkins_now.set()
        return True

    async def _put_alarm(
        self, conn: aiosqlite.Connection, work: store.WorkRow, what: str, *, by_applicant: bool
    ) -> None:
        """The code and what happened, to the team's group in both languages and to the holder.

        An answer from the applicant is not audited at all: "all fine" leaves no entry, so an
        entry for "not safe" (even without the code) would tell a seizer, beside the case whose
        check-ins were armed, which button its person tapped. The group's message and the
        holder's are the record, off the disk once delivered; the WAL is folded at once (the
        runner's round, woken by the answer), while the tap's answer is on its way to the
        phone, so the order of commits does not pair the account with the case for longer."""
        line = " · ".join(
            self._t(lang, f"group_{what}", code=work.code) for lang in COORDINATOR_LANGUAGES
        )
        await self.outbox.put(conn, self.teams.group_of(work.team), OutMessage(line))
        if work.assignee is not None:
            await self._notify(conn, work.assignee, what, code=work.code)
        if not by_applicant:
            await self._audit(conn, "system", what, work.code)

    def armed_checkins(self) -> Iterable[str]:
        """The case ids whose check-ins run now (for the operator's health and the tests)."""
        return tuple(self._armed)
