"""Where the chat key rides in the chat, and how it comes back.

The intake service hands the transport an opaque token with each response (the chat's key, which
the server keeps nowhere on disk) and expects it back with the next update. Telegram gives
three ways back, and each is used:

* every inline button's ``callback_data`` starts with the key (the same 16 bytes in base85,
  20 characters, where the link's base64 takes 22: every button of every screen pays it, and an
  applicant pays by the megabyte): a tap returns it;
* a question answered by typing is sent with ``ForceReply``, so the phone opens the reply field
  and the answer arrives with ``reply_to_message``, the question with its text and entities; the
  question's first line is a link (a ``text_link`` entity) that holds the token;
* that link is the bot's own deep link (``t.me/<bot>?start=<token>``): on a client that dropped
  ``ForceReply``, or after a restart, one tap on it sends ``/start <token>``.

Telegram allows 64 bytes of callback data; the key takes 20 of them, and the questionnaire's
ids are bounded so that every button's own data fits in the rest. A button's own data always
starts with a letter and a colon, and base85 has no colon: so data with a colon second carries
no key (the team's buttons, sent from the outbox without it).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import parse_qs, urlsplit

from bot.crypto.chat_key import TOKEN_CHARS
from bot.intake.events import Keyboard

COMPACT_CHARS = 20
LINK_HOSTS = ("t.me", "telegram.me")


def split_callback(data: str) -> tuple[str, str | None]:
    """A button's own data, and the token it carries (None for buttons that carry none: the
    team's messages, sent from the outbox, are written without the chat's key)."""
    if len(data) <= COMPACT_CHARS + 1 or data[1:2] == ":":
        return data, None
    try:
        raw = base64.b85decode(data[:COMPACT_CHARS])
    except ValueError:
        return data, None
    token = base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
    return data[COMPACT_CHARS:], token if len(token) == TOKEN_CHARS else None


def stamped(buttons: Keyboard, token: str | None) -> list[list[dict[str, str]]]:
    """The keyboard as the Bot API's JSON, each button's data after the key."""
    prefix = _compact(token) if token else ""
    return [[{"text": b.label, "callback_data": prefix + b.data} for b in row] for row in buttons]


def _compact(token: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(token + "==")
    except (binascii.Error, ValueError):
        return ""
    return base64.b85encode(raw).decode("ascii")


def resume_link(username: str, token: str) -> str:
    return f"https://t.me/{username}?start={token}"


def first_line_link(text: str, url: str) -> list[dict[str, Any]]:
    """A ``text_link`` entity over the first line (offsets count UTF-16 code units)."""
    first = text.split("\n", 1)[0]
    length = len(first.encode("utf-16-le")) // 2
    if not first.strip():
        return []
    return [{"type": "text_link", "offset": 0, "length": length, "url": url}]


def token_in_entities(entities: Any) -> str | None:
    """The token of a resume link among a message's entities (a question the person replied
    to), if there is one."""
    for entity in entities or ():
        url = getattr(entity, "url", None)
        if getattr(entity, "type", None) != "text_link" or not url:
            continue
        parts = urlsplit(url)
        if parts.hostname not in LINK_HOSTS:
            continue
        start = str(parse_qs(parts.query).get("start", [""])[0])
        if len(start) == TOKEN_CHARS:
            return start
    return None


def token_in_start(arg: str) -> str | None:
    """The token a deep link's ``/start <token>`` carries."""
    arg = arg.strip()
    return arg if len(arg) == TOKEN_CHARS else None
