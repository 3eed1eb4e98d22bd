"""The organisation's way back into its cases, with the offline recovery key.

Every submitted case key is sealed to the recovery key's public half; its private half never
reaches the server. On an offline machine, with a copy of the database (a ``backup``) and the
private half from its USB stick, an operator can read a case (``recover show``) or make sealed
copies of every case key for a coordinator (``recover grant``): a case sent before anyone
enrolled, or held only by people who lost their passphrase. The grants file holds nothing but
copies sealed to that coordinator's public key, so carrying it to the server and loading it
(``import-grants``) reveals nothing to whoever sees it on the way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from bot.coordination.teams import receives
from bot.crypto import CaseKey, CryptoError, UnlockedKey, Vault, seal_case_key
from bot.i18n import Catalog
from bot.intake.questionnaire import Questionnaire
from bot.services import audit
from bot.services.case_view import render_case
from bot.services.coordination import open_inbox
from bot.store import Database, open_database
from bot.store import cases as case_store
from bot.store import coordination as store
from bot.store.query import every

GRANTS_FORMAT = "exit-intake-grants/1"


class RecoveryError(Exception):
    """Something the operator must fix; the message is one line that says what."""


@dataclass(frozen=True)
class Grants:
    """Case keys sealed to one coordinator, ready to load into the live database."""

    coordinator_id: str
    handle: str
    copies: dict[str, bytes]  # case id -> case key sealed to the coordinator's public key

    def dump(self) -> str:
        return json.dumps(
            {
                "format": GRANTS_FORMAT,
                "coordinator_id": self.coordinator_id,
                "handle": self.handle,
                "copies": {case_id: sealed.hex() for case_id, sealed in self.copies.items()},
            },
            indent=1,
        )

    @classmethod
    def load(cls, text: str) -> Grants:
        try:
            data = json.loads(text)
            if data.get("format") != GRANTS_FORMAT:
                raise ValueError
            copies = {str(k): bytes.fromhex(v) for k, v in data["copies"].items()}
            return cls(str(data["coordinator_id"]), str(data["handle"]), copies)
        except (ValueError, KeyError, TypeError, AttributeError):
            raise RecoveryError("that file is not a grants file made by `recover grant`") from None


async def show_case(
    database: Path,
    key: UnlockedKey,
    code: str,
    *,
    questionnaire: Questionnaire,
    catalog: Catalog,
) -> str:
    """One case, as a coordinator would see it, opened with the recovery key."""
    db = await _open_copy(database)
    try:
        case = await case_store.get_case_by_code(db.conn, code.strip().upper())
        if case is None:
            raise RecoveryError(f"no case {code} in that database")
        case_key = await _case_key(db, key, case.case_id, code)
        encrypted = await case_store.read_fields(db.conn, case.case_id)
        fields = {
            name: case_key.decrypt(blob, case_id=case.case_id, field=name)
            for name, blob in encrypted.items()
        }
        inbox = await open_inbox(db.conn, case.case_id, case_key)
        return render_case(
            code=case.code or code,
            status=case.status,
            submitted_at=case.submitted_at,
            fields=fields,
            inbox=inbox,
            questionnaire=questionnaire,
            catalog=catalog,
        )
    finally:
        await db.close()


async def grant_all(database: Path, key: UnlockedKey, handle: str) -> Grants:
    """Every case of the coordinator's teams the recovery key opens, sealed to them.

    Another team's case is left out: the database would refuse its copy, and a grant must not
    undo the teams' separation."""
    db = await _open_copy(database)
    try:
        target = await store.coordinator_by_handle(db.conn, handle.strip().upper())
        if target is None or target.status != "active":
            raise RecoveryError(f"no active coordinator {handle} in that database")
        member = await store.membership_of(db.conn, target.id)
        copies: dict[str, bytes] = {}
        for case_id, code, team in await every(
            db.conn,
            "SELECT id, code, team FROM cases WHERE recovery_key IS NOT NULL ORDER BY code",
        ):
            if not receives(member, team):
                continue
            case_key = await _case_key(db, key, str(case_id), str(code))
            copies[str(case_id)] = seal_case_key(case_key, target.public_key, case_id=case_id)
        return Grants(target.id, target.handle, copies)
    finally:
        await db.close()


async def import_grants(db: Database, grants: Grants, *, vault: Vault, now: int) -> int:
    """Load sealed copies into the live database, with an audit entry; cases shredded, or
    moved to a team the coordinator is not in, meanwhile are skipped.

    The schema refuses a copy for a coordinator who is no longer active."""
    added = 0
    async with db.transaction() as conn:
        target = await store.coordinator_by_id(conn, grants.coordinator_id)
        if target is None or target.status != "active":
            raise RecoveryError(f"{grants.handle} is not an active coordinator here")
        member = await store.membership_of(conn, target.id)
        for case_id, sealed in grants.copies.items():
            if await case_store.get_case(conn, case_id) is None:
                continue
            if not receives(member, await store.case_team(conn, case_id)):
                continue
            await store.add_case_keys(conn, case_id, {target.id: sealed})
            added += 1
        await audit.record(conn, vault, at=now, actor="operator", action="imported", case_code=None)
    return added


async def _case_key(db: Database, key: UnlockedKey, case_id: str, code: str) -> CaseKey:
    row = await every(db.conn, "SELECT recovery_key FROM cases WHERE id = ?", (case_id,))
    if not row or row[0][0] is None:
        raise RecoveryError(f"case {code} has no copy for the recovery key")
    try:
        return key.open_case_key(bytes(row[0][0]), case_id=case_id)
    except CryptoError:
        raise RecoveryError(
            f"the recovery key does not open case {code}: is it this organisation's key?"
        ) from None


async def _open_copy(database: Path) -> Database:
    _must_exist(database)
    return await open_database(database, migrate=False)


def _must_exist(database: Path) -> None:
    if not database.is_file():
        raise RecoveryError(f"no database file at {database}")
