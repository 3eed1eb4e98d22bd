"""``python -m bot group-id`` against the local Bot API server: the operator learns the group's
id from Telegram itself, and the bot posts nothing, logs nothing, and leaves."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from bot.devserver import DevServer
from bot.ops.group_id import UPDATE_LIMIT, wait_for_group
from tests.test_cli import ROOT, _env

GROUP = -1_005_550_001_234
OPERATOR = 777_001
STRANGER = 777_002


async def _group_id(
    server: DevServer, tmp_path: Path, token: str | None = None
) -> asyncio.subprocess.Process:
    # No config yet: the group's id is what it lacks. The token and the server are all it needs.
    config = tmp_path / "config.toml"
    config.write_text(f'[telegram]\nbase_url = "{server.base_url}"\n')
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "group-id",
        "--config",
        str(config),
        cwd=ROOT,
        env=_env(BOT_TOKEN=token or server.token),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_group_id_prints_the_groups_id_alone_and_leaves(tmp_path: Path) -> None:
    async with DevServer() as server:
        process = await _group_id(server, tmp_path)
        assert process.stderr is not None
        waiting = await asyncio.wait_for(process.stderr.readline(), timeout=30)
        assert b"add the bot to your coordinators' group" in waiting
        # Someone writing to the bot privately meanwhile is neither answered nor taken.
        await server.send_text(STRANGER, "hello", first_name="Stranger")
        await server.add_bot_to_group(GROUP, OPERATOR, chat_type="supergroup", title="Coordinators")
        out, err = await asyncio.wait_for(process.communicate(), timeout=30)
        assert process.returncode == 0, err
        assert out.decode() == f"{GROUP}\n"
        advice = err.decode()
        assert 'supergroup "Coordinators"' in advice and "group_chat_id" in advice
        assert "Traceback" not in advice and server.token not in advice
        assert await server.left_chats() == [GROUP]
        assert not [m for m in await server.messages(GROUP) if m.from_bot]
        assert not [m for m in await server.messages(STRANGER) if m.from_bot]
        # Nothing was taken from the bot: the stranger's message still waits for it.
        waiting = [u["message"].get("text") for u in server.state.updates if "message" in u]
        assert "hello" in waiting


async def test_group_id_with_a_token_telegram_refuses_is_one_line(tmp_path: Path) -> None:
    async with DevServer() as server:
        wrong = server.token.split(":")[0] + ":" + "B" * 35
        process = await _group_id(server, tmp_path, wrong)
        out, err = await asyncio.wait_for(process.communicate(), timeout=30)
        lines = err.decode().splitlines()
        assert process.returncode == 2 and out == b""
        assert lines[-1].startswith("config error: telegram.token"), lines
        assert wrong not in err.decode()


async def test_a_backlog_that_hides_the_group_is_one_line(tmp_path: Path) -> None:
    async with DevServer() as server:
        for n in range(UPDATE_LIMIT):
            await server.send_text(STRANGER + n, "hello", first_name="Someone")
        process = await _group_id(server, tmp_path)
        out, err = await asyncio.wait_for(process.communicate(), timeout=30)
        lines = err.decode().splitlines()
        assert process.returncode == 1 and out == b""
        assert lines[-1].startswith(f"error: {UPDATE_LIMIT} or more updates are waiting"), lines
        assert len(server.state.updates) == UPDATE_LIMIT  # still all there for the bot


async def test_the_group_is_found_by_the_real_application_and_stop_ends_the_wait() -> None:
    async with DevServer() as server:
        stop = asyncio.Event()
        stop.set()
        assert await wait_for_group(server.token, server.base_url, stop=stop) is None
        await server.add_bot_to_group(GROUP, OPERATOR, chat_type="group", title="Team")
        found = await asyncio.wait_for(wait_for_group(server.token, server.base_url), 30)
        assert found is not None and (found.chat_id, found.kind) == (GROUP, "group")
        assert "basic group" in found.advice()
        assert await server.left_chats() == [GROUP]
