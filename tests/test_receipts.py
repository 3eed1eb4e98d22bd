"""Receipts made ahead of time: a form sent in a burst is answered without waiting on Argon2id."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator

from bot.crypto import TEST_COST, hash_secret, verify_secret
from bot.services.receipts import ReceiptMint
from tests.conftest import until

READY = 4
NOT_REFILLED = "the mint did not get there"


class Hasher:
    """The real Argon2id at the test cost, which a test can hold up (as a coordinator's
    passphrase check or another burst would) and which counts its calls."""

    def __init__(self) -> None:
        self.calls = 0
        self.free = threading.Event()
        self.free.set()

    def __call__(self, secret: str) -> str:
        self.free.wait(30)
        self.calls += 1
        return hash_secret(secret, cost=TEST_COST)


@contextlib.asynccontextmanager
async def kept_ready(mint: ReceiptMint) -> AsyncIterator[None]:
    worker = asyncio.create_task(mint.keep_ready())
    try:
        yield
    finally:
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker


async def test_ready_receipts_are_handed_out_while_argon2_is_held_up() -> None:
    hasher = Hasher()
    mint = ReceiptMint(hasher, ready=READY)
    async with kept_ready(mint):
        await until(lambda: mint.ready() == READY, NOT_REFILLED)
        hasher.free.clear()
        taken = [await asyncio.wait_for(mint.take(), 5.0) for _ in range(READY)]
        assert mint.ready() == 0
        hasher.free.set()
    for receipt in taken:
        assert verify_secret(receipt.secret, receipt.hashed)


async def test_what_is_taken_is_made_again_and_no_more() -> None:
    hasher = Hasher()
    mint = ReceiptMint(hasher, ready=READY)
    async with kept_ready(mint):
        await until(lambda: mint.ready() == READY, NOT_REFILLED)
        for _ in range(3):
            await mint.take()
        await until(lambda: mint.ready() == READY, NOT_REFILLED)
        await asyncio.sleep(0.05)  # room to overshoot, were it going to
        assert hasher.calls == READY + 3
        assert mint.ready() == READY


async def test_with_none_ready_a_receipt_is_made_on_the_spot() -> None:
    """Without the background worker (or when a surge used every ready one)."""
    hasher = Hasher()
    mint = ReceiptMint(hasher, ready=READY)
    receipt = await mint.take()
    assert hasher.calls == 1 and mint.ready() == 0
    assert verify_secret(receipt.secret, receipt.hashed)


async def test_no_two_receipts_are_alike_and_none_shows_in_a_log() -> None:
    mint = ReceiptMint(Hasher(), ready=READY)
    async with kept_ready(mint):
        taken = [await mint.take() for _ in range(3 * READY)]
    assert len({r.secret for r in taken}) == len({r.hashed for r in taken}) == 3 * READY
    assert all(r.secret not in repr(r) and r.hashed not in repr(r) for r in taken)


async def test_a_failed_hash_does_not_stop_the_refill() -> None:
    hasher = Hasher()
    failures = [MemoryError("no room for Argon2id's memory")]

    def sometimes_failing(secret: str) -> str:
        if failures:
            raise failures.pop()
        return hasher(secret)

    mint = ReceiptMint(sometimes_failing, ready=READY)
    mint.retry_seconds = 0.01
    async with kept_ready(mint):
        await until(lambda: mint.ready() == READY, NOT_REFILLED)
    assert not failures and hasher.calls == READY
