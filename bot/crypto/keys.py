"""The master key: the one secret the operator holds, parsed and printed in a single text form."""

from __future__ import annotations

import base64
import binascii
import secrets

from bot.crypto._primitives import hkdf

MASTER_KEY_BYTES = 32
KEY_ID_BYTES = 8


class MasterKey:
    """32 random bytes, written as unpadded URL-safe base64 so it fits an env var or a secret file.

    The raw bytes are kept private and never appear in ``repr``: a master key that leaks into a
    traceback or a log is a master key that leaks.
    """

    __slots__ = ("_key_id", "_raw", "_subkeys")

    def __init__(self, raw: bytes) -> None:
        if len(raw) != MASTER_KEY_BYTES:
            raise ValueError(f"a master key is {MASTER_KEY_BYTES} bytes, got {len(raw)}")
        self._raw = bytes(raw)
        self._key_id = hkdf(self._raw, "master-key-id", length=KEY_ID_BYTES).hex()
        self._subkeys: dict[tuple[str, ...], bytes] = {}

    def subkey(self, *purpose: str) -> bytes:
        """The HKDF subkey for one fixed purpose, derived once.

        Every update needs several (a pseudonym, the chat trace's key), and the purposes are a
        handful of names in the code, so keeping them costs no more than keeping this key.
        """
        key = self._subkeys.get(purpose)
        if key is None:
            key = self._subkeys[purpose] = hkdf(self._raw, *purpose)
        return key

    @classmethod
    def generate(cls) -> MasterKey:
        return cls(secrets.token_bytes(MASTER_KEY_BYTES))

    @classmethod
    def from_text(cls, text: str) -> MasterKey:
        """Parse the form ``keygen`` prints, ignoring surrounding white space (a file's newline)."""
        cleaned = text.strip()
        if not cleaned:
            raise ValueError("is empty")
        try:
            raw = base64.urlsafe_b64decode(cleaned + "=" * (-len(cleaned) % 4))
        except (binascii.Error, ValueError):
            raise ValueError("is not base64 (make one with `python -m bot keygen`)") from None
        if len(raw) != MASTER_KEY_BYTES:
            raise ValueError(
                f"must decode to {MASTER_KEY_BYTES} bytes, not {len(raw)} "
                "(make one with `python -m bot keygen`)"
            )
        return cls(raw)

    def to_text(self) -> str:
        return base64.urlsafe_b64encode(self._raw).rstrip(b"=").decode("ascii")

    @property
    def key_id(self) -> str:
        """A public fingerprint (16 hex digits) that names this key without revealing it.

        It is an HKDF output under its own label, so it says nothing about the key or about any
        subkey; it lets rotation tell which master key made a blob, and an operator compare keys.
        """
        return self._key_id

    def __repr__(self) -> str:
        return "MasterKey(<hidden>)"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MasterKey) and secrets.compare_digest(self._raw, other._raw)

    def __hash__(self) -> int:
        return hash(("MasterKey", self._key_id))
