"""Reading the simulated Telegram back as records: chats, answers, menus, the bot's profile."""

from __future__ import annotations

from typing import Any

from bot.devserver.errors import ApiError, DevServerError
from bot.devserver.methods.profile import scope_key
from bot.devserver.records import (
    ApiCall,
    BotProfile,
    ButtonRecord,
    CallbackAnswer,
    CommandRecord,
    MessageRecord,
)
from bot.devserver.state import Message, State


def message_record(message: Message) -> MessageRecord:
    buttons: list[list[ButtonRecord]] = [
        [
            ButtonRecord(
                text=str(button.get("text", "")),
                callback_data=button.get("callback_data"),
                url=button.get("url"),
            )
            for button in row
        ]
        for row in message.inline or []
    ]
    return MessageRecord(
        chat_id=message.chat_id,
        message_id=message.message_id,
        from_bot=message.from_bot,
        from_user_id=message.sender_id if not message.from_bot else None,
        kind=message.kind,
        text=message.text,
        date=message.date,
        reply_markup=buttons,
        protect_content=message.protect_content,
        edited=message.edit_date is not None,
        edit_date=message.edit_date,
        deleted=message.deleted,
        entities=[dict(e) for e in message.entities],
        reply_to_message_id=message.reply_to,
        force_reply=message.force_reply,
    )


class Readers:
    state: State

    async def messages(self, chat_id: int, *, include_deleted: bool = False) -> list[MessageRecord]:
        """Every message of the chat in order, both sides; deleted ones only if asked."""
        chat = self.state.chats.get(chat_id)
        if chat is None:
            return []
        return [
            message_record(m)
            for m in sorted(chat.messages.values(), key=lambda m: m.message_id)
            if include_deleted or not m.deleted
        ]

    async def bot_messages(
        self, chat_id: int, *, include_deleted: bool = False
    ) -> list[MessageRecord]:
        return [
            r for r in await self.messages(chat_id, include_deleted=include_deleted) if r.from_bot
        ]

    async def message(self, chat_id: int, message_id: int) -> MessageRecord | None:
        chat = self.state.chats.get(chat_id)
        found = chat.messages.get(message_id) if chat else None
        return message_record(found) if found else None

    async def reply_keyboard(self, chat_id: int) -> list[list[str]] | None:
        chat = self.state.chats.get(chat_id)
        return chat.reply_keyboard if chat else None

    async def callback_answers(self, query_id: str | None = None) -> list[CallbackAnswer]:
        return [a for a in self.state.answers if query_id is None or a.query_id == query_id]

    async def commands(
        self, scope: str | dict[str, Any] = "default", language_code: str = ""
    ) -> list[CommandRecord]:
        """The menu stored for one scope: a scope object, or a key like ``chat:42``."""
        if isinstance(scope, dict):
            try:
                scope = scope_key(self.state, scope)
            except ApiError as exc:
                raise DevServerError(exc.description) from None
        stored = self.state.commands.get((scope, language_code), [])
        return [CommandRecord(**c) for c in stored]

    async def menu(
        self, chat_id: int, *, user_id: int | None = None, language_code: str | None = None
    ) -> list[CommandRecord]:
        """The command menu this user would see in this chat, by Telegram's scope order."""
        state = self.state
        chat = state.chats.get(chat_id)
        if chat is None:
            raise DevServerError("no such chat")
        if chat.type == "private":
            user_id = chat.id
        person = state.people.get(user_id) if user_id is not None else None
        lang = (
            language_code
            if language_code is not None
            else (person.language_code if person else None)
        )
        if chat.type == "private":
            scopes = [f"chat:{chat.id}", "all_private_chats", "default"]
        else:
            admin = user_id is not None and chat.members.get(user_id) in (
                "creator",
                "administrator",
            )
            scopes = [f"chat_member:{chat.id}:{user_id}"] if user_id is not None else []
            if admin:
                scopes.append(f"chat_administrators:{chat.id}")
            scopes.append(f"chat:{chat.id}")
            if admin:
                scopes.append("all_chat_administrators")
            scopes += ["all_group_chats", "default"]
        for key in scopes:
            for language in ([lang] if lang else []) + [""]:
                stored = state.commands.get((key, language))
                if stored:
                    return [CommandRecord(**c) for c in stored]
        return []

    async def bot_profile(self) -> BotProfile:
        state = self.state
        return BotProfile(
            name={"": state.bot.first_name, **state.names},
            description=dict(state.descriptions),
            short_description=dict(state.short_descriptions),
        )

    async def left_chats(self) -> list[int]:
        return list(self.state.left_chats)

    async def api_calls(self, method: str | None = None) -> list[ApiCall]:
        """Bot API requests received so far; ``method`` matches case-insensitively."""
        wanted = method.lower() if method else None
        return [c for c in self.state.calls if wanted is None or c.method.lower() == wanted]

    async def pending_updates(self) -> int:
        return len(self.state.updates)

    async def version(self) -> int:
        return self.state.version

    async def wait_change(self, since: int, within: float) -> int:
        return await self.state.wait_version(since, within)
