"""Argon2id: the cost of guessing a coordinator's passphrase or an applicant's receipt code.

Both are secrets a person types, so both go through Argon2id (RFC 9106) from ``cryptography``.
Each call costs on the order of 100 ms of CPU and 64 MiB of memory at the default cost; async
callers should run them in a worker thread (``asyncio.to_thread``) so the bot keeps answering,
and the thread yields the CPU to the event loop.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import threading
import unicodedata
from dataclasses import dataclass

from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from bot.crypto._primitives import KEY_BYTES

SALT_BYTES = 16

# Bounds on a cost read back from storage: generous for real use, but a corrupted or crafted
# row cannot make the bot try to allocate terabytes or spin for hours.
MAX_ITERATIONS = 256
MAX_LANES = 64
MAX_MEMORY_KIB = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Argon2Cost:
    """How expensive one Argon2id evaluation is; stored beside every result so it can change."""

    iterations: int
    memory_kib: int
    lanes: int

    def __post_init__(self) -> None:
        if not 1 <= self.iterations <= MAX_ITERATIONS:
            raise ValueError(f"Argon2 iterations must be 1..{MAX_ITERATIONS}")
        if not 1 <= self.lanes <= MAX_LANES:
            raise ValueError(f"Argon2 lanes must be 1..{MAX_LANES}")
        if not 8 * self.lanes <= self.memory_kib <= MAX_MEMORY_KIB:
            raise ValueError(f"Argon2 memory must be 8 KiB per lane up to {MAX_MEMORY_KIB} KiB")


# RFC 9106, section 4, second recommended option: t=3, m=64 MiB, p=4.
DEFAULT_COST = Argon2Cost(iterations=3, memory_kib=64 * 1024, lanes=4)

# The same code path at a cost that makes tests fast. It protects nothing: never for real secrets.
TEST_COST = Argon2Cost(iterations=1, memory_kib=64, lanes=1)


def normalize(secret: str) -> bytes:
    """NFC, so one passphrase typed on two keyboards (composed or decomposed) is one passphrase."""
    return unicodedata.normalize("NFC", secret).encode("utf-8")


# One Argon2id evaluation at a time in this process. With more than one lane, two evaluations
# running at once from different threads deadlock inside OpenSSL's thread pool (seen with
# cryptography 50 on OpenSSL 4.0): two applicants sending their forms at the same moment would
# hang every later submission. Each evaluation still uses its lanes, so little is lost.
_ONE_AT_A_TIME = threading.Lock()

# Threads that evaluate Argon2id (and the lane threads OpenSSL starts from them) run at a lower
# CPU priority than the event loop. On a two-core server a burst of submissions otherwise takes
# both cores from the loop: everyone's next question waited behind the receipts being hashed
# (on the benchmark, p99 at 300 actions/s fell by about a third). A submission waits a little
# longer under load; its cost to an attacker is unchanged.
ARGON2_NICENESS = 10
_lowered = threading.local()


def _below_the_event_loop() -> None:
    if getattr(_lowered, "done", False) or not hasattr(os, "setpriority"):
        return
    with contextlib.suppress(OSError):  # not allowed here: run at the same priority
        thread = threading.get_native_id()
        current = os.getpriority(os.PRIO_PROCESS, thread)
        os.setpriority(os.PRIO_PROCESS, thread, min(19, current + ARGON2_NICENESS))
    _lowered.done = True


def derive_key(passphrase: str, *, salt: bytes, cost: Argon2Cost) -> bytes:
    """A 256-bit key from a passphrase, for the protected coordinator key."""
    with _ONE_AT_A_TIME:
        _below_the_event_loop()
        return _argon2(salt, cost).derive(normalize(passphrase))


def hash_secret(secret: str, *, cost: Argon2Cost = DEFAULT_COST) -> str:
    """An Argon2id PHC string (``$argon2id$v=19$m=…,t=…,p=…$salt$hash``) for a short secret."""
    kdf = _argon2(secrets.token_bytes(SALT_BYTES), cost)
    with _ONE_AT_A_TIME:
        _below_the_event_loop()
        return kdf.derive_phc_encoded(normalize(secret))


_PHC = re.compile(r"\$argon2id\$v=19\$m=(\d{1,10}),t=(\d{1,10}),p=(\d{1,10})\$[A-Za-z0-9+/]+\$")


def verify_secret(secret: str, encoded: str) -> bool:
    """True only if ``secret`` hashes to ``encoded``; False for a mismatch or a malformed string.

    The comparison is the library's constant-time one. The cost is read from ``encoded`` and
    bounded first, so a damaged row cannot make a check hang.
    """
    match = _PHC.match(encoded) if isinstance(encoded, str) else None
    if match is None:
        return False
    try:
        Argon2Cost(iterations=int(match[2]), memory_kib=int(match[1]), lanes=int(match[3]))
        with _ONE_AT_A_TIME:
            _below_the_event_loop()
            Argon2id.verify_phc_encoded(normalize(secret), encoded)
    except (InvalidKey, ValueError):
        return False
    return True


def _argon2(salt: bytes, cost: Argon2Cost) -> Argon2id:
    return Argon2id(
        salt=salt,
        length=KEY_BYTES,
        iterations=cost.iterations,
        lanes=cost.lanes,
        memory_cost=cost.memory_kib,
    )
