"""Logs never carry a Telegram id, a bot token, Burmese text or an answer, whoever logs them."""

from __future__ import annotations

import io
import json
import logging
import re

import pytest
import structlog
from hypothesis import given
from hypothesis import strategies as st

from bot import logs
from bot.logs import ALLOWED_KEYS, REDACTED, configure_logging, get_logger, redact_event_dict, scrub
from tests.conftest import Configure

TELEGRAM_ID = 5_812_345_678
GROUP_ID = -1_001_987_654_321
TOKEN_SECRET = "AAH3canaryTOKENsecret_0123456789xyzQ"
TOKEN = f"7123456789:{TOKEN_SECRET}"
BURMESE = "ကျွန်တော် တပ်က ထွက်ချင်ပါတယ်"  # "I want to leave the army"
ZAWGYI = "ကၽြန္ေတာ္"
ANSWER = "Aung CANARYNAME Kyaw"
URL = f"https://api.telegram.org/bot{TOKEN}/getUpdates"
CANARIES = (
    str(TELEGRAM_ID),
    str(GROUP_ID)[1:],
    TOKEN,
    TOKEN_SECRET,
    "CANARYNAME",
    "ကျွန်",
    "ထွက်",
    ZAWGYI,
)


def assert_clean(output: str) -> None:
    assert output.strip(), "nothing was logged"
    for canary in CANARIES:
        assert canary not in output
    assert not re.search(r"\d{5,}", _without_timestamps(output))
    assert not re.search(r"[\u1000-\u109f\uaa60-\uaa7f\ua9e0-\ua9ff]", output)


def _without_timestamps(output: str) -> str:
    return re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z", "<time>", output)


def json_lines(output: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines() if line]


def log_everything_through_structlog() -> None:
    log = get_logger("bot.test")
    log.info(
        f"applicant {TELEGRAM_ID} wrote {BURMESE} with {TOKEN}",
        user_id=TELEGRAM_ID,
        chat_id=GROUP_ID,
        answer=ANSWER,
        text=BURMESE,
        token=TOKEN,
        case_code="K7QX",
    )
    log.warning("zawgyi %s from %s", ZAWGYI, TELEGRAM_ID)
    log.info("relayed", count=TELEGRAM_ID, status=f"to {TELEGRAM_ID}", kind=ANSWER)


def log_everything_through_stdlib() -> None:
    logging.getLogger("httpx").info(f"HTTP Request: POST {URL} HTTP/1.1 200 OK")
    logging.getLogger("httpx").warning(f'HTTP Request: POST {URL} "HTTP/1.1 409 Conflict"')
    logging.getLogger("httpcore").warning("send_request_headers %s", URL)
    logging.getLogger("telegram.ext").warning(
        "Update %s caused error: %s", {"chat": {"id": TELEGRAM_ID}, "text": BURMESE}, TOKEN
    )
    logging.getLogger("aiohttp.server").error("chat %d", GROUP_ID, extra={"answer": ANSWER})


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_structlog_records_carry_no_canary(configure: Configure, fmt: str) -> None:
    stream = configure(fmt)
    log_everything_through_structlog()
    output = stream.getvalue()
    assert_clean(output)
    assert "K7QX" in output
    assert output.count(REDACTED) >= 5


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_library_records_carry_no_canary(configure: Configure, fmt: str) -> None:
    stream = configure(fmt)
    log_everything_through_stdlib()
    output = stream.getvalue()
    assert_clean(output)
    assert "/bot[token]/getUpdates" in output
    assert "409 Conflict" in output


def test_httpx_info_is_silenced_and_its_warnings_masked(configure: Configure) -> None:
    stream = configure("json", level="DEBUG")
    logging.getLogger("httpx").info(f"HTTP Request: POST {URL} HTTP/1.1 200 OK")
    logging.getLogger("httpcore.http11").debug("receive_response_headers %s", URL)
    assert stream.getvalue() == ""
    short = "https://api.telegram.org/bot123456:AAAA/getUpdates"  # too short to look like a token
    logging.getLogger("httpx").warning(f"HTTP Request: POST {short}")
    [record] = json_lines(stream.getvalue())
    assert record["event"] == "HTTP Request: POST https://api.telegram.org/bot[token]/getUpdates"
    assert record["logger"] == "httpx"
    assert record["level"] == "warning"


