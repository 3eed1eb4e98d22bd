"""Put one mutation at a time into a security line and see which tests catch it.

Each mutation finds its line by an exact snippet of source (never a line number) and stops the
run, loudly, if the snippet is gone or appears more than once: the code moved, and the listed
mutation must be written again against the new code before its result means anything. The file
is put back byte for byte after each run, whatever happens.

    .venv/bin/python tools/mutate.py                   # every listed mutation
    .venv/bin/python tools/mutate.py relay_digest ...  # only these
    .venv/bin/python tools/mutate.py --list

A mutation is caught when at least one of its tests fails; the report names those tests. Before
any mutation, the tests named are run once as they are: a test that already fails catches
nothing.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PER_RUN_SECONDS = 900
SHOWN = 3  # catching tests named in the report; the rest counted


@dataclass(frozen=True)
class Mutation:
    name: str
    path: str  # relative to the project's root
    edits: tuple[tuple[str, str], ...]  # (exact snippet, what it becomes); each found once
    tests: tuple[str, ...]  # pytest node ids or files that should catch it
    what: str


MUTATIONS: tuple[Mutation, ...] = (
    Mutation(
        "submission_checkpoint",
        "bot/services/intake.py",
        (
            (
                '        if not await self.db.checkpoint_or_retry():\n            log.warning("'
                'checkpoint_incomplete")\n        log.info("case_submitted", case_code=code)',
                '        log.info("case_submitted", case_code=code)',
            ),
        ),
        ("tests/test_submission_wal.py",),
        "no WAL checkpoint after a submission",
    ),
    Mutation(
        "outbox_body_unbound",
        "bot/services/outbox.py",
        (
            ('context=f"body:{row_id}"', 'context="body"'),
            ('context=f"body:{row.id}"', 'context="body"'),
        ),
        ("tests/test_outbox.py::test_blobs_swapped_between_rows_reach_nobody",),
        "an outbox body sealed without its row id",
    ),
    Mutation(
        "outbox_chat_unbound",
        "bot/services/outbox.py",
        (
            ('context=f"chat:{row_id}"', 'context="chat"'),
            ('context=f"chat:{row.id}"', 'context="chat"'),
        ),
        ("tests/test_outbox.py::test_blobs_swapped_between_rows_reach_nobody",),
        "an outbox chat id sealed without its row id",
    ),
    Mutation(
        "relay_digest",
        "bot/services/coordination/relay.py",
        (
            (
                'return self._digest(f"{pseudonym.hex()}:{token}", "relay")',
                'return self._digest(f"{token}", "relay")',
            ),
        ),
        ("tests/test_relay_recipient.py",),
        "a relay token's digest without the recipient's pseudonym",
    ),
    Mutation(
        "outbox_checkpoint",
        "bot/services/outbox.py",
        (
            (
                "if removed and not await self.db.checkpoint_or_retry():",
                "if False and not await self.db.checkpoint_or_retry():",
            ),
        ),
        (
            "tests/test_outbox.py::test_a_delivered_group_notice_leaves_no_copy_not_even_in_the_wal",
            "tests/test_outbox.py::test_a_message_refused_for_good_leaves_no_copy_not_even_in_the_wal",
        ),
        "no WAL checkpoint after the outbox removed a row",
    ),
    Mutation(
        "outbox_refusal_kept",
        "bot/services/outbox.py",
        (
            (
                "                    removed = True\n                    continue",
                "                    continue",
            ),
        ),
        (
            "tests/test_outbox.py::test_a_message_refused_for_good_leaves_no_copy_not_even_in_the_wal",
        ),
        "a refused message's row deleted but the WAL left as it is",
    ),
    Mutation(
        "outbox_no_expiry",
        "bot/services/outbox.py",
        (
            (
                "created_before=now - self.expiry_seconds",
                "created_before=0",
            ),
        ),
        ("tests/test_outbox.py::test_a_message_nobody_accepted_expires",),
        "outbox rows kept past their expiry",
    ),
    Mutation(
        "outbox_reads_uncommitted",
        "bot/services/outbox.py",
        (
            (
                "async with self.db.settled() as conn:",
                "async with contextlib.nullcontext(self.db.conn) as conn:",
            ),
        ),
        ("tests/test_outbox.py::test_a_message_is_not_sent_before_its_transaction_commits",),
        "the outbox reads messages not yet committed",
    ),
    Mutation(
        "checkpoint_not_retried",
        "bot/store/db.py",
        (
            (
                "        if self._retrying is None or self._retrying.done():\n"
                "            self._retrying = asyncio.create_task(self._retry_checkpoint())\n",
                "",
            ),
        ),
        ("tests/test_store.py::test_a_checkpoint_a_reader_holds_up_is_retried_until_done",),
        "a checkpoint a reader held up is left to the next retention round",
    ),
    Mutation(
        "secure_delete_off",
        "bot/store/db.py",
        (('"PRAGMA secure_delete = ON",', '"PRAGMA secure_delete = OFF",'),),
        ("tests/test_store.py::test_pragmas_are_set",),
        "freed pages keep deleted ciphertext",
    ),
    Mutation(
        "times_to_day",
        "bot/store/times.py",
        (("    return t - t % DAY\n", "    return t\n"),),
        (
            "tests/test_store_coordination.py::test_a_relay_is_open_until_answered",
            "tests/test_store_coordination.py::test_dropbox_is_set_once_and_inbox_keeps_every_item",
            "tests/test_store_coordination.py::test_work_rows_follow_state_flag_and_priority",
            "tests/test_retention.py::test_each_state_is_shredded_after_its_own_retention",
        ),
        "times beside a case kept to the second",
    ),
    Mutation(
        "times_to_hour",
        "bot/store/times.py",
        (("    return t - t % HOUR\n", "    return t\n"),),
        ("tests/test_store_coordination.py::test_outbox_round_trip",),
        "times beside a chat kept to the second",
    ),
    Mutation(
        "local_blob_unbound",
        "bot/crypto/vault.py",
        (
            (
                'self._current, plaintext, "local", purpose, ad=pack("local", purpose, context)',
                'self._current, plaintext, "local", purpose, ad=pack("local", purpose, "")',
            ),
            (
                'master, blob, "local", purpose, ad=pack("local", purpose, context)',
                'master, blob, "local", purpose, ad=pack("local", purpose, "")',
            ),
        ),
        ("tests/test_crypto.py", "tests/test_outbox.py"),
        "a record the bot seals for itself not bound to its row",
    ),
    Mutation(
        "case_field_unbound",
        "bot/crypto/case_key.py",
        (
            (
                'self._seal(plaintext, purpose="field", case_id=case_id, name=field)',
                'self._seal(plaintext, purpose="field", case_id=case_id, name="")',
            ),
            (
                'self._open(blob, purpose="field", case_id=case_id, name=field)',
                'self._open(blob, purpose="field", case_id=case_id, name="")',
            ),
        ),
        ("tests/test_crypto.py",),
        "a case field's ciphertext not bound to its field name",
    ),
    Mutation(
        "sealed_key_unbound",
        "bot/crypto/sealing.py",
        (
            (
                'return pack(LABEL, _HEADER, "seal", kind, context)',
                'return pack(LABEL, _HEADER, "seal", kind, "")',
            ),
        ),
        ("tests/test_crypto.py",),
        "a sealed case key not bound to its case",
    ),
    Mutation(
        "audit_hash_unchecked",
        "bot/coordination/audit.py",
        (
            (
                "            if not _same(entry.hash, _digest(mac, payload)):",
                "            if False:",
            ),
        ),
        (
            "tests/test_coordination_rules.py::test_an_edited_entry_is_found",
            "tests/test_coordination_rules.py::test_a_hash_forged_without_the_key_is_found",
        ),
        "an audit entry edited in place passes",
    ),
    Mutation(
        "audit_posted_head_unchecked",
        "bot/coordination/audit.py",
        (
            (
                "        if not _same(entry.hash, hash_hex):",
                "        if False:",
            ),
        ),
        ("tests/test_audit_head.py",),
        "a log rewritten behind a posted head passes",
    ),
    Mutation(
        "locked_key_allowed",
        "bot/coordination/access.py",
        (("    if rule.needs_unlock and not unlocked:", "    if False:"),),
        (
            "tests/test_coordination_rules.py::test_access_table",
            "tests/test_coordination_rules.py::test_spot_checks_read_from_the_design",
        ),
        "a command that needs an unlocked key runs while it is locked",
    ),
    Mutation(
        "log_keys_unfiltered",
        "bot/logs.py",
        (("        if key in ALLOWED_KEYS:", "        if True:"),),
        ("tests/test_logs.py",),
        "any field reaches the log",
    ),
    Mutation(
        "argon2_floor",
        "bot/config.py",
        (
            (
                "argon2_memory_kib: StrictInt = Field(default=65536, ge=65536,",
                "argon2_memory_kib: StrictInt = Field(default=65536, ge=1024,",
            ),
        ),
        ("tests/test_config.py",),
        "a config may set Argon2id below RFC 9106's second recommendation",
    ),
    Mutation(
        "receipt_hash_without_code",
        "bot/services/intake.py",
        (
            (
                'return self.vault.mac(f"{code}-{secret}".encode(), purpose="receipt").hex()',
                'return self.vault.mac(f"{secret}".encode(), purpose="receipt").hex()',
            ),
        ),
        ("tests/test_receipt_binding.py",),
        "a receipt's hash that would vouch for another case's code",
    ),
    Mutation(
        "test_database_left_open",
        "tests/databases.py",
        (("    finally:\n        await db.close()\n", "    finally:\n        pass\n"),),
        ("tests/test_failing_fast.py::test_a_failing_database_test_ends_the_run",),
        "a test's database not closed when the test fails",
    ),
    Mutation(
        "chat_row_named_by_pseudonym",
        "bot/services/intake.py",
        (
            (
                "        return _Chat(account, key, key.row_name(account))",
                "        return _Chat(account, key, self.vault.pseudonym(account))",
            ),
        ),
        (
            "tests/test_seizure.py::test_no_account_is_told_apart_from_one_that_never_wrote",
            "tests/test_seizure.py::test_one_account_in_two_databases_leaves_nothing_another"
            "_account_lacks",
        ),
        "a chat's row named by the account's master-derived pseudonym, not under its own key",
    ),
    Mutation(
        "fields_unpadded",
        "bot/crypto/case_key.py",
        (("FIELD_BUCKET = 256", "FIELD_BUCKET = 1"),),
        ("tests/test_seizure.py::test_no_stored_length_says_what_was_chosen",),
        "a case field sealed at its own length, which says the option and the id's digits",
    ),
    Mutation(
        "erase_throttled",
        "bot/transport/applicant.py",
        (("        if _erases(event):", "        if False:"),),
        ("tests/test_e2e_erasing.py::test_delete_right_after_a_flood_erases_everything",),
        "/delete counted by the flood limit, and dropped right after a flood",
    ),
)


class SnippetGone(Exception):
    pass


def _source(mutation: Mutation) -> str:
    path = ROOT / mutation.path
    if not path.is_file():
        raise SnippetGone(
            f"{mutation.name}: {mutation.path} is gone. The code moved; write the mutation again."
        )
    return path.read_text(encoding="utf-8")


def _apply(mutation: Mutation, source: str) -> str:
    for old, new in mutation.edits:
        found = source.count(old)
        if found != 1:
            raise SnippetGone(
                f"{mutation.name}: {mutation.path} holds the snippet {found} times, not once: "
                f"{old!r}. The code moved; write the mutation again."
            )
        source = source.replace(old, new)
    return source


_FAILED = re.compile(r"^(?:FAILED|ERROR) (\S+)", re.MULTILINE)


def _pytest(tests: Sequence[str]) -> tuple[int, list[str], float]:
    started = time.monotonic()
    done = subprocess.run(  # noqa: S603 - our own interpreter, our own test ids
        [sys.executable, "-m", "pytest", "-q", "-rfE", "-p", "no:cacheprovider", *tests],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=PER_RUN_SECONDS,
        check=False,
    )
    failed = sorted(set(_FAILED.findall(done.stdout)))
    return done.returncode, failed, time.monotonic() - started


def _revision() -> str:
    """The commit the mutations were made against, and whether the tree had other changes."""
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607 - git from the PATH
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return f"{head or 'no commit'}{' with uncommitted changes' if dirty else ''}"


def run(mutations: Sequence[Mutation], out: Path | None) -> int:
    # Every snippet first: a stale mutation stops the run before anything is changed.
    for mutation in mutations:
        _apply(mutation, _source(mutation))
    targets = sorted({t for m in mutations for t in m.tests})
    code, failed, took = _pytest(targets)
    if code != 0:
        print(f"the tests fail before any mutation: {failed or code}", file=sys.stderr)
        return 2
    print(f"baseline: {len(targets)} targets pass ({took:.0f} s)", file=sys.stderr)
    lines = [
        "| mutation | file | what it breaks | caught | by | s |",
        "|---|---|---|---|---|---|",
    ]
    survivors = 0
    for mutation in mutations:
        path = ROOT / mutation.path
        original = path.read_bytes()
        try:
            path.write_text(_apply(mutation, original.decode("utf-8")), encoding="utf-8")
            code, failed, took = _pytest(mutation.tests)
        finally:
            path.write_bytes(original)
        caught = code != 0
        survivors += not caught
        by = ", ".join(failed[:SHOWN]) if failed else (f"(exit {code})" if caught else "")
        if len(failed) > SHOWN:
            by += f" and {len(failed) - SHOWN} more"
        row = f"| {mutation.name} | {mutation.path} | {mutation.what} | "
        lines.append(row + f"{'yes' if caught else 'NO'} | {by} | {took:.0f} |")
        print(lines[-1], file=sys.stderr)
    summary = f"{len(mutations) - survivors} of {len(mutations)} caught, on {_revision()}."
    report = "\n".join(lines) + f"\n\n{summary}\n"
    print(report)
    if out is not None:
        out.write_text(report, encoding="utf-8")
    return 1 if survivors else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="only these mutations")
    parser.add_argument("--list", action="store_true", help="list the mutations and stop")
    parser.add_argument("--report", type=Path, help="also write the report here")
    args = parser.parse_args(argv)
    by_name = {m.name: m for m in MUTATIONS}
    if args.list:
        for m in MUTATIONS:
            print(f"{m.name}: {m.path}: {m.what}")
        return 0
    unknown = [n for n in args.names if n not in by_name]
    if unknown:
        parser.error(f"no such mutation: {', '.join(unknown)}")
    chosen = [by_name[n] for n in args.names] if args.names else list(MUTATIONS)
    try:
        return run(chosen, args.report)
    except SnippetGone as gone:
        print(gone, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
