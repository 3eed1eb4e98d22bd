"""The audit chain's head leaves the server: the group gets it on /audit (and from the daily
round), and the log is then held to it."""

from __future__ import annotations

import re

from bot.coordination.audit import parse_head
from bot.ops.rotation import verify_audit_log
from bot.store import coordination as coord_store
from tests.conftest import GROUP_CHAT_ID, Applicant, RunningBot

LEAD = 630_000_100


async def _heads(bot: RunningBot) -> list[str]:
    texts = [m.text or "" for m in await bot.server.messages(GROUP_CHAT_ID) if m.from_bot]
    return [found.group(1) for t in texts if (found := re.search(r"--head (\d+:[0-9a-f]+)", t))]


async def test_the_head_is_posted_on_audit_and_holds_the_log(bot: RunningBot) -> None:
    async def posted(n: int) -> list[str] | None:
        heads = await _heads(bot)
        return heads if len(heads) >= n else None

    await bot.server.send_group_text(GROUP_CHAT_ID, LEAD, "hello", chat_type="supergroup")
    lead = Applicant(bot.server, LEAD)
    await lead.send(f"/enroll {await bot.runtime.coordination.create_invite('lead')}")
    for _ in range(2):  # typed twice at enrolment
        await lead.send("copper lantern river ninety")
    await lead.send("/audit")
    first = await bot.server.wait_for(lambda: posted(1), timeout=10.0)
    await lead.send("/audit")
    heads = await bot.server.wait_for(lambda: posted(2), timeout=10.0)
    assert heads[0] == first[0]

    conn = bot.runtime.db.conn
    held = [parse_head(h) for h in heads]
    report = await verify_audit_log(conn, (bot.master_key,), posted=held)
    assert report.ok and report.heads == len(set(held))
    assert (await coord_store.audit_head(conn))[0] >= held[-1][0]


async def test_nothing_is_posted_while_the_log_is_empty(bot: RunningBot) -> None:
    await bot.server.send_group_text(GROUP_CHAT_ID, LEAD, "hello", chat_type="supergroup")
    await bot.runtime.coordination.post_audit_head()
    await Applicant(bot.server, LEAD).at_rest()
    assert [m for m in await bot.server.messages(GROUP_CHAT_ID) if m.from_bot] == []
