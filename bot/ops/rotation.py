"""Master-key rotation: move every blob made under an old master key to the new one, live.

How an operator rotates without downtime:

1. Restart the bot with the new key as ``security.master_key`` and the old one in
   ``security.previous_master_key_files``. The bot now makes everything under the new key and
   still opens what the old key made.
2. Run :func:`rotate`. Each row is moved in its own short transaction, so the running bot is
   never blocked for long; a row already under the new key is skipped, so an interrupted run is
   finished by running it again, and until then the old key still opens what is left.
3. When :func:`rotate` reports ``complete`` with nothing ``remaining``, drop the old key.

What cannot be moved, and what is done instead:

* Coordinators' pseudonyms (``coordinators.pseudonym``) are HMACs of a Telegram id, which the
  bot does not keep. They are moved the next time that person writes: :func:`adopt_coordinator`
  looks a coordinator up under every held key and moves a row found under an old one to the
  current pseudonym.
* Applicants' chats are under their own keys, not the master key, and need nothing. What an
  earlier release kept under a pseudonym (drafts, chat traces) is moved under a chat key when
  its owner next writes, looked up under every held key (``IntakeService``); a draft whose owner
  does not write again before the old key is dropped simply expires, as any idle draft does, and
  old chat traces are deleted.
* The audit chain is append-only and MACed under the master key, so it cannot be re-MACed.
  Instead a rotation first verifies the whole chain under the keys it holds, then appends an
  *anchor*: a MAC under the new key over every entry so far. :func:`verify_audit_log` checks
  the anchored entries against the newest anchor it can open and the rest entry by entry, so
  the log stays verifiable after the old key is gone. A chain that does not verify is never
  anchored (that would launder a forgery); the rotation reports the problem instead.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import aiosqlite

from bot.coordination.audit import (
    AuditEntry,
    ChainReport,
    check_posted_heads,
    entry_payload,
    verify_chain,
)
from bot.crypto import DecryptionError, MasterKey, Vault, wrapped_key_id
from bot.logs import get_logger
from bot.ops.keycheck import ensure_master_key, write_key_check
from bot.store import Database
from bot.store import cases as case_store
from bot.store import coordination as coord_store
from bot.store import operations as ops_store
from bot.store.coordination import CoordinatorRow

log = get_logger(__name__)

ANCHOR_PURPOSE = "audit-anchor"
AUDIT_PURPOSE = "audit"


@dataclass
class RotationReport:
    new_key_id: str
    moved: dict[str, int] = field(default_factory=dict)  # "table.column" -> blobs rewrapped
    skipped: int = 0  # blobs already under the new key
    unopenable: int = 0  # blobs no held key opens (left in place)
    traces_deleted: int = 0
    remaining: int = 0  # blobs still under another key after this run
    complete: bool = False
    audit_anchored_through: int | None = None
    audit_problem: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.complete and self.remaining == 0 and self.audit_problem is None

    def lines(self) -> list[str]:
        """What ``rotate-key`` prints: counts and key ids only, never content."""
        out = [f"new master key: {self.new_key_id}"]
        out += [f"rewrapped {name}: {count}" for name, count in sorted(self.moved.items())]
        out.append(f"already under the new key: {self.skipped}")
        out.append(f"chat traces deleted: {self.traces_deleted}")
        if self.unopenable:
            out.append(f"blobs no held key opens (left as they are): {self.unopenable}")
        if self.audit_problem is not None:
            out.append(f"audit log NOT anchored: {self.audit_problem}")
        elif self.audit_anchored_through is not None:
            out.append(f"audit log anchored through entry {self.audit_anchored_through}")
        out.append(f"still under an old key: {self.remaining}")
        if self.ok:
            out.append("rotation complete: the old key can be removed once every draft's")
            out.append("owner has written again or the draft lifetime has passed")
        else:
            out.append("rotation NOT complete: keep the old key and run it again")
        out.append(f"took {self.seconds:.2f} s")
        return out


# How each sealed column is moved: table, key column, sealed column -> rewrap(vault, blob, id).
Rewrap = Callable[[Vault, bytes, str], bytes]


def _local(purpose: str, context: str | None) -> Rewrap:
    """``context`` is the row id when None; ``{}`` in it stands for the row id."""

    def rewrap(vault: Vault, blob: bytes, row_id: str) -> bytes:
        ctx = row_id if context is None else context.format(row_id)
        return vault.reseal_local(blob, purpose=purpose, context=ctx)

    return rewrap


def _case_key(vault: Vault, blob: bytes, row_id: str) -> bytes:
    return vault.rewrap_case_key(blob, case_id=row_id)


_REWRAPS: dict[tuple[str, str, str], Rewrap] = {
    ("cases", "id", "wrapped_key"): _case_key,
    ("cases", "id", "triage"): _local("triage", None),
    ("outbox", "id", "chat"): _local("outbox", "chat:{}"),
    ("outbox", "id", "body"): _local("outbox", "body:{}"),
    ("coordinators", "id", "chat"): _local("coordinator-chat", None),
    ("scheduled_deletions", "id", "chat"): _local("deletion", "chat"),
}


async def rotate(
    db: Database,
    new: MasterKey,
    old: Sequence[MasterKey],
    *,
    limit: int | None = None,
    clock: Callable[[], float] = time.time,
) -> RotationReport:
    """Rewrap every master-key blob under ``new``; ``limit`` stops after that many rewraps
    (a batch), leaving the rest for the next run."""
    started = time.perf_counter()
    vault = Vault(new, previous=old)
    # Keys that are not this database's would leave every blob "unopenable" and then stamp the
    # new key as the database's: refuse them before moving anything.
    await ensure_master_key(db, vault)
    report = RotationReport(new_key_id=new.key_id)
    budget = limit
    for column, rewrap in _REWRAPS.items():
        table, key, name = column
        label = f"{table}.{name}"
        for row_id in await ops_store.sealed_row_ids(db.conn, table, key, name):
            if budget is not None and budget <= 0:
                break
            outcome = await _move_one(db, vault, column, rewrap, row_id)
            if outcome == "moved":
                report.moved[label] = report.moved.get(label, 0) + 1
                if budget is not None:
                    budget -= 1
            elif outcome == "skipped":
                report.skipped += 1
            elif outcome == "unopenable":
                report.unopenable += 1
    if budget is None or budget > 0:
        report.traces_deleted = await _drop_old_traces(db, new.key_id)
        await _anchor_audit(db, new, old, report, now=int(clock()))
        async with db.transaction() as conn:
            # From here the new key alone is this database's key: once the old one is dropped
            # from the config, the key check must accept the new key and refuse the old.
            await write_key_check(conn, vault)
        report.complete = True
    report.remaining = await pending(db, new.key_id)
    report.seconds = time.perf_counter() - started
    log.info(
        "key_rotated",
        complete=report.complete,
        moved=sum(report.moved.values()),
        remaining=report.remaining,
    )
    return report


async def _move_one(
    db: Database,
    vault: Vault,
    column: tuple[str, str, str],
    rewrap: Rewrap,
    row_id: ops_store.RowId,
) -> str:
    table, key, name = column
    async with db.transaction() as conn:
        # Read again inside the transaction: the bot may have sent, sealed or shredded it since.
        blob = await ops_store.read_sealed(conn, table, key, name, row_id)
        if blob is None:
            return "gone"
        if _key_id(blob) == vault.key_id:
            return "skipped"
        try:
            fresh = rewrap(vault, blob, str(row_id))
        except DecryptionError:
            return "unopenable"
        swapped = await ops_store.replace_sealed(
            conn, table, key, name, row_id, old=blob, new=fresh
        )
    return "moved" if swapped else "gone"


def _key_id(blob: bytes) -> str | None:
    try:
        return wrapped_key_id(blob)
    except DecryptionError:
        return None


async def pending(db: Database, key_id: str) -> int:
    """How many blobs are not yet under ``key_id``: zero means the old keys can go."""
    count = 0
    for table, key, name in _REWRAPS:
        for row_id in await ops_store.sealed_row_ids(db.conn, table, key, name):
            blob = await ops_store.read_sealed(db.conn, table, key, name, row_id)
            if blob is not None and _key_id(blob) != key_id:
                count += 1
    return count


async def _drop_old_traces(db: Database, key_id: str) -> int:
    dropped = 0
    for pseudonym, body in await ops_store.trace_bodies(db.conn):
        if _key_id(body) == key_id:
            continue  # written by the bot since it runs under the new key: still reachable
        async with db.transaction() as conn:
            await case_store.delete_trace(conn, pseudonym)
        dropped += 1
    return dropped


# --- pseudonyms: moved when their owner next writes ---------------------------------------------


async def adopt_coordinator(db: Database, vault: Vault, user_id: int) -> CoordinatorRow | None:
    """The coordinator row under any held key, moved to the current pseudonym if found under an
    old one; any status, as ``coordinator_by_pseudonym``."""
    current, *older = vault.pseudonyms(user_id)
    row = await coord_store.coordinator_by_pseudonym(db.conn, current)
    if row is not None or not older:
        return row
    async with db.transaction() as conn:
        for pseudonym in older:
            row = await coord_store.coordinator_by_pseudonym(conn, pseudonym)
            if row is not None:
                await ops_store.move_coordinator_pseudonym(conn, row.id, old=pseudonym, new=current)
                log.info("coordinator_pseudonym_moved")
                return await coord_store.coordinator_by_id(conn, row.id)
    return None


# --- the audit chain across rotations -----------------------------------------------------------


def _anchor_mac(vault: Vault, entries: Sequence[AuditEntry]) -> str:
    digest = hashlib.sha256()
    for entry in entries:
        payload = entry_payload(
            entry.seq, entry.at, entry.actor, entry.action, entry.case_code, entry.prev_hash
        )
        for part in (payload, entry.hash.encode("ascii")):
            digest.update(len(part).to_bytes(4, "big") + part)
    message = f"anchor:{len(entries)}:".encode("ascii") + digest.digest()
    return vault.mac(message, purpose=ANCHOR_PURPOSE).hex()


async def verify_audit_log(
    conn: aiosqlite.Connection,
    keys: Sequence[MasterKey],
    *,
    posted: Sequence[tuple[int, str]] = (),
) -> ChainReport:
    """Verify the whole audit log with the master keys held (current first).

    Entries covered by the newest anchor made under a held key are checked against it; the
    entries after it must link on and carry a MAC under one of the held keys (the bot may have
    written some under the old key before it was restarted with the new one).

    ``posted`` are heads (seq, hash) posted off the server (``verify-audit --head``). Without
    them, whoever holds the database can cut the log's tail, and whoever also holds the master
    key can rewrite and re-MAC entries, and this still reports the chain intact; with them, both
    fail. One limit: a head posted before a rotation pins the hashes of the entries it covers,
    but once the old key is gone their fields are vouched for only by the anchor, which the
    current key's holder could remake.
    """
    vaults = {key.key_id: Vault(key) for key in keys}
    entries = [AuditEntry(*row) for row in await coord_store.audit_entries(conn)]
    head_seq, head_hash = await coord_store.audit_head(conn)
    start: tuple[int, str] | None = None
    covered = 0
    for anchor in await ops_store.anchors(conn):
        vault = vaults.get(anchor.key_id)
        if vault is None:
            continue
        through = anchor.through_seq
        part = entries[:through]
        if len(part) < through or [e.seq for e in part] != list(range(1, through + 1)):
            problem = f"entries anchored at rotation (1 to {through}) are missing or reordered"
            return ChainReport(ok=False, checked=0, problem=problem, seq=1)
        if not hmac.compare_digest(_anchor_mac(vault, part), anchor.mac):
            problem = f"entries 1 to {through} do not match their rotation anchor (edited)"
            return ChainReport(ok=False, checked=0, problem=problem, seq=1)
        start, covered = (through + 1, part[-1].hash), through
        break
    rest = entries[covered:]
    stored = {_payload(e): e.hash for e in rest}

    def mac(payload: bytes) -> bytes:
        candidates = [v.mac(payload, purpose=AUDIT_PURPOSE) for v in vaults.values()]
        want = stored.get(payload)
        for candidate in candidates:
            if want is not None and hmac.compare_digest(candidate.hex(), want):
                return candidate
        return candidates[0]

    report = verify_chain(rest, mac, start=start, head=(head_seq, head_hash) if head_seq else None)
    checked = report.checked + covered
    if not report.ok:
        return ChainReport(report.ok, checked, report.problem, report.seq)
    off_server = check_posted_heads(entries, posted)
    if off_server is not None:
        return ChainReport(False, checked, off_server.problem, off_server.seq)
    return ChainReport(True, checked, None, None, heads=len(set(posted)))


def _payload(entry: AuditEntry) -> bytes:
    return entry_payload(
        entry.seq, entry.at, entry.actor, entry.action, entry.case_code, entry.prev_hash
    )


async def _anchor_audit(
    db: Database, new: MasterKey, old: Sequence[MasterKey], report: RotationReport, *, now: int
) -> None:
    async with db.transaction() as conn:  # the head cannot move while we read and anchor
        chain = await verify_audit_log(conn, [new, *old])
        if not chain.ok:
            report.audit_problem = chain.problem
            log.error("audit_not_anchored", seq=chain.seq)
            return
        head_seq, _ = await coord_store.audit_head(conn)
        if head_seq == 0:
            return
        report.audit_anchored_through = head_seq
        latest = await ops_store.anchors(conn)
        if latest and latest[0].key_id == new.key_id and latest[0].through_seq == head_seq:
            return  # a rerun: already anchored
        entries = [AuditEntry(*row) for row in await coord_store.audit_entries(conn)]
        await ops_store.add_anchor(
            conn,
            through_seq=head_seq,
            key_id=new.key_id,
            mac=_anchor_mac(Vault(new), entries[:head_seq]),
            at=now,
        )
