"""The case key: one random AES-256-GCM key per case, over every field of that case."""

from __future__ import annotations

import secrets

from bot.crypto._primitives import (
    KEY_BYTES,
    PADDED,
    VERSION,
    aead_open,
    aead_seal,
    check_version,
    pack,
    pad,
    unpad,
)
from bot.crypto.errors import CryptoError, DecryptionError

_HEADER = bytes([PADDED])
# Every field is sealed at a whole number of these: a choice, a number, a chat id or a language
# all seal alike; a free text says its length to within this many bytes.
FIELD_BUCKET = 256


class CaseKey:
    """32 random bytes; each ciphertext is bound to its case id and field name.

    The associated data names the case and the field, so a ciphertext copied into another row
    (another case, or another field of the same case) fails to open instead of showing the wrong
    answer in the wrong place. Blobs are ``version || nonce || ciphertext+tag``.
    """

    __slots__ = ("_destroyed", "_raw")

    def __init__(self, raw: bytes | bytearray) -> None:
        if len(raw) != KEY_BYTES:
            raise ValueError(f"a case key is {KEY_BYTES} bytes, got {len(raw)}")
        self._raw = bytearray(raw)
        self._destroyed = False

    @classmethod
    def generate(cls) -> CaseKey:
        return cls(secrets.token_bytes(KEY_BYTES))

    def encrypt(self, plaintext: bytes, *, case_id: str, field: str) -> bytes:
        return self._seal(plaintext, purpose="field", case_id=case_id, name=field)

    def decrypt(self, blob: bytes, *, case_id: str, field: str) -> bytes:
        return self._open(blob, purpose="field", case_id=case_id, name=field)

    def encrypt_text(self, text: str, *, case_id: str, field: str) -> bytes:
        return self.encrypt(text.encode("utf-8"), case_id=case_id, field=field)

    def decrypt_text(self, blob: bytes, *, case_id: str, field: str) -> str:
        data = self.decrypt(blob, case_id=case_id, field=field)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            # Authentic but not text: it was written with ``encrypt``, not ``encrypt_text``.
            raise DecryptionError("ciphertext opened but does not hold UTF-8 text") from None

    def destroy(self) -> None:
        """Overwrite this object's copy of the key and refuse further use.

        Best effort only: Python, OpenSSL and the bytes this key was unwrapped from may hold other
        copies until their memory is reused. Real shredding is deleting the wrapped and sealed
        copies of the key from the store.
        """
        for i in range(len(self._raw)):
            self._raw[i] = 0
        self._destroyed = True

    @property
    def destroyed(self) -> bool:
        return self._destroyed

    def _material(self) -> bytes:
        """The raw key, for the wrap and seal recipes of this package only."""
        if self._destroyed:
            raise CryptoError("this case key has been destroyed")
        return bytes(self._raw)

    def _seal(self, plaintext: bytes, *, purpose: str, case_id: str, name: str) -> bytes:
        ad = pack(purpose, case_id, name)
        return aead_seal(self._material(), pad(plaintext, FIELD_BUCKET), header=_HEADER, ad=ad)

    def _open(self, blob: bytes, *, purpose: str, case_id: str, name: str) -> bytes:
        """Blobs of either version: unpadded ones were written before fields were padded."""
        check_version(blob, accepted=(VERSION, PADDED))
        ad = pack(purpose, case_id, name)
        plain = aead_open(self._material(), blob, header_len=len(_HEADER), ad=ad)
        return unpad(plain) if blob[0] == PADDED else plain

    def __repr__(self) -> str:
        return "CaseKey(<destroyed>)" if self._destroyed else "CaseKey(<hidden>)"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CaseKey):
            return NotImplemented
        return secrets.compare_digest(bytes(self._raw), bytes(other._raw))
