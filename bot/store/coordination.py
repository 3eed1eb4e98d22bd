"""Rows of the coordination side: coordinators, their copies of case keys, relays to applicants,
the case workflow columns, the audit chain, the outbox and scheduled deletions.

As in ``bot.store.cases``, every function takes an open connection so the caller owns the
transaction: a state change, its audit entry and the notices it causes commit together or not
at all. Anything a person wrote or who they are arrives here already sealed, as bytes.
"""

from __future__ import annotations

import json
import re
import secrets
import sqlite3
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date

import aiosqlite

from bot.store.query import every, one
from bot.store.times import to_day, to_hour
from bot.store.writes import Write, apply

GENESIS_HASH = "0" * 64
"""The ``prev_hash`` of the first audit entry: the head of an empty chain."""

OPEN_STATUSES = ("submitted", "claimed", "approved")

_ERROR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]{0,99}")


# --- invites -----------------------------------------------------------------------------------


async def add_invite(
    conn: aiosqlite.Connection,
    *,
    code_hash: str,
    role: str,
    now: int,
    expires_at: int,
    teams: tuple[str, ...] = (),
) -> None:
    """``teams``: the teams the invite enrols into; none, the default for the role."""
    await conn.execute(
        "INSERT INTO invites (code_hash, role, created_at, expires_at, teams)"
        " VALUES (?, ?, ?, ?, ?)",
        (code_hash, role, now, expires_at, ",".join(teams) or None),
    )


async def invite_teams(conn: aiosqlite.Connection, code_hash: str) -> frozenset[str]:
    row = await one(conn, "SELECT teams FROM invites WHERE code_hash = ?", (code_hash,))
    return frozenset(str(row[0]).split(",")) if row and row[0] else frozenset()


async def take_invite(conn: aiosqlite.Connection, code_hash: str, *, now: int) -> str | None:
    """The invite's role, spending it in the same statement so two redemptions cannot both win.

    An invite expires at ``expires_at`` exactly; a used or unknown invite gives ``None``.
    """
    async with conn.execute(
        "UPDATE invites SET used_at = ?"
        " WHERE code_hash = ? AND used_at IS NULL AND expires_at > ? RETURNING role",
        (now, code_hash, now),
    ) as cur:
        rows = list(await cur.fetchall())
    return str(rows[0][0]) if rows else None


async def peek_invite(conn: aiosqlite.Connection, code_hash: str, *, now: int) -> str | None:
    """The role of an invite that could still be taken, without spending it."""
    row = await one(
        conn,
        "SELECT role FROM invites WHERE code_hash = ? AND used_at IS NULL AND expires_at > ?",
        (code_hash, now),
    )
    return str(row[0]) if row else None


async def delete_stale_invites(conn: aiosqlite.Connection, *, now: int) -> int:
    """Drop invites that can no longer be taken, so old codes leave no trace beyond their use."""
    cur = await conn.execute(
        "DELETE FROM invites WHERE used_at IS NOT NULL OR expires_at <= ?", (now,)
    )
    return cur.rowcount


# --- coordinators ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CoordinatorRow:
    id: str
    handle: str
    pseudonym: bytes
    chat: bytes
    role: str
    public_key: bytes
    protected_private_key: bytes
    status: str
    created_at: int
    revoked_at: int | None
    language: str | None = None  # the language of the bot's answers; None: not chosen


_COORDINATOR_COLUMNS = (
    "SELECT id, handle, pseudonym, chat, role, public_key, protected_private_key, status,"
    " created_at, revoked_at, language FROM coordinators"
)


def _coordinator(row: sqlite3.Row) -> CoordinatorRow:
    return CoordinatorRow(
        id=str(row[0]),
        handle=str(row[1]),
        pseudonym=bytes(row[2]),
        chat=bytes(row[3]),
        role=str(row[4]),
        public_key=bytes(row[5]),
        protected_private_key=bytes(row[6]),
        status=str(row[7]),
        created_at=int(row[8]),
        revoked_at=int(row[9]) if row[9] is not None else None,
        language=str(row[10]) if row[10] is not None else None,
    )


