"""Routing use cases: teams, routing rules, and assignment (reassign a case to a team or an
agent, or escalate it to the team lead; every move is explained in the history and
published)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from redress_shared.clock import Clock
from redress_shared.db import SessionFactory
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from case_service.cases.model import CaseChange, HistoryEntry
from case_service.cases.service import change_one_case
from case_service.routing import store
from case_service.routing.events import assigned_event
from case_service.routing.model import DEFAULT_TEAM, UnknownTeam, check_move_explained
from case_service.sla.model import Priority, escalated


async def list_teams(session_factory: SessionFactory) -> list[Row]:
    """Every team with its lead, by name."""
    async with session_factory() as session:
        return await store.list_teams(session)


async def save_team(session_factory: SessionFactory, name: str, lead: str | None) -> None:
    """Create a team or change its lead."""
    async with session_factory() as session, session.begin():
        await store.upsert_team(session, name, lead)


async def list_routing_rules(session_factory: SessionFactory) -> list[Row]:
    """The routing rules in the order they are tried."""
    async with session_factory() as session:
        return await store.list_routing_rules(session)


async def replace_routing_rules(
    session_factory: SessionFactory, rules: list[dict[str, Any]]
) -> None:
    """Replace every routing rule in one transaction (their order is their position); raises
    UnknownTeam, with nothing changed, when a rule names a team that does not exist."""
    async with session_factory() as session, session.begin():
        unknown = sorted({rule["team"] for rule in rules} - await store.team_names(session))
        if unknown:
            raise UnknownTeam(unknown)
        await store.replace_routing_rules(session, rules)


async def assign(
    session_factory: SessionFactory,
    clock: Clock,
    *,
    case_id: uuid.UUID,
    team: str | None,
    assignee: str | None,
    escalate: bool,
    reason: str | None,
    actor: str,
    expected_version: int | None,
) -> Row:
    """Move a case. An escalation goes to the lead of the (new) team, raises the priority one
    step and must say why; so must any move away from someone already working the case."""
    now = clock.now()

    async def change(
        session: AsyncSession, case: Row, _locked: Mapping[uuid.UUID, Row]
    ) -> CaseChange:
        target_team = team or case.team or DEFAULT_TEAM
        lead = await store.team_lead(session, target_team)
        if lead is None:
            raise UnknownTeam([repr(target_team)])
        check_move_explained(
            current_team=case.team,
            current_assignee=case.assignee,
            team=team,
            assignee=assignee,
            escalate=escalate,
            reason=reason,
        )
        priority = escalated(Priority(case.priority)) if escalate else Priority(case.priority)
        new_assignee = lead if escalate else assignee
        event = assigned_event(
            case,
            team=target_team,
            assignee=new_assignee,
            escalated=escalate,
            reason=reason,
            priority=priority,
            now=now,
        )
        moved = {"team": target_team, "assignee": new_assignee, "priority": priority.value}
        entry = HistoryEntry(
            "escalated" if escalate else "assigned",
            actor,
            {"team": case.team, "assignee": case.assignee, "priority": case.priority},
            {**moved, "reason": reason},
            event.id,
        )
        return CaseChange([entry], [event], moved)

    updated, _ = await change_one_case(
        session_factory, case_id, change, now=now, expected_version=expected_version
    )
    return updated
