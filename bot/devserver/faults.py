"""Planned failures, so robustness tests can make Telegram slow, refuse, or hang up."""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus

from bot.devserver.errors import ApiError

ANY_METHOD = "*"
_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request; make sure that only one bot instance "
    "is running",
    500: "Internal Server Error",
    502: "Bad Gateway",
}


@dataclass
class Fault:
    """``error_code=None`` with a ``delay`` makes a call slow but successful."""

    method: str
    error_code: int | None
    retry_after: int | None
    description: str | None
    remaining: int
    delay: float | None
    drop_connection: bool
    chat_id: int | None = None  # only calls naming this chat; None: any call of the method

    def error(self) -> ApiError | None:
        if self.error_code is None:
            return None
        retry_after = self.retry_after
        if self.error_code == HTTPStatus.TOO_MANY_REQUESTS and retry_after is None:
            retry_after = 1
        description = self.description
        if description is None:
            if self.error_code == HTTPStatus.TOO_MANY_REQUESTS:
                description = f"Too Many Requests: retry after {retry_after}"
            else:
                description = _DESCRIPTIONS.get(self.error_code, "Internal Server Error")
        return ApiError(self.error_code, description, retry_after=retry_after)


class Faults:
    def __init__(self) -> None:
        self._planned: list[Fault] = []

    def add(
        self,
        method: str,
        *,
        error_code: int | None = 429,
        retry_after: int | None = None,
        description: str | None = None,
        times: int = 1,
        delay: float | None = None,
        drop_connection: bool = False,
        chat_id: int | None = None,
    ) -> None:
        if times < 1:
            raise ValueError("times must be at least 1")
        self._planned.append(
            Fault(
                method=method.lower(),
                error_code=error_code,
                retry_after=retry_after,
                description=description,
                remaining=times,
                delay=delay,
                drop_connection=drop_connection,
                chat_id=chat_id,
            )
        )

    def take(self, method: str, chat_id: object = None) -> Fault | None:
        """The first planned fault for this method (or for any) and this chat, used up one
        time."""
        wanted = method.lower()
        for fault in self._planned:
            if fault.chat_id is not None and str(fault.chat_id) != str(chat_id):
                continue
            if fault.method in (wanted, ANY_METHOD):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._planned.remove(fault)
                return fault
        return None

    def clear(self) -> None:
        self._planned.clear()

    def pending(self) -> int:
        return sum(f.remaining for f in self._planned)
