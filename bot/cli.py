"""``python -m bot``: the operator's commands.

Every failure an operator can cause (a bad config value, a missing secret) ends in one line on
standard error that names what to fix, and exit status 2; never a traceback. A master key that
is not the database's is such a failure: every command that touches the database checks the key
first (``bot.ops.keycheck``), so a wrong key file is never mistaken for a tampered audit log.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sqlite3
import stat
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from bot import eventloop
from bot.config import (
    Config,
    ConfigError,
    check_config,
    load_config,
    load_telegram,
    route_problems,
    storage_problems,
)
from bot.crypto import MasterKey, UnlockedKey
from bot.logs import configure_logging, get_logger

DEFAULT_CONFIG = "config.toml"
OPERATOR_COMMANDS = (
    "invite",
    "revoke",
    "verify-audit",
    "rotate-key",
    "health",
    "purge",
    "backup",
    "import-grants",
)


def _config_path(value: str | None) -> Path:
    return Path(value or os.environ.get("BOT_CONFIG") or DEFAULT_CONFIG)


DESCRIPTION = (
    "The exit intake bot's commands: run the bot, try it, check its config, enrol and revoke "
    "coordinators, and look after its database and keys. Every problem an operator can cause "
    "ends in one line naming what to fix (exit status 2)."
)
CONFIG_HELP = f"config file (default: $BOT_CONFIG or {DEFAULT_CONFIG})"


def _command(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    summary: str,
    description: str,
    *,
    config: bool = True,
) -> argparse.ArgumentParser:
    """A subcommand whose own ``--help`` says what it does, not only its options."""
    command = sub.add_parser(name, help=summary, description=description)
    if config:
        command.add_argument("--config", help=CONFIG_HELP)
    return command


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description=DESCRIPTION)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    _command(
        sub,
        "run",
        "run the bot (long polling against telegram.base_url, or a webhook)",
        "Run the bot until SIGTERM or Ctrl-C: check the master key against the database "
        "(creating it on the first start), then take updates from Telegram by long polling, or "
        "by webhook if telegram.mode says so.",
    )
    _command(
        sub,
        "check-config",
        "load the config and check what 'run' needs; report every problem",
        "Read the config and its secrets as 'run' would, check that the database's folder is "
        "there and writable, print a summary with secrets shown only as where they come from, "
        "check the master key against the database if one exists, and end with 'config ok'; "
        "or print every problem, one line each (exit 2).",
    )
    group = _command(
        sub,
        "group-id",
        "wait until the bot is added to a group, print the group's id, leave it",
        "Find the coordinators' group's id: run this (with the bot itself stopped), add the "
        "bot to the group in Telegram, and the group's id is printed alone on standard output. "
        "The bot then leaves the group and stops; nothing is posted there, nothing is logged, "
        "and the updates it reads are left for the bot. Needs only the bot token (and "
        "telegram.base_url).",
    )
    group.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="give up after this long (default: wait until Ctrl-C)",
    )
    invite = _command(
        sub,
        "invite",
        "print a one-time enrolment code for a coordinator",
        "Print '/enroll CODE' for a new coordinator to send the bot privately. The code works "
        "once and expires after coordination.invite_ttl_hours. With teams configured, --team "
        "names the team(s) they join; without it a coordinator joins the default team and a "
        "lead leads every team.",
    )
    invite.add_argument("--role", choices=("coordinator", "lead"), default="coordinator")
    invite.add_argument(
        "--team",
        action="append",
        default=[],
        metavar="NAME",
        help="a team from [[coordination.teams]] (may be repeated); a lead leads it",
    )

    revoke = _command(
        sub,
        "revoke",
        "remove a coordinator; their key opens nothing any more",
        "Remove a coordinator and destroy their sealed copies of case keys, so their key opens "
        "no case even with the passphrase. The running bot treats them as a stranger from "
        "their next message.",
    )
    revoke.add_argument("handle", help="the coordinator's name, e.g. C-7K3Q")

    verify = _command(
        sub,
        "verify-audit",
        "check the audit log's hash chain",
        "Check that the audit log's hash chain is intact, and with --head that it still holds "
        "the heads the bot posted to the coordinators' group (which a rewritten log cannot).",
    )
    verify.add_argument(
        "--head",
        action="append",
        default=[],
        metavar="SEQ:HASH",
        help="an audit head posted to the coordinators' group; the log must still contain it "
        "(catches a cut or rewritten log); may be repeated",
    )
    _command(
        sub,
        "rotate-key",
        "rewrap everything under the new master key (rerun to finish an interrupted run)",
        "Rewrap every draft key and sealed record from the old master key (in "
        "security.previous_master_key_files) to the current one, one row at a time. Run it "
        "again if it is interrupted; remove the old key once it reports completion.",
    )
    _command(
        sub,
        "health",
        "exit 0 if the database and the Telegram link are fine",
        "The container's health check: the database opens, its schema is current, and the "
        "bot reached Telegram in the last few minutes. Exit 0 if so, 1 if not.",
    )
    _command(
        sub,
        "purge",
        "run the retention rules once (shred what has expired)",
        "Run one retention round now, as the bot does every ten minutes: expired drafts and "
        "cases are shredded, the outbox and spent invites pruned, the write-ahead log "
        "checkpointed.",
    )
    backup = _command(
        sub,
        "backup",
        "write a consistent copy of the database, bot running",
        "Write a consistent copy of the database while the bot runs. The copy holds only "
        "ciphertext; keep it away from the master key.",
    )
    backup.add_argument("path", type=Path, help="where to write the copy (must not exist)")

    restore = _command(
        sub,
        "restore",
        "put a backup in place of the database (bot stopped)",
        "Put a backup in place of the database; stop the bot first. A damaged backup, one "
        "from a newer version or one made under another master key is refused; an existing "
        "database is replaced only with --force.",
    )
    restore.add_argument("path", type=Path, help="the backup file")
    restore.add_argument("--force", action="store_true", help="replace an existing database")

    rkeygen = _command(
        sub,
        "recovery-keygen",
        "OFFLINE: make the organisation's recovery key pair",
        "Make the recovery key pair on a machine that is not the server: the private half goes "
        "to --out (a USB stick kept safe), the public half is printed for "
        "security.recovery_public_key. Every submitted case is sealed to it.",
        config=False,
    )
    rkeygen.add_argument("--out", type=Path, required=True, help="file for the private half")

    recover = _command(
        sub,
        "recover",
        "OFFLINE: read a case, or grant every case to a coordinator, with the recovery key",
        "Work on a copy of the database (a backup) with the recovery key's private half, away "
        "from the server. 'show' prints one case; 'grant' writes a file of case keys sealed to "
        "one coordinator, for 'import-grants' on the server.",
        config=False,
    )
    steps = recover.add_subparsers(dest="step", required=True, metavar="STEP")
    show = _command(
        steps,
        "show",
        "print one case",
        "Print one case, opened with the recovery key, from a copy of the database.",
        config=False,
    )
    show.add_argument("code", help="the case code, e.g. K7QX")
    grant = _command(
        steps,
        "grant",
        "seal every case to one coordinator",
        "Seal the key of every case in a copy of the database to one coordinator, into a "
        "grants file to carry to the server for 'import-grants'. Only sealed copies go in it.",
        config=False,
    )
    grant.add_argument("handle", help="the coordinator's name, e.g. C-7K3Q")
    grant.add_argument("--out", type=Path, required=True, help="the grants file to write")
    for step in (show, grant):
        step.add_argument("--key", type=Path, required=True, help="the private half's file")
        step.add_argument("--database", type=Path, required=True, help="a copy of the database")
        step.add_argument(
            "--questionnaire", type=Path, help="the questionnaire, if not the default"
        )

    grants = _command(
        sub,
        "import-grants",
        "load a grants file made by 'recover grant' into the database",
        "Load the sealed case keys of a grants file made offline by 'recover grant', so the "
        "coordinator it names can open those cases.",
    )
    grants.add_argument("path", type=Path, help="the grants file")

    _command(
        sub,
        "keygen",
        "print a new master key alone on standard output",
        "Print a new random master key alone on standard output, to redirect into a file kept "
        "off the database's disk (python -m bot keygen > master_key). A file it is written to "
        "is made readable by its owner alone (mode 0600), or the key is refused.",
        config=False,
    )
    _command(
        sub,
        "demo",
        "try the bot in this terminal, with no Telegram and no setup",
        "Try the whole bot in this terminal: a local stand-in for Telegram, a throwaway master "
        "key and database, deleted when you type q.",
        config=False,
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # Whatever this process writes (database, WAL, backups, key files) is its owner's alone.
    os.umask(0o077)
    args = _parser().parse_args(argv)
    if args.command == "keygen":
        return _keygen()
    if args.command == "demo":
        from bot.demo import run_demo

        return run_demo()
    if args.command in ("recovery-keygen", "recover"):
        return _offline(args)
    try:
        if args.command == "check-config":
            return _check_config(_config_path(args.config))
        if args.command == "group-id":
            return _group_id(args.config, args.timeout)
        config = load_config(_config_path(args.config))
        if args.command != "health":  # the health check says FAIL in its own words
            _storage_ready(config)
        if args.command == "restore":
            return _restore(args.path, config, force=args.force)
        if args.command == "verify-audit":
            args.posted = _posted_heads(args.head)
        if args.command in OPERATOR_COMMANDS:
            with _database_errors(config):
                return asyncio.run(_operator(args, config))
    except (ConfigError, HeadError) as exc:
        print(str(exc), file=sys.stderr)
        return 2
    return _run(config)


def _keygen() -> int:
    """The key on standard output; a file it lands in is made the owner's alone first, so
    ``keygen > master_key`` never leaves a key others on the machine can read."""
    try:
        mode = os.fstat(sys.stdout.fileno()).st_mode
    except (OSError, ValueError):
        mode = 0
    if stat.S_ISREG(mode) and mode & 0o077:
        try:
            os.fchmod(sys.stdout.fileno(), 0o600)
        except OSError as exc:
            print(
                f"error: the file the key would go to can be read by others (mode "
                f"{stat.S_IMODE(mode):04o}) and cannot be made private ({exc.strerror}); "
                "write it to a new file of your own",
                file=sys.stderr,
            )
            return 2
    print(MasterKey.generate().to_text())
    return 0


def _check_config(path: Path) -> int:
    """Every problem at once, one line each: the config and its secrets, the questionnaire and
    the teams' routes, the database's folder, and the master key against an existing
    database."""
    from bot.intake.questionnaire import QuestionnaireError, load_questionnaire

    config, problems = check_config(path)
    if config is not None:
        try:
            questionnaire = load_questionnaire(
                config.intake.questionnaire, languages=list(config.intake.languages)
            )
        except QuestionnaireError as exc:
            problems.append(str(ConfigError(str(exc))))
        else:
            problems.extend(route_problems(config.coordination, questionnaire))
        sound = not problems  # else a secret may be a stand-in: no key to check the file with
        storage = storage_problems(config)
        problems.extend(storage)
        if sound and not storage:
            try:
                database = _database_key_line(config)
            except ConfigError as exc:
                problems.append(str(exc))
    if problems:
        for line in problems:
            print(line, file=sys.stderr)
        return 2
    if config is None:  # no problem yet no config: cannot happen, said rather than assumed
        print("config error: config: not loaded", file=sys.stderr)
        return 2
    for line in config.describe():
        print(line)
    print(f"database: {database}")
    print("config ok")
    return 0


def _storage_ready(config: Config) -> None:
    """The database's folder is there and writable, or the one line that says what to fix."""
    problems = storage_problems(config)
    if problems:
        raise ConfigError(problems[0])


