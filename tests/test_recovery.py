"""The recovery key, as an operator uses it: made offline, every case sealed to it, a case read
and granted from a backup on another machine, the grants loaded on the server.

The real bot takes the form (sent before anyone enrolled, so no coordinator holds it);
everything else runs as ``python -m bot`` subprocesses, as an operator would type it.
"""

from __future__ import annotations

import stat
from pathlib import Path

from bot.crypto import MasterKey
from bot.devserver import DevServer
from bot.store import cases as case_store
from bot.store import coordination as coord_store
from tests.conftest import Applicant, running_bot
from tests.intake_driver import answer_all, begin
from tests.test_cli import _bot, _env

APPLICANT = 640_000_001
LEAD = 640_000_100
CANARY = "Ko Recovery Canary"


def test_the_private_half_is_written_once_for_its_owner_alone(tmp_path: Path) -> None:
    key_file = tmp_path / "recovery.key"
    made = _bot("recovery-keygen", "--out", str(key_file), env=_env())
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith('recovery_public_key = "recovery-public:')
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    private = key_file.read_text(encoding="utf-8")
    assert private.startswith("recovery-private:") and private[17:-1] not in made.stdout
    again = _bot("recovery-keygen", "--out", str(key_file), env=_env())
    assert again.returncode == 1 and "never overwritten" in again.stderr
    assert key_file.read_text(encoding="utf-8") == private


async def test_a_case_nobody_holds_is_read_and_granted_offline(
    server: DevServer, tmp_path: Path
) -> None:
    key_file = tmp_path / "recovery.key"
    made = _bot("recovery-keygen", "--out", str(key_file), env=_env())
    public = made.stdout.split('"')[1]
    other_key = tmp_path / "someone-elses.key"
    _bot("recovery-keygen", "--out", str(other_key), env=_env())
    master = MasterKey.generate()
    env = _env(BOT_TOKEN=server.token, BOT_MASTER_KEY=master.to_text())
    async with running_bot(server, tmp_path, master, recovery_public=public) as bot:
        person = Applicant(server, APPLICANT)
        await begin(person)
        await answer_all(person, "en", {"call_name": CANARY})
        await person.tap("Send")
        receipt = (await person.visible())[0].text or ""
        code = receipt.split("receipt code: ")[1].split("-")[0]
        lead = Applicant(server, LEAD)
        await lead.send(f"/enroll {await bot.runtime.coordination.create_invite('lead')}")
        for _ in range(2):  # typed twice at enrolment
            await lead.send("copper lantern river ninety")
        conn = bot.runtime.db.conn
        [row] = await coord_store.active_coordinators(conn)
        case = await case_store.get_case_by_code(conn, code)
        assert case is not None
        assert await coord_store.case_key_for(conn, case.case_id, row.id) is None

        config = str(bot.config.path)
        copy = tmp_path / "copy.sqlite3"
        assert _bot("backup", str(copy), "--config", config, env=env).returncode == 0

        # Offline: another machine with the copy and the USB stick.
        shown = _bot(
            "recover", "show", code, "--key", str(key_file), "--database", str(copy), env=_env()
        )
        assert shown.returncode == 0, shown.stderr
        assert CANARY in shown.stdout and f"Case {code}" in shown.stdout
        wrong = _bot(
            "recover", "show", code, "--key", str(other_key), "--database", str(copy), env=_env()
        )
        assert wrong.returncode == 1 and CANARY not in wrong.stdout + wrong.stderr
        assert wrong.stderr.strip() == (
            f"error: the recovery key does not open case {code}: is it this organisation's key?"
        )
        grants = tmp_path / "grants.json"
        offline = ("--key", str(key_file), "--database", str(copy), "--out", str(grants))
        granted = _bot("recover", "grant", row.handle, *offline, env=_env())
        assert granted.returncode == 0, granted.stderr
        assert CANARY not in grants.read_text(encoding="utf-8")  # sealed copies only

        # Back on the server.
        loaded = _bot("import-grants", str(grants), "--config", config, env=env)
        assert loaded.returncode == 0, loaded.stderr
        assert loaded.stdout.strip() == "1 case key(s) now sealed to the coordinator"
        assert await coord_store.case_key_for(conn, case.case_id, row.id) is not None
