"""What an applicant can do, and what the bot answers: plain data, no Telegram types.

The transport turns Telegram updates into these events and the replies back into Telegram
calls; everything between is plain Python that a test can drive without a network.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True)
class Text:
    """A typed message. ``text`` is what the applicant typed, before any Zawgyi conversion."""

    text: str


@dataclass(frozen=True)
class Command:
    """A ``/command``; ``arg`` is what follows it on the line (``/status K7QX-…``)."""

    name: str
    arg: str = ""


@dataclass(frozen=True)
class Press:
    """A tap on an inline button: its callback data, which the applicant's client can forge."""

    data: str


class Unsupported(StrEnum):
    """Input the bot never reads or stores; each gets one calm reply."""

    MEDIA = "media"
    FORWARDED = "forwarded"
    EDITED = "edited"


Event = Text | Command | Press | Unsupported


@dataclass(frozen=True)
class Button:
    label: str
    data: str


Keyboard = tuple[tuple[Button, ...], ...]


@dataclass(frozen=True)
class Reply:
    """One message for the applicant.

    ``prompt`` marks the message that asks the current question: the transport shows only the
    latest prompt, replacing or deleting earlier messages, so a phone checked mid-intake shows
    one question and nothing of the answers before it. ``protect`` asks Telegram to block
    forwarding and saving, for anything that echoes answers, and for every prompt: protection
    cannot be added by an edit, so a question sent unprotected could not become the review (or
    the review the receipt) in place, and each of those steps would cost a message and a
    deletion instead of one edit. ``typed`` marks a question answered by typing: the phone is
    asked to open the reply field on it, which an edit cannot do either.
    """

    text: str
    buttons: Keyboard = ()
    prompt: bool = False
    protect: bool = False
    typed: bool = False

    @property
    def asks_reply(self) -> bool:
        """Whether the phone is asked to answer this message in its reply field (a typed
        question with no buttons: a message carries buttons or that request, not both)."""
        return self.typed and not self.buttons
