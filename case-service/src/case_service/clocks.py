"""SLA clocks of a case: acknowledgement, first response and resolution. Pure domain.

Each clock counts business time on its calendar from when the complaint was received. It
warns at a share of its target and breaches at the target; ``awaiting_customer`` pauses it
and the pause moves its deadlines by the business time that was left. A statutory cap (for
the resolution of written complaints) is calendar time from receipt that no pause extends.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from case_service.calendars import BusinessCalendar


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
