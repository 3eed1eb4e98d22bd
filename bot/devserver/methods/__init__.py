"""Bot API methods the development server implements, by their Telegram names."""

from __future__ import annotations

from bot.devserver.methods import chats, messages, profile, updates
from bot.devserver.methods.base import Described, Handler

METHODS: dict[str, Handler] = {
    **updates.METHODS,
    **messages.METHODS,
    **chats.METHODS,
    **profile.METHODS,
}
BY_LOWER_NAME: dict[str, tuple[str, Handler]] = {
    name.lower(): (name, handler) for name, handler in METHODS.items()
}

__all__ = ["BY_LOWER_NAME", "METHODS", "Described", "Handler"]
