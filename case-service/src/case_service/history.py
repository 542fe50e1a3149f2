"""The append-only history of a case: who did what, when, from what to what."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from case_service import tables


async def append_history(
    session: AsyncSession,
    case_id: uuid.UUID,
    at: datetime,
    actor: str,
    action: str,
    before: dict | None,
    after: dict | None,
    event_id: uuid.UUID | None,
) -> None:
    """Append one entry to a case's history (in the caller's transaction)."""
    await session.execute(
        tables.case_history.insert().values(
            case_id=case_id,
            at=at,
            actor=actor,
            action=action,
            before=before,
            after=after,
            event_id=event_id,
        )
    )
