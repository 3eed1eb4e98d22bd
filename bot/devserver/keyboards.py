"""Reply markup as Telegram validates it.

The checks that matter for a bot's correctness are here: callback data of 1-64 bytes
(``BUTTON_DATA_INVALID``), exactly one action per inline button, and inline keyboards only where
editing allows them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.devserver.errors import bad_request

MAX_CALLBACK_BYTES = 64
MAX_BUTTONS = 100
_INLINE_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)


@dataclass(frozen=True)
class Markup:
    """An inline keyboard the message carries, or a change to the chat's reply keyboard."""

    inline: list[list[dict[str, Any]]] | None = None
    keyboard: list[list[str]] | None = None
    remove_keyboard: bool = False
    force_reply: bool = False


def _parse_error() -> Exception:
    return bad_request("can't parse reply keyboard markup JSON object")


def _button_error(detail: str) -> Exception:
    return bad_request(f"can't parse inline keyboard button: {detail}")


def parse_markup(value: Any, *, inline_only: bool = False) -> Markup | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _parse_error()
    if "inline_keyboard" in value:
        return Markup(inline=_inline_rows(value["inline_keyboard"]))
    if inline_only:
        raise bad_request("inline keyboard expected")
    if "keyboard" in value:
        return Markup(keyboard=_keyboard_rows(value["keyboard"]))
    if value.get("remove_keyboard") is True:
        return Markup(remove_keyboard=True)
    if value.get("force_reply") is True:
        return Markup(force_reply=True)
    raise _parse_error()


def _inline_rows(rows: Any) -> list[list[dict[str, Any]]]:
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request(
            'field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays'
        )
    parsed = [[_inline_button(button) for button in row] for row in rows]
    if sum(len(row) for row in parsed) > MAX_BUTTONS:
        raise bad_request("reply markup is too long")
    return [row for row in parsed if row]


def _inline_button(button: Any) -> dict[str, Any]:
    if not isinstance(button, dict):
        raise _button_error("InlineKeyboardButton must be an Object")
    if not isinstance(button.get("text"), str):
        raise _button_error('Field "text" must be of type String')
    actions = [name for name in _INLINE_ACTIONS if name in button and button[name] is not None]
    if not actions:
        raise _button_error("Text buttons are unallowed in the inline keyboard")
    if len(actions) > 1:
        raise _button_error("Button must have exactly one action")
    if "callback_data" in actions:
        data = button["callback_data"]
        if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_BYTES:
            raise bad_request("BUTTON_DATA_INVALID")
    if "url" in actions:
        url = button["url"]
        if not isinstance(url, str) or not url.startswith(("http://", "https://", "tg://")):
            raise bad_request(f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL")
    return {key: value for key, value in button.items() if value is not None}


def _keyboard_rows(rows: Any) -> list[list[str]]:
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request(
            'field "keyboard" of the ReplyKeyboardMarkup should be an Array of Arrays'
        )
    out: list[list[str]] = []
    for row in rows:
        labels: list[str] = []
        for button in row:
            if isinstance(button, str):
                labels.append(button)
            elif isinstance(button, dict) and isinstance(button.get("text"), str):
                labels.append(button["text"])
            else:
                raise bad_request(
                    'can\'t parse keyboard button: Field "text" must be of type String'
                )
        if labels:
            out.append(labels)
    return out


def callback_data_of(inline: list[list[dict[str, Any]]] | None) -> list[str]:
    return [
        button["callback_data"]
        for row in inline or []
        for button in row
        if isinstance(button.get("callback_data"), str)
    ]