def test_json_is_one_valid_object_per_line(configure: Configure) -> None:
    stream = configure("json")
    log_everything_through_structlog()
    log_everything_through_stdlib()
    records = json_lines(stream.getvalue())
    assert len(records) == 7  # httpx at INFO is dropped
    for record in records:
        assert {"event", "level", "timestamp", "logger"} <= set(record)


def test_allowed_keys_pass_through_unchanged(configure: Configure) -> None:
    stream = configure("json")
    values: dict[str, object] = {
        "case_code": "K7QX",
        "status": "submitted",
        "state": "asking",
        "count": 3,
        "kind": "text",
        "method": "sendMessage",
        "duration_ms": 12.5,
        "attempt": 2,
        "update_kind": "callback_query",
        "phase": "intake",
        "step": "unit",
        "migration": "0001_cases",
        "version": 1,
        "mode": "polling",
    }
    assert set(values) <= ALLOWED_KEYS
    get_logger("bot.test").info("draft_saved", **values)
    [record] = json_lines(stream.getvalue())
    for key, value in values.items():
        assert record[key] == value, key
    assert record["event"] == "draft_saved"
    assert record["logger"] == "bot.test"


def test_the_operators_rounds_log_their_counts(configure: Configure) -> None:
    """Counts are not personal data: a retention round shows what it removed."""
    stream = configure("json")
    counts = {"drafts": 3, "cases": 1, "outbox": 0, "invites": 2, "checkpointed": True}
    get_logger("bot.ops.retention").info("retention_purge", **counts)
    get_logger("bot.ops.rotation").info("key_rotated", complete=False, moved=40, remaining=7)
    get_logger("bot.ops.backup").info("database_backed_up", size_bytes=81920, seconds=0.25)
    purge, rotation, backup = json_lines(stream.getvalue())
    assert {key: purge[key] for key in counts} == counts
    assert (rotation["complete"], rotation["moved"], rotation["remaining"]) == (False, 40, 7)
    assert (backup["size_bytes"], backup["seconds"]) == (81920, 0.25)
    assert REDACTED not in stream.getvalue()


def test_counts_keep_ids_and_text_masked(configure: Configure) -> None:
    stream = configure("json")
    get_logger("bot.test").info(
        "oops", drafts=TELEGRAM_ID, cases=ANSWER, size_bytes=f"{TELEGRAM_ID}", seconds=BURMESE
    )
    [record] = json_lines(stream.getvalue())
    assert record["drafts"] == "[id]"
    assert record["cases"] == REDACTED
    assert record["size_bytes"] == REDACTED and record["seconds"] == REDACTED
    assert_clean(stream.getvalue())


def test_a_hint_is_prose_but_scrubbed(configure: Configure) -> None:
    stream = configure("json")
    log = get_logger("bot.test")
    log.warning("bot_name_alarming", hint="rename the bot with @BotFather")
    log.warning("bot_name_alarming", hint=f"{BURMESE} {TELEGRAM_ID} {TOKEN}")
    plain, scrubbed = json_lines(stream.getvalue())
    assert plain["hint"] == "rename the bot with @BotFather"
    assert scrubbed["hint"] == "[text] [id] [token]"
    assert_clean(stream.getvalue())


def test_every_key_the_bot_logs_is_allowed() -> None:
    """A key missing from the list shows ``[redacted]`` where the operator needed the value:
    every keyword of every log call in ``bot/`` must be on it."""
    import ast
    from pathlib import Path

    methods = {"debug", "info", "warning", "error", "exception", "critical"}
    missing: list[str] = []
    root = Path(logs.__file__).parent
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            target = node.func.value
            if node.func.attr not in methods or not (
                isinstance(target, ast.Name) and target.id in ("log", "logger")
            ):
                continue
            for keyword in node.keywords:
                if keyword.arg not in (None, "exc_info", "stack_info", *ALLOWED_KEYS):
                    missing.append(f"{path.relative_to(root)}:{node.lineno} {keyword.arg}")
    assert missing == []


def test_other_keys_keep_their_name_but_lose_their_value(configure: Configure) -> None:
    stream = configure("json")
    get_logger("bot.test").info("oops", answer="Mandalay", reply_text="hello", note=None)
    [record] = json_lines(stream.getvalue())
    assert record["answer"] == REDACTED
    assert record["reply_text"] == REDACTED
    assert record["note"] == REDACTED
    assert "Mandalay" not in stream.getvalue()


