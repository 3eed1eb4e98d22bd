"""A crash loop over the coordinators' work: `python -m bot run` is killed with SIGKILL while two
coordinators enrol, unlock, claim, read, ask, note, approve, hand off and reject, and is restarted
on the same SQLite file and master key each time.

Three applicants submit first (with no kills: submissions under kills are test_crash_loop's
job). Then a lead and a coordinator enrol from invites printed by `python -m bot invite` and work
the three cases one message at a time, with two-person approval on. After a seeded share of the
messages the process is killed 0-250 ms later and started again, so a failure replays with the
same seed. Argon2 runs at the config's default cost, so a kill can land while a passphrase is
checked, as it can in production. Two crash windows are also hit on purpose every run: a restart
between the applicant's tap on Reply and their typed answer, and a kill while the bot checks a
passphrase. An action counts as acknowledged once the sender saw the bot's answer; after every
answer the database must hold exactly what the answered actions wrote (state, holder, first
approver, sealed copies, audit entries), and no case is ever half sealed (its key under the
master key and sealed to coordinators at once, or neither).

What a person does when no answer came, and why the audit counts follow from it (read off
``bot/services/coordination.py``):

* ``/claim``, ``/approve``, ``/reject``, ``/handoff`` are sent again as they are. The state table
  refuses a second move with a line naming the state ("Case K7QX is handed off; it cannot be
  handed off"), and a first approver's repeat is refused ("You approved this case already");
  both
  refusals come before any write, so each such action has exactly one audit entry. Some are
  also repeated on purpose after their answer, as by someone unsure it went through, and on case
  C each decision is sent twice while the bot is down, as an impatient person does: both copies
  reach the restarted bot together, and exactly one may take effect, the other must be refused.
* ``/reassign``, ``/grant``, ``/show`` and the passphrase after ``/unlock`` legitimately act again
  when repeated (another "reassigned" entry and notice, a "granted" entry that seals nothing new,
  another "shown" or "unlocked" entry), so their entries are bounded: at least one per answered
  command, at most one per command sent.
* ``/note`` and ``/ask`` would add a second entry, and so would a second answer from the
  applicant, so nobody repeats them blindly: the coordinator first reads the case with
  ``/show``; the applicant taps Reply again, and a closed relay answers with the stale-button
  note. Exactly one of each.
* ``/enroll`` only checks the invite; the enrolment spends it. The passphrase prompts (the
  passphrase, then the same again) live only in memory, so after a kill in between the
  coordinator starts again (here with a fresh invite, as a cautious operator would print).
  Whether a lost answer hid a finished enrolment, the coordinator learns with ``/help``.

Messages that must reach someone (group notices, the relayed question, the answer notice, the
assignment notice, the applicant's next step or refusal) are queued in the transaction that
writes their audit entry, so one must arrive per entry. Exactly once cannot hold across a
SIGKILL that lands after Telegram accepted a message and before its outbox row is deleted (the
Bot API has no idempotency key), so a second copy is allowed only when a kill lies between the
two copies. Case views leave the chat later, so each one still showing must be scheduled for
deletion, unless a kill came right after it was sent (the same window). At the end the chain
verifies with `python -m bot verify-audit`, the file passes integrity_check, the outbox is empty,
and every note, question, answer, decision and next step is in its case exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import re
import sqlite3
import string
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from itertools import pairwise
from pathlib import Path

from bot.config import DEFAULT_VETTING_STEPS
from bot.coordination.access import PERMISSIONS
from bot.crypto import MasterKey, Vault, open_case_dropbox, unlock
from bot.devserver import DevServer
from bot.devserver.settle import settle
from bot.i18n import CoordinatorCatalog
from bot.store import cases as case_store
from bot.store import coordination as coord_store
from tests.conftest import GROUP_CHAT_ID, RECOVERY_PRIVATE, Applicant, write_config
from tests.coordinator_driver import REQUIRED_STEPS
from tests.databases import opened
from tests.intake_driver import CATALOG
from tests.resting import QUIET
from tests.test_cli import _bot, _env
from tests.test_crash_loop import APPLICANTS, BotProcess, _act, _state

SEED = 20_250_604
KILLS = 22
KILL_CHANCE = 0.5
KEY_KILL_CHANCE = 0.2  # for /unlock and the passphrase, which every restart makes necessary
KILL_DELAY = 0.25
LEAD = 630_000_100
SECOND = 630_000_101
PASSPHRASES = {LEAD: "river lantern copper seven", SECOND: "quiet harbour maple ninety"}
MAX_TRIES = 8
# Argon2 at the cost of the config's defaults (about 0.15 s on one core), so that a kill can
# land while a passphrase is being checked, as it can in production.
ARGON2 = ("argon2_memory_kib = 65536", "argon2_iterations = 3")
CHECKING = 0.05  # how long after the bot took a passphrase it is killed, still checking it
Effect = Callable[[], None]
Needles = str | tuple[str, ...]
TEAM = CoordinatorCatalog()  # the coordinators enrol from apps with no language: English


def team(key: str, /, **params: object) -> str:
    return TEAM.text("en", key, **params)


def head(key: str, /, **params: object) -> str:
    """A text up to its first value not given, for answers whose values the test cannot know."""
    template = TEAM.text("en", key)
    names = {name for _, name, _, _ in string.Formatter().parse(template) if name}
    plain = re.sub(r"\{(\w+):[^}]*\}", r"{\1}", template)  # {x:digits} is the catalogue's own
    return plain.format(**{n: params.get(n, "\0") for n in names}).split("\0")[0]


def refused(code: str, state: str, action: str) -> str:
    """The state table's refusal of a move, as a coordinator reads it."""
    return team(
        "illegal",
        code=code,
        state=team(f"state_{state}"),
        done=team(f"done_{action}"),
        next=team(f"next_{state}", code=code),
    )