async def add_coordinator(
    conn: aiosqlite.Connection,
    *,
    id: str,
    handle: str,
    pseudonym: bytes,
    chat: bytes,
    role: str,
    public_key: bytes,
    protected_private_key: bytes,
    now: int,
    language: str | None = None,
) -> None:
    await conn.execute(
        "INSERT INTO coordinators (id, handle, pseudonym, chat, role, public_key,"
        " protected_private_key, status, created_at, language)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, 'active', ?, ?)",
        (
            id,
            handle,
            pseudonym,
            chat,
            role,
            public_key,
            protected_private_key,
            to_day(now),
            language,
        ),
    )


async def set_coordinator_language(
    conn: aiosqlite.Connection, coordinator_id: str, language: str
) -> None:
    await conn.execute(
        "UPDATE coordinators SET language = ? WHERE id = ?", (language, coordinator_id)
    )


async def _one_coordinator(
    conn: aiosqlite.Connection, query: str, value: str | bytes
) -> CoordinatorRow | None:
    row = await one(conn, query, (value,))
    return _coordinator(row) if row else None


async def coordinator_by_pseudonym(
    conn: aiosqlite.Connection, pseudonym: bytes
) -> CoordinatorRow | None:
    """Any status: a revoked coordinator is found, so the caller can refuse them as a stranger."""
    return await _one_coordinator(conn, _COORDINATOR_COLUMNS + " WHERE pseudonym = ?", pseudonym)


async def coordinator_pseudonyms(conn: aiosqlite.Connection) -> set[bytes]:
    """Every coordinator's pseudonym, any status."""
    async with conn.execute("SELECT pseudonym FROM coordinators") as cur:
        return {bytes(row[0]) for row in await cur.fetchall()}


async def coordinator_by_handle(conn: aiosqlite.Connection, handle: str) -> CoordinatorRow | None:
    return await _one_coordinator(conn, _COORDINATOR_COLUMNS + " WHERE handle = ?", handle)


async def coordinator_by_id(
    conn: aiosqlite.Connection,
    id: str,
) -> CoordinatorRow | None:
    return await _one_coordinator(conn, _COORDINATOR_COLUMNS + " WHERE id = ?", id)


async def active_coordinators(conn: aiosqlite.Connection) -> list[CoordinatorRow]:
    async with conn.execute(
        _COORDINATOR_COLUMNS + " WHERE status = 'active' ORDER BY created_at, id"
    ) as cur:
        return [_coordinator(row) async for row in cur]


async def set_membership(
    conn: aiosqlite.Connection, coordinator_id: str, teams: frozenset[str]
) -> None:
    await conn.execute("DELETE FROM coordinator_teams WHERE coordinator_id = ?", (coordinator_id,))
    await conn.executemany(
        "INSERT INTO coordinator_teams (coordinator_id, team) VALUES (?, ?)",
        [(coordinator_id, team) for team in sorted(teams)],
    )


async def memberships(conn: aiosqlite.Connection) -> dict[str, frozenset[str]]:
    """Each coordinator's teams; a coordinator without a row is absent (no teams: the one)."""
    found: dict[str, set[str]] = {}
    async with conn.execute("SELECT coordinator_id, team FROM coordinator_teams") as cur:
        async for coordinator_id, team in cur:
            found.setdefault(str(coordinator_id), set()).add(str(team))
    return {key: frozenset(value) for key, value in found.items()}


async def membership_of(conn: aiosqlite.Connection, coordinator_id: str) -> frozenset[str]:
    rows = await every(
        conn, "SELECT team FROM coordinator_teams WHERE coordinator_id = ?", (coordinator_id,)
    )
    return frozenset(str(row[0]) for row in rows)


async def adopt_teams(conn: aiosqlite.Connection, *, default: str, lead_teams: str) -> int:
    """Once teams are configured, what was made before them joins them: a coordinator without
    teams joins the default team, a lead leads ``lead_teams``, a case without a team is the
    default team's (its sealed copies were made for everyone, who are all in it now)."""
    cur = await conn.execute(
        "INSERT INTO coordinator_teams (coordinator_id, team)"
        " SELECT id, CASE role WHEN 'lead' THEN ? ELSE ? END FROM coordinators"
        " WHERE id NOT IN (SELECT coordinator_id FROM coordinator_teams)",
        (lead_teams, default),
    )
    adopted = cur.rowcount
    await conn.execute(
        "UPDATE cases SET team = ? WHERE team IS NULL AND status <> 'draft'", (default,)
    )
    return adopted


