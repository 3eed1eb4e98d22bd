"""The operator's commands, run as an operator runs them: as separate processes."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.cli import _parser
from bot.crypto import MasterKey, new_recovery_key
from bot.devserver import DevServer
from tests.conftest import write_config

ROOT = Path(__file__).resolve().parent.parent


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOT_")}
    env.update(extra)
    return env


def _bot(
    *args: str, env: dict[str, str], stdin: str | None = None, prefix: Sequence[str] = ()
) -> subprocess.CompletedProcess[str]:
    """``python -m bot ARGS`` as a process of its own (behind ``prefix``: another user, say)."""
    return subprocess.run(
        [*prefix, sys.executable, "-m", "bot", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def start_bot_process(
    server: DevServer, config: Path, master_key: MasterKey
) -> asyncio.subprocess.Process:
    """`python -m bot run` as an operator starts it, against the local Bot API server."""
    env = _env(BOT_TOKEN=server.token, BOT_MASTER_KEY=master_key.to_text())
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        "--config",
        str(config),
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


def test_keygen_prints_a_key_alone() -> None:
    result = _bot("keygen", env=_env())
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    MasterKey.from_text(lines[0])  # parses
    assert _bot("keygen", env=_env()).stdout != result.stdout


def test_check_config_accepts_the_example_with_secrets_in_the_environment() -> None:
    env = _env(
        BOT_TOKEN="123456:" + "A" * 35,
        BOT_MASTER_KEY=MasterKey.generate().to_text(),
        BOT_RECOVERY_PUBLIC_KEY=new_recovery_key()[1],
        BOT_GROUP_CHAT_ID="-1009876543210",
    )
    result = _bot("check-config", "--config", "config.example.toml", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "config ok"
    assert "A" * 35 not in result.stdout  # secrets are described, never printed


def test_check_config_refuses_the_examples_placeholder_group() -> None:
    env = _env(
        BOT_TOKEN="123456:" + "A" * 35,
        BOT_MASTER_KEY=MasterKey.generate().to_text(),
        BOT_RECOVERY_PUBLIC_KEY=new_recovery_key()[1],
    )
    result = _bot("check-config", "--config", "config.example.toml", env=env)
    assert result.returncode == 2
    assert "config ok" not in result.stdout
    [line] = result.stderr.splitlines()
    assert line.startswith(
        "config error: coordination.group_chat_id: still the example's placeholder; replace it"
    )


def test_a_missing_secret_stops_start_up_with_one_line() -> None:
    result = _bot("run", "--config", "config.example.toml", env=_env())
    assert result.returncode == 2
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("config error: telegram.token")
    assert "Traceback" not in result.stderr


def test_a_bad_questionnaire_stops_check_config_with_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "questions.toml"
    broken.write_text('[meta]\nversion = 1\nlanguages = ["en"]\n[[question]]\nid = "a"\n')
    config = write_config(
        tmp_path, "http://127.0.0.1:9/bot", f'[intake]\nquestionnaire = "{broken}"\n'
    )
    env = _env(BOT_TOKEN="123456:" + "A" * 35, BOT_MASTER_KEY=MasterKey.generate().to_text())
    result = _bot("check-config", "--config", str(config), env=env)
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert "questions.toml" in line and "'a'" in line


async def test_run_greets_a_user_on_any_bot_api_server(tmp_path: Path) -> None:
    """`python -m bot run` against the local server, as the definition of done asks."""
    async with DevServer() as server:
        config = write_config(tmp_path, server.base_url)
        process = await start_bot_process(server, config, MasterKey.generate())
        try:
            # Telegram queues updates until the bot polls; so does the local server.
            sent = await server.send_text(42_4242_4242, "/start", first_name="Op")
            greeting = await server.wait_for_bot_message(
                42_4242_4242, after_id=sent["message_id"], timeout=30.0
            )
            assert greeting.text is not None and greeting.text.startswith("Hello, and welcome.")
        finally:
            process.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(process.communicate(), timeout=30.0)
        assert process.returncode == 0, stderr.decode()
        logged = stderr.decode()
        assert "bot_started" in logged and "bot_stopped" in logged
        assert server.token not in logged and "424242" not in logged


def test_demo_shows_the_greeting_in_a_terminal_chat() -> None:
    result = _bot("demo", env=_env(), stdin="1\n1\nq\n")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Hello, and welcome." in out and "[1] English" in out
    assert "Before we begin, please read this." in out  # the button press was understood
    assert "Question 1 of" in out
    # The demo's coordinators' group exists with the bot in it: a start with nothing to warn of.
    assert "warning" not in result.stderr, result.stderr


def test_in_the_demo_a_case_sent_before_the_team_enrolled_reaches_the_lead() -> None:
    """The demo plays the operator's offline grant for a lead who enrolled after a case came
    in (it is sealed to the recovery key alone), so the walk never dead-ends at /show."""
    form = ["1", "1", "1", "1", "1", "1", "1", "1", "0", "1", "1", "Ko Demo", "1", "12", "2"]
    team = ["!team", "copper lantern river ninety", "copper lantern river ninety", "/help", "q"]
    result = _bot("demo", env=_env(), stdin="\n".join(form + team) + "\n")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "receipt code" in out, out[-3000:]
    assert "You are enrolled as lead" in out, out[-3000:]
    assert "an operator granted you 1 of them" in out, out[-3000:]


def test_in_the_demo_the_group_shows_its_notices_in_order_and_answers_at_once() -> None:
    form = ["1", "1", "1", "1", "1", "1", "1", "1", "0", "1", "1", "Ko Demo", "1", "12", "2"]
    team = ["!team", "copper lantern river ninety", "copper lantern river ninety", "!group"]
    result = _bot("demo", env=_env(), stdin="\n".join([*form, "!group", *team, "q"]) + "\n")
    assert result.returncode == 0, result.stderr
    code = result.stdout.split("Your receipt code: ")[1][:4]
    notice = f"bot: New case {code} · triage: in danger, still there"
    screens = [
        [line.strip() for line in screen.splitlines() if line.strip() not in ("", ">")]
        for screen in result.stdout.split("─" * 60)
    ]
    # Before anyone enrolled: the group as it stands, the notice already there, nothing else.
    first = next(screen for screen in screens if screen and screen[0] == notice)
    assert not any(line.startswith(("you:", "bot:")) for line in first[1:]), first
    # A lead's /queue there: answered at once, after the notice, in order (the lead has not
    # unlocked: codes and ages only).
    assert screens[-1][:5] == [
        notice,
        f"ကိစ္စအသစ် {code} · အခြေအနေ: အန္တရာယ် ရှိ၊ တာဝန်ကျရာမှာ ရှိနေတုန်း",
        "you: /queue",
        "bot: Open cases: 1, oldest first. Your key is locked: send /unlock to see how urgent "
        "each is and who holds it.",
        f"{code} · waiting since today",
    ], screens[-1]


async def test_a_refused_token_stops_run_with_one_line(tmp_path: Path) -> None:
    async with DevServer() as server:
        config = write_config(tmp_path, server.base_url)
        wrong = "123456:" + "W" * 35
        assert wrong != server.token
        env = _env(BOT_TOKEN=wrong, BOT_MASTER_KEY=MasterKey.generate().to_text())
        result = await asyncio.to_thread(_bot, "run", "--config", str(config), env=env)
    assert result.returncode == 2
    assert result.stdout == ""
    last = result.stderr.splitlines()[-1]
    assert last == (
        "config error: telegram.token (from BOT_TOKEN): Telegram refused this token "
        "(InvalidToken); check it with @BotFather"
    )
    # Before it, only the routine lines of a first start: no crash record, no library noise.
    for line in result.stderr.splitlines()[:-1]:
        assert json.loads(line)["level"] == "info", line
    assert "Unclosed" not in result.stderr and "W" * 35 not in result.stderr


async def test_a_wrong_bot_api_address_names_base_url(tmp_path: Path) -> None:
    async with DevServer() as server:
        address = server.base_url.removesuffix("/bot") + "/api"
        config = write_config(tmp_path, address)
        env = _env(BOT_TOKEN=server.token, BOT_MASTER_KEY=MasterKey.generate().to_text())
        result = await asyncio.to_thread(_bot, "run", "--config", str(config), env=env)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1].startswith(
        "config error: telegram.base_url: the Bot API server answered Not Found"
    )
    assert "Unclosed" not in result.stderr


def test_a_bot_api_server_out_of_reach_is_named(tmp_path: Path) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:9/bot")  # the discard port: nothing listens
    env = _env(BOT_TOKEN="123456:" + "A" * 35, BOT_MASTER_KEY=MasterKey.generate().to_text())
    result = _bot("run", "--config", str(config), env=env)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        "error: the bot stopped: cannot reach the Bot API server at 127.0.0.1 (NetworkError); "
        "check the network and telegram.base_url"
    )
    assert "Unclosed" not in result.stderr


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    found: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                found[f"{parser.prog.removeprefix('python -m bot').strip()} {name}".strip()] = child
                found |= _subcommands(child)
    return found


def test_every_command_says_what_it_does_in_its_help() -> None:
    commands = _subcommands(_parser())
    assert {"run", "check-config", "restore", "recover show", "demo"} <= set(commands)
    for name, parser in commands.items():
        description = parser.description or ""
        assert len(description.split()) >= 8, name  # more than its name restated
        assert description.split()[0] in parser.format_help(), name
    shown = _bot("restore", "--help", env=_env())
    assert shown.returncode == 0
    assert "an existing database is replaced only with --force" in " ".join(shown.stdout.split())


def test_the_main_help_is_plain_text() -> None:
    shown = _bot("--help", env=_env())
    assert shown.returncode == 0
    assert "``" not in shown.stdout and "python -m bot" in shown.stdout
    for command in ("run", "check-config", "rotate-key", "recovery-keygen", "demo"):
        assert command in shown.stdout