def claimed_already(code: str) -> tuple[str, ...]:
    """A holder who claims again is told so; either wording is clear."""
    return (refused(code, "claimed", "claim"), team("already_yours", code=code))


LOCKED = team("denied_locked")  # how a bot restarted since the last /unlock answers
# Messages the outbox sends on its own; they are not answers to the command just sent.
NOTICES = ("New case ", "needs a second coordinator", "the applicant answered", "was assigned")
# Audit actions each answered command writes exactly once; the rest are bounded (see above).
EXACT = {
    "invited",
    "submitted",
    "enrolled",
    "sealed",
    "claimed",
    "approval_pending",
    "approved",
    "handed_off",
    "rejected",
    "noted",
    "asked",
    "answered",
    "checked",
}
BOUNDED = {"shown", "unlocked", "granted", "imported", "reassigned"}


@dataclass(frozen=True)
class Answer:
    kind: str  # "ok", "done" (it had happened already), "locked", "none" or "other"
    texts: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n".join(self.texts)


@dataclass(frozen=True)
class CaseState:
    """A case as the database must hold it: state, holder, first approver, sealed copies."""

    status: str = "submitted"
    assignee: str | None = None
    pending: str | None = None
    copies: int = 0


def _needles(given: Needles) -> tuple[str, ...]:
    return (given,) if isinstance(given, str) else given


