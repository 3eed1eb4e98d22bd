"""End to end: an applicant submits, a coordinator enrols, vets, asks, approves, hands off.

Everything runs for real: the Application polling the local Bot API server, the SQLite file,
Argon2id, X25519 sealing. The second half plays a seizure of the server.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bot.crypto import CryptoError, MasterKey, Vault, load_recovery_key, unlock
from bot.ops.backup import backup_database
from bot.ops.recovery import Grants, grant_all, import_grants
from bot.devserver import DevServer
from bot.devserver.settle import settle
from bot.store import cases as case_store
from bot.store import coordination as coord_store
from tests.conftest import (
    GROUP_CHAT_ID,
    RECOVERY_PRIVATE,
    Applicant,
    RunningBot,
    running_bot,
)
from tests.intake_driver import CATALOG, answer_all, begin

APPLICANT = 620_000_001
LEAD = 620_000_100
SECOND = 620_000_101
STRANGER = 620_000_666
PASSPHRASE = "river lantern copper seven"
SECOND_PASSPHRASE = "quiet harbour maple ninety"


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


async def _enrol(bot: RunningBot, user: int, role: str, passphrase: str) -> Applicant:
    coordinator = Applicant(bot.server, user)
    code = await bot.runtime.coordination.create_invite(role)
    await coordinator.send(f"/enroll {code}")
    assert "Choose a passphrase" in await coordinator.last_text()
    sent = await bot.server.send_text(user, passphrase, first_name="Coord")
    await bot.server.wait_for_bot_message(user, after_id=sent["message_id"], timeout=30.0)
    await settle(bot.server, quiet=0.2)
    record = await bot.server.message(user, sent["message_id"])
    assert record is not None and record.deleted  # the passphrase left the chat at once
    assert "You are enrolled" in await coordinator.last_text()
    return coordinator


async def _unlock(bot: RunningBot, coordinator: Applicant, passphrase: str) -> None:
    await coordinator.send("/unlock")
    sent = await bot.server.send_text(coordinator.user_id, passphrase, first_name="Coord")
    await bot.server.wait_for_bot_message(
        coordinator.user_id, after_id=sent["message_id"], timeout=30.0
    )
    await settle(bot.server, quiet=0.2)
    record = await bot.server.message(coordinator.user_id, sent["message_id"])
    assert record is not None and record.deleted  # the passphrase left the chat at once
    assert (await coordinator.last_text()).startswith("Unlocked.")


async def _group_texts(server: DevServer) -> list[str]:
    return [m.text or "" for m in await server.messages(GROUP_CHAT_ID) if m.from_bot]


async def _wait_for_text(server: DevServer, chat: int, needle: str) -> str:
    async def found() -> str | None:
        for message in reversed(await server.messages(chat)):
            if message.from_bot and message.text and needle in message.text:
                return message.text
        return None

    return await server.wait_for(found, timeout=15.0)


async def test_submit_enrol_vet_ask_approve_hand_off(
    server: DevServer, tmp_path: Path, master_key: MasterKey
) -> None:
    async with running_bot(server, tmp_path, master_key) as bot:
        await server.send_group_text(GROUP_CHAT_ID, LEAD, "hello", chat_type="supergroup")
        code, phrase = await _submit(server)
        notice = await _wait_for_text(server, GROUP_CHAT_ID, f"New case {code}")
        assert "Ko Zaw" not in notice and "8pm" not in notice  # no personal content

        # Sent before anyone enrolled, the case is sealed to the recovery key alone: the master
        # key never held it.
        conn = bot.runtime.db.conn
        case = await case_store.get_case_by_code(conn, code)
        assert case is not None and case.wrapped_key is None

        lead = await _enrol(bot, LEAD, "lead", PASSPHRASE)
        await lead.send(f"/show {code}")
        assert "key is locked" in await lead.last_text()
        await _unlock(bot, lead, PASSPHRASE)
        await lead.send(f"/show {code}")
        assert "does not open" in await lead.last_text()  # nothing was sealed to a newcomer

        # The operator, offline with a backup and the recovery key, grants the lead every case.
        handle = (await coord_store.active_coordinators(conn))[0].handle
        copy = tmp_path / "offline-copy.sqlite3"
        await backup_database(bot.runtime.db, copy)
        grants = await grant_all(copy, load_recovery_key(RECOVERY_PRIVATE), handle)
        assert await import_grants(bot.runtime.db, Grants.load(grants.dump())) == 1

        await server.send_group_text(GROUP_CHAT_ID, LEAD, "/queue", chat_type="supergroup")
        queue = await _wait_for_text(server, GROUP_CHAT_ID, "Open cases:")
        assert code in queue and "unclaimed" in queue

        await lead.send(f"/claim {code}")
        assert f"Case {code} is yours" in await lead.last_text()
        await lead.send(f"/show {code}")
        shown = (await lead.visible())[-1]
        assert shown.protect_content and shown.text is not None
        assert "Ko Zaw" in shown.text and "I can talk after 8pm" in shown.text

        await lead.send(f"/ask {code} Which town are you near?")
        assert "Question sent" in await lead.last_text()
        person = Applicant(server, APPLICANT)
        question = await _wait_for_text(server, APPLICANT, "Which town are you near?")
        assert question.splitlines()[0] == "You have a new message."
        await person.tap(CATALOG.text("en", "reply"))
        await person.send("Near Monywa")
        assert await person.last_text() == CATALOG.text("en", "reply_thanks")
        await _wait_for_text(server, LEAD, "the applicant answered")
        await lead.send(f"/show {code}")
        assert "applicant answered: Near Monywa" in await lead.last_text()

        await lead.send(f"/note {code} Story is consistent")
        await lead.send(f"/approve {code}")
        assert "is approved" in await lead.last_text()
        await lead.send(f"/handoff {code} A volunteer will call you on Friday evening.")
        told = await _wait_for_text(server, LEAD, "is handed off")
        assert phrase in told  # the coordinator gets the applicant's verification phrase
        next_step = await _wait_for_text(server, APPLICANT, "Friday evening")
        assert phrase in next_step and next_step.splitlines()[0] == "You have a new message."

        report = await bot.runtime.coordination.verify_audit()
        assert report.ok and report.checked >= 8

    # --- seizure: the database, the config and the master key, but no passphrase -------------
    await _seizure(tmp_path / "bot.sqlite3", master_key, code, phrase)


async def _seizure(db_path: Path, master_key: MasterKey, code: str, phrase: str) -> None:
    from bot.store import open_database

    raw = b"".join(p.read_bytes() for p in db_path.parent.glob(db_path.name + "*"))
    assert phrase.encode() not in raw and b"Ko Zaw" not in raw
    db = await open_database(db_path)
    try:
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
    finally:
        await db.close()


async def test_unlock_attempts_are_limited_even_for_the_right_passphrase(
    bot: RunningBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Someone holding a coordinator's phone gets five guesses; then even the right passphrase
    is refused for a while, and every guess leaves the chat at once."""
    monkeypatch.setattr("bot.services.coordination.WRONG_PASSPHRASE_DELAY", 0.0)
    lead = await _enrol(bot, LEAD, "lead", PASSPHRASE)
    for guess in [f"wrong guess number {n}" for n in range(5)] + [PASSPHRASE]:
        await lead.send("/unlock")
        sent = await bot.server.send_text(LEAD, guess, first_name="Coord")
        await bot.server.wait_for_bot_message(LEAD, after_id=sent["message_id"], timeout=30.0)
        await settle(bot.server, quiet=0.2)
        record = await bot.server.message(LEAD, sent["message_id"])
        assert record is not None and record.deleted
    assert await lead.last_text() == "Too many attempts. Try again later."
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
    assert "queue is empty" in await coordinator.last_text()
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
        await lead.send(f"/claim {code}")
        await lead.send(f"/approve {code}")
        assert "a second coordinator must confirm" in await lead.last_text()
        await lead.send(f"/approve {code}")
        assert "approved this case already" in await lead.last_text()
        work = await coord_store.work_row_by_code(bot.runtime.db.conn, code)
        assert work is not None and work.status == "claimed"
        await second.send(f"/approve {code}")
        assert "is approved" in await second.last_text()
        work = await coord_store.work_row_by_code(bot.runtime.db.conn, code)
        assert work is not None and work.status == "approved"


