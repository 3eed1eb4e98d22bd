"""Retention through the real services: drafts, cases, outbox rows and invites go on time, the
team is warned once before a held case is shredded, and nothing removed lingers in the files.

Cases are made by driving the intake service with the same events the transport produces, under
a fake clock, with a real SQLite file and a real master key.
"""

from __future__ import annotations

import contextlib
import re
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config import load_config
from bot.crypto import ChatKey, MasterKey
from bot.intake.draft import Draft
from bot.intake.events import Command, Event, Press, Reply, Text
from bot.intake.questionnaire import QuestionKind
from bot.ops.retention import DAY, HOUR, purge_once, warn_expiring
from bot.runtime import Services, open_services
from bot.services.chats import STATE_FIELD, ChatState
from bot.services.intake import Incoming, Response
from bot.services.outbox import OutMessage
from bot.store import cases as case_store
from bot.store import chats as chat_store
from bot.store import coordination as store
from tests.conftest import GROUP_CHAT_ID, write_config
from tests.intake_driver import default_route

T0 = 1_799_971_200  # the start of a UTC day: cases keep their times to the day
TOKEN = "123456789:" + "A" * 35
CANARY = "Canary5e1dRETAIN"
_TURN = re.compile(r"^[A-Z]:(\d+)")


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@contextlib.asynccontextmanager
async def services_at(folder: Path, clock: Clock, extra: str = "") -> AsyncIterator[Services]:
    """The bot's services as ``python -m bot`` builds them, from a config an operator wrote."""
    folder.mkdir(parents=True, exist_ok=True)
    path = write_config(folder, "http://127.0.0.1:9/bot", extra=extra)
    environ = {"BOT_TOKEN": TOKEN, "BOT_MASTER_KEY": MasterKey.generate().to_text()}
    async with open_services(load_config(path, environ), clock=clock) as services:
        yield services


class Person:
    """An applicant talking to the intake service directly, without Telegram in between."""

    def __init__(self, services: Services, user_id: int) -> None:
        self.services = services
        self.user_id = user_id
        self.prompt: Reply | None = None
        self.message_id = 0
        self.key: str | None = None  # the chat's key, as the phone holds it in the buttons

    async def send(self, event: Event) -> Response:
        self.message_id += 1
        incoming = Incoming(
            self.user_id,
            self.user_id,
            event,
            message_id=self.message_id if isinstance(event, Text | Command) else None,
            language_hint="en",
            key=self.key,
        )
        response = await self.services.intake.handle(incoming)
        self.key = response.key or self.key
        with_buttons = [r for r in response.replies if r.buttons]
        if with_buttons:
            self.prompt = with_buttons[-1]
        return response

    def button(self, prefix: str, suffix: str = "") -> str:
        assert self.prompt is not None, "no prompt yet"
        for row in self.prompt.buttons:
            for button in row:
                if button.data.startswith(prefix) and button.data.endswith(suffix):
                    return button.data
        raise AssertionError(f"no button {prefix}…{suffix} in {self.prompt.buttons}")

    async def begin(self) -> None:
        """Up to the first question: a draft now exists."""
        await self.send(Command("start"))
        await self.send(Press("L:en"))
        await self.send(Press(self.button("C:", ":y")))

    async def submit(self, typed: str = "x") -> str:
        """Answer every question on the default route and submit; returns the new case's id."""
        before = await _case_ids(self.services)
        await self.begin()
        q = self.services.intake.questionnaire
        for qid in default_route(q):
            question = q.question(qid)
            if question.kind is QuestionKind.CHOICE:
                await self.send(Press(self.button("A:", ":0")))  # the first option
            elif question.kind is QuestionKind.YESNO:
                await self.send(Press(self.button("A:", ":no")))
            elif question.kind is QuestionKind.MULTI:
                await self.send(Press(self.button("T:")))
                await self.send(Press(self.button("D:")))
            elif question.kind is QuestionKind.NUMBER:
                await self.send(Text(str(question.min or 0)))
            elif question.kind is QuestionKind.YEAR:
                await self.send(Text("2021"))
            elif question.kind is QuestionKind.DATE:
                await self.send(Text("15/03/2021"))
            else:
                await self.send(Text(typed))
        await self.send(Press(self.button("R:")))
        (new,) = (await _case_ids(self.services)) - before
        return new


async def _case_ids(services: Services) -> set[str]:
    async with services.db.conn.execute("SELECT id FROM cases WHERE status <> 'draft'") as cur:
        return {str(row[0]) async for row in cur}


async def submit(services: Services, clock: Clock, typed: str = "x") -> str:
    return await Person(services, 700_000_000 + secrets.randbelow(10**8)).submit(typed)


async def set_state(
    services: Services, case_id: str, status: str, at: int, assignee: str | None = None
) -> None:
    async with services.db.transaction() as conn:
        await store.set_state(
            conn, case_id, status=status, assignee=assignee, pending_approval_by=None, now=at
        )


