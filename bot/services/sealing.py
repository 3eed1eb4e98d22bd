"""Who holds a sealed copy of a case key, the copies themselves, and a case moved under a new
key: one rule for submission, enrolment, transfer, grants and upgrades, so no path seals a case
to someone outside its team or leaves part of it under a key it is meant to leave."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import aiosqlite

from bot.coordination.teams import receives
from bot.crypto import CaseKey, new_case_dropbox, open_case_dropbox, seal, seal_case_key
from bot.store import cases as case_store
from bot.store import coordination as store
from bot.store.writes import apply


async def holders_by_team(
    conn: aiosqlite.Connection,
) -> Callable[[str | None], list[store.CoordinatorRow]]:
    """Who gets a sealed copy of a case of a given team, from one read of the coordinators and
    their teams."""
    members = await store.memberships(conn)
    active = await store.active_coordinators(conn)

    def holders_of(team: str | None) -> list[store.CoordinatorRow]:
        return [c for c in active if receives(members.get(c.id, frozenset()), team)]

    return holders_of


def sealed_copies(
    case_id: str, key: CaseKey, holders: list[store.CoordinatorRow]
) -> dict[str, bytes]:
    return {c.id: seal_case_key(key, c.public_key, case_id=case_id) for c in holders}


async def open_fields(conn: aiosqlite.Connection, case_id: str, key: CaseKey) -> dict[str, bytes]:
    encrypted = await case_store.read_fields(conn, case_id)
    return {n: key.decrypt(v, case_id=case_id, field=n) for n, v in encrypted.items()}


async def rekey(
    conn: aiosqlite.Connection,
    case_id: str,
    old: CaseKey,
    new: CaseKey,
    fields: Mapping[str, bytes],
    *,
    recovery_public_key: bytes,
    now: int,
) -> None:
    """Everything of the case that the old key opened, under the new key instead: every field,
    the dropbox's key pair and the answers it holds, and the recovery copy. The holders' copies
    are the caller's to replace (a transfer changes who holds the case)."""
    sealed = {n: new.encrypt(v, case_id=case_id, field=n) for n, v in fields.items()}
    await case_store.write_fields(conn, case_id, sealed, now=now)
    box = await store.get_dropbox(conn, case_id)
    if box is not None:
        old_private = open_case_dropbox(old, box[1], case_id=case_id)
        fresh = new_case_dropbox(new, case_id=case_id)
        await store.replace_dropbox(conn, case_id, fresh.public_key, fresh.protected_private_key)
        for item_id, item, _at in await store.inbox(conn, case_id):
            body = old_private.open_sealed(item, context=case_id)
            await store.reseal_inbox(conn, item_id, seal(body, fresh.public_key, context=case_id))
    recovery = seal_case_key(new, recovery_public_key, case_id=case_id)
    await apply(conn, store.recovery_key_write(case_id, recovery))


async def renew_key(
    conn: aiosqlite.Connection,
    case_id: str,
    old: CaseKey,
    holders: list[store.CoordinatorRow],
    *,
    recovery_public_key: bytes,
    now: int,
) -> None:
    """A case an earlier release kept under a key that was once under the master key (the
    draft's, so any backup of those days opens it) moves to a fresh key, sealed to ``holders``
    (replacing their copies) and to the recovery key: what is written from now on opens with
    no key a seizer of those backups holds."""
    new = CaseKey.generate()
    fields = await open_fields(conn, case_id, old)
    await rekey(conn, case_id, old, new, fields, recovery_public_key=recovery_public_key, now=now)
    if holders:
        await store.add_case_keys(conn, case_id, sealed_copies(case_id, new, holders))
    new.destroy()
