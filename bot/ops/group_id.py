"""``python -m bot group-id``: learn the coordinators' group's id by adding the bot to it.

Telegram shows a group's id nowhere in its apps, and the ways round that (forwarding to a
stranger's "id bot", reading web addresses) hand the group's existence to someone else. This
asks Telegram itself, with the bot's own token: it waits for the update Telegram sends when the
bot joins a group (or for any message in a group it is already in), hands the id back, and
leaves the group. Nothing is posted there, nothing is logged, private messages are ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import ChatMemberHandler, ContextTypes, MessageHandler, filters

from bot.transport.framework import new_application

GROUP_UPDATES = ["my_chat_member", "message"]


@dataclass(frozen=True)
class FoundGroup:
    chat_id: int
    kind: str  # "group", "supergroup" or "channel"
    title: str

    def advice(self) -> str:
        """What to do with the id, for the operator's terminal (never a log)."""
        basic = (
            " It is a basic group: Telegram gives it a new id if it is ever upgraded to a "
            "supergroup; run this again then."
            if self.kind == ChatType.GROUP
            else ""
        )
        return (
            f'That is the {self.kind} "{self.title}"; the bot has left it. Put the id in '
            "[coordination] group_chat_id (or BOT_GROUP_CHAT_ID), then add the bot to the group "
            f"again.{basic}"
        )


async def wait_for_group(
    token: str,
    base_url: str,
    *,
    stop: asyncio.Event | None = None,
    give_up_after: float | None = None,
    ready: Callable[[], None] | None = None,
) -> FoundGroup | None:
    """The first group the bot is added to (or hears a message in), which it then leaves;
    ``None`` if ``stop`` is set or ``give_up_after`` seconds pass first. ``ready`` is called once
    Telegram has accepted the token and the wait begins."""
    app = new_application(token, base_url, rate_limit=False)
    found: asyncio.Future[FoundGroup] = asyncio.get_running_loop().create_future()

    async def seen(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        if chat is None or chat.type == ChatType.PRIVATE or found.done():
            return
        change = update.my_chat_member
        if change is not None and change.new_chat_member.status in ("left", "kicked"):
            return  # removed, not added
        found.set_result(FoundGroup(chat.id, str(chat.type), chat.title or ""))

    app.add_handler(ChatMemberHandler(seen, ChatMemberHandler.MY_CHAT_MEMBER))
    app.add_handler(MessageHandler(~filters.ChatType.PRIVATE, seen))
    stopped = stop or asyncio.Event()
    try:
        async with app:
            updater = app.updater
            if updater is None:
                raise RuntimeError("the application was built without an updater")
            await app.start()
            await updater.start_polling(allowed_updates=GROUP_UPDATES, timeout=10)
            if ready is not None:
                ready()
            found.add_done_callback(lambda _: stopped.set())
            try:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopped.wait(), give_up_after)
            finally:
                await updater.stop()
                await app.stop()
            if not found.done():
                found.cancel()
                return None
            group = found.result()
            await app.bot.leave_chat(group.chat_id)
            return group
    finally:
        # When the first call (getMe) fails the Application never counts as started and leaves
        # its HTTP sessions open; a no-op after a clean stop.
        await app.bot.shutdown()
