"""A receipt vouches for its own case only, even against someone who can write the database.

The receipt's hash covers the case code as well as the secret: copied into another case's row,
it does not let the first receipt's secret read the second case's state.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bot.crypto import MasterKey
from bot.devserver import DevServer
from tests.conftest import Applicant, running_bot
from tests.intake_driver import CATALOG, answer_all, begin, status_answer

FIRST, SECOND = 640_000_001, 640_000_002


async def _receipt(person: Applicant) -> tuple[str, str]:
    await begin(person)
    await answer_all(person, "en", {"call_name": "Ko Zaw"})
    await person.tap("Send")
    receipt = ((await person.visible())[0].text or "").split("receipt code: ")[1].split()[0]
    code, _, secret = receipt.partition("-")
    return code, secret


async def test_a_receipt_hash_copied_to_another_case_vouches_for_nothing(
    server: DevServer, tmp_path: Path, master_key: MasterKey
) -> None:
    async with running_bot(server, tmp_path, master_key) as bot:
        first, second = Applicant(server, FIRST), Applicant(server, SECOND)
        first_code, first_secret = await _receipt(first)
        second_code, _ = await _receipt(second)
        with sqlite3.connect(bot.config.storage.database) as conn:
            conn.execute(
                "UPDATE cases SET receipt_hash = (SELECT receipt_hash FROM cases WHERE code = ?)"
                " WHERE code = ?",
                (first_code, second_code),
            )
        conn.close()

        await first.send(f"/status {first_code}-{first_secret}")
        assert await first.last_text() == status_answer("en", "submitted")
        await first.send(f"/status {second_code}-{first_secret}")
        assert await first.last_text() == CATALOG.text("en", "status_unknown")
