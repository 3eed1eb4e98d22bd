"""The three ways a crypto call can refuse, each with one calm message.

Messages never say *why* an AEAD check failed (tampering, a moved row and a wrong key look the same
by design) and never carry key bytes, plaintext or the library's own exception.
"""

from __future__ import annotations

DECRYPTION_FAILED = "ciphertext does not open under this key and context"
UNLOCK_FAILED = "the passphrase does not open this key"


class CryptoError(Exception):
    """Base class, so a caller can catch every refusal from this package in one clause."""


class DecryptionError(CryptoError):
    """A blob was tampered with, moved to another row, made under another key, or is not a blob."""

    def __init__(self, message: str = DECRYPTION_FAILED) -> None:
        super().__init__(message)


class WrongPassphrase(CryptoError):
    """A coordinator's passphrase did not open their protected private key."""

    def __init__(self, message: str = UNLOCK_FAILED) -> None:
        super().__init__(message)