async def handle_in_use(conn: aiosqlite.Connection, handle: str) -> bool:
    return await one(conn, "SELECT 1 FROM coordinators WHERE handle = ?", (handle,)) is not None


async def revoke_coordinator(conn: aiosqlite.Connection, coordinator_id: str, *, now: int) -> int:
    """Revoke, delete every sealed copy they hold, and let go of what they held.

    Their cases lose their assignee (so a lead reassigns them) and any first approval they gave
    is withdrawn: a revoked person may have been an infiltrator, and their half of a two-person
    approval must not count. Returns the number of sealed copies deleted.
    """
    await conn.execute(
        "UPDATE coordinators SET status = 'revoked', revoked_at = ?"
        " WHERE id = ? AND status = 'active'",
        (to_day(now), coordinator_id),
    )
    cur = await conn.execute("DELETE FROM case_keys WHERE coordinator_id = ?", (coordinator_id,))
    removed = cur.rowcount
    await conn.execute(
        "UPDATE cases SET assignee = NULL, updated_at = ? WHERE assignee = ?",
        (now, coordinator_id),
    )
    await conn.execute(
        "UPDATE cases SET pending_approval_by = NULL, updated_at = ? WHERE pending_approval_by = ?",
        (now, coordinator_id),
    )
    return removed


# --- case keys ---------------------------------------------------------------------------------


def case_keys_write(case_id: str, sealed: Mapping[str, bytes]) -> Write:
    """One sealed copy per coordinator id, replacing a copy they already had.

    The schema refuses a copy for a coordinator who is not active (``sqlite3.IntegrityError``).
    """
    return Write(
        "INSERT INTO case_keys (case_id, coordinator_id, sealed_key) VALUES (?, ?, ?)"
        " ON CONFLICT (case_id, coordinator_id) DO UPDATE SET sealed_key = excluded.sealed_key",
        [(case_id, coordinator_id, key) for coordinator_id, key in sealed.items()],
    )


async def add_case_keys(
    conn: aiosqlite.Connection, case_id: str, sealed: Mapping[str, bytes]
) -> None:
    await apply(conn, case_keys_write(case_id, sealed))


async def case_key_for(
    conn: aiosqlite.Connection, case_id: str, coordinator_id: str
) -> bytes | None:
    row = await one(
        conn,
        "SELECT sealed_key FROM case_keys WHERE case_id = ? AND coordinator_id = ?",
        (case_id, coordinator_id),
    )
    return bytes(row[0]) if row else None


async def cases_sealed_to(conn: aiosqlite.Connection, coordinator_id: str) -> list[str]:
    async with conn.execute(
        "SELECT case_id FROM case_keys WHERE coordinator_id = ? ORDER BY case_id",
        (coordinator_id,),
    ) as cur:
        return [str(row[0]) async for row in cur]


async def case_team(conn: aiosqlite.Connection, case_id: str) -> str | None:
    row = await one(conn, "SELECT team FROM cases WHERE id = ?", (case_id,))
    return str(row[0]) if row and row[0] is not None else None


async def unsealed_case_ids(conn: aiosqlite.Connection) -> list[str]:
    """Submitted cases whose key is still under the master key: none should stay that way."""
    async with conn.execute(
        "SELECT id FROM cases WHERE status <> 'draft' AND wrapped_key IS NOT NULL"
        " ORDER BY submitted_at, id"
    ) as cur:
        return [str(row[0]) async for row in cur]


def recovery_key_write(case_id: str, sealed: bytes) -> Write:
    """The case key sealed to the organisation's offline recovery key."""
    return Write.one("UPDATE cases SET recovery_key = ? WHERE id = ?", sealed, case_id)


def wrapped_key_drop(case_id: str) -> Write:
    """Destroy the master-key copy: from here on only a coordinator's private key opens the case."""
    return Write.one("UPDATE cases SET wrapped_key = NULL WHERE id = ?", case_id)


async def drop_wrapped_key(conn: aiosqlite.Connection, case_id: str) -> None:
    await apply(conn, wrapped_key_drop(case_id))


def case_team_write(case_id: str, team: str | None) -> Write:
    """Set before any sealed copy is written: the schema checks each copy against it."""
    return Write.one("UPDATE cases SET team = ? WHERE id = ?", team, case_id)


