"""SQL of a case's messages."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from case_service import tables


async def insert_message(session: AsyncSession, values: dict[str, Any]) -> Row | None:
    """Store a message; None if one with its id is already stored (a replayed event)."""
    messages = tables.case_messages
    result = await session.execute(
        insert(messages)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(*messages.c)
    )
    return result.first()
