"""Typed access to request parameters, whichever way a client encoded them.

Telegram accepts query strings, url-encoded and multipart forms (where every value is a string
and objects are JSON text) and JSON bodies (where values keep their JSON types). The method
implementations ask for the type they need and get the same answer in every case.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from bot.devserver.errors import bad_request

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}


class Params:
    def __init__(self, raw: Mapping[str, Any]) -> None:
        self._raw = {k: v for k, v in raw.items() if v is not None}

    def has(self, name: str) -> bool:
        value = self._raw.get(name)
        return value is not None and value != ""

    def raw(self) -> dict[str, Any]:
        return dict(self._raw)

    def decoded(self) -> dict[str, Any]:
        """Values with JSON objects and arrays decoded, for the call log."""
        out: dict[str, Any] = {}
        for key, value in self._raw.items():
            if isinstance(value, str) and value[:1] in ("{", "["):
                try:
                    out[key] = json.loads(value)
                    continue
                except ValueError:
                    pass
            out[key] = value
        return out

    def text(self, name: str, *, missing: str | None = None) -> str | None:
        value = self._raw.get(name)
        if value is None:
            if missing is not None:
                raise bad_request(missing)
            return None
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float | str):
            return str(value)
        raise bad_request(f'field "{name}" must be of type String')

    def need_text(self, name: str, missing: str) -> str:
        value = self.text(name)
        if value is None:
            raise bad_request(missing)
        return value

    def integer(self, name: str, *, missing: str | None = None) -> int | None:
        value = self._raw.get(name)
        if value is None or value == "":
            if missing is not None:
                raise bad_request(missing)
            return None
        if isinstance(value, bool):
            raise bad_request(f'field "{name}" must be of type Integer')
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
        raise bad_request(f'field "{name}" must be of type Integer')

    def need_integer(self, name: str, missing: str) -> int:
        value = self.integer(name)
        if value is None:
            raise bad_request(missing)
        return value

    def number(self, name: str) -> float | None:
        value = self._raw.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise bad_request(f'field "{name}" must be of type Number')

    def flag(self, name: str) -> bool:
        value = self._raw.get(name)
        if value is None:
            return False
        if isinstance(value, bool):
            return value
        if isinstance(value, int):
            return value != 0
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise bad_request(f'field "{name}" must be of type Boolean')

    def obj(self, name: str, *, error: str | None = None) -> Any:
        """A JSON object or array; form clients send it as JSON text."""
        value = self._raw.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise bad_request(error or f"can't parse {name} JSON object") from None
        return value

    def chat_id(self, name: str = "chat_id") -> int | str:
        """An integer id or an ``@username``, as Telegram allows."""
        value = self._raw.get(name)
        if value is None or value == "":
            raise bad_request(f"{name} is empty")
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            stripped = value.strip()
            try:
                return int(stripped)
            except ValueError:
                return stripped
        raise bad_request("chat not found")
