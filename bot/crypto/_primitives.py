"""The few primitives every recipe in this package is built from, and the blob framing they share.

Nothing here is a new primitive: HKDF-SHA256 and AES-256-GCM come from ``cryptography``, nonces
from ``secrets``. What lives here is the one way this package frames a blob (a version byte first,
the header authenticated as associated data) and the one unambiguous way it encodes associated
data, so that no two contexts can ever produce the same bytes.
"""

from __future__ import annotations

import secrets
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from bot.crypto.errors import DecryptionError

VERSION = 1
# Blobs whose plaintext is padded (``pad``) before sealing: a case field's or a chat's length
# would otherwise say which option was chosen, how long a name is, or how many digits an
# account id has.
PADDED = 2
KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16

# Every HKDF ``info`` and every associated-data string starts with this label, so keys and blobs of
# this project can never be confused with those of another program that shares a secret by mistake.
LABEL = b"exit-intake-bot/v1"


def pack(*parts: bytes | str) -> bytes:
    """Length-prefix each part, so ("ab", "c") and ("a", "bc") can never encode alike."""
    out = bytearray()
    for part in parts:
        data = part.encode("utf-8") if isinstance(part, str) else part
        out += struct.pack(">I", len(data))
        out += data
    return bytes(out)


def hkdf(secret: bytes | bytearray, *info: bytes | str, length: int = KEY_BYTES) -> bytes:
    """Derive an independent subkey; ``info`` names its one purpose."""
    return HKDF(
        algorithm=hashes.SHA256(), length=length, salt=None, info=pack(LABEL, *info)
    ).derive(bytes(secret))


def aead_seal(key: bytes | bytearray, plaintext: bytes, *, header: bytes, ad: bytes) -> bytes:
    """``header || nonce || ciphertext+tag``; the header is authenticated along with ``ad``.

    A random 96-bit nonce is safe here because no single key encrypts anywhere near 2**32
    messages: case keys cover one case, derived keys cover one bot's lifetime of small records.
    """
    nonce = secrets.token_bytes(NONCE_BYTES)
    return header + nonce + AESGCM(bytes(key)).encrypt(nonce, plaintext, pack(LABEL, header, ad))


def aead_open(key: bytes | bytearray, blob: bytes, *, header_len: int, ad: bytes) -> bytes:
    """Undo :func:`aead_seal`; any failure at all is the one :class:`DecryptionError`."""
    if len(blob) < header_len + NONCE_BYTES + TAG_BYTES:
        raise DecryptionError
    header = blob[:header_len]
    nonce = blob[header_len : header_len + NONCE_BYTES]
    body = blob[header_len + NONCE_BYTES :]
    try:
        return AESGCM(bytes(key)).decrypt(nonce, body, pack(LABEL, header, ad))
    except InvalidTag:
        raise DecryptionError from None


def pad(plaintext: bytes, bucket: int) -> bytes:
    """ISO/IEC 7816-4 padding (one 0x80 byte, then zeros) up to a whole number of ``bucket``
    bytes, so every plaintext of a bucket's size seals to the same length. Inside the AEAD, so a
    padding error can only follow a forged blob that already failed authentication."""
    size = (len(plaintext) // bucket + 1) * bucket
    return plaintext + b"\x80" + bytes(size - len(plaintext) - 1)


def unpad(padded: bytes) -> bytes:
    end = padded.rstrip(b"\x00")
    if not end.endswith(b"\x80"):
        raise DecryptionError
    return end[:-1]


def check_version(blob: bytes, *, accepted: tuple[int, ...] = (VERSION,)) -> None:
    if not isinstance(blob, bytes | bytearray) or len(blob) == 0 or blob[0] not in accepted:
        raise DecryptionError
