"""End to end: an applicant submits, a coordinator enrols, vets, asks, approves, hands off.

Everything runs for real: the Application polling the local Bot API server, the SQLite file,
Argon2id, X25519 sealing. The second half plays a seizure of the server.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from bot.crypto import CryptoError, MasterKey, Vault, load_recovery_key, unlock
from bot.devserver import DevServer
from bot.i18n import CoordinatorCatalog
from bot.ops.backup import backup_database
from bot.ops.recovery import Grants, grant_all, import_grants
from bot.store import cases as case_store
from bot.store import coordination as coord_store
from tests.conftest import (
    GROUP_CHAT_ID,
    RECOVERY_PRIVATE,
    Applicant,
    RunningBot,
    running_bot,
    wait_for_text,
)
from tests.coordinator_driver import REQUIRED_STEPS
from tests.databases import opened
from tests.intake_driver import CATALOG, answer_all, begin
from tests.resting import rest

APPLICANT = 620_000_001
LEAD = 620_000_100
SECOND = 620_000_101
STRANGER = 620_000_666
PASSPHRASE = "river lantern copper seven"
SECOND_PASSPHRASE = "quiet harbour maple ninety"
TEAM = CoordinatorCatalog()


def team(key: str, /, lang: str = "en", **params: object) -> str:
    """A coordinator text as the bot sends it."""
    return TEAM.text(lang, key, **params)


async def _submit(server: DevServer) -> tuple[str, str]:
    """An applicant completes the form; returns (case code, verification phrase)."""
    person = Applicant(server, APPLICANT)
    await begin(person)
    await answer_all(person, "en", {"call_name": "Ko Zaw", "notes": "I can talk after 8pm"})
    await person.tap("Send")
    receipt = (await person.visible())[0].text or ""
    code = receipt.split("receipt code: ")[1].split("-")[0]
    phrase = receipt.split("they will first say: ")[1].splitlines()[0]
    return code, phrase


async def _secret(bot: RunningBot, user: int, text: str, language_code: str | None = None) -> str:
    """Send a passphrase; it must have left the chat by the time the answer came."""
    sent = await bot.server.send_text(user, text, first_name="Coord", language_code=language_code)
    await bot.server.wait_for_bot_message(user, after_id=sent["message_id"], timeout=30.0)
    await rest(bot.server)
    record = await bot.server.message(user, sent["message_id"])
    assert record is not None and record.deleted  # the passphrase left the chat at once
    return await Applicant(bot.server, user).last_text()


async def _enrol(bot: RunningBot, user: int, role: str, passphrase: str) -> Applicant:
    coordinator = Applicant(bot.server, user)
    code = await bot.runtime.coordination.create_invite(role)
    await coordinator.send(f"/enroll {code}")
    assert await coordinator.last_text() == team("enroll_welcome")
    assert await _secret(bot, user, passphrase) == team("enroll_again")
    enrolled = await _secret(bot, user, passphrase)
    assert enrolled.startswith(team("enrolled", role=team(f"role_{role}"), handle="C-")[:20])
    return coordinator


async def _unlock(
    bot: RunningBot, coordinator: Applicant, passphrase: str, lang: str = "en"
) -> None:
    await coordinator.send("/unlock")
    sent = await bot.server.send_text(coordinator.user_id, passphrase, first_name="Coord")
    await bot.server.wait_for_bot_message(
        coordinator.user_id, after_id=sent["message_id"], timeout=30.0
    )
    await rest(bot.server)
    record = await bot.server.message(coordinator.user_id, sent["message_id"])
    assert record is not None and record.deleted  # the passphrase left the chat at once
    assert await coordinator.last_text() == team("unlocked", lang, minutes=15, hours=8)


async def _handle(bot: RunningBot, user: int) -> str:
    """A coordinator's handle, found by who they are: enrolment times are kept to the day, so
    the order of enrolment is not the order of the rows."""
    pseudonym = bot.runtime.vault.pseudonym(user)
    for row in await coord_store.active_coordinators(bot.runtime.db.conn):
        if row.pseudonym == pseudonym:
            return row.handle
    raise AssertionError(f"{user} is not enrolled")


async def _group_texts(server: DevServer) -> list[str]:
    return [m.text or "" for m in await server.messages(GROUP_CHAT_ID) if m.from_bot]


async def test_submit_enrol_vet_ask_approve_hand_off(
    server: DevServer, tmp_path: Path, master_key: MasterKey
) -> None:
    async with running_bot(server, tmp_path, master_key) as bot:
        await server.send_group_text(GROUP_CHAT_ID, LEAD, "hello", chat_type="supergroup")
        code, phrase = await _submit(server)
        notice = await wait_for_text(server, GROUP_CHAT_ID, f"New case {code}")
        assert "Ko Zaw" not in notice and "8pm" not in notice  # no personal content

        # Sent before anyone enrolled, the case is sealed to the recovery key alone: the master
        # key never held it.
        conn = bot.runtime.db.conn
        case = await case_store.get_case_by_code(conn, code)
        assert case is not None and case.wrapped_key is None

        lead = await _enrol(bot, LEAD, "lead", PASSPHRASE)
        await lead.send(f"/show {code}")
        assert await lead.last_text() == team("denied_locked")
        await _unlock(bot, lead, PASSPHRASE)
        await lead.send(f"/show {code}")
        handle = (await coord_store.active_coordinators(conn))[0].handle
        # Nothing was sealed to a newcomer; the refusal says who can change that, and how.
        assert await lead.last_text() == team("not_yours_key", code=code, handle=handle)

        # The operator, offline with a backup and the recovery key, grants the lead every case.
        copy = tmp_path / "offline-copy.sqlite3"
        await backup_database(bot.runtime.db, copy)
        grants = await grant_all(copy, load_recovery_key(RECOVERY_PRIVATE), handle)
        assert (
            await import_grants(
                bot.runtime.db,
                Grants.load(grants.dump()),
                vault=bot.runtime.vault,
                now=int(time.time()),
            )
            == 1
        )

        await server.send_group_text(GROUP_CHAT_ID, LEAD, "/queue", chat_type="supergroup")
        queue = await wait_for_text(server, GROUP_CHAT_ID, team("queue_header"))
        assert code in queue and "unclaimed" in queue

        await lead.send(f"/claim {code}")
        assert await lead.last_text() == team("claimed", code=code)
        await lead.send(f"/show {code}")
        shown = (await lead.visible())[-1]
        assert shown.protect_content and shown.text is not None
        assert "Ko Zaw" in shown.text and "I can talk after 8pm" in shown.text

        await lead.send(f"/ask {code} Which town are you near?")
        assert await lead.last_text() == team("ask_sent", code=code)
        person = Applicant(server, APPLICANT)
        question = await wait_for_text(server, APPLICANT, "Which town are you near?")
        assert question.splitlines()[0] == "You have a new message."
        await person.tap(CATALOG.text("en", "reply"))
        await person.send("Near Monywa")
        assert await person.last_text() == CATALOG.text("en", "reply_thanks")
        await wait_for_text(server, LEAD, team("answered", code=code))
        await lead.send(f"/show {code}")
        assert "applicant answered: Near Monywa" in await lead.last_text()

        await lead.send(f"/note {code} Story is consistent")
        for step in REQUIRED_STEPS:
            await lead.send(f"/check {code} {step}")
        await lead.send(f"/approve {code}")
        assert await lead.last_text() == team("approved", code=code)
        await lead.send(f"/handoff {code} A volunteer will call you on Friday evening.")
        told = await wait_for_text(server, LEAD, phrase)
        # The coordinator gets the applicant's verification phrase.
        assert told == team("handed_off", code=code, phrase=phrase)
        next_step = await wait_for_text(server, APPLICANT, "Friday evening")
        assert phrase in next_step and next_step.splitlines()[0] == "You have a new message."

        report = await bot.runtime.coordination.verify_audit()
        assert report.ok and report.checked >= 8

    # --- seizure: the database, the config and the master key, but no passphrase -------------
    await _seizure(tmp_path / "bot.sqlite3", master_key, code, phrase)


async def _seizure(db_path: Path, master_key: MasterKey, code: str, phrase: str) -> None:

    raw = b"".join(p.read_bytes() for p in db_path.parent.glob(db_path.name + "*"))
    assert phrase.encode() not in raw and b"Ko Zaw" not in raw
    async with opened(db_path) as db:
        vault = Vault(master_key)
        case = await case_store.get_case_by_code(db.conn, code)
        assert case is not None and case.wrapped_key is None
        fields = await case_store.read_fields(db.conn, case.case_id)
        # Every key the master key can derive fails on every field.
        for blob in fields.values():
            with pytest.raises(CryptoError):
                vault.open_local(blob, purpose="triage", context=case.case_id)
            with pytest.raises(CryptoError):
                vault.unwrap_case_key(blob, case_id=case.case_id)
        [lead] = await coord_store.active_coordinators(db.conn)
        for guess in ("", "password123456", master_key.to_text()):
            with pytest.raises(CryptoError):
                unlock(lead.protected_private_key, guess)
        # No Telegram account is linked to the case.
        async with db.conn.execute(
            "SELECT pseudonym FROM cases WHERE id = ?", (case.case_id,)
        ) as cur:
            assert await cur.fetchone() == (None,)
        # With the passphrase, the case opens.
        key = unlock(lead.protected_private_key, PASSPHRASE)
        sealed = await coord_store.case_key_for(db.conn, case.case_id, lead.id)
        assert sealed is not None
        case_key = key.open_case_key(sealed, case_id=case.case_id)
        call_name = case_key.decrypt(
            fields["answer:call_name"], case_id=case.case_id, field="answer:call_name"
        )
        assert json.loads(call_name)["value"] == "Ko Zaw"
        assert (
            case_key.decrypt(
                fields["verification_phrase"], case_id=case.case_id, field="verification_phrase"
            ).decode()
            == phrase
        )


async def test_unlock_attempts_are_limited_even_for_the_right_passphrase(
    bot: RunningBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Someone holding a coordinator's phone gets five guesses; then even the right passphrase
    is refused for a while, and every guess leaves the chat at once."""
    monkeypatch.setattr("bot.services.coordination.enrolment.WRONG_PASSPHRASE_DELAY", 0.0)
    lead = await _enrol(bot, LEAD, "lead", PASSPHRASE)
    for guess in [f"wrong guess number {n}" for n in range(5)] + [PASSPHRASE]:
        await lead.send("/unlock")
        sent = await bot.server.send_text(LEAD, guess, first_name="Coord")
        await bot.server.wait_for_bot_message(LEAD, after_id=sent["message_id"], timeout=30.0)
        await rest(bot.server)
        record = await bot.server.message(LEAD, sent["message_id"])
        assert record is not None and record.deleted
    assert await lead.last_text() == team("unlock_too_many", minutes=15)
    coordination = bot.runtime.coordination
    [me] = await coord_store.active_coordinators(bot.runtime.db.conn)
    assert not coordination.keys.holds(me.id, coordination.clock())


