"""The recovery key made on an offline machine with a shell and OpenSSL alone."""

from __future__ import annotations

import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from bot.crypto import load_recovery_key
from bot.crypto.recovery import public_text

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "tools" / "recovery-keygen.sh"


def _keygen(out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", str(SCRIPT), str(out)],
        env={"PATH": "/usr/bin:/bin"},  # no Python on the way: only sh, od, tr, tail, openssl
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_the_script_makes_a_pair_the_bot_reads(tmp_path: Path) -> None:
    out = tmp_path / "recovery.key"
    made = _keygen(out)
    assert made.returncode == 0, made.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    private = load_recovery_key(out.read_text())
    line = made.stdout.strip()
    assert line == f'recovery_public_key = "{public_text(private.public_key)}"'
    assert out.read_text().strip() not in made.stdout + made.stderr
    assert _keygen(tmp_path / "other.key").stdout != made.stdout


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_the_script_never_overwrites_a_key(tmp_path: Path) -> None:
    out = tmp_path / "recovery.key"
    out.write_text("kept\n")
    again = _keygen(out)
    assert again.returncode == 1 and "never overwritten" in again.stderr
    assert out.read_text() == "kept\n"
