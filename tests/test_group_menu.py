"""The coordinators' group menu: set at a normal start without a word, named when it cannot be.

A chat-scoped command menu needs a chat the Bot API server knows the bot in; Telegram and the
local server both answer "chat not found" otherwise. Every start used to warn because the local
server (in the demo, in ``python -m bot.devserver``) had no coordinators' group at all.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from pathlib import Path

from bot.crypto import MasterKey
from bot.devserver import DevServer
from bot.devserver.server import DEFAULT_TOKEN
from tests.conftest import GROUP_CHAT_ID, Configure, running_bot, write_config
from tests.test_cli import ROOT, _env

COORDINATOR = 700_002


def _records(output: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


async def _menu(server: DevServer) -> list[str]:
    stored = await server.commands(f"chat:{GROUP_CHAT_ID}")  # also before the group exists
    return [command.command for command in stored]


async def test_a_normal_start_sets_the_group_menu_without_a_warning(
    server: DevServer, tmp_path: Path, configure: Configure
) -> None:
    stream = configure("json")
    server.state.group_chat(GROUP_CHAT_ID, "supergroup", "Coordinators")
    async with running_bot(server, tmp_path, MasterKey.generate()):
        assert await _menu(server) == ["queue", "stats", "claim"]
    levels = [record["level"] for record in _records(stream.getvalue())]
    assert "warning" not in levels and "error" not in levels, stream.getvalue()


async def test_a_group_the_bot_is_not_in_is_named_then_its_menu_set_when_added(
    server: DevServer, tmp_path: Path, configure: Configure
) -> None:
    stream = configure("json")
    async with running_bot(server, tmp_path, MasterKey.generate()):
        [warning] = [r for r in _records(stream.getvalue()) if r["level"] == "warning"]
        assert warning["event"] == "coordinators_group_unreachable"
        assert warning["error"] == "BadRequest"
        assert warning["hint"] == (
            "add the bot to the group whose id is coordination.group_chat_id"
            " (or a team's group_chat_id)"
        )
        assert await _menu(server) == []

        await server.add_bot_to_group(GROUP_CHAT_ID, COORDINATOR, chat_type="supergroup")
        menu: list[str] = []

        async def poll() -> None:
            while not menu:
                menu.extend(await _menu(server))
                await asyncio.sleep(0.02)

        await asyncio.wait_for(poll(), timeout=10.0)
        assert menu == ["queue", "stats", "claim"]
        chat = server.state.chats[GROUP_CHAT_ID]
        assert chat.bot_present  # its own group: the bot stays


def test_the_standalone_server_can_hold_the_coordinators_group(tmp_path: Path) -> None:
    """`python -m bot.devserver --group ID`, then `python -m bot run` against it: no warning."""
    server = subprocess.Popen(
        [sys.executable, "-m", "bot.devserver", "--port", "0", "--group", str(GROUP_CHAT_ID)],
        cwd=ROOT,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        base_url = server.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:"), base_url
        config = write_config(tmp_path, base_url)
        env = _env(BOT_TOKEN=DEFAULT_TOKEN, BOT_MASTER_KEY=MasterKey.generate().to_text())
        bot = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "--config", str(config)],
            cwd=ROOT,
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert bot.stderr is not None
        logged: list[str] = []
        for line in bot.stderr:  # until the bot is up
            logged.append(line)
            if '"bot_started"' in line:
                break
        bot.send_signal(signal.SIGTERM)
        rest, _ = bot.communicate(timeout=30)
        logged.append(rest or "")
        assert bot.returncode == 0, "".join(logged)
        output = "".join(logged)
        assert "bot_started" in output
        assert '"level": "warning"' not in output, output
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=30)
