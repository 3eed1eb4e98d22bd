"""The README's Performance table, rendered from the benchmark's JSON into a marked block.

``python -m bench --readme README.md`` rewrites only what lies between :data:`BEGIN` and
:data:`END`, and writes the run's JSON beside the README (:data:`RESULTS`), its digest in the
block; :func:`verify` renders the block again from that file, so a figure edited by hand, in
the README or in the file, fails the test suite.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

BEGIN = "<!-- bench:begin (written by python -m bench --readme; do not edit by hand) -->"
END = "<!-- bench:end -->"
HEADER = ("measure", "value")
RESULTS = Path("bench") / "results.json"  # beside the README, committed with it
# Figures the run derives from others: a hand that edits one and not the rest is caught even
# if it edits the JSON too. (key, numerator, denominator), each a path into the JSON.
DERIVED = (
    (
        ("real_bot", "sustained_ratio_to_echo"),
        ("real_bot", "sustained_open_loop_per_second"),
        ("echo", "sustained_open_loop_per_second"),
    ),
    (
        ("real_bot", "sustained_ratio_to_echo_deleting"),
        ("real_bot", "sustained_open_loop_per_second"),
        ("echo_deleting", "sustained_open_loop_per_second"),
    ),
    (
        ("real_bot", "sustained_ratio_to_peer"),
        ("real_bot", "sustained_open_loop_per_second"),
        ("peer", "sustained_open_loop_per_second"),
    ),
    (
        ("real_bot", "ratio_to_peer"),
        ("real_bot", "updates_per_second"),
        ("peer", "updates_per_second"),
    ),
    (("real_bot", "p99_ratio_to_peer"), ("real_bot", "p99_ms"), ("peer", "p99_ms")),
)


def _n(value: Any, digits: int = 0) -> str:
    """A figure as the table shows it: thousands separated, n/a for a missing one."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{float(value):,.{digits}f}"


def _joined(values: Iterable[Any], digits: int = 0) -> str:
    return " / ".join(_n(v, digits) for v in values)


def _ms(seconds: float) -> str:
    return _n(seconds * 1000, 2)


def _sustained(bot: dict[str, Any]) -> str:
    """A sustained figure; "≥" when the bot kept up with the highest rate offered, so the
    figure is the load's ceiling, not the bot's."""
    floor = "≥" if bot.get("sustained_is_a_floor") else ""
    return floor + _n(bot["sustained_open_loop_per_second"])


def _ratio(bot: dict[str, Any], other: dict[str, Any], ratio: float) -> str:
    """The real bot's sustained figure over another's: an upper bound when only the other's
    is a floor, a lower bound when only the bot's is, and unknown when both are."""
    mine, theirs = bool(bot.get("sustained_is_a_floor")), bool(other.get("sustained_is_a_floor"))
    if mine and theirs:
        return "n/a (both kept up with every rate)"
    return ("≤" if theirs else "≥" if mine else "") + _n(ratio, 2)


def _by_method(calls: dict[str, float]) -> str:
    ordered = sorted(calls.items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"{method} {per:.2f}" for method, per in ordered) or "n/a"


