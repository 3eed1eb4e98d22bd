"""Receipts made ahead of time, so someone who has just sent their form is not kept waiting.

A receipt's secret is random and owes nothing to the form, so its Argon2id hash (all the store
keeps) can be worked out before anyone asks for one. Argon2id is deliberately slow (about
0.1 s of CPU at the default cost) and runs one evaluation at a time in this process; made on
the spot, a burst of submissions queued behind it, and so did every other person's next
question while it held the CPU. A few receipts are kept ready instead, refilled in the
background as they are handed out.

Ready receipts live in this process's memory only, never on disk: a restart simply discards
them, unissued. When a surge has used every ready one, the next is made on the spot as before.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from bot.crypto import new_receipt_secret
from bot.logs import get_logger

READY_RECEIPTS = 16  # a burst of this many submissions is answered without waiting on Argon2id
RETRY_SECONDS = 5.0  # after a failed hash, before the next try

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Receipt:
    """What the applicant is shown (``secret``) and what the store keeps (``hashed``)."""

    secret: str
    hashed: str

    def __repr__(self) -> str:  # a receipt must never end up in a log or a traceback
        return "Receipt(…)"


class ReceiptMint:
    """Hands out receipts; :meth:`keep_ready` (a background task) keeps some made in advance."""

    def __init__(self, hash_secret: Callable[[str], str], *, ready: int = READY_RECEIPTS) -> None:
        self._hash_secret = hash_secret
        self._size = ready
        self.retry_seconds = RETRY_SECONDS
        self._ready: deque[Receipt] = deque()
        self._taken = asyncio.Event()

    def ready(self) -> int:
        return len(self._ready)

    async def take(self) -> Receipt:
        """A receipt nobody else has: a ready one if there is one, else one made now."""
        self._taken.set()
        if self._ready:
            return self._ready.popleft()
        return await asyncio.to_thread(self._make)

    async def keep_ready(self) -> None:
        """Refill to the target whenever a receipt is taken; runs until cancelled, and outlives
        a failed hash (a submission then makes its own receipt, as it would anyway)."""
        while True:
            try:
                while len(self._ready) < self._size:
                    self._ready.append(await asyncio.to_thread(self._make))
            except Exception as exc:  # noqa: BLE001 - the worker must outlive one bad round
                log.error("receipts_not_made", error=type(exc).__name__)
                await asyncio.sleep(self.retry_seconds)
                continue
            self._taken.clear()
            await self._taken.wait()

    def _make(self) -> Receipt:
        secret = new_receipt_secret()
        return Receipt(secret, self._hash_secret(secret))
