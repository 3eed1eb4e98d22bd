"""The check-in rules as plain Python: what ``/checkin`` accepts, when each check-in is due and
when one is missed; and the team's grace time in the config."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, load_config
from bot.coordination.checkins import (
    DAY,
    HOUR,
    MINUTE,
    Refusal,
    Schedule,
    duration_text,
    missed,
    parse_duration,
    plan,
)
from bot.coordination.vetting import Done, Step, reopened_by_account_change
from bot.crypto import MasterKey
from tests.conftest import write_config

NOW = 1_800_000_000
GRACE = 2 * HOUR


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30m", 30 * MINUTE), ("12h", 12 * HOUR), ("7d", 7 * DAY), (" 3H ", 3 * HOUR)],
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds
    assert parse_duration(duration_text(seconds)) == seconds


@pytest.mark.parametrize("text", ["", "12", "h", "0h", "-1h", "1.5h", "12hours", "1w", "12 h"])
def test_what_is_no_duration(text: str) -> None:
    assert parse_duration(text) is None


def test_a_schedule_every_twelve_hours_for_the_default_seven_days() -> None:
    schedule = plan("12h", now=NOW, grace=GRACE)
    assert schedule == Schedule(start=NOW, every=12 * HOUR, until=NOW + 7 * DAY, grace=GRACE)
    assert schedule is not None
    assert schedule.next_after(NOW) == NOW + 12 * HOUR  # the first after one EVERY
    assert schedule.next_after(NOW + 12 * HOUR) == NOW + 24 * HOUR  # strictly after
    assert schedule.next_after(NOW + 13 * HOUR) == NOW + 24 * HOUR
    assert schedule.next_after(NOW + 7 * DAY - 1) == NOW + 7 * DAY  # the last is at the end
    assert schedule.next_after(NOW + 7 * DAY) is None
    assert Schedule.load(schedule.dump()) == schedule


def test_off_stops() -> None:
    assert plan("off", now=NOW, grace=GRACE) is None


@pytest.mark.parametrize(
    ("arg", "key"),
    [
        ("", "checkin_usage"),
        ("often", "checkin_usage"),
        ("12h 5d extra", "checkin_usage"),
        ("12h soon", "checkin_usage"),
        ("10m", "checkin_every"),  # under the floor
        ("2h", "checkin_every"),  # not longer than the grace time: a miss would meet the next
        ("25h", "checkin_every"),  # past Telegram's window to erase the one before
        ("12h 8d", "checkin_too_long"),
        ("12h 6h", "checkin_too_long"),  # not even one check-in
    ],
)
def test_what_makes_no_schedule(arg: str, key: str) -> None:
    with pytest.raises(Refusal) as refused:
        plan(arg, now=NOW, grace=GRACE)
    assert refused.value.key == key


def test_missed_from_the_grace_time_on() -> None:
    assert not missed(NOW, GRACE, NOW + GRACE - 1)
    assert missed(NOW, GRACE, NOW + GRACE)


def test_the_grace_time_is_a_setting_of_the_organisation_and_of_a_team(tmp_path: Path) -> None:
    base = "https://example.invalid"
    env = {"BOT_TOKEN": "7012345678:" + "a" * 35, "BOT_MASTER_KEY": MasterKey.generate().to_text()}
    path = write_config(tmp_path, base)
    assert load_config(path, env).coordination.checkin_grace_minutes == 120
    team = """
[[coordination.teams]]
name = "south"
default = true
checkin_grace_minutes = 45
"""
    config = load_config(write_config(tmp_path, base, coordination_extra=team), env)
    assert config.coordination.teams[0].checkin_grace_minutes == 45
    for extra, key in (
        ("checkin_grace_minutes = 2", "coordination.checkin_grace_minutes"),
        (team.replace("45", "721"), "coordination.teams[0].checkin_grace_minutes"),
    ):
        with pytest.raises(ConfigError) as error:
            load_config(write_config(tmp_path, base, coordination_extra=extra), env)
        message = str(error.value)
        assert "\n" not in message and key in message, message


def test_an_account_change_takes_back_only_the_steps_marked_and_done() -> None:
    steps = (
        Step("call", reopen_on_account_change=True),
        Step("story"),
        Step("phrase", reopen_on_account_change=True),
    )
    done = {s: Done(s, "C-AAAA", NOW) for s in ("call", "story")}
    assert reopened_by_account_change(steps, done) == ("call",)
    assert reopened_by_account_change(steps, {}) == ()
