"""Everything the simulated Telegram knows: people, chats, messages, pending updates.

All changes happen on the event loop without awaiting in between, so no locks are needed; after
each change ``notify()`` wakes whoever waits (long polls, webhook delivery, test helpers).
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.devserver.clock import Clock
from bot.devserver.errors import bad_request, forbidden
from bot.devserver.records import ApiCall, CallbackAnswer

Entity = dict[str, Any]

UPDATE_TYPES = (
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "business_connection",
    "business_message",
    "edited_business_message",
    "deleted_business_messages",
    "message_reaction",
    "message_reaction_count",
    "inline_query",
    "chosen_inline_result",
    "callback_query",
    "shipping_query",
    "pre_checkout_query",
    "purchased_paid_media",
    "poll",
    "poll_answer",
    "my_chat_member",
    "chat_member",
    "chat_join_request",
    "chat_boost",
    "removed_chat_boost",
)
# Telegram's default when allowed_updates is empty or was never set.
DEFAULT_ALLOWED = frozenset(UPDATE_TYPES) - {
    "chat_member",
    "message_reaction",
    "message_reaction_count",
}
GROUP_TYPES = ("group", "supergroup", "channel")


def _update_id(update: dict[str, Any]) -> int:
    return int(update["update_id"])


@dataclass
class Person:
    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    is_bot: bool = False


@dataclass
class Message:
    chat_id: int
    message_id: int
    date: int
    sender_id: int | None  # None for channel posts, which are signed by the chat
    from_bot: bool
    kind: str
    text: str | None = None
    entities: list[Entity] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # media, forward_origin, service fields
    inline: list[list[dict[str, Any]]] | None = None
    protect_content: bool = False
    reply_to: int | None = None
    edit_date: int | None = None
    deleted: bool = False
    link_preview_options: dict[str, Any] | None = None
    # Sent with ForceReply: a client that honours it opens the reply field on this message, so
    # what the person types next comes back as a reply to it.
    force_reply: bool = False


@dataclass
class Chat:
    id: int
    type: str  # private, group, supergroup, channel
    title: str | None = None
    username: str | None = None
    bot_status: str = "member"  # member, administrator, left, kicked (private: kicked = blocked)
    members: dict[int, str] = field(default_factory=dict)
    messages: dict[int, Message] = field(default_factory=dict)
    next_message_id: int = 1
    reply_keyboard: list[list[str]] | None = None

    @property
    def bot_present(self) -> bool:
        return self.bot_status in ("member", "administrator", "creator")


@dataclass
class CallbackQuery:
    id: str
    user_id: int
    chat_id: int
    message_id: int
    data: str
    date: int
    answered: bool = False


@dataclass
class Webhook:
    url: str = ""
    secret_token: str | None = None
    max_connections: int = 40
    ip_address: str | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None


class State:
    def __init__(
        self,
        *,
        token: str,
        bot_username: str,
        bot_name: str,
        clock: Clock,
        group_privacy: bool = True,
        callback_timeout: float = 15.0,
    ) -> None:
        self.token = token
        self.bot = Person(
            id=int(token.split(":", 1)[0]), first_name=bot_name, username=bot_username, is_bot=True
        )
        self.clock = clock
        self.group_privacy = group_privacy
        self.callback_timeout = callback_timeout
        self.people: dict[int, Person] = {}
        self.chats: dict[int, Chat] = {}
        self.updates: list[dict[str, Any]] = []
        self.next_update_id = 1
        self.allowed_updates: frozenset[str] = DEFAULT_ALLOWED
        self.webhook = Webhook()
        self.commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self.names: dict[str, str] = {}
        self.descriptions: dict[str, str] = {}
        self.short_descriptions: dict[str, str] = {}
        self.menu_buttons: dict[int | None, dict[str, Any]] = {}
        self.callbacks: dict[str, CallbackQuery] = {}
        self.answers: list[CallbackAnswer] = []
        self.calls: list[ApiCall] = []
        self.left_chats: list[int] = []
        self.files: dict[str, dict[str, Any]] = {}
        self.poll_generation = 0
        self.version = 0
        self.closing = False
        self._changed = asyncio.Condition()
        self._serial = 0

    # --- time, ids ---------------------------------------------------------------------------

    def now(self) -> int:
        return self.clock.now()

    def serial(self) -> int:
        self._serial += 1
        return self._serial

    # --- people and chats --------------------------------------------------------------------

    def person(
        self,
        user_id: int,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
    ) -> Person:
        known = self.people.get(user_id)
        if known is None:
            known = Person(id=user_id, first_name=first_name or f"User{user_id % 10000}")
            self.people[user_id] = known
        if first_name is not None:
            known.first_name = first_name
        if last_name is not None:
            known.last_name = last_name
        if username is not None:
            known.username = username
        if language_code is not None:
            known.language_code = language_code
        return known

    def private_chat(self, user_id: int) -> Chat:
        chat = self.chats.get(user_id)
        if chat is None:
            chat = Chat(id=user_id, type="private")
            self.chats[user_id] = chat
        return chat

    def group_chat(self, chat_id: int, chat_type: str, title: str | None = None) -> Chat:
        if chat_type not in GROUP_TYPES:
            raise ValueError(f"unknown chat type {chat_type!r}")
        if chat_id >= 0:
            raise ValueError("group and channel ids are negative, as in Telegram")
        chat = self.chats.get(chat_id)
        if chat is None:
            chat = Chat(
                id=chat_id,
                type=chat_type,
                title=title or f"Test {chat_type} {abs(chat_id) % 10000}",
                bot_status="administrator" if chat_type == "channel" else "member",
            )
            self.chats[chat_id] = chat
        elif title is not None:
            chat.title = title
        return chat

    def find_chat(self, chat_id: int | str) -> Chat:
        """The chat a Bot API call names, or Telegram's refusal."""
        if isinstance(chat_id, str):
            name = chat_id.removeprefix("@").lower()
            for candidate in self.chats.values():
                username = candidate.username
                if candidate.type == "private" and candidate.id in self.people:
                    username = self.people[candidate.id].username
                if chat_id.startswith("@") and username and username.lower() == name:
                    return candidate
            raise bad_request("chat not found")
        chat = self.chats.get(chat_id)
        if chat is None:
            if chat_id in self.people:
                raise forbidden("bot can't initiate conversation with a user")
            raise bad_request("chat not found")
        return chat

    def writable_chat(self, chat_id: int | str) -> Chat:
        chat = self.find_chat(chat_id)
        if chat.type == "private":
            if chat.bot_status == "kicked":
                raise forbidden("bot was blocked by the user")
            return chat
        if not chat.bot_present:
            noun = f"{chat.type} chat" if chat.type != "group" else "group chat"
            if chat.bot_status == "kicked":
                raise forbidden(f"bot was kicked from the {noun}")
            raise forbidden(f"bot is not a member of the {noun}")
        return chat

    # --- messages and updates ----------------------------------------------------------------

    def add_message(
        self, chat: Chat, *, sender_id: int | None, from_bot: bool, kind: str, **fields: Any
    ) -> Message:
        message = Message(
            chat_id=chat.id,
            message_id=chat.next_message_id,
            date=self.now(),
            sender_id=sender_id,
            from_bot=from_bot,
            kind=kind,
            **fields,
        )
        chat.next_message_id += 1
        chat.messages[message.message_id] = message
        return message

    def push_update(self, kind: str, payload: dict[str, Any]) -> int | None:
        """Queue an update unless the bot asked not to receive this kind."""
        if kind not in self.allowed_updates:
            return None
        update_id = self.next_update_id
        self.next_update_id += 1
        self.updates.append({"update_id": update_id, kind: payload})
        return update_id

    def confirm_updates(self, offset: int) -> None:
        """Telegram forgets updates below ``offset``; a negative offset keeps only the last few."""
        if offset > 0:
            # Queued in update_id order: what is confirmed is a prefix. A backlog of thousands
            # (a flood) must not cost a scan of all of it per getUpdates.
            del self.updates[: bisect.bisect_left(self.updates, offset, key=_update_id)]
        elif offset < 0:
            self.updates = self.updates[offset:]

    def set_allowed_updates(self, value: Any) -> None:
        if value is None:
            return
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise bad_request("can't parse allowed updates")
        chosen = frozenset(v for v in value if v in UPDATE_TYPES)
        self.allowed_updates = chosen or DEFAULT_ALLOWED

    # --- waiting -----------------------------------------------------------------------------

    async def notify(self) -> None:
        self.version += 1
        async with self._changed:
            self._changed.notify_all()

    async def wait(self, predicate: Callable[[], bool], within: float) -> bool:
        """Wait until ``predicate`` holds or the server closes; False on timeout."""
        if predicate() or self.closing:
            return True
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within), self._changed:
                await self._changed.wait_for(lambda: predicate() or self.closing)
                return True
        return predicate()

    async def wait_version(self, since: int, within: float) -> int:
        await self.wait(lambda: self.version > since, within)
        return self.version
