"""Simulated Telegram users: what a person can do in the app, and only that.

``press_button`` insists the button exists, like the app; ``forge_callback`` does not, for tests
that play a hostile client sending made-up callback data.
"""

from __future__ import annotations

from typing import Any

from bot.devserver.errors import DevServerError
from bot.devserver.formatting import MAX_TEXT, command_entities
from bot.devserver.keyboards import callback_data_of
from bot.devserver.methods.messages import DELETE_WINDOW
from bot.devserver.objects import (
    MEDIA_KINDS,
    chat_json,
    inaccessible_message_json,
    media_fields,
    member_json,
    message_json,
    takes_caption,
    user_json,
)
from bot.devserver.state import GROUP_TYPES, CallbackQuery, Chat, Message, State

MEMBER_STATUSES = ("creator", "administrator", "member", "left", "kicked")


def _check_text(text: str) -> None:
    if not text.strip():
        raise DevServerError("Telegram apps do not send empty messages")
    if len(text) > MAX_TEXT:
        raise DevServerError("Telegram apps split text longer than 4096 characters")


def _check_user(user_id: int) -> None:
    if user_id <= 0:
        raise DevServerError("user ids are positive")


class UserActions:
    state: State

    # --- private chats -----------------------------------------------------------------------

    def _open_private(self, user_id: int) -> Chat:
        """A user who writes to a bot they blocked unblocks it first, as the app makes them."""
        chat = self.state.private_chat(user_id)
        if chat.bot_status == "kicked":
            self._set_private_status(chat, "member")
        return chat

    def _set_private_status(self, chat: Chat, status: str) -> None:
        state = self.state
        old = chat.bot_status
        chat.bot_status = status
        state.push_update(
            "my_chat_member",
            {
                "chat": chat_json(state, chat),
                "from": user_json(state.person(chat.id)),
                "date": state.now(),
                "old_chat_member": member_json(state.bot, old),
                "new_chat_member": member_json(state.bot, status),
            },
        )

    def _deliver(self, kind: str, message: Message) -> dict[str, Any]:
        payload = message_json(self.state, message)
        self.state.push_update(kind, payload)
        return payload

    def _reply_to(self, chat: Chat, message_id: int | None) -> int | None:
        if message_id is None:
            return None
        target = chat.messages.get(message_id)
        if target is None or target.deleted:
            raise DevServerError("the message to reply to is not in this chat")
        return message_id

    async def send_text(
        self,
        user_id: int,
        text: str,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
        reply_to_message_id: int | None = None,
    ) -> dict[str, Any]:
        """The Bot API Message the bot will receive; '/commands' carry bot_command entities."""
        _check_user(user_id)
        _check_text(text)
        state = self.state
        state.person(
            user_id,
            first_name=first_name,
            last_name=last_name,
            username=username,
            language_code=language_code,
        )
        chat = self._open_private(user_id)
        message = state.add_message(
            chat,
            sender_id=user_id,
            from_bot=False,
            kind="text",
            text=text,
            entities=command_entities(text),
            reply_to=self._reply_to(chat, reply_to_message_id),
        )
        payload = self._deliver("message", message)
        await state.notify()
        return payload

    async def send_media(
        self,
        user_id: int,
        kind: str,
        *,
        caption: str | None = None,
        first_name: str | None = None,
        language_code: str | None = None,
    ) -> dict[str, Any]:
        _check_user(user_id)
        if kind not in MEDIA_KINDS:
            raise DevServerError(f"unknown media kind; choose from {', '.join(MEDIA_KINDS)}")
        if caption is not None and not takes_caption(kind):
            raise DevServerError(f"a {kind} has no caption")
        state = self.state
        person = state.person(user_id, first_name=first_name, language_code=language_code)
        chat = self._open_private(user_id)
        message = state.add_message(
            chat,
            sender_id=user_id,
            from_bot=False,
            kind=kind,
            text=caption,
            extra=media_fields(state, kind, person),
        )
        payload = self._deliver("message", message)
        await state.notify()
        return payload

    async def forward_text(
        self,
        user_id: int,
        text: str,
        from_name: str,
        *,
        from_user_id: int | None = None,
    ) -> dict[str, Any]:
        """A forward from someone who hides their account, or from a known user."""
        _check_user(user_id)
        _check_text(text)
        state = self.state
        state.person(user_id)
        chat = self._open_private(user_id)
        origin: dict[str, Any]
        if from_user_id is None:
            origin = {"type": "hidden_user", "sender_user_name": from_name}
        else:
            sender = state.person(from_user_id, first_name=from_name)
            origin = {"type": "user", "sender_user": user_json(sender)}
        origin["date"] = state.now() - 3600
        message = state.add_message(
            chat,
            sender_id=user_id,
            from_bot=False,
            kind="text",
            text=text,
            entities=command_entities(text),
            extra={"forward_origin": origin},
        )
        payload = self._deliver("message", message)
        await state.notify()
        return payload

    async def edit_text(self, user_id: int, message_id: int, text: str) -> dict[str, Any]:
        """The user edits one of their own messages; the bot gets an edited_message update."""
        _check_text(text)
        state = self.state
        chat = state.chats.get(user_id)
        message = chat.messages.get(message_id) if chat else None
        if chat is None or message is None or message.deleted:
            raise DevServerError("no such message in this user's chat")
        if message.sender_id != user_id or message.kind != "text":
            raise DevServerError("users can edit only their own text messages")
        if state.now() - message.date >= DELETE_WINDOW:
            raise DevServerError("messages older than 48 hours can not be edited")
        if message.text == text:
            raise DevServerError("the text is unchanged")
        message.text = text
        message.entities = command_entities(text)
        message.edit_date = state.now()
        payload = self._deliver("edited_message", message)
        await state.notify()
        return payload

    # --- buttons -----------------------------------------------------------------------------

    async def press_button(self, user_id: int, message_id: int, callback_data: str) -> str:
        """Returns the callback query id, to look up the bot's answer."""
        chat = self.state.chats.get(user_id)
        message = chat.messages.get(message_id) if chat else None
        if chat is None or message is None or message.deleted:
            raise DevServerError("no such message in this user's chat")
        if not message.from_bot or callback_data not in callback_data_of(message.inline):
            raise DevServerError("that message has no button with this callback data")
        query_id = self._callback(user_id, chat, message_id, callback_data)
        await self.state.notify()
        return query_id

    async def forge_callback(self, user_id: int, message_id: int, data: str) -> str:
        """A callback query with any data, for any message id, as a tampered client could send."""
        _check_user(user_id)
        self.state.person(user_id)
        chat = self.state.private_chat(user_id)
        query_id = self._callback(user_id, chat, message_id, data)
        await self.state.notify()
        return query_id

    def _callback(self, user_id: int, chat: Chat, message_id: int, data: str) -> str:
        state = self.state
        query_id = str(4_200_000_000_000_000_000 + state.serial())
        message = chat.messages.get(message_id)
        if message is None or message.deleted:
            shown = inaccessible_message_json(state, chat, message_id)
        else:
            shown = message_json(state, message)
        state.callbacks[query_id] = CallbackQuery(
            id=query_id,
            user_id=user_id,
            chat_id=chat.id,
            message_id=message_id,
            data=data,
            date=state.now(),
        )
        state.push_update(
            "callback_query",
            {
                "id": query_id,
                "from": user_json(state.person(user_id)),
                "message": shown,
                "chat_instance": str(abs(chat.id) * 7919 % 10**18 + 10**17),
                "data": data,
            },
        )
        return query_id

    # --- membership --------------------------------------------------------------------------

    async def block_bot(self, user_id: int) -> None:
        chat = self.state.chats.get(user_id)
        if chat is None or chat.bot_status == "kicked":
            raise DevServerError("this user has no open chat with the bot")
        self._set_private_status(chat, "kicked")
        await self.state.notify()

    async def unblock_bot(self, user_id: int) -> None:
        chat = self.state.chats.get(user_id)
        if chat is None or chat.bot_status != "kicked":
            raise DevServerError("this user has not blocked the bot")
        self._set_private_status(chat, "member")
        await self.state.notify()

    def _group(self, chat_id: int, chat_type: str, title: str | None) -> Chat:
        try:
            return self.state.group_chat(chat_id, chat_type, title)
        except ValueError as exc:
            raise DevServerError(str(exc)) from None

    async def add_bot_to_group(
        self,
        chat_id: int,
        by_user_id: int,
        *,
        chat_type: str = "group",
        title: str | None = None,
        as_admin: bool = False,
    ) -> dict[str, Any]:
        """Returns the ChatMemberUpdated the bot receives; groups also get a service message."""
        _check_user(by_user_id)
        state = self.state
        existing = state.chats.get(chat_id)
        old = existing.bot_status if existing is not None else "left"
        if existing is not None and existing.bot_present:
            raise DevServerError("the bot is already in that chat")
        chat = self._group(chat_id, chat_type, title)
        adder = state.person(by_user_id)
        chat.members.setdefault(by_user_id, "creator" if existing is None else "member")
        chat.bot_status = "administrator" if as_admin or chat.type == "channel" else "member"
        update = {
            "chat": chat_json(state, chat),
            "from": user_json(adder),
            "date": state.now(),
            "old_chat_member": member_json(state.bot, old),
            "new_chat_member": member_json(state.bot, chat.bot_status),
        }
        state.push_update("my_chat_member", update)
        if chat.type != "channel":
            service = state.add_message(
                chat,
                sender_id=by_user_id,
                from_bot=False,
                kind="service",
                extra={"new_chat_members": [user_json(state.bot)]},
            )
            self._deliver("message", service)
        await state.notify()
        return update

    async def set_chat_member(self, chat_id: int, user_id: int, status: str) -> None:
        """Make someone an admin or member of a group, e.g. the coordinators' group."""
        if status not in MEMBER_STATUSES:
            raise DevServerError(f"status must be one of {', '.join(MEMBER_STATUSES)}")
        chat = self.state.chats.get(chat_id)
        if chat is None or chat.type not in GROUP_TYPES:
            raise DevServerError("no such group; send a message or add the bot first")
        self.state.person(user_id)
        chat.members[user_id] = status
        await self.state.notify()

    async def send_group_text(
        self,
        chat_id: int,
        user_id: int,
        text: str,
        *,
        chat_type: str = "group",
        title: str | None = None,
        first_name: str | None = None,
        reply_to_message_id: int | None = None,
    ) -> dict[str, Any]:
        """Posts in a group or channel, creating it (with the bot in it) on first use.

        With the default privacy mode, like Telegram, a bot that is not an admin only receives
        commands and replies to its own messages from groups.
        """
        _check_user(user_id)
        _check_text(text)
        state = self.state
        chat = self._group(chat_id, chat_type, title)
        person = state.person(user_id, first_name=first_name)
        channel = chat.type == "channel"
        if not channel:
            chat.members.setdefault(user_id, "member")
        reply_to = self._reply_to(chat, reply_to_message_id)
        message = state.add_message(
            chat,
            sender_id=None if channel else person.id,
            from_bot=False,
            kind="text",
            text=text,
            entities=command_entities(text),
            reply_to=reply_to,
        )
        payload = message_json(state, message)
        if chat.bot_present and self._bot_hears(chat, text, reply_to):
            state.push_update("channel_post" if channel else "message", payload)
        await state.notify()
        return payload

    def _bot_hears(self, chat: Chat, text: str, reply_to: int | None) -> bool:
        if chat.type == "channel" or not self.state.group_privacy:
            return True
        if chat.bot_status == "administrator" or text.startswith("/"):
            return True
        replied = chat.messages.get(reply_to) if reply_to is not None else None
        return replied is not None and replied.from_bot

    # --- time --------------------------------------------------------------------------------

    async def advance(self, seconds: float) -> int:
        """Move the server's clock forward; returns the new unix time."""
        now = self.state.clock.advance(seconds)
        await self.state.notify()
        return now

    async def now(self) -> int:
        return self.state.now()
