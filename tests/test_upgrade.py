"""Upgrading a database made by each earlier release: no case lost, no old weakness kept.

The databases under ``tests/releases/<commit>/`` were written by that release's own code
(``tests/releases/build.py``). Each is started under this release as an operator would: the
same master key, the organisation's recovery key now in the config. Then every case must open
for its holders and with the recovery key (after a holder's unlock where only coordinators'
copies existed), no stored time may be finer than this release's grid, and the audit chain,
with a head posted before the upgrade, must still verify.

The half-filled form of an earlier release goes on under a chat key at its owner's next
message, and its old rows go from every file.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from bot.config import load_config
from bot.crypto import (
    CaseKey,
    ChatKey,
    CryptoError,
    MasterKey,
    Vault,
    WrongPassphrase,
    load_recovery_key,
    unlock,
)
from bot.i18n import LANGUAGES, Catalog
from bot.intake.events import Command
from bot.intake.questionnaire import load_questionnaire
from bot.ops.health import check_health
from bot.ops.recovery import RecoveryError, show_case
from bot.ops.rotation import verify_audit_log
from bot.ops.upgrade import upgrade
from bot.runtime import Services, open_services
from bot.services.chats import STATE_FIELD, ChatState
from bot.store import chats as chat_store
from bot.store import upgrade as upgrade_store
from tests.conftest import RECOVERY_PRIVATE, Configure, write_config
from tests.coordinator_driver import Coordinator
from tests.test_retention import Clock, Person

RELEASES = Path(__file__).parent / "releases"
RELEASE_DIRS = sorted(p for p in RELEASES.iterdir() if (p / "facts.json").is_file())
TOKEN = "123456789:" + "A" * 35
LATER = 1_790_400_000 + 3_333  # some days after the fixtures were made, mid-hour

# Every time this release keeps beside a case, a coordinator or a message, with its grid.
GRIDDED = (
    ("cases", "created_at", 86_400, "status <> 'draft'"),
    ("cases", "updated_at", 86_400, "status <> 'draft'"),
    ("cases", "submitted_at", 86_400, "status <> 'draft'"),
    ("coordinators", "created_at", 86_400, "1"),
    ("case_inbox", "created_at", 86_400, "1"),
    ("relays", "created_at", 86_400, "1"),
    ("outbox", "created_at", 3_600, "1"),
)


def _facts(release: Path) -> dict[str, dict[str, object]]:
    data: dict[str, dict[str, object]] = json.loads((release / "facts.json").read_text("utf-8"))
    return data


def _audit_rows(database: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(database) as conn:
        return conn.execute(
            "SELECT seq, at, actor, action, case_code, hash FROM audit_log"
        ).fetchall()


def _old_key(database: Path, code: str, passphrase: str) -> CaseKey:
    """The case key as the earlier release left it, from the copy of the holder whose
    passphrase this is."""
    with sqlite3.connect(database) as conn:
        copies = conn.execute(
            "SELECT c.id, k.sealed_key, p.protected_private_key FROM cases c"
            " JOIN case_keys k ON k.case_id = c.id JOIN coordinators p ON p.id = k.coordinator_id"
            " WHERE c.code = ?",
            (code,),
        ).fetchall()
    for case_id, sealed, protected in copies:
        with contextlib.suppress(WrongPassphrase):
            holder = unlock(bytes(protected), passphrase)
            return holder.open_case_key(bytes(sealed), case_id=case_id)
    raise AssertionError(f"no copy of {code} opens with that passphrase")


def _opens_any_field(database: Path, code: str, key: CaseKey) -> bool:
    with sqlite3.connect(database) as conn:
        rows = conn.execute(
            "SELECT f.case_id, f.name, f.value FROM case_fields f JOIN cases c ON c.id = f.case_id"
            " WHERE c.code = ?",
            (code,),
        ).fetchall()
    assert rows
    opened = 0
    for case_id, name, value in rows:
        with contextlib.suppress(CryptoError):
            key.decrypt(bytes(value), case_id=case_id, field=name)
            opened += 1
    return opened > 0


def _off_grid(database: Path) -> list[tuple[str, str, int]]:
    found = []
    with sqlite3.connect(database) as conn:
        for table, column, grid, where in GRIDDED:
            for (value,) in conn.execute(
                f"SELECT {column} FROM {table} WHERE {column} IS NOT NULL AND ({where})"  # noqa: S608
            ):
                if int(value) % grid:
                    found.append((table, column, int(value)))
    return found


@asynccontextmanager
async def _started(folder: Path, master_key: str, clock: Clock) -> AsyncIterator[Services]:
    """This release started on the old database, as ``python -m bot run`` starts it."""
    path = write_config(folder, "http://127.0.0.1:9/bot")
    config = load_config(path, {"BOT_TOKEN": TOKEN, "BOT_MASTER_KEY": master_key})
    async with open_services(config, clock=clock) as services:
        yield services


def _copy(release: Path, name: str, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    database = folder / "bot.sqlite3"
    shutil.copyfile(release / name, database)
    return database


@pytest.fixture(params=RELEASE_DIRS, ids=lambda p: p.name)
def release(request: pytest.FixtureRequest) -> Path:
    """Each earlier release's folder: a test using it runs once per release."""
    return Path(request.param)


