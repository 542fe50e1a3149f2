"""Teams and routing rules: their use cases, and the team-lead lookup shared by assignment and
the SLA timer (both escalate to the team lead)."""

from __future__ import annotations

from typing import Any

from redress_shared.db import SessionFactory
from sqlalchemy import Row, delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from case_service import tables
from case_service.routing import DEFAULT_TEAM


async def team_lead(session: AsyncSession, team: str | None) -> str | None:
    """The lead of ``team`` (or of the default team); None if the team does not exist."""
    return await session.scalar(
        select(tables.teams.c.lead).where(tables.teams.c.name == (team or DEFAULT_TEAM))
    )


class UnknownTeams(LookupError):
    """Routing rules name teams that do not exist."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(", ".join(names))
        self.names = names


async def list_teams(session_factory: SessionFactory) -> list[Row]:
    """Every team with its lead, by name."""
    async with session_factory() as session:
        return list(
            (await session.execute(select(tables.teams).order_by(tables.teams.c.name))).all()
        )


async def save_team(session_factory: SessionFactory, name: str, lead: str | None) -> None:
    """Create a team or change its lead."""
    statement = insert(tables.teams).values(name=name, lead=lead)
    async with session_factory() as session, session.begin():
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=["name"], set_={"lead": statement.excluded.lead}
            )
        )


async def list_routing_rules(session_factory: SessionFactory) -> list[Row]:
    """The routing rules in the order they are tried."""
    rules = tables.routing_rules
    async with session_factory() as session:
        return list((await session.execute(select(rules).order_by(rules.c.position))).all())


async def replace_routing_rules(
    session_factory: SessionFactory, rules: list[dict[str, Any]]
) -> None:
    """Replace every routing rule in one transaction (their order is their position); raises
    UnknownTeams, with nothing changed, when a rule names a team that does not exist."""
    async with session_factory() as session, session.begin():
        known = set(await session.scalars(select(tables.teams.c.name)))
        unknown = sorted({rule["team"] for rule in rules} - known)
        if unknown:
            raise UnknownTeams(unknown)
        await session.execute(delete(tables.routing_rules))
        if rules:
            await session.execute(
                tables.routing_rules.insert(),
                [{"position": i, **rule} for i, rule in enumerate(rules)],
            )
