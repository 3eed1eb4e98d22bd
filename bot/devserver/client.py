"""Play Telegram users from another process, through the server's ``/_dev`` control API.

The methods and records match the in-process :class:`bot.devserver.server.DevServer`, so a
test written against one runs against the other.
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Any

import aiohttp

from bot.devserver.errors import DevServerError
from bot.devserver.records import (
    ApiCall,
    BotProfile,
    CallbackAnswer,
    CommandRecord,
    MessageRecord,
)
from bot.devserver.waiting import WaitHelpers

if TYPE_CHECKING:
    from bot.devserver.protocol import Simulator

CHANGE_WAIT_SLICE = 10.0


class DevClient(WaitHelpers):
    def __init__(self, base_http_url: str) -> None:
        self.base_http_url = base_http_url.rstrip("/")
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> DevClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _call(self, action: str, **kwargs: Any) -> Any:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        url = f"{self.base_http_url}/_dev/{action}"
        async with self._session.post(url, json=kwargs) as response:
            body = await response.json()
        if not body.get("ok"):
            raise DevServerError(str(body.get("description", "request refused")))
        return body.get("result")

    # --- simulated users ---------------------------------------------------------------------

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
        result: dict[str, Any] = await self._call(
            "send_text",
            user_id=user_id,
            text=text,
            first_name=first_name,
            last_name=last_name,
            username=username,
            language_code=language_code,
            reply_to_message_id=reply_to_message_id,
        )
        return result

    async def send_media(
        self,
        user_id: int,
        kind: str,
        *,
        caption: str | None = None,
        first_name: str | None = None,
        language_code: str | None = None,
    ) -> dict[str, Any]:
        result: dict[str, Any] = await self._call(
            "send_media",
            user_id=user_id,
            kind=kind,
            caption=caption,
            first_name=first_name,
            language_code=language_code,
        )
        return result

    async def forward_text(
        self, user_id: int, text: str, from_name: str, *, from_user_id: int | None = None
    ) -> dict[str, Any]:
        result: dict[str, Any] = await self._call(
            "forward_text",
            user_id=user_id,
            text=text,
            from_name=from_name,
            from_user_id=from_user_id,
        )
        return result

    async def edit_text(self, user_id: int, message_id: int, text: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._call(
            "edit_text", user_id=user_id, message_id=message_id, text=text
        )
        return result

    async def press_button(self, user_id: int, message_id: int, callback_data: str) -> str:
        return str(
            await self._call(
                "press_button", user_id=user_id, message_id=message_id, callback_data=callback_data
            )
        )

    async def forge_callback(self, user_id: int, message_id: int, data: str) -> str:
        return str(
            await self._call("forge_callback", user_id=user_id, message_id=message_id, data=data)
        )

    async def block_bot(self, user_id: int) -> None:
        await self._call("block_bot", user_id=user_id)

    async def unblock_bot(self, user_id: int) -> None:
        await self._call("unblock_bot", user_id=user_id)

    async def add_bot_to_group(
        self,
        chat_id: int,
        by_user_id: int,
        *,
        chat_type: str = "group",
        title: str | None = None,
        as_admin: bool = False,
    ) -> dict[str, Any]:
        result: dict[str, Any] = await self._call(
            "add_bot_to_group",
            chat_id=chat_id,
            by_user_id=by_user_id,
            chat_type=chat_type,
            title=title,
            as_admin=as_admin,
        )
        return result

    async def set_chat_member(self, chat_id: int, user_id: int, status: str) -> None:
        await self._call("set_chat_member", chat_id=chat_id, user_id=user_id, status=status)

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
        result: dict[str, Any] = await self._call(
            "send_group_text",
            chat_id=chat_id,
            user_id=user_id,
            text=text,
            chat_type=chat_type,
            title=title,
            first_name=first_name,
            reply_to_message_id=reply_to_message_id,
        )
        return result

    # --- time and faults ---------------------------------------------------------------------

    async def advance(self, seconds: float) -> int:
        return int(await self._call("advance", seconds=seconds))

    async def now(self) -> int:
        return int(await self._call("now"))

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
    ) -> None:
        await self._call(
            "inject_fault",
            method=method,
            error_code=error_code,
            retry_after=retry_after,
            description=description,
            times=times,
            delay=delay,
            drop_connection=drop_connection,
        )

    async def clear_faults(self) -> None:
        await self._call("clear_faults")

    # --- reading -----------------------------------------------------------------------------

    async def messages(self, chat_id: int, *, include_deleted: bool = False) -> list[MessageRecord]:
        rows = await self._call("messages", chat_id=chat_id, include_deleted=include_deleted)
        return [MessageRecord.from_json(row) for row in rows]

    async def bot_messages(
        self, chat_id: int, *, include_deleted: bool = False
    ) -> list[MessageRecord]:
        rows = await self._call("bot_messages", chat_id=chat_id, include_deleted=include_deleted)
        return [MessageRecord.from_json(row) for row in rows]

    async def message(self, chat_id: int, message_id: int) -> MessageRecord | None:
        row = await self._call("message", chat_id=chat_id, message_id=message_id)
        return MessageRecord.from_json(row) if row else None

    async def reply_keyboard(self, chat_id: int) -> list[list[str]] | None:
        result: list[list[str]] | None = await self._call("reply_keyboard", chat_id=chat_id)
        return result

    async def callback_answers(self, query_id: str | None = None) -> list[CallbackAnswer]:
        rows = await self._call("callback_answers", query_id=query_id)
        return [CallbackAnswer.from_json(row) for row in rows]

    async def commands(
        self, scope: str | dict[str, Any] = "default", language_code: str = ""
    ) -> list[CommandRecord]:
        rows = await self._call("commands", scope=scope, language_code=language_code)
        return [CommandRecord.from_json(row) for row in rows]

    async def menu(
        self, chat_id: int, *, user_id: int | None = None, language_code: str | None = None
    ) -> list[CommandRecord]:
        rows = await self._call(
            "menu", chat_id=chat_id, user_id=user_id, language_code=language_code
        )
        return [CommandRecord.from_json(row) for row in rows]

    async def bot_profile(self) -> BotProfile:
        return BotProfile.from_json(await self._call("bot_profile"))

    async def left_chats(self) -> list[int]:
        return [int(chat_id) for chat_id in await self._call("left_chats")]

    async def api_calls(self, method: str | None = None) -> list[ApiCall]:
        rows = await self._call("api_calls", method=method)
        return [ApiCall.from_json(row) for row in rows]

    async def pending_updates(self) -> int:
        return int(await self._call("pending_updates"))

    async def version(self) -> int:
        return int(await self._call("version"))

    async def wait_change(self, since: int, within: float) -> int:
        return int(
            await self._call("wait_change", since=since, within=min(within, CHANGE_WAIT_SLICE))
        )


if TYPE_CHECKING:

    def _conforms(client: DevClient) -> Simulator:
        return client