async def test_strangers_and_revoked_coordinators_see_only_the_unknown_command_answer(
    bot: RunningBot,
) -> None:
    stranger = Applicant(bot.server, STRANGER)
    await stranger.send("/frobnicate")
    unknown = await stranger.last_text()
    for command in (
        "/queue",
        "/claim K7QX",
        "/show K7QX",
        "/audit",
        "/purge K7QX",
        "/enroll WRONGCODE1234",
    ):
        await stranger.send(command)
        assert await stranger.last_text() == unknown, command

    coordinator = await _enrol(bot, SECOND, "coordinator", SECOND_PASSPHRASE)
    await coordinator.send("/queue")
    assert await coordinator.last_text() == team("queue_empty")
    [row] = await coord_store.active_coordinators(bot.runtime.db.conn)
    assert await bot.runtime.coordination.revoke(row.handle) == 0
    await coordinator.send("/queue")
    assert await coordinator.last_text() == unknown
    menu = await bot.server.menu(STRANGER, user_id=STRANGER)
    assert {c.command for c in menu} == {
        "start",
        "back",
        "language",
        "cancel",
        "delete",
        "status",
        "help",
    }


async def test_two_person_approval(
    server: DevServer, tmp_path: Path, master_key: MasterKey
) -> None:
    extra = "two_person_approval = true\n"
    async with running_bot(server, tmp_path, master_key, coordination_extra=extra) as bot:
        lead = await _enrol(bot, LEAD, "lead", PASSPHRASE)
        second = await _enrol(bot, SECOND, "coordinator", SECOND_PASSPHRASE)
        code, _ = await _submit(server)
        await _unlock(bot, lead, PASSPHRASE)  # a decision needs the key unlocked
        await _unlock(bot, second, SECOND_PASSPHRASE)
        await lead.send(f"/claim {code}")
        for step in REQUIRED_STEPS:
            await lead.send(f"/check {code} {step}")
        await lead.send(f"/approve {code}")
        assert await lead.last_text() == team("approval_recorded", code=code)
        await lead.send(f"/approve {code}")
        # Said in a sentence, with the command the second coordinator sends.
        again = f"You approved this case already. A second coordinator must send /approve {code}."
        assert await lead.last_text() == again == team("approve_twice", code=code)
        work = await coord_store.work_row_by_code(bot.runtime.db.conn, code)
        assert work is not None and work.status == "claimed"
        await second.send(f"/approve {code}")
        assert await second.last_text() == team("approved", code=code)
        work = await coord_store.work_row_by_code(bot.runtime.db.conn, code)
        assert work is not None and work.status == "approved"


