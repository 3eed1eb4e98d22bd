"""The audit chain's head as posted off the server, to the coordinators' group.

Everything on the server can be rewritten by whoever seizes it: with the database alone the
log's tail can be cut and the recorded head moved back; with the master key too, entries can be
rewritten and re-MACed so that the chain verifies. A head that already sits in a Telegram chat
cannot be reached that way, and ``python -m bot verify-audit --head SEQ:HASH`` holds the log to
it. The text carries only a sequence number and a hash: nothing about cases or people.

The group is read in English and in Burmese, so the notice says it in both (the coordinators'
catalogue), the number in each reader's digits; the command itself stays as the operator types it.
"""

from __future__ import annotations

import aiosqlite

from bot.coordination.audit import format_head
from bot.i18n import COORDINATOR_LANGUAGES, CoordinatorCatalog
from bot.store import coordination as store


async def head_notice(conn: aiosqlite.Connection) -> str:
    """The message to post (daily and on ``/audit``): the head, and how to check the log by it.

    Read it on a connection with nothing uncommitted on it (``Database.settled``): a head posted
    from a transaction that then rolls back names an entry that never existed, and every later
    ``verify-audit --head`` with it would cry tampering.
    """
    texts = CoordinatorCatalog()
    seq, hash_hex = await store.audit_head(conn)
    others = [lang for lang in COORDINATOR_LANGUAGES if lang != "en"]
    if seq == 0:
        return "\n".join(texts.text(lang, "audit_head_empty") for lang in ("en", *others))
    head = format_head(seq, hash_hex)
    # Two lines: the head as the log names it, then what to do with it in every language.
    keep = " ".join(texts.text(lang, "audit_head_keep", seq=seq) for lang in (*others, "en"))
    return f"Audit head #{seq} {hash_hex}\n{keep}: python -m bot verify-audit --head {head}"
