"""A case's dropbox: a key pair the bot can seal to but only a case-key holder can open.

After submission the bot no longer holds the case key, yet must still add to the case (the
applicant's answer to a coordinator's question). So each case may own an X25519 key pair: the
public half is stored in the clear and used with :func:`~bot.crypto.sealing.seal`; the private
half is stored encrypted under the case key, bound to the case id.
"""

from __future__ import annotations

from typing import NamedTuple

from bot.crypto.case_key import CaseKey
from bot.crypto.sealing import UnlockedKey

_PURPOSE = "dropbox-private-key"


class CaseDropbox(NamedTuple):
    public_key: bytes
    protected_private_key: bytes

    def __repr__(self) -> str:
        return "CaseDropbox(<public key and protected private key>)"


def new_case_dropbox(case_key: CaseKey, *, case_id: str) -> CaseDropbox:
    key = UnlockedKey.generate()
    protected = case_key._seal(key._private_bytes(), purpose=_PURPOSE, case_id=case_id, name="")
    return CaseDropbox(public_key=key.public_key, protected_private_key=protected)


def open_case_dropbox(
    case_key: CaseKey, protected_private_key: bytes, *, case_id: str
) -> UnlockedKey:
    raw = case_key._open(protected_private_key, purpose=_PURPOSE, case_id=case_id, name="")
    return UnlockedKey._from_private_bytes(raw)
