"""SLA use cases: the timer that fires due warnings and breaches, each case's clocks as ops
sees them, and the configuration (business calendars and SLA policies).

Configuration edits apply to cases opened afterwards: a case keeps the deadlines it was
given, so nothing here touches an open case's clocks.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import structlog
from redress_shared.clock import Clock
from redress_shared.db import SessionFactory
from redress_shared.errors import NotFound
from redress_shared.events import CASE_SLA_BREACHED, CASE_SLA_WARNING
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from case_service.cases.model import CaseChange, HistoryEntry
from case_service.cases.store import record_change
from case_service.routing.store import team_lead
from case_service.sla import store
from case_service.sla.events import sla_event
from case_service.sla.model import Priority, UnknownCalendar, calendar_from_values, escalated

log = structlog.get_logger(__name__)
TIMER_ACTOR = "sla-timer"


async def fire_due_timers(session_factory: SessionFactory, clock: Clock, limit: int = 100) -> int:
    """Fire every warning and breach that is due now; return how many fired.

    Finds up to ``limit`` cases with a clock whose warning or deadline has passed, locks each
    case row (SKIP LOCKED, so replicas share the work and never fire the same deadline twice),
    re-checks its clocks under the lock, records the warning or breach on the clock, escalates
    a breach, and writes the events to the outbox, all in one transaction."""
    now = clock.now()
    fired = 0
    async with session_factory() as session, session.begin():
        for case in await store.lock_cases_with_due_clocks(session, now, limit):
            change = await _fire_clocks_of(session, case, now)
            await record_change(session, case, change, now)
            fired += len(change.events)
    if fired:
        log.info("sla_timers_fired", count=fired)
    return fired


async def _fire_clocks_of(session: AsyncSession, case: Row, now: datetime) -> CaseChange:
    """Warn or breach each due clock of the locked ``case``; a breach escalates it."""
    _calendar, clocks = await store.load_clocks(session, case.id)
    priority = Priority(case.priority)
    change: CaseChange = CaseChange(history=[], bump_version=False)
    for name, sla_clock in list(clocks.items()):
        if not sla_clock.ticking:
            continue
        if sla_clock.due_at <= now:
            clocks[name] = sla_clock.breach(now)
            new_priority = escalated(priority)
            event = sla_event(CASE_SLA_BREACHED, case, clocks[name], now, priority, new_priority)
            entry = HistoryEntry(
                "sla_breached",
                TIMER_ACTOR,
                {"priority": priority.value},
                {
                    "clock": name.value,
                    "priority": new_priority.value,
                    "reason": f"{name.value} deadline passed",
                },
                event.id,
            )
            priority = new_priority
        elif sla_clock.warning_fired_at is None and sla_clock.warn_at <= now:
            clocks[name] = sla_clock.warn(now)
            event = sla_event(CASE_SLA_WARNING, case, clocks[name], now, priority, priority)
            entry = HistoryEntry("sla_warning", TIMER_ACTOR, None, {"clock": name.value}, event.id)
        else:
            continue
        change.events.append(event)
        change.history.append(entry)
    await store.save_clocks(session, case.id, clocks)
    if priority.value != case.priority:
        # A breach escalates: one priority up, and to the team lead's desk.
        lead = await team_lead(session, case.team)
        change.values = {"priority": priority.value, "assignee": lead or case.assignee}
        change.bump_version = True
    return change


async def case_clocks(
    session_factory: SessionFactory, case_id: uuid.UUID, now: datetime
) -> list[dict]:
    """Each SLA clock of a case as ops sees it: target, elapsed, remaining, paused, state."""
    async with session_factory() as session:
        calendar_name, clocks = await store.load_clocks(session, case_id)
        calendar = await store.load_calendar(session, calendar_name)
    return [clock.view(now, calendar) for clock in clocks.values()]


async def list_calendars(session_factory: SessionFactory) -> list[Row]:
    """Every business calendar, by name."""
    async with session_factory() as session:
        return await store.list_calendars(session)


async def get_calendar(session_factory: SessionFactory, name: str) -> Row:
    """One business calendar; NotFound if there is none of that name."""
    async with session_factory() as session:
        row = await store.get_calendar(session, name)
    if row is None:
        raise NotFound("calendar", name)
    return row


async def save_calendar(session_factory: SessionFactory, values: dict[str, Any]) -> None:
    """Create or replace a calendar; raises InvalidCalendar (nothing written) when its hours
    overlap or its zone or weekdays are unknown."""
    calendar_from_values(**values)
    async with session_factory() as session, session.begin():
        await store.upsert_calendar(session, values)


async def list_policies(session_factory: SessionFactory) -> list[Row]:
    """Every SLA policy, by name."""
    async with session_factory() as session:
        return await store.list_policies(session)


async def save_policy(session_factory: SessionFactory, values: dict[str, Any]) -> None:
    """Create or replace a policy; raises UnknownCalendar or PriorityAlreadyCovered, with
    nothing written."""
    async with session_factory() as session, session.begin():
        if await store.get_calendar(session, values["calendar"]) is None:
            raise UnknownCalendar(values["calendar"])
        await store.upsert_policy(session, values)
