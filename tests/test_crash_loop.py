"""A crash loop: `python -m bot run` is killed with SIGKILL at random moments and restarted.

Three applicants fill in the form, one tap or message at a time. After many of those actions
the bot process is killed without warning (0-300 ms later, seeded, so a failure replays) and a
new one is started on the same SQLite file and master key. An answer counts as committed once
the applicant saw the next question. Afterwards every committed answer must be in the case,
nothing may be half sealed, the audit chain must verify, every group notice must arrive, and
the file must be whole.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path
from typing import IO

import aiosqlite

from bot.crypto import MasterKey, load_recovery_key
from bot.devserver import DevServer, MessageRecord
from bot.devserver.settle import settle
from bot.intake.questionnaire import QuestionKind
from bot.store import cases as store
from tests.conftest import GROUP_CHAT_ID, RECOVERY_PRIVATE, Applicant, write_config
from tests.databases import opened
from tests.intake_driver import CATALOG, default_questionnaire, default_route
from tests.resting import QUIET

ROOT = Path(__file__).resolve().parent.parent
SEED = 20_240_917
KILLS = 22
APPLICANTS = (540_000_001, 540_000_002, 540_000_003)
Q = default_questionnaire()
ROUTE = default_route(Q)
STEPS = ("none", "lang", "consent", *ROUTE, "review", "done")


def _typed(user: int, qid: str) -> str:
    """A distinct typed answer per applicant, so a mixed-up draft would show."""
    n = APPLICANTS.index(user)
    if qid == "years":
        return str(3 + n)
    if qid == "family":
        return str(1 + n)
    return f"applicant{n}-{qid}"


def _expected(user: int, qid: str) -> object:
    question = Q.question(qid)
    if question.kind is QuestionKind.CHOICE:
        return question.options[0].id
    if question.kind is QuestionKind.YESNO:
        return "no"
    if question.kind is QuestionKind.NUMBER:
        return int(_typed(user, qid))
    return _typed(user, qid)


async def _recovery_copy(conn: aiosqlite.Connection, case_id: str) -> bytes:
    async with conn.execute("SELECT recovery_key FROM cases WHERE id = ?", (case_id,)) as cur:
        row = await cur.fetchone()
    assert row is not None and row[0] is not None, "a case not sealed to the recovery key"
    return bytes(row[0])


def _state(messages: list[MessageRecord]) -> str:
    """Where the applicant stands, as the chat on their phone shows it."""
    for message in reversed(messages):
        if not message.from_bot:
            continue
        text = message.text or ""
        if "receipt code" in text:
            return "done"
        if text.startswith("Please check your answers."):
            return "review"
        matches = [qid for qid in ROUTE if CATALOG.localize("en", Q.question(qid).text) in text]
        if matches:
            return max(matches, key=lambda qid: len(CATALOG.localize("en", Q.question(qid).text)))
        labels = {b["text"] for b in message.buttons}
        if "English" in labels:
            return "lang"
        if CATALOG.text("en", "consent_yes") in labels:
            return "consent"
    return "none"


class BotProcess:
    """The operator's `python -m bot run`, which this test kills and restarts."""

    def __init__(self, config: Path, env: dict[str, str], log: IO[bytes]) -> None:
        self.config, self.env, self.log = config, env, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "--config", str(self.config)],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)


async def _act(server: DevServer, person: Applicant, state: str) -> None:
    """One tap or one message, sent without waiting for the answer."""
    user = person.user_id

    async def tap(label: str) -> None:
        message = await person.message_with_button(label)
        data = next(b["callback_data"] for b in message.buttons if b["text"] == label)
        await server.press_button(user, message.message_id, data)

    if state == "none":
        await server.send_text(user, "/start", first_name="Test")
    elif state == "lang":
        await tap("English")
    elif state == "consent":
        await tap(CATALOG.text("en", "consent_yes"))
    elif state == "review":
        await tap(CATALOG.text("en", "submit"))
    else:
        question = Q.question(state)
        if question.kind is QuestionKind.CHOICE:
            await tap(CATALOG.localize("en", question.options[0].text))
        elif question.kind is QuestionKind.YESNO:
            await tap(CATALOG.text("en", "no"))
        else:  # in the reply field the question opened, as a phone does
            shown = [m for m in await person.visible() if m.from_bot]
            reply_to = shown[-1].message_id if shown and shown[-1].force_reply else None
            await server.send_text(
                user, _typed(user, state), first_name="Test", reply_to_message_id=reply_to
            )


async def _recover(server: DevServer, person: Applicant, state: str) -> None:
    """What a person does when the phone shows a question the bot has moved past: taps its
    button again (an old tap brings up the current question), or, for a typed question, its
    link, which opens the form where it is."""
    question = Q.get(state)
    if question is not None and question.kind not in (QuestionKind.CHOICE, QuestionKind.YESNO):
        await person.tap_link()
    else:
        await _act(server, person, state)
    await settle(server, quiet=QUIET, timeout=30.0)


async def _check_back(person: Applicant, state: str) -> None:
    """/back shows the previous question with the answer the applicant gave it."""
    previous = ROUTE[ROUTE.index(state) - 1]
    await person.send("/back")
    if await person.last_text() == CATALOG.text("en", "resume"):
        # A new process holds no key for the chat: one tap on the question brings it, and
        # /back is carried out then.
        resume = CATALOG.text("en", "resume")
        [question] = [m for m in await person.visible() if m.buttons and m.text != resume]
        await person.tap(question.buttons[0]["text"])
    shown = await person.last_text()
    assert CATALOG.localize("en", Q.question(previous).text) in shown, (state, shown)
    if Q.question(previous).kind is QuestionKind.NUMBER:
        answer = _typed(person.user_id, previous)
        assert CATALOG.text("en", "current_answer", answer=answer) in shown