@contextlib.contextmanager
def _database_errors(config: Config) -> Iterator[None]:
    """A database or file-system failure the checks before could not foresee (a damaged file,
    a disk gone read-only meanwhile) as one line naming ``storage.database``."""
    try:
        yield
    except (sqlite3.Error, OSError) as exc:
        raise ConfigError(_database_problem(config, exc)) from None


def _database_problem(config: Config, exc: BaseException) -> str:
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return (
        f"storage.database: {config.storage.database} cannot be opened or written "
        f"({type(exc).__name__}: {reason})"
    )


def _group_id(value: str | None, timeout: float | None) -> int:
    from bot.ops.group_id import GroupIdError, wait_for_group

    path: Path | None = _config_path(value)
    if value is None and not os.environ.get("BOT_CONFIG") and not Path(DEFAULT_CONFIG).exists():
        path = None  # no config yet (the group's id is what it lacks): the token from BOT_TOKEN*
    telegram = load_telegram(path)

    async def go() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        found = await wait_for_group(
            telegram.token.get_secret_value(),
            telegram.base_url,
            stop=stop,
            give_up_after=timeout,
            ready=lambda: print(
                "waiting: add the bot to your coordinators' group in Telegram (Ctrl-C to give up)",
                file=sys.stderr,
                flush=True,
            ),
        )
        if found is None:
            print("error: no group added the bot; nothing found", file=sys.stderr)
            return 1
        print(found.chat_id)
        print(found.advice(), file=sys.stderr)
        return 0

    try:
        return eventloop.run(go())
    except GroupIdError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - one line, no traceback with the token in it
        refused = _refusal(exc, None)
        if refused is not None:
            print(str(refused), file=sys.stderr)
            return 2
        print(f"error: group-id stopped: {_why(exc, telegram.base_url)}", file=sys.stderr)
        return 1


