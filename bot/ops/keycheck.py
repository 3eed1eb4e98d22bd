"""Is this the master key the database was made with? A key check value (KCV) says so at once.

Without it a wrong key is accepted at start-up: the bot runs, drafts do not open, and
``verify-audit`` reports an audit chain broken "by tampering" that never happened, which sends an
operator after an intruder instead of after the right key file. So the database keeps one small
blob sealed under the master key (``Vault.seal_local``: authenticated encryption, so only that
key opens it) beside the key's public fingerprint, and every command that opens the database
first checks that a held key opens it.

Why a sealed blob and not a bare MAC: during a rotation the vault holds the new key and the old
ones, and the database's KCV was made under the old one. ``open_local`` picks the held key named
in the blob's header, so a KCV made by any held key is accepted without reaching for a previous
key's raw material; :func:`write_key_check` at the end of a rotation replaces it with one under
the new key.

A database without a KCV is either fresh or older than the ``key_check`` table. It is given one
under the current key, but only if nothing in it says another key made it: every stored blob
names its key in its header, and the newest audit entry is a MAC under the key of its day.
Trusting the first key blindly would let one start with the wrong key write a KCV that then
refuses the right one.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from pathlib import Path

import aiosqlite

from bot.config import Config, ConfigError
from bot.coordination.audit import AuditEntry, entry_payload
from bot.crypto import DecryptionError, Vault, wrapped_key_id
from bot.crypto.keys import KEY_ID_BYTES
from bot.logs import get_logger
from bot.store import Database
from bot.store import coordination as coord_store
from bot.store import keycheck as store
from bot.store import operations as ops_store

log = get_logger(__name__)

KEY_CHECK_PURPOSE = "key-check"
_CONTEXT = "master-key"
_PLAINTEXT = b"exit-intake-bot: the master key of this database"
_HEADER_BYTES = 1 + KEY_ID_BYTES  # a vault blob's version byte and key id
DEFAULT_KEY_NAME = "security.master_key"


@dataclass(frozen=True)
class KeyCheck:
    """``stored_key_id`` is the key id of the database's KCV (None: it has none yet);
    ``problem`` says why the held keys are not this database's, None when they are."""

    stored_key_id: str | None
    problem: str | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def key_name(config: Config) -> str:
    """The master key as an operator set it (``security.master_key (from BOT_MASTER_KEY_FILE
    /run/secrets/key)``), so the one line says which file or variable to fix."""
    source = config.secret_source(DEFAULT_KEY_NAME)
    return f"{DEFAULT_KEY_NAME} (from {source})" if source else DEFAULT_KEY_NAME


def mismatch_error(check: KeyCheck, *, name: str = DEFAULT_KEY_NAME) -> ConfigError:
    return ConfigError(
        f"{name}: does not match this database ({check.problem}); "
        "use the key this database was made with"
    )


def vault_for(config: Config) -> Vault:
    return Vault(config.security.master_key, previous=config.security.previous_master_keys)


async def inspect_master_key(conn: aiosqlite.Connection, vault: Vault) -> KeyCheck:
    """Whether ``vault``'s keys belong to the database on ``conn``; only reads, so a health
    probe or ``check-config`` can call it on a read-only connection, on any schema version."""
    row = await store.read_key_check(conn)
    if row is not None:
        if _opens(vault, row):
            return KeyCheck(row.key_id, None)
        return KeyCheck(
            row.key_id,
            f"its key check value differs: made with key id {row.key_id}, {_held(vault)}",
        )
    return KeyCheck(None, await _foreign_evidence(conn, vault))


async def ensure_master_key(db: Database, vault: Vault, *, name: str = DEFAULT_KEY_NAME) -> None:
    """Refuse a master key that is not this database's (``ConfigError``, one line); give a
    database that has no KCV yet one under the current key.

    Call it right after the database is opened and migrated, before anything reads or writes
    under the key. It is idempotent, so calling it twice (the runtime and a command) is harmless.
    """
    check = await inspect_master_key(db.conn, vault)
    if not check.ok:
        raise mismatch_error(check, name=name)
    if check.stored_key_id is not None:
        return
    async with db.transaction() as conn:
        # Again under the write lock: another process may have written one meanwhile.
        check = await inspect_master_key(conn, vault)
        if not check.ok:
            raise mismatch_error(check, name=name)
        if check.stored_key_id is None:
            await write_key_check(conn, vault)
            log.info("key_check_written")


