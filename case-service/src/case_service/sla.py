"""SLA persistence and the timer loop: clocks are rows, deadlines fire once.

The timer loop finds cases with a clock whose warning or deadline has passed, locks each
case row (SKIP LOCKED, so replicas share the work and never fire the same deadline twice),
re-checks its clocks under the lock, records the warning or breach on the clock, escalates
a breach, and writes the events to the outbox, all in one transaction.
"""

from __future__ import annotations

from datetime import date, datetime, time

import structlog
from redress_shared.clock import Clock
from redress_shared.events import (
    CASE_SLA_BREACHED,
    CASE_SLA_WARNING,
    CASES_TOPIC,
    CaseSlaV1,
    new_event,
)
from redress_shared.outbox import add_to_outbox
from sqlalchemy import Row, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from case_service import tables
from case_service.calendars import BusinessCalendar, WorkingInterval
from case_service.clocks import ClockName, ClockState, SlaClock
from case_service.history import append_history
from case_service.models import DueTimes, Priority, escalated
from case_service.teams import team_lead

log = structlog.get_logger(__name__)
EVENT_SOURCE = "/redress/case-service"


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


def calendar_from_row(row: Row) -> BusinessCalendar:
    """The domain calendar of a ``calendars`` row."""
    return calendar_from_values(row.name, row.time_zone, row.hours, row.holidays)


async def load_calendar(session: AsyncSession, name: str) -> BusinessCalendar:
    """One calendar by name."""
    row = (
        await session.execute(select(tables.calendars).where(tables.calendars.c.name == name))
    ).one()
    return calendar_from_row(row)


def _clock_values(clock: SlaClock) -> dict:
    return {
        "target": clock.target,
        "warning_share": clock.warning_share,
        "started_at": clock.started_at,
        "due_at": clock.due_at,
        "warn_at": clock.warn_at,
        "cap_at": clock.cap_at,
        "state": clock.state.value,
        "paused_since": clock.paused_since,
        "paused_total": clock.paused_total,
        "stopped_at": clock.stopped_at,
        "warning_fired_at": clock.warning_fired_at,
        "breached_at": clock.breached_at,
    }


def _clock_from_row(row: Row) -> SlaClock:
    return SlaClock(
        name=ClockName(row.clock),
        target=row.target,
        started_at=row.started_at,
        due_at=row.due_at,
        warn_at=row.warn_at,
        state=ClockState(row.state),
        warning_share=row.warning_share,
        cap_at=row.cap_at,
        paused_since=row.paused_since,
        paused_total=row.paused_total,
        stopped_at=row.stopped_at,
        warning_fired_at=row.warning_fired_at,
        breached_at=row.breached_at,
    )


async def insert_clocks(session: AsyncSession, case_id, calendar: str, clocks) -> None:  # noqa: ANN001
    """Store a new case's clocks."""
    await session.execute(
        tables.case_clocks.insert(),
        [
            {"case_id": case_id, "clock": c.name.value, "calendar": calendar, **_clock_values(c)}
            for c in clocks
        ],
    )


async def load_clocks(session: AsyncSession, case_id) -> tuple[str, dict[ClockName, SlaClock]]:  # noqa: ANN001
    """A case's clocks and the name of their calendar (the caller holds the case lock)."""
    rows = (
        await session.execute(
            select(tables.case_clocks).where(tables.case_clocks.c.case_id == case_id)
        )
    ).all()
    calendar = rows[0].calendar if rows else "24x7"
    return calendar, {ClockName(row.clock): _clock_from_row(row) for row in rows}


async def save_clocks(session: AsyncSession, case_id, clocks: dict[ClockName, SlaClock]) -> None:  # noqa: ANN001
    """Write changed clocks back, and the case's current deadlines with them."""
    for clock in clocks.values():
        await session.execute(
            tables.case_clocks.update()
            .where(
                tables.case_clocks.c.case_id == case_id,
                tables.case_clocks.c.clock == clock.name.value,
            )
            .values(**_clock_values(clock))
        )
    if len(clocks) == len(ClockName):
        due = DueTimes.of(list(clocks.values()))
        await session.execute(
            tables.cases.update()
            .where(tables.cases.c.id == case_id)
            .values(
                acknowledge_by=due.acknowledge_by,
                first_response_by=due.first_response_by,
                resolve_by=due.resolve_by,
            )
        )


