"""Use cases of the SLA configuration: business calendars and SLA policies.

Each use case is one transaction. Edits apply to cases opened afterwards: a case keeps the
deadlines it was given, so nothing here touches an open case.
"""

from __future__ import annotations

from typing import Any

from redress_shared.db import SessionFactory
from sqlalchemy import Row, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError

from case_service import tables
from case_service.sla import calendar_from_values

_CALENDAR_FIELDS = ("time_zone", "hours", "holidays")


class UnknownCalendar(LookupError):
    """A policy names a calendar that does not exist."""


class PriorityAlreadyCovered(ValueError):
    """Another policy already covers the priority (one policy per priority)."""


async def list_calendars(session_factory: SessionFactory) -> list[Row]:
    """Every business calendar, by name."""
    async with session_factory() as session:
        return list(
            (
                await session.execute(select(tables.calendars).order_by(tables.calendars.c.name))
            ).all()
        )


async def get_calendar(session_factory: SessionFactory, name: str) -> Row | None:
    """One business calendar, or None."""
    async with session_factory() as session:
        return (
            await session.execute(select(tables.calendars).where(tables.calendars.c.name == name))
        ).first()


async def save_calendar(session_factory: SessionFactory, values: dict[str, Any]) -> None:
    """Create or replace a calendar; raises InvalidCalendar (nothing written) when its hours
    overlap or its zone or weekdays are unknown."""
    calendar_from_values(**values)
    statement = insert(tables.calendars).values(**values)
    async with session_factory() as session, session.begin():
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=[tables.calendars.c.name],
                set_={key: statement.excluded[key] for key in _CALENDAR_FIELDS},
            )
        )


async def list_policies(session_factory: SessionFactory) -> list[Row]:
    """Every SLA policy, by name."""
    async with session_factory() as session:
        return list(
            (
                await session.execute(
                    select(tables.sla_policies).order_by(tables.sla_policies.c.name)
                )
            ).all()
        )


async def save_policy(session_factory: SessionFactory, values: dict[str, Any]) -> None:
    """Create or replace a policy; raises UnknownCalendar or PriorityAlreadyCovered, with
    nothing written."""
    statement = insert(tables.sla_policies).values(**values)
    try:
        async with session_factory() as session, session.begin():
            known = await session.scalar(
                select(tables.calendars.c.name).where(tables.calendars.c.name == values["calendar"])
            )
            if known is None:
                raise UnknownCalendar(values["calendar"])
            await session.execute(
                statement.on_conflict_do_update(
                    index_elements=[tables.sla_policies.c.name],
                    set_={key: statement.excluded[key] for key in values if key != "name"},
                )
            )
    except IntegrityError as exc:
        raise PriorityAlreadyCovered(values["priority"]) from exc
