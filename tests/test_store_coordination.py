"""The coordination tables: keys only the team can use, an audit trail that only grows, and a
schema that keeps a person's words and identity out of plaintext columns."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import aiosqlite
import pytest

from bot.store import Database, cases
from bot.store import coordination as co
from bot.store.db import apply_migrations, packaged_migrations
from bot.store.times import HOUR
from bot.store.writes import apply
from tests.databases import opened

NOW = 1_800_000_000  # 2027-01-15 08:00:00 UTC
MIDNIGHT = 1_799_971_200  # 2027-01-15 00:00:00 UTC: NOW kept to the day


async def _submitted(
    conn: aiosqlite.Connection,
    case_id: str,
    code: str,
    *,
    at: int = NOW,
    legacy_key: bytes | None = None,
) -> None:
    """A submitted case as the bot writes one; with ``legacy_key``, as an older version did:
    the draft row itself became the case, its master-wrapped key still on it."""
    if legacy_key is None:
        await apply(
            conn,
            cases.new_case(
                case_id=case_id,
                code=code,
                receipt_hash="rh",
                triage=b"sealed-triage",
                recovery_key=b"sealed-to-recovery",
                now=at,
            ),
        )
        return
    await apply(
        conn,
        cases.new_draft(
            case_id=case_id, pseudonym=b"p-" + case_id.encode(), wrapped_key=legacy_key, now=at
        ),
    )
    await conn.execute(
        "UPDATE cases SET status = 'submitted', code = ?, pseudonym = NULL, receipt_hash = 'rh',"
        " triage = ?, submitted_at = ?, updated_at = ? WHERE id = ?",
        (code, b"sealed-triage", at, at, case_id),
    )


async def _coordinator(
    conn: aiosqlite.Connection, cid: str, handle: str, *, role: str = "coordinator"
) -> None:
    await co.add_coordinator(
        conn,
        id=cid,
        handle=handle,
        pseudonym=b"ps-" + cid.encode(),
        chat=b"sealed-chat-" + cid.encode(),
        role=role,
        public_key=b"pub-" + cid.encode(),
        protected_private_key=b"priv-" + cid.encode(),
        now=NOW,
    )


async def _count(conn: aiosqlite.Connection, query: str, *args: object) -> int:
    async with conn.execute(query, args) as cur:
        row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def _columns(conn: aiosqlite.Connection) -> dict[tuple[str, str], str]:
    """``(table, column) -> declared type`` of every user table."""
    found: dict[tuple[str, str], str] = {}
    async with conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    ) as cur:
        tables = [str(row[0]) async for row in cur]
    for table in tables:
        async with conn.execute(f"PRAGMA table_info({table})") as cur:
            async for row in cur:
                found[(table, str(row[1]))] = str(row[2]).upper()
    return found


# --- migration ---------------------------------------------------------------------------------


async def test_migration_applies_over_a_database_that_holds_cases(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    async with opened(path, migrate=False) as old:
        assert await apply_migrations(old, packaged_migrations()[:1]) == 1
        async with old.transaction() as conn:
            await _submitted(conn, "c1", "K7QX", legacy_key=b"wk")
            await cases.write_fields(conn, "c1", {"answer:name": b"ciphertext"}, now=NOW)
            await apply(
                conn, cases.new_draft(case_id="d1", pseudonym=b"pd", wrapped_key=b"k", now=NOW)
            )

    async with opened(path) as db:
        assert await db.schema_version() == packaged_migrations()[-1].version
        row = await co.work_row_by_code(db.conn, "K7QX")
        assert row == co.WorkRow(
            case_id="c1",
            code="K7QX",
            status="submitted",
            assignee=None,
            assignee_handle=None,
            flagged=False,
            pending_approval_by=None,
            priority=0,
            submitted_at=NOW,
            triage=b"sealed-triage",
        )
        assert await cases.read_fields(db.conn, "c1") == {"answer:name": b"ciphertext"}
        draft = await cases.find_draft(db.conn, b"pd")
        assert draft is not None
        assert draft.case_id == "d1"
        async with db.conn.execute("PRAGMA foreign_key_check") as cur:
            assert await cur.fetchall() == []
        # The new foreign key is live on the old table.
        with pytest.raises(sqlite3.IntegrityError):
            await db.conn.execute("UPDATE cases SET assignee = 'nobody' WHERE id = 'c1'")


async def test_migration_creates_every_table_on_a_fresh_file(db: Database) -> None:
    assert await db.schema_version() == packaged_migrations()[-1].version
    tables = {table for table, _ in await _columns(db.conn)}
    assert {
        "coordinators",
        "invites",
        "case_keys",
        "case_dropbox",
        "case_inbox",
        "relays",
        "audit_log",
        "audit_head",
        "outbox",
        "scheduled_deletions",
    } <= tables
    async with db.conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
    ) as cur:
        indexes = {str(row[0]) async for row in cur}
    assert {"cases_assignee", "outbox_due", "scheduled_deletions_due"} <= indexes


# Plaintext is allowed only for ids, public handles and codes, roles and states, times,
# counters and hashes. Anything else a migration adds must be ciphertext.
_PLAINTEXT_ALLOWED = frozenset(
    {
        "id",
        "case_id",
        "coordinator_id",
        "assignee",
        "pending_approval_by",
        "handle",
        "actor",
        "case_code",
        "role",
        "status",
        "action",
        "flagged",
        "missed",  # a check-in told as missed (the group read it); the row goes at the answer
        "priority",
        "code_hash",
        "token_hash",
        "prev_hash",
        "hash",
        "seq",
        "through_seq",  # audit anchors: a sequence number,
        "key_id",  # a master key's public fingerprint,
        "mac",  # and a keyed digest over audit entries that hold no content
        "expiry_warned_at",
        "attempts",
        "message_id",
        "last_error",
        "at",
        "created_at",
        "expires_at",
        "used_at",
        "revoked_at",
        "answered_at",
        "next_attempt_at",
        "delete_at",
        "language",  # the language a coordinator reads the bot in: a setting, shared by many
        "team",  # a team's name from the config: its sealed copies' holders name it anyway
        "teams",  # the teams an invite enrols into
    }
)


async def test_columns_added_by_the_migration_hold_no_plaintext_of_people(
    tmp_path: Path,
) -> None:
    async with opened(tmp_path / "old.sqlite3", migrate=False) as before_db:
        await apply_migrations(before_db, packaged_migrations()[:1])
        before = await _columns(before_db.conn)
    async with opened(tmp_path / "new.sqlite3") as after_db:
        after = await _columns(after_db.conn)

    added = {column: kind for column, kind in after.items() if column not in before}
    assert ("cases", "assignee") in added
    not_blob = {column for column, kind in added.items() if kind != "BLOB"}
    assert {name for _, name in not_blob} <= _PLAINTEXT_ALLOWED, not_blob
    # The ciphertext columns are really there, and really BLOB.
    blobs = {column for column, kind in added.items() if kind == "BLOB"}
    assert blobs == {
        ("coordinators", "pseudonym"),
        ("coordinators", "chat"),
        ("coordinators", "public_key"),
        ("coordinators", "protected_private_key"),
        ("case_keys", "sealed_key"),
        ("case_dropbox", "public_key"),
        ("case_dropbox", "protected_private_key"),
        ("case_inbox", "sealed"),
        ("outbox", "chat"),
        ("outbox", "body"),
        ("scheduled_deletions", "chat"),
        ("cases", "recovery_key"),
        ("key_check", "value"),
        ("chat_states", "name"),  # an HMAC under the chat's own key, never on disk
        ("chat_states", "body"),
    }


# --- audit -------------------------------------------------------------------------------------


async def _append(conn: aiosqlite.Connection, action: str, code: str | None = None) -> str:
    seq, prev = await co.audit_head(conn)
    digest = f"{seq + 1:064x}"
    await co.append_audit(
        conn,
        seq=seq + 1,
        at=NOW + seq,
        actor="C-7K3Q",
        action=action,
        case_code=code,
        prev_hash=prev,
        hash=digest,
    )
    return digest


async def test_audit_chain_appends_at_its_head(db: Database) -> None:
    assert await co.audit_head(db.conn) == (0, "0" * 64)
    async with db.transaction() as conn:
        first = await _append(conn, "claim", "K7QX")
        second = await _append(conn, "approve", "K7QX")
        third = await _append(conn, "revoke")
    assert await co.audit_head(db.conn) == (3, third)
    entries = await co.audit_entries(db.conn)
    assert [e[0] for e in entries] == [1, 2, 3]
    assert entries[0] == (1, NOW, "C-7K3Q", "claim", "K7QX", "0" * 64, first)
    assert entries[1][5] == first
    assert entries[2][4] is None
    assert entries[2][5] == second
    newest = await co.audit_entries(db.conn, limit=2, newest_first=True)
    assert [e[0] for e in newest] == [3, 2]
    assert [e[0] for e in await co.audit_entries(db.conn, limit=1)] == [1]


async def test_audit_log_refuses_update_and_delete(db: Database) -> None:
    async with db.transaction() as conn:
        await _append(conn, "claim", "K7QX")
        await _append(conn, "approve", "K7QX")
    before = await co.audit_entries(db.conn)
    for statement in (
        "UPDATE audit_log SET action = 'nothing' WHERE seq = 1",
        "DELETE FROM audit_log WHERE seq = 2",  # the newest entry
        "DELETE FROM audit_log",
        "DELETE FROM audit_head",
    ):
        with pytest.raises(sqlite3.IntegrityError, match="audit log is append-only"):
            await db.conn.execute(statement)
    assert await co.audit_entries(db.conn) == before
    assert await co.audit_head(db.conn) == (2, before[-1][6])


async def test_append_audit_refuses_an_entry_that_does_not_extend_the_head(db: Database) -> None:
    async with db.transaction() as conn:
        head = await _append(conn, "claim", "K7QX")
    for seq, prev in ((1, head), (3, head), (2, "0" * 64), (2, "e" * 64)):
        with pytest.raises(ValueError, match="audit entry"):
            async with db.transaction() as conn:
                await co.append_audit(
                    conn,
                    seq=seq,
                    at=NOW,
                    actor="C-7K3Q",
                    action="x",
                    case_code=None,
                    prev_hash=prev,
                    hash="f" * 64,
                )
    # The schema holds the same line for a writer that skips the function.
    with pytest.raises(sqlite3.IntegrityError, match="does not extend the chain"):
        await db.conn.execute(
            "INSERT INTO audit_log (seq, at, actor, action, prev_hash, hash)"
            " VALUES (5, 1, 'a', 'b', ?, ?)",
            (head, "f" * 64),
        )
    with pytest.raises(sqlite3.IntegrityError, match="newest entry"):
        await db.conn.execute("UPDATE audit_head SET seq = 7")
    assert await co.audit_head(db.conn) == (1, head)
    assert len(await co.audit_entries(db.conn)) == 1


async def test_a_removed_tail_no_longer_matches_the_head(db: Database) -> None:
    async with db.transaction() as conn:
        await _append(conn, "claim", "K7QX")
        await _append(conn, "reject", "K7QX")
    # Someone with the file drops the guards and deletes the newest entry.
    await db.conn.executescript(
        "DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE seq = 2;"
    )
    entries = await co.audit_entries(db.conn)
    head_seq, head_hash = await co.audit_head(db.conn)
    assert (entries[-1][0], entries[-1][6]) != (head_seq, head_hash)
    assert head_seq == 2


# --- invites -----------------------------------------------------------------------------------


async def test_take_invite_is_single_use_and_honours_expiry(db: Database) -> None:
    async with db.transaction() as conn:
        await co.add_invite(conn, code_hash="h1", role="coordinator", now=NOW, expires_at=NOW + 60)
        await co.add_invite(conn, code_hash="h2", role="lead", now=NOW, expires_at=NOW + 60)
    async with db.transaction() as conn:
        assert await co.take_invite(conn, "h1", now=NOW + 10) == "coordinator"
        assert await co.take_invite(conn, "h1", now=NOW + 11) is None
        assert await co.take_invite(conn, "unknown", now=NOW) is None
        assert await co.take_invite(conn, "h2", now=NOW + 60) is None  # expired at that second
        assert await co.take_invite(conn, "h2", now=NOW + 59) == "lead"
    async with db.conn.execute("SELECT code_hash, used_at FROM invites ORDER BY 1") as cur:
        assert list(await cur.fetchall()) == [("h1", NOW + 10), ("h2", NOW + 59)]
    with pytest.raises(sqlite3.IntegrityError):
        await co.add_invite(db.conn, code_hash="h3", role="admin", now=NOW, expires_at=NOW + 1)
    async with db.transaction() as conn:
        await co.add_invite(conn, code_hash="h4", role="lead", now=NOW, expires_at=NOW + 5)
        await co.add_invite(conn, code_hash="h5", role="lead", now=NOW, expires_at=NOW + 500)
        assert await co.delete_stale_invites(conn, now=NOW + 100) == 3
    assert await co.take_invite(db.conn, "h5", now=NOW + 100) == "lead"


# --- coordinators and keys ---------------------------------------------------------------------


async def test_a_coordinators_language_is_kept_and_changed(db: Database) -> None:
    async with db.transaction() as conn:
        await _coordinator(conn, "a", "C-AAAA")
        await co.add_coordinator(
            conn,
            id="b",
            handle="C-BBBB",
            pseudonym=b"ps-b",
            chat=b"sealed-chat-b",
            role="coordinator",
            public_key=b"pub-b",
            protected_private_key=b"priv-b",
            now=NOW,
            language="my",
        )
    a, b = await co.coordinator_by_id(db.conn, "a"), await co.coordinator_by_id(db.conn, "b")
    assert a is not None and a.language is None and b is not None and b.language == "my"
    async with db.transaction() as conn:
        await co.set_coordinator_language(conn, "b", "en")
    b = await co.coordinator_by_handle(db.conn, "C-BBBB")
    assert b is not None and b.language == "en"
    a = await co.coordinator_by_id(db.conn, "a")
    assert a is not None and a.language is None  # one row changed, no other


async def test_coordinators_are_found_by_pseudonym_handle_and_id(db: Database) -> None:
    async with db.transaction() as conn:
        await _coordinator(conn, "a", "C-AAAA", role="lead")
        await _coordinator(conn, "b", "C-BBBB")
    row = await co.coordinator_by_pseudonym(db.conn, b"ps-a")
    assert row == co.CoordinatorRow(
        id="a",
        handle="C-AAAA",
        pseudonym=b"ps-a",
        chat=b"sealed-chat-a",
        role="lead",
        public_key=b"pub-a",
        protected_private_key=b"priv-a",
        status="active",
        created_at=MIDNIGHT,  # kept to the day beside a coordinator
        revoked_at=None,
    )
    assert await co.coordinator_by_handle(db.conn, "C-BBBB") == await co.coordinator_by_id(
        db.conn, "b"
    )
    assert await co.coordinator_by_handle(db.conn, "C-ZZZZ") is None
    assert await co.coordinator_by_id(db.conn, "z") is None
    assert await co.handle_in_use(db.conn, "C-AAAA")
    assert not await co.handle_in_use(db.conn, "C-ZZZZ")
    assert [c.id for c in await co.active_coordinators(db.conn)] == ["a", "b"]
    with pytest.raises(sqlite3.IntegrityError):
        await _coordinator(db.conn, "c", "C-AAAA")  # handles are unique


async def test_sealing_a_case_replaces_the_master_key_copy(db: Database) -> None:
    async with db.transaction() as conn:
        await _coordinator(conn, "a", "C-AAAA")
        await _coordinator(conn, "b", "C-BBBB")
        await _submitted(conn, "c1", "K7QX", legacy_key=b"wk")
        await _submitted(conn, "c2", "M2PD", legacy_key=b"wk")
        await _submitted(conn, "c3", "R4TZ")  # a case sent now is never under the master key
        await apply(conn, cases.new_draft(case_id="d1", pseudonym=b"pd", wrapped_key=b"k", now=NOW))
    assert await co.unsealed_case_ids(db.conn) == ["c1", "c2"]
    async with db.transaction() as conn:
        await co.add_case_keys(conn, "c1", {"a": b"sealed-a", "b": b"sealed-b"})
        await co.drop_wrapped_key(conn, "c1")
    assert await co.unsealed_case_ids(db.conn) == ["c2"]
    row = await cases.get_case(db.conn, "c1")
    assert row is not None
    assert row.wrapped_key is None
    assert await co.holders(db.conn, "c1") == ["a", "b"]
    assert await co.holders(db.conn, "c2") == []
    assert await co.case_key_for(db.conn, "c1", "a") == b"sealed-a"
    assert await co.case_key_for(db.conn, "c2", "a") is None
    assert await co.cases_sealed_to(db.conn, "b") == ["c1"]
    # Resealing to someone who already holds a copy replaces it.
    await co.add_case_keys(db.conn, "c1", {"a": b"resealed-a"})
    assert await co.case_key_for(db.conn, "c1", "a") == b"resealed-a"


async def test_revoke_removes_sealed_copies_and_lets_go_of_cases(db: Database) -> None:
    async with db.transaction() as conn:
        await _coordinator(conn, "a", "C-AAAA")
        await _coordinator(conn, "b", "C-BBBB")
        await _submitted(conn, "c1", "K7QX")
        await _submitted(conn, "c2", "M2PD")
        for case_id in ("c1", "c2"):
            await co.add_case_keys(conn, case_id, {"a": b"sa", "b": b"sb"})
        await co.set_state(
            conn, "c1", status="claimed", assignee="a", pending_approval_by=None, now=NOW
        )
        await co.set_state(
            conn, "c2", status="claimed", assignee="b", pending_approval_by="a", now=NOW
        )
    async with db.transaction() as conn:
        assert await co.revoke_coordinator(conn, "a", now=NOW + 5) == 2
    assert await co.cases_sealed_to(db.conn, "a") == []
    assert await co.cases_sealed_to(db.conn, "b") == ["c1", "c2"]
    c1 = await co.work_row_by_code(db.conn, "K7QX")
    c2 = await co.work_row_by_code(db.conn, "M2PD")
    assert c1 is not None
    assert c2 is not None
    assert (c1.assignee, c1.assignee_handle) == (None, None)
    assert (c2.assignee, c2.assignee_handle, c2.pending_approval_by) == ("b", "C-BBBB", None)
    revoked = await co.coordinator_by_pseudonym(db.conn, b"ps-a")
    assert revoked is not None
    assert (revoked.status, revoked.revoked_at) == ("revoked", MIDNIGHT)  # to the day
    assert [c.id for c in await co.active_coordinators(db.conn)] == ["b"]
    # Nothing can be sealed to them again.
    with pytest.raises(sqlite3.IntegrityError, match="active coordinators only"):
        await co.add_case_keys(db.conn, "c1", {"a": b"again"})
    # Revoking twice keeps the first time and finds nothing more to remove.
    assert await co.revoke_coordinator(db.conn, "a", now=NOW + 9) == 0
    again = await co.coordinator_by_id(db.conn, "a")
    assert again is not None
    assert again.revoked_at == MIDNIGHT


# --- dropbox, inbox, relays --------------------------------------------------------------------


async def test_dropbox_is_set_once_and_inbox_keeps_every_item(db: Database) -> None:
    async with db.transaction() as conn:
        await _submitted(conn, "c1", "K7QX")
        await apply(conn, co.dropbox_write("c1", b"dpub", b"dpriv"))
    assert await co.get_dropbox(db.conn, "c1") == (b"dpub", b"dpriv")
    assert await co.get_dropbox(db.conn, "c2") is None
    with pytest.raises(sqlite3.IntegrityError):
        await apply(db.conn, co.dropbox_write("c1", b"other", b"other"))
    async with db.transaction() as conn:
        first = await co.add_inbox(conn, "c1", b"sealed-1", now=NOW)
        second = await co.add_inbox(conn, "c1", b"sealed-2", now=NOW + 1)
    # Beside a case, times are kept to the day; ids are random, so they give no order.
    assert sorted(await co.inbox(db.conn, "c1")) == sorted(
        [(first, b"sealed-1", MIDNIGHT), (second, b"sealed-2", MIDNIGHT)]
    )
    with pytest.raises(sqlite3.IntegrityError):
        await co.add_inbox(db.conn, "missing", b"x", now=NOW)


async def test_a_relay_is_open_until_answered(db: Database) -> None:
    async with db.transaction() as conn:
        await _submitted(conn, "c1", "K7QX")
        await co.add_relay(conn, token_hash="t1", case_id="c1", now=NOW)
    assert await co.open_relay(db.conn, "t1") == "c1"
    assert await co.open_relay(db.conn, "t2") is None
    await co.answer_relay(db.conn, "t1", now=NOW + 3)
    assert await co.open_relay(db.conn, "t1") is None
    await co.answer_relay(db.conn, "t1", now=NOW + 9)
    async with db.conn.execute("SELECT answered_at FROM relays") as cur:
        assert list(await cur.fetchall()) == [(MIDNIGHT,)]


# --- workflow ----------------------------------------------------------------------------------


async def test_work_rows_follow_state_flag_and_priority(db: Database) -> None:
    async with db.transaction() as conn:
        await _coordinator(conn, "a", "C-AAAA")
        await _submitted(conn, "c1", "AAAA", at=NOW)
        await _submitted(conn, "c2", "BBBB", at=NOW + 1)
        await _submitted(conn, "c3", "CCCC", at=NOW + 2)
        await _submitted(conn, "c4", "DDDD", at=NOW + 3)
        await apply(conn, cases.new_draft(case_id="d1", pseudonym=b"pd", wrapped_key=b"k", now=NOW))
        await apply(conn, co.priority_write("c3", 5))
        await co.set_state(
            conn, "c2", status="claimed", assignee="a", pending_approval_by=None, now=NOW + 10
        )
        await co.set_state(
            conn, "c4", status="rejected", assignee="a", pending_approval_by=None, now=NOW + 10
        )
        await co.set_flagged(conn, "c1", True, now=NOW + 11)
    work = await co.open_work(db.conn)
    assert [w.code for w in work] == ["CCCC", "AAAA", "BBBB"]
    assert [w.priority for w in work] == [5, 0, 0]
    claimed = work[2]
    assert (claimed.status, claimed.assignee, claimed.assignee_handle) == ("claimed", "a", "C-AAAA")
    assert work[1].flagged
    row = await cases.get_case(db.conn, "c1")
    assert row is not None
    assert row.updated_at == MIDNIGHT
    await co.set_flagged(db.conn, "c1", False, now=NOW + 12)
    unflagged = await co.work_row_by_code(db.conn, "AAAA")
    assert unflagged is not None
    assert not unflagged.flagged
    rejected = await co.work_row_by_code(db.conn, "DDDD")
    assert rejected is not None
    assert rejected.status == "rejected"
    # A draft is out of reach of the workflow.
    await co.set_state(
        db.conn, "d1", status="claimed", assignee="a", pending_approval_by=None, now=NOW
    )
    draft = await cases.get_case(db.conn, "d1")
    assert draft is not None
    assert draft.status == "draft"
    assert await co.work_row_by_code(db.conn, "NONE") is None
    with pytest.raises(sqlite3.IntegrityError):
        await co.set_state(
            db.conn, "c1", status="lost", assignee=None, pending_approval_by=None, now=NOW
        )


def _ts(year: int, month: int, day: int) -> int:
    return int(datetime(year, month, day, 12, tzinfo=UTC).timestamp())


async def test_counts_by_state_and_week(db: Database) -> None:
    async with db.transaction() as conn:
        await _submitted(conn, "c1", "AAAA", at=_ts(2026, 11, 23))  # Monday, week 48
        await _submitted(conn, "c2", "BBBB", at=_ts(2026, 11, 29))  # Sunday, week 48
        await _submitted(conn, "c3", "CCCC", at=_ts(2026, 11, 30))  # Monday, week 49
        await _submitted(conn, "c4", "DDDD", at=_ts(2027, 1, 1))  # ISO year 2026, week 53
        await _submitted(conn, "c5", "EEEE", at=_ts(2026, 12, 28))  # week 53
        await apply(conn, cases.new_draft(case_id="d1", pseudonym=b"pd", wrapped_key=b"k", now=NOW))
        await co.set_state(
            conn, "c2", status="approved", assignee=None, pending_approval_by=None, now=NOW
        )
    assert await co.counts_by_state_and_week(db.conn) == [
        ("approved", "2026-W48", 1),
        ("submitted", "2026-W48", 1),
        ("submitted", "2026-W49", 1),
        ("submitted", "2026-W53", 2),
    ]


# --- outbox and deletions ----------------------------------------------------------------------


async def test_outbox_round_trip(db: Database) -> None:
    async with db.transaction() as conn:
        first = await co.next_outbox_id(conn)
        await co.enqueue(conn, id=first, chat=b"chat-1", body=b"body-1", now=NOW + 1_234)
        second = await co.next_outbox_id(conn)
        await co.enqueue(conn, id=second, chat=b"chat-2", body=b"body-2", now=NOW + HOUR + 5)
    assert second == first + 1
    assert await co.outbox_depth(db.conn) == 2
    # Rows hold a chat id: their times are kept to the hour, 08:00 and 09:00.
    start = 1_800_000_000
    assert await co.due_messages(db.conn, now=start - 1) == []
    assert await co.due_messages(db.conn, now=start + HOUR) == [
        co.OutboxRow(first, b"chat-1", b"body-1", 0, start),
        co.OutboxRow(second, b"chat-2", b"body-2", 0, start + HOUR),
    ]
    assert [m.id for m in await co.due_messages(db.conn, now=start + HOUR, limit=1)] == [first]

    await co.mark_failed(db.conn, first, error="TimedOut", next_attempt_at=start + HOUR + 30)
    assert [m.id for m in await co.due_messages(db.conn, now=start + HOUR + 29)] == [second]
    retried = await co.due_messages(db.conn, now=start + HOUR + 30)
    assert [(m.id, m.attempts, m.next_attempt_at) for m in retried] == [
        (second, 0, start + HOUR),
        (first, 1, start + HOUR + 30),
    ]
    async with db.conn.execute("SELECT last_error FROM outbox WHERE id = ?", (first,)) as cur:
        assert await cur.fetchone() == ("TimedOut",)
    # An error message could quote a chat or a text; only a type name is kept.
    with pytest.raises(ValueError, match="type name"):
        await co.mark_failed(
            db.conn, first, error="Forbidden: bot was blocked by chat 42", next_attempt_at=NOW
        )

    await co.mark_sent(db.conn, first)
    assert await co.outbox_depth(db.conn) == 1
    assert [m.id for m in await co.due_messages(db.conn, now=start + 2 * HOUR)] == [second]
    await co.mark_sent(db.conn, second)
    assert await co.outbox_depth(db.conn) == 0


async def test_scheduled_deletions_come_due_and_are_forgotten(db: Database) -> None:
    async with db.transaction() as conn:
        late = await co.schedule_deletion(conn, chat=b"c-1", message_id=11, delete_at=NOW + 60)
        early = await co.schedule_deletion(conn, chat=b"c-2", message_id=12, delete_at=NOW + 10)
    assert await co.due_deletions(db.conn, now=NOW) == []
    assert await co.due_deletions(db.conn, now=NOW + 10) == [(early, b"c-2", 12)]
    assert await co.due_deletions(db.conn, now=NOW + 60) == [
        (early, b"c-2", 12),
        (late, b"c-1", 11),
    ]
    await co.forget_deletion(db.conn, early)
    assert await co.due_deletions(db.conn, now=NOW + 60) == [(late, b"c-1", 11)]


# --- shredding ---------------------------------------------------------------------------------

_CASE_TABLE_COUNTS = (
    "SELECT count(*) FROM case_fields WHERE case_id = ?",
    "SELECT count(*) FROM case_keys WHERE case_id = ?",
    "SELECT count(*) FROM case_dropbox WHERE case_id = ?",
    "SELECT count(*) FROM case_inbox WHERE case_id = ?",
    "SELECT count(*) FROM relays WHERE case_id = ?",
)


async def test_shred_case_cascades_everything(db: Database) -> None:
    async with db.transaction() as conn:
        await _coordinator(conn, "a", "C-AAAA")
        for case_id, code in (("c1", "K7QX"), ("c2", "M2PD")):
            await _submitted(conn, case_id, code)
            await cases.write_fields(conn, case_id, {"answer:x": b"ct"}, now=NOW)
            await co.add_case_keys(conn, case_id, {"a": b"sealed"})
            await apply(conn, co.dropbox_write(case_id, b"dpub", b"dpriv"))
            await co.add_inbox(conn, case_id, b"sealed-answer", now=NOW)
            await co.add_relay(conn, token_hash="t-" + case_id, case_id=case_id, now=NOW)
        await _append(conn, "purge", "K7QX")
    async with db.transaction() as conn:
        assert await co.shred_case(conn, "c1")
        assert not await co.shred_case(conn, "c1")

    assert await _count(db.conn, "SELECT count(*) FROM cases WHERE id = 'c1'") == 0
    for query in _CASE_TABLE_COUNTS:
        assert await _count(db.conn, query, "c1") == 0, query
        assert await _count(db.conn, query, "c2") == 1, query
    assert await co.work_row_by_code(db.conn, "K7QX") is None
    assert await co.work_row_by_code(db.conn, "M2PD") is not None
    # The coordinator and the audit trail outlive the case.
    assert await co.coordinator_by_id(db.conn, "a") is not None
    assert len(await co.audit_entries(db.conn)) == 1


async def test_a_copy_goes_only_to_someone_in_the_case_team(db: Database) -> None:
    """Whatever the caller believed: the schema refuses a copy outside the case's team."""
    async with db.transaction() as conn:
        for cid, handle in (("s", "C-SSSS"), ("n", "C-NNNN"), ("l", "C-LLLL"), ("o", "C-OOOO")):
            await _coordinator(conn, cid, handle)
        await co.set_membership(conn, "s", frozenset({"south"}))
        await co.set_membership(conn, "n", frozenset({"north"}))
        await co.set_membership(conn, "l", frozenset({"*"}))  # a lead over every team
        await _submitted(conn, "c1", "K7QX")
        await apply(conn, co.case_team_write("c1", "south"))
        await co.add_case_keys(conn, "c1", {"s": b"s", "l": b"l", "o": b"o"})  # o: no teams yet
    assert await co.holders(db.conn, "c1") == ["l", "o", "s"]
    for write in (
        lambda conn: co.add_case_keys(conn, "c1", {"n": b"n"}),
        lambda conn: conn.execute("UPDATE case_keys SET coordinator_id = 'n' WHERE case_id = 'c1'"),
    ):
        with pytest.raises(sqlite3.IntegrityError, match="the case's team only"):
            async with db.transaction() as conn:
                await write(conn)
    assert await co.holders(db.conn, "c1") == ["l", "o", "s"]
    # A transfer: the team first, then the old team's copies go and the new team's come.
    async with db.transaction() as conn:
        await apply(conn, co.case_team_write("c1", "north"))
        assert await co.drop_case_keys_except(conn, "c1", frozenset({"l", "n"})) == 2
        await co.add_case_keys(conn, "c1", {"n": b"n"})
    assert await co.holders(db.conn, "c1") == ["l", "n"]
    assert await co.case_team(db.conn, "c1") == "north"


async def test_adopting_teams_puts_what_came_before_into_the_default_team(db: Database) -> None:
    async with db.transaction() as conn:
        await _coordinator(conn, "a", "C-AAAA")
        await _coordinator(conn, "b", "C-BBBB", role="lead")
        await _coordinator(conn, "c", "C-CCCC")
        await co.set_membership(conn, "c", frozenset({"north"}))
        await _submitted(conn, "c1", "K7QX")
        await apply(conn, cases.new_draft(case_id="d1", pseudonym=b"pd", wrapped_key=b"k", now=NOW))
    async with db.transaction() as conn:
        assert await co.adopt_teams(conn, default="desk", lead_teams="*") == 2
    assert await co.memberships(db.conn) == {
        "a": frozenset({"desk"}),
        "b": frozenset({"*"}),
        "c": frozenset({"north"}),
    }
    assert await co.case_team(db.conn, "c1") == "desk"
    assert await co.case_team(db.conn, "d1") is None  # a draft has no team until it is sent
    async with db.transaction() as conn:
        assert await co.adopt_teams(conn, default="desk", lead_teams="*") == 0  # once