def test_menu_commands_of_a_coordinator_are_scoped_to_their_chat() -> None:
    from bot.services.coordination import commands_for

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
        await settle(server, quiet=0.2)
        assert "does not open your key" in await second.last_text()
        await _unlock(bot, second, SECOND_PASSPHRASE)

        # Enrolled after the case was sealed: nothing to read until an unlocked lead grants it.
        await lead.send(f"/claim {code}")
        handle = (await coord_store.active_coordinators(bot.runtime.db.conn))[1].handle
        await lead.send(f"/reassign {code} {handle}")
        assert f"now with {handle}" in await lead.last_text()
        await _wait_for_text(server, SECOND, f"Case {code} was assigned to you.")
        await second.send(f"/show {code}")
        assert "does not open" in await second.last_text()
        await _unlock(bot, lead, PASSPHRASE)
        await lead.send(f"/grant {handle}")
        assert "can now open 1 more case" in await lead.last_text()
        await second.send(f"/show {code}")
        assert "Ko Zaw" in await second.last_text()

        await second.send(f"/reject {code} Story does not hold together")
        assert "rejected" in await second.last_text()
        refusal = await _wait_for_text(server, APPLICANT, "cannot continue with your form")
        assert "Story" not in refusal  # the applicant never sees the reason
        await second.send(f"/approve {code}")
        assert "cannot be approved" in await second.last_text()  # an illegal move, refused

        await lead.send("/stats")
        assert "rejected: 1" in await lead.last_text()
        await second.send(f"/purge {code}")
        assert await second.last_text() == "Only a lead can do that."
        await lead.send(f"/purge {code}")
        assert "shredded" in await lead.last_text()
        assert await case_store.get_case_by_code(bot.runtime.db.conn, code) is None
        await lead.send("/audit")
        audit = await lead.last_text()
        assert (
            audit.startswith("Audit chain: intact") and "purged" in audit and "Ko Zaw" not in audit
        )