Old = tuple[dict[str, object], Path]


@pytest.fixture
def coordinated(release: Path, tmp_path: Path) -> Old:
    """What is known of the release's coordinated database, and a copy of it to upgrade."""
    return _facts(release)["coordinated"], _copy(release, "coordinated.sqlite3", tmp_path)


def _holder(services: Services, facts: dict[str, object], who: str) -> Coordinator:
    """A coordinator enrolled under the old release, with the passphrase they chose then."""
    person = facts[who]
    assert isinstance(person, dict)
    return Coordinator(services, int(person["user"]), str(person["passphrase"]))


async def _recovered(database: Path, code: str) -> str:
    questionnaire = load_questionnaire(None, languages=list(LANGUAGES))
    return await show_case(
        database,
        load_recovery_key(RECOVERY_PRIVATE),
        code,
        questionnaire=questionnaire,
        catalog=Catalog(LANGUAGES),
    )


async def test_an_upgraded_database_loses_no_case_and_keeps_no_old_weakness(
    tmp_path: Path, coordinated: Old
) -> None:
    facts, database = coordinated
    old_audit = _audit_rows(database)
    posted_head = (int(str(old_audit[-1][0])), str(old_audit[-1][5]))  # in the group, before
    assert _off_grid(database), "the fixture should hold times to the second"
    held, waiting = str(facts["held"]), str(facts["waiting"])
    member_facts = facts["member"]
    assert isinstance(member_facts, dict)
    # The key the old release kept: under the master key while the form was filled in, so
    # every backup of those days holds it.
    old_keys = {
        code: _old_key(database, code, str(member_facts["passphrase"])) for code in (held, waiting)
    }
    assert all(_opens_any_field(database, code, key) for code, key in old_keys.items())
    clock = Clock(LATER)

    async with _started(tmp_path, str(facts["master_key"]), clock) as services:
        # At start: nothing finer than the grid, and the cases wait for a holder's unlock.
        assert _off_grid(database) == []
        assert await upgrade_store.without_recovery_copy(services.db.conn) == 2
        with pytest.raises(RecoveryError, match="no copy for the recovery key"):
            await _recovered(database, held)

        lead, member = _holder(services, facts, "lead"), _holder(services, facts, "member")
        await lead.unlock()  # the holder's unlock makes the recovery copies
        assert await upgrade_store.without_recovery_copy(services.db.conn) == 0

        shown = await lead.say(f"/show {held}")
        assert str(facts["note"]) in shown and str(facts["answer"]) in shown
        assert str(facts["answer"]) in await lead.say(f"/show {waiting}")
        await member.unlock()
        await member.say(f"/claim {waiting}")
        assert str(facts["answer"]) in await member.say(f"/show {waiting}")

        report = await verify_audit_log(
            services.db.conn, [MasterKey.from_text(str(facts["master_key"]))], posted=[posted_head]
        )
        assert report.ok, report.problem
        assert report.heads == 1

    # The old entries verify because they are as they were written (see bot.ops.upgrade).
    assert _audit_rows(database)[: len(old_audit)] == old_audit
    new_entries = _audit_rows(database)[len(old_audit) :]
    assert new_entries and all(int(str(row[1])) % 86_400 == 0 for row in new_entries)
    assert _off_grid(database) == []
    for code in (held, waiting):
        assert str(facts["answer"]) in await _recovered(database, code)
        # Moved to a fresh key at the holder's unlock: the old key opens none of it.
        assert not _opens_any_field(database, code, old_keys[code])
    assert str(facts["note"]) in await _recovered(database, held)


