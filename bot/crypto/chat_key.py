"""The chat key: the key of one applicant's chat, which lives in the chat and never on disk.

A seizer holds every file, the master key and lists of Telegram ids. Anything the server could
compute from an account id and its own secrets would let them test that list ("did this soldier
write to the bot?"), so an applicant's state is keyed by a secret the server does not keep: 128
random bits, sent to the chat inside the bot's own messages (a button's callback data, a link
on a question) and handed back by Telegram with every tap and reply. The process holds it in
memory while the chat is active; at rest there is only what it sealed.

128 bits are what fits beside a button's own data in Telegram's 64 bytes of callback data, and
a secret of that size cannot be guessed; HKDF stretches it to the AES-256-GCM key and the HMAC
key that use it, one subkey each.
"""

from __future__ import annotations

import base64
import binascii
import secrets

from cryptography.hazmat.primitives import hashes, hmac

from bot.crypto._primitives import (
    PADDED,
    aead_open,
    aead_seal,
    check_version,
    hkdf,
    pack,
    pad,
    unpad,
)

CHAT_KEY_BYTES = 16
#: The key as it travels in the chat: unpadded URL-safe base64, always this long.
TOKEN_CHARS = 22
_HEADER = bytes([PADDED])
# A chat's state is sealed at a whole number of these: each answer changes what it holds but not
# its length (a WAL keeps every version of a row), so the lengths say nothing of the choices.
STATE_BUCKET = 4096


class ChatKey:
    """One chat's key. ``row_name`` names its stored state; ``seal``/``open`` protect it.

    The row name is an HMAC of the account id under the key: someone holding only the key (a
    button's data copied off a seized phone) cannot use it from another account, and someone
    holding only the account id cannot find or recognise the row.
    """

    __slots__ = ("_name_key", "_seal_key", "_token")

    def __init__(self, raw: bytes) -> None:
        if len(raw) != CHAT_KEY_BYTES:
            raise ValueError(f"a chat key is {CHAT_KEY_BYTES} bytes, got {len(raw)}")
        self._name_key = hkdf(raw, "chat-key", "row-name")
        self._seal_key = hkdf(raw, "chat-key", "state")
        self._token = base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")

    @classmethod
    def generate(cls) -> ChatKey:
        return cls(secrets.token_bytes(CHAT_KEY_BYTES))

    @classmethod
    def from_token(cls, token: str) -> ChatKey | None:
        """The key a token names, or None for anything that is not one (a forged or cut tap)."""
        if len(token) != TOKEN_CHARS:
            return None
        try:
            raw = base64.urlsafe_b64decode(token + "==")
        except (binascii.Error, ValueError):
            return None
        if len(raw) != CHAT_KEY_BYTES:
            return None
        return cls(raw)

    @property
    def token(self) -> str:
        """The key as it is written into the chat."""
        return self._token

    def row_name(self, account_id: int) -> bytes:
        mac = hmac.HMAC(self._name_key, hashes.SHA256())
        mac.update(str(account_id).encode("ascii"))
        return mac.finalize()

    def seal(self, plaintext: bytes, *, row: bytes, field: str) -> bytes:
        padded = pad(plaintext, STATE_BUCKET)
        return aead_seal(self._seal_key, padded, header=_HEADER, ad=pack("chat", row, field))

    def open(self, blob: bytes, *, row: bytes, field: str) -> bytes:
        check_version(blob, accepted=(PADDED,))
        ad = pack("chat", row, field)
        return unpad(aead_open(self._seal_key, blob, header_len=len(_HEADER), ad=ad))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ChatKey) and secrets.compare_digest(self._token, other._token)

    def __hash__(self) -> int:
        return hash(self._name_key)

    def __repr__(self) -> str:
        return "ChatKey(<hidden>)"
