"""``python -m bench``: echo ceiling, the real bot under load, offered load, open drafts."""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import pstats
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.drafts import open_drafts
from bench.echo import ECHO_USER_BASE, measure_echo
from bench.load import (
    ECHO_DELETING_OPEN_LOOP_BASE,
    ECHO_OPEN_LOOP_BASE,
    OPEN_LOOP_BASE,
    PACED_APPLICANT_BASE,
    PEER_APPLICANT_BASE,
    PEER_OPEN_LOOP_BASE,
    ClosedLoop,
    bench_bot,
    bench_config,
    closed_loop,
    database_bytes,
    kept_up_at_the_top,
    offered_load,
    per_applicant,
    quiet_logs,
    running_bot,
    settings,
    sustained,
    wait_idle,
)
from bench.process import bot_process
from bench.readme import rewrite
from bench.report import percentile, plot, table, write_json
from bench.script import intake_steps
from bench.timing import TimedServer
from bot.crypto import Argon2Cost, hash_secret, new_receipt_secret

ECHO_FORMS = 4
# Unpaced, how long the calls a bot still makes after the last reply (a tap's answer, the
# new-case notices) may take to be counted.
SETTLE = 15.0
PROJECT = str(Path(__file__).resolve().parent.parent / "bot")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--applicants", type=int, default=50)
    parser.add_argument(
        "--rates",
        default="20,50,100,200,300,500,700,900,1100,1500",
        help="offered actions per second",
    )
    parser.add_argument("--seconds", type=float, default=4.0, help="per offered rate")
    parser.add_argument("--drain", type=float, default=15.0, help="wait for late replies")
    parser.add_argument("--drafts", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=Path("bench-out"))
    parser.add_argument("--profile", action="store_true", help="run the bot under cProfile")
    parser.add_argument(
        "--fast",
        action="store_true",
        help="the old fast settings: warnings only and a 1-second poll, not config.example.toml's",
    )
    parser.add_argument(
        "--readme", type=Path, help="rewrite this README's bench block from the run's results"
    )
    args = parser.parse_args(argv)
    args.command = shlex.join(["python", "-m", "bench", *(sys.argv[1:] if argv is None else argv)])
    return args


def receipt_cpu_ms(cost: Argon2Cost, times: int) -> float:
    """CPU for one Argon2id hash at the config's cost (a coordinator's passphrase), all threads."""
    started = time.process_time()
    for _ in range(times):
        hash_secret(new_receipt_secret(), cost=cost)
    return (time.process_time() - started) / times * 1000


