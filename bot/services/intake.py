"""The applicant's side: run the intake engine over a draft that lives only as ciphertext.

Each update is handled under a per-applicant lock: load and decrypt the draft, let the pure
engine decide, write what changed in one transaction, and only then hand replies back. A crash
at any point leaves either the old draft or the new one, never half of each.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import re
import secrets
import time
import weakref
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Protocol

import aiosqlite

from bot.crypto import (
    ALPHABET,
    CaseKey,
    DecryptionError,
    Vault,
    canonical_code,
    new_case_code,
    new_receipt_secret,
    new_verification_phrase,
    seal_case_key,
    verify_secret,
)
from bot.i18n import Catalog
from bot.intake import engine
from bot.intake.draft import Draft
from bot.intake.engine import Context, Effect, Outcome
from bot.intake.events import Button, Command, Event, Press, Reply, Text, Unsupported
from bot.intake.questionnaire import ROUTABLE_KINDS, Questionnaire
from bot.logs import get_logger
from bot.ops.rotation import adopt_draft
from bot.services.limits import AttemptLimiter
from bot.services.trace import ChatTrace
from bot.store import Database
from bot.store import cases as store
from bot.store.writes import Write, apply

log = get_logger(__name__)

STATUS_DELAY_SECONDS = 1.0


@dataclass(frozen=True)
class Incoming:
    """One thing an applicant did, as the transport saw it."""

    user_id: int
    chat_id: int
    event: Event
    message_id: int | None = None  # the applicant's own message, if it was one
    pressed_message_id: int | None = None  # the message whose button was tapped
    pressed_protected: bool = False  # whether that message is protected from forwarding
    pressed_text: str | None = None  # that message's text, as Telegram shows it
    language_hint: str | None = None  # Telegram's language code, for users with no draft


@dataclass(frozen=True)
class Response:
    """What the transport must do: send ``replies`` (the first by editing ``edit_message_id``
    instead, when set), delete ``delete`` and answer a tap with ``toast``; then call
    ``remember``."""

    replies: tuple[Reply, ...] = ()
    toast: str | None = None
    edit_message_id: int | None = None
    delete: tuple[int, ...] = ()
    # For the chat trace only: the chat's language now, and that the first reply is the
    # receipt of a form just sent.
    language: str | None = None
    form_sent: bool = False


@dataclass(frozen=True)
class Submission:
    """A draft just turned into a case; handed to whoever seals it and tells the team."""

    case_id: str
    code: str
    case_key: CaseKey
    triage: Mapping[str, object]
    # Answers given with buttons, by question id: what routes the case to a team. In memory
    # only, for the length of the submission.
    routing: Mapping[str, object] = field(default_factory=dict)


SubmitHook = Callable[[aiosqlite.Connection, Submission], Awaitable[None]]
# Carries a response out in the chat, adding the id of each message it sends to the list as it
# goes, so the ids of what did go out are known even if a later call fails.
Deliver = Callable[[Response, list[int]], Awaitable[None]]


class RelayDesk(Protocol):
    """Where an applicant's answer to a question from the team goes (the coordination side)."""

    async def start_reply(self, pseudonym: bytes, token: str) -> bool: ...

    def awaiting_reply(self, pseudonym: bytes) -> bool: ...

    async def deposit_reply(self, pseudonym: bytes, text: str) -> bool: ...


@dataclass
class IntakeSettings:
    recovery_public_key: bytes  # every submitted case key is sealed to it
    draft_ttl_seconds: int = 7 * 24 * 3600
    max_text_length: int = 1000
    status_attempts_per_hour: int = 5
    languages: tuple[str, ...] = ("en", "my", "my-zawgyi")
    # The organisation's words on what happens after a form is sent, by written language;
    # a language left out gets the catalogue's.
    next_steps: Mapping[str, str] = field(default_factory=dict)


class _TraceLock(asyncio.Lock):
    """A chat trace's lock, counting the changes saved under it."""

    changes = 0