def _database_key_line(config: Config) -> str:
    """``check-config``'s word on the master key: the database is only read (never created nor
    migrated), and a key that is not its key is the one-line ``ConfigError``."""
    from bot.ops.keycheck import check_database_file, describe, key_name, vault_for

    path = config.storage.database
    try:
        check = asyncio.run(check_database_file(path, vault_for(config), name=key_name(config)))
    except sqlite3.Error as exc:
        raise ConfigError(
            f"storage.database: {path} cannot be read as a database ({type(exc).__name__})"
        ) from None
    if check is None:
        return f"{path} does not exist yet; the first start creates it under this master key"
    return describe(check)


def _posted_heads(values: Sequence[str]) -> list[tuple[int, str]]:
    from bot.coordination.audit import parse_head

    heads: list[tuple[int, str]] = []
    for value in values:
        try:
            heads.append(parse_head(value))
        except ValueError as exc:
            raise HeadError(f"error: --head {value}: {exc}") from None
    return heads


class HeadError(Exception):
    """A ``--head`` value that is not a posted head: one line, exit status 2."""


async def _operator(args: argparse.Namespace, config: Config) -> int:
    """The commands an operator runs beside the bot, on the same database."""
    from bot.ops.keycheck import ensure_master_key, key_name
    from bot.runtime import open_services

    configure_logging(level="WARNING", fmt=config.logging.format)
    if args.command == "rotate-key" and not config.security.previous_master_keys:
        # With no old key there is nothing to move: saying "rotation complete" here would tell
        # an operator who forgot the old key's file that it may now be destroyed.
        print(
            "nothing to rotate: set security.previous_master_key_files to the old key's file",
            file=sys.stderr,
        )
        return 1
    if args.command == "health":
        from bot.ops.health import check_health

        health = await check_health(config, now=time.time())
        print("\n".join(health.lines))
        return health.exit_code
    async with open_services(config) as services:
        # Before anything reads under the key: a wrong key must be named as such, not surface
        # later as drafts that do not open or an audit chain that looks tampered with.
        await ensure_master_key(services.db, services.vault, name=key_name(config))
        if args.command == "purge":
            from bot.ops.retention import purge_once

            purged = await purge_once(services)
            print(
                f"drafts {purged.drafts}, cases {purged.cases}, outbox {purged.outbox}, "
                f"invites {purged.invites} removed; WAL checkpointed: {purged.checkpointed}"
            )
            return 0
        if args.command == "backup":
            from bot.ops.backup import backup_database

            try:
                made = await backup_database(services.db, args.path)
            except FileExistsError:
                print(f"error: {args.path} exists; choose a new name", file=sys.stderr)
                return 1
            except (OSError, sqlite3.Error) as exc:
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
                print(f"error: cannot write the backup to {args.path}: {reason}", file=sys.stderr)
                return 1
            print(f"backup written: {made.path} ({made.size_bytes} bytes, {made.cases} cases)")
            return 0
        if args.command == "import-grants":
            from bot.ops.recovery import Grants, RecoveryError, import_grants

            try:
                text = args.path.read_text(encoding="utf-8")
                added = await import_grants(
                    services.db,
                    Grants.load(text),
                    vault=services.vault,
                    now=int(services.intake.clock()),
                )
            except (OSError, UnicodeDecodeError):
                print(f"error: cannot read {args.path}", file=sys.stderr)
                return 1
            except RecoveryError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 1
            print(f"{added} case key(s) now sealed to the coordinator")
            return 0
        if args.command == "rotate-key":
            from bot.ops.rotation import rotate

            security = config.security
            done = await rotate(services.db, security.master_key, security.previous_master_keys)
            print("\n".join(done.lines()))
            return 0 if done.ok else 1
        coordination = services.coordination
        if args.command == "invite":
            try:
                code = await coordination.create_invite(args.role, tuple(args.team))
            except ValueError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
            hours = config.coordination.invite_ttl_hours
            teams = coordination.teams.membership(frozenset(args.team), args.role)
            joins = (
                f" Team(s): {', '.join(sorted(teams)).replace('*', 'every team')}." if teams else ""
            )
            print(f"/enroll {code}")
            print(
                f"One use, valid {hours} hours. Send it to the new {args.role} privately.{joins}",
                file=sys.stderr,
            )
            return 0
        if args.command == "revoke":
            removed = await coordination.revoke(args.handle.upper())
            if removed is None:
                print(f"error: no active coordinator {args.handle}", file=sys.stderr)
                return 1
            print(f"{args.handle.upper()} revoked; {removed} sealed case key(s) destroyed")
            return 0
        from bot.ops.rotation import verify_audit_log

        keys = (config.security.master_key, *config.security.previous_master_keys)
        report = await verify_audit_log(services.db.conn, keys, posted=args.posted)
        if report.ok:
            held = f"; it contains the {report.heads} posted head(s) given" if report.heads else ""
            print(f"audit chain intact: {report.checked} entries{held}")
            return 0
        print(f"audit chain BROKEN: {report.problem}", file=sys.stderr)
        return 1


