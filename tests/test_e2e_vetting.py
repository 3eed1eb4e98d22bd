"""End to end: the organisation's vetting steps hold approval back, and close cases are named.

The real bot against the local Bot API server, a config with no [vetting] section (so the
example's default steps apply, as on a deployment upgraded from a release without them), real
keys and the SQLite file. What a step's note says, and what the comparison of cases finds, is
then looked for in the raw bytes of every file of the database.
"""

from __future__ import annotations

from pathlib import Path

from bot.config import DEFAULT_VETTING_STEPS
from bot.crypto import MasterKey
from bot.devserver import DevServer
from bot.i18n import CoordinatorCatalog
from bot.store import coordination as coord_store
from tests import seizure
from tests.conftest import GROUP_CHAT_ID, Applicant, RunningBot, running_bot, wait_for_text
from tests.coordinator_driver import REQUIRED_STEPS, snapshot
from tests.intake_driver import CATALOG, answer_one, begin, default_questionnaire, default_route
from tests.resting import rest
from tests.test_e2e_teams import LEAD, NORTH_MEMBER, SOUTH_LEAD, SOUTH_MEMBER, _enrol

# The coordinators are the teams' end-to-end test's people, enrolled as it enrols them; its
# southern lead is here a plain coordinator, the second person of a one-team deployment.
SECOND = SOUTH_LEAD
APPLICANTS = (640_000_001, 640_000_002, 640_000_003, 640_000_004)
STEP_NOTE = "StepNoteCanary spoke twenty minutes 4vx"
UNDO_REASON = "UndoCanary the contact was unsure 7ud"
TEXTS = CoordinatorCatalog()
SOUTH_GROUP, NORTH_GROUP = -1_001_000_000_301, -1_001_000_000_302


def text(key: str, /, lang: str = "en", **params: object) -> str:
    return TEXTS.text(lang, key, **params)


def steps_named(lang: str, ids: tuple[str, ...]) -> str:
    by_id = {step.id: step for step in DEFAULT_VETTING_STEPS}
    return text("list_separator", lang).join(
        text("vetting_named", lang, step=i, text=by_id[i].text[lang]) for i in ids
    )


async def _submit(
    bot: RunningBot,
    user: int,
    picks: dict[str, str] | None = None,
    typed: dict[str, str] | None = None,
) -> str:
    """An applicant fills in the form: ``picks`` names a choice question's option, ``typed``
    a typed answer; every other question gets its first option. Returns the case code."""
    q = default_questionnaire()
    picks, typed = picks or {}, typed or {}
    person = Applicant(bot.server, user)
    await begin(person)
    for qid in default_route(q):
        if qid in picks:
            await person.tap(CATALOG.localize("en", q.question(qid).option(picks[qid]).text))
        else:
            await answer_one(person, q, qid, "en", typed.get(qid))
    await person.tap("Send")
    receipt = (await person.visible())[0].text or ""
    return receipt.split("receipt code: ")[1].split("-")[0]


async def _claimed(
    bot: RunningBot, typed: dict[str, str] | None = None
) -> tuple[Applicant, Applicant, str]:
    """The lead and a second coordinator enrol, the first applicant sends a form (``typed`` as
    ``_submit`` takes it) and the lead claims it; returns the lead, the second and the code."""
    lead = await _enrol(bot, LEAD, "lead", ())
    second = await _enrol(bot, SECOND, "coordinator", ())
    code = await _submit(bot, APPLICANTS[0], typed=typed)
    await lead.send(f"/claim {code}")
    return lead, second, code


def _raw(tmp_path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in tmp_path.glob("bot.sqlite3*")}