def test_menu_commands_of_a_coordinator_are_scoped_to_their_chat() -> None:
    from bot.coordination import commands_for

    assert "purge" not in commands_for("coordinator") and "purge" in commands_for("lead")
    assert re.fullmatch(r"[a-z_]+", " ".join(commands_for("lead")).replace(" ", "_"))


async def test_reject_reassign_grant_purge_stats_and_audit(
    server: DevServer, tmp_path: Path, master_key: MasterKey
) -> None:
    async with running_bot(server, tmp_path, master_key) as bot:
        lead = await _enrol(bot, LEAD, "lead", PASSPHRASE)
        menu = {c.command for c in await server.menu(LEAD, user_id=LEAD)}
        assert {"queue", "claim", "show", "purge", "audit"} <= menu  # a lead's own menu
        code, _ = await _submit(server)
        second = await _enrol(bot, SECOND, "coordinator", SECOND_PASSPHRASE)

        # A wrong passphrase opens nothing; the right one does.
        await second.send("/unlock")
        wrong = await server.send_text(SECOND, "not my passphrase at all", first_name="C")
        await server.wait_for_bot_message(SECOND, after_id=wrong["message_id"], timeout=30.0)
        await rest(server)
        assert await second.last_text() == team("unlock_wrong")
        await _unlock(bot, second, SECOND_PASSPHRASE)

        # Enrolled after the case was sealed: nothing to read until an unlocked lead grants it.
        await _unlock(bot, lead, PASSPHRASE)
        await lead.send(f"/claim {code}")
        handle = await _handle(bot, SECOND)
        await lead.send(f"/reassign {code} {handle}")
        assert await lead.last_text() == team("reassigned", code=code, handle=handle)
        await wait_for_text(server, SECOND, team("assigned_to_you", code=code))
        await second.send(f"/show {code}")
        assert await second.last_text() == team("not_yours_key", code=code, handle=handle)
        await _unlock(bot, lead, PASSPHRASE)
        await lead.send(f"/grant {handle}")
        assert await lead.last_text() == team("granted", handle=handle, count=1)
        await second.send(f"/show {code}")
        assert "Ko Zaw" in await second.last_text()

        await second.send(f"/reject {code} Story does not hold together")
        assert await second.last_text() == team("rejected", code=code)
        refusal = await wait_for_text(server, APPLICANT, "cannot continue with your form")
        assert "Story" not in refusal  # the applicant never sees the reason
        await second.send(f"/approve {code}")
        # An illegal move, refused with what can still be done.
        assert await second.last_text() == (
            f"Case {code} is rejected; it cannot be approved. Send /close {code} when it is done."
        )

        await lead.send("/stats")
        assert "rejected: 1" in await lead.last_text()
        await second.send(f"/purge {code}")
        assert await second.last_text() == team("denied_role")
        await lead.send(f"/purge {code}")
        assert await lead.last_text() == team("purged", code=code)
        assert await case_store.get_case_by_code(bot.runtime.db.conn, code) is None
        await lead.send("/audit")
        audit = await lead.last_text()
        assert audit.startswith(team("audit_intact", count=0).split("(")[0])
        assert "purged" in audit and "Ko Zaw" not in audit


