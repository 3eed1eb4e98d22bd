"""Canaries: what applicants type, and who they are, never reach the disk or the logs.

Unique marker strings (ASCII and Burmese) go through a whole intake; afterwards the database
file, its WAL and journal, and everything the logs printed (at DEBUG, with the HTTP client's
request log switched on) are searched byte for byte.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from bot.crypto import MasterKey
from bot.devserver import DevServer
from bot.i18n import ZAWGYI
from bot.text import to_zawgyi
from tests.conftest import Applicant, Configure, running_bot
from tests.intake_driver import answer_all, begin

SUBMITTER = 734_912_583
DRAFTER = 734_912_584  # stops half-way: drafts must be as unreadable as cases
ASCII_MARK = "Canary7f3aPLAIN"
BURMESE_MARK = "ဥက္ကာပျံမြွေပွေး"
NOTE_MARK = "Kyaw CanaryNote9q2"


def _forms(text: str) -> list[bytes]:
    """Every way a marker could be written down: UTF-8, UTF-16, JSON-escaped."""
    escaped = json.dumps(text)[1:-1]
    return [text.encode("utf-8"), text.encode("utf-16-le"), escaped.encode("ascii", "ignore")]


def _markers() -> dict[str, list[bytes]]:
    found = {
        "ascii": _forms(ASCII_MARK),
        "burmese": _forms(BURMESE_MARK) + _forms(to_zawgyi(BURMESE_MARK)),
        "note": _forms(NOTE_MARK),
    }
    for user in (SUBMITTER, DRAFTER):
        # SQLite stores an integer big-endian in 4, 6 or 8 bytes; little-endian for good measure.
        packed = [user.to_bytes(n, order) for n in (4, 6, 8) for order in ("big", "little")]
        found[f"id {user}"] = [str(user).encode(), *packed]
    return found


def _leaks(blob: bytes) -> list[str]:
    return [name for name, forms in _markers().items() if any(f and f in blob for f in forms)]


async def test_no_marker_reaches_the_database_or_the_logs(
    server: DevServer, tmp_path: Path, configure: Configure
) -> None:
    logs = configure("json", "DEBUG")
    logging.getLogger("aiohttp.client").setLevel(logging.DEBUG)  # the Bot API client
    key = MasterKey.generate()
    async with running_bot(server, tmp_path, key) as bot:
        person = Applicant(server, SUBMITTER)
        await begin(person)
        await answer_all(
            person, "en", {"call_name": ASCII_MARK, "notes": f"{BURMESE_MARK} {NOTE_MARK}"}
        )
        await person.tap("Send")

        other = Applicant(server, DRAFTER)
        await begin(other, to_zawgyi("မြန်မာ"), ZAWGYI)
        await answer_all(other, ZAWGYI, {"call_name": to_zawgyi(BURMESE_MARK)}, stop_before="notes")
        await other.send(ASCII_MARK)  # the free-text question right before the end

        # While the bot runs, recent pages live in the WAL: read it now, not after a checkpoint.
        db_path = bot.config.storage.database
        live = {p.name: p.read_bytes() for p in db_path.parent.glob(db_path.name + "*")}
        token = bot.config.telegram.token.get_secret_value()
    after = {p.name: p.read_bytes() for p in db_path.parent.glob(db_path.name + "*")}

    assert any(name.endswith("-wal") for name in live), live.keys()
    for name, blob in [*live.items(), *after.items()]:
        assert _leaks(blob) == [], f"{name} holds {_leaks(blob)}"

    printed = logs.getvalue()
    assert "update_handled" in printed and "case_submitted" in printed  # logging did run
    assert _leaks(printed.encode()) == []
    assert token not in printed and token.split(":")[1] not in printed


async def test_the_canary_check_would_see_a_plaintext_leak(tmp_path: Path) -> None:
    """The search itself works: a marker written in the clear is found in the file bytes."""
    import sqlite3

    path = tmp_path / "leak.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (v TEXT, n INTEGER)")
        conn.execute("INSERT INTO t VALUES (?, ?)", (f"{BURMESE_MARK} {ASCII_MARK}", SUBMITTER))
    assert set(_leaks(path.read_bytes())) >= {"ascii", "burmese", f"id {SUBMITTER}"}
