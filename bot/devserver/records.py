"""What tests and the demo read back: plain records that travel as JSON over the control API.

The in-process server and the HTTP client return the same record types, so a test can be
written once and run against either.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, TypedDict


class ButtonRecord(TypedDict):
    text: str
    callback_data: str | None
    url: str | None


@dataclass(frozen=True)
class MessageRecord:
    """One message of a chat as the other side of the conversation would see it."""

    chat_id: int
    message_id: int
    from_bot: bool
    from_user_id: int | None
    kind: str  # "text", "photo", "document", ..., "service"
    text: str | None  # the text, or a media caption
    date: int
    reply_markup: list[list[ButtonRecord]] = field(default_factory=list)
    protect_content: bool = False
    edited: bool = False
    edit_date: int | None = None
    deleted: bool = False
    entities: list[dict[str, Any]] = field(default_factory=list)
    reply_to_message_id: int | None = None
    force_reply: bool = False

    @property
    def buttons(self) -> list[ButtonRecord]:
        return [button for row in self.reply_markup for button in row]

    @property
    def callback_data(self) -> list[str]:
        return [b["callback_data"] for b in self.buttons if b["callback_data"] is not None]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MessageRecord:
        return cls(**data)


@dataclass(frozen=True)
class CallbackAnswer:
    query_id: str
    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int
    date: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CallbackAnswer:
        return cls(**data)


@dataclass(frozen=True)
class CommandRecord:
    command: str
    description: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CommandRecord:
        return cls(**data)


@dataclass(frozen=True)
class BotProfile:
    """Per language code; the key ``""`` holds the default that other languages fall back to."""

    name: dict[str, str]
    description: dict[str, str]
    short_description: dict[str, str]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BotProfile:
        return cls(**data)


@dataclass(frozen=True)
class ApiCall:
    """One Bot API request the bot made, with its parameters decoded."""

    method: str
    params: dict[str, Any]
    date: int
    ok: bool
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ApiCall:
        return cls(**data)
