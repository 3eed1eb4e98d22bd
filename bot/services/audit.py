"""Appending to the audit log: the one place entries are chained and MACed.

The rules of the chain live in ``bot.coordination.audit``; the key is the master key's audit
subkey, so nobody without it can forge an entry that verifies.
"""

from __future__ import annotations

import aiosqlite

from bot.coordination import AuditEntry, seal_entry
from bot.crypto import Vault
from bot.store import coordination as store
from bot.store.times import to_day


async def record(
    conn: aiosqlite.Connection,
    vault: Vault,
    *,
    at: int,
    actor: str,
    action: str,
    case_code: str | None,
) -> AuditEntry:
    """Append one entry inside the caller's transaction, linked to the current head."""
    seq, prev = await store.audit_head(conn)
    entry = seal_entry(
        seq=seq + 1,
        at=to_day(at),
        actor=actor,
        action=action,
        case_code=case_code,
        prev_hash=prev,
        mac=lambda payload: vault.mac(payload, purpose="audit"),
    )
    await store.append_audit(
        conn,
        seq=entry.seq,
        at=entry.at,
        actor=entry.actor,
        action=entry.action,
        case_code=entry.case_code,
        prev_hash=entry.prev_hash,
        hash=entry.hash,
    )
    return entry