async def test_an_invite_is_spent_by_the_enrolment_not_by_its_first_step(
    server: DevServer, tmp_path: Path, master_key: MasterKey
) -> None:
    """A restart between ``/enroll`` and the passphrase must not burn the operator's invite;
    and two people holding one code cannot both enrol: the first to finish does."""
    async with running_bot(server, tmp_path, master_key) as bot:
        code = await bot.runtime.coordination.create_invite("coordinator")
        await Applicant(server, LEAD).send(f"/enroll {code}")
        assert await Applicant(server, LEAD).last_text() == team("enroll_welcome")
    async with running_bot(server, tmp_path, master_key) as bot:  # the pending step is gone
        first, second = Applicant(server, LEAD), Applicant(server, SECOND)
        await first.send(f"/enroll {code}")
        await second.send(f"/enroll {code}")
        assert await first.last_text() == team("enroll_welcome")
        assert await second.last_text() == team("enroll_welcome")
        await first.send(PASSPHRASE)
        await first.send(PASSPHRASE)
        assert (await first.last_text()).startswith("You are enrolled as coordinator C-")
        await second.send(SECOND_PASSPHRASE)
        assert await second.last_text() == team("enroll_again")
        await second.send(SECOND_PASSPHRASE)
        assert await second.last_text() == team("enroll_invalid")
        active = await coord_store.active_coordinators(bot.runtime.db.conn)
        assert len(active) == 1