@dataclass(frozen=True)
class _ReadTrace:
    """A trace as read while answering, and the change count at that moment: if nothing
    changed the trace since, noting the delivered messages needs no second read. The lock is
    kept so the count is that lock's, not a fresh one's."""

    lock: _TraceLock
    changes: int
    trace: ChatTrace


@dataclass
class _Loaded:
    case_id: str
    key: CaseKey
    draft: Draft
    fields: dict[str, bytes] = field(default_factory=dict)


class IntakeService:
    def __init__(
        self,
        db: Database,
        vault: Vault,
        questionnaire: Questionnaire,
        catalog: Catalog,
        settings: IntakeSettings,
        *,
        clock: Callable[[], float] = time.time,
        on_submit: SubmitHook | None = None,
        relay: RelayDesk | None = None,
    ) -> None:
        self.db = db
        self.vault = vault
        self.questionnaire = questionnaire
        self.catalog = catalog
        self.settings = settings
        self.clock = clock
        self.on_submit = on_submit
        self.relay = relay
        self._locks: weakref.WeakValueDictionary[bytes, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )
        # The chat trace's own short lock: the applicant's lock is held while Telegram is
        # called (rate-limit waits included), and the outbox must not wait behind that.
        self._trace_locks: weakref.WeakValueDictionary[bytes, _TraceLock] = (
            weakref.WeakValueDictionary()
        )
        self._read_traces: dict[bytes, _ReadTrace] = {}  # only while an update is answered
        self._status_limiter = AttemptLimiter(settings.status_attempts_per_hour, 3600.0)

    # --- entry points used by the transport --------------------------------------------------

    async def handle(self, incoming: Incoming, deliver: Deliver | None = None) -> Response:
        """Answer one update; with ``deliver``, also carry the response out and note what the
        chat now shows, all under the applicant's lock.

        Holding the lock until the new messages are noted matters: an applicant who taps the
        question the moment it appears must find it in the trace, or it is neither edited in
        place nor ever cleared.
        """
        pseudonym = self.vault.pseudonym(incoming.user_id)
        lock = self._locks.setdefault(pseudonym, asyncio.Lock())
        async with lock:
            if len(self.vault.key_ids) > 1:  # a key rotation is under way
                await adopt_draft(self.db, self.vault, incoming.user_id)
            try:
                response = await self._handle(pseudonym, incoming)
            finally:
                read = self._read_traces.pop(pseudonym, None)
            if deliver is not None:
                sent: list[int] = []
                try:
                    await deliver(response, sent)
                except Exception:
                    # The applicant's own message, and whatever was sent before the failure
                    # (a receipt, say), are on their phone: note them, so /delete finds them.
                    # The trace read while answering has already forgotten what this
                    # response was to delete, which may still be there: read it afresh.
                    await self._remember(pseudonym, incoming, Response(), sent, None)
                    raise
                await self._remember(pseudonym, incoming, response, sent, read)
            return response

    async def _remember(
        self,
        pseudonym: bytes,
        incoming: Incoming,
        response: Response,
        sent: list[int],
        read: _ReadTrace | None,
    ) -> None:
        """Record which messages are now visible in the chat, after the transport acted."""

        def note(trace: ChatTrace, now: int) -> None:
            if response.language is not None:
                trace.lang = response.language
            for gone in response.delete:
                trace.visible.discard(gone)
            if not response.delete or incoming.message_id not in response.delete:
                trace.add(incoming.message_id, now)
            for message_id in sent:
                trace.add(message_id, now)
            replies = _sent_replies(response)
            prompts = [m for m, r in zip(sent, replies, strict=False) if r.prompt]
            edited = response.edit_message_id
            if prompts:
                trace.prompt = prompts[-1]
            elif edited is not None and response.replies and response.replies[0].prompt:
                trace.prompt = edited
            if response.form_sent:
                trace.sent = True
                trace.receipt = edited if edited is not None else (sent[0] if sent else None)

        await self._change_trace(pseudonym, note, read)

    async def _change_trace(
        self,
        pseudonym: bytes,
        change: Callable[[ChatTrace, int], None],
        read: _ReadTrace | None = None,
    ) -> None:
        """Read (unless ``read`` is still current), change and save the chat trace under its
        own lock."""
        lock = self._trace_lock(pseudonym)
        async with lock:
            now = self._now()
            if read is not None and read.lock is lock and read.changes == lock.changes:
                trace = read.trace.fresh(now)
            else:
                trace = await self._trace(pseudonym, now)
            change(trace, now)
            await self.db.write(self._trace_write(pseudonym, trace))
            lock.changes += 1

    def _trace_lock(self, pseudonym: bytes) -> _TraceLock:
        return self._trace_locks.setdefault(pseudonym, _TraceLock())

    # --- the work ----------------------------------------------------------------------------

    async def _handle(self, pseudonym: bytes, incoming: Incoming) -> Response:
        event = incoming.event
        if isinstance(event, Command) and event.name == "status":
            return await self._status(pseudonym, incoming, event.arg)
        if isinstance(event, Command) and event.name == "delete":
            lang = await self._language(pseudonym, incoming.language_hint)
            return await self._clearing(pseudonym, incoming, (self._delete_question(lang),))
        if isinstance(event, Press) and event.data in ("W:y", "X:y"):
            return await self._wipe(pseudonym, incoming, destroy_draft=event.data == "X:y")
        if isinstance(event, Press) and event.data == "W:n":
            return await self._keep(pseudonym, incoming)
        relayed = await self._relay(pseudonym, incoming)
        if relayed is not None:
            return relayed

        now = self._now()
        loaded = await self._load(pseudonym, now)
        draft = loaded.draft if loaded else None
        ctx = self._context(now)
        if draft is None:  # the chat, not a draft, remembers the language and a sent form
            chat = await self._read_trace(pseudonym)
            ctx = replace(ctx, language=chat.lang or incoming.language_hint, sent=chat.sent)
        if isinstance(event, Press) and event.data == "X:n":
            if draft is None:
                return Response(toast=self.catalog.text(ctx.language, "kept"))
            outcome = Outcome(draft, (engine.prompt(ctx, draft),))
        else:
            outcome = engine.handle(ctx, draft, event)
        language = (
            outcome.draft.language
            if outcome.draft is not None
            else outcome.language or (draft.language if draft else None)
        )
        response = await self._carry(pseudonym, incoming, loaded, outcome, now)
        return replace(response, language=language)

    async def _carry(
        self,
        pseudonym: bytes,
        incoming: Incoming,
        loaded: _Loaded | None,
        outcome: Outcome,
        now: int,
    ) -> Response:
        """Store what the engine decided, then say what the chat must show."""
        event = incoming.event

        if outcome.effect is Effect.SAVE and outcome.draft is not None:
            await self._save(pseudonym, loaded, outcome.draft, now)
        elif outcome.effect is Effect.DISCARD and loaded is not None:
            async with self.db.transaction() as conn:
                await store.delete_case(conn, loaded.case_id)
            log.info("draft_discarded")
        elif outcome.effect is Effect.SUBMIT and loaded is not None:
            replies = _one_message(await self._submit(loaded, incoming, now))
            cleared = await self._clearing(pseudonym, incoming, replies, receipt=True)
            return replace(cleared, form_sent=True)

        clears = any(r.prompt for r in outcome.replies) or outcome.effect is Effect.DISCARD
        if clears:
            return await self._clearing(pseudonym, incoming, outcome.replies, outcome.toast)
        delete = (incoming.message_id,) if _is_media(event) and incoming.message_id else ()
        return Response(outcome.replies, outcome.toast, delete=delete)

    async def _relay(self, pseudonym: bytes, incoming: Incoming) -> Response | None:
        """An answer to a question the team relayed: it goes into the case, not the draft."""
        event, relay = incoming.event, self.relay
        if relay is None:
            return None
        if isinstance(event, Press) and event.data.startswith("Q:"):
            lang = await self._language(pseudonym, incoming.language_hint)
            if await relay.start_reply(pseudonym, event.data[2:]):
                return Response((Reply(self.catalog.text(lang, "reply_prompt")),))
            return Response(toast=self.catalog.text(lang, "stale_button"))
        if isinstance(event, Text) and relay.awaiting_reply(pseudonym):
            lang = await self._language(pseudonym, incoming.language_hint)
            limit = self.settings.max_text_length
            if len(event.text) > limit:
                note = self.catalog.text(lang, "too_long", max=limit, length=len(event.text))
                return Response((Reply(note),))
            await relay.deposit_reply(pseudonym, event.text)
            gone = (incoming.message_id,) if incoming.message_id is not None else ()
            return Response((Reply(self.catalog.text(lang, "reply_thanks")),), delete=gone)
        return None

    async def note_sent(self, chat_id: int, message_id: int, *, team: bool = True) -> None:
        """A message sent outside an answer joins the chat's trace, so it can be wiped.

        The team's messages (from the outbox) stay until a wipe; others (an apology after a
        failure) go with the next question, like any reply.
        """
        if chat_id <= 0:
            return
        pseudonym = self.vault.pseudonym(chat_id)  # a private chat's id is the user's id
        await self._change_trace(
            pseudonym, lambda trace, now: trace.add(message_id, now, team=team)
        )

    async def _clearing(
        self,
        pseudonym: bytes,
        incoming: Incoming,
        replies: tuple[Reply, ...],
        toast: str | None = None,
        *,
        receipt: bool = False,
    ) -> Response:
        """Show only the new messages: earlier prompts and the applicant's answers disappear.

        A tap on the current prompt that yields one new prompt edits that message in place,
        which costs the applicant less data than a new message, and Telegram one call less (a
        message and a deletion). So does the tap on Send: the review becomes the receipt with
        the offer to clear the chat.
        """
        trace = await self._read_trace(pseudonym)
        edit = None
        if (
            incoming.pressed_message_id is not None
            and replies
            and ((len(replies) == 1 and replies[0].prompt) or receipt)
            # protection cannot be added by an edit
            and (not replies[0].protect or incoming.pressed_protected)
            and incoming.pressed_message_id in trace.visible
        ):
            edit = incoming.pressed_message_id
        delete = trace.take_all(keep=edit)
        if incoming.message_id is not None:
            delete.append(incoming.message_id)
        return Response(replies, toast, edit_message_id=edit, delete=tuple(delete))

    async def _read_trace(self, pseudonym: bytes) -> ChatTrace:
        """The trace, read once per update: a second read while answering reuses the first
        unless the trace has changed since."""
        lock = self._trace_lock(pseudonym)
        read = self._read_traces.get(pseudonym)
        if read is not None and read.lock is lock and read.changes == lock.changes:
            return read.trace
        changes = lock.changes
        trace = await self._trace(pseudonym, self._now())
        self._read_traces[pseudonym] = _ReadTrace(lock, changes, trace)
        return trace

    def _context(self, now: int) -> Context:
        return Context(
            questionnaire=self.questionnaire,
            catalog=self.catalog,
            languages=self.settings.languages,
            max_text_length=self.settings.max_text_length,
            today=datetime.fromtimestamp(now, UTC).date(),
            next_steps=self.settings.next_steps,
        )

    async def _load(self, pseudonym: bytes, now: int) -> _Loaded | None:
        found = await store.draft_with_fields(self.db.conn, pseudonym)
        if found is None:
            return None
        row, encrypted = found
        if row.updated_at < now - self.settings.draft_ttl_seconds:
            async with self.db.transaction() as conn:
                await store.delete_case(conn, row.case_id)
            log.info("draft_expired")
            return None
        key = self.vault.unwrap_case_key(row.wrapped_key, case_id=row.case_id)
        plain = {
            name: key.decrypt(value, case_id=row.case_id, field=name)
            for name, value in encrypted.items()
        }
        return _Loaded(row.case_id, key, Draft.from_fields(plain), plain)

    async def _save(self, pseudonym: bytes, loaded: _Loaded | None, draft: Draft, now: int) -> None:
        fields = draft.to_fields()
        writes: list[Write] = []
        if loaded is None:
            case_id = secrets.token_hex(16)
            key = CaseKey.generate()
            wrapped = self.vault.wrap_case_key(key, case_id=case_id)
            writes.append(
                store.new_draft(case_id=case_id, pseudonym=pseudonym, wrapped_key=wrapped, now=now)
            )
            changed = fields
        else:
            case_id, key = loaded.case_id, loaded.key
            changed = {n: v for n, v in fields.items() if loaded.fields.get(n) != v}
        sealed = {
            name: key.encrypt(value, case_id=case_id, field=name) for name, value in changed.items()
        }
        await self.db.write(*writes, *store.field_writes(case_id, sealed, now=now))
        if loaded is None:
            log.info("draft_created")

    async def _submit(self, loaded: _Loaded, incoming: Incoming, now: int) -> tuple[Reply, ...]:
        """The draft becomes a case that nothing on the server can open.

        The case is born again: a fresh id and a fresh key that never touch the master key,
        every answer encrypted anew, the key sealed to the recovery key (and, by ``on_submit``,
        to the team), the draft row and its wrapped key deleted. The draft's key and id were on
        disk for days (in backups and WAL frames too), so reusing either would leave the case
        open to whoever kept a copy. The WAL is then folded and truncated before the applicant
        is told the form was sent.
        """
        draft = loaded.draft
        answers = engine.submitted_answers(self.questionnaire, draft)
        kept = replace(draft, answers=answers).to_fields()
        kept.pop("progress", None)
        phrase = new_verification_phrase()
        secret = new_receipt_secret()
        extra = {
            "language": draft.language.encode(),
            "chat_id": str(incoming.chat_id).encode(),
            "verification_phrase": phrase.encode(),
        }
        triage = {
            qid: answers[qid].value for qid in answers if self.questionnaire.question(qid).triage
        }
        routing = {
            qid: answers[qid].value
            for qid in answers
            if self.questionnaire.question(qid).kind in ROUTABLE_KINDS
        }
        case_id, key = secrets.token_hex(16), CaseKey.generate()
        fields = {**kept, **extra}
        sealed = {n: key.encrypt(v, case_id=case_id, field=n) for n, v in fields.items()}
        sealed_triage = self.vault.seal_local(
            json.dumps(triage).encode(), purpose="triage", context=case_id
        )
        recovery = seal_case_key(key, self.settings.recovery_public_key, case_id=case_id)
        async with self.db.transaction() as conn:
            code = new_case_code()
            while await store.code_in_use(conn, code):
                code = new_case_code()
            await apply(
                conn,
                store.new_case(
                    case_id=case_id,
                    code=code,
                    receipt_hash=self._receipt_hash(code, secret),
                    triage=sealed_triage,
                    recovery_key=recovery,
                    now=now,
                ),
                *store.field_writes(case_id, sealed, now=now),
                store.case_deletion(loaded.case_id),
            )
            if self.on_submit is not None:
                await self.on_submit(conn, Submission(case_id, code, key, triage, routing))
        key.destroy()
        loaded.key.destroy()
        if not await self.db.checkpoint_or_retry():
            log.warning("checkpoint_incomplete")
        log.info("case_submitted", case_code=code)
        lang = draft.language
        shown = f"{code}-{secret}"
        return (
            Reply(self.catalog.text(lang, "submitted", receipt=shown, phrase=phrase), protect=True),
            Reply(
                self.catalog.text(lang, "wipe_offer"),
                (
                    (
                        Button(self.catalog.text(lang, "wipe_now"), "W:y"),
                        Button(self.catalog.text(lang, "wipe_keep"), "W:n"),
                    ),
                ),
            ),
        )

    def _receipt_hash(self, code: str, secret: str) -> str:
        """A keyed hash: the secret is random (about 59 bits), so Argon2id's cost would buy
        nothing; the key keeps a seizer without the master key from testing guesses, and the
        code in the input keeps a hash from vouching for another case."""
        return self.vault.mac(f"{code}-{secret}".encode(), purpose="receipt").hex()

    async def _status(self, pseudonym: bytes, incoming: Incoming, arg: str) -> Response:
        lang = await self._language(pseudonym, incoming.language_hint)
        receipt = canonical_code(arg)
        if not _RECEIPT_SHAPE.fullmatch(receipt):
            # A code of the wrong shape cannot match any case: show the right shape, and do
            # not count it as a guess.
            return Response((Reply(self.catalog.text(lang, "status_usage")),))
        code, _, secret = receipt.partition("-")
        if not self._status_limiter.allow(pseudonym, self.clock()):
            return Response((Reply(self.catalog.text(lang, "status_limited")),))
        case = await store.get_case_by_code(self.db.conn, code)
        stored = case.receipt_hash if case else None
        if stored is None or case is None or not self._receipt_matches(code, secret, stored):
            await asyncio.sleep(STATUS_DELAY_SECONDS)
            return Response((Reply(self.catalog.text(lang, "status_unknown")),))
        self._status_limiter.forgive(pseudonym)
        return Response((Reply(self.catalog.text(lang, f"status_{case.status}")),))

    def _receipt_matches(self, code: str, secret: str, stored: str) -> bool:
        if stored.startswith("$argon2"):  # a case sent before receipts used a keyed hash
            return verify_secret(secret, stored)
        return hmac.compare_digest(self._receipt_hash(code, secret), stored)

    async def _wipe(self, pseudonym: bytes, incoming: Incoming, *, destroy_draft: bool) -> Response:
        """Erase every message of the chat Telegram still lets the bot delete, and the chat's
        trace with them: nothing of the chat stays on the server.

        The trace could keep that a form was sent from this chat (so the next message is not
        taken for a new form), but a seizer holding the master key would then read, for two
        days, that this account sent a form: the applicant who erases the chat is asking for
        the opposite. "Delete everything" (``destroy_draft``) also destroys a draft.
        """
        lang = await self._language(pseudonym, incoming.language_hint)
        now = self._now()
        lock = self._trace_lock(pseudonym)
        async with lock:
            trace = await self._trace(pseudonym, now)
            delete = trace.take_all(wipe=True)
            async with self.db.transaction() as conn:
                if destroy_draft:
                    row = await store.find_draft(conn, pseudonym)
                    if row is not None:
                        await store.delete_case(conn, row.case_id)
                await store.delete_trace(conn, pseudonym)
            lock.changes += 1
        if incoming.message_id is not None:
            delete.append(incoming.message_id)
        log.info("chat_wiped", count=len(delete))
        return Response(toast=self.catalog.text(lang, "wiped"), delete=tuple(delete))

    async def _keep(self, pseudonym: bytes, incoming: Incoming) -> Response:
        """ "Keep it": the receipt stays until a wipe or /delete (a new question does not clear
        it), and the offer loses its buttons, so an old tap cannot wipe the chat later.

        The offer is the end of the receipt's message (a separate message, in chats whose form
        was sent before the two were one): the receipt's text stays as Telegram shows it, and
        the offer's line becomes the word that the chat is kept."""
        lang = await self._language(pseudonym, incoming.language_hint)

        def keep(trace: ChatTrace, now: int) -> None:
            if trace.receipt is not None:
                trace.keep(trace.receipt)
                trace.receipt = None

        await self._change_trace(pseudonym, keep)
        toast = self.catalog.text(lang, "kept")
        if incoming.pressed_message_id is None:
            return Response(toast=toast)
        kept = self.catalog.text(lang, "wipe_kept")
        offer = self.catalog.text(lang, "wipe_offer")
        shown = (incoming.pressed_text or "").rstrip()
        if shown.endswith(offer) and shown != offer:
            kept = shown.removesuffix(offer).rstrip() + "\n\n" + kept
        edited = Reply(kept, protect=incoming.pressed_protected)
        return Response((edited,), toast, edit_message_id=incoming.pressed_message_id)

    def _delete_question(self, lang: str | None) -> Reply:
        buttons = (
            (Button(self.catalog.text(lang, "delete_yes"), "X:y"),),
            (Button(self.catalog.text(lang, "delete_no"), "X:n"),),
        )
        return Reply(self.catalog.text(lang, "delete_confirm"), buttons, prompt=True)

    async def language_of(self, user_id: int, hint: str | None) -> str | None:
        """The language a user's chat is in, for a word sent outside an answer (a warning to
        slow down, an apology)."""
        return await self._language(self.vault.pseudonym(user_id), hint)

    async def note_dropped(self, chat_id: int, message_ids: list[int]) -> None:
        """Messages the bot did not read (a flood), or its word to slow down, join the chat's
        trace in one write, so the next question, /delete and a wipe erase them too."""
        if chat_id <= 0 or not message_ids:
            return
        pseudonym = self.vault.pseudonym(chat_id)  # a private chat's id is the user's id
        await self._change_trace(pseudonym, lambda trace, now: trace.add_all(message_ids, now))

    async def _language(self, pseudonym: bytes, hint: str | None) -> str | None:
        """The draft's language, else the one the chat remembers (a form sent, or set
        aside), else Telegram's."""
        found = await store.draft_with_fields(self.db.conn, pseudonym)
        if found is not None:
            row, fields = found
            try:
                key = self.vault.unwrap_case_key(row.wrapped_key, case_id=row.case_id)
                progress = key.decrypt(fields["progress"], case_id=row.case_id, field="progress")
                return str(json.loads(progress)["language"])
            except (DecryptionError, KeyError):
                pass
        trace = await self._trace(pseudonym, self._now())
        return trace.lang or hint

    async def _trace(self, pseudonym: bytes, now: int) -> ChatTrace:
        raw = await store.read_trace(self.db.conn, pseudonym, now=now)
        if raw is None:
            return ChatTrace()
        try:
            body = self.vault.open_local(raw, purpose="trace", context=pseudonym.hex())
        except DecryptionError:
            return ChatTrace()
        return ChatTrace.load(body).fresh(now)

    def _trace_write(self, pseudonym: bytes, trace: ChatTrace) -> Write:
        if not trace.worth_keeping():
            return store.trace_deletion(pseudonym)
        body = self.vault.seal_local(trace.dump(), purpose="trace", context=pseudonym.hex())
        return store.trace_write(pseudonym, body, expires_at=trace.expires_at())

    async def purge_expired(self) -> int:
        """Destroy drafts idle past their lifetime and traces Telegram no longer honours."""
        now = self._now()
        async with self.db.transaction() as conn:
            ids = await store.expired_draft_ids(
                conn, idle_since=now - self.settings.draft_ttl_seconds
            )
            for case_id in ids:
                await store.delete_case(conn, case_id)
            await store.delete_expired_traces(conn, now=now)
        if ids:
            log.info("drafts_expired", count=len(ids))
        return len(ids)

    def _now(self) -> int:
        return int(self.clock())


_RECEIPT_SHAPE = re.compile(f"[{ALPHABET}]{{4}}(?:-[{ALPHABET}]{{4}}){{3}}")


def _one_message(replies: tuple[Reply, ...]) -> tuple[Reply, ...]:
    """The receipt and the offer to clear the chat as one protected message, with the offer's
    buttons: one call, and a message the review can become in place."""
    if len(replies) < 2:
        return replies
    texts = "\n\n".join(r.text for r in replies)
    buttons = tuple(row for r in replies for row in r.buttons)
    return (Reply(texts, buttons, protect=any(r.protect for r in replies)),)


def _sent_replies(response: Response) -> tuple[Reply, ...]:
    """The replies that became new messages (an in-place edit takes the first)."""
    return response.replies[1:] if response.edit_message_id is not None else response.replies


def _is_media(event: Event) -> bool:
    return event is Unsupported.MEDIA
