"""Telegram misbehaves: 429 with retry_after, 502, and connections cut mid-request (where a
request hanging past PTB's 5 s read timeout also ends, without the wait), on each method.

Whatever fails, the bot must keep answering, an answer it saved must stay saved, and a message
queued in the outbox must reach the coordinators' group exactly once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.crypto import MasterKey, Vault
from bot.devserver import DevServer
from bot.devserver.settle import settle
from bot.intake.draft import Draft
from bot.store import Database
from bot.store import cases as store
from tests.conftest import GROUP_CHAT_ID, QUIET, Applicant, running_bot
from tests.intake_driver import CATALOG, answer_all, answer_one, default_questionnaire

USER = 550_000_001
Q = default_questionnaire()


def _question(qid: str) -> str:
    return CATALOG.localize("en", Q.question(qid).text)


async def _draft(db: Database, vault: Vault) -> Draft:
    row = await store.find_draft(db.conn, vault.pseudonym(USER))
    assert row is not None, "the draft is gone"
    key = vault.unwrap_case_key(row.wrapped_key, case_id=row.case_id)
    encrypted = await store.read_fields(db.conn, row.case_id)
    return Draft.from_fields(
        {n: key.decrypt(v, case_id=row.case_id, field=n) for n, v in encrypted.items()}
    )


async def _to_years(person: Applicant) -> None:
    await person.send("/start")
    await person.tap("English")
    await person.tap(CATALOG.text("en", "consent_yes"))
    for qid in ("who", "service", "rank"):
        await answer_one(person, Q, qid, "en")
    assert _question("years") in await person.last_text()


FAULTS: list[tuple[str, dict[str, Any]]] = [
    ("sendMessage", {"error_code": 429, "retry_after": 1}),
    ("sendMessage", {"error_code": 502, "times": 2}),
    ("sendMessage", {"error_code": None, "drop_connection": True}),
    ("editMessageText", {"error_code": 502}),
    ("editMessageText", {"error_code": None, "drop_connection": True}),
    ("deleteMessages", {"error_code": 502}),
    ("getUpdates", {"error_code": 502, "times": 2}),
    ("getUpdates", {"error_code": 429, "retry_after": 1}),
    ("getUpdates", {"error_code": None, "drop_connection": True}),
]


@pytest.mark.parametrize(("method", "fault"), FAULTS, ids=lambda v: str(v))
async def test_a_fault_loses_no_answer_and_the_bot_keeps_answering(
    server: DevServer, tmp_path: Path, master_key: MasterKey, method: str, fault: dict[str, Any]
) -> None:
    async with running_bot(server, tmp_path, master_key) as bot:
        person = Applicant(server, USER)
        await _to_years(person)
        await server.inject_fault(method, **fault)
        if method == "editMessageText":
            await person.send("7")  # years, then a tap on status edits the prompt in place
            await server.inject_fault(method, **fault)
            status = Q.question("status")
            message = await person.message_with_button(
                CATALOG.localize("en", status.options[0].text)
            )
            await server.press_button(USER, message.message_id, message.buttons[0]["callback_data"])
        else:
            await server.send_text(USER, "7", first_name="Test")
        await settle(server, quiet=QUIET, timeout=30.0)
        await server.clear_faults()

        draft = await _draft(bot.runtime.db, Vault(master_key))
        assert draft.answers["years"].value == 7, "a saved answer was lost"
        if method == "editMessageText":
            assert draft.answers["status"].value == Q.question("status").options[0].id

        # The bot still answers, and shows the question the draft is really at.
        await person.send("/start")
        assert _question(draft.step or "") in await person.last_text()
        await answer_one(person, Q, draft.step or "", "en")
        later = await _draft(bot.runtime.db, Vault(master_key))
        assert draft.step in later.answers


async def test_a_group_notice_survives_502s_and_arrives_exactly_once(
    server: DevServer, tmp_path: Path, master_key: MasterKey
) -> None:
    async with running_bot(server, tmp_path, master_key) as bot:
        await server.send_group_text(GROUP_CHAT_ID, 550_000_900, "hi", chat_type="supergroup")
        person = Applicant(server, USER)
        await person.send("/start")
        await person.tap("English")
        await person.tap(CATALOG.text("en", "consent_yes"))
        await answer_all(person, "en", {"call_name": "Ko Faults"})
        # The receipt, the wipe offer and the notice's first try all get a 502.
        await server.inject_fault("sendMessage", error_code=502, times=3)
        message = await person.message_with_button(CATALOG.text("en", "submit"))
        data = next(b["callback_data"] for b in message.buttons if b["text"] == "Send")
        await server.press_button(USER, message.message_id, data)

        async def notices() -> list[str] | None:
            texts = [
                m.text or "" for m in await server.messages(GROUP_CHAT_ID, include_deleted=True)
            ]
            found = [t for t in texts if t.startswith("New case")]
            return found or None

        first = await server.wait_for(notices, timeout=30.0)
        assert len(first) == 1

        # The outbox keeps nothing back and sends nothing again.
        async def outbox_empty() -> bool | None:
            async with bot.runtime.db.conn.execute("SELECT count(*) FROM outbox") as cur:
                return await cur.fetchone() == (0,) or None

        await server.wait_for(outbox_empty, timeout=10.0)
        await bot.runtime.outbox.flush(_never_called)
        await settle(server, quiet=QUIET)
        assert await notices() == first
        await person.send("/help")
        assert await person.last_text()


async def _never_called(chat_id: int, message: object) -> int:
    raise AssertionError("the outbox sent a message twice")