class CrashLoop:
    """The bot process, its seeded killer, and what the people in the chats have seen."""

    def __init__(self, server: DevServer, bot: BotProcess, config: Path) -> None:
        self.server, self.bot, self.config = server, bot, config
        self.env = bot.env
        self.db_path = config.parent / "bot.sqlite3"
        self.rng = random.Random(SEED)
        self.kills = self.epoch = 0
        self.marks: list[dict[int, int]] = []  # per kill: the last message id of each chat
        self.chats: set[int] = {GROUP_CHAT_ID, LEAD, SECOND, *APPLICANTS}
        self.unlocked: dict[int, int] = {}  # coordinator -> epoch their key was unlocked in
        self.handles: dict[int, str] = {}
        self.cases: dict[str, CaseState] = {}
        self.landed: Counter[tuple[str, str | None]] = Counter()  # audit entries answered for
        self.tried: Counter[tuple[str, str | None]] = Counter()  # commands that could write one
        self.secrets: list[tuple[int, int]] = []  # passphrase messages: (chat, message id)

    # --- the process -------------------------------------------------------------------------

    async def down(self) -> None:
        self.bot.kill()
        self.kills += 1
        self.epoch += 1
        mark = {}
        for chat in self.chats:
            ids = [m.message_id for m in await self.server.messages(chat, include_deleted=True)]
            mark[chat] = max(ids, default=0)
        self.marks.append(mark)

    async def up(self) -> None:
        """Start the bot and wait until it polls: it logs bot_started then."""
        log = Path(self.bot.log.name)
        before = log.read_bytes().count(b"bot_started")
        self.bot.start()
        for _ in range(1500):
            if log.read_bytes().count(b"bot_started") > before:
                return
            await asyncio.sleep(0.02)
        raise AssertionError("the restarted bot did not start polling")

    async def maybe_kill(self, chance: float = KILL_CHANCE) -> bool:
        if self.kills < KILLS and self.rng.random() < chance:
            await asyncio.sleep(self.rng.uniform(0.0, KILL_DELAY))
            await self.down()
            await self.up()
            return True
        return False

    # --- one message and what came back ------------------------------------------------------

    async def send(self, who: int, text: str, chat: int | None = None) -> int:
        if chat is None:
            sent = await self.server.send_text(who, text, first_name="Coord")
        else:
            sent = await self.server.send_group_text(chat, who, text, chat_type="supergroup")
        return int(sent["message_id"])

    async def answers(self, chat: int, after: int) -> list[str]:
        return [
            m.text or ""
            for m in await self.server.messages(chat, include_deleted=True)
            if m.from_bot and m.message_id > after and not any(n in (m.text or "") for n in NOTICES)
        ]

    async def answered(self, chat: int, after: int, count: int = 1) -> None:
        """Wait for answers, not for quiet: checking a passphrase takes a while."""

        async def enough() -> bool:
            return len(await self.answers(chat, after)) >= count

        await self.server.wait_for(enough, timeout=30.0)

    async def say(
        self,
        who: int,
        text: str,
        ok: Iterable[str],
        done: Iterable[str] = (),
        *,
        chat: int | None = None,
        secret: bool = False,
        kill_chance: float = KILL_CHANCE,
    ) -> Answer:
        """Send one message; the bot may be killed on the way; read what came back."""
        sent = await self.send(who, text, chat)
        if secret:
            self.secrets.append((who, sent))
        if not await self.maybe_kill(kill_chance):
            await self.answered(chat or who, sent)  # every message gets an answer
        await settle(self.server, quiet=QUIET, timeout=30.0)
        texts = tuple(await self.answers(chat or who, sent))
        for kind, needles in (("done", done), ("ok", ok), ("locked", (LOCKED,))):
            if any(n in t for n in needles for t in texts):
                return Answer(kind, texts)
        return Answer("other" if texts else "none", texts)

    async def act(
        self,
        who: int,
        text: str,
        ok: str,
        done: Needles = (),
        *,
        audit: tuple[str, str | None] | None = None,
        effect: Effect | None = None,
        chat: int | None = None,
        needs_key: bool = False,
        again: bool = False,
    ) -> Answer:
        """Send until the bot answers; ``effect`` is what the database must show from then on.

        With ``again``, send once more after that answer, as someone unsure it went through,
        and expect the clear refusal ``done`` and no change. A command the access table says
        needs an unlocked key is sent only with one, as its holder would after a restart.
        """
        rule = PERMISSIONS.get(text.split()[0].lstrip("/"))
        needs_key = needs_key or (rule is not None and rule.needs_unlock)
        for _ in range(MAX_TRIES):
            if needs_key and self.unlocked.get(who) != self.epoch:
                await self.unlock(who)
            answer = await self.say(who, text, (ok,), _needles(done), chat=chat)
            if audit is not None:
                self.tried[audit] += 1
            if answer.kind == "locked":
                self.unlocked.pop(who, None)  # the restarted bot forgot the key
            if answer.kind in ("none", "locked"):
                continue
            assert answer.kind != "other", f"{text.split()[0]}: unclear answer {answer.texts}"
            await self.landed_with(audit, effect)
            break
        else:
            raise AssertionError(f"{text.split()[0]} never went through")
        for _ in range(MAX_TRIES if again else 0):
            if needs_key and self.unlocked.get(who) != self.epoch:
                await self.unlock(who)
            repeat = await self.say(who, text, (ok,), _needles(done), chat=chat)
            if audit is not None:
                self.tried[audit] += 1
            if repeat.kind not in ("none", "locked"):
                assert repeat.kind == "done", f"{text.split()[0]} repeated: {repeat.texts}"
                await self.check()
                break
        else:
            assert not again, f"{text.split()[0]} repeated: never answered"
        return answer

    async def landed_with(
        self, audit: tuple[str, str | None] | None, effect: Effect | None = None
    ) -> None:
        if audit is not None:
            self.landed[audit] += 1
        if effect is not None:
            effect()
        await self.check()

    async def twice_while_down(
        self,
        who: int,
        text: str,
        ok: str,
        done: Needles,
        *,
        audit: tuple[str, str | None],
        effect: Effect,
    ) -> None:
        """The bot does not answer, so the person sends again: both wait for the restart.

        The restarted bot holds no key, so a command that needs one is refused both times as
        locked and changes nothing; its holder unlocks and sends it again, and once more as
        someone unsure it went through."""
        await self.down()
        first = await self.send(who, text)
        await self.send(who, text)
        self.tried[audit] += 2
        await self.up()
        await self.answered(who, first, count=2)
        await settle(self.server, quiet=QUIET, timeout=30.0)
        texts = await self.answers(who, first)
        rule = PERMISSIONS.get(text.split()[0].lstrip("/"))
        if rule is not None and rule.needs_unlock:
            assert texts == [LOCKED, LOCKED], f"{text.split()[0]} sent twice while down: {texts}"
            self.unlocked.pop(who, None)
            await self.act(who, text, ok, done, audit=audit, effect=effect, again=True)
            return
        refused = _needles(done)
        took = (sum(ok in t for t in texts), sum(any(n in t for n in refused) for t in texts))
        assert took == (1, 1), f"{text.split()[0]} sent twice while down: {texts}"
        await self.landed_with(audit, effect)

    # --- keys: enrolment and unlocking ---------------------------------------------------------

    async def invite(self, role: str) -> str:
        printed = await asyncio.to_thread(
            _bot, "invite", "--role", role, "--config", str(self.config), env=self.env
        )
        assert printed.returncode == 0, printed.stderr
        self.landed[("invited", None)] += 1
        return printed.stdout.split()[1]

    async def enrol(self, who: int, role: str) -> str:
        for _ in range(MAX_TRIES):
            code = await self.invite(role)
            started = await self.say(who, f"/enroll {code}", (team("enroll_welcome"),))
            if started.kind != "ok":
                continue  # no answer: ask the operator for another invite
            again = await self.say(
                who,
                PASSPHRASES[who],
                (team("enroll_again"),),
                secret=True,
                kill_chance=KEY_KILL_CHANCE,
            )
            if again.kind != "ok":
                continue  # the prompt for the second one died with the bot: start again
            finished = await self.say(
                who,
                PASSPHRASES[who],
                (f"enrolled as {role}",),
                secret=True,
                kill_chance=KEY_KILL_CHANCE,
            )
            found = re.search(r"enrolled as \w+ (C-\w{4})", finished.text)
            handle = found.group(1) if found else await self.whoami(who)
            if handle is not None:
                self.handles[who] = handle
                self.landed[("enrolled", None)] += 1
                if len(self.handles) == 1:  # the operator grants the waiting cases, offline
                    await self.grant_offline(handle)
                    for case_code, state in self.cases.items():
                        self.cases[case_code] = replace(state, copies=1)
                await self.check()
                return handle
        raise AssertionError("enrolment never went through")

    async def grant_offline(self, handle: str) -> None:
        """Cases sent before anyone enrolled are sealed to the recovery key alone: a backup goes
        to the offline machine, and the grants come back, while the bot runs (and may die)."""
        folder = self.config.parent
        key = folder / "recovery.key"
        key.write_text(RECOVERY_PRIVATE, encoding="utf-8")
        copy, grants = folder / f"grant-{handle}.sqlite3", folder / f"grant-{handle}.json"
        for step in (
            ("backup", str(copy), "--config", str(self.config)),
            (
                "recover",
                "grant",
                handle,
                "--key",
                str(key),
                "--database",
                str(copy),
                "--out",
                str(grants),
            ),
            ("import-grants", str(grants), "--config", str(self.config)),
        ):
            done = await asyncio.to_thread(_bot, *step, env=self.env)
            assert done.returncode == 0, done.stderr
        self.tried[("imported", None)] += 1  # the import is audited, once it went through
        self.landed[("imported", None)] += 1

    async def whoami(self, who: int) -> str | None:
        """After an unanswered passphrase: /help tells a coordinator from anyone else."""
        for _ in range(MAX_TRIES):
            answer = await self.say(who, "/help", (head("help_header"),))
            if answer.kind == "ok":
                found = re.search(r"You are \w+ (C-\w{4})", answer.text)
                assert found is not None, answer.texts
                return found.group(1)
            if answer.kind == "other":
                return None  # the applicant's help: not enrolled
        raise AssertionError("/help never answered")

    async def unlock(self, who: int, *, kill_while_checking: bool = False) -> None:
        for _ in range(MAX_TRIES):
            chance = 0.0 if kill_while_checking else KEY_KILL_CHANCE
            asked = await self.say(who, "/unlock", (team("unlock_ask"),), kill_chance=chance)
            if asked.kind != "ok":
                continue
            if kill_while_checking:
                kill_while_checking = False
                await self.kill_while_checking(who)
                continue
            epoch = self.epoch
            unlocked = await self.say(
                who, PASSPHRASES[who], (head("unlocked"),), secret=True, kill_chance=KEY_KILL_CHANCE
            )
            self.tried[("unlocked", None)] += 1
            if unlocked.kind == "ok":
                self.landed[("unlocked", None)] += 1
                if epoch == self.epoch:
                    self.unlocked[who] = epoch
                    return
            # A restart forgot the prompt (the passphrase met the applicants' welcome) or the
            # key: start again.
        raise AssertionError("/unlock never went through")

    async def kill_while_checking(self, who: int) -> None:
        """The bot dies while it checks a passphrase (Argon2 takes a while at a real cost):
        the passphrase must not stay in the chat, since nothing will ever delete it later."""
        sent = await self.send(who, PASSPHRASES[who])
        self.secrets.append((who, sent))
        self.tried[("unlocked", None)] += 1

        async def taken() -> bool:
            return await self.server.pending_updates() == 0

        await self.server.wait_for(taken, timeout=10.0)
        await asyncio.sleep(CHECKING)
        assert not await self.answers(who, sent), "checked before the kill: raise the Argon2 cost"
        await self.down()
        await self.up()
        await settle(self.server, quiet=QUIET, timeout=30.0)
        record = await self.server.message(who, sent)
        assert record is not None and record.deleted, (
            "the bot died while checking a passphrase, and the passphrase stays in the chat"
        )

    # --- entries that must not be repeated blindly ---------------------------------------------

    async def entry(self, who: int, code: str, kind: str, text: str) -> None:
        """/note or /ask; with no answer, the coordinator reads the case before sending again."""
        ok = team("note_saved" if kind == "note" else "ask_sent", code=code)
        verb = "note" if kind == "note" else "asked"
        audit = ("noted" if kind == "note" else "asked", code)
        for _ in range(MAX_TRIES):
            if self.unlocked.get(who) != self.epoch:
                await self.unlock(who)
            answer = await self.say(who, f"/{kind} {code} {text}", (ok,))
            self.tried[audit] += 1
            if answer.kind == "ok":
                break
            assert answer.kind in ("none", "locked"), answer.texts
            if answer.kind == "locked":
                self.unlocked.pop(who, None)
            shown = await self.show(who, code)
            if f"{verb}: {text}" in shown:
                break
        else:
            raise AssertionError(f"/{kind} never went through")
        await self.landed_with(audit)

    async def show(self, who: int, code: str) -> str:
        answer = await self.act(
            who, f"/show {code}", f"Case {code} · ", audit=("shown", code), needs_key=True
        )
        return next(t for t in answer.texts if t.startswith(f"Case {code} · "))

    async def reply(
        self, user: int, code: str, text: str, *, restart_before_typing: bool = False
    ) -> None:
        """The applicant taps Reply under the team's question and types one answer."""
        person = Applicant(self.server, user)
        prompt = CATALOG.text("en", "reply_prompt")
        typed = False
        for _ in range(MAX_TRIES):
            try:
                question = await person.message_with_button(CATALOG.text("en", "reply"))
            except AssertionError:
                raise AssertionError(
                    "the team's question left the applicant's chat unanswered, Reply button and"
                    f" all; the chat shows {await person.bot_texts()}"
                ) from None
            data = next(b["callback_data"] for b in question.buttons if b["callback_data"])
            chat = await self.server.messages(user, include_deleted=True)
            after = max(m.message_id for m in chat)
            query = await self.server.press_button(user, question.message_id, data)
            if not await self.maybe_kill():
                await self.server.wait_for_callback_answer(query, timeout=30.0)
            await settle(self.server, quiet=QUIET, timeout=30.0)
            toasts = [a.text for a in await self.server.callback_answers(query)]
            if any(prompt in t for t in await self.answers(user, after)):
                if restart_before_typing:  # the bot forgets that a reply is awaited
                    restart_before_typing = False
                    await self.down()
                    await self.up()
                answer = await self.say(user, text, (CATALOG.text("en", "reply_thanks"),))
                typed = True
                if answer.kind == "ok":
                    break
            elif CATALOG.text("en", "stale_button") in toasts:
                assert typed, "the relay closed before the applicant answered"
                break  # the relay is closed: an earlier answer went through
        else:
            raise AssertionError("the applicant's answer never went through")
        await self.landed_with(("answered", None))  # entries of applicants' acts name no case

    # --- what the database must hold ------------------------------------------------------------

    def expect(self, code: str, **changes: object) -> None:
        self.cases[code] = replace(self.cases[code], **changes)  # type: ignore[arg-type]

    async def check(self) -> None:
        """After an answer, with the bot at rest: the file holds exactly the answered work."""
        cases, audit = await asyncio.to_thread(_snapshot, self.db_path)
        assert cases == self.cases, f"after {self.kills} kills: {cases} != {self.cases}"
        for key in set(audit) | set(self.landed):
            action = key[0]
            if action in EXACT:
                assert audit[key] == self.landed[key], (key, audit[key], self.landed[key])
            else:
                assert action in BOUNDED, f"unexpected audit entry {key}"
                assert self.landed[key] <= audit[key] <= self.tried[key], (
                    key,
                    self.landed[key],
                    audit[key],
                    self.tried[key],
                )