async def test_an_invite_is_spent_by_the_enrolment_not_by_its_first_step(
    server: DevServer, tmp_path: Path, master_key: MasterKey
) -> None:
    """A restart between ``/enroll`` and the passphrase must not burn the operator's invite;
    and two people holding one code cannot both enrol: the first to finish does."""
    async with running_bot(server, tmp_path, master_key) as bot:
        code = await bot.runtime.coordination.create_invite("coordinator")
        await Applicant(server, LEAD).send(f"/enroll {code}")
        assert "Choose a passphrase" in await Applicant(server, LEAD).last_text()
    async with running_bot(server, tmp_path, master_key) as bot:  # the pending step is gone
        first, second = Applicant(server, LEAD), Applicant(server, SECOND)
        await first.send(f"/enroll {code}")
        await second.send(f"/enroll {code}")
        assert "Choose a passphrase" in await first.last_text()
        assert "Choose a passphrase" in await second.last_text()
        await first.send(PASSPHRASE)
        assert "You are enrolled" in await first.last_text()
        await second.send(SECOND_PASSPHRASE)
        assert "no longer valid" in await second.last_text()
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
    await settle(bot.server, quiet=0.2)
    record = await bot.server.message(SECOND, sent["message_id"])
    assert record is not None and record.deleted
    assert "/unlock first" in await coordinator.last_text()
    async with bot.runtime.db.conn.execute("SELECT count(*) FROM cases") as cur:
        assert await cur.fetchone() == (0,)  # no draft was started from it
