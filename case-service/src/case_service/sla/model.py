"""SLA rules, pure (no I/O, time is passed in): business calendars, the three clocks of a
case, policies per priority and the priority ladder a breach climbs.

A calendar has a time zone, working hours per weekday (local wall-clock intervals) and
holidays (local dates). Business time is counted interval by interval in local time and
converted through the time zone, so a DST change shortens or lengthens the day exactly as
the wall clock does.

Each clock counts business time on its calendar from when the complaint was received. It
warns at a share of its target and breaches at the target; ``awaiting_customer`` pauses it
and the pause moves its deadlines by the business time that was left. A statutory cap (for
the resolution of written complaints) is calendar time from receipt that no pause extends.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from redress_shared.errors import DomainError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
END_OF_DAY = time(23, 59, 59, 999999)
# Far enough for any SLA; guards the day-by-day walk against a calendar with no hours.
MAX_DAYS_SCANNED = 3 * 366


class InvalidCalendar(DomainError):
    """The calendar cannot be used (bad zone, overlapping or empty hours)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail, weekdays=list(WEEKDAYS))


class UnknownCalendar(DomainError):
    """A policy names a calendar that does not exist."""

    def __init__(self, name: str) -> None:
        super().__init__(f"No calendar named {name!r}")


class PriorityAlreadyCovered(DomainError):
    """Another policy already covers the priority (one policy per priority)."""

    def __init__(self, policy: str) -> None:
        super().__init__(f"Edit that policy instead of {policy!r}")


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
    # Derived: open around the clock every day (business time is real time), and the
    # working spans of each local day already worked out (a burst of cases asks for the
    # same few days thousands of times).
    always_open: bool = field(default=False, init=False, compare=False)
    _spans: dict[date, list[tuple[datetime, datetime]]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

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
        whole_day = (WorkingInterval(time(0), time.max),)
        always = not self.holidays and all(self.hours.get(d) == whole_day for d in WEEKDAYS)
        object.__setattr__(self, "always_open", always)

    @property
    def zone(self) -> ZoneInfo:
        """The calendar's time zone."""
        return ZoneInfo(self.time_zone)

    def _working_spans(self, day: date) -> list[tuple[datetime, datetime]]:
        """Working spans of one local day as aware UTC datetimes."""
        spans = self._spans.get(day)
        if spans is None:
            if len(self._spans) >= MAX_DAYS_SCANNED:
                self._spans.clear()
            spans = self._spans[day] = self._compute_working_spans(day)
        return spans

    def _compute_working_spans(self, day: date) -> list[tuple[datetime, datetime]]:
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
        if self.always_open:
            return start.astimezone(UTC) + duration
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
        if self.always_open:
            return real_duration(start, end)
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


def _parse_time(text: str) -> time:
    return time.max if text == "24:00" else time.fromisoformat(text)


def calendar_from_values(
    name: str, time_zone: str, hours: dict[str, list], holidays: list[str]
) -> BusinessCalendar:
    """The domain calendar of stored values (``"09:00"`` times, ISO dates); validates them."""
    return BusinessCalendar(
        name=name,
        time_zone=time_zone,
        hours={
            day: tuple(
                WorkingInterval(_parse_time(start), _parse_time(end)) for start, end in spans
            )
            for day, spans in hours.items()
        },
        holidays=frozenset(date.fromisoformat(day) for day in holidays),
    )


def real_duration(start: datetime, end: datetime) -> timedelta:
    """Time that really passed from ``start`` to ``end``. (Python subtracts two datetimes
    of the same zone by wall clock, which is an hour off across a DST change.)"""
    return end.astimezone(UTC) - start.astimezone(UTC)


class ClockName(StrEnum):
    """The three SLA clocks every case has."""

    ACKNOWLEDGE = "acknowledge"
    FIRST_RESPONSE = "first_response"
    RESOLVE = "resolve"


class ClockState(StrEnum):
    """Where a clock is."""

    RUNNING = "running"
    PAUSED = "paused"
    MET = "met"
    BREACHED = "breached"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class SlaClock:
    """One deadline of one case."""

    name: ClockName
    target: timedelta
    started_at: datetime
    due_at: datetime
    warn_at: datetime
    state: ClockState = ClockState.RUNNING
    warning_share: float = 0.8
    cap_at: datetime | None = None
    paused_since: datetime | None = None
    paused_total: timedelta = timedelta(0)
    stopped_at: datetime | None = None
    warning_fired_at: datetime | None = None
    breached_at: datetime | None = None

    @property
    def ticking(self) -> bool:
        """True while the clock can still warn or breach."""
        return self.state is ClockState.RUNNING

    def pause(self, now: datetime) -> SlaClock:
        """Stop counting while the case waits on the customer."""
        if self.state is not ClockState.RUNNING:
            return self
        return replace(self, state=ClockState.PAUSED, paused_since=now)

    def resume(self, now: datetime, calendar: BusinessCalendar) -> SlaClock:
        """Count again; deadlines move by the business time that was left at the pause."""
        if self.state is not ClockState.PAUSED or self.paused_since is None:
            return self
        due = calendar.add(now, calendar.elapsed(self.paused_since, self.due_at))
        warn = self.warn_at
        if self.warning_fired_at is None:
            warn = calendar.add(now, calendar.elapsed(self.paused_since, self.warn_at))
        if self.cap_at is not None:
            due, warn = min(due, self.cap_at), min(warn, self.cap_at)
        return replace(
            self,
            state=ClockState.RUNNING,
            due_at=due,
            warn_at=warn,
            paused_since=None,
            paused_total=self.paused_total + real_duration(self.paused_since, now),
        )

    def stop(self, now: datetime) -> SlaClock:
        """The obligation was fulfilled (a breached clock stays breached)."""
        if self.state in (ClockState.MET, ClockState.CANCELLED) or self.stopped_at is not None:
            return self
        state = ClockState.BREACHED if self.state is ClockState.BREACHED else ClockState.MET
        return replace(self, state=state, stopped_at=now, paused_since=None)

    def cancel(self, now: datetime) -> SlaClock:
        """The case left the process (withdrawn, merged): nothing is owed any more."""
        if self.state in (ClockState.RUNNING, ClockState.PAUSED):
            return replace(self, state=ClockState.CANCELLED, stopped_at=now, paused_since=None)
        return self

    def restart(self, now: datetime, calendar: BusinessCalendar) -> SlaClock:
        """Start afresh with the same target (a reopened case owes a new resolution)."""
        return SlaClock(
            name=self.name,
            target=self.target,
            started_at=now,
            due_at=calendar.add(now, self.target),
            warn_at=calendar.add(now, self.target * self.warning_share),
            warning_share=self.warning_share,
        )

    def renew(self, now: datetime, calendar: BusinessCalendar, target: timedelta) -> SlaClock:
        """A fresh clock from ``now`` with ``target`` (an unmerged case is owed new deadlines
        under its policy). The statutory cap, counted from receipt, still holds."""
        due = calendar.add(now, target)
        warn = calendar.add(now, target * self.warning_share)
        if self.cap_at is not None:
            due, warn = min(due, self.cap_at), min(warn, self.cap_at)
        return SlaClock(
            name=self.name,
            target=target,
            started_at=now,
            due_at=due,
            warn_at=warn,
            warning_share=self.warning_share,
            cap_at=self.cap_at,
        )

    def warn(self, now: datetime) -> SlaClock:
        """Record that the warning fired."""
        return replace(self, warning_fired_at=now)

    def breach(self, now: datetime) -> SlaClock:
        """Record that the deadline passed unmet."""
        return replace(
            self,
            state=ClockState.BREACHED,
            breached_at=now,
            warning_fired_at=self.warning_fired_at or now,
        )

    def view(self, now: datetime, calendar: BusinessCalendar) -> dict:
        """What ops sees: target, elapsed, remaining, paused time and state (seconds)."""
        until = self.stopped_at or self.paused_since or now
        if until <= self.due_at:
            remaining = calendar.elapsed(until, self.due_at)
        else:
            remaining = -calendar.elapsed(self.due_at, until)
        paused = self.paused_total + (
            real_duration(self.paused_since, now) if self.paused_since else timedelta(0)
        )
        return {
            "clock": self.name.value,
            "state": self.state.value,
            "target_seconds": int(self.target.total_seconds()),
            "due_at": self.due_at,
            "warn_at": self.warn_at,
            "elapsed_seconds": int((self.target - remaining).total_seconds()),
            "remaining_seconds": int(remaining.total_seconds()),
            "paused_seconds": int(paused.total_seconds()),
            "warning_fired_at": self.warning_fired_at,
            "breached_at": self.breached_at,
        }


def start_clocks(
    *,
    received_at: datetime,
    targets: dict[ClockName, timedelta],
    calendar: BusinessCalendar,
    warning_share: float,
    statutory_cap: timedelta | None,
) -> list[SlaClock]:
    """The clocks of a new case, all started when the complaint was received."""
    clocks = []
    for name, target in targets.items():
        due = calendar.add(received_at, target)
        warn = calendar.add(received_at, target * warning_share)
        cap_at = (
            received_at + statutory_cap if statutory_cap and name is ClockName.RESOLVE else None
        )
        if cap_at is not None:
            due, warn = min(due, cap_at), min(warn, cap_at)
        clocks.append(
            SlaClock(
                name, target, received_at, due, warn, warning_share=warning_share, cap_at=cap_at
            )
        )
    return clocks


class Priority(StrEnum):
    """How urgently a case is worked; SLA targets follow it."""

    URGENT = "urgent"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


PRIORITY_ORDER = (Priority.LOW, Priority.NORMAL, Priority.HIGH, Priority.URGENT)


def escalated(priority: Priority) -> Priority:
    """One step more urgent (a breach escalates)."""
    return PRIORITY_ORDER[min(PRIORITY_ORDER.index(priority) + 1, len(PRIORITY_ORDER) - 1)]


# Written complaints have a statutory deadline; a phone call does not.
WRITTEN_CHANNELS = frozenset({"api", "email", "chat", "social"})


@dataclass(frozen=True)
class SlaPolicy:
    """Targets for one priority, in business time on ``calendar``."""

    name: str
    priority: Priority
    acknowledge_within: timedelta
    first_response_within: timedelta
    resolve_within: timedelta
    calendar: BusinessCalendar = ALWAYS
    warning_share: float = 0.8
    statutory_cap: timedelta | None = None

    def start_clocks(self, received_at: datetime, channel: str) -> list[SlaClock]:
        """The clocks of a case received at ``received_at`` on ``channel``."""
        return start_clocks(
            received_at=received_at,
            targets={
                ClockName.ACKNOWLEDGE: self.acknowledge_within,
                ClockName.FIRST_RESPONSE: self.first_response_within,
                ClockName.RESOLVE: self.resolve_within,
            },
            calendar=self.calendar,
            warning_share=self.warning_share,
            statutory_cap=self.statutory_cap if channel in WRITTEN_CHANNELS else None,
        )


@dataclass(frozen=True)
class DueTimes:
    """When each SLA clock of a case runs out."""

    acknowledge_by: datetime
    first_response_by: datetime
    resolve_by: datetime

    @classmethod
    def of(cls, clocks: list[SlaClock]) -> DueTimes:
        """The deadlines of a case's clocks."""
        due = {clock.name: clock.due_at for clock in clocks}
        return cls(
            due[ClockName.ACKNOWLEDGE], due[ClockName.FIRST_RESPONSE], due[ClockName.RESOLVE]
        )