def _snapshot(db_path: Path) -> tuple[dict[str, CaseState], Counter[tuple[str, str | None]]]:
    with contextlib.closing(sqlite3.connect(db_path, timeout=30.0)) as conn:
        rows = conn.execute(
            "SELECT c.code, c.status, a.handle, p.handle,"
            " c.wrapped_key IS NULL AND c.recovery_key IS NOT NULL,"
            " (SELECT count(*) FROM case_keys AS k WHERE k.case_id = c.id)"
            " FROM cases AS c LEFT JOIN coordinators AS a ON a.id = c.assignee"
            " LEFT JOIN coordinators AS p ON p.id = c.pending_approval_by"
            " WHERE c.status <> 'draft'"
        ).fetchall()
        audit = conn.execute("SELECT action, case_code, count(*) FROM audit_log GROUP BY 1, 2")
        counts = Counter({(str(a), c): int(n) for a, c, n in audit.fetchall()})
    cases = {}
    for code, status, assignee, pending, sealed_away, copies in rows:
        # Never under the master key, always sealed to the recovery key, from the start.
        assert sealed_away, code
        cases[str(code)] = CaseState(status, assignee, pending, int(copies))
    return cases, counts


async def _submit_all(server: DevServer) -> dict[int, str]:
    """The three applicants fill in the form side by side; returns their case codes."""
    people = {user: Applicant(server, user) for user in APPLICANTS}
    state = dict.fromkeys(APPLICANTS, "none")
    for _ in range(100):
        if all(s == "done" for s in state.values()):
            break
        for user, person in people.items():
            if state[user] != "done":
                await _act(server, person, state[user])
        await settle(server, quiet=QUIET, timeout=30.0)
        for user, person in people.items():
            state[user] = _state(await person.visible())
    assert all(s == "done" for s in state.values()), state
    codes = {}
    for user, person in people.items():
        receipt = next(t for t in await person.bot_texts() if "receipt code: " in t)
        codes[user] = receipt.split("receipt code: ")[1].split("-")[0]
    return codes


