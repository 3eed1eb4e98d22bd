"""The vault: everything the running bot does with the master key, and master-key rotation."""

from __future__ import annotations

from collections.abc import Iterable

from cryptography.hazmat.primitives import hashes, hmac

from bot.crypto._primitives import VERSION, aead_open, aead_seal, check_version, pack
from bot.crypto.case_key import CaseKey
from bot.crypto.errors import DecryptionError
from bot.crypto.keys import KEY_ID_BYTES, MasterKey

# Every vault blob starts ``version || key id``; the key id names the master key that made it.
_HEADER_LEN = 1 + KEY_ID_BYTES


def wrapped_key_id(blob: bytes) -> str:
    """The key id of the master key that made a vault blob (a wrapped case key or a local seal).

    Rotation uses it to find the blobs still made under an old key. It reads only the public
    header; it proves nothing about the blob, which may still fail to open.
    """
    check_version(blob)
    if len(blob) < _HEADER_LEN:
        raise DecryptionError
    return blob[1:_HEADER_LEN].hex()


class Vault:
    """Holds the current master key, and during a rotation the previous ones.

    New blobs are always made under the current key. Opening reads the key id from the blob and
    uses the key of that id, so a vault built as ``Vault(new, previous=[old])`` opens both old and
    new blobs while :meth:`rewrap_case_key` and :meth:`reseal_local` move blobs to the new key.

    Each use has its own HKDF subkey of the master key (wrapping, pseudonyms, and one per local
    purpose), so no key ever serves two purposes.
    """

    __slots__ = ("_current", "_keys")

    def __init__(self, master: MasterKey, *, previous: Iterable[MasterKey] = ()) -> None:
        self._current = master
        self._keys: dict[str, MasterKey] = {}
        for key in (master, *previous):
            self._keys.setdefault(key.key_id, key)

    @property
    def key_id(self) -> str:
        """The key id of the current master key: the one every new blob is made under."""
        return self._current.key_id

    @property
    def key_ids(self) -> frozenset[str]:
        """Every key id this vault can open: the current one and the previous ones."""
        return frozenset(self._keys)

    # -- case keys of drafts -------------------------------------------------------------------

    def wrap_case_key(self, key: CaseKey, *, case_id: str) -> bytes:
        return self._seal(
            self._current, key._material(), "wrap-case-key", ad=pack("case-key", case_id)
        )

    def unwrap_case_key(self, blob: bytes, *, case_id: str) -> CaseKey:
        master = self._master_for(blob)
        raw = self._open(master, blob, "wrap-case-key", ad=pack("case-key", case_id))
        try:
            return CaseKey(raw)
        except ValueError:
            raise DecryptionError from None

    def rewrap_case_key(self, blob: bytes, *, case_id: str) -> bytes:
        """Open a wrapped case key under whichever held key made it; wrap it under the current."""
        return self.wrap_case_key(self.unwrap_case_key(blob, case_id=case_id), case_id=case_id)

    # -- small records the bot must read back while running ------------------------------------

    def seal_local(self, plaintext: bytes, *, purpose: str, context: str) -> bytes:
        """Encrypt a small non-case record (a triage flag, a message-id trace) for the bot itself.

        ``purpose`` picks the subkey (one per kind of record); ``context`` binds the blob to its
        row, as the case id and field name do for case fields.
        """
        return self._seal(
            self._current, plaintext, "local", purpose, ad=pack("local", purpose, context)
        )

    def open_local(self, blob: bytes, *, purpose: str, context: str) -> bytes:
        master = self._master_for(blob)
        return self._open(master, blob, "local", purpose, ad=pack("local", purpose, context))

    def reseal_local(self, blob: bytes, *, purpose: str, context: str) -> bytes:
        plaintext = self.open_local(blob, purpose=purpose, context=context)
        return self.seal_local(plaintext, purpose=purpose, context=context)

    # -- pseudonyms ----------------------------------------------------------------------------

    def pseudonym(self, telegram_user_id: int) -> bytes:
        """HMAC-SHA256 of the user id under the pseudonym subkey of the current master key.

        Stable for one user and one master key; without the master key it cannot be linked back to
        a Telegram account, not even by trying every plausible user id.
        """
        return _pseudonym(self._current, telegram_user_id)

    def pseudonyms(self, telegram_user_id: int) -> tuple[bytes, ...]:
        """The user's pseudonym under every held key, current first.

        A rotation changes pseudonyms and the bot cannot recompute them without the user id, so
        during a rotation a lookup tries each of these and moves a found row to the first.
        """
        current = _pseudonym(self._current, telegram_user_id)
        others = (
            _pseudonym(key, telegram_user_id)
            for key_id, key in self._keys.items()
            if key_id != self._current.key_id
        )
        return (current, *others)

    # -- keyed digests ---------------------------------------------------------------------------

    def mac(self, data: bytes, *, purpose: str) -> bytes:
        """HMAC-SHA256 under a per-purpose subkey: a digest nobody without the master key can
        forge or test guesses against (audit chain links, invite code lookups)."""
        digest = hmac.HMAC(self._current.subkey("mac", purpose), hashes.SHA256())
        digest.update(data)
        return digest.finalize()

    # -- internals -----------------------------------------------------------------------------

    def _master_for(self, blob: bytes) -> MasterKey:
        key_id = wrapped_key_id(blob)
        master = self._keys.get(key_id)
        if master is None:
            raise DecryptionError(
                f"ciphertext was made under master key {key_id}, which this vault does not hold"
            )
        return master

    @staticmethod
    def _seal(master: MasterKey, plaintext: bytes, *info: str, ad: bytes) -> bytes:
        header = bytes([VERSION]) + bytes.fromhex(master.key_id)
        return aead_seal(master.subkey(*info), plaintext, header=header, ad=ad)

    @staticmethod
    def _open(master: MasterKey, blob: bytes, *info: str, ad: bytes) -> bytes:
        return aead_open(master.subkey(*info), blob, header_len=_HEADER_LEN, ad=ad)

    def __repr__(self) -> str:
        return f"Vault(key_id={self.key_id!r}, previous={len(self._keys) - 1})"


def _pseudonym(master: MasterKey, telegram_user_id: int) -> bytes:
    if isinstance(telegram_user_id, bool) or not isinstance(telegram_user_id, int):
        raise TypeError("a Telegram user id is an int")
    mac = hmac.HMAC(master.subkey("pseudonym"), hashes.SHA256())
    mac.update(str(telegram_user_id).encode("ascii"))
    return mac.finalize()