async def test_a_coordinators_plain_text_is_deleted_not_read(bot: RunningBot) -> None:
    """A passphrase that overtakes its /unlock (both sent while the bot was down) arrives as
    plain text with nothing waiting for it: it must leave the chat, and not reach the intake.
    The coordinator first wrote as anyone does, before enrolling, and so was known then as no
    coordinator."""
    stranger = Applicant(bot.server, SECOND)
    await stranger.send("hello")
    assert await stranger.last_text()  # the applicant side answered
    coordinator = await _enrol(bot, SECOND, "coordinator", SECOND_PASSPHRASE)
    sent = await bot.server.send_text(SECOND, SECOND_PASSPHRASE, first_name="Coord")
    await bot.server.wait_for_bot_message(SECOND, after_id=sent["message_id"], timeout=10.0)
    await rest(bot.server)
    record = await bot.server.message(SECOND, sent["message_id"])
    assert record is not None and record.deleted
    assert await coordinator.last_text() == team("text_deleted")
    async with bot.runtime.db.conn.execute("SELECT count(*) FROM cases") as cur:
        assert await cur.fetchone() == (0,)  # no draft was started from it


async def test_refusals_say_what_to_send_next(
    server: DevServer, tmp_path: Path, master_key: MasterKey
) -> None:
    """Each refusal names the command that would go through, with the case code in it."""
    extra = "two_person_approval = true\n"
    async with running_bot(server, tmp_path, master_key, coordination_extra=extra) as bot:
        lead = await _enrol(bot, LEAD, "lead", PASSPHRASE)
        code, _ = await _submit(server)
        await lead.send(f"/approve {code}")  # the only lead, on a case nobody claimed
        expected = f"That case is not claimed by you. Send /claim {code} first."
        assert await lead.last_text() == expected == team("denied_not_claimed", code=code)
        # Locked: the key comes first, whatever the case's state, so a phone taken with its
        # key locked learns nothing of the case from the refusal.
        await lead.send(f"/reject {code} story does not hold")
        assert await lead.last_text() == team("denied_locked")
        await lead.send(f"/show {code}")
        assert await lead.last_text() == team("denied_locked")
        await lead.send("/show")
        assert await lead.last_text() == team("no_code", command="show")
        await lead.send("/show ZZZZ")
        assert await lead.last_text() == team("no_case", code="ZZZZ")
        await _unlock(bot, lead, PASSPHRASE)
        await lead.send(f"/reject {code} story does not hold")  # a lead may reject any case,
        assert await lead.last_text() == (  # once claimed
            f"Case {code} is submitted; it cannot be rejected. Send /claim {code} first."
        )

        second = await _enrol(bot, SECOND, "coordinator", SECOND_PASSPHRASE)
        await _unlock(bot, second, SECOND_PASSPHRASE)
        await lead.send(f"/claim {code}")
        await second.send(f"/claim {code}")
        assert await second.last_text() == team("denied_held", code=code)
        assert f"/release {code}" in await second.last_text()
        await second.send(f"/approve {code}")  # before the holder's own approval
        assert await second.last_text() == team("approve_not_assignee", code=code)
        await second.send(f"/purge {code}")
        assert await second.last_text() == team("denied_role")
        await lead.send(f"/claim {code}")
        assert await lead.last_text() == team("already_yours", code=code)
        await lead.send("/lock")
        await lead.send(f"/note {code} called on Friday")
        assert await lead.last_text() == team("denied_locked")
        await _unlock(bot, lead, PASSPHRASE)
        await lead.send(f"/handoff {code} call on Friday")  # not yet
        assert await lead.last_text() == (
            f"Case {code} is claimed; it cannot be handed off."
            f" Send /approve {code} or /reject {code} with a reason."
        )
        await lead.send(f"/note {code}")
        assert await lead.last_text() == team("note_missing", code=code)
        await lead.send("/reassign " + code + " C-0000")
        assert await lead.last_text() == team("no_coordinator", handle="C-0000")


