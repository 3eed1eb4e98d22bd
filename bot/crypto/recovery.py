"""The organisation's recovery key: an X25519 pair made offline, whose private half never
reaches the server.

Every submitted case key is sealed to its public half, so a case sent before anyone enrolled
is never left under the master key, and losing every coordinator's passphrase loses no case.
Both halves travel as text: the public half as ``recovery-public:`` and 64 hex digits (a config
value), the private half as ``recovery-private:`` and 64 hex digits (a file on a USB stick).
"""

from __future__ import annotations

import binascii

from bot.crypto.sealing import PUBLIC_KEY_BYTES, UnlockedKey

PUBLIC_PREFIX = "recovery-public:"
PRIVATE_PREFIX = "recovery-private:"


def new_recovery_key() -> tuple[str, str]:
    """A fresh pair as ``(private text, public text)``; only the public text goes on a server."""
    key = UnlockedKey.generate()
    private = PRIVATE_PREFIX + key._private_bytes().hex()
    return private, public_text(key.public_key)


def public_text(public_key: bytes) -> str:
    return PUBLIC_PREFIX + public_key.hex()


def parse_public_key(text: str) -> bytes:
    """The raw public half; ``ValueError`` with a reason an operator can act on."""
    return _parse(text, PUBLIC_PREFIX, "a recovery public key")


def load_recovery_key(text: str) -> UnlockedKey:
    """The private half from its file's text, for the offline recovery commands only."""
    return UnlockedKey._from_private_bytes(_parse(text, PRIVATE_PREFIX, "a recovery private key"))


def _parse(text: str, prefix: str, what: str) -> bytes:
    cleaned = text.strip()
    if not cleaned.startswith(prefix):
        raise ValueError(
            f"is not {what} (it starts with {prefix!r}; make one with "
            "`python -m bot recovery-keygen`)"
        )
    try:
        raw = bytes.fromhex(cleaned[len(prefix) :])
    except (ValueError, binascii.Error):
        raise ValueError(f"is not {what}: the part after {prefix!r} is not hex") from None
    if len(raw) != PUBLIC_KEY_BYTES:
        raise ValueError(f"is not {what}: it must hold {PUBLIC_KEY_BYTES} bytes, not {len(raw)}")
    return raw
