"""The applicant's side: run the intake engine over a chat whose state only its key opens.

Each chat's state (the form under way and the messages still on the phone) is one row, named
and sealed by the chat's key (``bot.crypto.ChatKey``). The key is never written to disk: it
travels in the chat, returned by every tap and reply, and the process holds it in memory while
the chat is active. A seizer holding every file, the master key and a list of Telegram ids
cannot find an account's row, read a form under way, or tell whether an account ever wrote.

Each update is handled under a per-applicant lock: read and open the state, let the pure engine
decide, write what changed, and only then hand replies back. A crash at any point leaves either
the old state or the new one, never half of each. After a restart the key comes back with the
applicant's next tap or reply; until then the chat is asked for that one tap.
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
    ChatKey,
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
from bot.services.chats import STATE_FIELD, ChatMemory, ChatState
from bot.services.erasures import Erase, Erasures, Unanswered
from bot.services.limits import AttemptLimiter
from bot.services.outbox import OutMessage
from bot.services.trace import ChatTrace
from bot.store import Database
from bot.store import cases as store
from bot.store import chats as chat_store
from bot.store.times import to_hour
from bot.store.writes import Write, apply

log = get_logger(__name__)

STATUS_DELAY_SECONDS = 1.0
# Commands a chat without its key may send that are carried out once the key is back: the
# form's own commands, which need the form.
_WAITING_COMMANDS = frozenset({"delete", "back", "cancel", "language"})


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
    key: str | None = None  # the chat's key, as the tap or the reply brought it back


@dataclass(frozen=True)
class Response:
    """What the transport must do: send ``replies`` (the first by editing ``edit_message_id``
    instead, when set), delete ``delete`` and answer a tap with ``toast``; then call
    ``remember``. ``key`` is the chat's key, to be written into what is sent."""

    replies: tuple[Reply, ...] = ()
    toast: str | None = None
    edit_message_id: int | None = None
    delete: tuple[int, ...] = ()
    key: str | None = None
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


class JourneyDesk(Protocol):
    """The road after the handoff (the coordination side): a check-in's answer, and a case
    moving to a new account."""

    async def checkin_answered(self, chat_id: int, token: str) -> bool: ...

    def offer_account(self, case_id: str, code: str, user_id: int) -> str: ...

    def take_account_offer(self, token: str, user_id: int) -> tuple[str, str] | None: ...

    async def change_account(self, case_id: str, chat_id: int, receipt_hash: str) -> bool: ...


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


class _Row(asyncio.Lock):
    """One chat's row: its lock, the state as last read or written under it, and a count of
    the changes, so a read while answering is reused unless something changed the row since.

    Held weakly: it lives while an update or a note is at work on the chat, and the state it
    keeps goes with it."""

    changes = 0
    seen = -1
    state: ChatState | None = None