async def drop_case_keys_except(
    conn: aiosqlite.Connection, case_id: str, keep: frozenset[str]
) -> int:
    """Delete every sealed copy of the case but those of ``keep``: the number deleted."""
    cur = await conn.execute(
        "DELETE FROM case_keys WHERE case_id = ?"
        " AND coordinator_id NOT IN (SELECT value FROM json_each(?))",
        (case_id, json.dumps(sorted(keep))),
    )
    return cur.rowcount


async def holders(conn: aiosqlite.Connection, case_id: str) -> list[str]:
    """Ids of the coordinators holding a sealed copy of the case key."""
    async with conn.execute(
        "SELECT coordinator_id FROM case_keys WHERE case_id = ? ORDER BY coordinator_id",
        (case_id,),
    ) as cur:
        return [str(row[0]) async for row in cur]


# --- dropbox and inbox -------------------------------------------------------------------------


def dropbox_write(case_id: str, public_key: bytes, protected_private_key: bytes) -> Write:
    """Set once: replacing the key pair would strand whatever was already deposited, so a
    second one raises ``sqlite3.IntegrityError``."""
    return Write.one(
        "INSERT INTO case_dropbox (case_id, public_key, protected_private_key) VALUES (?, ?, ?)",
        case_id,
        public_key,
        protected_private_key,
    )


async def get_dropbox(conn: aiosqlite.Connection, case_id: str) -> tuple[bytes, bytes] | None:
    """``(public_key, protected_private_key)`` of the case's dropbox."""
    row = await one(
        conn,
        "SELECT public_key, protected_private_key FROM case_dropbox WHERE case_id = ?",
        (case_id,),
    )
    return (bytes(row[0]), bytes(row[1])) if row else None


async def add_inbox(conn: aiosqlite.Connection, case_id: str, sealed: bytes, *, now: int) -> int:
    cur = await conn.execute(
        "INSERT INTO case_inbox (id, case_id, sealed, created_at) VALUES (?, ?, ?, ?)",
        (secrets.randbelow(2**62) + 1, case_id, sealed, to_day(now)),
    )
    return _rowid(cur)


async def replace_dropbox(
    conn: aiosqlite.Connection, case_id: str, public_key: bytes, protected_private_key: bytes
) -> None:
    """A new key pair for a case whose key changed; its items must be resealed to it."""
    await conn.execute(
        "UPDATE case_dropbox SET public_key = ?, protected_private_key = ? WHERE case_id = ?",
        (public_key, protected_private_key, case_id),
    )


async def reseal_inbox(conn: aiosqlite.Connection, item_id: int, sealed: bytes) -> None:
    await conn.execute("UPDATE case_inbox SET sealed = ? WHERE id = ?", (sealed, item_id))


async def inbox(conn: aiosqlite.Connection, case_id: str) -> list[tuple[int, bytes, int]]:
    """``(id, sealed, created_at)`` of every deposited item. Ids are random, so they say
    nothing of the order answers came in; the sealed body holds the time."""
    async with conn.execute(
        "SELECT id, sealed, created_at FROM case_inbox WHERE case_id = ? ORDER BY id", (case_id,)
    ) as cur:
        return [(int(row[0]), bytes(row[1]), int(row[2])) async for row in cur]


# --- relays ------------------------------------------------------------------------------------


async def add_relay(conn: aiosqlite.Connection, *, token_hash: str, case_id: str, now: int) -> None:
    await conn.execute(
        "INSERT INTO relays (token_hash, case_id, created_at) VALUES (?, ?, ?)",
        (token_hash, case_id, to_day(now)),
    )


async def open_relay(conn: aiosqlite.Connection, token_hash: str) -> str | None:
    """The case id the relayed question belongs to, while it is still unanswered."""
    row = await one(
        conn,
        "SELECT case_id FROM relays WHERE token_hash = ? AND answered_at IS NULL",
        (token_hash,),
    )
    return str(row[0]) if row else None


async def answer_relay(conn: aiosqlite.Connection, token_hash: str, *, now: int) -> None:
    await conn.execute(
        "UPDATE relays SET answered_at = ? WHERE token_hash = ? AND answered_at IS NULL",
        (to_day(now), token_hash),
    )


