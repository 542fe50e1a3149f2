"""Assignment use cases: reassign a case to a team or an agent, or escalate it to the team
lead; every move is explained in the history and published."""

from __future__ import annotations

import uuid

from redress_shared.clock import Clock
from redress_shared.errors import Problem
from redress_shared.events import CASE_ASSIGNED, CASES_TOPIC, CaseAssignedV1, new_event
from redress_shared.outbox import add_to_outbox
from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from case_service import tables
from case_service.history import append_history
from case_service.models import Priority, escalated
from case_service.routing import DEFAULT_TEAM
from case_service.service import EVENT_SOURCE, lock_case, touch_case
from case_service.teams import team_lead


async def assign(
    sessions: async_sessionmaker[AsyncSession],
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
    async with sessions() as session, session.begin():
        case = await lock_case(session, case_id, expected_version)
        target_team = team or case.team or DEFAULT_TEAM
        lead = await team_lead(session, target_team)
        if lead is None:
            raise Problem(422, "unknown-team", "Unknown team", f"No team named {target_team!r}")
        moving_away = case.assignee is not None and (
            assignee != case.assignee or team not in (None, case.team)
        )
        if (escalate or moving_away) and not (reason and reason.strip()):
            raise Problem(
                422,
                "reason-required",
                "Say why the case moves",
                "An escalation, or a move away from the current assignee, needs a reason",
            )
        priority = escalated(Priority(case.priority)) if escalate else Priority(case.priority)
        new_assignee = lead if escalate else assignee
        await session.execute(
            tables.cases.update()
            .where(tables.cases.c.id == case_id)
            .values(team=target_team, assignee=new_assignee, priority=priority.value)
        )
        event = new_event(
            source=EVENT_SOURCE,
            type=CASE_ASSIGNED,
            key=str(case.id),
            subject=str(case.id),
            time=now,
            payload=CaseAssignedV1(
                case_id=case.id,
                reference=case.reference,
                team=target_team,
                assignee=new_assignee,
                escalated=escalate,
                reason=reason,
                priority=priority.value,
                occurred_at=now,
            ),
        )
        await add_to_outbox(session, tables.platform, CASES_TOPIC, event)
        await append_history(
            session,
            case_id,
            now,
            actor,
            "escalated" if escalate else "assigned",
            {"team": case.team, "assignee": case.assignee, "priority": case.priority},
            {
                "team": target_team,
                "assignee": new_assignee,
                "priority": priority.value,
                "reason": reason,
            },
            event.id,
        )
        await touch_case(session, case, now)
        return (
            await session.execute(select(tables.cases).where(tables.cases.c.id == case_id))
        ).one()
