"""The append-only audit log as a hash chain: each entry's hash is a keyed MAC over its own
fields and the previous entry's hash.

Editing, forging, reordering or removing an entry breaks the chain at that entry, and since the
MAC key lives in the crypto layer (passed in here as ``mac``), someone with only the database
cannot rebuild a consistent chain. One change the chain cannot show on its own is removing the
newest entries: what remains is still a valid, shorter chain. To catch that, the caller keeps the
head (last seq, last hash) somewhere the log's rows are not, and passes it to ``verify_chain``.

A head kept beside the log (the ``audit_head`` row) falls with the log: whoever can drop the
triggers can rewrite it too, and whoever also holds the MAC key can rewrite and re-MAC entries.
So the bot also posts the head off the server, to the coordinators' group; ``check_posted_heads``
holds the log to every head posted. An entry's hash is a MAC over its fields and the previous
hash, so a posted (seq, hash) pins that entry and, link by link, every entry before it: a key
holder cannot make a different history end in the same hash without breaking HMAC-SHA256.

Entries hold no case content: an actor is a coordinator's public handle or ``operator`` or
``system``, an action is one word from ``AUDIT_ACTIONS``, and a case appears only by its code.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.coordination.words import Words

GENESIS = "0" * 64
MAC_BYTES = 32

AUDIT_ACTIONS: frozenset[str] = frozenset(
    {
        "enrolled",
        "unlocked",
        "unlock_failed",
        "locked",
        "claimed",
        "released",
        "reassigned",
        "shown",
        "noted",
        "asked",
        "answered",
        "unanswered",
        "flagged",
        "checked",
        "unchecked",
        "approved",
        "approval_pending",
        "rejected",
        "handed_off",
        "closed",
        "purged",
        "granted",
        "imported",
        "transferred",
        "revoked",
        "invited",
        "submitted",
        "sealed",
        "shredded",
        "checkin_armed",
        "checkin_off",
        "checkin_missed",
        "checkin_needs_help",
        "checkin_late",
        "account_changed",
    }
)

# Short ASCII tokens only, so nothing a person wrote can ride along in an actor or a case code.
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")
_HASH = re.compile(r"[0-9a-f]{64}")

Mac = Callable[[bytes], bytes]


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: int
    actor: str
    action: str
    case_code: str | None
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class ChainReport:
    """``checked`` counts the entries that verified before the first problem (all, if ok);
    ``seq`` is where the chain broke; ``heads`` counts the posted heads the log was held to."""

    ok: bool
    checked: int
    problem: str | None
    seq: int | None
    heads: int = 0


def entry_payload(
    seq: int, at: int, actor: str, action: str, case_code: str | None, prev_hash: str
) -> bytes:
    """One byte string per entry and one entry per byte string: JSON with sorted keys, fixed
    separators and ASCII escapes, so no choice of field values can collide with another."""
    fields = {
        "v": 1,
        "seq": seq,
        "at": at,
        "actor": actor,
        "action": action,
        "case": case_code,
        "prev": prev_hash,
    }
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode(
        "ascii"
    )


def seal_entry(
    *,
    seq: int,
    at: int,
    actor: str,
    action: str,
    case_code: str | None,
    prev_hash: str,
    mac: Mac,
) -> AuditEntry:
    """A new entry linked to ``prev_hash``; raises ValueError for anything that is not an audit
    record (an unknown action, free text as an actor or code, a malformed link)."""
    if action not in AUDIT_ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
        raise ValueError("audit seq must be a positive integer")
    if isinstance(at, bool) or not isinstance(at, int) or at < 0:
        raise ValueError("audit time must be a non-negative integer")
    if not _TOKEN.fullmatch(actor):
        raise ValueError("audit actor must be a handle, 'operator' or 'system'")
    if case_code is not None and not _TOKEN.fullmatch(case_code):
        raise ValueError("audit case code must be a short code")
    if not _HASH.fullmatch(prev_hash):
        raise ValueError("audit prev_hash must be 64 lower-case hex digits")
    payload = entry_payload(seq, at, actor, action, case_code, prev_hash)
    return AuditEntry(seq, at, actor, action, case_code, prev_hash, _digest(mac, payload))


# Actors that are not a coordinator's handle, named in the reader's language (``actor_<name>``).
OTHER_TEAM = "other_team"
"""The actor a team's lead reads in place of another team's person: they do not exist for them."""

_NAMED_ACTORS: frozenset[str] = frozenset({"operator", "system", OTHER_TEAM})


@dataclass(frozen=True)
class ViewedEntry:
    """An entry as a team's lead reads it: ``number`` counts only the entries they may see, so
    neither the numbers nor their gaps tell how busy the other teams are."""

    number: int
    at: int
    actor: str
    action: str
    case_code: str | None


def team_view(
    entries: Sequence[tuple[int, int, str, str, str | None]],
    *,
    case_seen: Mapping[str, bool],
    person_known: Mapping[str, bool],
) -> list[ViewedEntry]:
    """The part of the log (oldest first, as ``(seq, at, actor, action, case)``) that a team's
    lead may read, numbered from 1 in their own view.

    An entry about a case is theirs if the case is (``case_seen``), whoever wrote it; anyone in
    it who is not one of their teams' people (``person_known``) reads as ``OTHER_TEAM``, since a
    case that once visited another team must not name that team's people. An entry about no
    case is theirs only if its actor is one of their people: ``system`` and ``operator`` entries
    about no case (submissions, answers, invitations) count every team's activity."""
    shown: list[ViewedEntry] = []
    for _seq, at, actor, action, code in entries:
        known = person_known.get(actor, False)
        if code is not None:
            if not case_seen.get(code, False):
                continue
            named = actor in _NAMED_ACTORS or known
            who = actor if named else OTHER_TEAM
        elif known and actor not in _NAMED_ACTORS:
            who = actor
        else:
            continue
        shown.append(ViewedEntry(len(shown) + 1, at, who, action, code))
    return shown