def rows(r: dict[str, Any]) -> list[tuple[str, str]]:
    """The table's rows, measure and value, from a run's JSON (``bench-results.json``)."""
    bot, echo, drafts = r["real_bot"], r["echo"], r["open_drafts"]
    offered = r["offered_load"]
    settings = r["settings"]
    cost = r["argon2"]
    out: list[tuple[str, str]] = [
        (
            "settings of the bot",
            f"logging {settings['logging_level']}, poll timeout "
            f"{settings['poll_timeout_seconds']} s, Argon2id {cost['memory_kib']:,} KiB / "
            f"{cost['iterations']} passes / {cost['lanes']} lanes"
            + (" (fast settings, not as deployed)" if settings["fast"] else " (as deployed)"),
        ),
        (
            "echo: 1 call per update / reply + delete / paced by the limiter, updates/s",
            _joined(
                (
                    echo["updates_per_second"],
                    r["echo_deleting"]["updates_per_second"],
                    r["echo_rate_limited"]["updates_per_second"],
                )
            ),
        ),
        (
            f"real bot, unpaced, {r['applicants']} applicants at once",
            f"{_n(bot['updates_per_second'])} updates/s, p50 {_n(bot['p50_ms'])} ms, "
            f"p99 {_n(bot['p99_ms'])} ms, {_n(bot['forms_per_minute'])} forms a minute",
        ),
    ]
    paced = r.get("real_bot_paced")
    if paced is not None:
        out.append(
            (
                f"real bot, paced by the rate limiter as deployed, {r['applicants']} at once",
                f"{_n(paced['updates_per_second'])} updates/s, p50 {_n(paced['p50_ms'])} ms, "
                f"p99 {_n(paced['p99_ms'])} ms, {_n(paced['forms_per_minute'])} forms a minute",
            )
        )
    deleting, peer = r["echo_deleting"], r["peer"]
    others = (("deleting echo", deleting["offered_load"]), ("peer", peer["offered_load"]))
    out += [
        (
            "sustained, unpaced, under the same offered rates: echo / deleting echo / real bot "
            "/ peer, updates/s (≥: kept up with the highest rate)",
            " / ".join(_sustained(b) for b in (echo, deleting, bot, peer)),
        ),
        (
            "real bot, sustained, as a ratio",
            f"{_ratio(bot, peer, bot['sustained_ratio_to_peer'])} of the peer, "
            f"{_ratio(bot, deleting, bot['sustained_ratio_to_echo_deleting'])} of the deleting "
            f"echo, {_ratio(bot, echo, bot['sustained_ratio_to_echo'])} of the echo",
        ),
        ("offered load, actions/s", _joined(row["offered_per_second"] for row in offered)),
        (
            "offered load: answered per second",
            _joined(row["answered_per_second"] for row in offered),
        ),
        ("offered load: p99 ms", _joined(row["p99_ms"] for row in offered)),
        (
            "offered load: unanswered within the drain",
            _joined(row["unanswered_within_drain"] for row in offered),
        ),
    ]
    for name, loads in others:
        out += [
            (
                f"offered load, {name}: answered per second",
                _joined(row["answered_per_second"] for row in loads),
            ),
            (f"offered load, {name}: p99 ms", _joined(row["p99_ms"] for row in loads)),
        ]
    out += [
        (
            "Bot API calls per action, unpaced",
            f"{_n(bot['bot_api_calls_per_action'], 2)}: "
            f"{_n(bot['bot_api_calls_per_action_in_chats'], 2)} in the applicants' chats, "
            f"{_n(bot['group_calls_per_action'], 2)} new-case notices to the coordinators' "
            f"group (echo: 1, deleting echo: 2, peer: {_n(peer['bot_api_calls_per_action'], 2)})",
        ),
        (
            "Bot API calls per action by method, unpaced",
            _by_method(bot["bot_api_calls_per_action_by_method"]),
        ),
    ]
    if paced is not None:
        out.append(
            (
                "Bot API calls per action by method, paced, in the applicants' chats",
                _by_method(paced["bot_api_calls_per_action_in_chats_by_method"])
                + f"; new-case notices sent by the last reply: {_n(paced['group_calls'])} of "
                f"{_n(paced['completed_intakes'])} forms (the group's limit: 20 a minute)",
            )
        )
    out += [
        (
            "CPU ms per action, bot / harness",
            f"{_ms(bot['cpu_seconds_per_action'])} / {_ms(bot['harness_cpu_seconds_per_action'])}"
            f" (echo per update: {_ms(echo['cpu_seconds_per_update'])} / "
            f"{_ms(echo['harness_cpu_seconds_per_update'])}; peer per action: "
            f"{_ms(r['peer']['cpu_seconds_per_action'])})",
        ),
        ("CPU s per completed form (bot process)", _n(bot["cpu_seconds_per_intake"], 3)),
        (
            "CPU ms per Argon2id hash at the bot's cost (a passphrase; receipts: a keyed hash)",
            _n(cost["receipt_cpu_ms"], 1),
        ),
        ("peak memory, MiB (bot process)", _n(r["peak_rss_mib_after_load"])),
        (
            "actions per form / bytes sent to the applicant",
            f"{_n(bot['actions_per_intake'])} / {_n(bot['bytes_sent_per_applicant'])}",
        ),
        (
            "database bytes per case, all files / main file",
            f"{_n(bot['database_bytes_per_case'])} / "
            f"{_n(bot['database_main_file_bytes_per_case'])}",
        ),
        (
            f"memory growth for {drafts['drafts']:,} open drafts, MiB",
            _n(drafts["rss_growth_mib"], 1),
        ),
    ]
    out.append(
        (
            "python-telegram-bot's example way (bench/peer.py), same applicants at once",
            f"{_n(peer['updates_per_second'])} updates/s, p99 {_n(peer['p99_ms'])} ms; "
            f"the bot's throughput {_n(bot['ratio_to_peer'], 2)} of it, "
            f"its p99 {_n(bot['p99_ratio_to_peer'], 2)} of it",
        )
    )
    return out


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def results_bytes(r: dict[str, Any]) -> bytes:
    """The run's JSON as :data:`RESULTS` holds it."""
    return (json.dumps(r, indent=2, allow_nan=True) + "\n").encode("utf-8")