def profile_summary(profile: Path, limit: int = 15) -> str:
    """The costliest functions in the project's own code, by own time and by total time."""
    lines = [f"profile of the bot process: {profile}"]
    for order in ("tottime", "cumulative"):
        stream = io.StringIO()
        stats = pstats.Stats(str(profile), stream=stream).sort_stats(order)
        stats.print_stats(PROJECT, limit)
        body = stream.getvalue().split("ncalls", 1)
        lines.append(f"--- ours, by {order} ---\nncalls" + (body[1] if len(body) > 1 else "\n"))
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    quiet_logs()
    args.out.mkdir(parents=True, exist_ok=True)
    rates = [float(r) for r in args.rates.split(",") if r.strip()]
    actions = len(intake_steps())
    chosen = settings(fast=args.fast)
    cost = chosen.argon2
    results: dict[str, Any] = {
        "command": args.command,
        "machine": {"cores": os.cpu_count(), "loadavg_before": list(os.getloadavg())},
        "applicants": args.applicants,
        "settings": chosen.as_json(),
        "argon2": {
            "memory_kib": cost.memory_kib,
            "iterations": cost.iterations,
            "lanes": cost.lanes,
            "receipt_cpu_ms": receipt_cpu_ms(cost, 5),
        },
        "actions_in_script": actions,
    }
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        folder = Path(tmp)
        async with TimedServer() as server:
            # Unpaced echoes get four forms' worth each, so their run lasts long enough to time.
            echo_texts = ECHO_FORMS * actions
            # Both unpaced echoes also get the real bot's offered rates, as the peer does.
            offered_rates = {
                "rates": rates,
                "seconds": args.seconds,
                "drain": args.drain,
                "form_steps": actions,
            }
            results["echo"] = await measure_echo(
                server,
                args.applicants,
                echo_texts,
                rate_limiter=False,
                base=ECHO_USER_BASE,
                open_base=ECHO_OPEN_LOOP_BASE,
                **offered_rates,
            )
            results["echo_deleting"] = await measure_echo(
                server,
                args.applicants,
                echo_texts,
                rate_limiter=False,
                base=ECHO_USER_BASE + 100_000,
                deleting=True,
                open_base=ECHO_DELETING_OPEN_LOOP_BASE,
                **offered_rates,
            )
            results["echo_rate_limited"] = await measure_echo(
                server, args.applicants, actions, rate_limiter=True, base=ECHO_USER_BASE + 200_000
            )
            bot = bench_bot(folder / "bot", server.base_url, server.token, chosen)
            database = bot.config().storage.database
            profile = args.out / "bot.prof" if args.profile else None
            async with running_bot(server, bot, profile, args.out / "bot.log") as process:
                loop = await closed_loop(server, process, args.applicants, settle=SETTLE)
                await wait_idle(server)
                db_bytes = database_bytes(database)
                main_bytes = database.stat().st_size
                offered = await offered_load(
                    server, rates, args.seconds, OPEN_LOOP_BASE, args.drain
                )
                results["peak_rss_mib_after_load"] = process.peak_rss_mib()
            paced_bot = bench_bot(
                folder / "paced", server.base_url, server.token, chosen, rate_limit=True
            )
            async with running_bot(server, paced_bot, log=args.out / "bot-paced.log") as process:
                paced = await closed_loop(
                    server, process, args.applicants, base=PACED_APPLICANT_BASE
                )
                await wait_idle(server)
            peer_args = [
                *("-m", "bench.peer", "--base-url", server.base_url),
                *("--persistence", str(folder / "peer.pickle")),
            ]
            peer_env = {"BOT_TOKEN": server.token}
            async with bot_process(server, peer_args, peer_env, args.out / "peer.log") as process:
                peer = await closed_loop(
                    server, process, args.applicants, base=PEER_APPLICANT_BASE, settle=SETTLE
                )
                await wait_idle(server)
                peer_offered = await offered_load(
                    server, rates, args.seconds, PEER_OPEN_LOOP_BASE, args.drain
                )
        handled = sum(p.actions for p in loop.people)
        ups = handled / loop.wall
        results["real_bot"] = {
            **closed_loop_figures(loop),
            "ratio_to_echo": ups / results["echo"]["updates_per_second"],
            "ratio_to_echo_deleting": ups / results["echo_deleting"]["updates_per_second"],
            "cpu_seconds_per_intake": loop.cpu / max(1, loop.completed),
            "cpu_seconds_per_action": loop.cpu / max(1, handled),
            "harness_cpu_seconds_per_action": loop.harness_cpu / max(1, handled),
            "database_bytes_per_case": db_bytes / max(1, loop.completed),
            "database_main_file_bytes_per_case": main_bytes / max(1, loop.completed),
            **per_applicant(loop.people, server),
        }
        for row in offered:
            ceiling = results["echo"]["updates_per_second"]
            row["ratio_to_echo"] = row["sent_per_second"] / ceiling
        results["offered_load"] = offered
        # Sustained figures are all open loop, under the same offered rates.
        most = sustained(offered)
        results["real_bot"]["sustained_open_loop_per_second"] = most
        results["real_bot"]["sustained_is_a_floor"] = kept_up_at_the_top(offered)
        results["real_bot"]["sustained_ratio_to_echo"] = (
            most / results["echo"]["sustained_open_loop_per_second"]
        )
        results["real_bot"]["sustained_ratio_to_echo_deleting"] = (
            most / results["echo_deleting"]["sustained_open_loop_per_second"]
        )
        drafts_config = bench_config(folder / "drafts", "http://127.0.0.1:9/bot", "1:" + "a" * 30)
        results["open_drafts"] = await open_drafts(drafts_config, args.drafts)
    results["real_bot_paced"] = closed_loop_figures(paced)
    results["peer"] = {
        **closed_loop_figures(peer),
        "cpu_seconds_per_action": peer.cpu / max(1, sum(p.actions for p in peer.people)),
        "offered_load": peer_offered,
        "sustained_open_loop_per_second": sustained(peer_offered),
        "sustained_is_a_floor": kept_up_at_the_top(peer_offered),
    }
    results["real_bot"]["sustained_ratio_to_peer"] = (
        results["real_bot"]["sustained_open_loop_per_second"]
        / results["peer"]["sustained_open_loop_per_second"]
    )
    results["real_bot"]["ratio_to_peer"] = ups / results["peer"]["updates_per_second"]
    results["real_bot"]["p99_ratio_to_peer"] = (
        results["real_bot"]["p99_ms"] / results["peer"]["p99_ms"]
    )
    results["machine"]["loadavg_after"] = list(os.getloadavg())
    others = {
        "echo": results["echo"]["offered_load"],
        "deleting echo": results["echo_deleting"]["offered_load"],
        "peer": peer_offered,
    }
    results["plot"] = plot(args.out, offered, results["echo"]["updates_per_second"], others)
    results["json"] = str(write_json(args.out, results))
    if args.readme is not None:
        rewrite(args.readme, results)
    if profile is not None:
        results["profile"] = profile_summary(profile)
    return results


