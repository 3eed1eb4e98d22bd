"""The README's commands are the program's: every `python -m bot` subcommand and option it shows
exists, every `make` target it names is in the Makefile, and the container commands use the
image's own paths."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from bot.cli import _parser

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")


def _shell_lines() -> list[str]:
    """The commands of the README's ``sh`` blocks, continuation lines joined, comments cut."""
    blocks = re.findall(r"```sh\n(.*?)```", README, flags=re.DOTALL)
    joined = "\n".join(blocks).replace("\\\n", " ")
    lines = [line.split("  #")[0].strip() for line in joined.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def _bot_invocations() -> list[list[str]]:
    found: list[list[str]] = []
    for line in _shell_lines():
        for part in re.split(r"&&|;|\|", line):
            words = shlex.split(part.split(" < ")[0].split(" > ")[0])
            if "exit-intake-bot" in words:  # docker run … IMAGE ARGS
                found.append(words[words.index("exit-intake-bot") + 1 :] or ["run"])
            elif "-m" in words and words[words.index("-m") + 1 :][:1] == ["bot"]:
                found.append(words[words.index("-m") + 2 :])
    return found


def test_every_bot_command_in_the_readme_parses() -> None:
    calls = _bot_invocations()
    assert len(calls) >= 12, calls
    parser = _parser()
    for args in calls:
        parser.parse_args(args)  # exits (SystemExit) on an unknown command or option


def test_every_make_target_in_the_readme_exists() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([a-z-]+):", makefile, flags=re.MULTILINE))
    named = set(re.findall(r"`make ([a-z-]+)", README))
    named |= {line.split()[1] for line in _shell_lines() if line.startswith("make ")}
    assert {"install", "demo", "test", "help", "bench"} <= named
    assert named <= targets, named - targets


def test_the_container_commands_use_the_images_paths() -> None:
    config = re.search(r"BOT_CONFIG=(\S+)", DOCKERFILE)
    assert config is not None
    runs = [line for line in _shell_lines() if line.startswith("docker run")]
    assert len(runs) >= 3
    for line in runs:
        assert "--read-only" in line, line
    served = [line for line in runs if "-v botdata:/data" in line]
    assert served and all(f":{config.group(1)}:ro" in line for line in served)
    assert "BOT_DATABASE=/data/bot.sqlite3" in DOCKERFILE
    for command in ("invite", "backup", "restore", "revoke", "recover", "import-grants"):
        assert any(
            line.startswith("docker") and f" {command} " in f"{line} " for line in _shell_lines()
        ), command


def test_the_operators_guide_is_one_part_with_its_sections() -> None:
    headings = re.findall(r"^(#{2,3}) (.+)$", README, flags=re.MULTILINE)
    top = [title for level, title in headings if level == "##"]
    assert top == [
        "Two commands",
        "What the applicant sees",
        "What it protects, and what it cannot",
        "Coordinators' guide",
        "Operator's guide",
        "Development",
        "Performance",
    ]
    start = headings.index(("##", "Operator's guide"))
    end = headings.index(("##", "Development"))
    inside = [title for _, title in headings[start + 1 : end]]
    for wanted in ("Install", "First run", "In a container", "Teams", "Backups", "Upgrading"):
        assert wanted in inside, inside
    assert "What a seizer gets" in inside
    assert README.count("make install") >= 1 and "pip install" not in README