async def test_approval_waits_for_the_steps_and_a_flagged_case_for_two_people(
    server: DevServer, tmp_path: Path, master_key: MasterKey
) -> None:
    async with running_bot(server, tmp_path, master_key) as bot:
        lead, second, code = await _claimed(bot, {"call_name": "x", "notes": "near Pyay"})

        # Nothing recorded: approval names every required step, in the config's order.
        assert REQUIRED_STEPS == ("call", "story", "number")
        await lead.send(f"/approve {code}")
        assert await lead.last_text() == text(
            "approve_steps_missing", code=code, steps=steps_named("en", REQUIRED_STEPS)
        )
        work = await coord_store.work_row_by_code(bot.runtime.db.conn, code)
        assert work is not None and work.status == "claimed" and work.pending_approval_by is None

        sent = await server.send_text(LEAD, f"/check {code} call {STEP_NOTE}", first_name="C")
        await wait_for_text(server, LEAD, text("checked", code=code, step="call", done=1, total=4))
        record = await server.message(LEAD, sent["message_id"])
        assert record is not None and record.deleted  # the note leaves the chat, as a /note does
        await lead.send(f"/check {code} call")
        assert await lead.last_text() == text("check_already", code=code, step="call")
        await lead.send(f"/check {code} second")  # the holder cannot be their own second person
        assert await lead.last_text() == text("check_holder", code=code, step="second")
        await lead.send(f"/check {code} nosuch")
        assert await lead.last_text() == text(
            "check_unknown", step="nosuch", steps="call, story, number, second"
        )
        await lead.send(f"/check {code} story")
        await lead.send(f"/approve {code}")
        assert await lead.last_text() == text(
            "approve_steps_missing", code=code, steps=steps_named("en", ("number",))
        )

        # /queue and /show say where the vetting stands, in each reader's language.
        await lead.send("/queue")
        assert f"{code} · claimed" in await lead.last_text()
        assert "· 2/4 steps" in await lead.last_text()
        await server.send_group_text(GROUP_CHAT_ID, LEAD, "/queue", chat_type="supergroup")
        group_queue = await wait_for_text(server, GROUP_CHAT_ID, text("queue_header"))
        assert code in group_queue and "steps" not in group_queue  # the group learns nothing
        await lead.send(f"/show {code}")
        shown = await lead.last_text()
        assert text("vetting_heading", done=2, total=4) in shown
        assert "✓ call: A call with the person, " in shown and STEP_NOTE in shown
        assert "☐ number: They said the verification number back, needed to approve" in shown
        assert "☐ second: A second coordinator agrees (another coordinator's)" in shown
        await lead.send("/language my")
        await lead.send("/queue")
        assert text("queue_steps", "my", done=2, total=4) == "အဆင့် ၂/၄"
        assert "အဆင့် ၂/၄" in await lead.last_text()
        await lead.send(f"/show {code}")
        shown = await lead.last_text()
        assert text("vetting_heading", "my", done=2, total=4) in shown
        assert "✓ call: လူကိုယ်တိုင်နဲ့ ဖုန်းပြောပြီးပြီ၊ " in shown
        assert "☐ number: အတည်ပြုနံပါတ်ကို သူ ပြန်ပြောနိုင်တယ်၊ အတည်ပြုဖို့ လိုတယ်" in shown
        await lead.send(f"/approve {code}")
        assert await lead.last_text() == text(
            "approve_steps_missing", "my", code=code, steps=steps_named("my", ("number",))
        )
        await lead.send("/language en")

        # A step taken back needs a reason, and counts no more.
        await lead.send(f"/uncheck {code} story")
        assert await lead.last_text() == text(
            "uncheck_usage", code=code, steps="call, story, number, second"
        )
        await lead.send(f"/uncheck {code} story {UNDO_REASON}")
        assert await lead.last_text() == text("unchecked", code=code, step="story", done=1, total=4)
        await lead.send(f"/show {code}")
        assert "↺ story taken back by" in await lead.last_text()
        assert UNDO_REASON in await lead.last_text()
        await lead.send(f"/check {code} story")
        await lead.send(f"/check {code} number")
        assert await lead.last_text() == (
            text("checked", code=code, step="number", done=3, total=4)
            + " "
            + text("check_all_done", code=code)
        )

        # Flagged as suspect: every step, the second person's too, and two approvals.
        await lead.send(f"/flag {code}")
        await lead.send(f"/approve {code}")
        assert await lead.last_text() == text(
            "approve_steps_missing", code=code, steps=steps_named("en", ("second",))
        )
        await second.send(f"/check {code} second agreed after reading the notes")
        assert (await second.last_text()).startswith(
            text("checked", code=code, step="second", done=4, total=4)
        )
        await lead.send(f"/approve {code}")
        assert await lead.last_text() == text("approval_recorded", code=code)
        await lead.send(f"/approve {code}")
        assert await lead.last_text() == text("approve_twice", code=code)
        await second.send(f"/approve {code}")
        assert await second.last_text() == text("approved", code=code)

        await lead.send("/audit")
        audit = await lead.last_text()
        assert text("audit_checked") in audit and text("audit_unchecked") in audit
        assert STEP_NOTE not in audit and "story" not in audit  # the step is not named

    hits = seizure.raw_hits(
        _raw(tmp_path),
        {
            "step note": seizure.text_forms(STEP_NOTE),
            "undo reason": seizure.text_forms(UNDO_REASON),
            "second's note": seizure.text_forms("agreed after reading the notes"),
        },
    )
    assert hits == []