def closed_loop_figures(loop: ClosedLoop) -> dict[str, Any]:
    """Throughput, latency, forms a minute and Bot API calls per action (per method too)."""
    latencies = sorted(x for p in loop.people for x in p.latencies)
    handled = max(1, sum(p.actions for p in loop.people))
    return {
        "completed_intakes": loop.completed,
        "updates": sum(p.actions for p in loop.people),
        "wall_seconds": loop.wall,
        "updates_per_second": sum(p.actions for p in loop.people) / loop.wall,
        "forms_per_minute": loop.completed / loop.wall * 60,
        "bot_api_calls_per_action": loop.bot_api_calls / handled,
        # The same, without the coordinators' group: what each applicant's own chat costs.
        "bot_api_calls_per_action_in_chats": (loop.bot_api_calls - loop.group_calls) / handled,
        "group_calls_per_action": loop.group_calls / handled,
        "group_calls": loop.group_calls,
        "bot_api_calls_per_action_in_chats_by_method": {
            method: count / handled
            for method, count in sorted((loop.chat_calls_by_method or {}).items())
        },
        "bot_api_calls_per_action_by_method": {
            method: count / handled for method, count in sorted(loop.calls_by_method.items())
        },
        "p50_ms": percentile(latencies, 50) * 1000,
        "p95_ms": percentile(latencies, 95) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
    }