async def _vet(loop: CrashLoop, who: int, code: str) -> None:
    """The steps approval waits for, each recorded once; the first sent again, as someone
    unsure it went through, is told it is checked already."""
    for n, step in enumerate(REQUIRED_STEPS, start=1):
        await loop.act(
            who,
            f"/check {code} {step}",
            team("checked", code=code, step=step, done=n, total=len(DEFAULT_VETTING_STEPS)),
            team("check_already", code=code, step=step),
            audit=("checked", code),
            again=n == 1,
        )


async def _work_the_cases(loop: CrashLoop, codes: dict[int, str]) -> dict[str, dict[str, str]]:
    """The coordinators' side of all three cases; returns what each case must contain."""
    a, b, c = (codes[user] for user in APPLICANTS)
    lead = await loop.enrol(LEAD, "lead")
    second = await loop.enrol(SECOND, "coordinator")
    await loop.act(LEAD, "/queue", team("queue_header"), chat=GROUP_CHAT_ID)

    def sealed_to_both() -> None:
        for code in (a, b, c):
            loop.expect(code, copies=2)

    grant = f"/grant {second}"
    await loop.act(
        LEAD,
        grant,
        head("granted", handle=second),
        audit=("granted", None),
        effect=sealed_to_both,
        needs_key=True,
    )

    # Case A: the lead vets it, asks, reads the answer, approves; the coordinator confirms.
    await loop.act(
        LEAD,
        f"/claim {a}",
        team("claimed", code=a),
        claimed_already(a),
        audit=("claimed", a),
        effect=lambda: loop.expect(a, status="claimed", assignee=lead),
        again=True,
    )
    await loop.show(LEAD, a)
    await loop.entry(LEAD, a, "ask", f"Which town are you near, {a}?")
    await loop.reply(APPLICANTS[0], a, f"Near Monywa, {a}", restart_before_typing=True)
    assert f"applicant answered: Near Monywa, {a}" in await loop.show(LEAD, a)
    await loop.entry(LEAD, a, "note", f"Story is consistent, {a}")
    await _vet(loop, LEAD, a)
    await loop.act(
        LEAD,
        f"/approve {a}",
        team("approval_recorded", code=a),
        team("approve_twice", code=a),
        audit=("approval_pending", a),
        effect=lambda: loop.expect(a, pending=lead),
        again=True,
    )
    await loop.act(
        SECOND,
        f"/approve {a}",
        team("approved", code=a),
        refused(a, "approved", "approve"),
        audit=("approved", a),
        effect=lambda: loop.expect(a, status="approved", pending=None),
        again=True,
    )
    await loop.act(
        LEAD,
        f"/handoff {a} A volunteer will call you on Friday, {a}.",
        head("handed_off", code=a),
        refused(a, "handed_off", "handoff"),
        audit=("handed_off", a),
        effect=lambda: loop.expect(a, status="handed_off"),
        needs_key=True,
        again=True,
    )

    # Case B: claimed in the group, given to the coordinator, who reads it and turns it down.
    await loop.act(
        LEAD,
        f"/claim {b}",
        team("claimed", code=b),
        claimed_already(b),
        audit=("claimed", b),
        effect=lambda: loop.expect(b, status="claimed", assignee=lead),
        chat=GROUP_CHAT_ID,
    )
    await loop.act(
        LEAD,
        f"/reassign {b} {second}",
        team("reassigned", code=b, handle=second),
        audit=("reassigned", b),
        effect=lambda: loop.expect(b, assignee=second),
    )
    await loop.unlock(SECOND, kill_while_checking=True)
    await loop.show(SECOND, b)
    await loop.entry(SECOND, b, "note", f"Unit and dates do not match, {b}")
    await loop.act(
        SECOND,
        f"/reject {b} Story does not hold together, {b}",
        team("rejected", code=b),
        refused(b, "rejected", "reject"),
        audit=("rejected", b),
        effect=lambda: loop.expect(b, status="rejected"),
        needs_key=True,
        again=True,
    )

    # Case C: each decision sent twice while the bot is down, then handed off.
    await loop.twice_while_down(
        SECOND,
        f"/claim {c}",
        team("claimed", code=c),
        claimed_already(c),
        audit=("claimed", c),
        effect=lambda: loop.expect(c, status="claimed", assignee=second),
    )
    await _vet(loop, SECOND, c)
    await loop.twice_while_down(
        SECOND,
        f"/approve {c}",
        team("approval_recorded", code=c),
        team("approve_twice", code=c),
        audit=("approval_pending", c),
        effect=lambda: loop.expect(c, pending=second),
    )
    await loop.twice_while_down(
        LEAD,
        f"/approve {c}",
        team("approved", code=c),
        refused(c, "approved", "approve"),
        audit=("approved", c),
        effect=lambda: loop.expect(c, status="approved", pending=None),
    )
    await loop.act(
        SECOND,
        f"/handoff {c} Someone will meet you at the market, {c}.",
        head("handed_off", code=c),
        refused(c, "handed_off", "handoff"),
        audit=("handed_off", c),
        effect=lambda: loop.expect(c, status="handed_off"),
        needs_key=True,
    )
    return {
        a: {
            "ask": f"Which town are you near, {a}?",
            "note": f"Story is consistent, {a}",
            "inbox": f"Near Monywa, {a}",
            "handoff": f"A volunteer will call you on Friday, {a}.",
        },
        b: {
            "note": f"Unit and dates do not match, {b}",
            "decision": f"Story does not hold together, {b}",
        },
        c: {"handoff": f"Someone will meet you at the market, {c}."},
    }


