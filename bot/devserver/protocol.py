"""What the in-process server and the HTTP client both offer, for code that takes either."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from bot.devserver.records import (
    ApiCall,
    BotProfile,
    CallbackAnswer,
    CommandRecord,
    MessageRecord,
)

T = TypeVar("T")


class Simulator(Protocol):
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
    ) -> dict[str, Any]: ...

    async def send_media(
        self,
        user_id: int,
        kind: str,
        *,
        caption: str | None = None,
        first_name: str | None = None,
        language_code: str | None = None,
    ) -> dict[str, Any]: ...

    async def forward_text(
        self, user_id: int, text: str, from_name: str, *, from_user_id: int | None = None
    ) -> dict[str, Any]: ...

    async def edit_text(self, user_id: int, message_id: int, text: str) -> dict[str, Any]: ...

    async def press_button(self, user_id: int, message_id: int, callback_data: str) -> str: ...

    async def forge_callback(self, user_id: int, message_id: int, data: str) -> str: ...

    async def block_bot(self, user_id: int) -> None: ...

    async def unblock_bot(self, user_id: int) -> None: ...

    async def add_bot_to_group(
        self,
        chat_id: int,
        by_user_id: int,
        *,
        chat_type: str = "group",
        title: str | None = None,
        as_admin: bool = False,
    ) -> dict[str, Any]: ...

    async def set_chat_member(self, chat_id: int, user_id: int, status: str) -> None: ...

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
    ) -> dict[str, Any]: ...

    async def advance(self, seconds: float) -> int: ...

    async def now(self) -> int: ...

    async def inject_fault(
        self,
        method: str,
        *,
        error_code: int | None = 429,
        retry_after: int | None = None,
        description: str | None = None,
        times: int = 1,
        delay: float | None = None,
        drop_connection: bool = False,
    ) -> None: ...

    async def clear_faults(self) -> None: ...

    async def messages(
        self, chat_id: int, *, include_deleted: bool = False
    ) -> list[MessageRecord]: ...

    async def bot_messages(
        self, chat_id: int, *, include_deleted: bool = False
    ) -> list[MessageRecord]: ...

    async def message(self, chat_id: int, message_id: int) -> MessageRecord | None: ...

    async def reply_keyboard(self, chat_id: int) -> list[list[str]] | None: ...

    async def callback_answers(self, query_id: str | None = None) -> list[CallbackAnswer]: ...

    async def commands(
        self, scope: str | dict[str, Any] = "default", language_code: str = ""
    ) -> list[CommandRecord]: ...

    async def menu(
        self, chat_id: int, *, user_id: int | None = None, language_code: str | None = None
    ) -> list[CommandRecord]: ...

    async def bot_profile(self) -> BotProfile: ...

    async def left_chats(self) -> list[int]: ...

    async def api_calls(self, method: str | None = None) -> list[ApiCall]: ...

    async def pending_updates(self) -> int: ...

    async def version(self) -> int: ...

    async def wait_change(self, since: int, within: float) -> int: ...

    async def wait_for(
        self,
        predicate: Callable[[], Awaitable[T | None]] | Callable[[], T | None],
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> T: ...

    async def wait_for_bot_message(
        self,
        chat_id: int,
        *,
        after_id: int = 0,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> MessageRecord: ...

    async def wait_for_callback_answer(
        self,
        query_id: str,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> CallbackAnswer: ...
