"""SQL of SLAs: each case's clocks (one row per clock), business calendars and SLA policies."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, and_, case, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from case_service import tables
from case_service.sla.model import (
    BusinessCalendar,
    ClockName,
    ClockState,
    DueTimes,
    Priority,
    PriorityAlreadyCovered,
    SlaClock,
    SlaPolicy,
    calendar_from_values,
)

DEFAULT_CALENDAR = "24x7"
_CALENDAR_FIELDS = ("time_zone", "hours", "holidays")


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


CLOCK_COLUMNS = (
    *("case_id", "clock", "calendar", "target", "warning_share", "started_at", "due_at"),
    *("warn_at", "cap_at", "state", "paused_since", "paused_total", "stopped_at"),
    *("warning_fired_at", "breached_at"),
)


def clock_rows(
    new_cases: Iterable[tuple[uuid.UUID, str, Iterable[SlaClock]]],
) -> list[tuple]:
    """The ``case_clocks`` rows (values in :data:`CLOCK_COLUMNS` order) of new cases, each
    ``(case id, calendar name, clocks)``."""
    return [
        (
            *(case_id, c.name.value, calendar, c.target, c.warning_share, c.started_at),
            *(c.due_at, c.warn_at, c.cap_at, c.state.value, c.paused_since, c.paused_total),
            *(c.stopped_at, c.warning_fired_at, c.breached_at),
        )
        for case_id, calendar, clocks in new_cases
        for c in clocks
    ]


async def load_clocks(
    session: AsyncSession, case_id: uuid.UUID
) -> tuple[str, dict[ClockName, SlaClock]]:
    """A case's clocks and the name of their calendar (the caller holds the case lock)."""
    rows = (
        await session.execute(
            select(tables.case_clocks).where(tables.case_clocks.c.case_id == case_id)
        )
    ).all()
    calendar = rows[0].calendar if rows else DEFAULT_CALENDAR
    return calendar, {ClockName(row.clock): _clock_from_row(row) for row in rows}


async def save_clocks(
    session: AsyncSession, case_id: uuid.UUID, clocks: dict[ClockName, SlaClock]
) -> None:
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


async def lock_cases_with_due_clocks(session: AsyncSession, now: datetime, limit: int) -> list[Row]:
    """Up to ``limit`` cases (fewer when several of their clocks are due) with a running clock
    whose warning or deadline has passed, most overdue first, locked with SKIP LOCKED:
    replicas share the work and never fire the same deadline twice."""
    clocks = tables.case_clocks
    # When the clock next needs the timer (its warning if not yet fired, else its deadline),
    # written as the expression of the partial index ix_case_clocks_next_fire (migration
    # 0003), so a tick reads what is due instead of every clock ever started.
    next_fire = func.least(
        case((clocks.c.warning_fired_at.is_(None), clocks.c.warn_at)), clocks.c.due_at
    )
    due = and_(clocks.c.state == ClockState.RUNNING.value, next_fire <= now)
    # The most overdue first, read off that index in order; a case with several due clocks
    # appears more than once, which ``IN`` does not mind (no DISTINCT: it would make the
    # planner read every clock in case order).
    due_cases = (
        select(clocks.c.case_id).where(due).order_by(next_fire).limit(limit)
    ).scalar_subquery()
    rows = await session.execute(
        select(tables.cases)
        .where(tables.cases.c.id.in_(due_cases))
        .with_for_update(skip_locked=True, of=tables.cases)
    )
    return list(rows.all())


async def load_sla_policies(session: AsyncSession) -> dict[Priority, SlaPolicy]:
    """The SLA policy of each priority, with its business calendar."""
    rows = (await session.execute(select(tables.sla_policies))).all()
    calendars = {
        row.name: calendar_from_row(row)
        for row in (await session.execute(select(tables.calendars))).all()
    }
    return {
        Priority(row.priority): SlaPolicy(
            name=row.name,
            priority=Priority(row.priority),
            acknowledge_within=row.acknowledge_within,
            first_response_within=row.first_response_within,
            resolve_within=row.resolve_within,
            calendar=calendars[row.calendar],
            warning_share=row.warning_share,
            statutory_cap=row.statutory_cap,
        )
        for row in rows
    }


async def policy_targets(session: AsyncSession, policy_name: str) -> dict[ClockName, timedelta]:
    """The current targets of the named SLA policy (empty if it no longer exists)."""
    policy = (
        await session.execute(
            select(tables.sla_policies).where(tables.sla_policies.c.name == policy_name)
        )
    ).first()
    if policy is None:
        return {}
    return {
        ClockName.ACKNOWLEDGE: policy.acknowledge_within,
        ClockName.FIRST_RESPONSE: policy.first_response_within,
        ClockName.RESOLVE: policy.resolve_within,
    }


async def list_calendars(session: AsyncSession) -> list[Row]:
    """Every business calendar, by name."""
    rows = await session.execute(select(tables.calendars).order_by(tables.calendars.c.name))
    return list(rows.all())


async def get_calendar(session: AsyncSession, name: str) -> Row | None:
    """One business calendar, or None."""
    return (
        await session.execute(select(tables.calendars).where(tables.calendars.c.name == name))
    ).first()


async def upsert_calendar(session: AsyncSession, values: dict[str, Any]) -> None:
    """Create or replace a calendar row."""
    statement = insert(tables.calendars).values(**values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[tables.calendars.c.name],
            set_={key: statement.excluded[key] for key in _CALENDAR_FIELDS},
        )
    )


async def list_policies(session: AsyncSession) -> list[Row]:
    """Every SLA policy, by name."""
    rows = await session.execute(select(tables.sla_policies).order_by(tables.sla_policies.c.name))
    return list(rows.all())


async def upsert_policy(session: AsyncSession, values: dict[str, Any]) -> None:
    """Create or replace a policy row; PriorityAlreadyCovered when another policy has its
    priority (the unique index says so)."""
    statement = insert(tables.sla_policies).values(**values)
    try:
        async with session.begin_nested():
            await session.execute(
                statement.on_conflict_do_update(
                    index_elements=[tables.sla_policies.c.name],
                    set_={key: statement.excluded[key] for key in values if key != "name"},
                )
            )
    except IntegrityError as exc:
        raise PriorityAlreadyCovered(values["name"]) from exc
