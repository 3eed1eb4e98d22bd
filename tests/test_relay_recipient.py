"""A question the team relays is answered by the applicant it was sent to, and by no one else.

The button's data travels through Telegram; someone who got hold of it (a forwarded button, a
copied callback) presses it from another account. That press must open nothing: no prompt, and
whatever they type next does not reach the case.
"""

from __future__ import annotations

from pathlib import Path

from bot.crypto import MasterKey
from bot.devserver import DevServer
from tests.conftest import GROUP_CHAT_ID, Applicant, running_bot, wait_for_text
from tests.intake_driver import CATALOG
from tests.test_e2e_coordination import (
    APPLICANT,
    LEAD,
    PASSPHRASE,
    STRANGER,
    _enrol,
    _submit,
    _unlock,
    team,
)

QUESTION = "Which town are you near?"


async def test_a_reply_button_pressed_from_another_account_opens_nothing(
    server: DevServer, tmp_path: Path, master_key: MasterKey
) -> None:
    async with running_bot(server, tmp_path, master_key) as bot:
        await server.send_group_text(GROUP_CHAT_ID, LEAD, "hello", chat_type="supergroup")
        lead = await _enrol(bot, LEAD, "lead", PASSPHRASE)
        code, _ = await _submit(server)  # sealed to the lead, enrolled before it came
        await _unlock(bot, lead, PASSPHRASE)
        await lead.send(f"/claim {code}")
        await lead.send(f"/ask {code} {QUESTION}")
        assert await lead.last_text() == team("ask_sent", code=code)
        await wait_for_text(server, APPLICANT, QUESTION)
        person = Applicant(server, APPLICANT)
        reply = CATALOG.text("en", "reply")
        asked = await person.message_with_button(reply)
        data = next(b["callback_data"] for b in asked.buttons if b["text"] == reply)

        stranger = Applicant(server, STRANGER)
        await stranger.send("/start")
        shown = (await stranger.visible())[-1]
        query = await server.forge_callback(STRANGER, shown.message_id, data)
        answer = await server.wait_for_callback_answer(query, timeout=10.0)
        await stranger.at_rest()
        assert answer.text == CATALOG.text("en", "stale_button")
        assert CATALOG.text("en", "reply_prompt") not in await stranger.bot_texts()
        await stranger.send("Near Mandalay, from someone else")
        assert CATALOG.text("en", "reply_thanks") not in await stranger.bot_texts()

        # The applicant it was sent to still answers it, once.
        await person.tap(reply)
        assert await person.last_text() == CATALOG.text("en", "reply_prompt")
        await person.send("Near Monywa")
        assert await person.last_text() == CATALOG.text("en", "reply_thanks")
        await wait_for_text(server, LEAD, team("answered", code=code))
        await lead.send(f"/show {code}")
        case = await lead.last_text()
        assert "applicant answered: Near Monywa" in case
        assert "Mandalay" not in case