async def add_coordinator(services: Services) -> str:
    """A team member row; retention only needs someone to hold a case."""
    coordinator_id = secrets.token_hex(16)
    async with services.db.transaction() as conn:
        await store.add_coordinator(
            conn,
            id=coordinator_id,
            handle="C-" + secrets.token_hex(2).upper(),
            pseudonym=secrets.token_bytes(32),
            chat=secrets.token_bytes(40),
            role="coordinator",
            public_key=secrets.token_bytes(32),
            protected_private_key=secrets.token_bytes(80),
            now=T0,
        )
    return coordinator_id


async def _draft_of(services: Services, person: Person) -> Draft | None:
    """The person's form under way, opened with the key their phone holds."""
    assert person.key is not None
    key = ChatKey.from_token(person.key)
    assert key is not None
    name = key.row_name(person.user_id)
    raw = await chat_store.read_state(services.db.conn, name, now=int(services.intake.clock()))
    if raw is None:
        return None
    return ChatState.load(key.open(raw, row=name, field=STATE_FIELD)).draft


async def _rows(services: Services) -> int:
    return await chat_store.count_states(services.db.conn)


async def exists(services: Services, case_id: str) -> bool:
    return await case_store.get_case(services.db.conn, case_id) is not None


def database_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.glob("bot.sqlite3*")))


RETENTION = """
[retention]
submitted_days = 4
rejected_days = 3
handed_off_days = 5
closed_days = 2
outbox_hours = 24
"""


async def test_a_draft_idle_past_its_ttl_goes_and_a_fresh_one_stays(tmp_path: Path) -> None:
    clock = Clock()
    async with services_at(tmp_path, clock, "[intake]\ndraft_ttl_hours = 24\n") as services:
        old, fresh = Person(services, 711_111_111), Person(services, 722_222_222)
        await old.begin()
        clock.now = T0 + 20 * HOUR
        await fresh.begin()
        clock.now = T0 + 24 * HOUR + 60
        # Past its idle time, the form is gone for its owner: a tap on its question is stale.
        stale = await old.send(Press(old.button("A:")))
        assert stale.replies == () and stale.toast == services.catalog.text("en", "stale_button")
        assert await _draft_of(services, fresh) is not None
        # The purge, which cannot read a row, goes by its expiry: the old one goes, the
        # fresh form's stays.
        clock.now = T0 + 30 * HOUR
        report = await purge_once(services)
        assert report.drafts == 1
        assert await _rows(services) == 1
        assert await _draft_of(services, fresh) is not None


async def test_each_state_is_shredded_after_its_own_retention(tmp_path: Path) -> None:
    clock = Clock()
    async with services_at(tmp_path, clock, RETENTION) as services:
        holder = await add_coordinator(services)
        now = T0 + 30 * DAY + 5 * HOUR  # mid-morning: the audit keeps only the day
        days = {"submitted": 4, "claimed": 4, "rejected": 3, "closed": 2, "approved": 5}
        days["handed_off"] = 5
        gone: dict[str, str] = {}
        kept: dict[str, str] = {}
        for status, n in days.items():
            assignee = holder if status == "claimed" else None
            # The day of the last change counts whole: the retention runs from its end.
            for bucket, at in ((gone, now - (n + 1) * DAY + HOUR), (kept, now - n * DAY + HOUR)):
                case_id = await submit(services, clock)
                await set_state(services, case_id, status, at, assignee)
                bucket[status] = case_id
        codes = {}
        for case_id in gone.values():
            row = await case_store.get_case(services.db.conn, case_id)
            assert row is not None and row.code is not None
            codes[case_id] = row.code

        report = await purge_once(services, now=now)

        assert report.cases == len(gone)
        for status in days:
            assert not await exists(services, gone[status]), status
            assert await exists(services, kept[status]), status
        conn = services.db.conn
        for table in ("case_fields", "case_dropbox", "case_keys"):
            marks = ",".join("?" * len(gone))
            query = f"SELECT count(*) FROM {table} WHERE case_id IN ({marks})"  # noqa: S608
            async with conn.execute(query, tuple(gone.values())) as cur:
                assert (await cur.fetchone()) == (0,), table
        shredded = [e for e in await store.audit_entries(conn) if e[3] == "shredded"]
        assert sorted(e[4] for e in shredded if e[4]) == sorted(codes.values())
        assert all(e[2] == "system" and e[1] == T0 + 30 * DAY for e in shredded)
        chain = await services.coordination.verify_audit()
        assert chain.ok, chain.problem


async def test_old_outbox_rows_and_stale_invites_are_pruned(tmp_path: Path) -> None:
    clock = Clock()
    async with services_at(tmp_path, clock, RETENTION) as services:
        for at in (T0 + 7 * DAY - 30 * HOUR, T0 + 7 * DAY - 2 * HOUR):
            clock.now = at
            async with services.db.transaction() as conn:
                await services.outbox.put(conn, GROUP_CHAT_ID, OutMessage(f"at {at}"))
        clock.now = T0
        await services.coordination.create_invite("coordinator")  # expires long before the purge
        clock.now = T0 + 7 * DAY
        await services.coordination.create_invite("lead")
        clock.now = T0 + 7 * DAY + 60

        report = await purge_once(services)

        assert (report.outbox, report.invites) == (1, 1)
        rows = await store.due_messages(services.db.conn, now=T0 + 30 * DAY)
        bodies = [
            services.vault.open_local(r.body, purpose="outbox", context=f"body:{r.id}")
            for r in rows
        ]
        assert [OutMessage.load(b).text for b in bodies] == [f"at {T0 + 7 * DAY - 2 * HOUR}"]
        async with services.db.conn.execute("SELECT role FROM invites") as cur:
            assert [tuple(r) async for r in cur] == [("lead",)]


