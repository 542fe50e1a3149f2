"""Business calendars: when the SLA clock runs. Pure domain, no I/O.

A calendar has a time zone, working hours per weekday (local wall-clock intervals) and
holidays (local dates). Business time is counted interval by interval in local time and
converted through the time zone, so a DST change shortens or lengthens the day exactly as
the wall clock does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
END_OF_DAY = time(23, 59, 59, 999999)
# Far enough for any SLA; guards the day-by-day walk against a calendar with no hours.
MAX_DAYS_SCANNED = 3 * 366


class InvalidCalendar(ValueError):
    """The calendar cannot be used (bad zone, overlapping or empty hours)."""


@dataclass(frozen=True)
class WorkingInterval:
    """One stretch of working time within a day, local wall clock, ``end`` exclusive."""

    start: time
    end: time  # time.max means "until midnight"


@dataclass(frozen=True)
class BusinessCalendar:
    """Working hours per weekday plus holidays, in one time zone."""

    name: str
    time_zone: str
    hours: dict[str, tuple[WorkingInterval, ...]]
    holidays: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.time_zone)
        except Exception as exc:  # ZoneInfoNotFoundError, ValueError
            raise InvalidCalendar(f"unknown time zone {self.time_zone!r}") from exc
        for day, intervals in self.hours.items():
            if day not in WEEKDAYS:
                raise InvalidCalendar(f"unknown weekday {day!r}; use {', '.join(WEEKDAYS)}")
            ordered = sorted(intervals, key=lambda i: i.start)
            for interval in ordered:
                if interval.end != time.max and interval.end <= interval.start:
                    raise InvalidCalendar(
                        f"{day}: {interval.start}-{interval.end} ends before it starts"
                    )
            for earlier, later in zip(ordered, ordered[1:], strict=False):
                if earlier.end == time.max or later.start < earlier.end:
                    raise InvalidCalendar(f"{day}: working hours overlap")
        if not any(self.hours.get(day) for day in WEEKDAYS):
            raise InvalidCalendar("the calendar has no working hours at all")

    @property
    def zone(self) -> ZoneInfo:
        """The calendar's time zone."""
        return ZoneInfo(self.time_zone)

    def _working_spans(self, day: date) -> list[tuple[datetime, datetime]]:
        """Working spans of one local day as aware UTC datetimes."""
        if day in self.holidays:
            return []
        spans = []
        for interval in self.hours.get(WEEKDAYS[day.weekday()], ()):
            start = datetime.combine(day, interval.start, self.zone)
            if interval.end == time.max:
                end = datetime.combine(day + timedelta(days=1), time(0), self.zone)
            else:
                end = datetime.combine(day, interval.end, self.zone)
            spans.append((start.astimezone(UTC), end.astimezone(UTC)))
        return spans

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The moment when ``duration`` of business time has passed after ``start``."""
        remaining = duration
        day = start.astimezone(self.zone).date() - timedelta(days=1)
        for _ in range(MAX_DAYS_SCANNED):
            for span_start, span_end in self._working_spans(day):
                begin = max(span_start, start)
                if begin >= span_end:
                    continue
                available = span_end - begin
                if remaining <= available:
                    return begin + remaining
                remaining -= available
            day += timedelta(days=1)
        raise InvalidCalendar("the target does not fit in three years of working hours")

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Business time between ``start`` and ``end`` (zero if ``end`` is not later)."""
        if end <= start:
            return timedelta(0)
        total = timedelta(0)
        day = start.astimezone(self.zone).date() - timedelta(days=1)
        last = end.astimezone(self.zone).date()
        while day <= last:
            for span_start, span_end in self._working_spans(day):
                overlap = min(span_end, end) - max(span_start, start)
                if overlap > timedelta(0):
                    total += overlap
            day += timedelta(days=1)
        return total


ALWAYS = BusinessCalendar(
    name="24x7",
    time_zone="UTC",
    hours={day: (WorkingInterval(time(0), time.max),) for day in WEEKDAYS},
)