# --- case workflow -----------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkRow:
    case_id: str
    code: str
    status: str
    assignee: str | None
    assignee_handle: str | None
    flagged: bool
    pending_approval_by: str | None
    priority: int
    submitted_at: int | None
    triage: bytes | None
    team: str | None = None


_WORK_COLUMNS = (
    "SELECT c.id, c.code, c.status, c.assignee, k.handle, c.flagged, c.pending_approval_by,"
    " c.priority, c.submitted_at, c.triage, c.team"
    " FROM cases AS c LEFT JOIN coordinators AS k ON k.id = c.assignee"
)


def _work(row: sqlite3.Row) -> WorkRow:
    return WorkRow(
        case_id=str(row[0]),
        code=str(row[1]),
        status=str(row[2]),
        assignee=str(row[3]) if row[3] is not None else None,
        assignee_handle=str(row[4]) if row[4] is not None else None,
        flagged=bool(row[5]),
        pending_approval_by=str(row[6]) if row[6] is not None else None,
        priority=int(row[7]),
        submitted_at=int(row[8]) if row[8] is not None else None,
        triage=bytes(row[9]) if row[9] is not None else None,
        team=str(row[10]) if row[10] is not None else None,
    )


async def work_row_by_code(conn: aiosqlite.Connection, code: str) -> WorkRow | None:
    """A submitted case by its public code; drafts are never found this way."""
    row = await one(conn, _WORK_COLUMNS + " WHERE c.code = ? AND c.status <> 'draft'", (code,))
    return _work(row) if row else None


async def open_work(conn: aiosqlite.Connection) -> list[WorkRow]:
    """Cases still being worked on, most urgent first, then oldest first."""
    async with conn.execute(
        _WORK_COLUMNS
        + " WHERE c.status IN (?, ?, ?) ORDER BY c.priority DESC, c.submitted_at, c.code",
        OPEN_STATUSES,
    ) as cur:
        return [_work(row) async for row in cur]


async def set_state(
    conn: aiosqlite.Connection,
    case_id: str,
    *,
    status: str,
    assignee: str | None,
    pending_approval_by: str | None,
    now: int,
) -> None:
    """Write the outcome of a transition the coordination rules already allowed; a draft is
    never touched, so a case cannot skip submission through here."""
    await conn.execute(
        "UPDATE cases SET status = ?, assignee = ?, pending_approval_by = ?, updated_at = ?"
        " WHERE id = ? AND status <> 'draft'",
        (status, assignee, pending_approval_by, to_day(now), case_id),
    )


async def set_flagged(conn: aiosqlite.Connection, case_id: str, flagged: bool, *, now: int) -> None:
    await conn.execute(
        "UPDATE cases SET flagged = ?, updated_at = ? WHERE id = ? AND status <> 'draft'",
        (int(flagged), to_day(now), case_id),
    )


def priority_write(case_id: str, priority: int) -> Write:
    return Write.one(
        "UPDATE cases SET priority = ? WHERE id = ? AND status <> 'draft'", priority, case_id
    )


async def counts_by_state_and_week(
    conn: aiosqlite.Connection, counted: Callable[[str | None], bool] = lambda team: True
) -> list[tuple[str, str, int]]:
    """``(status, ISO week of submission such as "2026-W48", count)``, sorted by week then status,
    of the cases whose team is ``counted``.

    Counts only: nothing that tells one case from another leaves this function. Weeks are UTC.
    SQLite groups by day; the ISO week is computed here, since older SQLite lacks ``%G``/``%V``.
    """
    counts: Counter[tuple[str, str]] = Counter()
    async with conn.execute(
        "SELECT status, date(submitted_at, 'unixepoch'), team, count(*) FROM cases"
        " WHERE status <> 'draft' AND submitted_at IS NOT NULL GROUP BY 1, 2, 3"
    ) as cur:
        async for status, day, team, n in cur:
            if not counted(str(team) if team is not None else None):
                continue
            year, week, _ = date.fromisoformat(str(day)).isocalendar()
            counts[(str(status), f"{year:04d}-W{week:02d}")] += int(n)
    return sorted(
        ((status, week, n) for (status, week), n in counts.items()), key=lambda t: (t[1], t[0])
    )


# --- audit -------------------------------------------------------------------------------------