# Teams routed by the form's "status" answer: three near-identical forms differ in it only, so
# two reach the north team and one the south; the fourth, unlike the others, the south.
TEAMS = f"""
[[coordination.teams]]
name = "south"
route = {{ status = ["still_there"] }}
group_chat_id = {SOUTH_GROUP}

[[coordination.teams]]
name = "north"
default = true
group_chat_id = {NORTH_GROUP}
"""
ALIKE = {"call_name": "Ko Aung", "notes": "I want to leave with my wife, we are near Monywa"}
ALIKE_AGAIN = {"call_name": "ko aung", "notes": "I want to leave with my wife. We are near Monywa!"}
UNLIKE = {
    "call_name": "Ma Hla",
    "notes": "Alone, leaving from Dawei next month by boat",
    "family": "4",
}


async def test_close_cases_are_named_only_to_who_can_open_them(
    server: DevServer, tmp_path: Path, master_key: MasterKey
) -> None:
    async with running_bot(server, tmp_path, master_key, extra=TEAMS) as bot:
        lead = await _enrol(bot, LEAD, "lead", ())  # a lead holds every team's cases
        north = await _enrol(bot, NORTH_MEMBER, "coordinator", ("north",))
        south = await _enrol(bot, SOUTH_MEMBER, "coordinator", ("south",))
        first = await _submit(bot, APPLICANTS[0], typed=ALIKE)
        again = await _submit(bot, APPLICANTS[1], typed=ALIKE_AGAIN)
        third = await _submit(bot, APPLICANTS[2], {"status": "still_there"}, typed=ALIKE)
        other = await _submit(
            bot,
            APPLICANTS[3],
            {"status": "still_there", "service": "police", "rank": "officer", "region": "mon"},
            typed=UNLIKE,
        )
        assert len({first, again, third, other}) == 4
        before = snapshot(tmp_path / "bot.sqlite3")

        def named(shown: str) -> set[str]:
            return {code for code in (first, again, third, other) if f"close to {code}: " in shown}

        await lead.send(f"/claim {first}")
        await lead.send(f"/show {first}")
        shown = await lead.last_text()
        assert text("probe_heading") in shown
        assert named(shown) == {again, third}
        # The same answers, the names and notes typed a little differently: all 11 the same.
        assert text("probe_line", code=again, same=11, compared=11, apart="the same day") in shown
        assert text("probe_line", code=third, same=10, compared=11, apart="the same day") in shown
        await lead.send(f"/claim {other}")
        await lead.send(f"/show {other}")
        assert text("probe_heading") not in await lead.last_text()

        await north.send(f"/claim {again}")
        await north.send(f"/show {again}")
        shown = await north.last_text()
        assert named(shown) == {first}  # the third is the south's: not theirs to compare

        await south.send(f"/claim {third}")
        await south.send(f"/show {third}")
        shown = await south.last_text()
        assert text("probe_heading") not in shown and named(shown) == set()

        # The queue: a burst of three for the lead, in their private chat only; two are no burst.
        burst = text("queue_burst", count=3, codes=", ".join(sorted((first, again, third))))
        await lead.send("/queue")
        assert burst in await lead.last_text()
        await north.send("/queue")
        assert "near-identical" not in await north.last_text()
        await south.send("/queue")
        assert "near-identical" not in await south.last_text()
        for group in (GROUP_CHAT_ID, NORTH_GROUP, SOUTH_GROUP):
            for message in await server.messages(group):
                assert "close to" not in (message.text or "")
                assert "near-identical" not in (message.text or "")
        await server.send_group_text(NORTH_GROUP, LEAD, "/queue", chat_type="supergroup")
        queue = await wait_for_text(server, NORTH_GROUP, text("queue_header"))
        assert first in queue and "near-identical" not in queue

        # Nothing of the comparison was kept: what /show and /queue changed is the audit log
        # and the views' deletion schedule, as for any /show.
        after = snapshot(tmp_path / "bot.sqlite3")
        changed = {t for t in after if after[t] != before.get(t)}
        assert changed <= {
            "audit_log",
            "audit_head",
            "scheduled_deletions",
            "outbox",
            "cases",
            "heartbeat",
        }, changed

    raw = b"".join(_raw(tmp_path).values())
    for said in ("close to", "answers the same", "near-identical", "10 of 11"):
        assert said.encode() not in raw


