"""Master-key rotation: afterwards the new key alone opens everything and the old one nothing,
an interrupted rotation is finished by running it again, and the audit chain stays verifiable."""

from __future__ import annotations

import json
import sqlite3
import time

import pytest

from bot.crypto import CaseKey, DecryptionError, MasterKey, Vault, wrapped_key_id
from bot.ops import rotation
from bot.ops.rotation import adopt_coordinator, rotate, verify_audit_log
from bot.services import audit
from bot.store import Database
from bot.store import cases as store
from bot.store import coordination as co
from bot.store.writes import apply

NOW = 1_800_000_000
DRAFT_USERS = (101, 102, 103)
COORD_USER = 900


async def _audit(db: Database, vault: Vault, actor: str, action: str, code: str | None) -> None:
    async with db.transaction() as conn:
        seq, _ = await co.audit_head(conn)
        await audit.record(conn, vault, at=NOW + seq, actor=actor, action=action, case_code=code)


async def _populate(db: Database, vault: Vault) -> dict[str, CaseKey]:
    """Drafts, an unsealed submitted case, a sealed case, outbox rows, a coordinator, a
    scheduled deletion, a chat trace and audit entries, all as the services write them."""
    keys: dict[str, CaseKey] = {}
    async with db.transaction() as conn:
        for user in DRAFT_USERS:
            case_id, key = f"draft{user}", CaseKey.generate()
            keys[case_id] = key
            await apply(
                conn,
                store.new_draft(
                    case_id=case_id,
                    pseudonym=vault.pseudonym(user),
                    wrapped_key=vault.wrap_case_key(key, case_id=case_id),
                    now=NOW,
                ),
            )
            await store.write_fields(
                conn, case_id, {"q": key.encrypt(b"answer", case_id=case_id, field="q")}, now=NOW
            )
        for case_id, code in (("unsealed", "AAA111"), ("sealed", "BBB222")):
            key = CaseKey.generate()
            keys[case_id] = key
            await apply(
                conn,
                store.new_draft(
                    case_id=case_id,
                    pseudonym=case_id.encode(),
                    wrapped_key=vault.wrap_case_key(key, case_id=case_id),
                    now=NOW,
                ),
            )
            triage = vault.seal_local(json.dumps({"rank": code}).encode(), purpose="triage",
                                      context=case_id)  # fmt: skip
            # Submitted as an older version did: the draft row itself became the case, its
            # master-wrapped key kept until a coordinator enrolled. Rotation still moves them.
            await conn.execute(
                "UPDATE cases SET status = 'submitted', code = ?, pseudonym = NULL,"
                " receipt_hash = 'rh', triage = ?, submitted_at = ? WHERE id = ?",
                (code, triage, NOW, case_id),
            )
        await co.drop_wrapped_key(conn, "sealed")
        await co.add_coordinator(
            conn,
            id="coord1",
            handle="C-AAAA",
            pseudonym=vault.pseudonym(COORD_USER),
            chat=vault.seal_local(b"900", purpose="coordinator-chat", context="coord1"),
            role="lead",
            public_key=b"p" * 32,
            protected_private_key=b"x",
            now=NOW,
        )
        for n in range(3):
            await co.enqueue(
                conn,
                id=n + 1,
                chat=vault.seal_local(
                    str(500 + n).encode(), purpose="outbox", context=f"chat:{n + 1}"
                ),
                body=vault.seal_local(
                    f"message {n}".encode(), purpose="outbox", context=f"body:{n + 1}"
                ),
                now=NOW,
            )
        await co.schedule_deletion(
            conn,
            chat=vault.seal_local(b"900", purpose="deletion", context="chat"),
            message_id=7,
            delete_at=NOW + 10,
        )
        pseudonym = vault.pseudonym(DRAFT_USERS[0])
        trace = vault.seal_local(b"{}", purpose="trace", context=pseudonym.hex())
        await apply(conn, store.trace_write(pseudonym, trace, expires_at=NOW + 3600))
    await _audit(db, vault, "system", "submitted", "AAA111")
    await _audit(db, vault, "C-AAAA", "claimed", "AAA111")
    return keys


