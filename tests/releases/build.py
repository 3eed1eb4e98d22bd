"""Build the databases an earlier release leaves behind, from that release's own code.

    python tests/releases/build.py COMMIT

extracts the release at ``COMMIT`` (``git archive``) into a temporary folder and runs
``tests/releases/COMMIT/scenario.py`` there, with that release's ``bot`` package first on the
path: the rows are written by the code that wrote them in the field, not by a reconstruction.
The scenario writes its databases and ``facts.json`` (keys, passphrases, codes) next to itself.
Each release adds a folder with its own scenario before the next one ships, and
``tests/test_upgrade.py`` upgrades every folder found here.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def build(commit: str) -> None:
    scenario = HERE / commit / "scenario.py"
    if not scenario.is_file():
        raise SystemExit(f"no scenario for {commit}: write {scenario.relative_to(ROOT)} first")
    archive = subprocess.run(
        ["git", "archive", "--format=tar", commit], cwd=ROOT, check=True, capture_output=True
    ).stdout
    with tempfile.TemporaryDirectory(prefix=f"release-{commit}-") as folder:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(folder, filter="data")
        env = {**os.environ, "PYTHONPATH": folder}
        subprocess.run(
            [sys.executable, str(scenario), str(HERE / commit)], cwd=folder, env=env, check=True
        )


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python tests/releases/build.py COMMIT")
    build(sys.argv[1])