async def test_help_lists_each_command_of_ones_role_with_an_example(bot: RunningBot) -> None:
    from bot.coordination import LEAD_ONLY, commands_for

    second = await _enrol(bot, SECOND, "coordinator", SECOND_PASSPHRASE)
    await second.send("/help")
    lines = (await second.last_text()).splitlines()
    [row] = await coord_store.active_coordinators(bot.runtime.db.conn)
    assert lines[0] == team("help_header", role="coordinator", handle=row.handle)
    assert lines[1:] == [team(f"help_{name}") for name in commands_for("coordinator")]
    for name, line in zip(commands_for("coordinator"), lines[1:], strict=True):
        assert line.startswith(f"/{name}") and f"Example: /{name}" in line
    assert not any(f"/{name}" in line for name in LEAD_ONLY for line in lines)

    lead = await _enrol(bot, LEAD, "lead", PASSPHRASE)
    await lead.send("/help")
    lead_lines = (await lead.last_text()).splitlines()[1:]
    # One team: nowhere to /transfer a case to, so it is neither offered nor explained.
    shown = [name for name in commands_for("lead") if name != "transfer"]
    assert lead_lines == [team(f"help_{name}") for name in shown]
    assert any(line.startswith("/purge CODE") for line in lead_lines)
    assert not any("/transfer" in line for line in lead_lines)


async def test_a_coordinator_reads_the_bot_in_burmese(bot: RunningBot) -> None:
    """The language of a Telegram app set to Burmese is the default at enrolment; /language
    changes it, and it is kept in the coordinators table across restarts."""
    burmese = Applicant(bot.server, SECOND, language_code="my")
    code = await bot.runtime.coordination.create_invite("coordinator")
    await burmese.send(f"/enroll {code}")
    assert await burmese.last_text() == team("enroll_welcome", "my")
    assert await _secret(bot, SECOND, "elephant1987", "my") == team("weak_common", "my")
    assert await _secret(bot, SECOND, SECOND_PASSPHRASE, "my") == team("enroll_again", "my")
    enrolled = await _secret(bot, SECOND, SECOND_PASSPHRASE, "my")
    [row] = await coord_store.active_coordinators(bot.runtime.db.conn)
    assert row.language == "my"
    role = team("role_coordinator", "my")
    assert enrolled == team("enrolled", "my", role=role, handle=row.handle)
    await burmese.send("/queue")
    assert await burmese.last_text() == team("queue_empty", "my")
    await burmese.send("/show K7QX")
    assert await burmese.last_text() == team("no_case", "my", code="K7QX")
    await burmese.send("/help")
    assert team("help_claim", "my") in await burmese.last_text()

    await burmese.send("/language en")
    assert await burmese.last_text() == team("language_set")
    await burmese.send("/queue")
    assert await burmese.last_text() == team("queue_empty")
    await burmese.send("/language")
    assert await burmese.last_text() == team("language_usage")
    [row] = await coord_store.active_coordinators(bot.runtime.db.conn)
    assert row.language == "en"

    # Chosen before the passphrase, from an app set to English.
    english = Applicant(bot.server, LEAD, language_code="en")
    await english.send(f"/enroll {await bot.runtime.coordination.create_invite('lead')}")
    await english.send("/language my")
    assert await english.last_text() == "\n".join(
        (team("language_set", "my"), team("enroll_welcome", "my"))
    )
    assert await _secret(bot, LEAD, PASSPHRASE) == team("enroll_again", "my")
    enrolled = await _secret(bot, LEAD, PASSPHRASE)
    lead = await coord_store.coordinator_by_pseudonym(
        bot.runtime.db.conn, bot.runtime.coordination.vault.pseudonym(LEAD)
    )
    assert lead is not None and lead.language == "my"
    assert enrolled == team("enrolled", "my", role=team("role_lead", "my"), handle=lead.handle)


