"""A coordinator talking to the coordination service directly, as the transport would pass on
their messages: real SQLite file, real keys, real Argon2id, a clock the test moves."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bot.config import DEFAULT_VETTING_STEPS
from bot.i18n import CoordinatorCatalog
from bot.runtime import Services
from bot.services.coordination import CoordIncoming
from bot.store import coordination as store

TEXTS = CoordinatorCatalog()
# What /approve waits for under a config with no [vetting] section (the example's set).
REQUIRED_STEPS = tuple(step.id for step in DEFAULT_VETTING_STEPS if step.required)


def text(key: str, /, **params: object) -> str:
    return TEXTS.text("en", key, **params)


class Coordinator:
    def __init__(self, services: Services, user_id: int, passphrase: str) -> None:
        self.services = services
        self.user_id = user_id
        self.passphrase = passphrase
        self.message_id = 0
        self.handle = ""
        self.id = ""

    async def say(self, typed: str, *, chat_id: int | None = None) -> str:
        """Send ``typed`` (a command or a passphrase); the bot's answer, or "" for none."""
        self.message_id += 1
        command, arg = None, ""
        if typed.startswith("/"):
            name, _, arg = typed[1:].partition(" ")
            command = name
        private = chat_id is None
        response = await self.services.coordination.handle(
            CoordIncoming(
                user_id=self.user_id,
                chat_id=self.user_id if private else chat_id,  # type: ignore[arg-type]
                private=private,
                message_id=self.message_id,
                text=typed,
                command=command,
                arg=arg,
                language="en",
            )
        )
        if response is None:
            return ""
        return "\n".join(reply.text for reply in response.replies)

    async def enrol(self, role: str = "coordinator", teams: tuple[str, ...] = ()) -> None:
        invite = await self.services.coordination.create_invite(role, teams)
        await self.say(f"/enroll {invite}")
        await self.say(self.passphrase)
        answer = await self.say(self.passphrase)
        assert "You are enrolled" in answer, answer
        pseudonym = self.services.vault.pseudonym(self.user_id)
        for row in await store.active_coordinators(self.services.db.conn):
            if row.pseudonym == pseudonym:
                self.handle, self.id = row.handle, row.id
        assert self.handle

    async def unlock(self) -> None:
        await self.say("/unlock")
        answer = await self.say(self.passphrase)
        assert answer.startswith("Unlocked."), answer


def snapshot(database: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, read from the file itself (committed state only)."""
    with sqlite3.connect(database) as conn:
        tables = [
            str(row[0])
            for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        ]
        return {
            t: sorted(conn.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr)  # noqa: S608
            for t in tables
        }