async def _say(server: DevServer, user: int, typed: str, answer: str) -> bool:
    """``typed`` in ``user``'s private chat; the bot answers ``answer``. Whether the typed
    message was deleted from the chat."""
    sent = await server.send_text(user, typed, first_name="C")
    await server.wait_for_bot_message(user, after_id=sent["message_id"], timeout=10.0)
    await rest(server)
    said = [m.text for m in await server.messages(user) if m.from_bot]
    assert said[-1] == answer
    record = await server.message(user, sent["message_id"])
    assert record is not None
    return record.deleted


async def _status(bot: RunningBot, code: str) -> str:
    work = await coord_store.work_row_by_code(bot.runtime.db.conn, code)
    assert work is not None
    return work.status


async def test_steps_stay_as_they_were_approved(
    server: DevServer, tmp_path: Path, master_key: MasterKey
) -> None:
    async with running_bot(server, tmp_path, master_key) as bot:
        lead, second, code = await _claimed(bot)
        # Ordinary steps are the holder's: another coordinator records no call of theirs.
        await second.send(f"/check {code} call I called them")
        assert await second.last_text() == text("check_not_holder", code=code, step="call")
        for step in REQUIRED_STEPS:
            await lead.send(f"/check {code} {step}")
        await lead.send(f"/approve {code}")
        assert await lead.last_text() == text("approved", code=code)

        # Approved: no step is taken back, and the answer says how to stop the case.
        deleted = await _say(
            server, LEAD, f"/uncheck {code} call impostor", text("check_approved", code=code)
        )
        assert deleted
        await lead.send(f"/check {code} second")  # nothing an approved case lacks
        assert await lead.last_text() == text("check_approved", code=code)
        await lead.send(f"/show {code}")
        assert text("vetting_heading", done=3, total=4) in await lead.last_text()

        # Flagged after approval, the case lacks the second person's step: no handoff until
        # it is recorded (the one check an approved case takes).
        await lead.send(f"/flag {code}")
        await lead.send(f"/handoff {code} meet at the usual place")
        assert await lead.last_text() == text(
            "handoff_steps_missing", code=code, steps=steps_named("en", ("second",))
        )
        assert await _status(bot, code) == "approved"
        await second.send(f"/check {code} second agreed")
        assert (await second.last_text()).startswith(
            text("checked", code=code, step="second", done=4, total=4)
        )
        await lead.send(f"/handoff {code} meet at the usual place")
        assert await _status(bot, code) == "handed_off"
        await lead.send(f"/check {code} call")
        assert await lead.last_text() == text("check_decided", code=code, state="handed off")

        # An approved case is stopped with /reject, as the refusal said.
        other = await _submit(bot, APPLICANTS[1])
        await lead.send(f"/claim {other}")
        for step in REQUIRED_STEPS:
            await lead.send(f"/check {other} {step}")
        await lead.send(f"/approve {other}")
        await lead.send(f"/reject {other} the call was not them")
        assert await lead.last_text() == text("rejected", code=other)
        assert await _status(bot, other) == "rejected"
        await lead.send(f"/uncheck {other} call impostor")
        assert await lead.last_text() == text("check_decided", code=other, state="rejected")


async def test_a_step_taken_back_before_the_confirm_holds_the_approval(
    server: DevServer, tmp_path: Path, master_key: MasterKey
) -> None:
    async with running_bot(server, tmp_path, master_key) as bot:
        lead, second, code = await _claimed(bot)
        await lead.send(f"/flag {code}")  # two approvals, and every step
        for step in REQUIRED_STEPS:
            await lead.send(f"/check {code} {step}")
        await second.send(f"/check {code} second")
        await lead.send(f"/approve {code}")
        assert await lead.last_text() == text("approval_recorded", code=code)
        await lead.send(f"/uncheck {code} story the contact was unsure")
        assert await lead.last_text() == text("unchecked", code=code, step="story", done=3, total=4)
        await second.send(f"/approve {code}")
        assert await second.last_text() == text(
            "approve_steps_missing", code=code, steps=steps_named("en", ("story",))
        )
        assert await _status(bot, code) == "claimed"