async def test_queue_stats_audit_and_case_read_in_each_coordinators_language(
    server: DevServer, tmp_path: Path, master_key: MasterKey
) -> None:
    """A lead who chose Burmese reads /queue, /stats, /audit and /show in Burmese, numbers in
    Burmese digits; a lead who reads English gets the same lines as ever. Codes, handles and what
    people wrote are shown as they are. The Burmese words are written out here, not taken from
    the catalogue, so a wrong or English text in it shows."""
    async with running_bot(server, tmp_path, master_key) as bot:
        burmese = await _enrol(bot, LEAD, "lead", PASSPHRASE)
        await burmese.send("/language my")
        english = await _enrol(bot, SECOND, "lead", SECOND_PASSPHRASE)
        code, _ = await _submit(server)
        by_language = {
            row.language: row.handle
            for row in await coord_store.active_coordinators(bot.runtime.db.conn)
        }
        mine, theirs = by_language["my"], by_language["en"]
        digit = "[၀-၉]"

        await _unlock(bot, burmese, PASSPHRASE, "my")  # a locked queue shows no triage
        await burmese.send("/queue")
        lines = (await burmese.last_text()).splitlines()
        assert lines[0] == "ဖွင့်ထားတဲ့ ကိစ္စတွေ:"
        # The form's first options: still at the post and in danger; submitted_at is kept to
        # the day, so the age is in days.
        assert re.fullmatch(
            f"{code} · ပို့ထားဆဲ · အန္တရာယ် ရှိ၊ တာဝန်ကျရာမှာ ရှိနေတုန်း"
            " · (ဒီနေ့ကတည်းက|၁ ရက်) စောင့်နေပြီ · ဘယ်သူမှ မယူရသေး"  # a midnight may pass
            " · အဆင့် ၀/၄",  # none of the four vetting steps yet
            lines[1],
        ), lines[1]
        await english.send("/queue")
        assert (await english.last_text()).splitlines()[0] == team("queue_header_locked", count=1)
        await _unlock(bot, english, SECOND_PASSPHRASE)
        await english.send("/queue")
        lines = (await english.last_text()).splitlines()
        assert lines[0] == "Open cases:"
        assert re.fullmatch(
            f"{code} · submitted · in danger, still there"
            r" · waiting (since today|1 d) · unclaimed · 0/4 steps",  # a midnight may pass
            lines[1],
        ), lines[1]

        await burmese.send(f"/claim {code}")
        assert await burmese.last_text() == team("claimed", "my", code=code)
        await burmese.send(f"/note {code} တနင်္လာနေ့ ဖုန်းဆက်ပြီး")
        await burmese.send(f"/show {code}")
        shown = (await burmese.visible())[-1]
        assert shown.protect_content and shown.text is not None
        view = shown.text.splitlines()
        assert view[0] == f"ကိစ္စ {code} · ယူထားပြီး"
        assert re.fullmatch(f"ပို့တဲ့ရက်: {digit}{{4}}-{digit}{{2}}-{digit}{{2}}", view[1])
        assert view[2] == "လျှောက်ထားသူရဲ့ ဘာသာစကား: en"
        assert view[4:6] == ["• ဒီဖောင်ကို ဘယ်သူ့အတွက် ဖြည့်နေတာလဲ။", "   → ကိုယ်တိုင်အတွက်"]
        assert "   → Ko Zaw" in view and "   → I can talk after 8pm" in view  # as written
        assert "မှတ်စုနဲ့ မေးခွန်းတွေ:" in view
        note = next(i for i, line in enumerate(view) if "မှတ်စု: " in line)
        assert view[note].endswith(f"UTC {mine} မှတ်စု: တနင်္လာနေ့ ဖုန်းဆက်ပြီး")
        # Then the vetting steps, none done yet, in Burmese.
        assert view[note + 2] == "စိစစ်တဲ့ အဆင့်တွေ၊ ၄ ခုမှာ ၀ ခု ပြီးပြီ:"
        assert view[-1] == "☐ second: ဒုတိယ ညှိနှိုင်းရေးမှူး တစ်ယောက်က သဘောတူတယ် (တခြား ညှိနှိုင်းရေးမှူးရဲ့)"
        for english_label in ("Case ", "Submitted", "Applicant's language", "Notes and", "steps"):
            assert english_label not in shown.text

        await burmese.send("/stats")
        lines = (await burmese.last_text()).splitlines()
        assert lines[0] == "အခြေအနေနဲ့ အပတ်အလိုက် ကိစ္စတွေ:"
        assert re.fullmatch(f"{digit}{{4}} ခုနှစ် အပတ် {digit}+  ယူထားပြီး: ၁ ခု", lines[1])
        await english.send("/stats")
        lines = (await english.last_text()).splitlines()
        assert lines[0] == "Cases by state and week:"
        assert re.fullmatch(r"\d{4}-W\d{2}  claimed: 1", lines[1]), lines[1]

        await burmese.send("/audit")
        lines = (await burmese.last_text()).splitlines()
        assert re.fullmatch(f"မှတ်တမ်းကွင်းဆက်: မပျက်ပါ \\(မှတ်တမ်း {digit}+ ခု\\)", lines[0])
        assert lines[1] == "ကွင်းဆက်ရဲ့ ထိပ်ကို အုပ်စုထဲ တင်ပြီးပါပြီ: အဲဒီစာကို သိမ်းထားပါ။"
        day = f"#{digit}+ {digit}{{4}}-{digit}{{2}}-{digit}{{2}}"
        for entry in (
            f"{mine} ဖွင့်ဖတ်ပြီး {code}",
            f"{mine} မှတ်စု ရေးပြီး {code}",
            f"{mine} ယူပြီး {code}",
            f"{mine} သော့ဖွင့်ပြီး",
            "ဘော့ \\(အလိုအလျောက်\\) ကိစ္စအသစ် ရောက်လာ",
            f"{theirs} စာရင်းသွင်းပြီး",
            "ဘော့ထိန်းသူ ဖိတ်ကြားကုဒ် ထုတ်ပြီး",
        ):
            assert any(re.fullmatch(f"{day} {entry}", line) for line in lines[2:]), entry
        await english.send("/audit")
        lines = (await english.last_text()).splitlines()
        assert lines[0].startswith("Audit chain: intact (")
        day = r"#\d+ \d{4}-\d{2}-\d{2}"
        for entry in (f"{mine} shown {code}", f"{mine} claimed {code}", "operator invited"):
            assert any(re.fullmatch(f"{day} {entry}", line) for line in lines[2:]), entry


