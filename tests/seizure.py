"""The seizer's toolkit: what someone who takes the server does with what they took.

They hold every copy of the database (files pulled while the bot ran, backups), the config and
the master key. Nothing here knows what the bot means to keep secret: every table of every copy
is read, every key the master key gives is tried on every blob, and whatever can be joined is
joined. The seizure suite (``tests/test_seizure.py``) composes these functions and fails on what
they find.

Only the bot's public crypto API is used (``Vault``, ``CaseKey``, ``open_case_dropbox``,
``wrapped_key_id``); tables and columns are discovered from each copy, so a schema that grows new
tables is attacked as well.
"""

from __future__ import annotations

import itertools
import json
import re
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bot.crypto import CaseKey, CryptoError, Vault, open_case_dropbox, wrapped_key_id
from bot.ops.backup import backup_database
from bot.store import Database

BOT_SOURCE = Path(__file__).resolve().parent.parent / "bot"
SIDE_FILES = ("-wal", "-shm", "-journal")
# Two stored times this close are joined: a time beside a pseudonym and a time beside a case.
JOIN_SECONDS = 300
# A time rounded to a whole hour (or coarser) carries no finer join than that hour: it is not
# joined at JOIN_SECONDS. The design asks for times "coarse enough that they cannot be joined".
COARSE_SECONDS = 3600
# Fixed contexts a local seal may be bound to, besides every id read from the copies.
FIXED_CONTEXTS = ("", "chat", "body", "trace", "triage", "outbox", "deletion", "case", "global")
# Lifetimes a stored expiry may be counted from (the chat trace's 48 hours, a margin less).
KNOWN_LIFETIMES = (48 * 3600, 48 * 3600 - 600, 24 * 3600, 7 * 24 * 3600)


# --- copies -----------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Row:
    """One row of one table as a copy holds it."""

    table: str
    rowid: int | None
    values: Mapping[str, object]

    def describe(self) -> str:
        shown = ", ".join(f"{k}={_short(v)}" for k, v in self.values.items())
        return f"{self.table}[rowid {self.rowid}]({shown})"


@dataclass(eq=False)
class Copy:
    """What one seizure took: the raw files, and the rows SQLite reads from them."""

    kind: str  # "hot copy" (files pulled while the bot ran), "backup", "files after stop"
    stage: int
    stage_name: str
    files: dict[str, bytes]
    rows: list[Row] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.kind} at stage {self.stage} ({self.stage_name})"

    def __repr__(self) -> str:  # the files are megabytes: never print them in a report
        return f"Copy({self.label!r}, {len(self.files)} files, {len(self.rows)} rows)"

    def table(self, name: str) -> list[Row]:
        return [r for r in self.rows if r.table == name]


def database_files(db_path: Path) -> list[Path]:
    """The database and whatever SQLite keeps beside it (WAL, shared memory, journal)."""
    candidates = [db_path, *(Path(f"{db_path}{suffix}") for suffix in SIDE_FILES)]
    return [p for p in candidates if p.exists()]


def pull_files(db_path: Path) -> dict[str, bytes]:
    """Byte-for-byte copies of the database files, taken while the bot runs (a pulled plug)."""
    pulled: dict[str, bytes] = {}
    for path in database_files(db_path):
        try:
            pulled[path.name] = path.read_bytes()
        except FileNotFoundError:  # a journal that vanished meanwhile
            continue
    return pulled


def read_rows(files: Mapping[str, bytes]) -> list[Row]:
    """Every row of every table, read by SQLite from a private copy of ``files`` (so a WAL
    beside the main file is replayed, as it would be by anyone opening the seized files)."""
    main = next(name for name in files if not name.endswith(SIDE_FILES))
    with tempfile.TemporaryDirectory(prefix="seized-") as tmp:
        for name, data in files.items():
            (Path(tmp) / name).write_bytes(data)
        conn = sqlite3.connect(Path(tmp) / main)
        try:
            return list(_all_rows(conn))
        finally:
            conn.close()