async def _contents(
    db_path: Path, master_key: MasterKey, lead: str
) -> tuple[dict[str, dict[str, list[str]]], set[tuple[int, int]]]:
    """Every case opened with the lead's passphrase (notes, questions, answers, decisions,
    next steps), and the messages still to be deleted from coordinators' chats."""
    async with opened(db_path) as db:
        conn = db.conn
        [row] = [r for r in await coord_store.active_coordinators(conn) if r.handle == lead]
        key = unlock(row.protected_private_key, PASSPHRASES[LEAD])
        found: dict[str, dict[str, list[str]]] = {}
        async with conn.execute("SELECT id, code FROM cases WHERE status <> 'draft'") as cur:
            rows = list(await cur.fetchall())
        for case_id, code in rows:
            sealed = await coord_store.case_key_for(conn, case_id, row.id)
            assert sealed is not None
            case_key = key.open_case_key(sealed, case_id=case_id)
            items: dict[str, list[str]] = {}
            for name, blob in (await case_store.read_fields(conn, case_id)).items():
                kind = name.split(":", 1)[0]
                if kind in ("note", "ask", "decision", "handoff"):
                    plain = case_key.decrypt(blob, case_id=case_id, field=name)
                    items.setdefault(kind, []).append(json.loads(plain)["text"])
            dropbox = await coord_store.get_dropbox(conn, case_id)
            assert dropbox is not None
            private = open_case_dropbox(case_key, dropbox[1], case_id=case_id)
            for _id, blob, _at in await coord_store.inbox(conn, case_id):
                data = json.loads(private.open_sealed(blob, context=case_id))
                items.setdefault("inbox", []).append(data["text"])
            found[str(code)] = items
        async with conn.execute("SELECT count(*) FROM outbox") as cur:
            assert await cur.fetchone() == (0,), "an outbox message was never sent"
        vault = Vault(master_key)
        async with conn.execute("SELECT chat, message_id FROM scheduled_deletions") as cur:
            scheduled = {
                (int(vault.open_local(chat, purpose="deletion", context="chat")), int(message))
                for chat, message in await cur.fetchall()
            }
        async with conn.execute("PRAGMA integrity_check") as cur:
            assert await cur.fetchall() == [("ok",)]
        return found, scheduled