def test_name_keys_refuse_prose(configure: Configure) -> None:
    stream = configure("json")
    get_logger("bot.test").info("x", kind=ANSWER, status=f"sent to {TELEGRAM_ID}", state="asking")
    [record] = json_lines(stream.getvalue())
    assert record["kind"] == REDACTED
    assert record["status"] == REDACTED
    assert record["state"] == "asking"


def test_bound_and_context_values_are_redacted(configure: Configure) -> None:
    stream = configure("json")
    structlog.contextvars.bind_contextvars(user_id=TELEGRAM_ID, phase="intake")
    get_logger("bot.test").bind(chat_id=GROUP_ID).info("bound")
    [record] = json_lines(stream.getvalue())
    assert record["user_id"] == REDACTED
    assert record["chat_id"] == REDACTED
    assert record["phase"] == "intake"


def test_error_key_keeps_only_the_exception_type(configure: Configure) -> None:
    stream = configure("json")
    exc = ValueError(f"no such user {TELEGRAM_ID}: {ANSWER}")
    log = get_logger("bot.test")
    log.warning("send_failed", error=exc)
    log.warning("send_failed", error=str(exc))
    log.warning("send_failed", error="TimedOut")
    log.warning("send_failed", error=ValueError)
    records = json_lines(stream.getvalue())
    assert [r["error"] for r in records] == ["ValueError", REDACTED, "TimedOut", "ValueError"]
    assert_clean(stream.getvalue())


def test_command_keeps_only_the_command_name(configure: Configure) -> None:
    stream = configure("json")
    log = get_logger("bot.test")
    for command in ("/status K7QX-ABCD-EFGH", "/start@SomeBot", f"/ask {ANSWER}", ANSWER):
        log.info("command", command=command)
    records = json_lines(stream.getvalue())
    assert [r["command"] for r in records] == ["/status", "/start", "/ask", REDACTED]


def _fail_with(secret: str) -> None:
    user_text = secret  # a local an exception renderer with locals would print
    raise ValueError(f"bad input {user_text!r} for {TELEGRAM_ID} via {URL}")


def test_exceptions_in_json_are_type_and_scrubbed_message_only(configure: Configure) -> None:
    stream = configure("json")
    try:
        _fail_with(ANSWER)
    except ValueError:
        get_logger("bot.test").exception("handler_failed")
    output = stream.getvalue()
    assert_clean(output)
    [record] = json_lines(output)
    assert record["exc_type"] == "ValueError"
    assert record["exc_message"] == (
        "bad input '[value]' for [id] via https://api.telegram.org/bot[token]/getUpdates"
    )
    assert str(record["exc_origin"]).startswith("tests/test_logs.py:")
    assert "Traceback" not in output
    assert "exc_info" not in record
    assert record["level"] == "error"


def test_library_exceptions_are_rendered_the_same_way(configure: Configure) -> None:
    stream = configure("json")
    try:
        _fail_with(BURMESE)
    except ValueError:
        logging.getLogger("telegram.ext.Application").exception("No error handlers registered")
    output = stream.getvalue()
    assert_clean(output)
    [record] = json_lines(output)
    assert record["exc_type"] == "ValueError"
    assert "Traceback" not in output


def test_console_traceback_has_places_but_no_values(configure: Configure) -> None:
    stream = configure("console")
    try:
        try:
            _fail_with(ANSWER)
        except ValueError as inner:
            raise RuntimeError(f"wrapped {TOKEN}") from inner
    except RuntimeError:
        get_logger("bot.test").exception("handler_failed", answer=ANSWER)
    output = stream.getvalue()
    assert_clean(output)
    assert "Traceback (most recent call last):" in output
    assert "in _fail_with" not in output  # the outer exception's frames only
    assert re.search(r'File "tests/test_logs.py", line \d+, in test_console_traceback', output)
    assert "RuntimeError: wrapped [token]" in output
    assert "(while handling ValueError)" in output
    assert "user_text" not in output


def test_exception_messages_lose_quoted_values_but_keep_their_words(configure: Configure) -> None:
    stream = configure("json")
    for exc in (
        KeyError("Aung Kyaw"),
        ValueError('Bad Request: can\'t parse entities in "Ma Ma" at byte 3'),
    ):
        get_logger("bot.test").error("failed", exc_info=exc)
    messages = [r["exc_message"] for r in json_lines(stream.getvalue())]
    assert messages == ["'[value]'", "Bad Request: can't parse entities in '[value]' at byte 3"]