def _all_rows(conn: sqlite3.Connection) -> Iterator[Row]:
    tables = [
        str(r[0])
        for r in conn.execute(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    for table in tables:
        quoted = '"' + table.replace('"', '""') + '"'
        try:
            cur = conn.execute(f"SELECT rowid AS seized_rowid, * FROM {quoted}")  # noqa: S608
            with_rowid = True
        except sqlite3.OperationalError:  # WITHOUT ROWID
            cur = conn.execute(f"SELECT * FROM {quoted}")  # noqa: S608
            with_rowid = False
        names = [d[0] for d in cur.description]
        for raw in cur:
            values = dict(zip(names, raw, strict=True))
            rowid = values.pop("seized_rowid") if with_rowid else None
            yield Row(table, rowid if isinstance(rowid, int) else None, values)


async def seize(db: Database, folder: Path, stage: int, stage_name: str) -> list[Copy]:
    """Both copies a seizer may find for this instant: the files as pulled while the bot runs,
    and a backup made the way the operator makes one."""
    hot = Copy("hot copy", stage, stage_name, pull_files(db.path))
    target = folder / f"backup-{stage:02d}.sqlite3"
    await backup_database(db, target)
    backup = Copy("backup", stage, stage_name, pull_files(target))
    return [hot, backup]


def load(copies: Iterable[Copy]) -> list[Copy]:
    """Read the rows of every copy (done once the bot has stopped: it is slow-ish)."""
    done = []
    for copy in copies:
        copy.rows = read_rows(copy.files)
        done.append(copy)
    return done


# --- the WAL's history ----------------------------------------------------------------------------

_WAL_HEADER = 32
_FRAME_HEADER = 24


@dataclass(frozen=True)
class Frame:
    """One frame of a WAL file: a page image, and whether it ends a commit."""

    index: int
    page: int
    commit: bool  # "database size after commit" is set: the last frame of a transaction
    salts: bytes  # equal to the header's for frames of the WAL's current generation
    start: int  # offset of the frame header in the file
    end: int  # offset just past its page image
    image: bytes


def wal_frames(wal: bytes) -> list[Frame]:
    """Every whole frame in a WAL file, old generations included: SQLite ignores a frame whose
    salts are not the header's, but the bytes are still there for whoever reads the file."""
    if len(wal) < _WAL_HEADER:
        return []
    page_size = int.from_bytes(wal[8:12], "big")
    if page_size < 512 or page_size & (page_size - 1):
        return []
    frames = []
    offset = _WAL_HEADER
    while offset + _FRAME_HEADER + page_size <= len(wal):
        header = wal[offset : offset + _FRAME_HEADER]
        end = offset + _FRAME_HEADER + page_size
        frames.append(
            Frame(
                index=len(frames),
                page=int.from_bytes(header[0:4], "big"),
                commit=int.from_bytes(header[4:8], "big") != 0,
                salts=header[8:16],
                start=offset,
                end=end,
                image=wal[offset + _FRAME_HEADER : end],
            )
        )
        offset = end
    return frames


def wal_history(copy: Copy) -> list[Copy]:
    """What the WAL of a hot copy held before its latest state, as copies of their own.

    Two readings, as an attacker would make them: the database at each commit of the WAL's
    current generation (the WAL cut after that commit's last frame), and, for every frame of any
    generation, the main file with that one page image written into its place (the page as it
    was then, rows deleted since included). Copies that SQLite cannot read are dropped.
    """
    wal_name = next((n for n in copy.files if n.endswith("-wal")), None)
    main = next((n for n in copy.files if not n.endswith(SIDE_FILES)), None)
    if wal_name is None or main is None:
        return []
    wal, base = copy.files[wal_name], copy.files[main]
    frames = wal_frames(wal)
    if not frames:
        return []
    page_size = len(frames[0].image)
    current = wal[16:24]
    history: list[Copy] = []
    for frame in frames:
        if frame.commit and frame.salts == current:
            files = {main: base, wal_name: wal[: frame.end]}
            history.append(_replayed(copy, f"WAL cut after commit frame {frame.index}", files))
    for frame in frames:
        offset = (frame.page - 1) * page_size
        padded = base.ljust(offset + page_size, b"\0")
        injected = padded[:offset] + frame.image + padded[offset + page_size :]
        history.append(
            _replayed(copy, f"WAL frame {frame.index} (page {frame.page})", {main: injected})
        )
    readable = []
    for replay in history:
        try:
            replay.rows = read_rows(replay.files)
        except sqlite3.DatabaseError:
            continue
        readable.append(replay)
    return readable


def _replayed(copy: Copy, how: str, files: dict[str, bytes]) -> Copy:
    return Copy(f"{copy.kind}, {how}", copy.stage, copy.stage_name, files)


# --- what the attacker enumerates ---------------------------------------------------------------

_PURPOSE_PATTERNS = (
    re.compile(r"""\bpurpose\s*=\s*["']([^"']*)["']"""),
    re.compile(r"""\b[A-Z_]*PURPOSE\s*(?::\s*\w+\s*)?=\s*["']([^"']*)["']"""),
)


def purposes_in_source(root: Path = BOT_SOURCE) -> set[str]:
    """Every key purpose named in the bot's code: the attacker has the code too."""
    found: set[str] = set()
    for path in root.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for pattern in _PURPOSE_PATTERNS:
            found.update(pattern.findall(text))
    return found


_LITERAL = re.compile(r"""["']([a-z][a-z0-9_-]{1,30})["']""")


def literals_in_source(root: Path = BOT_SOURCE) -> set[str]:
    """Every short word-like string literal in the bot's code: a keyed digest's purpose may be
    passed along by a helper rather than spelt ``purpose=``."""
    found: set[str] = set()
    for path in root.rglob("*.py"):
        found.update(_LITERAL.findall(path.read_text(encoding="utf-8")))
    return found


def pseudonyms(vault: Vault, user_ids: Iterable[int]) -> dict[bytes, int]:
    """The pseudonym of each guessed Telegram id, as the bot computes it."""
    return {vault.pseudonym(uid): uid for uid in user_ids}


_HEX_ID = re.compile(r"[0-9a-f]{16,64}")


def case_ids_seen(copies: Iterable[Copy]) -> set[str]:
    """Every id that may name a case: ``cases.id``, every ``*case_id`` column, and every
    hex id of 32 characters anywhere (a case id may be born again under a new name)."""
    ids: set[str] = set()
    for copy in copies:
        for row in copy.rows:
            for column, value in row.values.items():
                if not isinstance(value, str):
                    continue
                if (
                    (row.table == "cases" and column == "id")
                    or column.endswith("case_id")
                    or re.fullmatch(r"[0-9a-f]{32}", value)
                ):
                    ids.add(value)
    return ids


def contexts_seen(copies: Iterable[Copy], extra: Iterable[str] = ()) -> set[str]:
    """Every string a local seal may be bound to: ids, codes, handles, pseudonyms (as hex), row
    ids as text, and a few fixed words."""
    found: set[str] = set(FIXED_CONTEXTS) | set(extra)
    for copy in copies:
        for row in copy.rows:
            if row.rowid is not None:
                found.add(str(row.rowid))
                # Blobs bound to their row, as the source binds the outbox's.
                found.update(f"{word}:{row.rowid}" for word in FIXED_CONTEXTS if word)
            for column, value in row.values.items():
                if isinstance(value, str) and len(value) <= 80:
                    found.add(value)
                elif isinstance(value, int) and (column == "id" or column.endswith(("_id", "seq"))):
                    found.add(str(value))
                elif isinstance(value, bytes) and len(value) == 32:
                    found.add(value.hex())
    return found


# --- where each blob sits ----------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Place:
    copy: Copy
    row: Row
    column: str

    def describe(self) -> str:
        return f"{self.row.table}.{self.column} in the {self.copy.label}"


def blob_places(copies: Iterable[Copy]) -> dict[bytes, list[Place]]:
    """Every distinct BLOB value, with every place it sits (the same bytes recur across copies)."""
    places: dict[bytes, list[Place]] = {}
    for copy in copies:
        for row in copy.rows:
            for column, value in row.values.items():
                if isinstance(value, bytes) and value:
                    places.setdefault(value, []).append(Place(copy, row, column))
    return places


# --- opening things with the master key ---------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Opened:
    """A plaintext the attacker got, how, and from where."""

    plaintext: bytes
    how: str
    places: tuple[Place, ...]

    def describe(self) -> str:
        where = "; ".join(p.describe() for p in self.places[:3])
        more = f" (+{len(self.places) - 3} more)" if len(self.places) > 3 else ""
        return f"{self.how} -> {_short(self.plaintext)} from {where}{more}"


@dataclass(frozen=True, eq=False)
class RecoveredKey:
    key: CaseKey
    how: str


def is_vault_blob(vault: Vault, blob: bytes) -> bool:
    """Made under a master key this vault holds: the only blobs the vault tries to open."""
    try:
        return wrapped_key_id(blob) in vault.key_ids
    except CryptoError:
        return False


def open_with_master(
    vault: Vault,
    places: Mapping[bytes, list[Place]],
    *,
    case_ids: Iterable[str],
    purposes: Iterable[str],
    contexts: Iterable[str],
) -> tuple[list[Opened], list[RecoveredKey]]:
    """Every master-derived key on every blob: ``unwrap_case_key`` under every case id, and
    ``open_local`` under every purpose and every context."""
    ids, purposes, contexts = sorted(case_ids), sorted(purposes), sorted(contexts)
    opened: list[Opened] = []
    keys: list[RecoveredKey] = []
    for blob, where in places.items():
        if not is_vault_blob(vault, blob):
            continue
        for case_id in ids:
            try:
                key = vault.unwrap_case_key(blob, case_id=case_id)
            except CryptoError:
                continue
            how = f"unwrap_case_key(case_id={case_id[:8]}…) on {where[0].describe()}"
            keys.append(RecoveredKey(key, how))
        for purpose in purposes:
            for context in contexts:
                try:
                    plain = vault.open_local(blob, purpose=purpose, context=context)
                except CryptoError:
                    continue
                how = f"open_local(purpose={purpose!r}, context={_short(context)})"
                opened.append(Opened(plain, how, tuple(where)))
    return opened, _distinct(keys)


def _distinct(keys: list[RecoveredKey]) -> list[RecoveredKey]:
    kept: list[RecoveredKey] = []
    for found in keys:
        if not any(found.key == k.key for k in kept):
            kept.append(found)
    return kept


def open_with_case_keys(
    keys: Sequence[RecoveredKey],
    copies: Iterable[Copy],
    places: Mapping[bytes, list[Place]],
    *,
    case_ids: Iterable[str],
) -> list[Opened]:
    """Every recovered case key on every field value under every case id; then on every
    dropbox it opens, every sealed inbox item."""
    ids = sorted(case_ids)
    copies = list(copies)
    opened: list[Opened] = []
    fields: dict[tuple[bytes, str], list[Place]] = {}
    boxes: set[bytes] = set()
    sealed: set[bytes] = set()
    for copy in copies:
        for row in copy.rows:
            values = row.values
            name, value = values.get("name"), values.get("value")
            if isinstance(name, str) and isinstance(value, bytes):
                fields.setdefault((value, name), []).append(Place(copy, row, "value"))
            box = values.get("protected_private_key")
            if "dropbox" in row.table and isinstance(box, bytes):
                boxes.add(box)
            item = values.get("sealed")
            if isinstance(item, bytes):
                sealed.add(item)
    for found in keys:
        for (value, name), where in fields.items():
            for case_id in ids:
                try:
                    plain = found.key.decrypt(value, case_id=case_id, field=name)
                except CryptoError:
                    continue
                how = f"case key [{found.how}] decrypt(case_id={case_id[:8]}…, field={name!r})"
                opened.append(Opened(plain, how, tuple(where)))
        for box in boxes:
            for case_id in ids:
                try:
                    private = open_case_dropbox(found.key, box, case_id=case_id)
                except CryptoError:
                    continue
                for item in sealed:
                    for context in ids:
                        try:
                            plain = private.open_sealed(item, context=context)
                        except CryptoError:
                            continue
                        how = f"dropbox of case {case_id[:8]}… opened by case key [{found.how}]"
                        opened.append(Opened(plain, how, tuple(places.get(item, []))))
    return opened


# --- canaries -----------------------------------------------------------------------------------


def text_forms(text: str) -> list[bytes]:
    """Every way a typed string could be written down: UTF-8, UTF-16, JSON-escaped."""
    escaped = json.dumps(text)[1:-1].encode("ascii", "ignore")
    return [f for f in {text.encode("utf-8"), text.encode("utf-16-le"), escaped} if f]


def id_forms(user_id: int) -> list[bytes]:
    """A Telegram id as text, and packed as SQLite (big-endian) or anything else might pack it."""
    forms = [str(user_id).encode()]
    for size in (4, 6, 8):
        for order in ("big", "little"):
            try:
                forms.append(user_id.to_bytes(size, order))  # type: ignore[arg-type]
            except OverflowError:
                continue
    return forms


def phrase_forms(phrase: str) -> list[bytes]:
    return [*text_forms(phrase), *text_forms(phrase.replace(" ", ""))]


def holds_id(data: bytes, user_id: int) -> bool:
    """The id written as a number on its own (not a piece of a longer number)."""
    return re.search(rb"(?<![0-9])" + str(user_id).encode() + rb"(?![0-9])", data) is not None


def raw_hits(files: Mapping[str, bytes], canaries: Mapping[str, Sequence[bytes]]) -> list[str]:
    """Which canaries sit, in any form, in the raw bytes of which file."""
    hits = []
    for name, data in files.items():
        for canary, forms in canaries.items():
            if any(form in data for form in forms):
                hits.append(f"{canary} in {name}")
    return hits


# --- links between a Telegram account and a case ------------------------------------------------


@dataclass(frozen=True)
class Link:
    user_id: int
    case: str
    path: str


@dataclass(frozen=True)
class Submitted:
    """What the seizer can see was submitted: cases that carry a code."""

    ids: frozenset[str]
    codes: frozenset[str]

    @classmethod
    def from_copies(cls, copies: Iterable[Copy]) -> Submitted:
        ids, codes = set(), set()
        for copy in copies:
            for row in copy.table("cases"):
                code = row.values.get("code")
                if code:
                    ids.add(str(row.values["id"]))
                    codes.add(str(code))
        return cls(frozenset(ids), frozenset(codes))

    def named_by(self, value: object) -> str | None:
        if isinstance(value, str) and (value in self.ids or value in self.codes):
            return value
        return None


def submitted_in(copy: Copy, case_id: str) -> str | None:
    """The code of ``case_id`` if, in this copy, it is a submitted case."""
    for row in copy.table("cases"):
        if row.values.get("id") == case_id and row.values.get("code"):
            return str(row.values["code"])
    return None


@dataclass
class _RowFacts:
    copy: Copy
    row: Row
    people: dict[int, str] = field(default_factory=dict)  # user id -> how the row names them
    cases: dict[str, str] = field(default_factory=dict)  # case -> how the row names it
    times: list[tuple[int, str]] = field(default_factory=list)


def find_links(
    vault: Vault,
    copies: Sequence[Copy],
    user_ids: Iterable[int],
    submitted: Submitted,
    opened: Sequence[Opened],
    *,
    purposes: Iterable[str],
    window: tuple[int, int],
    lifetimes: Iterable[int] = KNOWN_LIFETIMES,
) -> list[Link]:
    """Every way to tie a guessed Telegram id to a submitted case across all copies.

    A row names a person if it holds their pseudonym (as bytes or hex) or a blob that opens to
    their id; it names a case if it holds a submitted case's id or code, a text naming a code, a
    relay token whose keyed digest sits in a row naming a case, or it is an audit entry of a
    submission. Then: one row naming both; a row of a person at the same rowid as a submitted
    case's own row in another copy; and a fine time beside a person within ``JOIN_SECONDS`` of a
    fine time beside a case.
    """
    by_pseudonym = pseudonyms(vault, user_ids)
    by_hex = {p.hex(): uid for p, uid in by_pseudonym.items()}
    uids = sorted(set(by_pseudonym.values()))
    lifetimes = sorted(set(lifetimes))
    plain_of: dict[int, list[Opened]] = {}
    for item in opened:
        for place in item.places:
            plain_of.setdefault(id(place.row), []).append(item)
    digests = _digest_index(copies, submitted)

    facts: list[_RowFacts] = []
    for copy in copies:
        for row in copy.rows:
            fact = _RowFacts(copy, row)
            for column, value in row.values.items():
                uid = by_pseudonym.get(value) if isinstance(value, bytes) else None
                uid = uid or (by_hex.get(value) if isinstance(value, str) else None)
                if uid is not None:
                    fact.people[uid] = f"pseudonym in {row.table}.{column}"
                case = submitted.named_by(value)
                if case is not None:
                    fact.cases[case] = f"{row.table}.{column}"
                if isinstance(value, int) and window[0] <= value <= window[1] + max(lifetimes):
                    fact.times.append((value, f"{row.table}.{column}"))
            action = row.values.get("action")
            if row.table.startswith("audit") and isinstance(action, str) and "submit" in action:
                fact.cases.setdefault(f"audit #{row.values.get('seq')} {action}", "audit entry")
            for item in plain_of.get(id(row), []):
                _facts_from_plaintext(fact, item, uids, submitted, digests, purposes, vault)
            facts.append(fact)

    links: dict[tuple[int, str, str], Link] = {}

    def add(uid: int, case: str, path: str) -> None:
        kind = path.split(":")[0]
        links.setdefault((uid, case, kind), Link(uid, case, path))

    for fact in facts:  # one row names both
        for uid, who in fact.people.items():
            for case, what in fact.cases.items():
                add(
                    uid,
                    case,
                    f"same row: {who} beside {what} in {fact.row.describe()} ({fact.copy.label})",
                )

    case_rows = {
        (f.row.table, f.row.rowid): f
        for f in facts
        if f.row.rowid is not None and submitted.named_by(f.row.values.get("id"))
    }
    for fact in facts:  # a person's row at the rowid a submitted case's own row has
        other = case_rows.get((fact.row.table, fact.row.rowid))
        if other is None or other.row is fact.row:
            continue
        for uid, who in fact.people.items():
            case = str(other.row.values.get("code") or other.row.values.get("id"))
            add(
                uid,
                case,
                f"rowid reuse: {who} at {fact.row.table} rowid {fact.row.rowid} "
                f"({fact.copy.label}) is the row of case {case} ({other.copy.label})",
            )

    person_times = [
        (uid, t, f"{what} ({fact.copy.label})")
        for fact in facts
        for uid in fact.people
        for t, what in _as_times(fact.times, window, lifetimes)
    ]
    case_times = [
        (case, t, f"{what} ({fact.copy.label})")
        for fact in facts
        if not fact.people
        for case in fact.cases
        for t, what in _as_times(fact.times, window, ())
    ]
    for uid, t_person, who in person_times:  # a fine time beside each, close together
        if _coarse(t_person):
            continue
        for case, t_case, what in case_times:
            if not _coarse(t_case) and abs(t_person - t_case) <= JOIN_SECONDS:
                add(uid, case, f"time join: {who} = {t_person} vs {what} = {t_case}")
    return sorted(links.values(), key=lambda link: (link.user_id, link.case, link.path))


def _as_times(
    times: Iterable[tuple[int, str]], window: tuple[int, int], lifetimes: Iterable[int]
) -> Iterator[tuple[int, str]]:
    """Stored times inside the window, and expiries counted back by each known lifetime."""
    for value, what in times:
        if window[0] <= value <= window[1]:
            yield value, what
        for lifetime in lifetimes:
            if window[0] <= value - lifetime <= window[1]:
                yield value - lifetime, f"{what} - {lifetime}s"


def _coarse(t: int) -> bool:
    return t % COARSE_SECONDS == 0


_TOKEN = re.compile(r"[A-Za-z0-9_\-]{12,}")
_NUMBER = re.compile(rb"(?<![0-9])[0-9]{9,11}(?![0-9])")


def _digest_index(copies: Iterable[Copy], submitted: Submitted) -> dict[str, str]:
    """Text values (such as a relay's token digest) of rows that name a submitted case."""
    index: dict[str, str] = {}
    for copy in copies:
        for row in copy.rows:
            named = [submitted.named_by(v) for v in row.values.values()]
            case = next((c for c in named if c), None)
            if case is None:
                continue
            for column, value in row.values.items():
                if isinstance(value, str) and len(value) >= 32:
                    index[value] = f"{case} (via {row.table}.{column})"
    return index


def _facts_from_plaintext(
    fact: _RowFacts,
    item: Opened,
    uids: Sequence[int],
    submitted: Submitted,
    digests: Mapping[str, str],
    purposes: Iterable[str],
    vault: Vault,
) -> None:
    plain = item.plaintext
    for uid in uids:
        if holds_id(plain, uid):
            fact.people[uid] = f"id opened by {item.how}"
    text = plain.decode("utf-8", "replace")
    for code in submitted.codes:
        if re.search(rf"(?<![A-Z0-9]){re.escape(code)}(?![A-Z0-9])", text):
            fact.cases[code] = f"code named in text opened by {item.how}"
    for case_id in submitted.ids:
        if case_id in text:
            fact.cases[case_id] = f"case id in text opened by {item.how}"
    # A token as it is, and bound to each guessed account as the source binds relay tokens.
    bound = [f"{vault.pseudonym(uid).hex()}:" for uid in uids]
    for token in set(_TOKEN.findall(text)):
        for purpose, prefix in itertools.product(purposes, ("", *bound)):
            digest = vault.mac((prefix + token).encode(), purpose=purpose).hex()
            if digest in digests:
                fact.cases[digests[digest].split(" ")[0]] = (
                    f"token in text opened by {item.how}, its {purpose!r} digest names "
                    f"{digests[digest]}"
                )
    for number in _NUMBER.findall(plain):
        fact.times.append((int(number), f"time inside text opened by {item.how}"))
    if plain[:1] in (b"{", b"["):
        try:
            data = json.loads(plain)
        except ValueError:
            return
        for value in _json_ints(data):
            fact.times.append((value, f"time inside json opened by {item.how}"))


def json_ints(plaintext: bytes) -> list[int]:
    """Every integer inside a JSON plaintext (times hide there too); none if it is not JSON."""
    try:
        return list(_json_ints(json.loads(plaintext)))
    except ValueError:
        return []


def _json_ints(data: object) -> Iterator[int]:
    if isinstance(data, bool):
        return
    if isinstance(data, int):
        yield data
    elif isinstance(data, str) and data.isdigit():
        yield int(data)
    elif isinstance(data, dict):
        for key, value in data.items():
            yield from _json_ints(key)
            yield from _json_ints(value)
    elif isinstance(data, list):
        for value in data:
            yield from _json_ints(value)


def _short(value: object, size: int = 60) -> str:
    if isinstance(value, bytes):
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            return f"<{len(value)} bytes>"
        value = text
    shown = repr(value)
    return shown if len(shown) <= size else shown[: size - 1] + "…"


# --- telling an account apart from one that never wrote -----------------------------------------


def derived_values(vault: Vault, user_id: int, purposes: Iterable[str]) -> dict[bytes, str]:
    """Everything the server could compute from an account id and the master key alone: each
    pseudonym (under every held key) and a keyed digest of the id under every purpose named in
    the source. A seizer holding a list of ids computes these and looks for them."""
    values: dict[bytes, str] = {}
    for pseudonym in vault.pseudonyms(user_id):
        values[pseudonym] = "pseudonym"
    for purpose in purposes:
        for form in id_forms(user_id):
            values[vault.mac(form, purpose=purpose)] = f"mac(purpose={purpose!r})"
    return values


def told_apart(
    vault: Vault,
    copies: Iterable[Copy],
    opened: Sequence[Opened],
    user_ids: Iterable[int],
    *,
    purposes: Iterable[str],
    literals: Iterable[str] = (),
) -> dict[int, list[str]]:
    """Every way each guessed account can be recognised in the copies.

    A value the server could compute from its id and the master key (a pseudonym, or a keyed
    digest of the id under every purpose the source names and every word-like literal in it),
    as bytes or hex, stored in any row; the pseudonyms and the named purposes' digests also
    anywhere in a file's raw bytes (free pages, WAL frames); the id itself in a row, whole or
    written inside a text; a plaintext the master key opens that holds the id.
    """
    copies = list(copies)
    named = sorted(set(purposes))
    every = sorted(set(named) | set(literals))
    stored: set[object] = set()
    texts: set[str] = set()
    numbers: set[int] = set()
    files: dict[bytes, str] = {}
    for copy in copies:
        for name, data in copy.files.items():
            files.setdefault(data, f"{name} ({copy.label})")
        for row in copy.rows:
            for value in row.values.values():
                if isinstance(value, bytes):
                    stored.add(value)
                elif isinstance(value, str):
                    stored.add(value)
                    texts.add(value)
                elif isinstance(value, int):
                    numbers.add(value)
    joined = "\n".join(sorted(texts)).encode()
    found: dict[int, list[str]] = {}
    for uid in user_ids:
        reasons: list[str] = []
        for value, what in derived_values(vault, uid, every).items():
            if value in stored or value.hex() in stored:
                reasons.append(f"{what} stored in a row")
        raw = derived_values(vault, uid, named)
        for data, where in files.items():
            for value, what in raw.items():
                if value in data or value.hex().encode() in data:
                    reasons.append(f"{what} in the raw bytes of {where}")
        if uid in numbers or holds_id(joined, uid):
            reasons.append("the id in a row")
        for item in opened:
            if holds_id(item.plaintext, uid):
                reasons.append(f"the id inside {item.describe()}")
        if reasons:
            found[uid] = sorted(set(reasons))
    return found


def stored_values(copies: Iterable[Copy]) -> set[object]:
    """Every value of every row of the copies, for comparing databases by what they hold."""
    return {value for copy in copies for row in copy.rows for value in row.values.values()}
