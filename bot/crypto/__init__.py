"""The key hierarchy, as one small safe API; the rest of the bot imports only from here.

Submodules hold the pieces (``_primitives`` the framing over ``cryptography``'s AES-256-GCM and
HKDF, ``sealing`` HPKE, ``passphrase`` Argon2id); nothing in this package invents a primitive.

Keys
    ``MasterKey``
        The operator's secret (``generate``, ``from_text``, ``to_text``, ``key_id``).
    ``Vault(master, previous=[...])``
        Everything done with the master key: ``wrap_case_key`` / ``unwrap_case_key`` /
        ``rewrap_case_key`` for drafts, ``seal_local`` / ``open_local`` / ``reseal_local`` for
        small records the running bot reads back (one HKDF subkey per ``purpose``, bound to a
        ``context``), ``pseudonym`` / ``pseudonyms`` (HMAC-SHA256 of a Telegram user id under an
        HKDF subkey), ``key_id`` / ``key_ids``.
    ``ChatKey``
        One random key per applicant chat, never on disk: it travels in the chat (``token``)
        and comes back with every tap and reply. ``row_name(account_id)`` names the chat's
        stored state, ``seal`` / ``open`` protect it, bound to that row and a field name.
    ``CaseKey``
        One random key per case. ``encrypt`` / ``decrypt`` (and ``_text`` variants) bind every
        ciphertext to its case id and field name.
    ``CoordinatorKeys.create(passphrase)``
        An X25519 pair: ``public_key`` and ``protected_private_key`` (AES-256-GCM under
        Argon2id(passphrase)). ``unlock(protected, passphrase)`` gives an ``UnlockedKey``;
        ``change_passphrase`` re-protects it.
    ``UnlockedKey``
        A private key in memory: ``public_key``, ``open_case_key``, ``open_sealed``.
    ``seal_case_key(key, public_key, case_id=)`` / ``seal(data, public_key, context=)``
        HPKE to a public key: the bot can seal but not open.
    ``new_case_dropbox`` / ``open_case_dropbox``
        A per-case key pair whose private half lives under the case key, so the bot can add to a
        submitted case (``seal`` to its public key) without being able to read it.

Recovery
    ``new_recovery_key`` (offline: private and public halves as text), ``parse_public_key``
    (the config's half), ``load_recovery_key`` (the private half, offline commands only). Every
    submitted case key is sealed to the public half with ``seal_case_key``.

Short secrets and codes
    ``hash_secret`` / ``verify_secret`` (Argon2id PHC strings; ``DEFAULT_COST`` is RFC 9106's
    second recommended option, ``TEST_COST`` is for tests only), ``new_case_code``,
    ``new_receipt_secret``, ``new_verification_phrase``, ``canonical_code``.

Blobs
    Every blob starts with a version byte, and every header is authenticated. Vault blobs also
    carry the key id of the master key that made them (``wrapped_key_id``), so a rotation can
    find and move them. Any blob that does not open (tampered, moved to another case, field or
    context, made under another key, or not a blob at all) raises ``DecryptionError`` with the
    message "ciphertext does not open under this key and context" (or, for a vault blob made
    under a master key the vault does not hold, a message naming that key id). A wrong
    passphrase raises ``WrongPassphrase``. Both derive from ``CryptoError``.

Shredding
    Shredding a case means deleting its wrapped and sealed key rows; the store does that, and
    the ciphertext left behind (in the database or an old backup) cannot be opened by anyone.
    ``CaseKey.destroy()`` also zeroes the object's own copy of the key, best effort only: Python
    and OpenSSL may keep other copies in memory until it is reused. Nothing here promises more.

No ``repr`` or ``str`` of any object here shows key material.
"""

from bot.crypto.case_key import CaseKey
from bot.crypto.chat_key import ChatKey
from bot.crypto.codes import (
    ALPHABET,
    canonical_code,
    new_case_code,
    new_receipt_secret,
    new_verification_phrase,
)
from bot.crypto.coordinator import CoordinatorKeys, change_passphrase, unlock
from bot.crypto.dropbox import CaseDropbox, new_case_dropbox, open_case_dropbox
from bot.crypto.errors import CryptoError, DecryptionError, WrongPassphrase
from bot.crypto.keys import MasterKey
from bot.crypto.passphrase import DEFAULT_COST, TEST_COST, Argon2Cost, hash_secret, verify_secret
from bot.crypto.recovery import load_recovery_key, new_recovery_key, parse_public_key
from bot.crypto.sealing import UnlockedKey, seal, seal_case_key
from bot.crypto.vault import Vault, wrapped_key_id

__all__ = [
    "ALPHABET",
    "DEFAULT_COST",
    "TEST_COST",
    "Argon2Cost",
    "CaseDropbox",
    "CaseKey",
    "ChatKey",
    "CoordinatorKeys",
    "CryptoError",
    "DecryptionError",
    "MasterKey",
    "UnlockedKey",
    "Vault",
    "WrongPassphrase",
    "canonical_code",
    "change_passphrase",
    "hash_secret",
    "load_recovery_key",
    "new_case_code",
    "new_case_dropbox",
    "new_receipt_secret",
    "new_recovery_key",
    "new_verification_phrase",
    "open_case_dropbox",
    "parse_public_key",
    "seal",
    "seal_case_key",
    "unlock",
    "verify_secret",
    "wrapped_key_id",
]
