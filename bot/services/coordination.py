"""The coordinators' side: enrolment, unlocking, the queue, vetting, relays and the audit log.

Rules (who may do what, which state follows which) live in ``bot.coordination`` as plain
Python; this service applies them to rows, keys and the outbox. Anything that must reach
someone else (a group notice, a question for an applicant) is queued in the same transaction
as the change behind it.

Someone who is not an active coordinator gets ``None`` back for every admin command, and the
transport answers them exactly as it answers any unknown command: nothing reveals that admin
commands exist.

Every word a coordinator reads comes from the coordinators' catalogue in the language they chose
(``/language``; at enrolment, their Telegram app's), and every refusal names the command that
would go through: they work under pressure, many in Burmese, and a bare "no" costs a case time.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace

import aiosqlite

from bot.coordination import (
    MIN_LENGTH,
    Action,
    ApprovalRefused,
    CaseState,
    ChainReport,
    Denied,
    IllegalTransition,
    QueueItem,
    approve,
    commands_for,
    decide,
    locked_queue_lines,
    notice_text,
    order,
    passphrase_problem,
    priority,
    queue_lines,
    relation_of,
    transition,
)
from bot.coordination.access import PERMISSIONS, Rule
from bot.coordination.approval import ALREADY_APPROVED
from bot.coordination.audit import ViewedEntry, entry_line, team_view
from bot.coordination.teams import ALL_TEAMS, Teams, may_manage, receives, sees_person
from bot.coordination.words import Words
from bot.crypto import (
    ALPHABET,
    Argon2Cost,
    CaseKey,
    CoordinatorKeys,
    CryptoError,
    DecryptionError,
    MasterKey,
    UnlockedKey,
    Vault,
    WrongPassphrase,
    canonical_code,
    new_case_dropbox,
    open_case_dropbox,
    seal,
    seal_case_key,
    unlock,
)
from bot.i18n import (
    COORDINATOR_LANGUAGES,
    Catalog,
    CoordinatorCatalog,
    coordinator_language,
)
from bot.intake.events import Button, Reply
from bot.intake.questionnaire import Questionnaire
from bot.logs import get_logger
from bot.ops.rotation import adopt_coordinator, verify_audit_log
from bot.ops.upgrade import WAITING_HINT, seal_master_wrapped
from bot.services import audit
from bot.services.audit_head import head_notice
from bot.services.case_view import render_case
from bot.services.intake import Submission
from bot.services.keyring import KeyRing
from bot.services.limits import AttemptLimiter
from bot.services.outbox import Outbox, OutMessage
from bot.services.sealing import holders_by_team, sealed_copies
from bot.store import Database
from bot.store import cases as case_store
from bot.store import coordination as store
from bot.store import upgrade as upgrade_store
from bot.store.writes import apply
from bot.text import normalize_input

log = get_logger(__name__)

PENDING_SECONDS = 300
WRONG_PASSPHRASE_DELAY = 2.0
INVITE_BYTES = 16
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


class _Refused(Exception):
    """A command that cannot go ahead; its message is the coordinator's answer."""


@dataclass(frozen=True)
class _Pending:
    kind: str  # "enroll" (first passphrase), "confirm" (the same again) or "unlock"
    expires: float
    code: str = ""  # the invite being redeemed
    language: str = "en"  # the enrolling person's, until their row holds it
    # The first passphrase, in memory only until it is typed again; never in a repr or a log.
    first: str = field(default="", repr=False)


_ENROLLING = ("enroll", "confirm")

# Posted to the coordinators' group, read by everyone there: both languages on one line.
_GROUP_SECOND_APPROVAL = (
    "Case {code} needs a second coordinator to confirm: /approve {code}"
    " · {code} ကို ဒုတိယ ညှိနှိုင်းရေးမှူး တစ်ယောက်က /approve {code} နဲ့ အတည်ပြုရမယ်"
)
_GROUP_TRANSFERRED = (
    "Case {code} was moved to this team: /claim {code} · {code} ကို ဒီအဖွဲ့ဆီ လွှဲပေးလိုက်ပြီ။ /claim {code}"
)


def _say(*lines: str, protect: bool = False) -> CoordResponse:
    return CoordResponse((Reply("\n".join(lines), protect=protect),))


