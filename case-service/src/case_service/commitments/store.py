"""SQL of commitments."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncSession

from case_service import tables
from case_service.commitments.model import OPEN


async def insert_commitment(session: AsyncSession, values: dict[str, Any]) -> Row:
    """Store a new commitment; return it as stored."""
    commitments = tables.commitments
    result = await session.execute(commitments.insert().values(**values).returning(*commitments.c))
    return result.one()


async def get_commitment(
    session: AsyncSession, case_id: uuid.UUID, commitment_id: uuid.UUID
) -> Row | None:
    """One commitment of the case, or None."""
    commitments = tables.commitments
    query = select(commitments).where(
        commitments.c.id == commitment_id, commitments.c.case_id == case_id
    )
    return (await session.execute(query)).first()


async def settle(
    session: AsyncSession, commitment_id: uuid.UUID, status: str, now: datetime
) -> Row:
    """Mark a commitment settled (kept, cancelled, missed); return it as stored."""
    commitments = tables.commitments
    result = await session.execute(
        commitments.update()
        .where(commitments.c.id == commitment_id)
        .values(status=status, settled_at=now)
        .returning(*commitments.c)
    )
    return result.one()


async def lock_cases_with_missed_commitments(
    session: AsyncSession, now: datetime, limit: int
) -> list[Row]:
    """Up to ``limit`` cases with an open commitment past its deadline, locked with SKIP
    LOCKED, so replicas share the work without doubling it."""
    commitments, cases = tables.commitments, tables.cases
    due_cases = (
        select(commitments.c.case_id)
        .where(commitments.c.status == OPEN, commitments.c.due_at <= now)
        .distinct()
        .limit(limit)
    ).scalar_subquery()
    rows = await session.execute(
        select(cases).where(cases.c.id.in_(due_cases)).with_for_update(skip_locked=True)
    )
    return list(rows.all())


async def missed_commitments(session: AsyncSession, case_id: uuid.UUID, now: datetime) -> list[Row]:
    """The case's open commitments past their deadline."""
    commitments = tables.commitments
    rows = await session.execute(
        select(commitments).where(
            commitments.c.case_id == case_id,
            commitments.c.status == OPEN,
            commitments.c.due_at <= now,
        )
    )
    return list(rows.all())
