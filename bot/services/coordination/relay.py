"""Relays: a question from the team reaches the applicant without saying who asks, and the
answer comes back sealed to the case's own key.
"""

from __future__ import annotations

import json
import secrets

from bot.crypto import seal
from bot.intake.events import Button, Reply
from bot.services.coordination.base import (
    PENDING_SECONDS,
    CoordIncoming,
    CoordResponse,
    ServiceBase,
    say,
)
from bot.services.outbox import OutMessage
from bot.store import coordination as store
from bot.text import normalize_input


class RelayMixin(ServiceBase):
    """/ask, and the applicant's answer on its way back into the case."""

    async def start_reply(self, pseudonym: bytes, token: str) -> bool:
        case_id = await store.open_relay(self.db.conn, self._relay_hash(pseudonym, token))
        if case_id is None:
            return False
        self._awaiting_reply[pseudonym] = (token, self.clock() + PENDING_SECONDS)
        return True

    def awaiting_reply(self, pseudonym: bytes) -> bool:
        waiting = self._awaiting_reply.get(pseudonym)
        if waiting is None:
            return False
        if waiting[1] < self.clock():
            del self._awaiting_reply[pseudonym]
            return False
        return True

    async def deposit_reply(self, pseudonym: bytes, text: str) -> bool:
        """Seal the answer to the case's own public key: the bot cannot read it back."""
        token, _ = self._awaiting_reply.pop(pseudonym, ("", 0.0))
        token_hash = self._relay_hash(pseudonym, token)
        now = self._now()
        stored = normalize_input(text)
        async with self.db.transaction() as conn:
            case_id = await store.open_relay(conn, token_hash)
            dropbox = await store.get_dropbox(conn, case_id) if case_id else None
            if case_id is None or dropbox is None:
                return False
            body = json.dumps({"at": now, "text": stored.text, "uncertain": stored.uncertain})
            await store.add_inbox(
                conn, case_id, seal(body.encode(), dropbox[0], context=case_id), now=now
            )
            await store.answer_relay(conn, token_hash, now=now)
            work = await self._work_by_id(conn, case_id)
            await self._audit(conn, "system", "answered", None)  # no code, as for submitted
            if work is not None and work.assignee is not None:
                await self._notify(conn, work.assignee, "answered", code=work.code)
        # The WAL now holds this commit between two writes of the applicant's chat trace: fold
        # it away, or the order of commits pairs the account with the case.
        await self.db.checkpoint_or_retry()
        return True

    async def relay_unanswered(self, chat_id: int, tokens: list[str]) -> None:
        """Questions erased from an applicant's phone before Telegram's window closed, with no
        answer: the case's holder hears of it, so silence is not taken for an answer. The
        relay is closed, and the audit entry, like an answer's, names no case."""
        pseudonym = self.vault.pseudonym(chat_id)
        for token in tokens:
            token_hash = self._relay_hash(pseudonym, token)
            async with self.db.transaction() as conn:
                case_id = await store.open_relay(conn, token_hash)
                if case_id is None:  # answered meanwhile
                    continue
                await store.answer_relay(conn, token_hash, now=self._now())
                work = await self._work_by_id(conn, case_id)
                await self._audit(conn, "system", "unanswered", None)
                if work is not None and work.assignee is not None:
                    await self._notify(conn, work.assignee, "unanswered", code=work.code)
        await self.db.checkpoint_or_retry()

    async def _cmd_ask(
        self, me: store.CoordinatorRow, inc: CoordIncoming, work: store.WorkRow, arg: str
    ) -> CoordResponse:
        if not arg:
            return say(self._t(me, "ask_missing", code=work.code))
        opened = await self._open(me, work)
        chat_id, lang = self._applicant(opened[1])
        token = secrets.token_urlsafe(16)
        message = OutMessage(
            self.catalog.text(lang, "team_message", text=arg),
            ((Button(self.catalog.text(lang, "reply"), f"Q:{token}"),),),
            protect=True,
        )
        async with self.db.transaction() as conn:
            await store.add_relay(
                conn,
                token_hash=self._relay_hash(self.vault.pseudonym(chat_id), token),
                case_id=work.case_id,
                now=self._now(),
            )
            await self._add_entry(
                conn, me, work, opened, "ask", self._record(me.handle, arg), audit="asked"
            )
            await self.outbox.put(conn, chat_id, message)
        return CoordResponse(
            (Reply(self._t(me, "ask_sent", code=work.code)),), delete=(inc.message_id,)
        )

    def _relay_hash(self, pseudonym: bytes, token: str) -> str:
        """A relay is bound to its recipient: the token alone (a forwarded button, a copied
        callback) opens nothing, and only the applicant it was sent to can answer, once."""
        return self._digest(f"{pseudonym.hex()}:{token}", "relay")
