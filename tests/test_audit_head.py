"""Heads posted off the server catch what the server's own copy of the head cannot: a log cut
behind a posted head (with the database alone) and a log rewritten and re-MACed (with the master
key too). Each attack is made on a copy of the database, as a seizer would, with sqlite3 and,
for the re-MAC, the very chain code and ``Vault.mac`` the bot uses."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import aiosqlite
import pytest

from bot.coordination.audit import GENESIS, AuditEntry, format_head, parse_head, seal_entry
from bot.crypto import MasterKey, Vault
from bot.ops import rotation
from bot.ops.keycheck import ensure_master_key
from bot.ops.rotation import rotate, verify_audit_log
from bot.services import audit
from bot.services.audit_head import head_notice
from bot.store import coordination as co
from bot.store import operations as ops_store
from tests.conftest import write_config
from tests.databases import opened
from tests.test_cli import _bot, _env

NOW = 1_800_000_000
TOKEN = "1:" + "A" * 35
ENTRIES = 6
ACTIONS = ("invited", "enrolled", "unlocked", "claimed", "shown", "released")

# What an attacker drops before touching the log: every guard the schema has.
GUARDS = (
    "audit_log_no_update",
    "audit_log_no_delete",
    "audit_log_extends_head",
    "audit_head_no_delete",
    "audit_head_follows_log_insert",
    "audit_head_follows_log_update",
)


async def _make_log(path: Path, key: MasterKey) -> list[tuple[int, str]]:
    """A database whose audit log the bot wrote; returns every (seq, hash), as they would have
    been posted one by one."""
    vault = Vault(key)
    async with opened(path) as db:
        await ensure_master_key(db, vault)
        for action in ACTIONS:
            async with db.transaction() as conn:
                await audit.record(
                    conn, vault, at=NOW, actor="C-AAAA", action=action, case_code="K7QX"
                )
        async with db.conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq") as cur:
            heads = [(int(r[0]), str(r[1])) async for r in cur]
        await db.checkpoint()
    return heads


def _seized_copy(original: Path, folder: Path) -> Path:
    folder.mkdir()
    copy = folder / "bot.sqlite3"
    shutil.copyfile(original, copy)
    return copy


def _drop_guards(conn: sqlite3.Connection) -> None:
    for trigger in GUARDS:
        conn.execute(f"DROP TRIGGER IF EXISTS {trigger}")


def _truncate(path: Path, keep: int) -> None:
    """With the database alone: cut the tail and move the recorded head back to match."""
    with sqlite3.connect(path) as conn:
        _drop_guards(conn)
        conn.execute("DELETE FROM audit_log WHERE seq > ?", (keep,))
        last = conn.execute("SELECT hash FROM audit_log WHERE seq = ?", (keep,)).fetchone()[0]
        conn.execute("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", (keep, last))


def _rewrite_and_remac(
    path: Path, key: MasterKey, seq: int, action: str, *, remac_from: int | None = None
) -> None:
    """With the master key too: change one entry, then re-MAC it (or from ``remac_from`` on)
    and every later entry so the whole chain verifies again, and move the recorded head to the
    new last hash."""
    first = seq if remac_from is None else remac_from
    vault = Vault(key)
    with sqlite3.connect(path) as conn:
        _drop_guards(conn)
        rows = conn.execute(
            "SELECT seq, at, actor, action, case_code, hash FROM audit_log ORDER BY seq"
        ).fetchall()
        prev = GENESIS
        for n, at, actor, old_action, code, old_hash in rows:
            if n < first:
                prev = old_hash
                continue
            entry = seal_entry(
                seq=n,
                at=at,
                actor=actor,
                action=action if n == seq else old_action,
                case_code=code,
                prev_hash=prev,
                mac=lambda payload: vault.mac(payload, purpose="audit"),
            )
            conn.execute(
                "UPDATE audit_log SET action = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                (entry.action, entry.prev_hash, entry.hash, n),
            )
            prev = entry.hash
        conn.execute("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", (rows[-1][0], prev))


async def _verify(
    path: Path, keys: list[MasterKey], posted: list[tuple[int, str]] | None = None
) -> tuple[bool, str | None]:
    async with aiosqlite.connect(path) as conn:
        report = await verify_audit_log(conn, keys, posted=posted or [])
    return report.ok, report.problem


# --- the notice and its parser -----------------------------------------------------------------


async def test_the_notice_names_the_head_and_the_command_that_checks_it(tmp_path: Path) -> None:
    key = MasterKey.generate()
    heads = await _make_log(tmp_path / "bot.sqlite3", key)
    seq, hash_hex = heads[-1]
    async with aiosqlite.connect(tmp_path / "bot.sqlite3") as conn:
        notice = await head_notice(conn)

    first, hint = notice.splitlines()
    assert first == f"Audit head #{seq} {hash_hex}"
    command = f"python -m bot verify-audit --head {seq}:{hash_hex}"
    assert hint.endswith(command)
    assert parse_head(command.rsplit(" ", 1)[1]) == (seq, hash_hex)


async def test_an_empty_log_has_no_head_to_post(tmp_path: Path) -> None:
    async with opened(tmp_path / "bot.sqlite3") as db:
        assert "--head" not in await head_notice(db.conn)


def test_a_head_is_parsed_as_posted_and_nothing_else() -> None:
    hash_hex = "ab" * 32
    assert parse_head(f"12:{hash_hex}") == (12, hash_hex)
    assert parse_head(f" #12:{hash_hex.upper()}\n") == (12, hash_hex)
    assert format_head(12, hash_hex) == f"12:{hash_hex}"
    for bad in (
        hash_hex,  # no sequence number
        f"0:{hash_hex}",
        f"-1:{hash_hex}",
        f"1.5:{hash_hex}",
        f"١٢:{hash_hex}",  # digits, but not ASCII ones
        f"12:{hash_hex[:-1]}",  # one digit short
        f"12:{hash_hex}00",
        f"12:{'g' * 64}",
        "12:",
    ):
        with pytest.raises(ValueError):
            parse_head(bad)


# --- the attacks -------------------------------------------------------------------------------


async def test_a_cut_tail_passes_plain_verification_but_not_a_posted_head(tmp_path: Path) -> None:
    key = MasterKey.generate()
    heads = await _make_log(tmp_path / "bot.sqlite3", key)
    copy = _seized_copy(tmp_path / "bot.sqlite3", tmp_path / "seized")
    _truncate(copy, keep=3)

    # The gap this feature closes: the server's own head moved with the log.
    assert await _verify(copy, [key]) == (True, None)

    ok, problem = await _verify(copy, [key], posted=[heads[-1]])
    assert not ok and problem is not None
    assert f"entry {ENTRIES} of the posted head is missing" in problem
    ok, _ = await _verify(copy, [key], posted=[heads[2]])  # posted before the cut point
    assert ok


async def test_a_rewrite_remaced_with_the_master_key_is_caught_by_a_posted_head(
    tmp_path: Path,
) -> None:
    key = MasterKey.generate()
    heads = await _make_log(tmp_path / "bot.sqlite3", key)
    copy = _seized_copy(tmp_path / "bot.sqlite3", tmp_path / "seized")
    _rewrite_and_remac(copy, key, seq=2, action="closed")

    # With the master key the rewritten chain is a valid chain: plain verification is blind.
    assert await _verify(copy, [key]) == (True, None)

    for posted in heads[1:]:  # every head at or after the rewritten entry
        ok, problem = await _verify(copy, [key], posted=[posted])
        assert not ok and problem is not None and "rewritten" in problem, posted
    assert (await _verify(copy, [key], posted=[heads[0]]))[0]  # entry 1 is untouched


async def test_a_cut_and_regrown_log_does_not_match_the_posted_head(tmp_path: Path) -> None:
    """Cut the tail, then write new entries past the old length, all validly MACed."""
    key = MasterKey.generate()
    heads = await _make_log(tmp_path / "bot.sqlite3", key)
    copy = _seized_copy(tmp_path / "bot.sqlite3", tmp_path / "seized")
    _truncate(copy, keep=2)
    async with opened(copy) as db:
        for _ in range(ENTRIES):
            async with db.transaction() as conn:
                await audit.record(
                    conn, Vault(key), at=NOW, actor="C-BBBB", action="shown", case_code="K7QX"
                )

    assert await _verify(copy, [key]) == (True, None)
    ok, problem = await _verify(copy, [key], posted=[heads[-1]])
    assert not ok and problem is not None and f"entry {ENTRIES}" in problem


async def _rotate(path: Path, new: MasterKey, old: list[MasterKey]) -> None:
    async with opened(path) as db:
        assert (await rotate(db, new, old)).ok


async def test_a_remac_after_a_rotation_is_caught_too(tmp_path: Path) -> None:
    """After a rotation the old entries are vouched for by an anchor, not entry by entry; a
    holder of the new key who re-MACs the log and remakes the anchor still misses the head."""
    old, new = MasterKey.generate(), MasterKey.generate()
    heads = await _make_log(tmp_path / "bot.sqlite3", old)
    await _rotate(tmp_path / "bot.sqlite3", new, [old])
    copy = _seized_copy(tmp_path / "bot.sqlite3", tmp_path / "seized")
    # Entries 1 and 2 are MACed under the old key, gone now: re-MAC everything under the new.
    _rewrite_and_remac(copy, new, seq=3, action="closed", remac_from=1)
    with sqlite3.connect(copy) as conn:
        conn.execute("DROP TRIGGER audit_anchors_no_delete")
        conn.execute("DELETE FROM audit_anchors")
    await _rotate(copy, new, [])  # the attacker's own anchor, under the new key

    assert await _verify(copy, [new]) == (True, None)
    ok, problem = await _verify(copy, [new], posted=[heads[-1]])
    assert not ok and problem is not None and "rewritten" in problem


async def test_an_anchored_entry_rewritten_behind_a_posted_head_breaks_its_links(
    tmp_path: Path,
) -> None:
    """Once the old key is gone, entries before the rotation are vouched for by the anchor
    alone, which the new key's holder can remake; the posted head still pins their hashes,
    because the check walks the links from the first entry up to it.

    (Its limit: an entry whose fields are changed but whose stored hash is left as it was
    cannot be told apart without the old key. Keep old keys offline if that matters.)"""
    old, new = MasterKey.generate(), MasterKey.generate()
    heads = await _make_log(tmp_path / "bot.sqlite3", old)
    await _rotate(tmp_path / "bot.sqlite3", new, [old])
    copy = _seized_copy(tmp_path / "bot.sqlite3", tmp_path / "seized")
    vault = Vault(new)
    with sqlite3.connect(copy) as conn:
        _drop_guards(conn)
        conn.execute("DROP TRIGGER audit_anchors_no_delete")
        at, actor, code, prev = conn.execute(
            "SELECT at, actor, case_code, prev_hash FROM audit_log WHERE seq = 2"
        ).fetchone()
        forged = seal_entry(
            seq=2,
            at=at,
            actor=actor,
            action="closed",
            case_code=code,
            prev_hash=prev,
            mac=lambda p: vault.mac(p, purpose="audit"),
        )
        conn.execute(
            "UPDATE audit_log SET action = ?, hash = ? WHERE seq = 2", (forged.action, forged.hash)
        )
        conn.execute("DELETE FROM audit_anchors")
    async with aiosqlite.connect(copy) as conn:
        entries = [AuditEntry(*row) for row in await co.audit_entries(conn)]
        await ops_store.add_anchor(
            conn,
            through_seq=ENTRIES,
            key_id=new.key_id,
            mac=rotation._anchor_mac(vault, entries),
            at=NOW,
        )
        await conn.commit()

    assert await _verify(copy, [new]) == (True, None)  # the remade anchor vouches for it all
    ok, problem = await _verify(copy, [new], posted=[heads[-1]])
    assert (
        not ok and problem == "entry 3, behind a posted head, does not link to the entry before it"
    )


# --- from the command line ---------------------------------------------------------------------


def _run_verify(config: Path, key: MasterKey, *heads: str) -> tuple[int, str, str]:
    args = [arg for head in heads for arg in ("--head", head)]
    env = _env(BOT_TOKEN=TOKEN, BOT_MASTER_KEY=key.to_text())
    result = _bot("verify-audit", *args, "--config", str(config), env=env)
    return result.returncode, result.stdout, result.stderr


def test_verify_audit_head_from_the_command_line(tmp_path: Path) -> None:
    import asyncio

    key = MasterKey.generate()
    config = write_config(tmp_path, "http://127.0.0.1:9/bot")
    heads = asyncio.run(_make_log(tmp_path / "bot.sqlite3", key))
    posted: Callable[[int], str] = lambda i: format_head(*heads[i])  # noqa: E731

    code, out, err = _run_verify(config, key, posted(-1), posted(1))
    assert code == 0, err
    assert f"intact: {ENTRIES} entries" in out and "2 posted head(s)" in out

    _truncate(tmp_path / "bot.sqlite3", keep=4)
    code, out, err = _run_verify(config, key)
    assert code == 0  # plain verification cannot see the cut
    code, out, err = _run_verify(config, key, posted(1), posted(-1))
    assert code == 1 and len(err.strip().splitlines()) == 1, err
    assert err.startswith("audit chain BROKEN: ") and "Traceback" not in err

    code, _, err = _run_verify(config, key, "12:nothex")
    assert code == 2 and err.strip().splitlines() == [
        "error: --head 12:nothex: the hash must be 64 hexadecimal digits"
    ]
