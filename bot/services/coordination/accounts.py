"""A case that follows its person to a new account.

Phones are searched, taken or thrown away on the road. Someone who reaches safety on a new
phone sends ``/status`` with their full receipt code from it and taps "Use this account for my
case": from then on the team's questions go to the new chat. The bot cannot open the
case (only holders can), so the new chat id is sealed to the case's dropbox, as an answer is,
and the old one is destroyed: its sealed field deleted and the WAL folded. The next holder who
opens the case moves the new id into the case's own field.

A receipt code can be taken with the phone, so the change is treated as what it may be, a
takeover: the case is flagged and marked "account changed: vet again", the team's group and the
holder are told, questions the old account had not answered are closed, and the person gets a
new receipt code (the old one then matches nothing, exactly as a code nobody issued, and an
offer made with it moves nothing). Check-ins stop, the one unanswered on the old phone posted as
missed: they must not follow whoever holds the code, and start again when a holder, having
vetted again, sends /checkin.
"""

from __future__ import annotations

import json
import secrets
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, replace

import aiosqlite

from bot.coordination.vetting import progress, reopened_by_account_change
from bot.crypto import CaseKey, DecryptionError, open_case_dropbox, seal
from bot.i18n import COORDINATOR_LANGUAGES
from bot.logs import get_logger
from bot.services.coordination.checkins import CHECKIN_FIELD, CheckinMixin
from bot.services.coordination.vetting import ENTRY, marks_of
from bot.services.outbox import OutMessage
from bot.store import cases as case_store
from bot.store import coordination as store
from bot.store import journey as journey_store

log = get_logger(__name__)

ACCOUNT_FIELD = "account_changed"
OFFER_SECONDS = 600
MAX_OFFERS = 10_000


@dataclass(frozen=True)
class _Offer:
    """A "use this account" button shown after a matching ``/status``, to that account only."""

    case_id: str
    code: str
    user_id: int
    expires: float
    receipt_hash: str  # the receipt it was made with: moves nothing once that one is replaced