@dataclass(frozen=True)
class _Chat:
    """A chat whose key is known: the account, the key and the name of its row."""

    account: int
    key: ChatKey
    name: bytes


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
        journey: JourneyDesk | None = None,
    ) -> None:
        self.db = db
        self.vault = vault
        self.questionnaire = questionnaire
        self.catalog = catalog
        self.settings = settings
        self.clock = clock
        self.on_submit = on_submit
        self.relay = relay
        self.journey = journey
        self.memory = ChatMemory()
        self.erasures = Erasures(clock=lambda: self.clock())
        self.sweep_now = asyncio.Event()  # set to sweep at once (a test that moved the clock)
        self._locks: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()
        # The row's own short lock: the applicant's lock is held while Telegram is called
        # (rate-limit waits included), and the outbox must not wait behind that.
        self._rows: weakref.WeakValueDictionary[bytes, _Row] = weakref.WeakValueDictionary()
        self._status_limiter = AttemptLimiter(settings.status_attempts_per_hour, 3600.0)
        # Drafts and traces an earlier release wrote under a pseudonym, until none is left.
        self._legacy: int | None = None

    # --- entry points used by the transport --------------------------------------------------

    async def handle(self, incoming: Incoming, deliver: Deliver | None = None) -> Response:
        """Answer one update; with ``deliver``, also carry the response out and note what the
        chat now shows, all under the applicant's lock.

        Holding the lock until the new messages are noted matters: an applicant who taps the
        question the moment it appears must find it in the trace, or it is neither edited in
        place nor ever cleared.
        """
        lock = self._locks.setdefault(incoming.user_id, asyncio.Lock())
        async with lock:
            if incoming.message_id is not None and self.memory.superseded(
                incoming.user_id, incoming.message_id
            ):
                # Sent before the person asked to erase the chat: deleted, never answered.
                response = Response(delete=(incoming.message_id,))
                if deliver is not None:
                    await deliver(response, [])
                return response
            chat = await self._chat(incoming)
            row = self._row(chat) if chat is not None else None  # held while answering
            response = await self._handle(chat, incoming)
            chat = self._known(incoming.user_id)  # begun while answering, or the same
            if chat is not None:
                response = replace(response, key=chat.key.token)
            if deliver is not None:
                sent: list[int] = []
                try:
                    await deliver(response, sent)
                except Exception:
                    # The applicant's own message, and whatever was sent before the failure
                    # (a receipt, say), are on their phone: note them, so /delete finds them.
                    # The state read while answering has already forgotten what this
                    # response was to delete, which may still be there: read it afresh.
                    if chat is not None:
                        self._row(chat).state = None
                    await self._remember(chat, incoming, Response(), sent)
                    raise
                await self._remember(chat, incoming, response, sent)
            del row
            return response

    async def _remember(
        self, chat: _Chat | None, incoming: Incoming, response: Response, sent: list[int]
    ) -> None:
        """Record which messages are now visible in the chat, after the transport acted."""
        shown = [] if incoming.message_id in response.delete else [incoming.message_id]
        if chat is None:  # no key: the ids wait in memory for it
            ids = [m for m in (*shown, *sent) if m is not None]
            if ids:
                self.memory.wait(incoming.user_id, ids, self.clock())
                self.erasures.add(incoming.user_id, ids, self._now())
            return

        def note(state: ChatState, now: int) -> None:
            trace = state.trace
            if response.language is not None:
                trace.lang = response.language
            for gone in response.delete:
                trace.visible.discard(gone)
            for message_id in (*shown, *sent):
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

        await self._change(chat, note)

    # --- the chat's key and row --------------------------------------------------------------

    async def _chat(self, incoming: Incoming) -> _Chat | None:
        """The chat, if its key is known: brought back by this update, or held in memory.

        A key brought back that opens a row wins over one held (the person tapped an older
        message of the same chat after a restart began another); a key with no row behind it
        is taken only if none is held. Without a key, a chat an earlier release kept under a
        pseudonym is moved under a new one."""
        now = self.clock()
        held = self.memory.key(incoming.user_id, now)
        brought = ChatKey.from_token(incoming.key) if incoming.key else None
        if brought is not None and brought != held:
            chat = self._named(incoming.user_id, brought)
            if held is None:
                return await self._take(chat)
            if await self._state_exists(chat):
                await self._merge(self._named(incoming.user_id, held), chat)
                return await self._take(chat)
        if held is not None:
            self.memory.hold(incoming.user_id, held, now)
            return self._named(incoming.user_id, held)
        return await self._adopt_legacy(incoming.user_id)

    async def _merge(self, begun: _Chat, found: _Chat) -> None:
        """The person tapped a message of their earlier chat (after a restart) while another
        was begun: what the begun one showed joins the found one's trace, so one wipe erases
        both, and the begun row goes."""
        ids = sorted((await self._state(begun)).trace.visible)
        if ids:
            await self._change(found, lambda state, now: state.trace.add_all(ids, now))
        await self.db.write(chat_store.state_deletion(begun.name))

    async def _take(self, chat: _Chat) -> _Chat:
        self.memory.hold(chat.account, chat.key, self.clock())
        return chat

    def _begin(self, account: int) -> _Chat:
        """A new chat key, for a chat that starts (or starts again) with no key known."""
        key = ChatKey.generate()
        self.memory.hold(account, key, self.clock())
        return self._named(account, key)

    def _known(self, account: int) -> _Chat | None:
        key = self.memory.key(account, self.clock())
        return self._named(account, key) if key is not None else None

    def _named(self, account: int, key: ChatKey) -> _Chat:
        """The chat's row is named under its own key, and by the account: nothing derived from
        the master key, so no list of ids leads to it."""
        return _Chat(account, key, key.row_name(account))

    def _row(self, chat: _Chat) -> _Row:
        return self._rows.setdefault(chat.name, _Row())

    async def _state_exists(self, chat: _Chat) -> bool:
        return await chat_store.read_state(self.db.conn, chat.name, now=self._now()) is not None

    async def _state(self, chat: _Chat) -> ChatState:
        """The chat's state, read once per update: a second read while answering reuses the
        first unless the row has changed since."""
        row = self._row(chat)
        if row.state is not None and row.seen == row.changes:
            return row.state
        seen = row.changes
        state = await self._read_state(chat)
        row.state, row.seen = state, seen
        return state

    async def _read_state(self, chat: _Chat) -> ChatState:
        now = self._now()
        raw = await chat_store.read_state(self.db.conn, chat.name, now=now)
        if raw is None:
            return ChatState()
        try:
            state = ChatState.load(chat.key.open(raw, row=chat.name, field=STATE_FIELD))
        except (DecryptionError, ValueError, KeyError):
            return ChatState()
        state.trace = state.trace.fresh(now)
        if state.draft is not None and state.touched < now - self.settings.draft_ttl_seconds:
            state.draft = None
            log.info("draft_expired")
        return state

    async def _change(self, chat: _Chat, change: Callable[[ChatState, int], None]) -> None:
        """Change the chat's state and write it, under the row's own lock."""
        row = self._row(chat)
        async with row:
            state = await self._state(chat)
            change(state, self._now())
            await self.db.write(self._state_write(chat, state))
            row.changes += 1
            row.state, row.seen = state, row.changes
            self.erasures.track(chat.account, state.trace.times)

    def _state_write(self, chat: _Chat, state: ChatState) -> Write:
        expires = state.expires_at(self.settings.draft_ttl_seconds)
        if expires <= self._now():
            return chat_store.state_deletion(chat.name)
        body = chat.key.seal(state.dump(), row=chat.name, field=STATE_FIELD)
        return chat_store.state_write(chat.name, body, expires_at=expires)

    # --- the work ----------------------------------------------------------------------------

    async def _handle(self, chat: _Chat | None, incoming: Incoming) -> Response:
        event = incoming.event
        if isinstance(event, Command) and event.name == "status":
            return await self._status(chat, incoming, event.arg)
        if isinstance(event, Command) and event.name == "delete" and incoming.message_id:
            self.memory.erasing_from(incoming.user_id, incoming.message_id)
        relayed = await self._relay(chat, incoming) or await self._journey(chat, incoming)
        if relayed is not None:
            return relayed
        if chat is None:
            if not (isinstance(event, Command) and event.name == "start"):
                return await self._without_key(incoming)
            chat = self._begin(incoming.user_id)
        # What came in while the key was not held joins the trace, so it is erased with the
        # rest; a command sent then is carried out now.
        waiting = self.memory.take_waiting(chat.account, self.clock())
        if waiting is not None:
            await self._change(chat, waiting.join)
        answered = isinstance(event, Press) and event.data in ("X:y", "X:n")
        if waiting is not None and waiting.command is not None and not answered:
            if waiting.command.name == "delete":  # asked for before the key was back
                return await self._wipe(chat, incoming, destroy_draft=True)
            incoming = replace(incoming, event=waiting.command)
            event = waiting.command
        if isinstance(event, Command) and event.name == "delete":
            lang = await self._language(chat, incoming.language_hint)
            return await self._clearing(chat, incoming, (self._delete_question(lang),))
        if isinstance(event, Press) and event.data in ("W:y", "X:y"):
            return await self._wipe(chat, incoming, destroy_draft=event.data == "X:y")
        if isinstance(event, Press) and event.data == "W:n":
            return await self._keep(chat, incoming)

        now = self._now()
        state = await self._state(chat)
        draft = state.draft
        ctx = self._context(now)
        if draft is None:  # the chat, not a draft, remembers the language and a sent form
            ctx = replace(ctx, language=state.trace.lang or incoming.language_hint)
            ctx = replace(ctx, sent=state.trace.sent)
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
        response = await self._carry(chat, incoming, draft, outcome, now)
        return replace(response, language=language)

    async def _without_key(self, incoming: Incoming) -> Response:
        """A chat whose key the process does not hold: a new person who did not start with
        /start, or anyone after a restart. Nothing can be read of their form until the key
        comes back, so the answer asks for the one tap (or reply) that brings it; a form
        command waits in memory and is carried out then. A file is still refused and
        deleted; /help still answers."""
        event, lang = incoming.event, incoming.language_hint
        if isinstance(event, Unsupported) or (isinstance(event, Command) and event.name == "help"):
            outcome = engine.handle(replace(self._context(self._now()), language=lang), None, event)
            mine = (incoming.message_id,) if _is_media(event) and incoming.message_id else ()
            return Response(outcome.replies, outcome.toast, delete=mine)
        command = event if isinstance(event, Command) else None
        if command is not None and command.name not in _WAITING_COMMANDS:
            command = None
        self.memory.wait(incoming.user_id, [], self.clock(), command)
        if isinstance(event, Press):
            return Response(toast=self.catalog.text(lang, "resume_tap"))
        if command is None or command.name != "delete":
            # Like any answer, it clears what came before it that the bot knows of.
            mine = (incoming.message_id,) if incoming.message_id is not None else ()
            earlier = self.memory.clear_waiting(incoming.user_id)
            note = Reply(self.catalog.text(lang, "resume"))
            return Response((note,), delete=(*earlier, *mine))
        # /delete: the earlier chat is erased by a tap on one of its messages, which brings its
        # key; what came since (known here) by the buttons of this new one.
        chat = self._begin(incoming.user_id)
        waiting = self.memory.take_waiting(chat.account, self.clock())
        if waiting is not None:
            await self._change(chat, waiting.join)
        self.memory.wait(chat.account, [], self.clock(), command)
        question = self._delete_question(lang)
        question = replace(question, text=self.catalog.text(lang, "resume_delete"))
        return await self._clearing(chat, incoming, (question,))

    async def _carry(
        self,
        chat: _Chat,
        incoming: Incoming,
        draft: Draft | None,
        outcome: Outcome,
        now: int,
    ) -> Response:
        """Store what the engine decided, then say what the chat must show."""
        event = incoming.event

        if outcome.effect is Effect.SAVE and outcome.draft is not None:
            saved = outcome.draft

            def save(state: ChatState, now: int) -> None:
                state.draft, state.touched = saved, to_hour(now)

            await self._change(chat, save)
            if draft is None:
                log.info("draft_created")
        elif outcome.effect is Effect.DISCARD and draft is not None:
            await self._change(chat, _drop_draft)
            log.info("draft_discarded")
        elif outcome.effect is Effect.SUBMIT and draft is not None:
            replies = _one_message(await self._submit(chat, draft, incoming, now))
            cleared = await self._clearing(chat, incoming, replies, receipt=True)
            return replace(cleared, form_sent=True)

        clears = any(r.prompt for r in outcome.replies) or outcome.effect is Effect.DISCARD
        if clears:
            return await self._clearing(chat, incoming, outcome.replies, outcome.toast)
        delete = (incoming.message_id,) if _is_media(event) and incoming.message_id else ()
        return Response(outcome.replies, outcome.toast, delete=delete)

    async def _relay(self, chat: _Chat | None, incoming: Incoming) -> Response | None:
        """An answer to a question the team relayed: it goes into the case, not the draft.

        The relay knows the person by a pseudonym computed in memory for this update only; it
        is never stored (a relay's digest mixes it with a random token the chat holds)."""
        event, relay = incoming.event, self.relay
        if relay is None:
            return None
        pseudonym = self.vault.pseudonym(incoming.user_id)
        if isinstance(event, Press) and event.data.startswith("Q:"):
            lang = await self._language(chat, incoming.language_hint)
            if await relay.start_reply(pseudonym, event.data[2:]):
                return Response((Reply(self.catalog.text(lang, "reply_prompt")),))
            return Response(toast=self.catalog.text(lang, "stale_button"))
        if isinstance(event, Text) and relay.awaiting_reply(pseudonym):
            lang = await self._language(chat, incoming.language_hint)
            limit = self.settings.max_text_length
            if len(event.text) > limit:
                note = self.catalog.text(lang, "too_long", max=limit, length=len(event.text))
                return Response((Reply(note),))
            await relay.deposit_reply(pseudonym, event.text)
            gone = (incoming.message_id,) if incoming.message_id is not None else ()
            return Response((Reply(self.catalog.text(lang, "reply_thanks")),), delete=gone)
        return None

    async def note_sent(
        self, chat_id: int, message_id: int, *, team: bool = True, token: str = ""
    ) -> None:
        """A message sent outside an answer joins the chat's trace, so it can be wiped.

        The team's messages (from the outbox) stay until a wipe; others (an apology after a
        failure) go with the next question, like any reply. A chat whose key is not held
        keeps the id in memory until the key comes back. ``token``: the relay token of a
        team's question, so the team hears if it is erased unanswered.
        """
        if chat_id <= 0:
            return
        chat = self._known(chat_id)  # a private chat's id is the user's id
        if chat is None:
            self.memory.wait(chat_id, [message_id], self.clock(), team=team)
            self.erasures.add(chat_id, [message_id], self._now(), token)
            return
        if token:
            self.erasures.add(chat_id, [message_id], self._now(), token)
        await self._change(chat, lambda state, now: state.trace.add(message_id, now, team=team))

    async def note_delivered(self, chat_id: int, message_id: int, message: OutMessage) -> None:
        """A message from the outbox reached a chat: the team's, kept until a wipe; a question
        (its reply button's relay token) is noted so the team hears if it goes unanswered."""
        token = next(
            (b.data[2:] for row in message.buttons for b in row if b.data.startswith("Q:")), ""
        )
        await self.note_sent(chat_id, message_id, team=True, token=token)

    async def _clearing(
        self,
        chat: _Chat,
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
        the offer to clear the chat. A question answered by typing is always a new message:
        only a new message can ask the phone to open its reply field.
        """
        trace = (await self._state(chat)).trace
        edit = None
        if (
            incoming.pressed_message_id is not None
            and replies
            and ((len(replies) == 1 and replies[0].prompt) or receipt)
            # protection, and the request for a reply, cannot be added by an edit
            and (not replies[0].protect or incoming.pressed_protected)
            and not replies[0].asks_reply
            and incoming.pressed_message_id in trace.visible
        ):
            edit = incoming.pressed_message_id
        delete = trace.take_all(keep=edit)
        if incoming.message_id is not None:
            delete.append(incoming.message_id)
        return Response(replies, toast, edit_message_id=edit, delete=tuple(delete))

    def _context(self, now: int) -> Context:
        return Context(
            questionnaire=self.questionnaire,
            catalog=self.catalog,
            languages=self.settings.languages,
            max_text_length=self.settings.max_text_length,
            today=datetime.fromtimestamp(now, UTC).date(),
            next_steps=self.settings.next_steps,
        )

    async def _submit(
        self, chat: _Chat, draft: Draft, incoming: Incoming, now: int
    ) -> tuple[Reply, ...]:
        """The draft becomes a case that nothing on the server can open.

        The case is born: a fresh id and a fresh key that never touch the master key, every
        answer encrypted under it, the key sealed to the recovery key (and, by ``on_submit``,
        to the team). In the same transaction the chat's row is written anew without the
        draft, marked as having sent a form. The WAL is then folded and truncated before the
        applicant is told the form was sent, so the draft's frames are gone from every file.
        """
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
        row = self._row(chat)
        async with row:
            state = await self._state(chat)
            state.draft = None
            state.trace.sent = True
            state.trace.lang = draft.language
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
                    self._state_write(chat, state),
                )
                if self.on_submit is not None:
                    await self.on_submit(conn, Submission(case_id, code, key, triage, routing))
            row.changes += 1
            row.state, row.seen = state, row.changes
            self.erasures.track(chat.account, state.trace.times)
        key.destroy()
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

    async def _status(self, chat: _Chat | None, incoming: Incoming, arg: str) -> Response:
        lang = await self._language(chat, incoming.language_hint)
        receipt = canonical_code(arg)
        if not _RECEIPT_SHAPE.fullmatch(receipt):
            # A code of the wrong shape cannot match any case: show the right shape, and do
            # not count it as a guess.
            return Response((Reply(self.catalog.text(lang, "status_usage")),))
        code, _, secret = receipt.partition("-")
        if not self._status_limiter.allow(incoming.user_id, self.clock()):
            return Response((Reply(self.catalog.text(lang, "status_limited")),))
        case = await store.get_case_by_code(self.db.conn, code)
        stored = case.receipt_hash if case else None
        if stored is None or case is None or not self._receipt_matches(code, secret, stored):
            await asyncio.sleep(STATUS_DELAY_SECONDS)
            return Response((Reply(self.catalog.text(lang, "status_unknown")),))
        self._status_limiter.forgive(incoming.user_id)
        status = self.catalog.text(lang, f"status_{case.status}")
        if self.journey is None or case.status not in _MOVABLE:
            return Response((Reply(status),))
        # Someone on a new phone may take the case with them (``accounts``).
        token = self.journey.offer_account(case.case_id, code, incoming.user_id)
        offer = self.catalog.text(lang, "account_offer")
        button = Button(self.catalog.text(lang, "account_use"), f"M:{token}")
        return Response((Reply(f"{status}\n\n{offer}", ((button,),)),))

    async def _journey(self, chat: _Chat | None, incoming: Incoming) -> Response | None:
        """A check-in's button, or "use this account for my case" after a ``/status``.

        Either check-in button gets the same answer, stale or not, and the check-in is erased:
        nothing left on the phone says which was tapped."""
        event, desk = incoming.event, self.journey
        if desk is None or not isinstance(event, Press) or event.data[:2] not in ("K:", "M:"):
            return None
        lang = await self._language(chat, incoming.language_hint)
        pressed = (incoming.pressed_message_id,) if incoming.pressed_message_id else ()
        if event.data.startswith("K:"):
            await desk.checkin_answered(incoming.chat_id, event.data[2:])
            return Response(toast=self.catalog.text(lang, "checkin_thanks"), delete=pressed)
        offer = desk.take_account_offer(event.data[2:], incoming.user_id)
        if offer is None:
            return Response(toast=self.catalog.text(lang, "stale_button"))
        case_id, code = offer
        secret = new_receipt_secret()
        if not await desk.change_account(
            case_id, incoming.chat_id, self._receipt_hash(code, secret)
        ):
            return Response(toast=self.catalog.text(lang, "stale_button"), delete=pressed)
        moved = self.catalog.text(lang, "account_changed", receipt=f"{code}-{secret}")
        return Response((Reply(moved, protect=True),), delete=pressed)

    def _receipt_matches(self, code: str, secret: str, stored: str) -> bool:
        if stored.startswith("$argon2"):  # a case sent before receipts used a keyed hash
            return verify_secret(secret, stored)
        return hmac.compare_digest(self._receipt_hash(code, secret), stored)

    async def _wipe(self, chat: _Chat, incoming: Incoming, *, destroy_draft: bool) -> Response:
        """Erase every message of the chat Telegram still lets the bot delete, and the chat's
        row with them: nothing of the chat stays on the server.

        The row could keep that a form was sent from this chat (so the next message is not
        taken for a new form), but the applicant who erases the chat is asking for nothing of
        it to remain. "Delete everything" (``destroy_draft``) also destroys a draft; a wipe
        offered after sending keeps a draft begun since, and with it the row.
        """
        row = self._row(chat)
        async with row:
            state = await self._state(chat)
            lang = state.draft.language if state.draft else state.trace.lang
            lang = lang or incoming.language_hint
            delete = state.trace.take_all(wipe=True)
            kept = ChatState(state.draft, state.touched) if not destroy_draft else ChatState()
            if kept.draft is None:
                await self.db.write(chat_store.state_deletion(chat.name))
                self.memory.take_waiting(chat.account, self.clock())
            else:
                await self.db.write(self._state_write(chat, kept))
            row.changes += 1
            row.state, row.seen = kept, row.changes
            self.erasures.forget(chat.account)
        if incoming.message_id is not None:
            delete.append(incoming.message_id)
        # The row's earlier versions leave the WAL too: nothing of the chat stays in any file.
        if not await self.db.checkpoint_or_retry():
            log.warning("checkpoint_incomplete")
        log.info("chat_wiped", count=len(delete))
        return Response(toast=self.catalog.text(lang, "wiped"), delete=tuple(delete))

    async def _keep(self, chat: _Chat, incoming: Incoming) -> Response:
        """ "Keep it": the receipt stays until a wipe or /delete (a new question does not clear
        it), and the offer loses its buttons, so an old tap cannot wipe the chat later.

        The offer is the end of the receipt's message (a separate message, in chats whose form
        was sent before the two were one): the receipt's text stays as Telegram shows it, and
        the offer's line becomes the word that the chat is kept."""
        lang = await self._language(chat, incoming.language_hint)

        def keep(state: ChatState, now: int) -> None:
            trace = state.trace
            if trace.receipt is not None:
                trace.keep(trace.receipt)
                trace.receipt = None

        await self._change(chat, keep)
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
        return await self._language(self._known(user_id), hint)

    async def note_dropped(self, chat_id: int, message_ids: list[int]) -> None:
        """Messages the bot did not read (a flood), or its word to slow down, join the chat's
        trace in one write, so the next question, /delete and a wipe erase them too."""
        if chat_id <= 0 or not message_ids:
            return
        chat = self._known(chat_id)  # a private chat's id is the user's id
        if chat is None:
            self.memory.wait(chat_id, message_ids, self.clock())
            self.erasures.add(chat_id, message_ids, self._now())
            return
        await self._change(chat, lambda state, now: state.trace.add_all(message_ids, now))

    async def _language(self, chat: _Chat | None, hint: str | None) -> str | None:
        """The draft's language, else the one the chat remembers (a form sent, or set
        aside), else Telegram's."""
        if chat is None:
            return hint
        state = await self._state(chat)
        if state.draft is not None:
            return state.draft.language
        return state.trace.lang or hint

    # --- what an earlier release left -------------------------------------------------------

    async def _adopt_legacy(self, account: int) -> _Chat | None:
        """A draft or trace an earlier release kept under a master-derived pseudonym: moved
        under a new chat key when its owner next writes, and deleted from where it was."""
        if self._legacy is None:
            self._legacy = await chat_store.count_legacy(self.db.conn)
        if not self._legacy:
            return None
        now = self._now()
        for pseudonym in self.vault.pseudonyms(account):
            found = await store.draft_with_fields(self.db.conn, pseudonym)
            raw_trace = await store.read_trace(self.db.conn, pseudonym, now=now)
            if found is None and raw_trace is None:
                continue
            state = ChatState()
            case_id = None
            if found is not None:
                row, encrypted = found
                case_id = row.case_id
                try:
                    key = self.vault.unwrap_case_key(row.wrapped_key, case_id=row.case_id)
                    plain = {
                        n: key.decrypt(v, case_id=row.case_id, field=n)
                        for n, v in encrypted.items()
                    }
                    state.draft, state.touched = Draft.from_fields(plain), to_hour(row.updated_at)
                except (DecryptionError, KeyError, ValueError):
                    state.draft = None
            if raw_trace is not None:
                try:
                    body = self.vault.open_local(
                        raw_trace, purpose="trace", context=pseudonym.hex()
                    )
                    state.trace = ChatTrace.load(body).fresh(now)
                except (DecryptionError, KeyError, ValueError):
                    pass
            chat = self._begin(account)
            async with self.db.transaction() as conn:
                await apply(conn, self._state_write(chat, state))
                await chat_store.delete_legacy(conn, case_id=case_id, trace=pseudonym)
            self._legacy = max(0, self._legacy - 1 - (case_id is not None))
            if not await self.db.checkpoint_or_retry():
                log.warning("checkpoint_incomplete")
            log.info("chat_moved_under_its_key")
            return chat
        return None

    async def purge_expired(self) -> int:
        """Destroy chats past their lifetime, and what an earlier release left that expired.

        Returns the number of such rows."""
        now = self._now()
        async with self.db.transaction() as conn:
            ids = await store.expired_draft_ids(
                conn, idle_since=now - self.settings.draft_ttl_seconds
            )
            for case_id in ids:
                await store.delete_case(conn, case_id)
            await store.delete_expired_traces(conn, now=now)
            states = await chat_store.delete_expired_states(conn, now=now)
        if ids or states:
            log.info("drafts_expired", count=len(ids) + states)
        return len(ids) + states

    async def erase_due(self, erase: Erase, unanswered: Unanswered | None = None) -> int:
        """Erase every message whose time is up before Telegram's window closes; a chat whose
        key is held forgets them in its trace. Returns how many messages were erased."""
        erased = await self.erasures.sweep(erase, unanswered)
        for chat_id, ids in erased:
            chat = self._known(chat_id)
            if chat is not None:
                await self._change(chat, _forgetting(ids))
        return sum(len(ids) for _, ids in erased)

    def _now(self) -> int:
        return int(self.clock())


# States in which a case can still follow its person to a new account.
_MOVABLE = frozenset({"submitted", "claimed", "approved", "handed_off"})
_RECEIPT_SHAPE = re.compile(f"[{ALPHABET}]{{4}}(?:-[{ALPHABET}]{{4}}){{3}}")


def _drop_draft(state: ChatState, now: int) -> None:
    state.draft = None


def _forgetting(message_ids: list[int]) -> Callable[[ChatState, int], None]:
    def forget(state: ChatState, now: int) -> None:
        state.trace.forget(message_ids)

    return forget


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
