"""The seizure suite: someone takes the server, master key included, at every stage of a flow.

The real bot runs against the local Bot API server through a whole working life: a case sent
before any coordinator enrolled, a lead who enrols and unlocks, an applicant who finishes, one
who stops half-way, one who finishes and blocks the bot, and every coordinator action. At each
stage the database files are pulled byte for byte while the bot runs (main, WAL, shared memory:
what pulling the plug leaves) and a backup is made with ``backup_database``. Then, holding every
copy, the config and the master key, the attacker (``tests/seizure.py``) tries every
master-derived key on every blob, every case key so recovered on every field, every guessed
Telegram id against every row, blob and time, and greps every file for what the applicants typed.

What must hold (DESIGN.md, "Keys"): no field of a submitted case and no answer of a form under
way opens, and no opened plaintext holds an applicant's words, chat id or verification phrase;
no account that used the bot, in any way, can be told apart from one that never did; no
Telegram id is linked to a submitted case; no canary is in the raw bytes of any file.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.crypto import (
    ChatKey,
    CryptoError,
    MasterKey,
    UnlockedKey,
    Vault,
    load_recovery_key,
    open_case_dropbox,
    unlock,
)
from bot.devserver import DevServer, MessageRecord
from bot.devserver.settle import settle
from bot.store import Database
from bot.transport import carried
from tests import seizure
from tests import test_e2e_teams as teams
from tests.conftest import (
    GROUP_CHAT_ID,
    RECOVERY_PRIVATE,
    Applicant,
    RunningBot,
    running_bot,
    wait_for_text,
)
from tests.coordinator_driver import REQUIRED_STEPS
from tests.intake_driver import CATALOG, answer_all, answer_one, begin, default_questionnaire
from tests.resting import rest

# Ids above 2**32, as Telegram gives now: no 4-byte packing can match them by chance.
EARLY = 5_912_345_601  # sends a case before any coordinator exists
FINISHER = 5_912_345_602  # finishes, is asked a question and answers, is handed off
DRAFTER = 5_912_345_603  # stops half-way: the draft stays
BLOCKER = 5_912_345_604  # finishes, then blocks the bot before the team's question reaches them
KEEPER = 5_912_345_606  # finishes and keeps the receipt
ERASER = 5_912_345_607  # finishes and clears the chat
DELETER = 5_912_345_608  # stops half-way and deletes everything
FLOODER = 5_912_345_609  # floods past the limit half-way through the form
NEW_PHONE = 5_912_345_611  # the keeper, on a new account after the old phone was lost
LEAD = 5_912_345_700
DECOYS = (5_912_345_600, 5_912_345_605, 5_912_345_610, 6_000_000_123, 777_000, 424_242_424)
APPLICANTS = (EARLY, FINISHER, DRAFTER, BLOCKER, KEEPER, ERASER, DELETER, FLOODER, NEW_PHONE)
FLOOD = 45
PASSPHRASE = "harbour lantern copper eleven"


@dataclass
class Person:
    """An applicant, what they typed, and what the bot told them."""

    uid: int
    name: str
    typed: list[str] = field(default_factory=list)  # typed into the form
    later: list[str] = field(default_factory=list)  # written into the case after it was sent
    code: str | None = None
    receipt: str | None = None
    phrase: str | None = None
    sent_at_stage: int | None = None  # the first stage whose copies come after the submission

    @property
    def submitted(self) -> bool:
        return self.code is not None


@dataclass(repr=False)
class Haul:
    """Everything the seizer holds at the end."""

    master_key: MasterKey
    config_text: str
    copies: list[seizure.Copy]
    people: dict[int, Person]
    window: tuple[int, int]

    def __repr__(self) -> str:
        return f"Haul({len(self.copies)} copies)"


PEOPLE_TEXT = {
    EARLY: ("Ko Early Canary3kq", "EarlyNote canary Pyay 7x2w"),
    FINISHER: ("Ma Finisher Canary8rt", "ဥက္ကာပျံ FinisherNote canary 4hd9"),
    DRAFTER: ("Drafter Canary2mz", None),
    BLOCKER: ("Blocker Canary6vv", "BlockerNote canary 1pq0"),
    KEEPER: ("Keeper Canary4kk", "KeeperNote canary 2kk5"),
    ERASER: ("Eraser Canary9ee", "EraserNote canary 3ee8"),
    DELETER: ("Deleter Canary5dd", None),
    FLOODER: ("Flooder Canary7ff", None),
}
ANSWER = "Near Monywa AnswerCanary5tt"
NOTE = "NoteCanary story holds 9ee"
STEP_NOTE = "StepNoteCanary spoke 20 min, knew the base 6sn"
UNCHECK_REASON = "UncheckCanary the wrong person answered 8uc"
ASK_FINISHER = "Which town AskCanary2bb?"
ASK_BLOCKER = "Still safe AskCanary7nn?"
HANDOFF = "Friday evening HandoffCanary3cc"
REJECT = "Does not hold RejectCanary8dd"
ASK_NEW_PHONE = "Are you safe now AskCanary4mm?"
CHECKIN_HOURS = 3


# --- driving the bot ----------------------------------------------------------------------------


async def _form_until_notes(person: Applicant, who: Person) -> None:
    call_name, _ = PEOPLE_TEXT[who.uid]
    await begin(person)
    await answer_all(person, "en", {"call_name": call_name}, stop_before="notes")
    who.typed.append(call_name)


async def _notes(person: Applicant, who: Person) -> None:
    _, notes = PEOPLE_TEXT[who.uid]
    assert notes is not None
    await answer_one(person, default_questionnaire(), "notes", "en", notes)
    who.typed.append(notes)
    assert "Send" in {b["text"] for m in await person.visible() for b in m.buttons}


async def _send(person: Applicant, who: Person) -> None:
    await person.tap("Send")
    receipt = next(m.text or "" for m in await person.visible() if "receipt code" in (m.text or ""))
    who.receipt = receipt.split("receipt code: ")[1].split()[0]
    who.code = who.receipt.split("-")[0]
    who.phrase = receipt.split("they will first say: ")[1].splitlines()[0].strip()


async def _enrol_and_unlock(bot: RunningBot) -> Applicant:
    lead = Applicant(bot.server, LEAD)
    invite = await bot.runtime.coordination.create_invite("lead")
    await lead.send(f"/enroll {invite}")
    assert "Choose a passphrase" in await lead.last_text()
    await lead.send(PASSPHRASE)
    await lead.send(PASSPHRASE)  # typed twice at enrolment
    assert "You are enrolled" in await lead.last_text()
    await lead.send("/unlock")
    await lead.send(PASSPHRASE)
    assert (await lead.last_text()).startswith("Unlocked.")
    return lead


async def _refused_delivery(server: DevServer, chat: int) -> None:
    """Until the bot has tried to send to ``chat`` and Telegram refused (a blocked bot)."""

    async def refused() -> bool:
        calls = await server.api_calls("sendMessage")
        return any(str(c.params.get("chat_id")) == str(chat) and not c.ok for c in calls)

    await server.wait_for(refused, timeout=15.0)
    await rest(server)


class Stages:
    """Takes both copies at each named stage and keeps them in order."""

    def __init__(self, db: Database, folder: Path) -> None:
        self.db, self.folder = db, folder
        self.copies: list[seizure.Copy] = []
        self.names: list[str] = []

    async def take(self, name: str) -> int:
        stage = len(self.names)
        self.names.append(name)
        self.copies += await seizure.seize(self.db, self.folder, stage, name)
        return stage


async def _whole_life(folder: Path) -> Haul:
    master_key = MasterKey.generate()
    names = (
        "early",
        "finisher",
        "drafter",
        "blocker",
        "keeper",
        "eraser",
        "deleter",
        "flooder",
        "keeper's new phone",
    )
    people = {uid: Person(uid, name) for uid, name in zip(APPLICANTS, names, strict=True)}
    early, finisher, drafter, blocker, keeper, eraser, deleter, flooder, _ = (
        people[uid] for uid in APPLICANTS
    )
    advanced = 0
    started = int(time.time())
    async with DevServer() as server, running_bot(server, folder / "live", master_key) as bot:
        (folder / "backups").mkdir()
        stages = Stages(bot.runtime.db, folder / "backups")
        await server.send_group_text(GROUP_CHAT_ID, LEAD, "hello", chat_type="supergroup")

        # A case sent before any coordinator is enrolled.
        phone = Applicant(server, EARLY)
        await _form_until_notes(phone, early)
        await stages.take("early applicant mid-draft")
        await _notes(phone, early)
        await stages.take("early applicant at the review")
        await _send(phone, early)
        early.sent_at_stage = await stages.take("early case sent, no coordinator yet")
        await wait_for_text(server, GROUP_CHAT_ID, f"New case {early.code}")

        lead = await _enrol_and_unlock(bot)
        await stages.take("lead enrolled and unlocked")

        phone = Applicant(server, FINISHER)
        await _form_until_notes(phone, finisher)
        await stages.take("finisher mid-draft")
        await _notes(phone, finisher)
        await stages.take("finisher at the review")
        await _send(phone, finisher)
        finisher.sent_at_stage = await stages.take("finisher's case just sent")

        await _form_until_notes(Applicant(server, DRAFTER), drafter)  # and never comes back

        phone = Applicant(server, BLOCKER)
        await _form_until_notes(phone, blocker)
        await _notes(phone, blocker)
        await _send(phone, blocker)
        await server.block_bot(BLOCKER)
        blocker.sent_at_stage = await stages.take("blocker's case sent, bot blocked")

        for who, choice in ((keeper, "wipe_keep"), (eraser, "wipe_now")):
            phone = Applicant(server, who.uid)
            await _form_until_notes(phone, who)
            await _notes(phone, who)
            await _send(phone, who)
            await phone.tap(CATALOG.text("en", choice))
        keeper.sent_at_stage = eraser.sent_at_stage = await stages.take(
            "receipt kept, chat cleared"
        )

        phone = Applicant(server, DELETER)
        await _form_until_notes(phone, deleter)
        await stages.take("deleter mid-draft")
        await phone.send("/delete")
        await phone.tap(CATALOG.text("en", "delete_yes"))
        assert await phone.visible() == []

        phone = Applicant(server, FLOODER)
        await _form_until_notes(phone, flooder)
        for n in range(FLOOD):  # faster than anyone reads: most are never read
            await server.send_text(FLOODER, f"hello {n} FloodCanary", first_name="T")
        flooder.typed.append("FloodCanary")
        await settle(server, quiet=0.3)
        await stages.take("after a form deleted and a flood")

        code = finisher.code
        await lead.send(f"/claim {code}")
        assert f"Case {code} is yours" in await lead.last_text()
        await lead.send(f"/show {code}")
        assert PEOPLE_TEXT[FINISHER][0] in await lead.last_text()
        await lead.send(f"/note {code} {NOTE}")
        await lead.send(f"/ask {code} {ASK_FINISHER}")
        assert "Question sent" in await lead.last_text()
        finisher.later += [NOTE, ASK_FINISHER]
        await wait_for_text(server, FINISHER, ASK_FINISHER)
        phone = Applicant(server, FINISHER)
        await phone.tap(CATALOG.text("en", "reply"))
        await phone.send(ANSWER)
        assert await phone.last_text() == CATALOG.text("en", "reply_thanks")
        finisher.later.append(ANSWER)
        await wait_for_text(server, LEAD, "the applicant answered")
        await lead.send(f"/show {code}")
        assert ANSWER in await lead.last_text()
        await stages.take("after the question and its answer")

        await lead.send(f"/claim {blocker.code}")
        await lead.send(f"/ask {blocker.code} {ASK_BLOCKER}")
        assert "Question sent" in await lead.last_text()
        blocker.later.append(ASK_BLOCKER)
        await _refused_delivery(server, BLOCKER)
        await stages.take("after a question to the applicant who blocked the bot")

        # The vetting steps, one with a note, one taken back with a reason and checked again.
        for step in REQUIRED_STEPS:
            await lead.send(f"/check {code} {step} {STEP_NOTE}")
            assert f"Step {step} checked on {code}" in await lead.last_text()
        await lead.send(f"/uncheck {code} {REQUIRED_STEPS[0]} {UNCHECK_REASON}")
        assert "taken back" in await lead.last_text()
        await lead.send(f"/check {code} {REQUIRED_STEPS[0]} {STEP_NOTE}")
        finisher.later += [STEP_NOTE, UNCHECK_REASON]
        await lead.send(f"/approve {code}")
        assert "is approved" in await lead.last_text()
        await lead.send(f"/handoff {code} {HANDOFF}")
        finisher.later.append(HANDOFF)
        await wait_for_text(server, LEAD, "is handed off")
        await wait_for_text(server, FINISHER, HANDOFF)
        await stages.take("after the handoff")

        # Check-ins on the road: armed, one sent and answered "not safe".
        await lead.send(f"/checkin {code} {CHECKIN_HOURS}h")
        assert "Check-ins for" in await lead.last_text()
        await stages.take("check-ins armed")
        advanced += await _hours_pass(bot, CHECKIN_HOURS)
        await server.wait_for(lambda: _checkin_on(server, FINISHER), timeout=15.0)
        await Applicant(server, FINISHER).tap(CATALOG.text("en", "checkin_help"))
        await wait_for_text(server, GROUP_CHAT_ID, f"{code}: check-in: needs help")
        await stages.take("after a check-in answered: not safe")
        await lead.send("/unlock")  # hours went by: the key was forgotten
        await lead.send(PASSPHRASE)

        # The keeper lost their phone: their case follows them to a new account.
        assert keeper.receipt is not None
        phone = Applicant(server, NEW_PHONE)
        await phone.send(f"/status {keeper.receipt}")
        await phone.tap(CATALOG.text("en", "account_use"))
        await wait_for_text(server, GROUP_CHAT_ID, f"{keeper.code}: account changed")
        await stages.take("a case moved to a new account")
        await lead.send(f"/claim {keeper.code}")
        await lead.send(f"/ask {keeper.code} {ASK_NEW_PHONE}")
        keeper.later.append(ASK_NEW_PHONE)
        await wait_for_text(server, NEW_PHONE, ASK_NEW_PHONE)
        await stages.take("a question reached the new account")

        # The case sent before anyone enrolled was sealed to the recovery key, not to this lead:
        # they may claim it, and a /show is refused or shown, whichever the design gives.
        await lead.send(f"/claim {early.code}")
        await lead.send(f"/show {early.code}")
        await lead.send(f"/reject {blocker.code} {REJECT}")
        assert "rejected" in await lead.last_text()
        blocker.later.append(REJECT)
        await lead.send(f"/close {code}")
        for command in ("/queue", "/stats", "/audit"):
            await lead.send(command)
        await rest(server)
        await stages.take("the end, bot still running")
        db_path = bot.runtime.db.path
        config_text = (folder / "live" / "config.toml").read_text(encoding="utf-8")
        names = stages.names
        copies = stages.copies
    names.append("after a clean stop")
    copies.append(
        seizure.Copy("files after stop", len(names) - 1, names[-1], seizure.pull_files(db_path))
    )
    ended = int(time.time())
    loaded = seizure.load(copies)
    # Each hot copy's WAL read back commit by commit and frame by frame: its history is taken too.
    history = [h for c in loaded if c.kind == "hot copy" for h in seizure.wal_history(c)]
    window = (started - 60, ended + advanced + 60)
    return Haul(master_key, config_text, loaded + history, people, window)


async def _hours_pass(bot: RunningBot, hours: float) -> int:
    """Hours pass for the coordination side (the check-ins' clock); returns the seconds."""
    seconds = int(hours * 3600)
    coordination = bot.runtime.coordination
    before = coordination.clock
    coordination.clock = lambda: before() + seconds
    coordination.checkins_now.set()
    await rest(bot.server)
    return seconds


async def _checkin_on(server: DevServer, chat: int) -> bool:
    fine = CATALOG.text("en", "checkin_fine")
    return any(any(b["text"] == fine for b in m.buttons) for m in await server.messages(chat))


@pytest.fixture(scope="module")
def haul(tmp_path_factory: pytest.TempPathFactory) -> Haul:
    folder = tmp_path_factory.mktemp("seizure")
    (folder / "live").mkdir()
    return asyncio.run(_whole_life(folder))


# --- the attack ---------------------------------------------------------------------------------


@dataclass(repr=False)
class Attack:
    vault: Vault
    purposes: set[str]
    case_ids: set[str]
    places: dict[bytes, list[seizure.Place]]
    opened: list[seizure.Opened]
    keys: list[seizure.RecoveredKey]

    def __repr__(self) -> str:
        return f"Attack({len(self.opened)} plaintexts, {len(self.keys)} case keys)"


def _attack(haul: Haul) -> Attack:
    vault = Vault(haul.master_key)
    purposes = seizure.purposes_in_source()
    case_ids = seizure.case_ids_seen(haul.copies)
    candidates = (*APPLICANTS, LEAD, *DECOYS)
    extra = {p.hex() for p in seizure.pseudonyms(vault, candidates)} | purposes
    contexts = seizure.contexts_seen(haul.copies, extra)
    places = seizure.blob_places(haul.copies)
    opened, keys = seizure.open_with_master(
        vault, places, case_ids=case_ids, purposes=purposes, contexts=contexts
    )
    opened += seizure.open_with_case_keys(keys, haul.copies, places, case_ids=case_ids)
    return Attack(vault, purposes, case_ids, places, opened, keys)


_ATTACKS: dict[int, Attack] = {}


@pytest.fixture(scope="module")
def attack(haul: Haul) -> Attack:
    if id(haul) not in _ATTACKS:
        _ATTACKS[id(haul)] = _attack(haul)
    return _ATTACKS[id(haul)]


def _report(problems: list[str], limit: int = 40) -> str:
    shown = problems[:limit]
    more = [f"... and {len(problems) - limit} more"] if len(problems) > limit else []
    return "\n  " + "\n  ".join([*shown, *more])


def _plaintext_leaks(item: seizure.Opened, people: dict[int, Person]) -> Iterator[str]:
    """What an opened plaintext gives away about an applicant, judged by content: anything
    they wrote, in a form under way or after it was sent, their chat id, their phrase."""
    for person in people.values():
        words = [w for w in (*person.typed, *person.later) if _holds_text(item.plaintext, w)]
        for word in words:
            where = item.places[0]
            yield f"{person.name}'s words {word!r} via {item.how} from {where.describe()}"
        if seizure.holds_id(item.plaintext, person.uid):
            yield f"{person.name}'s chat id via {item.how} from {item.places[0].describe()}"
        if person.phrase and any(f in item.plaintext for f in seizure.phrase_forms(person.phrase)):
            yield (
                f"{person.name}'s verification phrase via {item.how} "
                f"from {item.places[0].describe()}"
            )


def _holds_text(data: bytes, text: str) -> bool:
    return any(form in data for form in seizure.text_forms(text))


def test_no_case_and_no_form_under_way_opens_with_the_master_key(
    haul: Haul, attack: Attack
) -> None:
    people = haul.people
    # The attack has teeth: what the master key protects by design (each case's triage, for
    # the group's notice) opens, so the key search works.
    assert any(
        p.row.table == "cases" and p.column == "triage" for o in attack.opened for p in o.places
    ), "the attacker could not open a case's triage: the key search is broken"
    drafts = [c for c in haul.copies if any(r.table == "chat_states" for r in c.rows)]
    assert drafts, "no copy holds a chat's state: nothing was attacked"
    found: dict[str, list[str]] = {}  # what opened, how -> the copies it opened in
    for item in attack.opened:
        for place in item.places:
            case_id = place.row.values.get("case_id")
            code = seizure.submitted_in(place.copy, str(case_id)) if case_id else None
            if code is not None and place.row.table == "case_fields":
                field_name = place.row.values.get("name")
                what = f"field {field_name!r} of submitted case {code} opened: {item.how}"
                found.setdefault(what, []).append(place.copy.label)
        for leak in _plaintext_leaks(item, people):
            found.setdefault(leak, [])
    problems = [
        f"{what}, in {len(copies)} copies, first the {sorted(copies)[0]}" if copies else what
        for what, copies in sorted(found.items())
    ]
    replays = sum(1 for c in haul.copies if "WAL" in c.kind)
    print(
        f"seizure: {len(haul.copies)} copies ({replays} of them read back from a WAL's history), "
        f"{len(attack.places)} distinct blobs, "
        f"{len(attack.purposes)} purposes tried, {len(attack.opened)} plaintexts opened "
        f"(triage, waiting messages), {len(attack.keys)} case keys recovered, "
        f"{len(problems)} leaks of a case or a form under way"
    )
    if problems:
        pytest.fail("a seizure opens what was sent:" + _report(problems))


def test_no_telegram_id_is_linked_to_a_submitted_case(haul: Haul, attack: Attack) -> None:
    vault = attack.vault
    submitted = seizure.Submitted.from_copies(haul.copies)
    codes = {p.code for p in haul.people.values() if p.submitted}
    assert codes <= submitted.codes, (codes, submitted.codes)
    # The guesses have teeth: the lead's pseudonym (coordinators stay known) is found.
    lead = vault.pseudonym(LEAD)
    assert any(lead in r.values.values() for c in haul.copies for r in c.rows), (
        "the lead's pseudonym is nowhere: the id guessing is broken"
    )
    links = seizure.find_links(
        vault,
        haul.copies,
        (*APPLICANTS, *DECOYS),
        submitted,
        attack.opened,
        purposes=attack.purposes | seizure.literals_in_source(),
        window=haul.window,
    )
    names = {uid: p.name for uid, p in haul.people.items()}
    problems = [
        f"{names.get(link.user_id, 'decoy')} ({link.user_id}) -> case {link.case}: {link.path}"
        for link in links
    ]
    if problems:
        pytest.fail("a seizure ties a Telegram account to a case:" + _report(problems))


# Where a stored time sits, and the grid it must be on. A time beside a person (a pseudonym, or a
# chat id in an outbox row) dates their activity; a time beside a case or an audit entry dates
# the case. Either, finer than its grid, lines up with the other (or with the order of rows)
# and says whose case is whose; so the rule is checked as the seizer would read it.
_PERSON_GRID, _CASE_GRID = 3600, 86400
_CASE_TIMES = {
    "cases": ("created_at", "updated_at", "submitted_at", "expiry_warned_at"),
    "audit_log": ("at",),
    "relays": ("created_at", "answered_at"),
    "case_inbox": ("created_at",),
}
_PERSON_TIMES = {
    "chat_states": ("expires_at",),
    "chat_traces": ("expires_at",),
    "outbox": ("created_at",),
}


def _fine_times(haul: Haul, attack: Attack) -> Iterator[str]:
    for copy in haul.copies:
        for row in copy.rows:
            is_draft = row.table == "cases" and row.values.get("pseudonym") is not None
            columns = _PERSON_TIMES.get(row.table, ())
            grid = _PERSON_GRID
            if not columns and not is_draft:
                columns, grid = _CASE_TIMES.get(row.table, ()), _CASE_GRID
            elif is_draft:
                columns = ("created_at", "updated_at")
            for column in columns:
                value = row.values.get(column)
                if isinstance(value, int) and value % grid:
                    yield f"{row.table}.{column} = {value} in the {copy.label}"
    for item in attack.opened:  # inside what the master key opens: the chat trace's body
        if any(p.row.table == "chat_traces" for p in item.places) and item.plaintext[:1] == b"{":
            for number in seizure.json_ints(item.plaintext):
                if number > 10**9 and number % _PERSON_GRID:
                    yield f"{number} inside {item.how} from {item.places[0].describe()}"


def test_no_stored_time_is_finer_than_its_grid(haul: Haul, attack: Attack) -> None:
    """Times beside a person are kept to the hour, times beside a case to the day: nothing the
    seizer can line up finer than that, in any copy or inside anything the master key opens."""
    problems = sorted(set(_fine_times(haul, attack)))
    assert not problems, "a time finer than its grid:" + _report(problems)
    # The check sees times at all: drafts, traces and cases were in the copies.
    tables = {row.table for copy in haul.copies for row in copy.rows}
    assert {"cases", "chat_states", "audit_log"} <= tables


def test_no_account_is_told_apart_from_one_that_never_wrote(haul: Haul, attack: Attack) -> None:
    """The seizer holds a list of Telegram ids. For each, every value the server could compute
    from the id and the master key is looked for in every row and every file of every copy (WAL
    readings included), and every plaintext the master key opens is searched for the id. An
    account that used the bot, in any way, must look exactly like one that never did."""
    found = seizure.told_apart(
        attack.vault,
        haul.copies,
        attack.opened,
        (*APPLICANTS, *DECOYS, LEAD),
        purposes=attack.purposes,
        literals=seizure.literals_in_source(),
    )
    # Teeth: the coordinator, whose id stays known by design, is recognised.
    assert LEAD in found, "the lead is not recognised: the search is broken"
    names = {uid: p.name for uid, p in haul.people.items()}
    told = {uid: reasons for uid, reasons in found.items() if uid != LEAD}
    print(
        f"accounts: {len(APPLICANTS)} that used the bot (under way, sent, kept, cleared, "
        f"deleted, flooded, blocked, answered the team) and {len(DECOYS)} that never did, "
        f"{len(haul.copies)} copies: {len(told)} told apart"
    )
    if told:
        problems = [
            f"{names.get(uid, 'decoy')} ({uid}): {reason}"
            for uid, reasons in sorted(told.items())
            for reason in reasons
        ]
        pytest.fail("a seizure tells accounts apart:" + _report(problems))


_OVERHEAD = 1 + 12 + 16  # version byte, nonce, tag


def test_no_stored_length_says_what_was_chosen(haul: Haul) -> None:
    """Without any key a seizer reads lengths, and a WAL keeps every version of a row: a
    field's length would say which option was chosen or how many digits the sender's id has,
    and a chat's row, growing answer by answer, each choice of a form under way. Every field
    seals at a whole number of 256 bytes (every field but free text at exactly one), and every
    chat's row at a whole number of 4,096."""
    q = default_questionnaire()
    typed = {f"answer:{qid}" for qid in q.ids if q.question(qid).kind.value == "text"}
    fields: dict[str, set[int]] = {}
    states: set[int] = set()
    for copy in haul.copies:
        for row in copy.table("case_fields"):
            fields.setdefault(str(row.values["name"]), set()).add(len(row.values["value"]))
        states |= {len(row.values["body"]) for row in copy.table("chat_states")}
    short = {n: ls for n, ls in fields.items() if n.startswith("answer:") and n not in typed}
    short |= {n: fields[n] for n in ("chat_id", "language", "verification_phrase")}
    assert len(short) > 5 and states, "nothing to measure"
    wrong = {n: lengths for n, lengths in short.items() if lengths != {_OVERHEAD + 256}}
    wrong |= {n: ls for n, ls in fields.items() if any((x - _OVERHEAD) % 256 for x in ls)}
    assert not wrong, f"fields whose length tells: {wrong}"
    assert all((x - _OVERHEAD) % 4096 == 0 for x in states), sorted(states)


def test_no_canary_in_the_raw_bytes_of_any_copy(haul: Haul) -> None:
    canaries: dict[str, list[bytes]] = {}
    for person in haul.people.values():
        for word in (*person.typed, *person.later):
            canaries[f"{person.name}'s words {word!r}"] = seizure.text_forms(word)
        canaries[f"{person.name}'s Telegram id"] = seizure.id_forms(person.uid)
        if person.phrase:
            canaries[f"{person.name}'s verification phrase"] = seizure.phrase_forms(person.phrase)
    problems = [
        f"{hit} of the {copy.label}"
        for copy in haul.copies
        for hit in seizure.raw_hits(copy.files, canaries)
    ]
    assert any(name.endswith("-wal") for c in haul.copies for name in c.files)
    if problems:
        pytest.fail("canaries in the raw bytes:" + _report(problems))


def test_the_raw_search_sees_a_plaintext_leak() -> None:
    """The grep itself works: a canary written in the clear is found."""
    blob = b"\x00" + "ဥက္ကာပျံ".encode("utf-16-le") + (5_912_345_601).to_bytes(6, "big")
    canaries = {"burmese": seizure.text_forms("ဥက္ကာပျံ"), "id": seizure.id_forms(5_912_345_601)}
    assert seizure.raw_hits({"f": blob}, canaries) == ["burmese in f", "id in f"]


# --- one backup, mid-draft ----------------------------------------------------------------------


def _chat_key_on_the_phone(messages: list[MessageRecord]) -> ChatKey:
    """What someone holding the phone could read off it: the key a button of the bot carries."""
    for message in messages:
        for data in message.callback_data:
            _, token = carried.split_callback(data)
            key = ChatKey.from_token(token) if token else None
            if key is not None:
                return key
    raise AssertionError("no button on the phone carries the chat's key")


async def test_a_backup_taken_mid_draft_opens_nothing_of_the_draft_or_the_case(
    server: DevServer, tmp_path: Path, master_key: MasterKey
) -> None:
    who = Person(FINISHER, "finisher")
    async with running_bot(server, tmp_path, master_key) as bot:
        await _enrol_and_unlock(bot)
        phone = Applicant(server, FINISHER)
        await _form_until_notes(phone, who)
        [mid] = [
            c
            for c in await seizure.seize(bot.runtime.db, tmp_path, 0, "mid-draft")
            if c.kind == "backup"
        ]
        on_the_phone = _chat_key_on_the_phone(await phone.visible())
        await _notes(phone, who)
        await _send(phone, who)
        db_path = bot.runtime.db.path
        await rest(server)
        now = seizure.Copy("hot copy", 1, "case sent", seizure.pull_files(db_path))
    mid, now = seizure.load([mid, now])
    vault = Vault(master_key)
    case_ids = seizure.case_ids_seen([mid, now])
    opened, keys = seizure.open_with_master(
        vault,
        seizure.blob_places([mid, now]),
        case_ids=case_ids,
        purposes=seizure.purposes_in_source(),
        contexts=seizure.contexts_seen([mid, now]),
    )
    assert not keys, [k.how for k in keys]
    leaks = [o.describe() for o in opened for w in who.typed if _holds_text(o.plaintext, w)]
    assert not leaks, "the master key opens the form under way:" + _report(leaks)
    # Teeth: the form is in that backup, and the key the phone holds opens it.
    name = on_the_phone.row_name(FINISHER)
    [row] = [r for r in mid.table("chat_states") if r.values["name"] == name]
    state = on_the_phone.open(bytes(row.values["body"]), row=name, field="state")
    assert PEOPLE_TEXT[FINISHER][0] in state.decode("utf-8")
    sent = {str(r.values["id"]) for r in now.table("cases") if r.values.get("code")}
    fields = [r for r in now.table("case_fields") if r.values.get("case_id") in sent]
    assert sent and fields, "no case was sent"


# --- the same account in two databases ----------------------------------------------------------


async def test_one_account_in_two_databases_leaves_nothing_another_account_lacks(
    tmp_path: Path,
) -> None:
    """The black-box test of "cannot be told apart": the same account half-way through the
    same form in two fresh databases under one master key, and another account in a third
    (made between them, so a time shared by the two is shared by the third too). Nothing stored
    in both of the first is missing from the third."""
    master_key = MasterKey.generate()

    async def half_way(folder: Path, uid: int) -> list[seizure.Copy]:
        (folder / "copies").mkdir(parents=True)
        async with DevServer() as server, running_bot(server, folder, master_key) as bot:
            phone = Applicant(server, uid)
            await begin(phone)
            await answer_all(phone, "en", {"call_name": "Same Name"}, stop_before="notes")
            taken = await seizure.seize(bot.runtime.db, folder / "copies", 0, "half-way")
        return seizure.load(taken)

    first = await half_way(tmp_path / "first", DRAFTER)
    other = await half_way(tmp_path / "other", DECOYS[0])
    second = await half_way(tmp_path / "second", DRAFTER)
    assert any(r.table == "chat_states" for c in first for r in c.rows)
    common = seizure.stored_values(first) & seizure.stored_values(second)
    telling = common - seizure.stored_values(other)
    assert not telling, (
        f"{len(telling)} stored values name the account: {sorted(map(repr, telling))[:5]}"
    )


# --- teams: a sealed copy only for the routed team ---------------------------------------------


async def test_a_case_is_sealed_only_to_its_team_its_leads_and_the_recovery_key(
    tmp_path: Path,
) -> None:
    """Two teams at work, copies taken at each stage; then the other team's infiltrator, with
    every copy, the master key and their own passphrase, tries every sealed copy of the case and
    its recovery copy. Theirs opens none; the team's member, the lead over every team and the
    recovery key each open one (so the check can fail). After ``/transfer`` the old team's copy
    is gone from every byte of every file, WAL included."""
    taken: list[seizure.Copy] = []
    (tmp_path / "copies").mkdir()

    async def take(bot: RunningBot, stage: str) -> None:
        made = await seizure.seize(bot.runtime.db, tmp_path / "copies", len(taken), stage)
        taken.extend(made)

    async with DevServer() as server:
        lived = await teams.live_two_teams(server, tmp_path, MasterKey.generate(), take)
    recovery = load_recovery_key(RECOVERY_PRIVATE)
    south, north, lead = teams.SOUTH_MEMBER, teams.NORTH_MEMBER, teams.LEAD
    moved_at = {"southern case moved north", "after the audit"}
    keys: dict[tuple[int, bytes], UnlockedKey] = {}
    checked = 0
    for copy in seizure.load(taken):
        cases = {str(r.values["code"]): r for r in copy.table("cases") if r.values["code"]}
        people = {bytes(r.values["pseudonym"]): r for r in copy.table("coordinators")}

        def key_of(user: int, people: dict[bytes, seizure.Row] = people) -> UnlockedKey:
            protected = bytes(people[lived.pseudonyms[user]].values["protected_private_key"])
            if (user, protected) not in keys:
                keys[(user, protected)] = unlock(protected, teams.PASSPHRASES[user])
            return keys[(user, protected)]

        for code in (lived.south_code, lived.north_code):
            if code not in cases:
                continue
            case_id = str(cases[code].values["id"])
            northern = code == lived.north_code or copy.stage_name in moved_at
            member, outsider = (north, south) if northern else (south, north)
            blobs = [
                bytes(r.values["sealed_key"])
                for r in copy.table("case_keys")
                if r.values["case_id"] == case_id
            ]
            blobs.append(bytes(cases[code].values["recovery_key"]))
            for holder in (key_of(member), key_of(lead), recovery):
                assert _opens(holder, blobs, case_id), (copy.label, code)
            assert not _opens(key_of(outsider), blobs, case_id), (copy.label, code)
            checked += 1
        if copy.stage_name in moved_at:
            assert all(lived.south_copy not in data for data in copy.files.values()), copy.label
    _old_key_opens_nothing_after_the_move(taken, lived, key_for_south=keys, moved_at=moved_at)
    assert checked == 14  # 2 copies at the first stage, then both cases at 3 stages x 2 copies
    print(f"\nteams: {len(taken)} copies, {checked} cases tried by 4 keys each, 0 opened by")
    print("the other team's infiltrator")


def _old_key_opens_nothing_after_the_move(
    taken: list[seizure.Copy],
    lived: teams.Lived,
    *,
    key_for_south: dict[tuple[int, bytes], UnlockedKey],
    moved_at: set[str],
) -> None:
    """The southern member kept, from a copy before the move, their sealed copy of the case key
    and so the key itself: after the move nothing of the case opens with it, not the fields,
    not the dropbox, not an answer that came in before or after."""
    [south_key] = [k for (user, _), k in key_for_south.items() if user == teams.SOUTH_MEMBER]
    before = [c for c in taken if c.stage_name not in moved_at]
    after = [c for c in taken if c.stage_name in moved_at]
    [case_id] = {
        str(r.values["id"])
        for c in before
        for r in c.table("cases")
        if r.values["code"] == lived.south_code
    }
    old_key = south_key.open_case_key(lived.south_copy, case_id=case_id)
    old_boxes = []
    opened_before = 0
    for copy in before:
        for row in copy.table("case_fields"):
            if row.values["case_id"] == case_id:
                old_key.decrypt(
                    bytes(row.values["value"]), case_id=case_id, field=str(row.values["name"])
                )
                opened_before += 1
        for row in copy.table("case_dropbox"):
            if row.values["case_id"] == case_id:
                protected = bytes(row.values["protected_private_key"])
                old_boxes.append(open_case_dropbox(old_key, protected, case_id=case_id))
    assert opened_before and old_boxes  # the old key did open the case: the check can fail
    tried = 0
    for copy in after:
        for row in copy.table("case_fields"):
            if row.values["case_id"] != case_id:
                continue
            tried += 1
            with pytest.raises(CryptoError):
                old_key.decrypt(
                    bytes(row.values["value"]), case_id=case_id, field=str(row.values["name"])
                )
        for row in copy.table("case_dropbox"):
            if row.values["case_id"] == case_id:
                with pytest.raises(CryptoError):
                    open_case_dropbox(
                        old_key, bytes(row.values["protected_private_key"]), case_id=case_id
                    )
        for row in copy.table("case_inbox"):
            if row.values["case_id"] != case_id:
                continue
            for box in old_boxes:
                tried += 1
                with pytest.raises(CryptoError):
                    box.open_sealed(bytes(row.values["sealed"]), context=case_id)
    assert tried
    for text in (teams.BEFORE_MOVE, teams.NOTE_AFTER_MOVE, teams.AFTER_MOVE):
        for copy in after:
            assert all(text.encode() not in data for data in copy.files.values()), copy.label


def _opens(key: UnlockedKey, blobs: list[bytes], case_id: str) -> bool:
    for blob in blobs:
        try:
            key.open_case_key(blob, case_id=case_id)
        except CryptoError:
            continue
        return True
    return False


# --- the journey: a case that moved to a new account ---------------------------------------------


def test_the_old_accounts_chat_id_is_gone_from_every_file_once_the_case_moved(haul: Haul) -> None:
    """The case's sealed chat id, as it was before the move, is in no byte of any file taken from
    the move on: not in the main file, not in the WAL (folded away), not in a backup. (Sealed
    under the case key, it would open to whoever later holds a holder's passphrase.)"""
    keeper = haul.people[KEEPER]
    moved = next(c.stage for c in haul.copies if c.stage_name == "a case moved to a new account")
    old_values: set[bytes] = set()
    for copy in haul.copies:
        if copy.stage >= moved:
            continue
        ids = {str(r.values["id"]) for r in copy.table("cases") if r.values["code"] == keeper.code}
        old_values |= {
            bytes(r.values["value"])
            for r in copy.table("case_fields")
            if r.values["case_id"] in ids and r.values["name"] == "chat_id"
        }
    assert old_values, "the keeper's case never held a chat id: nothing to look for"
    after = [c for c in haul.copies if c.stage >= moved]
    assert after
    found = [
        f"{name} of the {copy.label}"
        for copy in after
        for name, data in copy.files.items()
        if any(value in data for value in old_values)
    ]
    assert not found, "the old account's sealed chat id outlived the move:" + _report(found)
