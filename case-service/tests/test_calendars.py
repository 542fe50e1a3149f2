"""Business time: weekends, holidays, DST, overlapping hours."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from case_service.sla.model import ALWAYS, BusinessCalendar, InvalidCalendar, WorkingInterval

NINE_TO_FIVE = (WorkingInterval(time(9), time(17)),)


def office(holidays=frozenset()) -> BusinessCalendar:
    return BusinessCalendar(
        name="bucharest-office",
        time_zone="Europe/Bucharest",
        hours={day: NINE_TO_FIVE for day in ("mon", "tue", "wed", "thu", "fri")},
        holidays=frozenset(holidays),
    )


def local(*args) -> datetime:
    from zoneinfo import ZoneInfo

    return datetime(*args, tzinfo=ZoneInfo("Europe/Bucharest"))


def test_always_calendar_is_plain_time():
    start = datetime(2026, 11, 23, 10, tzinfo=UTC)
    assert ALWAYS.add(start, timedelta(hours=30)) == start + timedelta(hours=30)
    assert ALWAYS.elapsed(start, start + timedelta(days=2)) == timedelta(days=2)


def test_friday_afternoon_target_lands_on_monday():
    # Friday 2026-11-27 15:00 local + 4 business hours = Monday 11:00 local.
    due = office().add(local(2026, 11, 27, 15), timedelta(hours=4))
    assert due == local(2026, 11, 30, 11)


def test_outside_hours_start_waits_for_the_next_opening():
    assert office().add(local(2026, 11, 24, 20), timedelta(hours=1)) == local(2026, 11, 25, 10)


def test_holidays_are_skipped():
    calendar = office(holidays={date(2026, 12, 1)})  # Romania's national day
    due = calendar.add(local(2026, 11, 30, 16), timedelta(hours=2))
    assert due == local(2026, 12, 2, 10)
    assert calendar.elapsed(local(2026, 11, 30, 16), local(2026, 12, 2, 10)) == timedelta(hours=2)


def test_dst_day_counts_wall_clock_hours():
    # Clocks go forward at 03:00 on Sunday 2026-03-29 in Bucharest; a 24x7 local calendar
    # has only 23 hours that day.
    always_local = BusinessCalendar(
        name="local-24x7",
        time_zone="Europe/Bucharest",
        hours={day: (WorkingInterval(time(0), time.max),) for day in ("sat", "sun", "mon")},
    )
    start, end = local(2026, 3, 29, 0), local(2026, 3, 30, 0)
    assert always_local.elapsed(start, end) == timedelta(hours=23)
    assert always_local.add(start, timedelta(hours=23)) == end
    # Office hours on the Monday after are unaffected: 8 hours 09:00-17:00.
    assert office().elapsed(local(2026, 3, 30, 0), local(2026, 3, 31, 0)) == timedelta(hours=8)


def test_elapsed_and_add_agree():
    calendar = office(holidays={date(2026, 12, 25)})
    start = local(2026, 12, 23, 13, 30)
    for hours in (1, 7, 8, 9, 30, 80):
        due = calendar.add(start, timedelta(hours=hours))
        assert calendar.elapsed(start, due) == timedelta(hours=hours)


@pytest.mark.parametrize(
    "hours, message",
    [
        (
            {"mon": (WorkingInterval(time(9), time(13)), WorkingInterval(time(12), time(17)))},
            "overlap",
        ),
        ({"mon": (WorkingInterval(time(17), time(9)),)}, "ends before it starts"),
        ({"funday": NINE_TO_FIVE}, "unknown weekday"),
        ({}, "no working hours"),
    ],
)
def test_invalid_calendars_are_refused(hours, message):
    with pytest.raises(InvalidCalendar, match=message):
        BusinessCalendar(name="bad", time_zone="UTC", hours=hours)


def test_unknown_time_zone_is_refused():
    with pytest.raises(InvalidCalendar, match="time zone"):
        BusinessCalendar(name="bad", time_zone="Mars/Olympus", hours={"mon": NINE_TO_FIVE})
