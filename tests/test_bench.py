"""The benchmark runs end to end on a tiny load and reports every figure it promises."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.__main__ import ECHO_FORMS, parse, run
from bench.readme import BEGIN, END, parse_block, rewrite, rows, verify

TOP_KEYS = {
    "applicants",
    "argon2",
    "actions_in_script",
    "echo",
    "echo_deleting",
    "echo_rate_limited",
    "real_bot",
    "peak_rss_mib_after_load",
    "offered_load",
    "open_drafts",
    "plot",
    "command",
    "machine",
    "settings",
    "real_bot_paced",
    "peer",
}
BOT_KEYS = {
    "completed_intakes",
    "updates",
    "updates_per_second",
    "ratio_to_echo",
    "ratio_to_echo_deleting",
    "bot_api_calls_per_action",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "cpu_seconds_per_intake",
    "cpu_seconds_per_action",
    "harness_cpu_seconds_per_action",
    "database_bytes_per_case",
    "actions_per_intake",
    "bytes_sent_per_applicant",
    "sustained_open_loop_per_second",
    "forms_per_minute",
    "bot_api_calls_per_action_by_method",
}


async def test_tiny_run_writes_every_key(tmp_path: Path) -> None:
    args = parse(
        [
            *("--applicants", "3", "--rates", "8", "--seconds", "1"),
            *("--drafts", "200", "--drain", "5", "--out", str(tmp_path)),
        ]
    )
    await run(args)
    results = json.loads((tmp_path / "bench-results.json").read_text(encoding="utf-8"))
    assert results.keys() >= TOP_KEYS
    bot = results["real_bot"]
    assert bot.keys() >= BOT_KEYS
    assert bot["completed_intakes"] == 3
    assert bot["actions_per_intake"] == results["actions_in_script"]
    assert bot["bytes_sent_per_applicant"] > 0
    for echo in ("echo", "echo_deleting"):
        assert results[echo]["updates"] == 3 * ECHO_FORMS * results["actions_in_script"]
    assert results["echo_rate_limited"]["updates"] == 3 * results["actions_in_script"]
    assert bot["bot_api_calls_per_action"] >= 1  # every action gets at least its answer
    for loop in (bot, results["real_bot_paced"]):
        by_method = loop["bot_api_calls_per_action_by_method"]
        assert "getUpdates" not in by_method
        assert sum(by_method.values()) == pytest.approx(loop["bot_api_calls_per_action"])
        assert by_method["sendMessage"] > 0
    # The peer (python-telegram-bot's example way) takes the same applicants through the form.
    peer = results["peer"]
    assert peer["completed_intakes"] == 3
    assert peer["updates"] == 3 * results["actions_in_script"]
    assert bot["ratio_to_peer"] == pytest.approx(
        bot["updates_per_second"] / peer["updates_per_second"]
    )
    assert bot["p99_ratio_to_peer"] == pytest.approx(bot["p99_ms"] / peer["p99_ms"])
    paced = results["real_bot_paced"]
    assert paced["completed_intakes"] == 3
    assert paced["forms_per_minute"] > 0
    # As deployed unless asked otherwise: config.example.toml's level and poll timeout.
    assert results["settings"] == {
        "fast": False,
        "logging_level": "INFO",
        "poll_timeout_seconds": 30,
    }
    assert (tmp_path / "bot.log").stat().st_size > 0  # INFO logs, into a file
    assert results["machine"]["cores"] >= 1
    assert len(results["machine"]["loadavg_after"]) == 3
    readme = tmp_path / "README.md"
    readme.write_text(f"## Performance\n\n{BEGIN}\n{END}\n", encoding="utf-8")
    rewrite(readme, results)
    assert parse_block(readme.read_text(encoding="utf-8")) == rows(results)
    verify(readme)  # the run's own figures agree with one another, and with the table
    cost = results["argon2"]
    assert cost["receipt_cpu_ms"] > 0
    assert (tmp_path / "latency-vs-load.png").stat().st_size > 0
    [offered] = results["offered_load"]
    assert offered["offered_per_second"] == 8
    assert offered["sent"] > 0
    assert offered["answered"] == offered["sent"]
    assert 0 < offered["answered_per_second"] <= offered["sent_per_second"] * 1.01
    assert bot["sustained_open_loop_per_second"] == offered["answered_per_second"]
    # Every unpaced bot gets the same offered rates, and the ratios are between those figures.
    for other in ("echo", "echo_deleting", "peer"):
        [row] = results[other]["offered_load"]
        assert row["offered_per_second"] == 8
        assert row["sent"] > 0 and row["answered"] == row["sent"]
        assert results[other]["sustained_open_loop_per_second"] == row["answered_per_second"]
        assert isinstance(results[other]["sustained_is_a_floor"], bool)
    for ratio, other in (
        ("sustained_ratio_to_echo", "echo"),
        ("sustained_ratio_to_echo_deleting", "echo_deleting"),
        ("sustained_ratio_to_peer", "peer"),
    ):
        assert bot[ratio] == pytest.approx(
            bot["sustained_open_loop_per_second"] / results[other]["sustained_open_loop_per_second"]
        )
    # The coordinators' group gets one new-case notice per form; the rest is the chats'.
    assert bot["group_calls"] == bot["completed_intakes"]
    assert bot["bot_api_calls_per_action_in_chats"] + bot[
        "group_calls_per_action"
    ] == pytest.approx(bot["bot_api_calls_per_action"])
    in_chats = bot["bot_api_calls_per_action_in_chats_by_method"]
    assert sum(in_chats.values()) == pytest.approx(bot["bot_api_calls_per_action_in_chats"])
    drafts = results["open_drafts"]
    assert drafts["drafts"] == 200
    assert drafts["drafts_in_database"] == 200
