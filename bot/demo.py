"""``python -m bot demo``: the whole bot on this machine, in a terminal chat.

A local Bot API server stands in for Telegram; the real bot runs against it with a throwaway
master key and database in a temporary folder, deleted at the end. The person at the keyboard
is the applicant: type an answer, a button's number, or a command.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from bot.config import load_config
from bot.crypto import MasterKey, load_recovery_key, new_recovery_key
from bot.devserver import DevServer, MessageRecord
from bot.devserver.settle import settle
from bot.logs import configure_logging
from bot.ops.backup import backup_database
from bot.ops.recovery import grant_all, import_grants
from bot.runtime import Runtime, open_runtime, serve
from bot.services.coordination import CoordinationService
from bot.store import coordination as coord_store
from bot.store.query import every

APPLICANT_ID = 700_001
COORDINATOR_ID = 700_002
GROUP_CHAT_ID = -1_000_000_000_001
RULE = "─" * 60

INTRO = f"""{RULE}
Demo: you are an applicant writing to the bot. No Telegram is involved.
  • type an answer and press Enter
  • type a button's number, shown as [1], to tap it
  • commands work as in Telegram: /start /back /language /help /delete ...
  • !team switches you to a coordinator (a lead, enrolled with a fresh invite),
    !applicant switches back, !group shows the coordinators' group
  • after /handoff, /checkin CODE 3h arms check-ins; !later 3 lets three hours pass
  • type q to quit (the demo's database and key are thrown away)
{RULE}"""


def demo_config(folder: Path, base_url: str) -> Path:
    """A throwaway config; its recovery key's private half goes in the same folder, as an
    operator's would go on a USB stick, and is thrown away with the rest."""
    path = folder / "config.toml"
    private, public = new_recovery_key()
    (folder / "recovery.key").write_text(private + "\n", encoding="utf-8")
    path.write_text(
        f"""[telegram]
base_url = "{base_url}"
poll_timeout_seconds = 1

[storage]
database = "{folder / "demo.sqlite3"}"

[security]
recovery_public_key = "{public}"

[coordination]
group_chat_id = {GROUP_CHAT_ID}

[logging]
level = "WARNING"
format = "console"
""",
        encoding="utf-8",
    )
    return path


def render(messages: list[MessageRecord], toast: str | None) -> tuple[str, list[str]]:
    """The chat as a phone shows it, with the buttons of the last message numbered."""
    lines = [RULE]
    buttons: list[str] = []
    for message in messages:
        who = "bot" if message.from_bot else "you"
        body = message.text if message.text is not None else f"[{message.kind}]"
        lines.append(f"{who}: " + body.replace("\n", "\n     "))
        if message.from_bot and message.buttons:
            buttons = [b["callback_data"] or "" for b in message.buttons]
            number = 0
            for row in message.reply_markup:
                cells = []
                for button in row:
                    number += 1
                    cells.append(f"[{number}] {button['text']}")
                lines.append("     " + "   ".join(cells))
        elif message.from_bot:
            buttons = []
    if toast:
        lines.append(f"  ({toast})")
    return "\n".join(lines), buttons


async def _nothing_to_grant() -> int:
    return 0


async def _time_stands_still(hours: float) -> None:
    return None


async def _grant_waiting(runtime: Runtime, folder: Path) -> int:
    """What an operator does offline for a coordinator who enrolled after cases came in: a
    backup, ``recover grant`` with the recovery key's private half, ``import-grants``. Returns
    how many cases the coordinator did not hold before."""
    conn = runtime.db.conn
    team = await coord_store.active_coordinators(conn)
    if not team:
        return 0
    lead = team[0]
    missing = [
        case_id
        for (case_id,) in await every(conn, "SELECT id FROM cases WHERE status <> 'draft'")
        if await coord_store.case_key_for(conn, str(case_id), lead.id) is None
    ]
    if not missing:
        return 0
    copy = folder / "offline-copy.sqlite3"
    copy.unlink(missing_ok=True)
    await backup_database(runtime.db, copy)
    key = load_recovery_key((folder / "recovery.key").read_text(encoding="utf-8"))
    grants = await grant_all(copy, key, lead.handle)
    await import_grants(runtime.db, grants, vault=runtime.vault, now=int(time.time()))
    copy.unlink()
    return len(missing)


async def chat_loop(
    server: DevServer,
    coordination: CoordinationService,
    read: Callable[[], Awaitable[str | None]],
    write: Callable[[str], None],
    grant_waiting: Callable[[], Awaitable[int]] = _nothing_to_grant,
    handled: Callable[[], Awaitable[bool]] | None = None,
    later: Callable[[float], Awaitable[None]] = _time_stands_still,
) -> None:
    user = APPLICANT_ID
    enrolled = False
    await server.send_text(user, "/start", first_name="Demo")
    toast: str | None = None
    chat = user
    while True:
        await settle(server, done=handled)
        screen, buttons = render(await server.messages(chat), toast)
        write(screen)
        toast = None
        line = await read()
        if line is None or line.strip().lower() in ("q", "quit", "exit"):
            return
        choice = line.strip()
        hours = choice.removeprefix("!later").strip()
        if choice.startswith("!later") and hours.replace(".", "", 1).isdigit():
            await later(float(hours))
            write(f"({hours} hours passed, for the bot and for Telegram)")
            continue
        if choice in ("!team", "!applicant", "!group"):
            chat = {"!team": COORDINATOR_ID, "!applicant": APPLICANT_ID, "!group": GROUP_CHAT_ID}[
                choice
            ]
            user = chat if chat > 0 else user
            if choice == "!team" and not enrolled:
                enrolled = True
                code = await coordination.create_invite("lead")
                write(f"(an operator ran `python -m bot invite --role lead`: /enroll {code})")
                await server.send_text(user, f"/enroll {code}", first_name="Lead")
            if choice == "!group" and enrolled:  # a stranger's /queue would go unanswered
                await server.send_group_text(
                    GROUP_CHAT_ID,
                    COORDINATOR_ID,
                    "/queue",
                    chat_type="supergroup",
                    first_name="Lead",
                )
            continue
        if chat == COORDINATOR_ID and enrolled:
            granted = await grant_waiting()
            if granted:
                write(
                    f"(cases sent before you enrolled are sealed to the recovery key alone: an "
                    f"operator granted you {granted} of them, offline, with `python -m bot "
                    f"recover grant` and `import-grants`)"
                )
        if chat < 0:
            if choice:
                await server.send_group_text(
                    GROUP_CHAT_ID, COORDINATOR_ID, choice, chat_type="supergroup", first_name="Lead"
                )
            continue
        if choice.isdigit() and 1 <= int(choice) <= len(buttons):
            last = [m for m in await server.messages(user) if m.from_bot and m.buttons][-1]
            query = await server.press_button(user, last.message_id, buttons[int(choice) - 1])
            with contextlib.suppress(TimeoutError):
                answer = await server.wait_for_callback_answer(query, timeout=10.0)
                toast = answer.text
        elif choice:
            await server.send_text(user, choice, first_name="Demo")


async def run(read: Callable[[], Awaitable[str | None]], write: Callable[[str], None]) -> None:
    with tempfile.TemporaryDirectory(prefix="bot-demo-") as tmp:
        folder = Path(tmp)
        async with DevServer() as server:
            # The coordinators' group exists with the bot in it before the bot starts, as an
            # operator sets it up in Telegram: the bot's start sets the group's menu there.
            server.state.group_chat(GROUP_CHAT_ID, "supergroup", "Coordinators")
            environ = {"BOT_TOKEN": server.token, "BOT_MASTER_KEY": MasterKey.generate().to_text()}
            config = load_config(demo_config(folder, server.base_url), environ)
            configure_logging(level=config.logging.level, fmt=config.logging.format)
            stop = asyncio.Event()
            passed = [0.0]  # hours let pass with !later: the bot's clock runs that much ahead

            def clock() -> float:
                return time.time() + passed[0]

            async def later(hours: float) -> None:
                passed[0] += hours * 3600
                server.clock.advance(hours * 3600)
                runtime.coordination.checkins_now.set()
                runtime.intake.sweep_now.set()
                await settle(server, done=runtime.handled)

            async with open_runtime(config, clock=clock) as runtime:
                bot = asyncio.create_task(serve(runtime, stop))
                try:
                    write(INTRO)
                    await chat_loop(
                        server,
                        runtime.coordination,
                        read,
                        write,
                        lambda: _grant_waiting(runtime, folder),
                        runtime.handled,
                        later,
                    )
                finally:
                    stop.set()
                    await bot


def _read_line() -> str | None:
    try:
        return input("> ")
    except EOFError:
        return None


async def _read_async() -> str | None:
    """input() blocks, and the bot and the local server share this event loop, so read in a
    thread of its own: a daemon thread, which Ctrl-C does not wait for (asyncio's default
    executor would be joined at exit, holding the demo open until Enter)."""
    loop = asyncio.get_running_loop()
    line: asyncio.Future[str | None] = loop.create_future()

    def read() -> None:
        text: str | None = None
        error: BaseException | None = None
        try:
            text = _read_line()
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting task
            error = exc
        with contextlib.suppress(RuntimeError):  # the demo ended meanwhile: no one to tell
            loop.call_soon_threadsafe(_settle, line, text, error)

    threading.Thread(target=read, name="demo-input", daemon=True).start()
    return await line


def _settle(
    line: asyncio.Future[str | None], text: str | None, error: BaseException | None
) -> None:
    if line.done():
        return
    if error is not None:
        line.set_exception(error)
    else:
        line.set_result(text)


def run_demo() -> int:
    interrupted = False
    try:
        asyncio.run(run(_read_async, lambda text: print(text, flush=True)))
    except KeyboardInterrupt:
        interrupted = True
    print("demo ended; its key and database are gone.", file=sys.stderr)
    if interrupted and any(t.name == "demo-input" for t in threading.enumerate()):
        # Ctrl-C while input() waits: that thread can be neither woken nor finalised, so end
        # here (the demo's folder is already deleted) rather than wait for an Enter.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    return 0
