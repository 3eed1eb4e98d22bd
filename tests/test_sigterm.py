"""A graceful stop: SIGTERM right after an applicant answers, and nothing acknowledged is lost.

``python -m bot run`` is started as an operator would, against the local Bot API server; it is
stopped with SIGTERM while an answer may be in flight. A new bot on the same database and key
must then hold every answer the applicant saw acknowledged (a new question was shown), carry on
from the right question, handle the in-flight answer at most once, and the file must be whole.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from bot.crypto import MasterKey
from bot.devserver import DevServer
from bot.intake.draft import Draft
from bot.store import Database
from tests.conftest import Applicant, phone_state, running_bot, write_config
from tests.intake_driver import CATALOG, answer_one, default_questionnaire, default_route
from tests.resting import rest
from tests.test_cli import start_bot_process

ROOT = Path(__file__).resolve().parent.parent
USER = 530_000_001
FAMILY = "3"


async def _draft(server: DevServer, db: Database) -> Draft:
    """The form under way, opened with the key the phone holds, as only that chat can."""
    state = await phone_state(server, db, USER)
    assert state.draft is not None, "the draft is gone"
    return state.draft


async def test_sigterm_mid_intake_keeps_every_acknowledged_answer(tmp_path: Path) -> None:
    q = default_questionnaire()
    route = default_route(q)
    assert route[:8] == ("who", "service", "rank", "years", "status", "region", "family", "when")
    before = route[: route.index("family")]
    master_key = MasterKey.generate()

    def question(qid: str) -> str:
        return CATALOG.localize("en", q.question(qid).text)

    async with DevServer() as server:
        config = write_config(tmp_path, server.base_url)
        process = await start_bot_process(server, config, master_key)
        person = Applicant(server, USER)
        try:
            sent = await server.send_text(USER, "/start", first_name="Test")
            await server.wait_for_bot_message(USER, after_id=sent["message_id"], timeout=30.0)
            await rest(server)
            await person.tap("English")
            await person.tap(CATALOG.text("en", "consent_yes"))
            for qid in before:
                await answer_one(person, q, qid, "en")
            assert question("family") in await person.last_text()
            # The answer goes out (in the reply field the question opened, as on a phone), and
            # the stop follows at once, whatever the bot is doing.
            [asked] = [m for m in await person.visible() if m.from_bot]
            assert asked.force_reply
            await server.send_text(
                USER, FAMILY, first_name="Test", reply_to_message_id=asked.message_id
            )
        finally:
            process.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(process.communicate(), timeout=30.0)
        assert process.returncode == 0, stderr.decode()
        assert "bot_stopped" in stderr.decode()

        shown = await server.messages(USER, include_deleted=True)
        acknowledged = any(m.from_bot and question("when") in (m.text or "") for m in shown)

        async with running_bot(server, tmp_path, master_key) as bot:
            await rest(server)  # an unconfirmed update is delivered again
            draft = await _draft(server, bot.runtime.db)
            redelivered = bot.runtime.intake._known(USER) is not None
            for qid in before:
                assert qid in draft.answers, f"acknowledged answer {qid!r} was lost"
            first_option = q.question("region").options[0].id
            assert draft.answers["region"].value == first_option
            if acknowledged:
                assert draft.answers["family"].value == int(FAMILY)
            # The in-flight answer was handled once: by the old bot or, redelivered, by the new.
            assert draft.step == "when", (draft.step, acknowledged)
            everything = await server.messages(USER, include_deleted=True)
            prompts = [m for m in everything if m.from_bot and question("when") in (m.text or "")]
            assert len(prompts) == 1, "the in-flight answer was handled twice"

            # Unless the answer was redelivered to it (bringing the chat's key), the new
            # process holds no key for the chat: /back then waits for one tap on the question
            # still on the phone, which brings the key, and is carried out after it.
            await person.send("/back")
            if await person.last_text() == CATALOG.text("en", "resume"):
                assert not redelivered
                await person.tap(CATALOG.localize("en", q.question("when").options[0].text))
            back = await person.last_text()
            assert question("family") in back
            assert CATALOG.text("en", "current_answer", answer=FAMILY) in back

            async with bot.runtime.db.conn.execute("PRAGMA integrity_check") as cur:
                assert await cur.fetchall() == [("ok",)]
