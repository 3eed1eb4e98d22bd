"""The state and helpers the parts of the coordination service share.

Each part (``enrolment``, ``workflow``, ``relay``, ``teams``, ``audit``) is a mixin over
``ServiceBase``; ``service`` puts them together and dispatches commands.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import aiosqlite

from bot.coordination import Action, CaseState, commands_for, transition
from bot.coordination.teams import Teams, sees_person
from bot.coordination.vetting import Step
from bot.coordination.words import Words
from bot.crypto import (
    Argon2Cost,
    CaseKey,
    CryptoError,
    MasterKey,
    UnlockedKey,
    Vault,
    open_case_dropbox,
)
from bot.i18n import COORDINATOR_LANGUAGES, Catalog, CoordinatorCatalog
from bot.intake.events import Reply
from bot.intake.questionnaire import Questionnaire
from bot.services import audit
from bot.services.keyring import KeyRing
from bot.services.limits import AttemptLimiter
from bot.services.outbox import Outbox, OutMessage
from bot.services.sealing import holders_by_team
from bot.store import Database
from bot.store import cases as case_store
from bot.store import coordination as store

PENDING_SECONDS = 300
UNLOCK_ATTEMPTS = 5
UNLOCK_WINDOW_SECONDS = 900.0


@dataclass(frozen=True)
class CoordinationSettings:
    recovery_public_key: bytes
    teams: Teams = field(default_factory=Teams)  # none: one team, notices to its group
    two_person_approval: bool = False
    case_view_ttl_seconds: int = 300
    unlock_idle_seconds: int = 900
    unlock_max_seconds: int = 8 * 3600
    invite_ttl_seconds: int = 48 * 3600
    argon2: Argon2Cost | None = None
    master_keys: tuple[MasterKey, ...] = ()  # current first: the audit chain spans rotations
    vetting: tuple[Step, ...] = ()  # the organisation's steps, in order (none: approval as ever)
    checkin_grace_seconds: int = 2 * 3600  # a check-in unanswered this long is missed
    team_checkin_grace: Mapping[str, int] = field(default_factory=dict)  # by team, if set


@dataclass(frozen=True)
class CoordIncoming:
    """A message in a private chat or the coordinators' group, as the transport saw it."""

    user_id: int
    chat_id: int
    private: bool
    message_id: int
    text: str
    command: str | None = None
    arg: str = ""
    language: str = ""  # the sender's Telegram app language, the default at enrolment


@dataclass(frozen=True)
class CoordResponse:
    """``delete`` goes first (a passphrase must vanish at once); ``expire`` marks replies
    that show case content, to be deleted after the configured time."""

    replies: tuple[Reply, ...] = ()
    delete: tuple[int, ...] = ()
    expire: bool = False
    menu: tuple[str, ...] = ()  # commands to show in this chat's menu from now on


class Refused(Exception):
    """A command that cannot go ahead; its message is the coordinator's answer."""


@dataclass(frozen=True)
class Pending:
    kind: str  # "enroll" (first passphrase), "confirm" (the same again) or "unlock"
    expires: float
    code: str = ""  # the invite being redeemed
    language: str = "en"  # the enrolling person's, until their row holds it
    # The first passphrase, in memory only until it is typed again; never in a repr or a log.
    first: str = field(default="", repr=False)


ENROLLING = ("enroll", "confirm")

#: A case and its fields as its reader's key opened them, in memory only.
Opened = tuple[store.WorkRow, Mapping[str, bytes]]


def say(*lines: str, protect: bool = False) -> CoordResponse:
    return CoordResponse((Reply("\n".join(lines), protect=protect),))


