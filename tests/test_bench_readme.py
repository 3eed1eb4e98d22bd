"""The README's Performance table is the bench's JSON rendered into a marked block."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from bench.readme import (
    BEGIN,
    END,
    RESULTS,
    parse_block,
    render_block,
    results_bytes,
    rewrite,
    rows,
    verify,
)

README = Path(__file__).resolve().parent.parent / "README.md"


def results() -> dict[str, Any]:
    """A run's JSON, small and made up: only the keys the renderer reads."""
    closed: dict[str, Any] = {
        "updates_per_second": 512.25,
        "p50_ms": 41.0,
        "p99_ms": 230.5,
        "forms_per_minute": 2049.0,
        "bot_api_calls_per_action": 2.25,
        "bot_api_calls_per_action_by_method": {
            "sendMessage": 1.0,
            "deleteMessage": 0.75,
            "answerCallbackQuery": 0.5,
        },
        "bot_api_calls_per_action_in_chats": 2.2,
        "group_calls_per_action": 0.05,
        "group_calls": 1,
        "completed_intakes": 3,
        "bot_api_calls_per_action_in_chats_by_method": {
            "sendMessage": 0.95,
            "deleteMessage": 0.75,
            "answerCallbackQuery": 0.5,
        },
    }

    def offered(answered: float, p99: float) -> list[dict[str, Any]]:
        return [
            {
                "offered_per_second": 20.0,
                "answered_per_second": 19.9,
                "p99_ms": 9.0,
                "unanswered_within_drain": 0,
            },
            {
                "offered_per_second": 900.0,
                "answered_per_second": answered,
                "p99_ms": p99,
                "unanswered_within_drain": 2,
            },
        ]

    return {
        "command": "python -m bench --applicants 3",
        "machine": {
            "cores": 2,
            "loadavg_before": [0.5, 0.4, 0.3],
            "loadavg_after": [1.5, 0.9, 0.5],
        },
        "applicants": 3,
        "settings": {"fast": False, "logging_level": "INFO", "poll_timeout_seconds": 30},
        "argon2": {"memory_kib": 65536, "iterations": 3, "lanes": 4, "receipt_cpu_ms": 160.25},
        "echo": {
            "updates_per_second": 2400.0,
            "cpu_seconds_per_update": 0.0004,
            "harness_cpu_seconds_per_update": 0.0002,
            "offered_load": offered(899.0, 12.0),
            "sustained_open_loop_per_second": 899.0,
            "sustained_is_a_floor": True,
        },
        "echo_deleting": {
            "updates_per_second": 2100.0,
            "offered_load": offered(850.0, 30.0),
            "sustained_open_loop_per_second": 850.0,
        },
        "echo_rate_limited": {"updates_per_second": 31.0},
        "real_bot": {
            **closed,
            "sustained_open_loop_per_second": 880.0,
            "sustained_ratio_to_echo": 0.98,
            "sustained_ratio_to_echo_deleting": 1.04,
            "sustained_ratio_to_peer": 2.93,
            "cpu_seconds_per_action": 0.0017,
            "harness_cpu_seconds_per_action": 0.0005,
            "cpu_seconds_per_intake": 0.025,
            "actions_per_intake": 15.0,
            "bytes_sent_per_applicant": 7800.0,
            "database_bytes_per_case": 5400.0,
            "database_main_file_bytes_per_case": 2800.0,
            "ratio_to_peer": 1.71,
            "p99_ratio_to_peer": 5.76,
        },
        "real_bot_paced": {**closed, "updates_per_second": 13.5, "forms_per_minute": 54.0},
        "offered_load": offered(835.0, 480.0),
        "peer": {
            **closed,
            "updates_per_second": 300.0,
            "p99_ms": 40.0,
            "bot_api_calls_per_action": 1.87,
            "cpu_seconds_per_action": 0.0032,
            "offered_load": offered(300.0, 9000.0),
            "sustained_open_loop_per_second": 300.0,
        },
        "peak_rss_mib_after_load": 179.0,
        "open_drafts": {"drafts": 10000, "rss_growth_mib": 2.7},
    }


def test_block_round_trips() -> None:
    r = results()
    block = render_block(r)
    assert block.startswith(BEGIN) and block.endswith(END)
    assert parse_block(block) == rows(r)
    text = dict(parse_block(block))
    assert text["offered load, actions/s"] == "20 / 900"
    assert text["offered load: p99 ms"] == "9 / 480"
    assert (
        "sendMessage 1.00, deleteMessage 0.75, answerCallbackQuery 0.50"
        in text["Bot API calls per action by method, unpaced"]
    )
    assert "54 forms a minute" in text[next(k for k in text if k.startswith("real bot, paced"))]
    assert "on 2 cores" in block and "0.50 / 0.40 / 0.30" in block
    assert r["command"] in block
    peer = text[next(k for k in text if "peer.py" in k)]
    assert "throughput 1.71 of it" in peer and "p99 5.76 of it" in peer
    # Every bot under the same offered rates: the ratios are to open-loop figures.
    sustained = next(k for k in text if k.startswith("sustained, unpaced"))
    # The echo kept up with every rate: its figure is a floor, the ratio to it a ceiling.
    assert text[sustained] == "≥899 / 850 / 880 / 300"
    assert text["real bot, sustained, as a ratio"] == (
        "2.93 of the peer, 1.04 of the deleting echo, ≤0.98 of the echo"
    )
    assert text["offered load, peer: answered per second"] == "20 / 300"
    assert text["offered load, peer: p99 ms"] == "9 / 9,000"
    assert text["offered load, deleting echo: p99 ms"] == "9 / 30"
    calls = text["Bot API calls per action, unpaced"]
    assert calls.startswith("2.25: 2.20 in the applicants' chats, 0.05 new-case notices")
    assert "peer: 1.87" in calls
    assert text["CPU ms per action, bot / harness"].endswith("; peer per action: 3.20)")
    paced = text[next(k for k in text if k.startswith("Bot API calls per action by method, paced"))]
    assert paced.startswith("sendMessage 0.95") and "1 of 3 forms" in paced


