"""SQL of corrective actions and their links to cases."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from case_service import tables


async def existing_case_ids(session: AsyncSession, case_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Those of ``case_ids`` that name a case."""
    cases = tables.cases
    return set(await session.scalars(select(cases.c.id).where(cases.c.id.in_(case_ids))))


async def link_cases(session: AsyncSession, action_id: uuid.UUID, case_ids: set[uuid.UUID]) -> None:
    """Link cases to the action (a link already there stays as it is)."""
    await session.execute(
        insert(tables.corrective_action_cases)
        .values([{"action_id": action_id, "case_id": case_id} for case_id in case_ids])
        .on_conflict_do_nothing()
    )


async def insert_action(session: AsyncSession, values: dict[str, Any]) -> None:
    """Store a new corrective action."""
    await session.execute(tables.corrective_actions.insert().values(**values))


async def insert_action_for_alert(
    session: AsyncSession, values: dict[str, Any]
) -> uuid.UUID | None:
    """Store the corrective action of an alert; None if that alert already has one."""
    actions = tables.corrective_actions
    return await session.scalar(
        insert(actions)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["source_alert_id"])
        .returning(actions.c.id)
    )


async def supplier_case_ids(
    session: AsyncSession, supplier: str, start: datetime, end: datetime
) -> list[uuid.UUID]:
    """The supplier's cases received in [start, end)."""
    cases = tables.cases
    return list(
        await session.scalars(
            select(cases.c.id).where(
                cases.c.supplier == supplier,
                cases.c.received_at >= start,
                cases.c.received_at < end,
            )
        )
    )


async def get_action(
    session: AsyncSession, action_id: uuid.UUID, *, lock: bool = False
) -> Row | None:
    """One corrective action, or None; ``lock`` holds it for this transaction."""
    actions = tables.corrective_actions
    query = select(actions).where(actions.c.id == action_id)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).first()


async def update_action(
    session: AsyncSession, action_id: uuid.UUID, values: dict[str, Any]
) -> None:
    """Change a corrective action."""
    actions = tables.corrective_actions
    await session.execute(actions.update().where(actions.c.id == action_id).values(**values))


async def linked_case_ids(session: AsyncSession, action_id: uuid.UUID) -> list[uuid.UUID]:
    """The ids of the cases linked to the action."""
    links = tables.corrective_action_cases
    return list(
        await session.scalars(select(links.c.case_id).where(links.c.action_id == action_id))
    )


async def list_actions(
    session: AsyncSession, status: str | None, supplier: str | None
) -> list[Row]:
    """Corrective actions, newest first, optionally of one status or supplier."""
    actions = tables.corrective_actions
    query = select(actions).order_by(actions.c.created_at.desc(), actions.c.id)
    if status:
        query = query.where(actions.c.status == status)
    if supplier:
        query = query.where(actions.c.supplier == supplier)
    return list((await session.execute(query)).all())
