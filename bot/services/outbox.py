"""Messages that must not be lost: written in the transaction that causes them, sent later.

A case notice or a relayed question is committed together with the change behind it, then a
worker sends it and deletes the row once Telegram accepts. A crash between the commit and the
send only delays the message; the row is still there after a restart. Chat ids and texts are
sealed under a master-derived key, each blob bound to its row, so blobs moved between rows do
not open.

A waiting row is readable by whoever holds the master key (the bot must be able to send it),
so none waits longer than it must: a row goes once Telegram accepts it, at once when Telegram
refuses it for good (the person blocked the bot or is gone), and after ``expiry_seconds``
whatever happens. After a round that removed any message, the WAL is folded and truncated: a
removed row left in a WAL frame (a group notice naming a case, committed beside an applicant's
chat trace) would say in which order things happened, and so whose case is whose.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiosqlite

from bot.crypto import DecryptionError, Vault
from bot.intake.events import Button, Keyboard
from bot.logs import get_logger
from bot.store import Database
from bot.store import coordination as store

log = get_logger(__name__)

MAX_BACKOFF_SECONDS = 3600


@dataclass(frozen=True)
class OutMessage:
    text: str
    buttons: Keyboard = ()
    protect: bool = False

    def dump(self) -> bytes:
        rows = [[[b.label, b.data] for b in row] for row in self.buttons]
        return json.dumps({"t": self.text, "b": rows, "p": self.protect}).encode()

    @classmethod
    def load(cls, raw: bytes) -> OutMessage:
        data = json.loads(raw)
        buttons = tuple(tuple(Button(label, value) for label, value in row) for row in data["b"])
        return cls(data["t"], buttons, bool(data["p"]))


class DeliveryFailed(Exception):
    """The transport could not hand the message to Telegram; ``retry_after`` is Telegram's ask."""

    def __init__(
        self, reason: str, retry_after: float | None = None, *, permanent: bool = False
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.permanent = permanent  # Telegram will never accept it: retrying only keeps it


Send = Callable[[int, OutMessage], Awaitable[int]]
# Told of each message Telegram accepted: its chat, its id there, and what it was.
Sent = Callable[[int, int, OutMessage], Awaitable[None]]


DEFAULT_EXPIRY_SECONDS = 24 * 3600


class Outbox:
    def __init__(
        self,
        db: Database,
        vault: Vault,
        *,
        clock: Callable[[], float] = time.time,
        expiry_seconds: int = DEFAULT_EXPIRY_SECONDS,
    ):
        self.db = db
        self.vault = vault
        self.clock = clock
        self.expiry_seconds = expiry_seconds
        self.wake = asyncio.Event()

    async def put(self, conn: aiosqlite.Connection, chat_id: int, message: OutMessage) -> None:
        """Queue a message inside the caller's transaction."""
        row_id = await store.next_outbox_id(conn)
        await store.enqueue(
            conn,
            id=row_id,
            chat=self.vault.seal_local(
                str(chat_id).encode(), purpose="outbox", context=f"chat:{row_id}"
            ),
            body=self.vault.seal_local(message.dump(), purpose="outbox", context=f"body:{row_id}"),
            now=int(self.clock()),
        )
        self.wake.set()

    async def flush(self, send: Send, on_sent: Sent | None = None) -> int:
        """Try every due message once; returns how many Telegram accepted."""
        now = int(self.clock())
        sent = 0
        async with self.db.settled() as conn:  # woken inside the queueing transaction
            expired = await store.prune_outbox(conn, created_before=now - self.expiry_seconds)
            due = await store.due_messages(conn, now=now)
        if expired:
            log.info("outbox_expired", count=expired)
        removed = expired > 0
        for row in due:
            try:
                chat_id = int(
                    self.vault.open_local(row.chat, purpose="outbox", context=f"chat:{row.id}")
                )
                message = OutMessage.load(
                    self.vault.open_local(row.body, purpose="outbox", context=f"body:{row.id}")
                )
            except DecryptionError:
                log.error("outbox_unreadable")
                continue
            try:
                message_id = await send(chat_id, message)
            except DeliveryFailed as failure:
                if failure.permanent:
                    async with self.db.transaction() as conn:
                        await store.mark_sent(conn, row.id)
                    log.info("outbox_refused", error=failure.reason)
                    removed = True
                    continue
                delay = failure.retry_after or min(2 ** (row.attempts + 1), MAX_BACKOFF_SECONDS)
                async with self.db.transaction() as conn:
                    await store.mark_failed(
                        conn, row.id, error=failure.reason, next_attempt_at=now + int(delay) + 1
                    )
                log.info("outbox_retry", attempt=row.attempts + 1, retry_after=int(delay))
                if failure.retry_after:
                    break  # Telegram asked the whole bot to wait
                continue
            async with self.db.transaction() as conn:
                await store.mark_sent(conn, row.id)
            sent += 1
            removed = True
            if on_sent is not None:
                await on_sent(chat_id, message_id, message)
        if removed and not await self.db.checkpoint_or_retry():
            log.warning("checkpoint_incomplete")
        return sent