async def test_sigkill_crash_loop_loses_nothing_acknowledged(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    master_key = MasterKey.generate()
    kills = backs = stalls = recoveries = 0
    async with DevServer() as server:
        config = write_config(tmp_path, server.base_url)
        env = {k: v for k, v in os.environ.items() if not k.startswith("BOT_")}
        env.update(BOT_TOKEN=server.token, BOT_MASTER_KEY=master_key.to_text())
        with (tmp_path / "bot.log").open("wb") as log:
            bot = BotProcess(config, env, log)
            bot.start()
            await server.send_group_text(GROUP_CHAT_ID, 540_000_900, "hi", chat_type="supergroup")
            people = {user: Applicant(server, user) for user in APPLICANTS}
            committed: dict[int, list[str]] = {user: [] for user in APPLICANTS}
            state = dict.fromkeys(APPLICANTS, "none")
            tries = dict.fromkeys(APPLICANTS, 0)
            try:
                while any(s != "done" for s in state.values()):
                    for user, person in people.items():
                        before = state[user]
                        if before == "done":
                            continue
                        await _act(server, person, before)
                        killed = kills < KILLS and rng.random() < 0.6
                        if killed:
                            await asyncio.sleep(rng.uniform(0.0, 0.3))
                            bot.kill()
                            kills += 1
                            bot.start()
                        await settle(server, quiet=QUIET, timeout=30.0)
                        after = _state(await person.visible())
                        # The chat moves one step on, or (an update lost with the process)
                        # stays; it never moves back or skips.
                        assert STEPS.index(after) - STEPS.index(before) in (0, 1), (before, after)
                        if after == before and before not in ("none", "done"):
                            # A crash between the commit and the new question leaves the old
                            # prompt on the phone.
                            recoveries += 1
                            await _recover(server, person, before)
                            after = _state(await person.visible())
                            assert STEPS.index(after) - STEPS.index(before) in (0, 1), after
                        if after == before:
                            tries[user] += 1
                            stalls += 1
                            assert tries[user] < 6, f"stuck at {before}"
                            continue
                        tries[user] = 0
                        if before in ROUTE:
                            committed[user].append(before)
                        state[user] = after
                        if killed and after in ROUTE and ROUTE.index(after) > 0 and backs < 6:
                            # After a crash, the draft still holds the last committed answer.
                            backs += 1
                            await _check_back(person, after)
                            state[user] = _state(await person.visible())
            finally:
                code = bot.stop()
        assert code == 0, (tmp_path / "bot.log").read_text(errors="replace")[-2000:]
        assert kills >= 20, kills
        for user in APPLICANTS:
            assert set(committed[user]) == set(ROUTE)

        # Every submitted case exactly once, every committed answer in it.
        async with opened(tmp_path / "bot.sqlite3") as db:
            conn = db.conn
            async with conn.execute("SELECT id, status FROM cases") as cur:
                rows = list(await cur.fetchall())
            submitted = [case_id for case_id, status in rows if status != "draft"]
            assert len(submitted) == len(APPLICANTS), rows
            seen: set[int] = set()
            codes: list[str] = []
            for case_id in submitted:
                case = await store.get_case(conn, case_id)
                assert case is not None
                async with conn.execute(
                    "SELECT count(*) FROM case_keys WHERE case_id = ?", (case_id,)
                ) as cur:
                    (sealed,) = await cur.fetchone() or (0,)
                # Never half sealed: no master-key copy ever, the recovery key's always (nobody
                # enrolled here, so no coordinator holds one).
                assert case.wrapped_key is None and sealed == 0
                recovery = await _recovery_copy(conn, case_id)
                key = load_recovery_key(RECOVERY_PRIVATE).open_case_key(recovery, case_id=case_id)
                blobs = await store.read_fields(conn, case_id)
                fields = {n: key.decrypt(v, case_id=case_id, field=n) for n, v in blobs.items()}
                user = int(fields["chat_id"])
                seen.add(user)
                assert case.code is not None
                codes.append(case.code)
                for qid in committed[user]:
                    answer = json.loads(fields[f"answer:{qid}"])
                    assert answer["value"] == _expected(user, qid), (qid, answer)
            assert seen == set(APPLICANTS)
            async with conn.execute("SELECT count(*) FROM outbox") as cur:
                assert await cur.fetchone() == (0,), "an outbox message was never sent"
            async with conn.execute("PRAGMA integrity_check") as cur:
                assert await cur.fetchall() == [("ok",)]

        group = [m.text or "" for m in await server.messages(GROUP_CHAT_ID, include_deleted=True)]
        duplicates = 0
        for code_ in codes:
            count = sum(f"New case {code_}" in text for text in group)
            assert count >= 1, f"the notice for a case was lost ({count})"
            duplicates += count - 1
        print(
            f"crash loop: kills={kills} stalls={stalls} recoveries={recoveries} "
            f"backs={backs} duplicates={duplicates}"
        )
        assert duplicates <= 1, "group notices were sent twice more than once"

    audit = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bot", "verify-audit", "--config", str(config)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert audit.returncode == 0, audit.stdout + audit.stderr
    with contextlib.suppress(OSError):
        (tmp_path / "bot.log").unlink()