async def test_the_passphrase_is_typed_twice_and_a_mismatch_starts_over(bot: RunningBot) -> None:
    """Both passphrase messages leave the chat; a weak one is refused with zxcvbn's reason."""
    person = Applicant(bot.server, SECOND)
    await person.send(f"/enroll {await bot.runtime.coordination.create_invite('coordinator')}")
    assert await _secret(bot, SECOND, "short one") == team("too_short", min=12)
    assert await _secret(bot, SECOND, "Michael12345") == team("weak_names")
    assert await _secret(bot, SECOND, "06/12/1987ab") == team("weak_dates")
    assert await _secret(bot, SECOND, PASSPHRASE) == team("enroll_again")
    assert await _secret(bot, SECOND, PASSPHRASE + "x") == team("enroll_mismatch")
    assert await coord_store.active_coordinators(bot.runtime.db.conn) == []
    # Starting over means a first passphrase again: the old one is not held any more.
    assert await _secret(bot, SECOND, SECOND_PASSPHRASE) == team("enroll_again")
    assert await _secret(bot, SECOND, PASSPHRASE) == team("enroll_mismatch")
    assert await _secret(bot, SECOND, SECOND_PASSPHRASE) == team("enroll_again")
    enrolled = await _secret(bot, SECOND, SECOND_PASSPHRASE)
    assert enrolled.startswith("You are enrolled as coordinator C-")
    [row] = await coord_store.active_coordinators(bot.runtime.db.conn)
    assert unlock(row.protected_private_key, SECOND_PASSPHRASE) is not None