async def _views_leave(loop: CrashLoop, scheduled: set[tuple[int, int]]) -> int:
    """Each case view still showing waits to be deleted, unless the bot was killed right after
    sending it; returns how many of those will never be deleted."""
    stranded = 0
    for chat in (LEAD, SECOND):
        for message in await loop.server.messages(chat):
            if not (message.from_bot and message.protect_content):
                continue
            if (chat, message.message_id) in scheduled:
                continue
            assert any(mark[chat] == message.message_id for mark in loop.marks), (
                f"a case view in a coordinator's chat will never be deleted: {message.text!r}"
            )
            stranded += 1
    return stranded


async def _delivered_once(
    loop: CrashLoop, codes: dict[int, str], texts: dict[str, dict[str, str]]
) -> int:
    """One delivered message per audit entry that queued it; returns the extra copies.

    A second copy is allowed only when a kill lies between the two copies: the process that
    sent the first died before it could delete the outbox row.
    """
    a, b, c = (codes[user] for user in APPLICANTS)
    _, audit = await asyncio.to_thread(_snapshot, loop.db_path)
    expected = [
        *((GROUP_CHAT_ID, f"New case {code}", ("submitted", code)) for code in (a, b, c)),
        *(
            (GROUP_CHAT_ID, f"Case {code} needs a second", ("approval_pending", code))
            for code in (a, c)
        ),
        (APPLICANTS[0], texts[a]["ask"], ("asked", a)),
        (LEAD, team("answered", code=a), ("answered", a)),
        (SECOND, team("assigned_to_you", code=b), ("reassigned", b)),
        (APPLICANTS[1], CATALOG.text("en", "decision_rejected"), ("rejected", b)),
        (APPLICANTS[0], texts[a]["handoff"], ("handed_off", a)),
        (APPLICANTS[2], texts[c]["handoff"], ("handed_off", c)),
    ]
    # Submissions and answers are audited without a code (their order would line up with the
    # applicants' activity): one entry each, counted as a whole.
    assert audit[("submitted", None)] == 3 and audit[("answered", None)] == 1
    audit.update({("submitted", code): 1 for code in (a, b, c)} | {("answered", a): 1})
    extra = 0
    for chat, needle, key in expected:
        copies = [
            m.message_id
            for m in await loop.server.messages(chat, include_deleted=True)
            if m.from_bot and needle in (m.text or "")
        ]
        assert len(copies) >= audit[key] >= 1, f"{key}: {len(copies)} sent, {audit[key]} queued"
        same_process = sum(
            not any(first <= mark[chat] < then for mark in loop.marks)
            for first, then in pairwise(copies)
        )
        assert same_process <= audit[key] - 1, f"{key} sent twice by one process: {copies}"
        extra += len(copies) - audit[key]
    return extra


