"""The chat's trace and the erasing schedule, as plain units: what must go by when."""

from __future__ import annotations

import asyncio

from bot.services.erasures import ERASE_AFTER, Erasures
from bot.services.trace import DELETABLE_SECONDS, ChatTrace

T0 = 1_800_000_000


def test_erasing_comes_an_hour_before_telegrams_window_closes() -> None:
    assert DELETABLE_SECONDS == 48 * 3600
    assert ERASE_AFTER == 47 * 3600


def test_a_message_keeps_the_time_it_first_appeared() -> None:
    trace = ChatTrace()
    trace.add(5, T0)
    trace.add(5, T0 + 600)  # noted again (edited in place, or noted twice): still as old
    trace.add(6, T0 + 60)
    assert trace.times == {5: T0, 6: T0 + 60}
    again = ChatTrace.load(trace.dump())
    assert again.times == trace.times and again.visible == {5, 6}


def test_what_is_cleared_is_forgotten_with_its_time() -> None:
    trace = ChatTrace()
    for message_id in (1, 2, 3):
        trace.add(message_id, T0 + message_id)
    trace.prompt = 3
    assert trace.take_all(keep=3) == [1, 2]
    assert trace.times == {3: T0 + 3} and trace.prompt == 3


def test_a_message_past_the_window_is_dropped_and_a_younger_one_kept() -> None:
    trace = ChatTrace()
    trace.add(1, T0)
    trace.add(2, T0 + 10 * 3600)
    trace.keep(1)
    later = trace.fresh(T0 + DELETABLE_SECONDS)
    assert later.visible == {2} and later.kept == set() and later.times == {2: T0 + 10 * 3600}


def test_the_schedule_erases_each_message_at_its_own_time() -> None:
    now = [float(T0)]
    erasures = Erasures(clock=lambda: now[0])
    erasures.track(7, {1: T0, 2: T0 + 3600})
    assert erasures.due(T0 + ERASE_AFTER - 1) == []
    assert erasures.due(T0 + ERASE_AFTER) == [(7, [1], [])]
    assert erasures.due(T0 + ERASE_AFTER) == []  # taken once
    assert erasures.due(T0 + 3600 + ERASE_AFTER) == [(7, [2], [])]
    assert len(erasures) == 0


def test_a_schedule_rebuilt_from_the_trace_keeps_the_earliest_time() -> None:
    """Ids noted in memory while the chat's key was away, then joined to the trace later,
    keep the time they appeared, not the time they were joined."""
    erasures = Erasures(clock=lambda: float(T0))
    erasures.add(7, [1], T0, token="tok")
    erasures.track(7, {1: T0 + 5000, 2: T0 + 5000})
    assert erasures.times(7) == {1: T0, 2: T0 + 5000}
    assert erasures.due(T0 + ERASE_AFTER) == [(7, [1], ["tok"])]
    erasures.track(7, {})
    assert len(erasures) == 0


def test_the_schedule_stays_within_its_bound() -> None:
    erasures = Erasures(clock=lambda: float(T0), max_chats=3)
    for chat in range(10):
        erasures.add(chat, [1], T0)
    assert len(erasures) == 3 and erasures.times(9) == {1: T0} and erasures.times(0) == {}


def test_a_sweep_erases_what_is_due_and_tells_of_unanswered_questions() -> None:
    now = [float(T0 + ERASE_AFTER)]
    erasures = Erasures(clock=lambda: now[0])
    erasures.add(7, [1, 2], T0, token="tok")
    erasures.add(8, [3], T0 + 3600)
    erased: list[tuple[int, list[int]]] = []
    told: list[tuple[int, list[str]]] = []

    async def erase(chat: int, ids: list[int]) -> None:
        erased.append((chat, ids))

    async def unanswered(chat: int, tokens: list[str]) -> None:
        told.append((chat, tokens))

    assert asyncio.run(erasures.sweep(erase, unanswered)) == [(7, [1, 2])]
    assert erased == [(7, [1, 2])] and told == [(7, ["tok", "tok"])]
