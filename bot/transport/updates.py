"""Telegram updates to the plain events the intake engine understands."""

from __future__ import annotations

from telegram import Message

from bot.intake.events import Command, Event, Text, Unsupported


def message_event(message: Message) -> Event:
    """What a private-chat message means for the intake.

    Anything but typed text (photos, files, stickers, voice, locations, contacts, polls…) is
    ``MEDIA``: never read, never stored, deleted from the chat because files can carry
    location data. Forwarded text is refused too: it was written by someone else.
    """
    if message.forward_origin is not None:
        return Unsupported.FORWARDED
    text = message.text
    if text is None:
        return Unsupported.MEDIA
    if text.startswith("/"):
        return parse_command(text)
    return Text(text)


def parse_command(text: str) -> Command:
    head, _, arg = text.strip().partition(" ")
    name = head[1:].split("@", 1)[0].lower()
    return Command(name, arg.strip())
