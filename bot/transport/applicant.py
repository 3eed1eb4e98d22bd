"""Handlers for applicants' private chats: translate, call the intake service, deliver."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from telegram import Message, Update
from telegram.ext import ContextTypes

from bot.i18n import Catalog
from bot.intake.events import Command, Event, Press, Reply, Unsupported
from bot.logs import get_logger
from bot.services.intake import Incoming, IntakeService, Response
from bot.services.limits import AttemptLimiter
from bot.transport import carried
from bot.transport.delivery import deliver, send
from bot.transport.updates import message_event

log = get_logger(__name__)

FLOOD_WINDOW_SECONDS = 60.0
# Erasing is never throttled by the flood limit: right after a flood (panic, a paste) is when
# someone is most likely to be interrupted. It has its own limit, generous for a person and
# small enough that erasing cannot be used to load the server.
ERASE_PER_MINUTE = 20
# How often, at most, what a flood left in a chat is written to its trace: a flood costs a
# database write a second per person, not one per message.
NOTE_INTERVAL_SECONDS = 1.0


def language_hint(update: Update) -> str | None:
    """Telegram's interface language, used only to answer people who have no draft."""
    user = update.effective_user
    code = (user.language_code or "") if user else ""
    return "my" if code.startswith("my") else None


class ApplicantHandlers:
    """The applicant side of the transport, one object so handlers share the service."""

    def __init__(
        self,
        intake: IntakeService,
        catalog: Catalog,
        flood_per_minute: int,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.intake = intake
        self.catalog = catalog
        self.clock = clock
        self._flood = AttemptLimiter(flood_per_minute, FLOOD_WINDOW_SECONDS)
        self._erasing = AttemptLimiter(ERASE_PER_MINUTE, FLOOD_WINDOW_SECONDS)
        self._warned = AttemptLimiter(1, FLOOD_WINDOW_SECONDS)
        # Messages left unread in a chat (and the word to slow down), by chat, until they are
        # noted in its trace: one task notes them all, so memory holds only what came in
        # since the last write.
        self._unread: dict[int, list[int]] = {}
        self._noter: asyncio.Task[None] | None = None
        self._noting: dict[int, asyncio.Future[None]] = {}  # a chat's batch being written

    async def on_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or update.effective_user is None:
            return
        event: Event = Unsupported.EDITED if update.edited_message else message_event(message)
        key = None
        if isinstance(event, Command) and event.name == "start":
            key = carried.token_in_start(event.arg)  # the question's link, tapped
            if key is not None:
                event = Command("start")
        if key is None and not update.edited_message:
            key = _replied_key(message, context.bot.id)
        await self._run(update, context, event, message_id=message.message_id, key=key)

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None or query.message is None:
            return
        if query.message.chat.type != "private":
            await query.answer()  # no buttons of ours live outside private chats
            return
        data, key = carried.split_callback(query.data or "")
        await self._run(
            update,
            context,
            Press(data),
            pressed_message_id=query.message.message_id,
            pressed_protected=isinstance(query.message, Message)
            and bool(query.message.has_protected_content),
            pressed_text=query.message.text if isinstance(query.message, Message) else None,
            key=key,
        )

    async def _run(
        self,
        update: Update,
        context: ContextTypes.DEFAULT_TYPE,
        event: Event,
        *,
        message_id: int | None = None,
        pressed_message_id: int | None = None,
        pressed_protected: bool = False,
        pressed_text: str | None = None,
        key: str | None = None,
    ) -> None:
        user, chat = update.effective_user, update.effective_chat
        if user is None or chat is None:
            return
        edited = event is Unsupported.EDITED
        incoming = Incoming(
            user_id=user.id,
            chat_id=chat.id,
            event=event,
            message_id=None if edited else message_id,
            pressed_message_id=pressed_message_id,
            pressed_protected=pressed_protected,
            pressed_text=pressed_text,
            language_hint=language_hint(update),
            key=key,
        )
        if _erases(event):
            if not self._erasing.allow(user.id, self.clock()):
                await self._slow_down(update, context, incoming)
                return
            await self._note_now(chat.id)  # a flood's unread messages go with the rest
        elif not self._flood.allow(user.id, self.clock()):
            await self._slow_down(update, context, incoming)
            return

        async def carry_out(response: Response, sent: list[int]) -> None:
            await deliver(context.bot, chat.id, response, update.callback_query, sent=sent)

        await self.intake.handle(incoming, carry_out)
        # Debug only: at the deployed level a line per update cost a few percent of the event
        # loop under load, and a log of every update's time is a record of the chats' activity.
        log.debug("update_handled", update_kind=type(event).__name__)

    async def _slow_down(
        self, update: Update, context: ContextTypes.DEFAULT_TYPE, incoming: Incoming
    ) -> None:
        """A flooding user gets one short word a minute, in their language; their messages are
        not read, but they are noted (with that word) so that /delete and a wipe erase them:
        a message left on the phone is as dangerous unread as read."""
        log.info("flood_dropped")
        if update.callback_query is not None:
            await update.callback_query.answer()
            return
        mine = [incoming.message_id] if incoming.message_id is not None else []
        if not self._warned.allow(incoming.user_id, self.clock()):
            self._leave_unread(incoming.chat_id, mine)  # the rest of a flood: noted in rounds
            return
        # The first dropped message of a minute is noted now, with the word that answers it:
        # someone throttled once (a crowd's member) leaves nothing waiting in memory.
        lang = await self.intake.language_of(incoming.user_id, incoming.language_hint)
        note = Reply(self.catalog.text(lang, "slow_down"))
        sent: list[int] = []
        try:
            await deliver(context.bot, incoming.chat_id, Response((note,)), sent=sent)
        finally:
            await self._note(incoming.chat_id, mine + sent)

    def _leave_unread(self, chat_id: int, message_ids: list[int]) -> None:
        if not message_ids:
            return
        self._unread.setdefault(chat_id, []).extend(message_ids)
        if self._noter is None or self._noter.done():
            self._noter = asyncio.create_task(self._note_unread())

    async def _note_unread(self) -> None:
        """Write what floods left in each chat to its trace, at once and then at most once
        every ``NOTE_INTERVAL_SECONDS`` while they go on."""
        while self._unread:
            batch, self._unread = self._unread, {}
            # All at once: their writes share the database's group commits, so a crowd of
            # flooders costs a few commits a second, not one each, and nothing piles up here.
            writes = {
                chat: asyncio.ensure_future(self._note(chat, ids)) for chat, ids in batch.items()
            }
            self._noting.update(writes)
            try:
                await asyncio.gather(*writes.values())
            finally:
                for chat, write in writes.items():
                    if self._noting.get(chat) is write:
                        del self._noting[chat]
            await asyncio.sleep(NOTE_INTERVAL_SECONDS)

    async def _note_now(self, chat_id: int) -> None:
        """Before an erase: what a flood left in this chat, noted now (and a batch being
        written, finished), so the erase finds every message."""
        writing = self._noting.get(chat_id)
        if writing is not None:
            await asyncio.shield(writing)
        ids = self._unread.pop(chat_id, [])
        if ids:
            await self._note(chat_id, ids)

    async def _note(self, chat_id: int, message_ids: list[int]) -> None:
        try:
            await self.intake.note_dropped(chat_id, message_ids)
        except Exception as exc:  # noqa: BLE001 - the other chats must still be noted
            log.error("unread_not_noted", error=type(exc).__name__)

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log the failure's type only, and tell the applicant calmly to try again."""
        error = context.error
        log.error("handler_failed", error=type(error).__name__)
        if not isinstance(update, Update):
            return
        if update.callback_query is not None:
            # An unanswered tap keeps the button spinning on the phone, as if still at work.
            try:
                await update.callback_query.answer()
            except Exception:  # noqa: BLE001 - the error path must not raise again
                log.error("tap_not_answered")
        chat = update.effective_chat
        if chat is None or chat.type != "private":
            return
        lang = language_hint(update)
        try:
            lang = await self.intake.language_of(chat.id, lang)
        except Exception:  # noqa: BLE001 - the database may be what failed
            log.error("language_unknown")
        sorry = Reply(self.catalog.text(lang, "sorry"))
        try:
            await self.intake.note_sent(
                chat.id, await send(context.bot, chat.id, sorry), team=False
            )
        except Exception:  # noqa: BLE001 - the error path must not raise again
            log.error("error_reply_failed")


def _replied_key(message: Message, bot_id: int) -> str | None:
    """The chat's key in the bot's question this message replies to (sent with ForceReply,
    Telegram returns it with the reply: its text and entities)."""
    replied = message.reply_to_message
    if replied is None or replied.from_user is None or replied.from_user.id != bot_id:
        return None
    return carried.token_in_entities(replied.entities)


def _erases(event: Event) -> bool:
    """The events that erase the chat, or answer the question whether to."""
    if isinstance(event, Command):
        return event.name == "delete"
    return isinstance(event, Press) and event.data in ("X:y", "X:n", "W:y")
