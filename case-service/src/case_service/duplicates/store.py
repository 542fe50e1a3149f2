"""SQL of duplicate detection: the cases that may be duplicates of one case."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncSession

from case_service import tables
from case_service.duplicates.model import NOT_DUPLICATE_CANDIDATES


async def duplicate_candidates(session: AsyncSession, case: Row, window: timedelta) -> list[Row]:
    """The same customer's other cases, received within ``window`` of ``case``, that may
    still be duplicates of it (not merged or withdrawn)."""
    cases = tables.cases
    rows = await session.execute(
        select(cases)
        .where(
            cases.c.customer_key == case.customer_key,
            cases.c.id != case.id,
            cases.c.status.not_in(NOT_DUPLICATE_CANDIDATES),
            cases.c.received_at.between(case.received_at - window, case.received_at + window),
        )
        .order_by(cases.c.received_at)
        .limit(100)
    )
    return list(rows.all())