async def test_sigkill_during_coordinator_actions_loses_and_doubles_nothing(
    tmp_path: Path,
) -> None:
    master_key = MasterKey.generate()
    async with DevServer() as server:
        two_person = "two_person_approval = true"
        config = write_config(tmp_path, server.base_url, coordination_extra=two_person)
        text = config.read_text(encoding="utf-8")
        assert all(cost in text for cost in ARGON2)  # the deployed cost: a slow check to crash in
        env = _env(BOT_TOKEN=server.token, BOT_MASTER_KEY=master_key.to_text())
        with (tmp_path / "bot.log").open("wb") as log:
            bot = BotProcess(config, env, log)
            loop = CrashLoop(server, bot, config)
            bot.start()
            try:
                await server.send_group_text(GROUP_CHAT_ID, LEAD, "hi", chat_type="supergroup")
                codes = await _submit_all(server)
                for case_code in codes.values():
                    loop.cases[case_code] = CaseState()
                    loop.landed[("submitted", None)] += 1  # entries name no case
                await loop.check()
                texts = await _work_the_cases(loop, codes)
                await settle(server, quiet=QUIET, timeout=30.0)
            finally:
                exit_code = await asyncio.to_thread(bot.stop)  # the server must answer meanwhile
        assert exit_code == 0, (tmp_path / "bot.log").read_text(errors="replace")[-2000:]
        assert loop.kills >= 20, loop.kills
        await loop.check()

        found, scheduled = await _contents(loop.db_path, master_key, loop.handles[LEAD])
        for case_code, wanted in texts.items():
            assert found[case_code] == {k: [v] for k, v in wanted.items()}, case_code
        extra = await _delivered_once(loop, codes, texts)
        stranded = await _views_leave(loop, scheduled)
        leaked = 0
        for chat, message_id in loop.secrets:
            record = await server.message(chat, message_id)
            leaked += record is not None and not record.deleted
        print(
            f"coordination crash loop: kills={loop.kills} extra_copies={extra} "
            f"stranded_views={stranded} passphrases_left={leaked}/{len(loop.secrets)}"
        )

    audit = await asyncio.to_thread(_bot, "verify-audit", "--config", str(config), env=env)
    assert audit.returncode == 0, audit.stdout + audit.stderr
    with contextlib.suppress(OSError):
        (tmp_path / "bot.log").unlink()