def _fire_condition(now: datetime):  # noqa: ANN202
    clocks = tables.case_clocks
    return and_(
        clocks.c.state == ClockState.RUNNING.value,
        or_(
            clocks.c.due_at <= now,
            and_(clocks.c.warning_fired_at.is_(None), clocks.c.warn_at <= now),
        ),
    )


async def fire_due_timers(
    session_factory: async_sessionmaker[AsyncSession], clock: Clock, limit: int = 100
) -> int:
    """Fire every warning and breach that is due now; return how many fired."""
    now = clock.now()
    fired = 0
    async with session_factory() as session, session.begin():
        due_cases = (
            select(tables.case_clocks.c.case_id).where(_fire_condition(now)).distinct().limit(limit)
        ).scalar_subquery()
        cases = (
            await session.execute(
                select(tables.cases)
                .where(tables.cases.c.id.in_(due_cases))
                .with_for_update(skip_locked=True, of=tables.cases)
            )
        ).all()
        for case in cases:
            _calendar, clocks = await load_clocks(session, case.id)
            priority = Priority(case.priority)
            for name, sla_clock in list(clocks.items()):
                if not sla_clock.ticking:
                    continue
                if sla_clock.due_at <= now:
                    clocks[name] = sla_clock.breach(now)
                    new_priority = escalated(priority)
                    event = _sla_event(
                        CASE_SLA_BREACHED, case, clocks[name], now, priority, new_priority
                    )
                    await add_to_outbox(session, tables.platform, CASES_TOPIC, event)
                    await append_history(
                        session,
                        case.id,
                        now,
                        "sla-timer",
                        "sla_breached",
                        {"priority": priority.value},
                        {
                            "clock": name.value,
                            "priority": new_priority.value,
                            "reason": f"{name.value} deadline passed",
                        },
                        event.id,
                    )
                    priority = new_priority
                    fired += 1
                elif sla_clock.warning_fired_at is None and sla_clock.warn_at <= now:
                    clocks[name] = sla_clock.warn(now)
                    event = _sla_event(
                        CASE_SLA_WARNING, case, clocks[name], now, priority, priority
                    )
                    await add_to_outbox(session, tables.platform, CASES_TOPIC, event)
                    await append_history(
                        session,
                        case.id,
                        now,
                        "sla-timer",
                        "sla_warning",
                        None,
                        {"clock": name.value},
                        event.id,
                    )
                    fired += 1
            await save_clocks(session, case.id, clocks)
            if priority.value != case.priority:
                # A breach escalates: one priority up, and to the team lead's desk.
                lead = await team_lead(session, case.team)
                await session.execute(
                    tables.cases.update()
                    .where(tables.cases.c.id == case.id)
                    .values(
                        priority=priority.value,
                        assignee=lead or case.assignee,
                        version=tables.cases.c.version + 1,
                        updated_at=now,
                    )
                )
    if fired:
        log.info("sla_timers_fired", count=fired)
    return fired


def _sla_event(
    event_type: str,
    case: Row,
    sla_clock: SlaClock,
    now: datetime,
    before: Priority,
    after: Priority,
):  # noqa: ANN202
    payload = CaseSlaV1(
        case_id=case.id,
        reference=case.reference,
        clock=sla_clock.name.value,
        due_at=sla_clock.due_at,
        occurred_at=now,
        priority_before=before.value,
        priority_after=after.value,
    )
    return new_event(
        source=EVENT_SOURCE,
        type=event_type,
        key=str(case.id),
        subject=str(case.id),
        payload=payload,
        time=now,
    )


async def next_fire_at(session: AsyncSession) -> datetime | None:
    """When the next warning or deadline falls (for the timer loop's sleep)."""
    clocks = tables.case_clocks
    return await session.scalar(
        select(func.min(func.least(clocks.c.due_at, clocks.c.warn_at))).where(
            clocks.c.state == ClockState.RUNNING.value
        )
    )
