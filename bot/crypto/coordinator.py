"""Coordinator key pairs: made at enrolment, the private half kept only under a passphrase.

The protected private key is ``version || iterations || memory KiB || lanes || salt || nonce ||
ciphertext+tag``: AES-256-GCM under Argon2id(passphrase, salt), with the whole header as
associated data. It carries its own cost, so the default can rise without locking anyone out.
"""

from __future__ import annotations

import secrets
import struct
from dataclasses import dataclass

from bot.crypto._primitives import VERSION, aead_open, aead_seal, check_version, pack
from bot.crypto.errors import DecryptionError, WrongPassphrase
from bot.crypto.passphrase import DEFAULT_COST, SALT_BYTES, Argon2Cost, derive_key
from bot.crypto.sealing import UnlockedKey

_HEADER = struct.Struct(f">BIII{SALT_BYTES}s")
_AD = pack("coordinator-private-key")


@dataclass(frozen=True, slots=True)
class CoordinatorKeys:
    """What the store keeps for one coordinator: safe to write to disk as they are."""

    public_key: bytes
    protected_private_key: bytes

    @classmethod
    def create(cls, passphrase: str, *, cost: Argon2Cost = DEFAULT_COST) -> CoordinatorKeys:
        key = UnlockedKey.generate()
        return cls(public_key=key.public_key, protected_private_key=protect(key, passphrase, cost))

    def __repr__(self) -> str:
        return "CoordinatorKeys(<public key and protected private key>)"


def protect(key: UnlockedKey, passphrase: str, cost: Argon2Cost = DEFAULT_COST) -> bytes:
    """Encrypt a private key under a passphrase (enrolment, or a change of passphrase)."""
    if not passphrase:
        raise ValueError("a passphrase must not be empty")
    salt = secrets.token_bytes(SALT_BYTES)
    header = _HEADER.pack(VERSION, cost.iterations, cost.memory_kib, cost.lanes, salt)
    wrapping_key = derive_key(passphrase, salt=salt, cost=cost)
    return aead_seal(wrapping_key, key._private_bytes(), header=header, ad=_AD)


def unlock(protected_private_key: bytes, passphrase: str) -> UnlockedKey:
    """Open a protected private key; :class:`WrongPassphrase` if the passphrase does not fit.

    A damaged blob whose header still parses looks exactly like a wrong passphrase (the AEAD
    cannot tell them apart); one whose header does not parse is a :class:`DecryptionError`.
    """
    check_version(protected_private_key)
    if len(protected_private_key) < _HEADER.size:
        raise DecryptionError
    _, iterations, memory_kib, lanes, salt = _HEADER.unpack_from(protected_private_key)
    try:
        cost = Argon2Cost(iterations=iterations, memory_kib=memory_kib, lanes=lanes)
    except ValueError:
        raise DecryptionError from None
    wrapping_key = derive_key(passphrase, salt=salt, cost=cost)
    try:
        raw = aead_open(wrapping_key, protected_private_key, header_len=_HEADER.size, ad=_AD)
    except DecryptionError:
        raise WrongPassphrase from None
    return UnlockedKey._from_private_bytes(raw)


def change_passphrase(
    protected_private_key: bytes, old: str, new: str, *, cost: Argon2Cost = DEFAULT_COST
) -> bytes:
    """The same private key under a new passphrase; the public key, and sealed cases, stay valid."""
    return protect(unlock(protected_private_key, old), new, cost)