class ServiceBase:
    """The service's state and the helpers every part uses: opening a case, moving it,
    writing its fields, telling a coordinator, recording the audit entry."""

    def __init__(
        self,
        db: Database,
        vault: Vault,
        questionnaire: Questionnaire,
        catalog: Catalog,
        outbox: Outbox,
        settings: CoordinationSettings,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.vault = vault
        self.questionnaire = questionnaire
        self.catalog = catalog
        self.texts = CoordinatorCatalog()
        self.outbox = outbox
        self.settings = settings
        self.clock = clock
        self.keys = KeyRing(settings.unlock_idle_seconds, settings.unlock_max_seconds)
        self._pending: dict[bytes, Pending] = {}
        # Every coordinator's pseudonym, read once: an applicant's typed answer passes through
        # here first, and must not cost a database lookup to be told it is no coordinator's.
        self._pseudonyms: set[bytes] | None = None
        self._unlock_limiter = AttemptLimiter(UNLOCK_ATTEMPTS, UNLOCK_WINDOW_SECONDS)
        self._awaiting_reply: dict[bytes, tuple[str, float]] = {}
        self._acting = asyncio.Lock()

    @property
    def teams(self) -> Teams:
        return self.settings.teams

    def _forget_stale_prompts(self) -> None:
        """A first passphrase nobody typed again must not stay in memory until its owner
        happens to write: it goes with the prompt's time, on this regular sweep."""
        now = self.clock()
        for pseudonym, pending in list(self._pending.items()):
            if pending.expires < now:
                del self._pending[pseudonym]

    async def _team_holders(
        self, conn: aiosqlite.Connection, team: str | None
    ) -> list[store.CoordinatorRow]:
        """The active coordinators who get a sealed copy of a case of ``team``."""
        return (await holders_by_team(conn))(team)

    def _t(self, who: store.CoordinatorRow | str | None, key: str, /, **params: object) -> str:
        """A coordinator text in ``who``'s language (a row, or a language code)."""
        lang = who.language if isinstance(who, store.CoordinatorRow) else who
        return self.texts.text(lang, key, **params)

    async def _known_coordinator(
        self, me: store.CoordinatorRow, typed: str
    ) -> store.CoordinatorRow | None:
        """The active coordinator a handle names, if ``me`` may know of them (see
        ``sees_person``): another team's people are answered as no one."""
        target = await store.coordinator_by_handle(self.db.conn, typed.strip().lstrip("@").upper())
        if target is None or target.status != "active":
            return None
        mine = await store.membership_of(self.db.conn, me.id)
        theirs = await store.membership_of(self.db.conn, target.id)
        return target if sees_person(mine, theirs) else None

    def _no_coordinator(self, me: store.CoordinatorRow, typed: str) -> str:
        return self._t(me, "no_coordinator", handle=typed.strip() or "C-…")

    async def _seen(
        self, me: store.CoordinatorRow, inc: CoordIncoming
    ) -> Callable[[str | None], bool]:
        """Which teams' cases exist for this person in this chat (see ``Teams.sees_in``)."""
        member = await store.membership_of(self.db.conn, me.id)

        def seen(team: str | None) -> bool:
            return self.teams.sees_in(member, team, inc.chat_id, private=inc.private)

        return seen

    async def _move(
        self,
        me: store.CoordinatorRow,
        work: store.WorkRow,
        action: Action,
        *,
        assignee: str | None,
        audit: str,
        notify: tuple[str, str] | None = None,  # (coordinator id, text key), told the code
        write: tuple[CaseKey, Mapping[str, bytes]] | None = None,
        tell: tuple[int, OutMessage] | None = None,
    ) -> None:
        """One state change with everything it causes, in one transaction: fields written
        under the case key, the audit entry, and messages for a coordinator or the applicant."""
        new_state = transition(CaseState(work.status), action)
        async with self.db.transaction() as conn:
            if write is not None:
                await self._write_fields(conn, work.case_id, write[0], write[1])
            await store.set_state(
                conn,
                work.case_id,
                status=new_state.value,
                assignee=assignee,
                pending_approval_by=None,
                now=self._now(),
            )
            await self._audit(conn, me.handle, audit, work.code)
            if notify is not None:
                await self._notify(conn, notify[0], notify[1], code=work.code)
            if tell is not None:
                await self.outbox.put(conn, *tell)

    async def _open(
        self, me: store.CoordinatorRow, work: store.WorkRow
    ) -> tuple[CaseKey, dict[str, bytes]]:
        """The case key and decrypted fields, or a refusal the coordinator reads."""
        key = await self._case_key(me, work)
        encrypted = await case_store.read_fields(self.db.conn, work.case_id)
        fields = {n: key.decrypt(v, case_id=work.case_id, field=n) for n, v in encrypted.items()}
        return key, await self._adopt_account(work.case_id, key, fields)

    # --- hooks the journey's parts fill in (``checkins``, ``accounts``) ---------------------

    async def _adopt_account(
        self, case_id: str, key: CaseKey, fields: dict[str, bytes]
    ) -> dict[str, bytes]:
        """The case's fields with the applicant's newest chat (see ``accounts``)."""
        return fields

    def _case_notes(self, me: store.CoordinatorRow, fields: Mapping[str, bytes]) -> list[str]:
        """Lines a case view starts with (an account that changed)."""
        return []

    async def _after_unlock(self, me: store.CoordinatorRow, key: UnlockedKey) -> list[str]:
        """Lines added to the answer to an unlock (check-ins armed again)."""
        return []

    async def _case_key(self, me: store.CoordinatorRow, work: store.WorkRow) -> CaseKey:
        """The case key from this coordinator's sealed copy, or a refusal they read."""
        key_of_mine = self.keys.peek(me.id, self.clock())
        sealed = await store.case_key_for(self.db.conn, work.case_id, me.id)
        refusal = Refused(self._t(me, "not_yours_key", code=work.code, handle=me.handle))
        if key_of_mine is None or sealed is None:
            raise refusal
        try:
            key = key_of_mine.open_case_key(sealed, case_id=work.case_id)
        except CryptoError:
            raise refusal from None
        self.keys.opened(me.id, self.clock())  # only now: a miss must not keep a key alive
        return key

    async def _inbox(self, case_id: str, key: CaseKey) -> list[tuple[int, str, bool]]:
        return await open_inbox(self.db.conn, case_id, key)

    def _record(self, by: str, text: str, **more: str) -> bytes:
        """What a coordinator (or the system) enters into a case (a note, a question, a
        decision, a step): who, when and what, to be sealed under the case key and never
        stored any other way."""
        return json.dumps({"at": self._now(), "by": by, "text": text, **more}).encode()

    @staticmethod
    def _next_entries(fields: Mapping[str, bytes], kind: str) -> Iterator[str]:
        """The names of the case's next entries of ``kind`` (``note:0003``, ``note:0004``…),
        numbered after those its opened fields already hold."""
        n = 1 + sum(1 for name in fields if name.startswith(kind + ":"))
        while True:
            yield f"{kind}:{n:04d}"
            n += 1

    async def _add_entry(
        self,
        conn: aiosqlite.Connection,
        me: store.CoordinatorRow,
        work: store.WorkRow,
        sealing: tuple[CaseKey, Mapping[str, bytes]],
        kind: str,
        record: bytes,
        *,
        audit: str,
    ) -> None:
        """One more numbered entry of ``kind`` sealed into the case (``sealing`` is its key and
        opened fields), and its audit entry, which names the action and the case and never the
        content; in the caller's transaction, with whatever else the command causes."""
        key, fields = sealing
        name = next(self._next_entries(fields, kind))
        await self._write_fields(conn, work.case_id, key, {name: record})
        await self._audit(conn, me.handle, audit, work.code)

    async def _write_fields(
        self, conn: aiosqlite.Connection, case_id: str, key: CaseKey, plain: Mapping[str, bytes]
    ) -> None:
        sealed = {n: key.encrypt(v, case_id=case_id, field=n) for n, v in plain.items()}
        await case_store.write_fields(conn, case_id, sealed, now=self._now())

    @staticmethod
    def _applicant(fields: Mapping[str, bytes]) -> tuple[int, str]:
        """The applicant's chat and language, from a case's opened fields."""
        return int(fields["chat_id"]), fields.get("language", b"en").decode()

    async def _notify(
        self, conn: aiosqlite.Connection, coordinator_id: str, key: str, **params: object
    ) -> None:
        """Queue a message for one coordinator, in the language they read."""
        row = await store.coordinator_by_id(conn, coordinator_id)
        if row is None or row.status != "active":
            return
        chat = self.vault.open_local(row.chat, purpose="coordinator-chat", context=row.id)
        await self.outbox.put(conn, int(chat), OutMessage(self._t(row, key, **params)))

    async def _openable(
        self, me: store.CoordinatorRow, rows: Sequence[store.WorkRow]
    ) -> list[Opened]:
        """Each case of ``rows`` this coordinator's unlocked key opens, with its opened fields;
        the others are left out without a word. In memory only, for what a view computes."""
        opened: list[Opened] = []
        for row in rows:
            try:
                opened.append((row, (await self._open(me, row))[1]))
            except Refused:
                continue
        return opened

    # What other parts add to the shared views; each part extends these and calls super().

    async def _before_approval(self, me: store.CoordinatorRow, work: store.WorkRow) -> None:
        """Raise ``Refused`` if the case may not be approved yet (nothing stops it here)."""

    async def _before_handoff(self, me: store.CoordinatorRow, work: store.WorkRow) -> None:
        """Raise ``Refused`` if the case may not be handed off yet (nothing stops it here)."""

    async def _case_sections(
        self, me: store.CoordinatorRow, work: store.WorkRow, fields: Mapping[str, bytes]
    ) -> list[str]:
        """Sections below a case view, from its fields just opened."""
        return []

    async def _queue_additions(
        self, me: store.CoordinatorRow, opened: Sequence[Opened]
    ) -> tuple[dict[str, list[str]], list[str]]:
        """For an unlocked reader's queue in their private chat: words after a case's line (by
        code) and lines below the list, from the cases they can open."""
        return {}, []

    async def _work_by_id(self, conn: aiosqlite.Connection, case_id: str) -> store.WorkRow | None:
        case = await case_store.get_case(conn, case_id)
        return await store.work_row_by_code(conn, case.code) if case and case.code else None

    def _commands(self, role: str) -> tuple[str, ...]:
        """The role's commands; /transfer only where there are teams to move a case between."""
        return tuple(name for name in commands_for(role) if name != "transfer" or self.teams.names)

    @property
    def _group_languages(self) -> tuple[Words, ...]:
        """Every coordinator language, for what the whole group reads."""
        return tuple(self._words_in(lang) for lang in COORDINATOR_LANGUAGES)

    def _words_in(self, lang: str | None) -> Words:
        """The coordinators' catalogue bound to one language, for lines the pure rules build
        (queue, audit, notices): they choose the keys, the reader's language the words."""

        def words(key: str, /, **params: object) -> str:
            return self.texts.text(lang, key, **params)

        return words

    def _words(self, me: store.CoordinatorRow) -> Words:
        """The words of the language this coordinator chose."""
        return self._words_in(me.language)

    async def _audit(
        self, conn: aiosqlite.Connection, actor: str, action: str, case_code: str | None
    ) -> None:
        await audit.record(
            conn, self.vault, at=self._now(), actor=actor, action=action, case_code=case_code
        )

    def _digest(self, text: str, purpose: str) -> str:
        return self.vault.mac(text.encode(), purpose=purpose).hex()

    def _now(self) -> int:
        return int(self.clock())


async def open_inbox(
    conn: aiosqlite.Connection, case_id: str, key: CaseKey
) -> list[tuple[int, str, bool]]:
    """The applicant's answers deposited into a case, opened with its key: ``(at, text,
    encoding uncertain)``; the case view words the warning in its reader's language."""
    dropbox = await store.get_dropbox(conn, case_id)
    if dropbox is None:
        return []
    private = open_case_dropbox(key, dropbox[1], case_id=case_id)
    answers = []
    for _id, sealed, _at in await store.inbox(conn, case_id):
        data = json.loads(private.open_sealed(sealed, context=case_id))
        if "text" not in data:
            continue  # a new account's chat, not an answer (see ``accounts``)
        answers.append((int(data["at"]), data["text"], bool(data.get("uncertain"))))
    return sorted(answers)  # stored in no order (random ids): the sealed time orders them