class CoordinationService:
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
        self._pending: dict[bytes, _Pending] = {}
        # Every coordinator's pseudonym, read once: an applicant's typed answer passes through
        # here first, and must not cost a database lookup to be told it is no coordinator's.
        self._pseudonyms: set[bytes] | None = None
        self._unlock_limiter = AttemptLimiter(UNLOCK_ATTEMPTS, UNLOCK_WINDOW_SECONDS)
        self._awaiting_reply: dict[bytes, tuple[str, float]] = {}
        self._acting = asyncio.Lock()

    @property
    def teams(self) -> Teams:
        return self.settings.teams

    # --- operator side (CLI) ---------------------------------------------------------------

    async def create_invite(self, role: str, teams: tuple[str, ...] = ()) -> str:
        """A one-time code for ``/enroll``; only its keyed digest is stored. ``teams``: those
        the person joins (a lead leads them); none, the default team (a lead: every team)."""
        if role not in ("coordinator", "lead"):
            raise ValueError("role must be coordinator or lead")
        if teams and not self.teams.names:
            raise ValueError("--team needs teams in the config ([[coordination.teams]])")
        for name in teams:
            if not self.teams.known(name):
                raise ValueError(f"no team {name!r}; teams: {', '.join(self.teams.names)}")
        code = canonical_code("".join(secrets.choice(ALPHABET) for _ in range(20)))
        now = self._now()
        async with self.db.transaction() as conn:
            await store.add_invite(
                conn,
                code_hash=self._digest(code, "invite"),
                role=role,
                now=now,
                expires_at=now + self.settings.invite_ttl_seconds,
                teams=tuple(dict.fromkeys(teams)),
            )
            await self._audit(conn, "operator", "invited", None)
        return code

    async def revoke(self, handle: str, *, actor: str = "operator") -> int | None:
        """Remove a coordinator; their sealed copies go, so their key opens nothing any more."""
        async with self.db.transaction() as conn:
            row = await store.coordinator_by_handle(conn, handle)
            if row is None or row.status != "active":
                return None
            removed = await store.revoke_coordinator(conn, row.id, now=self._now())
            await self._audit(conn, actor, "revoked", None)
        self.keys.forget(row.id)
        log.info("coordinator_revoked", count=removed)
        return removed

    async def verify_audit(self) -> ChainReport:
        """The whole chain, across key rotations (anchors made at each rotation)."""
        return await verify_audit_log(self.db.conn, self.settings.master_keys)

    # --- case views vanish after a while --------------------------------------------------

    async def schedule_deletion(self, chat_id: int, message_ids: list[int]) -> None:
        delete_at = self._now() + self.settings.case_view_ttl_seconds
        async with self.db.transaction() as conn:
            for message_id in message_ids:
                await store.schedule_deletion(
                    conn,
                    chat=self.vault.seal_local(
                        str(chat_id).encode(), purpose="deletion", context="chat"
                    ),
                    message_id=message_id,
                    delete_at=delete_at,
                )

    async def run_due_deletions(self, delete: Callable[[int, int], Awaitable[None]]) -> int:
        done = 0
        for deletion_id, chat, message_id in await store.due_deletions(
            self.db.conn, now=self._now()
        ):
            chat_id = int(self.vault.open_local(chat, purpose="deletion", context="chat"))
            await delete(chat_id, message_id)
            async with self.db.transaction() as conn:
                await store.forget_deletion(conn, deletion_id)
            done += 1
        self.keys.sweep(self.clock())
        self._forget_stale_prompts()
        return done

    def _forget_stale_prompts(self) -> None:
        """A first passphrase nobody typed again must not stay in memory until its owner
        happens to write: it goes with the prompt's time, on this regular sweep."""
        now = self.clock()
        for pseudonym, pending in list(self._pending.items()):
            if pending.expires < now:
                del self._pending[pseudonym]

    # --- submissions ------------------------------------------------------------------------

    async def on_submit(self, conn: aiosqlite.Connection, sub: Submission) -> None:
        """Inside the submission's transaction: seal the case to its team, tell their group.

        The team is chosen by the answers; only its members and leads (and the leads of every
        team) get a sealed copy, so one traitor's key opens only their own team's cases."""
        item = QueueItem(sub.code, CaseState.SUBMITTED, self._now(), None, sub.triage, False)
        dropbox = new_case_dropbox(sub.case_key, case_id=sub.case_id)
        team = self.teams.route(sub.routing)
        holders = await self._team_holders(conn, team)
        writes = [
            store.case_team_write(sub.case_id, team),
            store.priority_write(sub.case_id, priority(item)),
            store.dropbox_write(sub.case_id, dropbox.public_key, dropbox.protected_private_key),
        ]
        if holders:
            writes.append(
                store.case_keys_write(
                    sub.case_id, sealed_copies(sub.case_id, sub.case_key, holders)
                )
            )
        await apply(conn, *writes)  # one hand-off: the connection is held by the submission
        # No code: the order of entries is the order things happened, and the order of
        # submissions would line up with the order of applicants' activity (their traces).
        await self._audit(conn, "system", "submitted", None)
        await self.outbox.put(
            conn,
            self.teams.group_of(team),
            OutMessage(notice_text(sub.code, sub.triage, languages=self._group_languages)),
        )

    async def _team_holders(
        self, conn: aiosqlite.Connection, team: str | None
    ) -> list[store.CoordinatorRow]:
        """The active coordinators who get a sealed copy of a case of ``team``."""
        return (await holders_by_team(conn))(team)

    # --- relays: an applicant answers a question from the team -------------------------------

    async def start_reply(self, pseudonym: bytes, token: str) -> bool:
        case_id = await store.open_relay(self.db.conn, self._relay_hash(pseudonym, token))
        if case_id is None:
            return False
        self._awaiting_reply[pseudonym] = (token, self.clock() + PENDING_SECONDS)
        return True

    def awaiting_reply(self, pseudonym: bytes) -> bool:
        waiting = self._awaiting_reply.get(pseudonym)
        if waiting is None:
            return False
        if waiting[1] < self.clock():
            del self._awaiting_reply[pseudonym]
            return False
        return True

    async def deposit_reply(self, pseudonym: bytes, text: str) -> bool:
        """Seal the answer to the case's own public key: the bot cannot read it back."""
        token, _ = self._awaiting_reply.pop(pseudonym, ("", 0.0))
        token_hash = self._relay_hash(pseudonym, token)
        now = self._now()
        stored = normalize_input(text)
        async with self.db.transaction() as conn:
            case_id = await store.open_relay(conn, token_hash)
            dropbox = await store.get_dropbox(conn, case_id) if case_id else None
            if case_id is None or dropbox is None:
                return False
            body = json.dumps({"at": now, "text": stored.text, "uncertain": stored.uncertain})
            await store.add_inbox(
                conn, case_id, seal(body.encode(), dropbox[0], context=case_id), now=now
            )
            await store.answer_relay(conn, token_hash, now=now)
            work = await self._work_by_id(conn, case_id)
            await self._audit(conn, "system", "answered", None)  # no code, as for submitted
            if work is not None and work.assignee is not None:
                await self._notify(conn, work.assignee, "answered", code=work.code)
        # The WAL now holds this commit between two writes of the applicant's chat trace: fold
        # it away, or the order of commits pairs the account with the case.
        await self.db.checkpoint_or_retry()
        return True

    # --- coordinator messages ----------------------------------------------------------------

    def expects_secret(self, user_id: int) -> bool:
        """A passphrase is awaited from this person: the transport deletes it before it is
        checked, so a crash during the slow check cannot leave it in the chat."""
        return self.vault.pseudonym(user_id) in self._pending

    async def handle(self, inc: CoordIncoming) -> CoordResponse | None:
        pseudonym = self.vault.pseudonym(inc.user_id)
        pending = self._pending.get(pseudonym)
        if pending is not None and inc.private and inc.command is None:
            del self._pending[pseudonym]
            if pending.expires >= self.clock():
                return await self._secret(inc, pseudonym, pending)
            return CoordResponse(delete=(inc.message_id,))
        if (
            pending is not None
            and pending.kind in _ENROLLING
            and inc.private
            and inc.command == "language"
        ):
            return self._enroll_language(inc, pseudonym, pending)
        if inc.command is None and not await self._may_be_coordinator(pseudonym):
            return None
        me = None
        if inc.command is not None or inc.private:
            me = await adopt_coordinator(self.db, self.vault, inc.user_id)
            if me is not None and me.status != "active":
                me = None
        if inc.command is None:
            if me is None:
                return None
            # The bot reads no plain text from a coordinator, and such a text is most likely a
            # passphrase that overtook its /unlock (both sent while the bot was down): it must
            # not stay in the chat, nor reach the applicant side.
            return CoordResponse((Reply(self._t(me, "text_deleted")),), delete=(inc.message_id,))
        if inc.command == "enroll" and inc.private and me is None:
            return await self._enroll_start(inc, pseudonym)
        rule = PERMISSIONS.get(inc.command)
        if me is None or rule is None:
            return None
        # One command at a time: each decides on the case row it reads, so two commands on one
        # case (a repeat sent while the bot was down arrives with the original) must not both
        # read it before either writes.
        async with self._acting:
            return await self._command(me, rule, inc, inc.command)

    async def _command(
        self, me: store.CoordinatorRow, rule: Rule, inc: CoordIncoming, command: str
    ) -> CoordResponse | None:
        work: store.WorkRow | None = None
        arg, code_text = inc.arg, ""
        if rule.takes_case:
            code_text, _, arg = inc.arg.strip().partition(" ")
            if not code_text:
                return _say(self._t(me, "no_code", command=command))
            work = await store.work_row_by_code(self.db.conn, canonical_code(code_text))
            if work is None:
                return _say(self._t(me, "no_case", code=code_text))
        relation = "none"
        if work is not None:
            member = await store.membership_of(self.db.conn, me.id)
            seen = self.teams.sees_in(member, work.team, inc.chat_id, private=inc.private)
            relation = relation_of(me.id, work.assignee, in_team=seen)
        unlocked = self.keys.holds(me.id, self.clock())
        denied = decide(command, me.role, relation, private_chat=inc.private, unlocked=unlocked)
        if denied is Denied.UNKNOWN:
            return None
        if denied is Denied.NO_CASE:  # another team's: exactly as for a code that names nothing
            return _say(self._t(me, "no_case", code=code_text))
        if denied is Denied.LOCKED:
            # Before anything about the case's state: a locked phone learns nothing from the
            # refusal, and its holder is told the one thing that would help.
            return _say(self._denied(me, denied, relation, work))
        if command == "claim" and work is not None and relation == "assignee":
            return _say(self._t(me, "already_yours", code=work.code))
        action = _ACTIONS.get(command)
        if work is not None and action is not None and denied is None:
            # A move the case's state rules out is refused as such, naming the move that would.
            try:
                transition(CaseState(work.status), action)
            except IllegalTransition as exc:
                return _say(self._illegal(me, work, exc))
        if denied is not None:
            return _say(self._denied(me, denied, relation, work))
        handler = getattr(self, f"_cmd_{command}")
        try:
            result: CoordResponse = await handler(me, inc, work, arg.strip())
        except IllegalTransition as exc:
            return _say(self._illegal(me, work, exc))
        except ApprovalRefused as exc:
            twice = str(exc) == ALREADY_APPROVED
            key = "approve_twice" if twice else "approve_not_assignee"
            return _say(self._t(me, key, code=work.code if work else ""))
        except _Refused as exc:
            return _say(str(exc))
        return result

    def _denied(
        self,
        me: store.CoordinatorRow,
        denied: Denied,
        relation: str,
        work: store.WorkRow | None,
    ) -> str:
        """The refusal, with the command that would go through (or who can do it)."""
        if denied is Denied.RELATION and work is not None:
            key = "denied_not_claimed" if relation == "unclaimed" else "denied_held"
            return self._t(me, key, code=work.code)
        return self._t(me, _DENIED[denied])

    def _illegal(
        self, me: store.CoordinatorRow, work: store.WorkRow | None, exc: IllegalTransition
    ) -> str:
        code = work.code if work else ""
        return self._t(
            me,
            "illegal",
            code=code,
            state=self._t(me, f"state_{exc.state.value}"),
            done=self._t(me, f"done_{exc.action.value}"),
            next=self._t(me, f"next_{exc.state.value}", code=code),
        )

    def _t(self, who: store.CoordinatorRow | str | None, key: str, /, **params: object) -> str:
        """A coordinator text in ``who``'s language (a row, or a language code)."""
        lang = who.language if isinstance(who, store.CoordinatorRow) else who
        return self.texts.text(lang, key, **params)

    # --- enrolment and unlocking ---------------------------------------------------------------

    async def _enroll_start(self, inc: CoordIncoming, pseudonym: bytes) -> CoordResponse | None:
        code = canonical_code(inc.arg) if inc.arg.strip() else ""
        if not code:
            return None
        # Spent only with the enrolment itself: a restart before the passphrase arrives must
        # not burn the operator's invite.
        role = await store.peek_invite(self.db.conn, self._digest(code, "invite"), now=self._now())
        if role is None:
            return None  # a wrong code looks exactly like an unknown command
        lang = coordinator_language(inc.language)
        self._pending[pseudonym] = _Pending(
            "enroll", self.clock() + PENDING_SECONDS, code, language=lang
        )
        return CoordResponse((Reply(self._t(lang, "enroll_welcome")),), delete=(inc.message_id,))

    def _enroll_language(
        self, inc: CoordIncoming, pseudonym: bytes, pending: _Pending
    ) -> CoordResponse:
        """``/language`` before the passphrase: the welcome offers it, so that a coordinator
        whose phone is set to English reads the passphrase advice in Burmese."""
        chosen = inc.arg.strip().lower()
        if chosen not in COORDINATOR_LANGUAGES:
            return _say(self._t(pending.language, "language_usage"))
        self._pending[pseudonym] = replace(pending, language=chosen)
        prompt = "enroll_welcome" if pending.kind == "enroll" else "enroll_again"
        return _say(self._t(chosen, "language_set"), self._t(chosen, prompt))

    async def _may_be_coordinator(self, pseudonym: bytes) -> bool:
        """False only for someone no coordinator row (of any status) belongs to.

        Rows are added only by enrolment, in this process, which adds to the set too; while a
        key rotation is under way a row may still be under an old pseudonym, so then the answer
        is always yes and the lookup decides.
        """
        if len(self.vault.key_ids) > 1:
            return True
        if self._pseudonyms is None:
            self._pseudonyms = await store.coordinator_pseudonyms(self.db.conn)
        return pseudonym in self._pseudonyms

    async def _secret(
        self, inc: CoordIncoming, pseudonym: bytes, pending: _Pending
    ) -> CoordResponse:
        passphrase = inc.text
        gone = (inc.message_id,)
        lang = pending.language
        again = self.clock() + PENDING_SECONDS
        if pending.kind == "enroll":
            problem = passphrase_problem(passphrase, forbidden=(pending.code,))
            if problem is not None:
                self._pending[pseudonym] = pending
                return CoordResponse((Reply(self._t(lang, problem, min=MIN_LENGTH)),), delete=gone)
            # Typed twice: a typo here would lock its owner out of every case for good.
            self._pending[pseudonym] = replace(
                pending, kind="confirm", first=passphrase, expires=again
            )
            return CoordResponse((Reply(self._t(lang, "enroll_again")),), delete=gone)
        if pending.kind == "confirm":
            if not secrets.compare_digest(passphrase.encode(), pending.first.encode()):
                self._pending[pseudonym] = replace(pending, kind="enroll", first="", expires=again)
                return CoordResponse((Reply(self._t(lang, "enroll_mismatch")),), delete=gone)
            return await self._enroll_finish(inc, pseudonym, pending, passphrase)
        me = await adopt_coordinator(self.db, self.vault, inc.user_id)
        if me is None or me.status != "active":
            return CoordResponse(delete=gone)
        if not self._unlock_limiter.allow(me.id, self.clock()):
            minutes = int(UNLOCK_WINDOW_SECONDS // 60)
            return CoordResponse(
                (Reply(self._t(me, "unlock_too_many", minutes=minutes)),), delete=gone
            )
        try:
            key = await asyncio.to_thread(unlock, me.protected_private_key, passphrase)
        except (WrongPassphrase, DecryptionError):
            await asyncio.sleep(WRONG_PASSPHRASE_DELAY)
            async with self.db.transaction() as conn:
                await self._audit(conn, me.handle, "unlock_failed", None)
            return CoordResponse((Reply(self._t(me, "unlock_wrong")),), delete=gone)
        self._unlock_limiter.forgive(me.id)
        self.keys.hold(me.id, key, self.clock())
        await self._make_recovery_copies(me, key)
        async with self.db.transaction() as conn:
            await self._audit(conn, me.handle, "unlocked", None)
        minutes = self.settings.unlock_idle_seconds // 60
        hours = self.settings.unlock_max_seconds // 3600
        return CoordResponse(
            (Reply(self._t(me, "unlocked", minutes=minutes, hours=hours)),), delete=gone
        )

    async def _enroll_finish(
        self, inc: CoordIncoming, pseudonym: bytes, pending: _Pending, passphrase: str
    ) -> CoordResponse:
        code, lang = pending.code, pending.language
        cost = self.settings.argon2
        made = await asyncio.to_thread(
            CoordinatorKeys.create, passphrase, **({"cost": cost} if cost else {})
        )
        coordinator_id = secrets.token_hex(16)
        now = self._now()
        async with self.db.transaction() as conn:
            invited_to = await store.invite_teams(conn, self._digest(code, "invite"))
            role = await store.take_invite(conn, self._digest(code, "invite"), now=now)
            if role is None:  # used by someone else meanwhile, or expired
                return CoordResponse(
                    (Reply(self._t(lang, "enroll_invalid")),), delete=(inc.message_id,)
                )
            handle = _new_handle()
            while await store.handle_in_use(conn, handle):
                handle = _new_handle()
            if self._pseudonyms is not None:
                self._pseudonyms.add(pseudonym)  # before the row: the set may hold too many
            await store.add_coordinator(
                conn,
                id=coordinator_id,
                handle=handle,
                pseudonym=pseudonym,
                chat=self.vault.seal_local(
                    str(inc.chat_id).encode(), purpose="coordinator-chat", context=coordinator_id
                ),
                role=role,
                public_key=made.public_key,
                protected_private_key=made.protected_private_key,
                now=now,
                language=lang,
            )
            membership = self.teams.membership(invited_to, role)
            if membership:
                await store.set_membership(conn, coordinator_id, membership)
            await self._audit(conn, handle, "enrolled", None)
            sealed = await self._seal_waiting_cases(conn)
        log.info("coordinator_enrolled", role=role, count=sealed)
        lines = [self._t(lang, "enrolled", role=self._t(lang, f"role_{role}"), handle=handle)]
        if sealed:
            lines.append(self._t(lang, "enrolled_sealed", count=sealed))
        return CoordResponse(
            (Reply("\n".join(lines)),), delete=(inc.message_id,), menu=self._commands(role)
        )

    async def _seal_waiting_cases(self, conn: aiosqlite.Connection) -> int:
        """Cases left under the master key (see ``seal_master_wrapped``; the upgrade at start
        leaves none, but a database restored from an old backup while running may hold some)
        leave it once somebody is enrolled."""
        recovery = self.settings.recovery_public_key
        return await seal_master_wrapped(conn, self.vault, recovery, now=self._now())

    async def _make_recovery_copies(self, me: store.CoordinatorRow, key: UnlockedKey) -> None:
        """A case an earlier release sealed only to coordinators gets its copy for the offline
        recovery key when one of its holders unlocks: only their key can open it. The log tells
        the operator how many cases still wait for one of their holders."""
        made = 0
        async with self.db.transaction() as conn:
            for case_id, sealed in await upgrade_store.without_recovery_sealed_to(conn, me.id):
                try:
                    case_key = key.open_case_key(sealed, case_id=case_id)
                except CryptoError:
                    continue  # a damaged copy: another holder's unlock may still make it
                recovery = seal_case_key(
                    case_key, self.settings.recovery_public_key, case_id=case_id
                )
                await apply(conn, store.recovery_key_write(case_id, recovery))
                case_key.destroy()
                made += 1
            waiting = await upgrade_store.without_recovery_copy(conn) if made else 0
        if made:
            log.info("recovery_copies_made", count=made, remaining=waiting, hint=WAITING_HINT)

    # --- commands ---------------------------------------------------------------------------------

    async def _cmd_help(self, me: store.CoordinatorRow, *_: object) -> CoordResponse:
        """Only the commands of the coordinator's own role, each with its arguments and an
        example: a lead's tools are not advertised to a coordinator's (perhaps stolen) phone."""
        role = self._t(me, f"role_{me.role}")
        lines = [self._t(me, "help_header", role=role, handle=me.handle)]
        lines += [self._t(me, f"help_{name}") for name in self._commands(me.role)]
        return _say(*lines)

    async def _cmd_language(
        self, me: store.CoordinatorRow, inc: CoordIncoming, work: object, arg: str
    ) -> CoordResponse:
        chosen = arg.strip().lower()
        if chosen not in COORDINATOR_LANGUAGES:
            return _say(self._t(me, "language_usage"))
        async with self.db.transaction() as conn:
            await store.set_coordinator_language(conn, me.id, chosen)
        return _say(self._t(chosen, "language_set"))

    async def _cmd_unlock(
        self, me: store.CoordinatorRow, inc: CoordIncoming, *_: object
    ) -> CoordResponse:
        pseudonym = self.vault.pseudonym(inc.user_id)
        self._pending[pseudonym] = _Pending("unlock", self.clock() + PENDING_SECONDS)
        return CoordResponse((Reply(self._t(me, "unlock_ask")),), delete=(inc.message_id,))

    async def _cmd_lock(self, me: store.CoordinatorRow, *_: object) -> CoordResponse:
        self.keys.forget(me.id)
        async with self.db.transaction() as conn:
            await self._audit(conn, me.handle, "locked", None)
        return _say(self._t(me, "locked"))

    async def _cmd_queue(
        self, me: store.CoordinatorRow, inc: CoordIncoming, *_: object
    ) -> CoordResponse:
        seen = await self._seen(me, inc)
        rows = [row for row in await store.open_work(self.db.conn) if seen(row.team)]
        items = [self._queue_item(row) for row in rows]
        if not items:
            return _say(self._t(me, "queue_empty"))
        if not self.keys.holds(me.id, self.clock()):
            lines = locked_queue_lines(items, now=self._now(), words=self._words(me))
            return _say(self._t(me, "queue_header_locked", count=len(items)), *lines)
        lines = queue_lines(order(items), now=self._now(), words=self._words(me))
        return _say(self._t(me, "queue_header"), *lines)

    async def _cmd_stats(
        self, me: store.CoordinatorRow, inc: CoordIncoming, *_: object
    ) -> CoordResponse:
        rows = await store.counts_by_state_and_week(self.db.conn, await self._seen(me, inc))
        if not rows:
            return _say(self._t(me, "stats_empty"))
        return _say(
            self._t(me, "stats_header"),
            *(self._stats_line(me, state, week, n) for state, week, n in rows),
        )

    async def _cmd_claim(
        self, me: store.CoordinatorRow, inc: CoordIncoming, work: store.WorkRow, _: str
    ) -> CoordResponse:
        await self._move(me, work, Action.CLAIM, assignee=me.id, audit="claimed")
        return _say(self._t(me, "claimed", code=work.code))

    async def _cmd_release(
        self, me: store.CoordinatorRow, inc: CoordIncoming, work: store.WorkRow, _: str
    ) -> CoordResponse:
        await self._move(me, work, Action.RELEASE, assignee=None, audit="released")
        return _say(self._t(me, "released", code=work.code))

    async def _cmd_reassign(
        self, me: store.CoordinatorRow, inc: CoordIncoming, work: store.WorkRow, arg: str
    ) -> CoordResponse:
        target = await self._known_coordinator(me, arg)
        if target is None:
            return _say(self._no_coordinator(me, arg))
        if not receives(await store.membership_of(self.db.conn, target.id), work.team):
            # They hold no copy of it, and must not: the case stays in its team.
            return _say(self._t(me, "reassign_other_team", code=work.code, handle=target.handle))
        await self._move(
            me,
            work,
            Action.REASSIGN,
            assignee=target.id,
            audit="reassigned",
            notify=(target.id, "assigned_to_you"),
        )
        return _say(self._t(me, "reassigned", code=work.code, handle=target.handle))

    async def _cmd_flag(
        self, me: store.CoordinatorRow, inc: CoordIncoming, work: store.WorkRow, _: str
    ) -> CoordResponse:
        async with self.db.transaction() as conn:
            await store.set_flagged(conn, work.case_id, True, now=self._now())
            await self._audit(conn, me.handle, "flagged", work.code)
        return _say(self._t(me, "flagged", code=work.code))

    async def _cmd_approve(
        self, me: store.CoordinatorRow, inc: CoordIncoming, work: store.WorkRow, _: str
    ) -> CoordResponse:
        # Refused first if the case cannot be approved, so a repeat meets the state's answer.
        transition(CaseState(work.status), Action.APPROVE)
        result = approve(
            actor_id=me.id,
            assignee_id=work.assignee,
            pending_by=work.pending_approval_by,
            two_person=self.settings.two_person_approval,
            flagged=work.flagged,
        )
        if not result.complete:
            async with self.db.transaction() as conn:
                await store.set_state(
                    conn,
                    work.case_id,
                    status=work.status,
                    assignee=work.assignee,
                    pending_approval_by=me.id,
                    now=self._now(),
                )
                await self._audit(conn, me.handle, "approval_pending", work.code)
                await self.outbox.put(
                    conn,
                    self.teams.group_of(work.team),
                    OutMessage(_GROUP_SECOND_APPROVAL.format(code=work.code)),
                )
            return _say(self._t(me, "approval_recorded", code=work.code))
        await self._move(me, work, Action.APPROVE, assignee=work.assignee, audit="approved")
        return _say(self._t(me, "approved", code=work.code))

    async def _cmd_close(
        self, me: store.CoordinatorRow, inc: CoordIncoming, work: store.WorkRow, _: str
    ) -> CoordResponse:
        await self._move(me, work, Action.CLOSE, assignee=work.assignee, audit="closed")
        return _say(self._t(me, "closed", code=work.code))

    async def _cmd_show(
        self, me: store.CoordinatorRow, inc: CoordIncoming, work: store.WorkRow, _: str
    ) -> CoordResponse:
        key, fields = await self._open(me, work)
        inbox = await self._inbox(work.case_id, key)
        text = render_case(
            code=work.code,
            status=work.status,
            submitted_at=work.submitted_at,
            fields=fields,
            inbox=inbox,
            questionnaire=self.questionnaire,
            catalog=self.catalog,
            language=me.language,
            texts=self.texts,
        )
        async with self.db.transaction() as conn:
            await self._audit(conn, me.handle, "shown", work.code)
        return CoordResponse((Reply(text, protect=True),), expire=True)

    async def _cmd_note(
        self, me: store.CoordinatorRow, inc: CoordIncoming, work: store.WorkRow, arg: str
    ) -> CoordResponse:
        if not arg:
            return _say(self._t(me, "note_missing", code=work.code))
        key, fields = await self._open(me, work)
        await self._add_entry(me, work, key, fields, "note", arg, audit="noted")
        return CoordResponse(
            (Reply(self._t(me, "note_saved", code=work.code)),), delete=(inc.message_id,)
        )

    async def _cmd_ask(
        self, me: store.CoordinatorRow, inc: CoordIncoming, work: store.WorkRow, arg: str
    ) -> CoordResponse:
        if not arg:
            return _say(self._t(me, "ask_missing", code=work.code))
        key, fields = await self._open(me, work)
        chat_id = int(fields["chat_id"])
        lang = fields.get("language", b"en").decode()
        token = secrets.token_urlsafe(16)
        message = OutMessage(
            self.catalog.text(lang, "team_message", text=arg),
            ((Button(self.catalog.text(lang, "reply"), f"Q:{token}"),),),
            protect=True,
        )
        async with self.db.transaction() as conn:
            await store.add_relay(
                conn,
                token_hash=self._relay_hash(self.vault.pseudonym(chat_id), token),
                case_id=work.case_id,
                now=self._now(),
            )
            await self._write_entry(conn, me, work, key, fields, "ask", arg)
            await self._audit(conn, me.handle, "asked", work.code)
            await self.outbox.put(conn, chat_id, message)
        return CoordResponse(
            (Reply(self._t(me, "ask_sent", code=work.code)),), delete=(inc.message_id,)
        )

    async def _cmd_reject(
        self, me: store.CoordinatorRow, inc: CoordIncoming, work: store.WorkRow, arg: str
    ) -> CoordResponse:
        key, fields = await self._open(me, work)
        chat_id = int(fields["chat_id"])
        lang = fields.get("language", b"en").decode()
        decision = json.dumps({"at": self._now(), "by": me.handle, "text": arg or "(no reason)"})
        await self._move(
            me,
            work,
            Action.REJECT,
            assignee=work.assignee,
            audit="rejected",
            write=(key, {"decision": decision.encode()}),
            tell=(chat_id, OutMessage(self.catalog.text(lang, "decision_rejected"))),
        )
        return CoordResponse(
            (Reply(self._t(me, "rejected", code=work.code)),), delete=(inc.message_id,)
        )

    async def _cmd_handoff(
        self, me: store.CoordinatorRow, inc: CoordIncoming, work: store.WorkRow, arg: str
    ) -> CoordResponse:
        if not arg:
            return _say(self._t(me, "handoff_missing", code=work.code))
        key, fields = await self._open(me, work)
        chat_id = int(fields["chat_id"])
        lang = fields.get("language", b"en").decode()
        phrase = fields["verification_phrase"].decode()
        record = json.dumps({"at": self._now(), "by": me.handle, "text": arg})
        next_step = self.catalog.text(lang, "next_step", text=arg, phrase=phrase)
        await self._move(
            me,
            work,
            Action.HANDOFF,
            assignee=work.assignee,
            audit="handed_off",
            write=(key, {"handoff": record.encode()}),
            tell=(chat_id, OutMessage(next_step, protect=True)),
        )
        return CoordResponse(
            (Reply(self._t(me, "handed_off", code=work.code, phrase=phrase), protect=True),),
            delete=(inc.message_id,),
            expire=True,
        )

    async def _cmd_purge(
        self, me: store.CoordinatorRow, inc: CoordIncoming, work: store.WorkRow, _: str
    ) -> CoordResponse:
        async with self.db.transaction() as conn:
            await store.shred_case(conn, work.case_id)
            await self._audit(conn, me.handle, "purged", work.code)
        await self.db.checkpoint()
        return _say(self._t(me, "purged", code=work.code))

    async def _cmd_grant(
        self, me: store.CoordinatorRow, inc: CoordIncoming, work: object, arg: str
    ) -> CoordResponse:
        target = await self._known_coordinator(me, arg)
        if target is None:
            return _say(self._no_coordinator(me, arg))
        lead_key = self.keys.peek(me.id, self.clock())
        if lead_key is None:
            return _say(self._t(me, "denied_locked"))
        granted = 0
        async with self.db.transaction() as conn:
            member = await store.membership_of(conn, target.id)
            for case_id in await store.cases_sealed_to(conn, me.id):
                if not receives(member, await store.case_team(conn, case_id)):
                    continue  # another team's case stays out of their reach
                sealed = await store.case_key_for(conn, case_id, me.id)
                if sealed is None or await store.case_key_for(conn, case_id, target.id):
                    continue
                key = lead_key.open_case_key(sealed, case_id=case_id)
                await store.add_case_keys(conn, case_id, sealed_copies(case_id, key, [target]))
                granted += 1
            await self._audit(conn, me.handle, "granted", None)
        if granted:
            self.keys.opened(me.id, self.clock())
        return _say(self._t(me, "granted", handle=target.handle, count=granted))

    async def _cmd_revoke(
        self, me: store.CoordinatorRow, inc: CoordIncoming, work: object, arg: str
    ) -> CoordResponse:
        handle = arg.strip().lstrip("@").upper()
        if handle == me.handle:
            return _say(self._t(me, "revoke_self"))
        target = await store.coordinator_by_handle(self.db.conn, handle)
        if target is not None and not may_manage(
            await store.membership_of(self.db.conn, me.id),
            await store.membership_of(self.db.conn, target.id),
        ):
            # A lead of one team cannot cut another team's people: answered as for nobody.
            return _say(self._no_coordinator(me, arg))
        removed = await self.revoke(handle, actor=me.handle)
        if removed is None:
            return _say(self._no_coordinator(me, arg))
        return _say(self._t(me, "revoked", handle=handle, count=removed))

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

    async def post_audit_head(self) -> None:
        """Post the chain's head to the group (daily, and on ``/audit``): once it sits in
        Telegram, no rewrite of the log behind it, even with the master key, goes unseen by
        ``verify-audit --head``. Read on a settled connection, so no uncommitted entry is named.
        """
        async with self.db.settled() as conn:
            if (await store.audit_head(conn))[0] == 0:
                return  # nothing to vouch for yet
            text = await head_notice(conn)
        async with self.db.transaction() as conn:
            await self.outbox.put(conn, self.teams.group_chat_id, OutMessage(text))

    async def _cmd_audit(self, me: store.CoordinatorRow, *_: object) -> CoordResponse:
        report = await self.verify_audit()
        view = await self._team_view(me)
        words = self._words(me)
        if view is None:  # a lead of every team (or of the one team) reads the whole log
            if report.ok:
                head = self._t(me, "audit_intact", count=report.checked)
            else:
                head = self._t(
                    me, "audit_broken", problem=report.problem or "", count=report.checked
                )
            rows = await store.audit_entries(self.db.conn, limit=AUDIT_LINES, newest_first=True)
            lines = [
                entry_line(seq=seq, at=at, actor=actor, action=action, case_code=code, words=words)
                for seq, at, actor, action, code, _prev, _hash in rows
            ]
        else:
            # Neither the whole chain's length nor where it broke: both count the other teams.
            key = "audit_intact_team" if report.ok else "audit_broken_team"
            head = self._t(me, key, count=len(view))
            lines = [
                entry_line(
                    seq=e.number,
                    at=e.at,
                    actor=e.actor,
                    action=e.action,
                    case_code=e.case_code,
                    words=words,
                )
                for e in reversed(view[-AUDIT_LINES:])
            ]
        await self.post_audit_head()
        return _say(head, self._t(me, "audit_posted"), *lines)

    async def _team_view(self, me: store.CoordinatorRow) -> list[ViewedEntry] | None:
        """The part of the log a team's lead may read (see ``team_view``), or ``None`` for a
        lead of every team, who reads it all. Who and which case is theirs is looked up once
        per handle and per code, so a long log costs one read of each."""
        conn = self.db.conn
        member = await store.membership_of(conn, me.id)
        if not member or ALL_TEAMS in member:
            return None
        entries = [e[:5] for e in await store.audit_entries(conn)]
        case_seen: dict[str, bool] = {}
        person_known: dict[str, bool] = {}
        for _seq, _at, actor, _action, code in entries:
            if code is not None and code not in case_seen:
                work = await store.work_row_by_code(conn, code)
                case_seen[code] = work is not None and receives(member, work.team)
            if actor not in person_known:
                row = await store.coordinator_by_handle(conn, actor)
                theirs = await store.membership_of(conn, row.id) if row else None
                person_known[actor] = theirs is not None and sees_person(member, theirs)
        return team_view(entries, case_seen=case_seen, person_known=person_known)

    async def _cmd_transfer(
        self, me: store.CoordinatorRow, inc: CoordIncoming, work: store.WorkRow, arg: str
    ) -> CoordResponse:
        """Move the case to another team under a new key, sealed to that team alone.

        The old team held the old key (and any backup holds their sealed copies of it), so the
        case is encrypted anew: every field, the dropbox's key pair and what it holds, the
        recovery copy. What the new team writes from here on opens with no key the old team
        ever had. Whoever held the case lets go unless they are in the new team too, and the
        new team's group is told."""
        name = arg.strip().lower()
        if not self.teams.names:
            return _say(self._t(me, "transfer_no_teams"))
        if not self.teams.known(name):
            return _say(
                self._t(me, "transfer_usage", code=work.code, teams=", ".join(self.teams.names))
            )
        if name == (work.team or self.teams.default):
            return _say(self._t(me, "transfer_same", code=work.code, team=name))
        old_key, fields = await self._open(me, work)
        key = CaseKey.generate()
        async with self.db.transaction() as conn:
            holders = await self._team_holders(conn, name)
            keep = frozenset(c.id for c in holders)
            await apply(conn, store.case_team_write(work.case_id, name))
            await self._rekey(conn, work.case_id, old_key, key, fields)
            removed = await store.drop_case_keys_except(conn, work.case_id, keep)
            await store.add_case_keys(  # replaces the kept holders' copies of the old key
                conn, work.case_id, sealed_copies(work.case_id, key, holders)
            )
            if work.assignee is not None and work.assignee not in keep:
                released = CaseState(work.status) is CaseState.CLAIMED
                await store.set_state(
                    conn,
                    work.case_id,
                    status=CaseState.SUBMITTED.value if released else work.status,
                    assignee=None,
                    pending_approval_by=None,
                    now=self._now(),
                )
            await self._audit(conn, me.handle, "transferred", work.code)
            await self.outbox.put(
                conn,
                self.teams.group_of(name),
                OutMessage(_GROUP_TRANSFERRED.format(code=work.code)),
            )
        old_key.destroy()
        key.destroy()
        # The old copies must not linger in the WAL beside the new ones.
        await self.db.checkpoint_or_retry()
        log.info("case_transferred", count=removed)
        return _say(self._t(me, "transferred", code=work.code, team=name, count=removed))

    async def _rekey(
        self,
        conn: aiosqlite.Connection,
        case_id: str,
        old: CaseKey,
        new: CaseKey,
        fields: Mapping[str, bytes],
    ) -> None:
        """Everything of the case that the old key opened, under the new key instead."""
        await self._write_fields(conn, case_id, new, fields)
        box = await store.get_dropbox(conn, case_id)
        if box is not None:
            old_private = open_case_dropbox(old, box[1], case_id=case_id)
            fresh = new_case_dropbox(new, case_id=case_id)
            await store.replace_dropbox(
                conn, case_id, fresh.public_key, fresh.protected_private_key
            )
            for item_id, sealed, _at in await store.inbox(conn, case_id):
                body = old_private.open_sealed(sealed, context=case_id)
                await store.reseal_inbox(
                    conn, item_id, seal(body, fresh.public_key, context=case_id)
                )
        recovery = seal_case_key(new, self.settings.recovery_public_key, case_id=case_id)
        await apply(conn, store.recovery_key_write(case_id, recovery))

    # --- helpers ---------------------------------------------------------------------------

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
        return key, fields

    async def _case_key(self, me: store.CoordinatorRow, work: store.WorkRow) -> CaseKey:
        """The case key from this coordinator's sealed copy, or a refusal they read."""
        key_of_mine = self.keys.peek(me.id, self.clock())
        sealed = await store.case_key_for(self.db.conn, work.case_id, me.id)
        refusal = _Refused(self._t(me, "not_yours_key", code=work.code, handle=me.handle))
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

    async def _add_entry(
        self,
        me: store.CoordinatorRow,
        work: store.WorkRow,
        key: CaseKey,
        fields: Mapping[str, bytes],
        kind: str,
        text: str,
        *,
        audit: str,
    ) -> None:
        async with self.db.transaction() as conn:
            await self._write_entry(conn, me, work, key, fields, kind, text)
            await self._audit(conn, me.handle, audit, work.code)

    async def _write_entry(
        self,
        conn: aiosqlite.Connection,
        me: store.CoordinatorRow,
        work: store.WorkRow,
        key: CaseKey,
        fields: Mapping[str, bytes],
        kind: str,
        text: str,
    ) -> None:
        n = 1 + sum(1 for name in fields if name.startswith(kind + ":"))
        body = json.dumps({"at": self._now(), "by": me.handle, "text": text}).encode()
        await self._write_fields(conn, work.case_id, key, {f"{kind}:{n:04d}": body})

    async def _write_fields(
        self, conn: aiosqlite.Connection, case_id: str, key: CaseKey, plain: Mapping[str, bytes]
    ) -> None:
        sealed = {n: key.encrypt(v, case_id=case_id, field=n) for n, v in plain.items()}
        await case_store.write_fields(conn, case_id, sealed, now=self._now())

    async def _notify(
        self, conn: aiosqlite.Connection, coordinator_id: str, key: str, **params: object
    ) -> None:
        """Queue a message for one coordinator, in the language they read."""
        row = await store.coordinator_by_id(conn, coordinator_id)
        if row is None or row.status != "active":
            return
        chat = self.vault.open_local(row.chat, purpose="coordinator-chat", context=row.id)
        await self.outbox.put(conn, int(chat), OutMessage(self._t(row, key, **params)))

    async def _work_by_id(self, conn: aiosqlite.Connection, case_id: str) -> store.WorkRow | None:
        case = await case_store.get_case(conn, case_id)
        return await store.work_row_by_code(conn, case.code) if case and case.code else None

    def _queue_item(self, row: store.WorkRow) -> QueueItem:
        triage: Mapping[str, object] = {}
        if row.triage is not None:
            try:
                triage = json.loads(
                    self.vault.open_local(row.triage, purpose="triage", context=row.case_id)
                )
            except DecryptionError:
                triage = {}
        return QueueItem(
            row.code,
            CaseState(row.status),
            row.submitted_at or 0,
            row.assignee_handle,
            triage,
            row.flagged,
        )

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

    def _stats_line(self, me: store.CoordinatorRow, state: str, week: str, count: int) -> str:
        """One ``/stats`` count. The ISO week ("2026-W48") is split so that its numbers, like
        the count, are written in the coordinator's digits, and the state is their word for it."""
        year, number = week.split("-W")
        if state in {s.value for s in CaseState}:
            state = self._t(me, f"state_{state}")
        return self._t(me, "stats_line", year=int(year), week=int(number), state=state, count=count)

    async def _audit(
        self, conn: aiosqlite.Connection, actor: str, action: str, case_code: str | None
    ) -> None:
        await audit.record(
            conn, self.vault, at=self._now(), actor=actor, action=action, case_code=case_code
        )

    def _relay_hash(self, pseudonym: bytes, token: str) -> str:
        """A relay is bound to its recipient: the token alone (a forwarded button, a copied
        callback) opens nothing, and only the applicant it was sent to can answer, once."""
        return self._digest(f"{pseudonym.hex()}:{token}", "relay")

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
        answers.append((int(data["at"]), data["text"], bool(data.get("uncertain"))))
    return sorted(answers)  # stored in no order (random ids): the sealed time orders them


def _new_handle() -> str:
    return "C-" + "".join(secrets.choice(ALPHABET) for _ in range(4))


AUDIT_LINES = 20  # entries /audit shows, newest first

# Commands that move a case, by the move: their name is the action's.
_ACTIONS = {action.value: action for action in Action}

# Catalogue keys of refusals that need no case code; a refusal about a case is ``_denied``'s.
_DENIED = {
    Denied.ROLE: "denied_role",
    Denied.RELATION: "denied_not_claimed",
    Denied.PRIVATE_ONLY: "denied_private",
    Denied.LOCKED: "denied_locked",
}

__all__ = [
    "CoordIncoming",
    "CoordResponse",
    "CoordinationService",
    "CoordinationSettings",
    "UnlockedKey",
]