async def _warnings(services: Services, group: int = GROUP_CHAT_ID) -> list[str]:
    texts = []
    for row in await store.due_messages(services.db.conn, now=T0 + 365 * DAY, limit=500):
        chat = services.vault.open_local(row.chat, purpose="outbox", context=f"chat:{row.id}")
        body = OutMessage.load(
            services.vault.open_local(row.body, purpose="outbox", context=f"body:{row.id}")
        )
        if "shredded" in body.text:
            assert int(chat) == group
            texts.append(body.text)
    return texts


async def test_an_expiry_warning_goes_to_the_group_of_the_team_holding_the_case(
    tmp_path: Path,
) -> None:
    """With teams, a team sees only its own notices: the warning too."""
    team_group = -1_002_000_000_001
    teams = f"""
[[coordination.teams]]
name = "north"
default = true
group_chat_id = {team_group}
"""
    clock = Clock()
    async with services_at(tmp_path, clock, teams + RETENTION) as services:
        holder = await add_coordinator(services)
        held = await submit(services, clock)
        await set_state(services, held, "claimed", T0, holder)
        assert await warn_expiring(services, now=T0 + 5 * DAY - 40 * HOUR) == 1
        assert len(await _warnings(services, group=team_group)) == 1


async def test_a_held_case_about_to_expire_is_warned_once_per_deadline(tmp_path: Path) -> None:
    clock = Clock()
    async with services_at(tmp_path, clock, RETENTION) as services:
        holder = await add_coordinator(services)
        held = await submit(services, clock)
        unheld = await submit(services, clock)
        await set_state(services, held, "claimed", T0, holder)
        await set_state(services, unheld, "submitted", T0 + 2 * DAY)
        row = await case_store.get_case(services.db.conn, held)
        assert row is not None and row.code is not None
        deadline = T0 + 5 * DAY  # 4 days from the end of the day it was claimed

        assert await warn_expiring(services, now=deadline - 49 * HOUR) == 0
        assert await warn_expiring(services, now=deadline + 2 * DAY - HOUR) == 0  # not held
        assert await warn_expiring(services, now=deadline - 40 * HOUR) == 1
        assert await warn_expiring(services, now=deadline - 30 * HOUR) == 0
        assert await _warnings(services) == [
            f"Case {row.code} will be shredded in 40 h unless it moves on."
        ]

        moved = T0 + 4 * DAY  # the case moves on: a new deadline, worth a new warning
        await set_state(services, held, "approved", moved, holder)
        assert await warn_expiring(services, now=moved + 6 * DAY - 2 * HOUR) == 1
        assert len(await _warnings(services)) == 2
        report = await purge_once(services, now=moved + 6 * DAY)
        assert report.cases == 2
        assert not await exists(services, held)
        assert not await exists(services, unheld)  # unwarned, as no one holds it


async def test_shredded_ciphertext_leaves_neither_the_file_nor_the_wal(tmp_path: Path) -> None:
    clock = Clock()
    async with services_at(tmp_path, clock, RETENTION) as services:
        victim = await submit(services, clock, typed=CANARY)
        survivor = await submit(services, clock)
        await set_state(services, victim, "rejected", T0)
        await set_state(services, survivor, "rejected", T0 + 2 * DAY)
        fields = await case_store.read_fields(services.db.conn, victim)
        blobs = sorted(fields.values(), key=len, reverse=True)[:3]
        assert all(len(b) >= 28 for b in blobs)
        on_disk = database_bytes(tmp_path)
        assert all(b in on_disk for b in blobs), "the test must see the ciphertext first"

        report = await purge_once(services, now=T0 + 4 * DAY + 60)

        assert report.cases == 1 and report.checkpointed
        assert await exists(services, survivor)
        wal = tmp_path / "bot.sqlite3-wal"
        assert not wal.exists() or wal.stat().st_size == 0
        on_disk = database_bytes(tmp_path)
        assert on_disk, "the database files were read"
        leaked = [b.hex()[:16] for b in blobs if b in on_disk]
        assert leaked == []
        assert CANARY.encode() not in on_disk


@pytest.mark.parametrize("status", ["draft"])
def test_drafts_have_no_case_retention(status: str) -> None:
    from bot.config import RetentionConfig
    from bot.ops.retention import retention_seconds

    assert retention_seconds(RetentionConfig(), status) is None
    assert retention_seconds(RetentionConfig(), "approved") == 30 * DAY