async def test_a_case_left_under_the_master_key_is_sealed_to_the_recovery_key_at_start(
    tmp_path: Path, release: Path
) -> None:
    facts = _facts(release)["unattended"]
    database = _copy(release, "unattended.sqlite3", tmp_path)
    vault = Vault(MasterKey.from_text(str(facts["master_key"])))
    with sqlite3.connect(database) as conn:
        case_id, wrapped = conn.execute(
            "SELECT id, wrapped_key FROM cases WHERE code = ?", (str(facts["case"]),)
        ).fetchone()
    old_key = vault.unwrap_case_key(bytes(wrapped), case_id=case_id)
    async with _started(tmp_path, str(facts["master_key"]), Clock(LATER)) as services:
        assert await upgrade_store.without_recovery_copy(services.db.conn) == 0
    with sqlite3.connect(database) as conn:
        left = conn.execute(
            "SELECT count(*) FROM cases WHERE status <> 'draft' AND wrapped_key IS NOT NULL"
        ).fetchone()
    assert left == (0,)
    assert _off_grid(database) == []
    assert str(facts["answer"]) in await _recovered(database, str(facts["case"]))
    # The master key held the old key, as does every backup: the case moved to a fresh one.
    assert not _opens_any_field(database, str(facts["case"]), old_key)


async def test_health_counts_the_cases_still_waiting_for_a_recovery_copy(
    tmp_path: Path, coordinated: Old
) -> None:
    facts, _ = coordinated
    clock = Clock(LATER)
    async with _started(tmp_path, str(facts["master_key"]), clock) as services:
        config = services.config
        first = await services.coordination.verify_audit()
        assert first.ok
    report = await check_health(config, now=LATER)
    assert any(line.startswith("warning: 2 case(s) have no copy") for line in report.lines)

    async with _started(tmp_path, str(facts["master_key"]), clock) as services:
        await _holder(services, facts, "lead").unlock()
    report = await check_health(config, now=LATER)
    assert "ok: every case has a copy for the recovery key" in report.lines


async def test_a_second_start_finds_nothing_left_to_upgrade(
    tmp_path: Path, coordinated: Old
) -> None:
    facts, _ = coordinated
    async with _started(tmp_path, str(facts["master_key"]), Clock(LATER)) as services:
        again = await upgrade(
            services.db,
            services.vault,
            recovery_public_key=services.config.security.recovery_public_key,
        )
    assert (again.sealed, again.removed, again.moved, again.waiting) == (0, 0, 0, 2)


async def test_the_log_tells_the_operator_how_many_cases_still_wait(
    tmp_path: Path, coordinated: Old, configure: Configure
) -> None:
    facts, _ = coordinated
    stream = configure()
    async with _started(tmp_path, str(facts["master_key"]), Clock(LATER)) as services:
        await _holder(services, facts, "lead").unlock()
    events = {e["event"]: e for e in map(json.loads, stream.getvalue().splitlines())}
    assert events["recovery_copies_waiting"]["count"] == 2
    assert "unlocks" in events["recovery_copies_waiting"]["hint"]
    assert events["recovery_copies_made"]["count"] == 2
    assert events["recovery_copies_made"]["remaining"] == 0
    assert events["database_upgraded"]["moved"] > 0


async def test_the_half_filled_form_goes_on_under_a_chat_key_and_leaves_nothing_behind(
    tmp_path: Path, coordinated: Old
) -> None:
    """The earlier release kept a form under way under a pseudonym of the account id, which a
    seizer with the master key can test a list of ids against. Its owner's next message moves
    it under a new chat key, and the old rows go from every file."""
    facts, database = coordinated
    user = int(str(facts["half_filled_user"]))
    master = str(facts["master_key"])
    pseudonym = Vault(MasterKey.from_text(master)).pseudonym(user)
    assert pseudonym in database.read_bytes()  # the old release's weakness, for the teeth
    async with _started(tmp_path, master, Clock(LATER)) as services:
        person = Person(services, user)
        welcome = await person.send(Command("start"))
        assert welcome.replies[0].text == services.catalog.text("en", "welcome_back")
        key = ChatKey.from_token(person.key or "")
        assert key is not None
        name = key.row_name(user)
        raw = await chat_store.read_state(services.db.conn, name, now=int(services.intake.clock()))
        assert raw is not None
        draft = ChatState.load(key.open(raw, row=name, field=STATE_FIELD)).draft
        assert draft is not None and services.intake.questionnaire.first in draft.answers
    with sqlite3.connect(database) as conn:
        assert conn.execute("SELECT count(*) FROM cases WHERE status = 'draft'").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM chat_traces").fetchone() == (0,)
    files = b"".join(p.read_bytes() for p in database.parent.glob("bot.sqlite3*"))
    assert pseudonym not in files
