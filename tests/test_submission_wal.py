"""A sent form leaves no draft behind in any file, even while its notice waits for the group.

The submission folds and truncates the WAL before the applicant is told the form was sent. The
outbox folds it too, once the new-case notice is delivered; so only a notice that cannot be
delivered shows whether the submission itself did.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bot.crypto import MasterKey
from bot.devserver import DevServer
from tests.conftest import GROUP_CHAT_ID, Applicant, running_bot
from tests.intake_driver import answer_one, begin, default_questionnaire, default_route

APPLICANT = 630_000_001
TYPED = {"call_name": "Ko Zaw Htet", "notes": "I can talk after 8pm on Fridays"}


def _blobs(path: Path) -> set[bytes]:
    """Every value that is bytes in every row of every table, whatever the tables are: what a
    reader of the file with the master key would try to open."""
    found: set[bytes] = set()
    conn = sqlite3.connect(path)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            quoted = '"' + table.replace('"', '""') + '"'
            for row in conn.execute(f"SELECT * FROM {quoted}"):  # noqa: S608 - the file's names
                found.update(v for v in row if isinstance(v, bytes) and len(v) >= 16)
    finally:
        conn.close()
    return found


def _every_file(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.glob("bot.sqlite3*")))


async def test_a_sent_form_leaves_no_draft_frame_while_its_notice_waits(
    server: DevServer, tmp_path: Path, master_key: MasterKey
) -> None:
    async with running_bot(server, tmp_path, master_key) as bot:
        path = bot.config.storage.database
        person = Applicant(server, APPLICANT)
        await begin(person)
        q = default_questionnaire()
        draft: set[bytes] = set()  # every ciphertext the form under way left in the file
        for qid in default_route(q):
            draft |= _blobs(path)
            await answer_one(person, q, qid, "en", TYPED.get(qid))
        # The group cannot be reached (a passing fault, retried later): the outbox keeps the
        # notice, and has nothing delivered to fold the WAL for.
        server.faults.add("sendMessage", error_code=502, times=1_000, chat_id=GROUP_CHAT_ID)
        await person.tap("Send")
        assert "receipt code: " in (await person.visible())[0].text

        assert not [m for m in await server.messages(GROUP_CHAT_ID) if m.from_bot]
        refused = [c for c in await server.api_calls("sendMessage") if c.error is not None]
        assert refused, "the notice was never tried"
        # What the form under way wrote and no row holds now: each of its states, replaced
        # answer by answer, the last of them when the form was sent.
        gone = draft - _blobs(path)
        assert len(gone) >= len(default_route(q)) - 1
        left = [blob for blob in gone if blob in _every_file(tmp_path)]
        assert left == [], f"{len(left)} of the draft's {len(gone)} ciphertexts are still on disk"
