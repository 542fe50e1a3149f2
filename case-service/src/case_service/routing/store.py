"""SQL of teams and routing rules, and the team-lead lookup shared by assignment and the
deadline timers (both escalate to the team lead)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from case_service import tables
from case_service.routing.model import DEFAULT_TEAM, RoutingRule


async def team_lead(session: AsyncSession, team: str | None) -> str | None:
    """The lead of ``team`` (or of the default team); None if the team does not exist."""
    return await session.scalar(
        select(tables.teams.c.lead).where(tables.teams.c.name == (team or DEFAULT_TEAM))
    )


async def list_teams(session: AsyncSession) -> list[Row]:
    """Every team with its lead, by name."""
    return list((await session.execute(select(tables.teams).order_by(tables.teams.c.name))).all())


async def team_names(session: AsyncSession) -> set[str]:
    """The names of every team."""
    return set(await session.scalars(select(tables.teams.c.name)))


async def upsert_team(session: AsyncSession, name: str, lead: str | None) -> None:
    """Create a team or change its lead."""
    statement = insert(tables.teams).values(name=name, lead=lead)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["name"], set_={"lead": statement.excluded.lead}
        )
    )


async def list_routing_rules(session: AsyncSession) -> list[Row]:
    """The routing rule rows in the order they are tried."""
    rules = tables.routing_rules
    return list((await session.execute(select(rules).order_by(rules.c.position))).all())


async def load_routing_rules(session: AsyncSession) -> list[RoutingRule]:
    """The routing rules in the order they are tried, as domain rules."""
    return [
        RoutingRule(r.team, r.category, r.product, r.language, r.channel, r.tier)
        for r in await list_routing_rules(session)
    ]


async def replace_routing_rules(session: AsyncSession, rules: list[dict[str, Any]]) -> None:
    """Replace every routing rule (their order is their position)."""
    await session.execute(delete(tables.routing_rules))
    if rules:
        await session.execute(
            tables.routing_rules.insert(),
            [{"position": i, **rule} for i, rule in enumerate(rules)],
        )
