"""``python -m bot.devserver``: run the development Bot API server on its own.

Prints one line, the ``base_url`` to give the bot, and serves until interrupted. The token comes
from ``--token`` or the ``DEVSERVER_TOKEN`` environment variable and is never printed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys

from bot.devserver.server import DEFAULT_TOKEN, DevServer


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot.devserver", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default=os.environ.get("DEVSERVER_TOKEN", DEFAULT_TOKEN))
    parser.add_argument("--bot-username", default="intake_bot")
    parser.add_argument("--bot-name", default="Intake")
    parser.add_argument(
        "--no-privacy",
        action="store_true",
        help="let the bot see every group message, as with privacy mode off in @BotFather",
    )
    parser.add_argument(
        "--group",
        type=int,
        action="append",
        default=[],
        metavar="CHAT_ID",
        help="a supergroup (negative id) the bot is already in, as a deployment's coordinators' "
        "group is: give the bot's coordination.group_chat_id, and its start sets the group's "
        "menu instead of warning that the group is unreachable; may be repeated",
    )
    parser.add_argument(
        "--unknown-method",
        action="append",
        default=[],
        metavar="NAME",
        help="answer this Bot API method 404 Not Found, as an older server does "
        "(e.g. deleteMessages, new in Bot API 7.0); may be repeated",
    )
    return parser


async def _serve(args: argparse.Namespace) -> None:
    server = DevServer(
        token=args.token,
        bot_username=args.bot_username,
        bot_name=args.bot_name,
        group_privacy=not args.no_privacy,
        unknown_methods=args.unknown_method,
    )
    for group in args.group:
        server.state.group_chat(group, "supergroup", "Coordinators")
    await server.start(host=args.host, port=args.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    print(server.base_url, flush=True)
    try:
        await stop.wait()
    finally:
        await server.stop()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        asyncio.run(_serve(args))
    except ValueError as exc:
        print(f"devserver: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"devserver: cannot listen: {exc.strerror}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