async def _assert_opens_only_with(db: Database, keys: dict[str, CaseKey], good: Vault,
                                  bad: Vault) -> None:  # fmt: skip
    conn = db.conn
    for case_id, key in keys.items():
        row = await store.get_case(conn, case_id)
        assert row is not None
        if case_id == "sealed":
            assert row.wrapped_key is None
        else:
            assert row.wrapped_key is not None
            opened = good.unwrap_case_key(row.wrapped_key, case_id=case_id)
            fields = await store.read_fields(conn, case_id)
            if "q" in fields:
                assert opened.decrypt(fields["q"], case_id=case_id, field="q") == b"answer"
            assert opened._material() == key._material()
            with pytest.raises(DecryptionError):
                bad.unwrap_case_key(row.wrapped_key, case_id=case_id)
        if row.triage is not None:
            assert b"rank" in good.open_local(row.triage, purpose="triage", context=case_id)
            with pytest.raises(DecryptionError):
                bad.open_local(row.triage, purpose="triage", context=case_id)
    coordinator = await co.coordinator_by_id(conn, "coord1")
    assert coordinator is not None
    assert good.open_local(coordinator.chat, purpose="coordinator-chat", context="coord1") == b"900"
    with pytest.raises(DecryptionError):
        bad.open_local(coordinator.chat, purpose="coordinator-chat", context="coord1")
    messages = await co.due_messages(conn, now=NOW + 10)
    assert len(messages) == 3
    bodies = {good.open_local(m.body, purpose="outbox", context=f"body:{m.id}") for m in messages}
    assert bodies == {b"message 0", b"message 1", b"message 2"}
    for m in messages:
        assert good.open_local(m.chat, purpose="outbox", context=f"chat:{m.id}").startswith(b"50")
        with pytest.raises(DecryptionError):
            bad.open_local(m.body, purpose="outbox", context=f"body:{m.id}")
    deletions = await co.due_deletions(conn, now=NOW + 10)
    assert [good.open_local(c, purpose="deletion", context="chat") for _, c, _ in deletions] == [
        b"900"
    ]
    with pytest.raises(DecryptionError):
        bad.open_local(deletions[0][1], purpose="deletion", context="chat")


async def test_rotation_moves_everything_to_the_new_key(db: Database) -> None:
    old, new = MasterKey.generate(), MasterKey.generate()
    keys = await _populate(db, Vault(old))

    report = await rotate(db, new, [old], clock=lambda: NOW)

    assert report.ok, report.lines()
    assert report.moved == {
        "cases.wrapped_key": 4,  # three drafts and the unsealed case
        "cases.triage": 2,
        "outbox.chat": 3,
        "outbox.body": 3,
        "coordinators.chat": 1,
        "scheduled_deletions.chat": 1,
    }
    assert report.traces_deleted == 1
    assert await store.read_trace(db.conn, Vault(old).pseudonym(DRAFT_USERS[0]), now=NOW) is None
    await _assert_opens_only_with(db, keys, good=Vault(new), bad=Vault(old))
    # The audit log verifies with the new key alone, thanks to the anchor.
    chain = await verify_audit_log(db.conn, [new])
    assert chain.ok and chain.checked == 2, chain.problem
    assert report.audit_anchored_through == 2

    again = await rotate(db, new, [old], clock=lambda: NOW)
    assert again.ok and again.moved == {} and again.skipped == 14