AuditEntry = tuple[int, int, str, str, str | None, str, str]
"""``(seq, at, actor, action, case_code, prev_hash, hash)``."""


async def audit_head(conn: aiosqlite.Connection) -> tuple[int, str]:
    """``(seq, hash)`` of the newest entry; ``(0, GENESIS_HASH)`` for an empty log."""
    row = await one(conn, "SELECT seq, hash FROM audit_head WHERE id = 1")
    return (int(row[0]), str(row[1])) if row else (0, GENESIS_HASH)


async def append_audit(
    conn: aiosqlite.Connection,
    *,
    seq: int,
    at: int,
    actor: str,
    action: str,
    case_code: str | None,
    prev_hash: str,
    hash: str,
) -> None:
    """Append one entry that extends the chain at its head, and move the head with it.

    Raises ``ValueError`` if ``seq`` is not the head's successor or ``prev_hash`` is not the
    head's hash: two writers racing on the same head must not both append. Call it inside the
    transaction that read the head, so the check and the write are one.
    """
    head_seq, head_hash = await audit_head(conn)
    if seq != head_seq + 1:
        raise ValueError(f"audit entry {seq} does not follow the head {head_seq}")
    if prev_hash != head_hash:
        raise ValueError(f"audit entry {seq} is not linked to the head's hash")
    await conn.execute(
        "INSERT INTO audit_log (seq, at, actor, action, case_code, prev_hash, hash)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (seq, at, actor, action, case_code, prev_hash, hash),
    )
    # Not an upsert: SQLite fires the insert trigger even when the row then conflicts.
    cur = await conn.execute("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", (seq, hash))
    if cur.rowcount == 0:
        await conn.execute("INSERT INTO audit_head (id, seq, hash) VALUES (1, ?, ?)", (seq, hash))


_AUDIT_COLUMNS = "SELECT seq, at, actor, action, case_code, prev_hash, hash FROM audit_log"
_AUDIT_OLDEST_FIRST = _AUDIT_COLUMNS + " ORDER BY seq ASC LIMIT ?"
_AUDIT_NEWEST_FIRST = _AUDIT_COLUMNS + " ORDER BY seq DESC LIMIT ?"


async def audit_entries(
    conn: aiosqlite.Connection, *, limit: int | None = None, newest_first: bool = False
) -> list[AuditEntry]:
    query = _AUDIT_NEWEST_FIRST if newest_first else _AUDIT_OLDEST_FIRST
    async with conn.execute(query, (-1 if limit is None else limit,)) as cur:
        return [
            (
                int(row[0]),
                int(row[1]),
                str(row[2]),
                str(row[3]),
                str(row[4]) if row[4] is not None else None,
                str(row[5]),
                str(row[6]),
            )
            async for row in cur
        ]


# --- outbox ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutboxRow:
    id: int
    chat: bytes
    body: bytes
    attempts: int
    next_attempt_at: int


async def next_outbox_id(conn: aiosqlite.Connection) -> int:
    """The id the next queued message will have: its ciphertext is bound to it before the row
    exists, so blobs moved to another row do not open. Called inside the queueing transaction
    (one writer at a time), so no other row can take the id meanwhile."""
    row = await one(conn, "SELECT coalesce(max(id), 0) + 1 FROM outbox")
    return int(row[0]) if row else 1


async def enqueue(
    conn: aiosqlite.Connection, *, id: int, chat: bytes, body: bytes, now: int
) -> None:
    """Queue a sealed message for delivery now (its creation kept to the hour: the row holds a
    chat id)."""
    await conn.execute(
        "INSERT INTO outbox (id, chat, body, created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?)",
        (id, chat, body, to_hour(now), to_hour(now)),
    )


async def due_messages(conn: aiosqlite.Connection, *, now: int, limit: int = 50) -> list[OutboxRow]:
    """Messages whose next attempt is due, in the order they were meant to go out."""
    rows = await every(
        conn,
        "SELECT id, chat, body, attempts, next_attempt_at FROM outbox"
        " WHERE next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?",
        (now, limit),
    )
    return [
        OutboxRow(int(row[0]), bytes(row[1]), bytes(row[2]), int(row[3]), int(row[4]))
        for row in rows
    ]