def entry_line(
    *, seq: int, at: int, actor: str, action: str, case_code: str | None, words: Words
) -> str:
    """One entry as ``/audit`` lists it, in ``words``' language: the action (``audit_<action>``)
    and a named actor are words to translate; a handle and a case code are shown as they are,
    since they are what the group and the other coordinators quote. The time is kept to the
    day, as the log's readers need no more."""
    when = datetime.fromtimestamp(at, UTC)
    return words(
        "audit_line",
        seq=seq,
        year=when.year,
        month=when.month,
        day=when.day,
        actor=words(f"actor_{actor}") if actor in _NAMED_ACTORS else actor,
        action=words(f"audit_{action}") if action in AUDIT_ACTIONS else action,
        code=case_code or "",
    ).rstrip()


def verify_chain(
    entries: Sequence[AuditEntry],
    mac: Mac,
    *,
    start: tuple[int, str] | None = None,
    head: tuple[int, str] | None = None,
) -> ChainReport:
    """Walk the chain in the order given and stop at the first problem.

    ``start`` is (first seq, its prev_hash) for a log whose oldest entries were pruned; without
    it the log must begin at seq 1 linked to ``GENESIS``. ``head`` is (last seq, last hash) as
    recorded outside the log; with it, entries removed from the end are found too.
    """
    first_seq, prev_hash = start if start is not None else (1, GENESIS)
    expected = first_seq
    present = {entry.seq for entry in entries}
    for checked, entry in enumerate(entries):
        problem = _seq_problem(entry.seq, expected, present)
        if problem is None and not _same(entry.prev_hash, prev_hash):
            problem = f"entry {expected} does not link to the entry before it (prev_hash mismatch)"
        if problem is None:
            payload = entry_payload(
                entry.seq, entry.at, entry.actor, entry.action, entry.case_code, entry.prev_hash
            )
            if not _same(entry.hash, _digest(mac, payload)):
                problem = f"entry {expected} does not match its hash (edited or forged)"
        if problem is not None:
            return ChainReport(ok=False, checked=checked, problem=problem, seq=expected)
        prev_hash = entry.hash
        expected += 1
    if head is not None:
        broken = _head_problem(head, expected - 1, prev_hash)
        if broken is not None:
            problem, seq = broken
            return ChainReport(ok=False, checked=len(entries), problem=problem, seq=seq)
    return ChainReport(ok=True, checked=len(entries), problem=None, seq=None)


