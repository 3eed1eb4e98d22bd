"""Sealing to a public key: data the bot can deposit but never read back.

The construction is HPKE (RFC 9180) in base mode, single shot, from ``cryptography``:
DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM. Each seal makes a fresh ephemeral key pair;
the KEM binds the ephemeral and the recipient public keys into the shared secret, and the HPKE
``info`` binds the kind of payload and its context (for a case key, the case id), so a sealed
copy moved to another case fails to open. Blobs are ``version || enc (32) || ciphertext+tag``.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM, Suite

from bot.crypto._primitives import LABEL, VERSION, check_version, pack
from bot.crypto.case_key import CaseKey
from bot.crypto.errors import CryptoError, DecryptionError

PUBLIC_KEY_BYTES = 32

_SUITE = Suite(KEM.X25519, KDF.HKDF_SHA256, AEAD.AES_256_GCM)
_HEADER = bytes([VERSION])
_CASE_KEY = "case-key"
_DATA = "data"


def seal(plaintext: bytes, recipient_public_key: bytes, *, context: str) -> bytes:
    """Encrypt for the holder of the private half of ``recipient_public_key``, not for the bot.

    ``context`` must be given again to open, so a blob only opens in the row it was made for.
    """
    return _seal(plaintext, recipient_public_key, kind=_DATA, context=context)


def seal_case_key(key: CaseKey, recipient_public_key: bytes, *, case_id: str) -> bytes:
    """One sealed copy of a case key for one coordinator (or any X25519 recipient)."""
    return _seal(key._material(), recipient_public_key, kind=_CASE_KEY, context=case_id)


class UnlockedKey:
    """An X25519 private key in memory: a coordinator's after ``unlock``, or a case's dropbox.

    It is held only as long as this object lives; nothing here writes it anywhere, and neither
    ``repr`` nor any attribute shows its bytes.
    """

    __slots__ = ("_private", "_public")

    def __init__(self, private_key: X25519PrivateKey) -> None:
        self._private = private_key
        self._public = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @classmethod
    def generate(cls) -> UnlockedKey:
        return cls(X25519PrivateKey.generate())

    @classmethod
    def _from_private_bytes(cls, raw: bytes) -> UnlockedKey:
        try:
            return cls(X25519PrivateKey.from_private_bytes(raw))
        except ValueError:
            raise DecryptionError from None

    @property
    def public_key(self) -> bytes:
        return self._public

    def open_case_key(self, sealed: bytes, *, case_id: str) -> CaseKey:
        raw = self._open(sealed, kind=_CASE_KEY, context=case_id)
        try:
            return CaseKey(raw)
        except ValueError:
            raise DecryptionError from None

    def open_sealed(self, blob: bytes, *, context: str) -> bytes:
        return self._open(blob, kind=_DATA, context=context)

    def _private_bytes(self) -> bytes:
        """The raw private key, for protecting it under a passphrase or a case key only."""
        return self._private.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )

    def _open(self, blob: bytes, *, kind: str, context: str) -> bytes:
        check_version(blob)
        try:
            return _SUITE.decrypt(blob[len(_HEADER) :], self._private, info=_info(kind, context))
        except (InvalidTag, ValueError):
            raise DecryptionError from None

    def __repr__(self) -> str:
        return "UnlockedKey(<hidden>)"


def _seal(plaintext: bytes, recipient_public_key: bytes, *, kind: str, context: str) -> bytes:
    try:
        public = X25519PublicKey.from_public_bytes(recipient_public_key)
    except (TypeError, ValueError):
        raise CryptoError(f"a recipient public key is {PUBLIC_KEY_BYTES} raw bytes") from None
    try:
        return _HEADER + _SUITE.encrypt(plaintext, public, info=_info(kind, context))
    except ValueError:
        # A low-order point: no shared secret exists, so nothing could ever open the result.
        raise CryptoError("the recipient public key is not a usable X25519 key") from None


def _info(kind: str, context: str) -> bytes:
    return pack(LABEL, _HEADER, "seal", kind, context)
