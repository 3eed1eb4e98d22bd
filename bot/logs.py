"""Logging that cannot carry what an applicant wrote, who they are, or a key.

Logs leave the server: they are shipped, kept, pasted into bug reports. So every record, from
our code or from a library (httpx puts the bot token in each request URL), goes through one
redaction step before it is rendered:

* only keys on an allow-list keep their value; any other key stays, with ``[redacted]`` as its
  value, so a developer sees at once that they logged something they should not have;
* the strings that do pass, the event text included, are scrubbed of bot tokens, long digit
  runs (Telegram ids), long key-like strings and Burmese script;
* an exception becomes its type name and a scrubbed message, never its locals or arguments.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
import traceback
from collections.abc import Mapping
from types import TracebackType
from typing import Literal, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

REDACTED = "[redacted]"

#: Keys whose values may be logged (after scrubbing). Anything else is redacted.
ALLOWED_KEYS: frozenset[str] = frozenset(
    {
        # added by the logging setup itself
        "event",
        "level",
        "timestamp",
        "logger",
        "exc_type",
        "exc_message",
        "exc_origin",
        "exception",
        # chosen by the code; never a person's words, id or a secret
        "action",
        "attempt",
        "case_code",
        "command",
        "count",
        "duration_ms",
        "error",
        "hint",
        "kind",
        "language",
        "method",
        "migration",
        "mode",
        "outcome",
        "phase",
        "retry_after",
        "role",
        "state",
        "status",
        "step",
        "update_kind",
        "version",
        # counts and flags of the operator's rounds (retention, backup, key rotation): how much
        # was done, never which case or person; a count as long as an id is still masked
        "cases",
        "chats",
        "checkpointed",
        "complete",
        "drafts",
        "invites",
        "moved",
        "outbox",
        "remaining",
        "seq",
        # measures, by their unit: a size or a time is never an id, so it is shown whole
        "seconds",
        "size_bytes",
    }
)

# Rendered first, so a line reads "when, how bad, where, what" before the details.
_FIRST_KEYS = ("timestamp", "level", "logger", "event")
# Values we produce ourselves and that would be damaged by scrubbing (microseconds are 6 digits).
_TRUSTED_KEYS = frozenset({"level", "timestamp"})
# Keys that may only hold a number, shown as it is (a backup of 80000 bytes is not an id).
_MEASURE_KEYS = frozenset({"seconds", "size_bytes"})
# Keys that may only hold a Python name: a type name for errors, never ``str(exc)``.
_NAME_ONLY_KEYS = frozenset({"error", "exc_type"})
_PYTHON_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$")
_COMMAND = re.compile(r"/[A-Za-z][A-Za-z0-9_]{0,31}|[a-z][a-z0-9_]{0,31}")
# Keys whose string values must be one short word: anything with spaces is not a name.
_IDENTIFIER_KEYS = ALLOWED_KEYS - {
    "event",
    "level",
    "timestamp",
    "logger",
    "exc_message",
    "exc_origin",
    "exception",
    "command",
    "error",
    "exc_type",
    "hint",  # advice to the operator, written in the code: prose, scrubbed like the event
}
_IDENTIFIER = re.compile(r"[A-Za-z0-9_.:/+-]{1,64}")

_BOT_URL = re.compile(r"/bot\d+:[^/\s\"'?#]*")
_TOKEN = re.compile(r"\d+:[A-Za-z0-9_-]{30,}")
# 32+ characters of base64/hex with both a digit and a letter: a key, hash or signature.
_KEY_LIKE = re.compile(
    r"(?<![A-Za-z0-9_+=-])(?=[A-Za-z0-9_+=-]*\d)(?=[A-Za-z0-9_+=-]*[A-Za-z])[A-Za-z0-9_+=-]{32,}"
)
_DIGITS = re.compile(r"\d{5,}")
_MYANMAR_CHARS = "\u1000-\u109f\uaa60-\uaa7f\ua9e0-\ua9ff"
_MYANMAR = re.compile(rf"[{_MYANMAR_CHARS}]+(?:\s+[{_MYANMAR_CHARS}]+)*")
# Python quotes the offending value in many error messages: ``invalid literal ...: 'Aung Aung'``.
# Apostrophes inside words ("can't") are not quotes.
_QUOTED = re.compile(r"(?<![A-Za-z0-9])(?:'[^'\n]*'|\"[^\"\n]*\")(?![A-Za-z0-9])")
_MAX_MESSAGE = 300

# Libraries whose records carry what we must not print, and the least level they may log at.
# httpx/httpcore log every request URL (with the bot token) at INFO; aiosqlite logs statements at
# DEBUG; telegram logs whole updates (texts, ids) at DEBUG.
_LIBRARY_FLOORS: Mapping[str, int] = {
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
    "hpack": logging.WARNING,
    "aiosqlite": logging.WARNING,
    "aiohttp.access": logging.WARNING,
    "aiohttp.client": logging.WARNING,  # carries the Bot API requests, token in the URL
    "telegram": logging.INFO,
    "asyncio": logging.INFO,
}

_LEVELS = {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARNING": logging.WARNING}
_LEVELS |= {"ERROR": logging.ERROR, "CRITICAL": logging.CRITICAL}


def scrub(text: str) -> str:
    """Mask bot tokens, Telegram ids, key-like strings and Burmese text in ``text``."""
    text = _BOT_URL.sub("/bot[token]", text)
    text = _TOKEN.sub("[token]", text)
    text = _KEY_LIKE.sub("[key]", text)
    text = _DIGITS.sub("[id]", text)
    return _MYANMAR.sub("[text]", text)


def _scrub_message(message: str) -> str:
    """An exception message: scrubbed, quoted values dropped, and cut short."""
    cleaned = scrub(_QUOTED.sub("'[value]'", message))
    return cleaned if len(cleaned) <= _MAX_MESSAGE else cleaned[:_MAX_MESSAGE] + "…"


def _safe_value(key: str, value: object) -> object:
    if key in _TRUSTED_KEYS:
        return value
    if key in _NAME_ONLY_KEYS:
        if isinstance(value, BaseException):
            return type(value).__name__
        if isinstance(value, type) and issubclass(value, BaseException):
            return value.__name__
        return value if isinstance(value, str) and _PYTHON_NAME.fullmatch(value) else REDACTED
    if key in _MEASURE_KEYS:
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        return value if is_number else REDACTED
    if key == "command":
        return _command_name(value)
    if key in _IDENTIFIER_KEYS and isinstance(value, str):
        # These hold names the code chose ("submitted", "sendMessage"); prose is a mistake.
        return scrub(value) if _IDENTIFIER.fullmatch(value) else REDACTED
    return _safe_scalar(value)


def _command_name(value: object) -> str:
    """``/status K7QX-…`` → ``/status``: the argument may be a receipt code or a sentence."""
    text = str(value).strip()
    if text.startswith("/"):
        text = text.split(maxsplit=1)[0].split("@", 1)[0]
    return text if _COMMAND.fullmatch(text) else REDACTED


def _safe_scalar(value: object) -> object:
    if value is None or isinstance(value, bool | float):
        return value
    if isinstance(value, int):
        return "[id]" if len(str(abs(value))) >= 5 else value
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, list | tuple | set | frozenset):
        return [_safe_scalar(item) for item in value]
    if isinstance(value, bytes | bytearray | memoryview | Mapping):
        return REDACTED
    return scrub(str(value))


def _exc_info_tuple(
    value: object,
) -> tuple[type[BaseException], BaseException, TracebackType | None] | None:
    if value is True:
        value = sys.exc_info()
    if isinstance(value, BaseException):
        return type(value), value, value.__traceback__
    if isinstance(value, tuple) and len(value) == 3 and isinstance(value[1], BaseException):
        return type(value[1]), value[1], value[1].__traceback__
    return None


def _describe_exception(event_dict: EventDict, exc: BaseException) -> None:
    event_dict["exc_type"] = type(exc).__name__
    event_dict["exc_message"] = _scrub_message(str(exc))
    frames = traceback.extract_tb(exc.__traceback__)
    if frames:
        last = frames[-1]
        event_dict["exc_origin"] = f"{_short_path(last.filename)}:{last.lineno} in {last.name}"


def _short_path(filename: str) -> str:
    """The part of a file path from the package folder on; the rest says where we are installed."""
    for marker in ("/site-packages/", "/bot/", "/tests/"):
        if marker in filename:
            return marker.strip("/") + "/" + filename.rsplit(marker, 1)[1]
    return filename.rsplit("/", 1)[-1]


def redact_event_dict(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """The allow-list processor: run it last before rendering, on every record.

    Exceptions become ``exc_type``/``exc_message``/``exc_origin``; stack dumps are dropped;
    allowed keys keep scrubbed values; any other key keeps its name with ``[redacted]``.
    """
    exc_info = event_dict.pop("exc_info", None)
    if exc_info:
        found = _exc_info_tuple(exc_info)
        if found is not None:
            _describe_exception(event_dict, found[1])
    event_dict.pop("stack_info", None)
    if "event" in event_dict and not isinstance(event_dict["event"], str):
        event_dict["event"] = str(event_dict["event"])
    out: EventDict = {}
    for key in _FIRST_KEYS:
        if key in event_dict:
            out[key] = _safe_value(key, event_dict.pop(key))
    for key, value in event_dict.items():
        if key in ALLOWED_KEYS:
            out[key] = _safe_value(key, value)
        else:
            out[scrub(str(key))[:64]] = REDACTED
    return out


def _resolve_exc_info(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """Capture the exception now, while ``sys.exc_info()`` still holds it."""
    if event_dict.get("exc_info") is True:
        event_dict["exc_info"] = sys.exc_info()
    return event_dict


def _console_traceback(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """For a developer at a terminal: where it happened (files, lines, functions), still with
    no values. The source lines are left out as they may hold literals from a test."""
    found = _exc_info_tuple(event_dict.pop("exc_info", None))
    if found is None:
        return event_dict
    exc = found[1]
    lines = ["Traceback (most recent call last):"]
    lines += [
        f'  File "{_short_path(frame.filename)}", line {frame.lineno}, in {frame.name}'
        for frame in traceback.extract_tb(exc.__traceback__)
    ]
    lines.append(f"{type(exc).__name__}: {_scrub_message(str(exc))}")
    cause = exc.__cause__ or exc.__context__
    while cause is not None:
        lines.append(f"  (while handling {type(cause).__name__})")
        cause = cause.__cause__ or cause.__context__
    event_dict["exception"] = "\n".join(lines)
    return event_dict


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def configure_logging(
    *,
    level: str = "INFO",
    fmt: Literal["json", "console"] = "json",
    stream: TextIO | None = None,
) -> None:
    """Route structlog and the standard library's ``logging`` through one redacting pipeline.

    May be called again (tests do): the previous handler is replaced, not added to.
    """
    number = _LEVELS.get(level.upper())
    if number is None:
        raise ValueError(f"unknown log level {level!r}")
    if fmt not in ("json", "console"):
        raise ValueError(f"unknown log format {fmt!r}")
    out = sys.stderr if stream is None else stream

    renderer: Processor
    final: list[Processor] = [structlog.stdlib.ProcessorFormatter.remove_processors_meta]
    if fmt == "console":
        final.append(_console_traceback)
        renderer = structlog.dev.ConsoleRenderer(colors=_is_tty(out), sort_keys=True)
    else:
        renderer = structlog.processors.JSONRenderer(ensure_ascii=True)
    final += [redact_event_dict, renderer]

    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared_processors(), processors=final
    )
    handler = _RedactingHandler(out)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        # One way out for every record: any other handler would print unredacted text.
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(number)
    for name, floor in _LIBRARY_FLOORS.items():
        logging.getLogger(name).setLevel(max(floor, number))
    logging.captureWarnings(True)

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_shared_processors(),
            structlog.stdlib.PositionalArgumentsFormatter(),
            _resolve_exc_info,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        context_class=dict,
        # Loggers are made at import time, before this runs; caching would freeze the old setup.
        cache_logger_on_first_use=False,
    )


class _RedactingHandler(logging.StreamHandler[TextIO]):
    """A stream handler whose own failures print no record: the standard ``handleError``
    dumps the message and its arguments, unredacted, to standard error."""

    def handleError(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(OSError, ValueError):  # a closed stream: nowhere left to say it
            self.stream.write('{"event": "log_record_dropped", "level": "error"}\n')
            self.flush()


def _is_tty(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if callable(isatty) else False
    except (OSError, ValueError):
        return False


def _configure_safe_default() -> None:
    """Until ``configure_logging`` runs (library use, tests), structlog records still pass the
    redaction, and reach the standard library already rendered, whatever handler prints them."""
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_shared_processors(),
            structlog.stdlib.PositionalArgumentsFormatter(),
            _resolve_exc_info,
            redact_event_dict,
            structlog.processors.JSONRenderer(ensure_ascii=True),
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        context_class=dict,
        cache_logger_on_first_use=False,
    )


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """A logger for module ``name``; safe to create at import time, before configuration."""
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger


if not structlog.is_configured():
    _configure_safe_default()
