"""The shape every Bot API method implementation shares."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot.devserver.params import Params
from bot.devserver.state import State

Handler = Callable[[State, Params], Awaitable[Any]]


@dataclass(frozen=True)
class Described:
    """A result Telegram sends with a ``description`` beside it (setWebhook does)."""

    result: Any
    description: str
