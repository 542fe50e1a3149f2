"""SQL of outcomes: the decision, remedies and the satisfaction survey of a case."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Row, Table, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from case_service import tables


async def get_decision(session: AsyncSession, case_id: uuid.UUID) -> Row | None:
    """The case's decision, or None."""
    decisions = tables.case_decisions
    return (await session.execute(select(decisions).where(decisions.c.case_id == case_id))).first()


async def upsert_decision(session: AsyncSession, values: dict[str, Any]) -> Row:
    """Record (or revise) the decision of ``values["case_id"]``; return it as stored."""
    decisions = tables.case_decisions
    statement = insert(decisions).values(**values)
    result = await session.execute(
        statement.on_conflict_do_update(
            index_elements=[decisions.c.case_id],
            set_={k: statement.excluded[k] for k in values if k != "case_id"},
        ).returning(*decisions.c)
    )
    return result.one()


async def insert_remedy(session: AsyncSession, values: dict[str, Any]) -> Row:
    """Store a new remedy; return it as stored."""
    remedies = tables.remedies
    return (await session.execute(remedies.insert().values(**values).returning(*remedies.c))).one()


async def get_remedy(session: AsyncSession, case_id: uuid.UUID, remedy_id: uuid.UUID) -> Row | None:
    """One remedy of the case, or None."""
    remedies = tables.remedies
    query = select(remedies).where(remedies.c.id == remedy_id, remedies.c.case_id == case_id)
    return (await session.execute(query)).first()


async def update_remedy(session: AsyncSession, remedy_id: uuid.UUID, values: dict[str, Any]) -> Row:
    """Change a remedy; return it as stored."""
    remedies = tables.remedies
    result = await session.execute(
        remedies.update().where(remedies.c.id == remedy_id).values(**values).returning(*remedies.c)
    )
    return result.one()


async def insert_survey(session: AsyncSession, values: dict[str, Any]) -> Row | None:
    """Store the case's satisfaction survey; None if it already has one."""
    surveys = tables.satisfaction_surveys
    result = await session.execute(
        insert(surveys).values(**values).on_conflict_do_nothing().returning(*surveys.c)
    )
    return result.first()


async def _rows_of_case(
    session: AsyncSession, table: Table, case_id: uuid.UUID, order: Any = None
) -> list[Row]:
    query = select(table).where(table.c.case_id == case_id)
    if order is not None:
        query = query.order_by(order)
    return list((await session.execute(query)).all())


async def outcomes_of_case(session: AsyncSession, case_id: uuid.UUID) -> dict[str, Any]:
    """Messages (oldest first), decision, remedies (oldest first) and survey of a case."""
    messages, remedies = tables.case_messages, tables.remedies
    decisions = await _rows_of_case(session, tables.case_decisions, case_id)
    surveys = await _rows_of_case(session, tables.satisfaction_surveys, case_id)
    return {
        "messages": await _rows_of_case(session, messages, case_id, messages.c.created_at),
        "decision": next(iter(decisions), None),
        "remedies": await _rows_of_case(session, remedies, case_id, remedies.c.created_at),
        "satisfaction": next(iter(surveys), None),
    }
