"""End to end against a self-hosted Bot API server older than 7.0, which has no deleteMessages.

Without a fallback every deletion fails there: the applicant's typed answers and each earlier
question would stay on the phone, and /delete would leave the whole chat in place.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.crypto import MasterKey
from bot.devserver import DevServer
from bot.transport import delivery
from tests.conftest import Applicant, RunningBot, running_bot
from tests.intake_driver import CATALOG, answer_all, begin

APPLICANT = 530_000_001


@pytest.fixture
async def old_server() -> AsyncIterator[DevServer]:
    async with DevServer(unknown_methods={"deleteMessages"}) as dev:
        yield dev


@pytest.fixture
async def old_bot(
    old_server: DevServer, tmp_path: Path, master_key: MasterKey
) -> AsyncIterator[RunningBot]:
    async with running_bot(old_server, tmp_path, master_key) as running:
        yield running


async def test_the_server_answers_the_unknown_method_as_an_old_one_does(
    old_server: DevServer,
) -> None:
    from telegram import Bot
    from telegram.error import InvalidToken

    await old_server.send_text(APPLICANT, "hi", first_name="Test")
    async with Bot(old_server.token, base_url=old_server.base_url) as bot:
        sent = await bot.send_message(APPLICANT, "hello")
        with pytest.raises(InvalidToken, match="Not Found"):
            await bot.delete_messages(APPLICANT, [sent.message_id])
        assert await bot.delete_message(APPLICANT, sent.message_id)
    assert [m.text for m in await old_server.messages(APPLICANT)] == ["hi"]


async def test_the_chat_stays_clean_and_is_wiped_without_delete_messages(
    old_bot: RunningBot,
) -> None:
    server = old_bot.server
    person = Applicant(server, APPLICANT)
    await begin(person)
    await answer_all(person, "en", stop_before="call_name")
    shown = await person.visible()
    assert len(shown) == 1 and shown[0].from_bot  # only the current question, no answers

    await person.send("/delete")
    await person.tap(CATALOG.text("en", "delete_yes"))
    assert await person.visible() == []

    tried = await server.api_calls("deleteMessages")
    assert tried and not any(call.ok for call in tried)
    assert len(tried) == 1  # the server's answer is remembered, not asked again
    assert any(call.ok for call in await server.api_calls("deleteMessage"))
    assert server.base_url in delivery._WITHOUT_DELETE_MESSAGES  # noted without the token


async def test_a_server_that_knows_delete_messages_gets_batches(bot: RunningBot) -> None:
    person = Applicant(bot.server, APPLICANT)
    await begin(person)
    await answer_all(person, "en", stop_before="rank")
    await person.send("/delete")
    await person.tap(CATALOG.text("en", "delete_yes"))
    assert await person.visible() == []
    assert all(call.ok for call in await bot.server.api_calls("deleteMessages"))
    assert await bot.server.api_calls("deleteMessage") == []
    assert bot.server.base_url not in delivery._WITHOUT_DELETE_MESSAGES


def test_the_standalone_server_can_be_started_without_the_method() -> None:
    from bot.devserver.__main__ import _parser

    args = _parser().parse_args(["--unknown-method", "deleteMessages"])
    assert args.unknown_method == ["deleteMessages"]
    assert _parser().parse_args([]).unknown_method == []
