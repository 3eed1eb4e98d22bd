"""A local Telegram Bot API server with simulated users, for tests and the offline demo.

Telegram itself is never contacted: the real python-telegram-bot ``Application`` polls this
server, and tests (or the demo's terminal chat) act as the people writing to the bot.
"""

from bot.devserver.client import DevClient
from bot.devserver.errors import DevServerError
from bot.devserver.protocol import Simulator
from bot.devserver.records import (
    ApiCall,
    BotProfile,
    ButtonRecord,
    CallbackAnswer,
    CommandRecord,
    MessageRecord,
)
from bot.devserver.server import DEFAULT_TOKEN, DevServer

__all__ = [
    "DEFAULT_TOKEN",
    "ApiCall",
    "BotProfile",
    "ButtonRecord",
    "CallbackAnswer",
    "CommandRecord",
    "DevClient",
    "DevServer",
    "DevServerError",
    "MessageRecord",
    "Simulator",
]
