"""``python -m bot group-id``: learn the coordinators' group's id by adding the bot to it.

Telegram shows a group's id nowhere in its apps, and the ways round that (forwarding to a
stranger's "id bot", reading web addresses) hand the group's existence to someone else. This
asks Telegram itself, with the bot's own token: it waits for the update Telegram sends when the
bot joins a group (or for any message in a group it is already in), hands the id back, and
leaves the group. Nothing is posted there, nothing is logged.

It reads the bot's updates without taking them: no offset is ever confirmed, so a message an
applicant sent meanwhile is still there for the bot when it starts, and the bot's choice of
update kinds (``allowed_updates``) is left as the bot set it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from telegram import Bot, Update
from telegram.constants import ChatType

from bot.transport.framework import new_application

_T = TypeVar("_T")

POLL_SECONDS = 10
#: With updates waiting that are not a group's, Telegram answers at once: ask again after this.
REPEAT_SECONDS = 1.0
#: The most updates one getUpdates returns; a group's update behind that many is out of sight.
UPDATE_LIMIT = 100


class GroupIdError(Exception):
    """One line: why no group can be seen."""


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


def group_in(updates: Sequence[Update]) -> FoundGroup | None:
    """The first group the bot was added to, or heard a message in, among ``updates``."""
    for update in updates:
        chat = update.effective_chat
        if chat is None or chat.type == ChatType.PRIVATE:
            continue
        change = update.my_chat_member
        if change is not None and change.new_chat_member.status in ("left", "kicked"):
            continue  # removed, not added
        return FoundGroup(chat.id, str(chat.type), chat.title or "")
    return None


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
    stopped = stop or asyncio.Event()
    try:
        async with app:  # getMe: a token Telegram refuses fails here
            if ready is not None:
                ready()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(give_up_after):
                    group = await _watch(app.bot, stopped)
                    if group is not None:
                        await app.bot.leave_chat(group.chat_id)
                    return group
            return None
    finally:
        # When the first call (getMe) fails the Application never counts as started and leaves
        # its HTTP sessions open; a no-op after a clean stop.
        await app.bot.shutdown()


async def _watch(bot: Bot, stopped: asyncio.Event) -> FoundGroup | None:
    while not stopped.is_set():
        updates = await _until_stopped(
            bot.get_updates(limit=UPDATE_LIMIT, timeout=POLL_SECONDS), stopped
        )
        if updates is None:
            return None
        found = group_in(updates)
        if found is not None:
            return found
        if len(updates) >= UPDATE_LIMIT:
            raise GroupIdError(
                f"{UPDATE_LIMIT} or more updates are waiting for the bot and none is a group's; "
                "group-id reads them without taking them from the bot, so it cannot see past "
                "them: start the bot to take them, then stop it and run group-id again"
            )
        if updates:  # Telegram keeps answering at once while they wait: ask again in a while
            await _until_stopped(asyncio.sleep(REPEAT_SECONDS), stopped)
    return None


async def _until_stopped(work: Awaitable[_T], stopped: asyncio.Event) -> _T | None:
    """``work``'s result, or ``None`` (``work`` cancelled) once ``stopped`` is set."""
    task = asyncio.ensure_future(work)
    waiting = asyncio.create_task(stopped.wait())
    try:
        await asyncio.wait({task, waiting}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiting.cancel()
    if task.done():
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return None