def render(r: dict[str, Any]) -> str:
    bot, echo, drafts = r["real_bot"], r["echo"], r["open_drafts"]
    rows: list[tuple[str, Any, str]] = [
        ("echo ceiling, updates/s", echo["updates_per_second"], "1 Bot API call per update"),
        (
            "echo that also deletes, updates/s",
            r["echo_deleting"]["updates_per_second"],
            "2 calls per update",
        ),
        (
            "echo paced by Telegram's limiter, updates/s",
            r["echo_rate_limited"]["updates_per_second"],
            "what Telegram allows",
        ),
        (
            "real bot, updates/s sustained",
            bot["sustained_open_loop_per_second"],
            "unpaced; most answered per second under the offered rates",
        ),
        ("  ratio to the echo, same rates", bot["sustained_ratio_to_echo"], ""),
        ("  ratio to the deleting echo", bot["sustained_ratio_to_echo_deleting"], ""),
        ("  ratio to the peer", bot["sustained_ratio_to_peer"], ""),
        (
            f"real bot, {r['applicants']} at once, updates/s",
            bot["updates_per_second"],
            "closed loop",
        ),
        ("  ratio to echo ceiling", bot["ratio_to_echo"], ""),
        ("  ratio to the deleting echo", bot["ratio_to_echo_deleting"], ""),
        ("  Bot API calls per action", bot["bot_api_calls_per_action"], "echo: 1"),
        (
            "    in the applicants' chats",
            bot["bot_api_calls_per_action_in_chats"],
            f"group notices {bot['group_calls_per_action']:.3f}",
        ),
        *(
            (f"    {method}", per, "")
            for method, per in bot["bot_api_calls_per_action_by_method"].items()
        ),
        ("  forms a minute", bot["forms_per_minute"], "closed loop"),
        (
            "real bot paced by the limiter, updates/s",
            r["real_bot_paced"]["updates_per_second"],
            f"p99 {r['real_bot_paced']['p99_ms']:.0f} ms, "
            f"{r['real_bot_paced']['forms_per_minute']:.1f} forms a minute",
        ),
        (
            "peer (bench/peer.py), updates/s",
            r["peer"]["updates_per_second"],
            f"p99 {r['peer']['p99_ms']:.0f} ms; the bot's throughput "
            f"{bot['ratio_to_peer']:.2f} of it, its p99 {bot['p99_ratio_to_peer']:.2f} of it",
        ),
        ("latency p50 ms", bot["p50_ms"], f"echo {echo['p50_ms']:.1f}"),
        ("latency p95 ms", bot["p95_ms"], f"echo {echo['p95_ms']:.1f}"),
        ("latency p99 ms", bot["p99_ms"], f"echo {echo['p99_ms']:.1f}"),
        ("completed intakes", bot["completed_intakes"], f"of {r['applicants']}"),
        ("CPU s per completed intake", bot["cpu_seconds_per_intake"], "bot process"),
        (
            "CPU ms per action, bot / harness",
            f"{bot['cpu_seconds_per_action'] * 1000:.2f} / "
            f"{bot['harness_cpu_seconds_per_action'] * 1000:.2f}",
            f"echo per update: {echo['cpu_seconds_per_update'] * 1000:.2f} / "
            f"{echo['harness_cpu_seconds_per_update'] * 1000:.2f}",
        ),
        (
            "CPU ms per Argon2id hash",
            r["argon2"]["receipt_cpu_ms"],
            "at the bot's cost",
        ),
        ("peak RSS MiB", r["peak_rss_mib_after_load"], "VmHWM, bot process"),
        ("database bytes per case", bot["database_bytes_per_case"], "file sizes / cases"),
        ("  main file only (no WAL)", bot["database_main_file_bytes_per_case"], ""),
        ("actions per intake", bot["actions_per_intake"], "messages + taps"),
        ("bytes the bot sent per applicant", bot["bytes_sent_per_applicant"], "JSON params"),
    ]
    others = (r["echo"]["offered_load"], r["echo_deleting"]["offered_load"])
    for row, echo_row, deleting_row, peer_row in zip(
        r["offered_load"], *others, r["peer"]["offered_load"], strict=True
    ):
        rows.append(
            (
                f"offered {row['offered_per_second']:g}/s: p99 ms",
                row["p99_ms"],
                f"sent {row['sent_per_second']:.1f}/s, answered {row['answered_per_second']:.1f}/s,"
                f" {row['unanswered_within_drain']} unanswered; answered/s, p99 ms: echo "
                f"{echo_row['answered_per_second']:.0f}, {echo_row['p99_ms']:.0f}; deleting "
                f"{deleting_row['answered_per_second']:.0f}, {deleting_row['p99_ms']:.0f}; peer "
                f"{peer_row['answered_per_second']:.0f}, {peer_row['p99_ms']:.0f}",
            )
        )
    rows += [
        (f"RSS growth, 0 -> {drafts['drafts']} drafts MiB", drafts["rss_growth_mib"], ""),
        ("  bytes per open draft (RSS)", drafts["rss_growth_bytes_per_draft"], ""),
        ("  database bytes per draft", drafts["database_bytes_per_draft"], ""),
    ]
    cost, chosen = r["argon2"], r["settings"]
    head = (
        f"{'Fast settings' if chosen['fast'] else 'As deployed (config.example.toml)'}: logging "
        f"{chosen['logging_level']}, poll timeout {chosen['poll_timeout_seconds']} s, Argon2id "
        f"{cost['memory_kib']} KiB / {cost['iterations']} passes / {cost['lanes']} lanes; each "
        "bot runs in a process of its own, the local Bot API server and the simulated people in "
        "another."
    )
    return "\n".join([head, table(rows), r["plot"], f"results: {r['json']}"])


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    started = time.perf_counter()
    results = asyncio.run(run(args))
    print(render(results))
    if "profile" in results:
        print(results["profile"])
    print(f"total {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
