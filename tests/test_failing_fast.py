"""A failing test fails and the run ends: nothing a test opened keeps the process alive."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
BOUND_SECONDS = 60.0

FAILING = """
from pathlib import Path

from bot.store import Database
from tests.databases import opened


async def test_fails_inside_a_database_it_opened(tmp_path: Path) -> None:
    async with opened(tmp_path / "bot.sqlite3") as db:
        assert await db.schema_version() == -1


async def test_fails_with_the_shared_fixture(db: Database) -> None:
    assert await db.schema_version() == -1
"""


def test_a_failing_database_test_ends_the_run(tmp_path: Path) -> None:
    """An open aiosqlite connection is a live thread: pytest prints its summary and then waits
    for it forever. Opened the suite's way, the database is closed by the failure itself."""
    (tmp_path / "test_failing.py").write_text(FAILING, encoding="utf-8")
    started = time.monotonic()
    run = subprocess.run(
        [
            sys.executable,
            *("-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.conftest"),
            *("-c", str(ROOT / "pyproject.toml"), "--rootdir", str(tmp_path)),
            str(tmp_path / "test_failing.py"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=BOUND_SECONDS,
        check=False,
    )
    took = time.monotonic() - started
    assert run.returncode == 1, run.stdout + run.stderr
    assert "2 failed" in run.stdout, run.stdout
    assert took < BOUND_SECONDS


# A database opened by hand (``db = await`` and the opening call) is closed only by a line the test
# reaches when it passes.
BY_HAND = re.compile(r"await\s+open_database\(")


def test_no_test_opens_a_database_by_hand() -> None:
    offenders = [
        f"{path.name}:{number}"
        for path in sorted(TESTS.glob("*.py"))
        if path.name != "databases.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if BY_HAND.search(line)
    ]
    assert offenders == [], "open it with tests.databases.opened or the db fixture"