async def mark_sent(conn: aiosqlite.Connection, message_id: int) -> None:
    """Telegram accepted it, or refused it for good: the sealed copy has no reason to stay."""
    await conn.execute("DELETE FROM outbox WHERE id = ?", (message_id,))


async def mark_failed(
    conn: aiosqlite.Connection, message_id: int, *, error: str, next_attempt_at: int
) -> None:
    """Record a failed attempt and when to try again.

    ``error`` must be an exception type name (``"TimedOut"``, ``"telegram.error.NetworkError"``):
    an error's message can quote a chat id or text, so anything else raises ``ValueError``.
    """
    if not _ERROR_NAME.fullmatch(error):
        raise ValueError("error must be an exception type name")
    await conn.execute(
        "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?"
        " WHERE id = ?",
        (error, next_attempt_at, message_id),
    )


async def outbox_depth(conn: aiosqlite.Connection) -> int:
    row = await one(conn, "SELECT count(*) FROM outbox")
    return int(row[0]) if row else 0


# --- scheduled deletions -----------------------------------------------------------------------


async def schedule_deletion(
    conn: aiosqlite.Connection, *, chat: bytes, message_id: int, delete_at: int
) -> int:
    cur = await conn.execute(
        "INSERT INTO scheduled_deletions (chat, message_id, delete_at) VALUES (?, ?, ?)",
        (chat, message_id, delete_at),
    )
    return _rowid(cur)


async def due_deletions(conn: aiosqlite.Connection, *, now: int) -> list[tuple[int, bytes, int]]:
    """``(id, chat, message_id)`` of messages whose time in a coordinator's chat is up."""
    async with conn.execute(
        "SELECT id, chat, message_id FROM scheduled_deletions WHERE delete_at <= ?"
        " ORDER BY delete_at, id",
        (now,),
    ) as cur:
        return [(int(row[0]), bytes(row[1]), int(row[2])) async for row in cur]


async def forget_deletion(conn: aiosqlite.Connection, deletion_id: int) -> None:
    await conn.execute("DELETE FROM scheduled_deletions WHERE id = ?", (deletion_id,))


# --- shredding ---------------------------------------------------------------------------------


async def shred_case(conn: aiosqlite.Connection, case_id: str) -> bool:
    """Delete the case row; its fields, key copies, dropbox, inbox and relays go with it, so
    any backup copy of the case is ciphertext nothing can open. True if the case existed."""
    cur = await conn.execute("DELETE FROM cases WHERE id = ?", (case_id,))
    return cur.rowcount > 0


# --- helpers -----------------------------------------------------------------------------------


def _rowid(cur: aiosqlite.Cursor) -> int:
    rowid = cur.lastrowid
    if rowid is None:
        raise RuntimeError("the insert produced no row id")
    return rowid


# --- retention ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetainedRow:
    """A submitted (or later) case as retention sees it: no content, only its clock."""

    case_id: str
    code: str
    status: str
    assignee: str | None
    updated_at: int
    expiry_warned_at: int | None
    team: str | None = None


async def retained_cases(conn: aiosqlite.Connection) -> list[RetainedRow]:
    """Every case past the draft stage, oldest change first."""
    async with conn.execute(
        "SELECT id, code, status, assignee, updated_at, expiry_warned_at, team FROM cases"
        " WHERE status <> 'draft' ORDER BY updated_at, id"
    ) as cur:
        return [
            RetainedRow(
                case_id=str(row[0]),
                code=str(row[1]),
                status=str(row[2]),
                assignee=str(row[3]) if row[3] is not None else None,
                updated_at=int(row[4]),
                expiry_warned_at=int(row[5]) if row[5] is not None else None,
                team=str(row[6]) if row[6] is not None else None,
            )
            async for row in cur
        ]


async def mark_expiry_warned(conn: aiosqlite.Connection, case_id: str, *, now: int) -> None:
    """Remember the warning without touching ``updated_at``: a warning is not progress."""
    await conn.execute("UPDATE cases SET expiry_warned_at = ? WHERE id = ?", (to_day(now), case_id))


async def prune_outbox(conn: aiosqlite.Connection, *, created_before: int) -> int:
    """Give up on messages Telegram has refused for too long; their sealed rows go."""
    cur = await conn.execute("DELETE FROM outbox WHERE created_at < ?", (created_before,))
    return cur.rowcount