async def _ensure_key(config: Config) -> None:
    """Open (create, migrate) the database and hold it to the master key before the bot starts:
    a fresh database gets its key check value here, a wrong key stops start-up in one line."""
    from bot.ops.keycheck import ensure_master_key, key_name, vault_for
    from bot.store import open_database

    db = await open_database(config.storage.database)
    try:
        await ensure_master_key(db, vault_for(config), name=key_name(config))
    finally:
        await db.close()


def _offline(args: argparse.Namespace) -> int:
    """The recovery key's commands: no config, no server, nothing but files."""
    from bot.crypto import load_recovery_key, new_recovery_key
    from bot.ops.recovery import RecoveryError

    if args.command == "recovery-keygen":
        private, public = new_recovery_key()
        if not _write_new(args.out, private + "\n", "a recovery key is never overwritten"):
            return 1
        print(f'recovery_public_key = "{public}"')
        print(
            f"The private half is in {args.out}: keep it offline, never on the server. "
            "Put the line above in [security] of the server's config.",
            file=sys.stderr,
        )
        return 0
    try:
        key = load_recovery_key(args.key.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        print(f"error: cannot read the recovery key from {args.key}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"error: {args.key} {exc}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_recover(args, key))
    except RecoveryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (sqlite3.Error, OSError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        print(
            f"error: --database {args.database} cannot be read as the bot's database "
            f"({type(exc).__name__}: {reason})",
            file=sys.stderr,
        )
        return 2


def _write_new(path: Path, text: str, if_exists: str) -> bool:
    """Write a file only its owner can read, never over an existing one; False (said in one
    line) if it cannot be."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        print(f"error: {path} exists; {if_exists}", file=sys.stderr)
        return False
    except OSError as exc:
        print(f"error: cannot write {path}: {exc.strerror}", file=sys.stderr)
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    return True


async def _recover(args: argparse.Namespace, key: UnlockedKey) -> int:
    from bot.i18n import Catalog
    from bot.intake.questionnaire import load_questionnaire
    from bot.ops.recovery import grant_all, show_case

    if args.step == "show":
        questionnaire = load_questionnaire(args.questionnaire, languages=["en"])
        print(
            await show_case(
                args.database, key, args.code, questionnaire=questionnaire, catalog=Catalog()
            )
        )
        return 0
    grants = await grant_all(args.database, key, args.handle)
    if not _write_new(args.out, grants.dump(), "choose a new name"):
        return 1
    print(
        f"{len(grants.copies)} case key(s) sealed to {grants.handle} in {args.out}; on the "
        f"server: python -m bot import-grants {args.out.name}"
    )
    return 0


def _restore(backup: Path, config: Config, *, force: bool) -> int:
    from bot.ops.backup import RestoreRefused, check_backup, restore_database
    from bot.ops.keycheck import check_database_file, key_name, vault_for

    database = config.storage.database
    try:
        check_backup(backup)
        # A backup made under another master key would put a database the configured key does
        # not open in place of one it does: refuse it (ConfigError) before anything is replaced.
        key = vault_for(config)
        asyncio.run(check_database_file(backup, key, name=key_name(config), immutable=True))
        if not force and _database_present(database):
            raise RestoreRefused(f"{database} exists; add --force to replace it")
        restore_database(backup, database, force=force)
    except RestoreRefused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"restored {backup} to {database}")
    return 0


def _database_present(database: Path) -> bool:
    """The database, or what SQLite leaves beside it, is there: a restore would replace it."""
    return any(Path(f"{database}{suffix}").exists() for suffix in ("", "-wal", "-shm", "-journal"))


class StartRefused(Exception):
    """Telegram turned the bot away at start: one line naming the setting to fix."""


def _refusal(exc: BaseException, config: Config | None) -> StartRefused | None:
    """The one line for a token or an address the Bot API server refuses at start.

    python-telegram-bot reports both 401 and 404 as ``InvalidToken``; its own message carries the
    token, so only Telegram's answer (the cause) is read, and never printed whole."""
    from telegram.error import InvalidToken

    if not isinstance(exc, InvalidToken):
        return None
    cause = exc.__cause__ if isinstance(exc.__cause__, InvalidToken) else exc
    if "not found" in cause.message.casefold():
        return StartRefused(
            "config error: telegram.base_url: the Bot API server answered Not Found "
            "(InvalidToken); check telegram.base_url, which ends in /bot"
        )
    source = config.secret_source("telegram.token") if config is not None else None
    where = f" (from {source})" if source else ""
    return StartRefused(
        f"config error: telegram.token{where}: Telegram refused this token (InvalidToken); "
        "check it with @BotFather"
    )


def _why(exc: BaseException, base_url: str) -> str:
    """The exception's type, and for a Bot API server out of reach, where to look: polling rides
    out network trouble once running, so this is the first call failing."""
    from urllib.parse import urlsplit

    from telegram.error import NetworkError

    name = type(exc).__name__
    if isinstance(exc, NetworkError):
        host = urlsplit(base_url).hostname or "telegram.base_url"
        return (
            f"cannot reach the Bot API server at {host} ({name}); check the network and "
            "telegram.base_url"
        )
    return name


def _run(config: Config) -> int:
    from bot.intake.questionnaire import QuestionnaireError
    from bot.runtime import open_runtime, serve

    configure_logging(level=config.logging.level, fmt=config.logging.format)
    log = get_logger("bot.cli")

    async def go() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        with _database_errors(config):
            await _ensure_key(config)
        async with open_runtime(config) as runtime:
            try:
                await serve(runtime, stop)
            except Exception as exc:
                refused = _refusal(exc, config)
                if refused is not None:
                    raise refused from None
                raise
            finally:
                # When the first call (getMe) fails, the Application never counts as started and
                # leaves its bot's HTTP sessions open, which asyncio then reports at exit. This
                # is a no-op after a clean stop.
                await runtime.app.bot.shutdown()

    try:
        eventloop.run(go())
    except (QuestionnaireError, ConfigError, StartRefused) as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - one line, no traceback with values in it
        log.error("bot_crashed", error=type(exc).__name__)
        why = (
            _database_problem(config, exc)
            if isinstance(exc, sqlite3.Error)
            else _why(exc, config.telegram.base_url)
        )
        print(f"error: the bot stopped: {why}", file=sys.stderr)
        return 1
    return 0