async def test_an_interrupted_rotation_is_finished_by_running_it_again(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = MasterKey.generate(), MasterKey.generate()
    keys = await _populate(db, Vault(old))

    first = await rotate(db, new, [old], limit=3)
    assert not first.complete and first.remaining == 11 and sum(first.moved.values()) == 3
    # Half-way, a bot holding both keys still opens every case.
    await _assert_opens_only_with(db, keys, good=Vault(new, previous=[old]), bad=Vault(
        MasterKey.generate()))  # fmt: skip

    # A crash in the middle of a row leaves that row as it was.
    calls = 0
    real = Vault.reseal_local

    def failing(self: Vault, blob: bytes, *, purpose: str, context: str) -> bytes:
        nonlocal calls
        calls += 1
        if calls == 4:
            raise RuntimeError("power cut")
        return real(self, blob, purpose=purpose, context=context)

    monkeypatch.setattr(Vault, "reseal_local", failing)
    with pytest.raises(RuntimeError, match="power cut"):
        await rotate(db, new, [old])
    monkeypatch.undo()
    assert 0 < await rotation.pending(db, new.key_id) < 11

    last = await rotate(db, new, [old], clock=lambda: NOW)
    assert last.ok and last.skipped > 3
    await _assert_opens_only_with(db, keys, good=Vault(new), bad=Vault(old))
    assert (await verify_audit_log(db.conn, [new])).ok


async def test_a_coordinators_pseudonym_moves_when_they_write_again(db: Database) -> None:
    old, new = MasterKey.generate(), MasterKey.generate()
    await _populate(db, Vault(old))
    await rotate(db, new, [old])
    during = Vault(new, previous=[old])

    coordinator = await adopt_coordinator(db, during, COORD_USER)
    assert coordinator is not None and coordinator.pseudonym == Vault(new).pseudonym(COORD_USER)
    found = await co.coordinator_by_pseudonym(db.conn, Vault(new).pseudonym(COORD_USER))
    assert found is not None and found.id == "coord1"


async def test_a_tampered_audit_log_is_not_anchored(db: Database) -> None:
    old, new = MasterKey.generate(), MasterKey.generate()
    await _populate(db, Vault(old))
    await db.conn.execute("DROP TRIGGER audit_log_no_update")
    await db.conn.execute("UPDATE audit_log SET actor = 'C-ZZZZ' WHERE seq = 1")

    report = await rotate(db, new, [old])

    assert report.audit_problem is not None and "entry 1" in report.audit_problem
    assert not report.ok and report.remaining == 0
    assert not (await verify_audit_log(db.conn, [new, old])).ok


async def test_an_anchor_catches_edits_made_after_the_old_key_is_gone(db: Database) -> None:
    old, new = MasterKey.generate(), MasterKey.generate()
    await _populate(db, Vault(old))
    await rotate(db, new, [old])
    await _audit(db, Vault(new), "C-AAAA", "released", "AAA111")
    assert (await verify_audit_log(db.conn, [new])).ok

    await db.conn.execute("DROP TRIGGER audit_log_no_update")
    await db.conn.execute("UPDATE audit_log SET action = 'closed' WHERE seq = 2")
    chain = await verify_audit_log(db.conn, [new])
    assert not chain.ok and chain.problem is not None and "anchor" in chain.problem

    await db.conn.execute("DROP TRIGGER audit_anchors_no_delete")
    await db.conn.execute("DELETE FROM audit_anchors")
    assert not (await verify_audit_log(db.conn, [new])).ok


async def test_rotation_time_for_many_rows(db: Database) -> None:
    """Prints a figure for the operator's guide; asserts only that everything moved."""
    old, new = MasterKey.generate(), MasterKey.generate()
    vault = Vault(old)
    rows = 300
    async with db.transaction() as conn:
        for n in range(rows):
            await co.enqueue(
                conn,
                id=n + 1,
                chat=vault.seal_local(b"1", purpose="outbox", context=f"chat:{n + 1}"),
                body=vault.seal_local(b"body", purpose="outbox", context=f"body:{n + 1}"),
                now=NOW,
            )
            await apply(
                conn,
                store.new_draft(
                    case_id=f"c{n}",
                    pseudonym=vault.pseudonym(n),
                    wrapped_key=vault.wrap_case_key(CaseKey.generate(), case_id=f"c{n}"),
                    now=NOW,
                ),
            )
    started = time.perf_counter()
    report = await rotate(db, new, [old])
    elapsed = time.perf_counter() - started
    assert report.ok and sum(report.moved.values()) == 3 * rows
    print(f"\nrotated {3 * rows} blobs in {elapsed:.2f} s")
    async with db.conn.execute("SELECT wrapped_key FROM cases LIMIT 1") as cur:
        row = await cur.fetchone()
    assert row is not None and wrapped_key_id(bytes(row[0])) == new.key_id


async def test_integrity_after_rotation(db: Database) -> None:
    old, new = MasterKey.generate(), MasterKey.generate()
    await _populate(db, Vault(old))
    await rotate(db, new, [old])
    async with db.conn.execute("PRAGMA integrity_check") as cur:
        assert await cur.fetchall() == [("ok",)]
    with pytest.raises(sqlite3.IntegrityError):
        await db.conn.execute("UPDATE audit_anchors SET mac = 'x'")