def test_stack_info_is_dropped(configure: Configure) -> None:
    stream = configure("json")
    get_logger("bot.test").info("here", stack_info=True)
    logging.getLogger("asyncio").warning("there", stack_info=True)
    records = json_lines(stream.getvalue())
    assert [set(r) for r in records] == [{"event", "level", "logger", "timestamp"}] * 2


def test_level_filters_both_kinds_of_record(configure: Configure) -> None:
    stream = configure("json", level="WARNING")
    get_logger("bot.test").info("quiet")
    logging.getLogger("telegram").info("quiet too")
    get_logger("bot.test").warning("loud")
    assert [r["event"] for r in json_lines(stream.getvalue())] == ["loud"]


def test_configuring_again_replaces_the_handler(configure: Configure) -> None:
    first = configure("json")
    second = configure("console")
    get_logger("bot.test").info("once")
    assert first.getvalue() == ""
    assert second.getvalue().count("once") == 1
    assert len(logging.getLogger().handlers) == 1


def test_a_broken_record_is_dropped_without_its_arguments(
    configure: Configure, capsys: pytest.CaptureFixture[str]
) -> None:
    stream = configure("json")
    logging.getLogger("telegram").warning("two %s %s", ANSWER)  # one argument short
    assert json_lines(stream.getvalue()) == [{"event": "log_record_dropped", "level": "error"}]
    assert "CANARYNAME" not in capsys.readouterr().err


def test_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown log level"):
        configure_logging(level="LOUD", stream=io.StringIO())


def test_records_are_redacted_even_before_configuration(
    configure: Configure, caplog: pytest.LogCaptureFixture
) -> None:
    structlog.reset_defaults()
    logs._configure_safe_default()
    caplog.set_level(logging.INFO)
    get_logger("bot.test").info(f"early {TELEGRAM_ID}", answer=ANSWER, count=2)
    [record] = caplog.records
    rendered = json.loads(record.getMessage())
    assert rendered["answer"] == REDACTED
    assert rendered["count"] == 2
    assert rendered["event"] == "early [id]"


# --- the scrubber and the processor on their own ----------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"token {TOKEN} here", "token [token] here"),
        (URL, "https://api.telegram.org/bot[token]/getUpdates"),
        ("https://x.org/bot123:abc/sendMessage", "https://x.org/bot[token]/sendMessage"),
        (f"user {TELEGRAM_ID} in {GROUP_ID}", "user [id] in -[id]"),
        ("code 1234 in 2024", "code 1234 in 2024"),
        (f"said {BURMESE}.", "said [text]."),
        (f"zawgyi {ZAWGYI}", "zawgyi [text]"),
        ("extended \uaa60\uaa61 and \ua9e0", "extended [text] and [text]"),
        ("key ZnMdid_Lm90VWX4FmExFqai592sHnwq88YSAvKjSVWw end", "key [key] end"),
        ("sha " + "ab12" * 16, "sha [key]"),
        ("plain english", "plain english"),
    ],
)
def test_scrub(text: str, expected: str) -> None:
    assert scrub(text) == expected


_ALPHABET = "0123456789:aZ_- /\u1000\u1031\u103a\uaa70\ua9e5x"


@given(st.text(alphabet=st.sampled_from(_ALPHABET), max_size=80))
def test_scrub_never_leaves_long_digit_runs_or_burmese(text: str) -> None:
    out = scrub(text)
    assert not re.search(r"\d{5,}", out)
    assert not re.search(r"[\u1000-\u109f\uaa60-\uaa7f\ua9e0-\ua9ff]", out)


@given(st.integers(min_value=10_000), st.text(max_size=20))
def test_any_id_in_any_text_is_masked(user_id: int, around: str) -> None:
    assert str(user_id) not in scrub(f"{around} {user_id} {around}")


def test_redact_event_dict_alone() -> None:
    out = redact_event_dict(
        None,
        "info",
        {
            "event": f"from {TELEGRAM_ID}",
            "count": 7,
            "attempt": TELEGRAM_ID,
            "case_code": "K7QX",
            "answer": ANSWER,
            "payload": {"text": ANSWER},
            "level": "info",
        },
    )
    assert out == {
        "level": "info",
        "event": "from [id]",
        "count": 7,
        "attempt": "[id]",
        "case_code": "K7QX",
        "answer": REDACTED,
        "payload": REDACTED,
    }