def render_block(r: dict[str, Any], sha256: str | None = None) -> str:
    """The whole marked block: the machine and the command, the results file it was rendered
    from (``sha256``, its digest), then the table."""
    machine = r["machine"]
    before, after = machine["loadavg_before"], machine["loadavg_after"]
    source = [] if sha256 is None else [f"Rendered from `{RESULTS.as_posix()}`, sha256 {sha256}."]
    lines = [
        BEGIN,
        f"Written by `{r['command']}` on {machine['cores']} cores; load average (1, 5, 15 min) "
        f"{_joined(before, 2)} before the run, {_joined(after, 2)} after.",
        *source,
        "",
        f"| {HEADER[0]} | {HEADER[1]} |",
        "|---|---|",
        *(f"| {_cell(name)} | {_cell(value)} |" for name, value in rows(r)),
        END,
    ]
    return "\n".join(lines)


def parse_block(text: str) -> list[tuple[str, str]]:
    """The rows of the marked block in ``text`` (a README), measure and value."""
    start, end = text.index(BEGIN), text.index(END)
    if end < start:
        raise ValueError("the bench block's end marker comes before its beginning")
    parsed: list[tuple[str, str]] = []
    for line in text[start:end].splitlines():
        if not line.startswith("| ") or line.startswith("|---"):
            continue
        cells = [c.strip().replace("\\|", "|") for c in line.strip()[1:-1].split(" | ")]
        if len(cells) != 2:
            raise ValueError(f"a row of two cells expected: {line!r}")
        if tuple(cells) != HEADER:
            parsed.append((cells[0], cells[1]))
    return parsed


def _block(text: str) -> str:
    start, end = text.index(BEGIN), text.index(END) + len(END)
    return text[start:end]


def rewrite(readme: Path, r: dict[str, Any]) -> None:
    """Write ``r`` beside ``readme`` (:data:`RESULTS`) and replace the marked block in
    ``readme`` with one rendered from it."""
    data = results_bytes(r)
    results = readme.parent / RESULTS
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_bytes(data)
    text = readme.read_text(encoding="utf-8")
    block = render_block(json.loads(data), digest(data))
    readme.write_text(text.replace(_block(text), block, 1), encoding="utf-8")


def _at(r: dict[str, Any], path: tuple[str, ...]) -> Any:
    for key in path:
        r = r[key]
    return r


def contradictions(r: dict[str, Any]) -> list[str]:
    """Derived figures that do not follow from the figures they come from."""
    found = []
    for ratio, over, under in DERIVED:
        value, numerator, denominator = _at(r, ratio), _at(r, over), _at(r, under)
        if not all(isinstance(v, int | float) and math.isfinite(v) for v in (numerator, value)):
            continue  # a figure the run could not measure: shown as n/a, nothing to hold
        if not isinstance(denominator, int | float) or not denominator:
            continue
        expected = numerator / denominator
        if not math.isclose(value, expected, rel_tol=1e-6):
            found.append(f"{'.'.join(ratio)} is {value}, but its figures give {expected:.4g}")
    return found


def verify(readme: Path) -> None:
    """Raise ``ValueError`` unless the README's block is exactly the one :data:`RESULTS`
    renders, digest included, and the results agree with themselves."""
    results = readme.parent / RESULTS
    if not results.exists():
        raise ValueError(
            f"{RESULTS.as_posix()} is missing: the README's table comes from no run on file "
            "(run `make bench` and commit the README with it)"
        )
    data = results.read_bytes()
    r = json.loads(data)
    problems = contradictions(r)
    shown = _block(readme.read_text(encoding="utf-8"))
    expected = render_block(r, digest(data))
    if shown != expected:
        mine, theirs = shown.splitlines(), expected.splitlines()
        problems += [
            f"README: {a!r}; the run: {b!r}" for a, b in zip(mine, theirs, strict=False) if a != b
        ]
        if len(mine) != len(theirs):
            problems.append(f"README: {len(mine)} lines; the run: {len(theirs)}")
    if problems:
        raise ValueError("; ".join(problems))