ZAWGYI_NOTE = "ကၽြန္ေတာ္ မိသားစုနဲ႔ ထြက္ခ်င္တယ္"
UNICODE_NOTE = "ကျွန်တော် မိသားစုနဲ့ ထွက်ချင်တယ်"


async def test_a_steps_note_never_stays_in_a_chat_and_the_view_stays_readable(
    server: DevServer, tmp_path: Path, master_key: MasterKey
) -> None:
    await server.add_bot_to_group(GROUP_CHAT_ID, LEAD, chat_type="supergroup", as_admin=True)
    async with running_bot(server, tmp_path, master_key) as bot:
        lead = await _enrol(bot, LEAD, "lead", ())
        code = await _submit(bot, APPLICANTS[0])
        await lead.send(f"/claim {code}")

        # In the group every text command is refused as private-only, and leaves the group.
        for typed in (
            f"/check {code} call {STEP_NOTE}",
            f"/uncheck {code} call {UNDO_REASON}",
            f"/note {code} {STEP_NOTE}",
            f"/reject {code} {UNDO_REASON}",
        ):
            sent = await server.send_group_text(GROUP_CHAT_ID, LEAD, typed, chat_type="supergroup")
            await server.wait_for_bot_message(
                GROUP_CHAT_ID, after_id=sent["message_id"], timeout=10.0
            )
            assert (await lead_group_last(server)) == text("denied_private"), typed
            record = await server.message(GROUP_CHAT_ID, sent["message_id"])
            assert record is not None and record.deleted, typed

        # A refusal in the private chat takes the message away too.
        assert await _say(
            server,
            LEAD,
            f"/uncheck {code} call",
            text("uncheck_usage", code=code, steps="call, story, number, second"),
        )
        long_note = "x" * 4000
        assert await _say(
            server,
            LEAD,
            f"/check {code} call {long_note}",
            text("check_too_long", limit=300, length=4000),
        )
        before = await _scheduled(bot)
        assert await _say(
            server,
            LEAD,
            f"/check {code} call {ZAWGYI_NOTE}",
            text("checked", code=code, step="call", done=1, total=4)
            + " "
            + text("check_still", steps=steps_named("en", ("story", "number"))),
        )
        assert await _scheduled(bot) == before + 1  # the answer goes after a while, as a view

        # Taken back and checked again and again: the view keeps the last word and a count.
        for n in range(3):
            await lead.send(f"/uncheck {code} call reason number {n}")
            if n < 2:
                await lead.send(f"/check {code} call")
        await lead.send(f"/show {code}")
        shown = await lead.last_text()
        assert "reason number 2" in shown and text("vetting_earlier_undos", n=2) in shown
        assert "reason number 0" not in shown and "reason number 1" not in shown
        await lead.send(f"/check {code} call {ZAWGYI_NOTE}")
        await lead.send(f"/show {code}")
        assert UNICODE_NOTE in await lead.last_text()  # stored as Unicode
        assert ZAWGYI_NOTE not in await lead.last_text()

        # Long notes make a long case: it is read in several messages, none past the limit.
        notes = [f"note{n} " + "long words " * 90 for n in range(5)]
        for note in notes:
            await lead.send(f"/note {code} {note}")
        count = len(await lead.bot_texts())
        await lead.send(f"/show {code}")
        pieces = (await lead.bot_texts())[count:]
        assert len(pieces) >= 2 and all(len(p) <= 4096 for p in pieces)
        assert all(n.strip() in "\n".join(pieces) for n in notes)

        # A locked key refuses the step, and the note still leaves the chat.
        await lead.send("/lock")
        assert await _say(server, LEAD, f"/check {code} story {STEP_NOTE}", text("denied_locked"))

    hits = seizure.raw_hits(_raw(tmp_path), {"step note": seizure.text_forms(STEP_NOTE)})
    assert hits == []


async def lead_group_last(server: DevServer) -> str:
    texts = [m.text or "" for m in await server.messages(GROUP_CHAT_ID) if m.from_bot]
    return texts[-1]


async def _scheduled(bot: RunningBot) -> int:
    async with bot.runtime.db.conn.execute("SELECT COUNT(*) FROM scheduled_deletions") as cur:
        row = await cur.fetchone()
    assert row is not None
    return int(row[0])
