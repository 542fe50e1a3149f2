"""Team lookups shared by assignment and the SLA timer (both escalate to the team lead)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from case_service import tables
from case_service.routing import DEFAULT_TEAM


async def team_lead(session: AsyncSession, team: str | None) -> str | None:
    """The lead of ``team`` (or of the default team); None if the team does not exist."""
    return await session.scalar(
        select(tables.teams.c.lead).where(tables.teams.c.name == (team or DEFAULT_TEAM))
    )