async def write_key_check(conn: aiosqlite.Connection, vault: Vault) -> None:
    """Make the database's KCV one under ``vault``'s current key (a fresh database, or a rotation
    that completed); call it inside the caller's write transaction."""
    value = vault.seal_local(_PLAINTEXT, purpose=KEY_CHECK_PURPOSE, context=_CONTEXT)
    await store.write_key_check(conn, key_id=vault.key_id, value=value)


async def check_database_file(
    path: Path, vault: Vault, *, name: str, immutable: bool = False
) -> KeyCheck | None:
    """:func:`inspect_master_key` on a database file opened read-only, raising the one-line
    ``ConfigError`` on a mismatch; None if there is no file (nothing to check against yet).

    ``immutable`` for a file nobody writes (a backup): then not even a ``-shm`` is created."""
    uri = _read_only_uri(path, immutable=immutable)
    if uri is None:
        return None
    conn = await aiosqlite.connect(uri, uri=True)
    try:
        check = await inspect_master_key(conn, vault)
    finally:
        await conn.close()
    if not check.ok:
        raise mismatch_error(check, name=name)
    return check


def describe(check: KeyCheck) -> str:
    """The line ``check-config`` and ``health`` print for a key that matches."""
    if check.stored_key_id is None:
        return "the database has no key check value yet; the next start writes one"
    return f"the master key matches this database (key id {check.stored_key_id})"


# --- internals -----------------------------------------------------------------------------------


def _read_only_uri(path: Path, *, immutable: bool) -> str | None:
    # mode=ro: checking a key must neither create a missing database nor migrate an old one.
    if not path.is_file():
        return None
    return f"{path.resolve().as_uri()}?mode=ro" + ("&immutable=1" if immutable else "")


def _opens(vault: Vault, row: store.KeyCheckRow) -> bool:
    try:
        if wrapped_key_id(row.value) != row.key_id:
            return False
        plain = vault.open_local(row.value, purpose=KEY_CHECK_PURPOSE, context=_CONTEXT)
    except DecryptionError:
        return False
    return hmac.compare_digest(plain, _PLAINTEXT)


def _held(vault: Vault) -> str:
    if len(vault.key_ids) == 1:
        return f"this key's is {vault.key_id}"
    return "the keys held are " + ", ".join(sorted(vault.key_ids))


async def _foreign_evidence(conn: aiosqlite.Connection, vault: Vault) -> str | None:
    """What in a database without a KCV says that another key made it, or None."""
    for head in sorted(await store.blob_heads(conn, _HEADER_BYTES)):
        try:
            key_id = wrapped_key_id(head)
        except DecryptionError:
            continue  # not a vault blob at all: says nothing about keys
        if key_id not in vault.key_ids:
            return f"it holds data made with key id {key_id}, {_held(vault)}"
    if not await store.has_table(conn, "audit_log"):
        return None
    newest = await coord_store.audit_entries(conn, limit=1, newest_first=True)
    if not newest:
        return None
    anchored = 0
    if await store.has_table(conn, "audit_anchors"):
        anchors = await ops_store.anchors(conn)
        if anchors:
            if anchors[0].key_id not in vault.key_ids:
                key_id = anchors[0].key_id
                return f"its audit log was anchored with key id {key_id}, {_held(vault)}"
            anchored = anchors[0].through_seq
    entry = AuditEntry(*newest[0])
    if entry.seq <= anchored or len(vault.key_ids) > 1:
        return None  # made under a key this vault may no longer, or need not, hold alone
    payload = entry_payload(
        entry.seq, entry.at, entry.actor, entry.action, entry.case_code, entry.prev_hash
    )
    if not hmac.compare_digest(vault.mac(payload, purpose="audit").hex(), entry.hash):
        return f"its newest audit entry was not written with this key, {_held(vault)}"
    return None
