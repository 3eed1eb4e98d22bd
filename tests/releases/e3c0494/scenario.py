"""The release at e3c0494 at work, run by ``tests/releases/build.py`` inside that release's tree.

Two databases, as an organisation running that release would have them:
- ``coordinated.sqlite3``: a lead and a coordinator enrolled, a case sent, claimed and noted by
  the lead, a second case waiting in the queue, and a form half filled in;
- ``unattended.sqlite3``: a case sent before anyone enrolled, so its key is still under the
  master key.
Times are not on any grid (the release kept them to the second). ``facts.json`` holds what the
upgrade test needs to open them: master keys, passphrases, case codes, the words typed.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
import tempfile
from pathlib import Path
from typing import Any

from bot.config import load_config
from bot.crypto import MasterKey
from bot.intake.events import Press
from bot.runtime import Services, open_services
from bot.services.coordination import CoordIncoming
from bot.store import cases as case_store
from tests.conftest import write_config
from tests.test_retention import Person

T0 = 1_790_000_123  # mid-day, mid-hour: the release stored times to the second
TOKEN = "123456789:" + "A" * 35
LEAD, MEMBER = 660_000_101, 660_000_102
PASSPHRASES = {LEAD: "granite willow harbor sixty", MEMBER: "meadow copper lantern eight"}
ANSWER, NOTE = "OldAnswerCanary 5qv", "OldNoteCanary 8kd"


class Clock:
    def __init__(self) -> None:
        self.now = float(T0)

    def __call__(self) -> float:
        self.now += 7  # every reading a few seconds on: no two rows share a time by accident
        return self.now


async def _say(services: Services, user: int, typed: str, n: list[int]) -> str:
    n[0] += 1
    command, arg = None, ""
    if typed.startswith("/"):
        command, _, arg = typed[1:].partition(" ")
    response = await services.coordination.handle(
        CoordIncoming(user, user, True, n[0], typed, command, arg)
    )
    return "" if response is None else "\n".join(r.text for r in response.replies)


async def _enrol(services: Services, user: int, role: str, n: list[int]) -> str:
    invite = await services.coordination.create_invite(role)
    await _say(services, user, f"/enroll {invite}", n)
    answer = await _say(services, user, PASSPHRASES[user], n)
    assert "enrolled" in answer.lower(), answer
    return answer.split("handle ")[-1].split()[0].rstrip(".") if "handle " in answer else ""


async def _code(services: Services, case_id: str) -> str:
    case = await case_store.get_case(services.db.conn, case_id)
    assert case is not None and case.code
    return case.code


def _config(folder: Path, key: MasterKey) -> Any:
    folder.mkdir(parents=True, exist_ok=True)
    path = write_config(folder, "http://127.0.0.1:9/bot")
    return load_config(path, {"BOT_TOKEN": TOKEN, "BOT_MASTER_KEY": key.to_text()})


def _copy(folder: Path, to: Path) -> None:
    with sqlite3.connect(folder / "bot.sqlite3") as src, sqlite3.connect(to) as dst:
        src.backup(dst)


async def coordinated(work: Path, out: Path) -> dict[str, object]:
    key, n = MasterKey.generate(), [0]
    async with open_services(_config(work, key), clock=Clock()) as services:
        await _enrol(services, LEAD, "lead", n)
        await _enrol(services, MEMBER, "coordinator", n)
        held = await _code(services, await Person(services, 660_000_001).submit(ANSWER))
        waiting = await _code(services, await Person(services, 660_000_002).submit(ANSWER))
        assert (await _say(services, LEAD, "/unlock", n)).lower().startswith("send")
        assert "Unlocked" in await _say(services, LEAD, PASSPHRASES[LEAD], n)
        assert held in await _say(services, LEAD, f"/claim {held}", n)
        assert "saved" in await _say(services, LEAD, f"/note {held} {NOTE}", n)
        half = Person(services, 660_000_003)
        await half.begin()
        q = services.intake.questionnaire
        first = q.question(q.first)
        await half.send(Press(half.button("A:", f":{first.options[0].id}")))
    _copy(work, out / "coordinated.sqlite3")
    return {
        "master_key": key.to_text(),
        "lead": {"user": LEAD, "passphrase": PASSPHRASES[LEAD]},
        "member": {"user": MEMBER, "passphrase": PASSPHRASES[MEMBER]},
        "held": held,
        "waiting": waiting,
        "answer": ANSWER,
        "note": NOTE,
        "half_filled_user": 660_000_003,
    }


async def unattended(work: Path, out: Path) -> dict[str, object]:
    key = MasterKey.generate()
    async with open_services(_config(work, key), clock=Clock()) as services:
        code = await _code(services, await Person(services, 660_000_004).submit(ANSWER))
    _copy(work, out / "unattended.sqlite3")
    return {"master_key": key.to_text(), "case": code, "answer": ANSWER}


async def main(out: Path) -> None:
    with tempfile.TemporaryDirectory() as folder:
        facts = {
            "release": "e3c0494",
            "coordinated": await coordinated(Path(folder) / "c", out),
            "unattended": await unattended(Path(folder) / "u", out),
        }
    (out / "facts.json").write_text(json.dumps(facts, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