def check_posted_heads(
    entries: Sequence[AuditEntry], posted: Sequence[tuple[int, str]]
) -> ChainReport | None:
    """Hold a log to heads posted off the server: None if every one is in it, else the problem.

    Each posted (seq, hash) must be an entry of the log with that very hash, and the entries from
    1 up to it must link (each ``prev_hash`` the hash before it). Entries removed behind a posted
    head, or any entry at or before it rewritten (re-MACed or not), fail here. MACs are not
    recomputed here: ``verify_chain`` does that for the log, and a rotation anchor for entries
    made under a key no longer held, which is why the links are walked here from ``GENESIS``.
    """
    if not posted:
        return None
    by_seq = {entry.seq: entry for entry in entries}
    last = max(by_seq, default=0)
    for seq, hash_hex in sorted(set(posted)):
        entry = by_seq.get(seq)
        if entry is None:
            problem = (
                f"entry {seq} of the posted head is missing (the log ends at {last}): "
                "entries were removed"
            )
            return ChainReport(ok=False, checked=0, problem=problem, seq=seq)
        if not _same(entry.hash, hash_hex):
            problem = f"entry {seq} does not match the posted head: the log was rewritten"
            return ChainReport(ok=False, checked=0, problem=problem, seq=seq)
    prev_hash = GENESIS
    furthest = max(seq for seq, _ in posted)
    for seq in range(1, furthest + 1):
        entry = by_seq.get(seq)
        if entry is None:
            problem = f"entry {seq}, behind a posted head, is missing"
            return ChainReport(ok=False, checked=seq - 1, problem=problem, seq=seq)
        if not _same(entry.prev_hash, prev_hash):
            problem = f"entry {seq}, behind a posted head, does not link to the entry before it"
            return ChainReport(ok=False, checked=seq - 1, problem=problem, seq=seq)
        prev_hash = entry.hash
    return None


def format_head(seq: int, hash_hex: str) -> str:
    """The ``SEQ:HASH`` form that ``verify-audit --head`` takes back."""
    return f"{seq}:{hash_hex}"


def parse_head(text: str) -> tuple[int, str]:
    """``SEQ:HASH`` (as posted; a leading ``#`` and upper-case hex are accepted) to (seq, hash).

    Raises ValueError saying what is wrong, for a one-line refusal: a head mistyped from a chat
    must not be taken as some other head, nor silently skipped.
    """
    seq_text, sep, hash_text = text.strip().removeprefix("#").partition(":")
    if not sep:
        raise ValueError("must be SEQ:HASH, as the posted audit head gives it")
    if not seq_text.isascii() or not seq_text.isdigit() or int(seq_text) < 1:
        raise ValueError("the sequence number must be a positive whole number")
    hash_hex = hash_text.strip().lower()
    if not _HASH.fullmatch(hash_hex):
        raise ValueError("the hash must be 64 hexadecimal digits")
    return int(seq_text), hash_hex


def _seq_problem(seq: int, expected: int, present: set[int]) -> str | None:
    if seq == expected:
        return None
    if seq < expected:
        return f"entry {seq} appears again where entry {expected} should be"
    if expected not in present:
        return f"entry {expected} is missing (entry {seq} comes next)"
    return f"entry {expected} is out of order (entry {seq} is in its place)"


def _head_problem(head: tuple[int, str], last_seq: int, last_hash: str) -> tuple[str, int] | None:
    head_seq, head_hash = head
    if last_seq < head_seq:
        first_missing = last_seq + 1
        if first_missing == head_seq:
            return f"entry {head_seq} is missing (the log ends at {last_seq})", head_seq
        return (
            f"entries {first_missing} to {head_seq} are missing (the log ends at {last_seq})",
            first_missing,
        )
    if last_seq > head_seq:
        first_extra = head_seq + 1
        if first_extra == last_seq:
            return f"entry {first_extra} goes past the recorded head at {head_seq}", first_extra
        return (
            f"entries {first_extra} to {last_seq} go past the recorded head at {head_seq}",
            first_extra,
        )
    if not _same(last_hash, head_hash):
        return f"entry {head_seq} does not match the recorded head hash", head_seq
    return None


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def _digest(mac: Mac, payload: bytes) -> str:
    digest = mac(payload)
    if len(digest) != MAC_BYTES:
        raise ValueError(f"audit mac must return {MAC_BYTES} bytes")
    return digest.hex()