class AccountsMixin(CheckinMixin):
    """The applicant's move to a new account, and the case's chat id that follows it."""

    _offers: OrderedDict[str, _Offer] | None = None

    def offer_account(self, case_id: str, code: str, user_id: int, receipt_hash: str) -> str:
        """A one-time token for the button, held in memory for a few minutes."""
        offers = self._account_offers
        token = secrets.token_urlsafe(16)
        expires = self.clock() + OFFER_SECONDS
        offers[token] = _Offer(case_id, code, user_id, expires, receipt_hash)
        while len(offers) > MAX_OFFERS:
            offers.popitem(last=False)
        return token

    def take_account_offer(self, token: str, user_id: int) -> tuple[str, str, str] | None:
        """``(case id, code, receipt hash)`` of an offer made to this account and still
        fresh; spent."""
        offer = self._account_offers.get(token)
        if offer is None or offer.user_id != user_id:
            return None
        del self._account_offers[token]
        if offer.expires < self.clock():
            return None
        return (offer.case_id, offer.code, offer.receipt_hash)

    @property
    def _account_offers(self) -> OrderedDict[str, _Offer]:
        if self._offers is None:
            self._offers = OrderedDict()
        return self._offers

    async def change_account(
        self, case_id: str, chat_id: int, receipt_hash: str, *, offered_with: str
    ) -> bool:
        """The case's applicant is at ``chat_id`` from now on; ``receipt_hash`` is their new
        receipt's. ``False`` if the case is gone, or its receipt is no longer the one the
        offer was made with (moved already: that code matches nothing now).

        One at a time with the coordinators' commands: a question, a handoff or /checkin
        that read the old chat is written before the move (and dropped by it), or reads the
        new one."""
        async with self._acting:
            moved = await self._move_to(case_id, chat_id, receipt_hash, offered_with)
            if moved:
                self._disarm(case_id)  # the check-in on the old phone is erased at once
                self._void_offers(case_id)
        if moved and not await self.db.checkpoint_or_retry():
            log.warning("checkpoint_incomplete")
        return moved

    def _void_offers(self, case_id: str) -> None:
        """Every other offer of the moved case: spent, as if made with a code nobody issued."""
        offers = self._account_offers
        for token, offer in list(offers.items()):
            if offer.case_id == case_id:
                offers[token] = replace(offer, receipt_hash="")

    async def _move_to(self, case_id: str, chat_id: int, receipt_hash: str, old_hash: str) -> bool:
        now = self._now()
        async with self.db.transaction() as conn:
            work = await self._work_by_id(conn, case_id)
            dropbox = await store.get_dropbox(conn, case_id)
            current = await journey_store.receipt_hash(conn, case_id)
            if work is None or dropbox is None or not old_hash or current != old_hash:
                return False
            await self._drop_waiting_for_old_chat(conn, case_id)
            body = json.dumps({"at": time.time(), "chat": chat_id}).encode()
            await store.add_inbox(conn, case_id, seal(body, dropbox[0], context=case_id), now=now)
            await case_store.delete_fields(conn, case_id, ["chat_id"])
            await journey_store.set_receipt_hash(conn, case_id, receipt_hash)
            await journey_store.close_relays(conn, case_id, now=now)
            await store.set_flagged(conn, case_id, True, now=now)
            line = " · ".join(
                self._t(lang, "group_account_changed", code=work.code)
                for lang in COORDINATOR_LANGUAGES
            )
            await self.outbox.put(conn, self.teams.group_of(work.team), OutMessage(line))
            if work.assignee is not None:
                await self._notify(conn, work.assignee, "account_changed", code=work.code)
            # No code: the entry is written as the person taps, like an answer's.
            await self._audit(conn, "system", "account_changed", None)
            await self._pause_checkins(conn, work)
        # The old chat id's sealed field and this commit leave the WAL before the chat's own
        # trace is written (``change_account``).
        return True

    async def _pause_checkins(self, conn: aiosqlite.Connection, work: store.WorkRow) -> None:
        """The check-ins must not follow whoever holds the code: they stop until a holder,
        having vetted again, sends /checkin. One still unanswered on the old phone is posted
        as missed, and the holder is told."""
        armed = self._armed.get(work.case_id)
        pending = armed is not None and armed.shown is not None and not armed.shown.told
        had = armed is not None or (
            await case_store.read_field(conn, work.case_id, CHECKIN_FIELD) is not None
        )
        await journey_store.drop_checkin_tokens(conn, work.case_id)
        await case_store.delete_fields(conn, work.case_id, [CHECKIN_FIELD])
        if pending:
            # As the person taps: no entry of its own beside the move's (``_put_alarm``).
            await self._put_alarm(conn, work, "checkin_missed", by_applicant=True)
        if had and work.assignee is not None:
            await self._notify(conn, work.assignee, "checkins_paused_moved", code=work.code)

    async def _drop_waiting_for_old_chat(self, conn: aiosqlite.Connection, case_id: str) -> None:
        """Messages for the old account still waiting in the outbox (a question, the next step)
        must not reach a phone that may be in other hands: the old chat is known by a check-in
        armed for the case, or by a waiting question's relay, which is bound to its chat."""
        armed = self._armed.get(case_id)
        old = {armed.chat_id} if armed is not None else set()
        rows = await journey_store.outbox_rows(conn)
        chats: dict[int, int] = {}
        for row_id, sealed in rows:
            try:
                chats[row_id] = int(
                    self.vault.open_local(sealed, purpose="outbox", context=f"chat:{row_id}")
                )
            except DecryptionError:
                continue
        for row_id, chat in chats.items():
            if chat not in old and await self._asks_for(conn, row_id, chat, case_id):
                old.add(chat)
        for row_id, chat in chats.items():
            if chat in old:
                await store.mark_sent(conn, row_id)

    async def _asks_for(
        self, conn: aiosqlite.Connection, row_id: int, chat: int, case_id: str
    ) -> bool:
        """Whether a waiting message is this case's question to ``chat``."""
        body = await journey_store.outbox_body(conn, row_id)
        if body is None:
            return False
        try:
            message = OutMessage.load(
                self.vault.open_local(body, purpose="outbox", context=f"body:{row_id}")
            )
        except (DecryptionError, ValueError, KeyError):
            return False
        pseudonym = self.vault.pseudonym(chat)
        for row in message.buttons:
            for button in row:
                if button.data.startswith("Q:"):
                    relay_hash = self._digest(f"{pseudonym.hex()}:{button.data[2:]}", "relay")
                    if await store.open_relay(conn, relay_hash) == case_id:
                        return True
        return False

    async def _adopt_account(
        self, case_id: str, key: CaseKey, fields: dict[str, bytes]
    ) -> dict[str, bytes]:
        """A new account sealed to the dropbox becomes the case's chat id, under its key."""
        dropbox = await store.get_dropbox(self.db.conn, case_id)
        items = await store.inbox(self.db.conn, case_id) if dropbox else []
        if dropbox is None or not items:
            return fields
        private = open_case_dropbox(key, dropbox[1], case_id=case_id)
        moves = []
        for item_id, sealed, _ in items:
            data = json.loads(private.open_sealed(sealed, context=case_id))
            if "chat" in data:
                moves.append((float(data["at"]), item_id, int(data["chat"])))
        if not moves:
            return fields
        moves.sort()
        at, _, chat = moves[-1]
        reopened = self._vetting_reopened(fields)
        adopted = {
            "chat_id": str(chat).encode(),
            ACCOUNT_FIELD: json.dumps({"at": int(at)}).encode(),
            **reopened,
        }
        async with self.db.transaction() as conn:
            await self._write_fields(conn, case_id, key, adopted)
            await journey_store.remove_inbox_items(conn, [item_id for _, item_id, _ in moves])
            work = await self._work_by_id(conn, case_id)
            if work is not None and reopened:
                await self._audit(conn, "system", "unchecked", work.code)
        await self.db.checkpoint_or_retry()
        return {**fields, **adopted}

    def _vetting_reopened(self, fields: Mapping[str, bytes]) -> dict[str, bytes]:
        """The steps the config reopens on an account change, taken back as entries of the
        case's vetting record (as an /uncheck writes them), by the system, with the reason.

        Written when a holder first opens the case after the move: the bot cannot write into
        the case before (only holders' keys open it), and every command that could approve it
        opens it first."""
        reason = " · ".join(self._t(lang, "vetting_reopened") for lang in COORDINATOR_LANGUAGES)
        steps = reopened_by_account_change(self.settings.vetting, progress(marks_of(fields)))
        return {
            name: self._record("system", reason, step=step, undo="1")
            for name, step in zip(self._next_entries(fields, ENTRY), steps, strict=False)
        }

    def _case_notes(self, me: store.CoordinatorRow, fields: Mapping[str, bytes]) -> list[str]:
        if ACCOUNT_FIELD not in fields:
            return []
        return [self._t(me, "case_account_changed")]