def test_a_ratio_between_two_floors_is_not_given() -> None:
    r = copy.deepcopy(results())
    r["real_bot"]["sustained_is_a_floor"] = True
    text = dict(rows(r))
    ratio = text["real bot, sustained, as a ratio"]
    assert ratio.startswith("≥2.93 of the peer, ≥1.04 of the deleting echo, n/a")
    assert text[next(k for k in text if k.startswith("sustained, unpaced"))].startswith(
        "≥899 / 850 / ≥880 / 300"
    )


def test_rewrite_touches_only_the_block(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\nbefore\n\n{BEGIN}\nold\n{END}\n\nafter\n", encoding="utf-8")
    rewrite(readme, results())
    text = readme.read_text(encoding="utf-8")
    assert text.startswith("# Title\n\nbefore\n\n") and text.endswith("\n\nafter\n")
    assert "old" not in text
    assert parse_block(text) == rows(results())


def test_a_figure_missing_from_the_json_fails() -> None:
    r = copy.deepcopy(results())
    del r["real_bot"]["bot_api_calls_per_action_by_method"]
    with pytest.raises(KeyError):
        render_block(r)


def test_the_readmes_table_is_the_one_its_committed_run_renders() -> None:
    """Every figure in the README's table, rendered again from the run's own file: a figure
    edited by hand fails here."""
    text = README.read_text(encoding="utf-8")
    assert text.count(BEGIN) == 1 and text.count(END) == 1
    section = text.split("## Performance", 1)[1].split("\n## ", 1)[0]
    assert BEGIN in section and END in section
    verify(README)


def consistent() -> dict[str, Any]:
    """The made-up run, its ratios worked out from its figures as the bench does."""
    r = copy.deepcopy(results())
    bot = r["real_bot"]
    sustained = bot["sustained_open_loop_per_second"]
    bot["sustained_ratio_to_echo"] = sustained / 899.0
    bot["sustained_ratio_to_echo_deleting"] = sustained / 850.0
    bot["sustained_ratio_to_peer"] = sustained / 300.0
    bot["ratio_to_peer"] = 512.25 / 300.0
    bot["p99_ratio_to_peer"] = 230.5 / 40.0
    return r


def _readme(folder: Path) -> Path:
    readme = folder / "README.md"
    readme.write_text(f"## Performance\n\n{BEGIN}\n{END}\n\n## Next\n", encoding="utf-8")
    rewrite(readme, consistent())
    return readme


def test_a_rewritten_readme_passes_and_names_its_results_file(tmp_path: Path) -> None:
    readme = _readme(tmp_path)
    verify(readme)
    data = (tmp_path / RESULTS).read_bytes()
    assert json.loads(data) == consistent()
    digest = hashlib.sha256(data).hexdigest()
    assert f"Rendered from `bench/results.json`, sha256 {digest}." in readme.read_text("utf-8")


@pytest.mark.parametrize(
    ("shown", "edited"),
    [
        ("512 updates/s", "5,120 updates/s"),  # throughput times ten
        ("p99 230 ms, 2,049", "p99 23 ms, 2,049"),  # tail latency over ten
        ("| ≥899 / 850 / 880 / 300 |", "| ≥899 / 850 / 1,200 / 300 |"),  # sustained, not ratio
        ("(as deployed)", "(fast settings, not as deployed)"),
    ],
)
def test_a_figure_edited_in_the_readme_fails(tmp_path: Path, shown: str, edited: str) -> None:
    readme = _readme(tmp_path)
    text = readme.read_text(encoding="utf-8")
    assert text.count(shown) == 1
    readme.write_text(text.replace(shown, edited), encoding="utf-8")
    with pytest.raises(ValueError, match="README: "):
        verify(readme)


def test_a_results_file_edited_to_match_an_edited_readme_fails(tmp_path: Path) -> None:
    readme = _readme(tmp_path)
    r = consistent()
    r["real_bot"]["updates_per_second"] *= 10
    (tmp_path / RESULTS).write_bytes(results_bytes(r))
    with pytest.raises(ValueError, match="ratio_to_peer"):
        verify(readme)
    # Both edited, the README rendered again by hand: the digest it names is the old file's.
    r["real_bot"]["ratio_to_peer"] *= 10
    (tmp_path / RESULTS).write_bytes(results_bytes(r))
    block = render_block(r, hashlib.sha256(results_bytes(consistent())).hexdigest())
    text = readme.read_text(encoding="utf-8")
    readme.write_text(text[: text.index(BEGIN)] + block + text[text.index(END) + len(END) :])
    with pytest.raises(ValueError, match="sha256"):
        verify(readme)


def test_a_readme_without_its_results_file_fails(tmp_path: Path) -> None:
    readme = _readme(tmp_path)
    (tmp_path / RESULTS).unlink()
    with pytest.raises(ValueError, match="missing"):
        verify(readme)
