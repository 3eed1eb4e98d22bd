"""The bot's event loop: uvloop where installed, asyncio's own where not, same result."""

from __future__ import annotations

import asyncio
import sys

import pytest

from bot import eventloop


async def _loop_class() -> str:
    await asyncio.sleep(0)
    return type(asyncio.get_running_loop()).__module__


def test_the_bot_runs_on_uvloop_when_installed() -> None:
    pytest.importorskip("uvloop")
    assert eventloop.run(_loop_class()).startswith("uvloop")


def test_without_uvloop_asyncios_loop_does_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop now raises ImportError
    assert eventloop.run(_loop_class()).startswith("asyncio")
