"""Errors shaped the way the Bot API reports them, so the bot under test meets the same failures."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any


class ApiError(Exception):
    """A Bot API refusal: becomes ``{"ok": false, ...}`` with the same HTTP status as Telegram."""

    def __init__(
        self, error_code: int, description: str, *, retry_after: int | None = None
    ) -> None:
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.retry_after = retry_after

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.error_code,
            "description": self.description,
        }
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


class DevServerError(Exception):
    """A simulated user tried something the Telegram app would not let them do."""


def bad_request(detail: str) -> ApiError:
    return ApiError(HTTPStatus.BAD_REQUEST, f"Bad Request: {detail}")


def forbidden(detail: str) -> ApiError:
    return ApiError(HTTPStatus.FORBIDDEN, f"Forbidden: {detail}")


def conflict(detail: str) -> ApiError:
    return ApiError(HTTPStatus.CONFLICT, f"Conflict: {detail}")


UNAUTHORIZED = ApiError(HTTPStatus.UNAUTHORIZED, "Unauthorized")
NOT_FOUND = ApiError(HTTPStatus.NOT_FOUND, "Not Found")
