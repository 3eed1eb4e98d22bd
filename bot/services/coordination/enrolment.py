"""Enrolment and keys: invites, passphrases, unlocking and locking, grants and revocations.

A coordinator's private key exists in memory only between ``/unlock`` and the key ring's idle
time, cap or ``/lock``; every command here that uses it refuses while it is locked.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import replace

import aiosqlite

from bot.coordination import MIN_LENGTH, passphrase_problem
from bot.coordination.teams import may_manage, receives
from bot.crypto import (
    ALPHABET,
    CoordinatorKeys,
    CryptoError,
    DecryptionError,
    UnlockedKey,
    WrongPassphrase,
    canonical_code,
    unlock,
)
from bot.i18n import COORDINATOR_LANGUAGES, coordinator_language
from bot.intake.events import Reply
from bot.logs import get_logger
from bot.ops.rotation import adopt_coordinator
from bot.ops.upgrade import WAITING_HINT, seal_master_wrapped
from bot.services.coordination.base import (
    PENDING_SECONDS,
    UNLOCK_WINDOW_SECONDS,
    CoordIncoming,
    CoordResponse,
    Pending,
    ServiceBase,
    say,
)
from bot.services.sealing import renew_key, sealed_copies
from bot.store import coordination as store
from bot.store import upgrade as upgrade_store

log = get_logger(__name__)

WRONG_PASSPHRASE_DELAY = 2.0
INVITE_BYTES = 16


def new_handle() -> str:
    return "C-" + "".join(secrets.choice(ALPHABET) for _ in range(4))


class EnrolmentMixin(ServiceBase):
    """Invites, enrolment, unlocking (and the old cases an unlock renews), /grant, /revoke."""

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

    def expects_secret(self, user_id: int) -> bool:
        """A passphrase is awaited from this person: the transport deletes it before it is
        checked, so a crash during the slow check cannot leave it in the chat."""
        return self.vault.pseudonym(user_id) in self._pending

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
        self._pending[pseudonym] = Pending(
            "enroll", self.clock() + PENDING_SECONDS, code, language=lang
        )
        return CoordResponse((Reply(self._t(lang, "enroll_welcome")),), delete=(inc.message_id,))

    def _enroll_language(
        self, inc: CoordIncoming, pseudonym: bytes, pending: Pending
    ) -> CoordResponse:
        """``/language`` before the passphrase: the welcome offers it, so that a coordinator
        whose phone is set to English reads the passphrase advice in Burmese."""
        chosen = inc.arg.strip().lower()
        if chosen not in COORDINATOR_LANGUAGES:
            return say(self._t(pending.language, "language_usage"))
        self._pending[pseudonym] = replace(pending, language=chosen)
        prompt = "enroll_welcome" if pending.kind == "enroll" else "enroll_again"
        return say(self._t(chosen, "language_set"), self._t(chosen, prompt))

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
        self, inc: CoordIncoming, pseudonym: bytes, pending: Pending
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
        await self._renew_old_cases(me, key)
        async with self.db.transaction() as conn:
            await self._audit(conn, me.handle, "unlocked", None)
        minutes = self.settings.unlock_idle_seconds // 60
        hours = self.settings.unlock_max_seconds // 3600
        lines = [self._t(me, "unlocked", minutes=minutes, hours=hours)]
        lines += await self._after_unlock(me, key)
        return CoordResponse((Reply("\n".join(lines)),), delete=gone)

    async def _enroll_finish(
        self, inc: CoordIncoming, pseudonym: bytes, pending: Pending, passphrase: str
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
            handle = new_handle()
            while await store.handle_in_use(conn, handle):
                handle = new_handle()
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

    async def _renew_old_cases(self, me: store.CoordinatorRow, key: UnlockedKey) -> None:
        """A case an earlier release sent has no copy for the offline recovery key, and its key
        was once under the master key (the draft's, in every backup of those days). Only a
        holder's key opens it, so when one unlocks, each such case moves to a fresh key, sealed
        to its holders and to the recovery key. The log tells the operator how many cases still
        wait for one of their holders."""
        made = 0
        async with self.db.transaction() as conn:
            active = {c.id: c for c in await store.active_coordinators(conn)}
            for case_id, sealed in await upgrade_store.without_recovery_sealed_to(conn, me.id):
                try:
                    old = key.open_case_key(sealed, case_id=case_id)
                except CryptoError:
                    continue  # a damaged copy: another holder's unlock may still renew it
                holders = [active[i] for i in await store.holders(conn, case_id) if i in active]
                await renew_key(
                    conn,
                    case_id,
                    old,
                    holders,
                    recovery_public_key=self.settings.recovery_public_key,
                    now=self._now(),
                )
                old.destroy()
                made += 1
            waiting = await upgrade_store.without_recovery_copy(conn) if made else 0
        if made:
            await self.db.checkpoint_or_retry()  # the old ciphertext must not linger in the WAL
            log.info("recovery_copies_made", count=made, remaining=waiting, hint=WAITING_HINT)

    async def _cmd_unlock(
        self, me: store.CoordinatorRow, inc: CoordIncoming, *_: object
    ) -> CoordResponse:
        pseudonym = self.vault.pseudonym(inc.user_id)
        self._pending[pseudonym] = Pending("unlock", self.clock() + PENDING_SECONDS)
        return CoordResponse((Reply(self._t(me, "unlock_ask")),), delete=(inc.message_id,))

    async def _cmd_lock(self, me: store.CoordinatorRow, *_: object) -> CoordResponse:
        self.keys.forget(me.id)
        async with self.db.transaction() as conn:
            await self._audit(conn, me.handle, "locked", None)
        return say(self._t(me, "locked"))

    async def _cmd_grant(
        self, me: store.CoordinatorRow, inc: CoordIncoming, work: object, arg: str
    ) -> CoordResponse:
        target = await self._known_coordinator(me, arg)
        if target is None:
            return say(self._no_coordinator(me, arg))
        lead_key = self.keys.peek(me.id, self.clock())
        if lead_key is None:
            return say(self._t(me, "denied_locked"))
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
        return say(self._t(me, "granted", handle=target.handle, count=granted))

    async def _cmd_revoke(
        self, me: store.CoordinatorRow, inc: CoordIncoming, work: object, arg: str
    ) -> CoordResponse:
        handle = arg.strip().lstrip("@").upper()
        if handle == me.handle:
            return say(self._t(me, "revoke_self"))
        target = await store.coordinator_by_handle(self.db.conn, handle)
        if target is not None and not may_manage(
            await store.membership_of(self.db.conn, me.id),
            await store.membership_of(self.db.conn, target.id),
        ):
            # A lead of one team cannot cut another team's people: answered as for nobody.
            return say(self._no_coordinator(me, arg))
        removed = await self.revoke(handle, actor=me.handle)
        if removed is None:
            return say(self._no_coordinator(me, arg))
        return say(self._t(me, "revoked", handle=handle, count=removed))
