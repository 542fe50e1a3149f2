"""Commitments: promises made to the customer ("I'll call you back before 17:00") with a
deadline. A missed one is treated like an SLA breach: recorded, published and escalated."""

from __future__ import annotations

import uuid
from datetime import datetime

import structlog
from redress_shared.clock import Clock
from redress_shared.db import SessionFactory
from redress_shared.errors import NotFound, Problem
from redress_shared.events import (
    CASE_COMMITMENT_MISSED,
    CASES_TOPIC,
    CaseCommitmentMissedV1,
    new_event,
)
from redress_shared.outbox import add_to_outbox
from sqlalchemy import Row, select

from case_service import tables
from case_service.history import append_history
from case_service.models import Priority, escalated
from case_service.service import EVENT_SOURCE, lock_case, touch_case
from case_service.teams import team_lead

SETTLE_ACTIONS = {"keep": "kept", "cancel": "cancelled"}
log = structlog.get_logger(__name__)


async def make_commitment(
    sessions: SessionFactory,
    clock: Clock,
    *,
    case_id: uuid.UUID,
    description: str,
    due_at: datetime,
    actor: str,
    expected_version: int | None,
) -> Row:
    """Record a promise to the customer with its deadline."""
    now = clock.now()
    if due_at.tzinfo is None:
        raise Problem(422, "invalid-commitment", "due_at needs a time zone offset")
    if due_at <= now:
        raise Problem(422, "invalid-commitment", "A commitment's deadline must be in the future")
    commitment_id = uuid.uuid4()
    async with sessions() as session, session.begin():
        case = await lock_case(session, case_id, expected_version)
        await session.execute(
            tables.commitments.insert().values(
                id=commitment_id,
                case_id=case_id,
                description=description,
                due_at=due_at,
                status="open",
                created_by=actor,
                created_at=now,
            )
        )
        await append_history(
            session,
            case_id,
            now,
            actor,
            "commitment_made",
            None,
            {
                "commitment_id": str(commitment_id),
                "due_at": due_at.isoformat(),
                "description": description,
            },
            None,
        )
        await touch_case(session, case, now)
        return (
            await session.execute(
                select(tables.commitments).where(tables.commitments.c.id == commitment_id)
            )
        ).one()


async def settle_commitment(
    sessions: SessionFactory,
    clock: Clock,
    *,
    case_id: uuid.UUID,
    commitment_id: uuid.UUID,
    action: str,
    actor: str,
) -> Row:
    """Mark an open commitment kept or cancelled."""
    now = clock.now()
    commitments = tables.commitments
    async with sessions() as session, session.begin():
        case = await lock_case(session, case_id, None)
        row = (
            await session.execute(
                select(commitments).where(
                    commitments.c.id == commitment_id, commitments.c.case_id == case_id
                )
            )
        ).first()
        if row is None:
            raise NotFound("commitment", commitment_id)
        if row.status != "open":
            raise Problem(
                409, "commitment-settled", "The commitment is no longer open", f"It is {row.status}"
            )
        status = SETTLE_ACTIONS[action]
        await session.execute(
            commitments.update()
            .where(commitments.c.id == commitment_id)
            .values(status=status, settled_at=now)
        )
        await append_history(
            session,
            case_id,
            now,
            actor,
            f"commitment_{status}",
            {"status": "open"},
            {"commitment_id": str(commitment_id), "status": status},
            None,
        )
        await touch_case(session, case, now)
        return (
            await session.execute(select(commitments).where(commitments.c.id == commitment_id))
        ).one()


async def fire_missed_commitments(sessions: SessionFactory, clock: Clock, limit: int = 100) -> int:
    """Mark every open commitment past its deadline as missed, once, and escalate its case.
    Case rows are locked with SKIP LOCKED, so replicas share the work without doubling it."""
    now = clock.now()
    commitments, cases = tables.commitments, tables.cases
    fired = 0
    async with sessions() as session, session.begin():
        due_cases = (
            select(commitments.c.case_id)
            .where(commitments.c.status == "open", commitments.c.due_at <= now)
            .distinct()
            .limit(limit)
        ).scalar_subquery()
        locked = (
            await session.execute(
                select(cases).where(cases.c.id.in_(due_cases)).with_for_update(skip_locked=True)
            )
        ).all()
        for case in locked:
            missed = (
                await session.execute(
                    select(commitments).where(
                        commitments.c.case_id == case.id,
                        commitments.c.status == "open",
                        commitments.c.due_at <= now,
                    )
                )
            ).all()
            priority = Priority(case.priority)
            # Like an SLA breach, a missed promise goes to the team lead's desk.
            assignee = await team_lead(session, case.team) or case.assignee
            for commitment in missed:
                new_priority = escalated(priority)
                await session.execute(
                    commitments.update()
                    .where(commitments.c.id == commitment.id)
                    .values(status="missed", settled_at=now)
                )
                event = new_event(
                    source=EVENT_SOURCE,
                    type=CASE_COMMITMENT_MISSED,
                    key=str(case.id),
                    subject=str(case.id),
                    time=now,
                    payload=CaseCommitmentMissedV1(
                        case_id=case.id,
                        reference=case.reference,
                        commitment_id=commitment.id,
                        due_at=commitment.due_at,
                        occurred_at=now,
                        priority_before=priority.value,
                        priority_after=new_priority.value,
                    ),
                )
                await add_to_outbox(session, tables.platform, CASES_TOPIC, event)
                await append_history(
                    session,
                    case.id,
                    now,
                    "sla-timer",
                    "commitment_missed",
                    {"priority": priority.value, "assignee": case.assignee},
                    {
                        "commitment_id": str(commitment.id),
                        "priority": new_priority.value,
                        "assignee": assignee,
                        "reason": f"promise missed: {commitment.description}",
                    },
                    event.id,
                )
                priority = new_priority
                fired += 1
            if missed:
                await session.execute(
                    cases.update()
                    .where(cases.c.id == case.id)
                    .values(
                        priority=priority.value,
                        assignee=assignee,
                        version=case.version + 1,
                        updated_at=now,
                    )
                )
    if fired:
        log.info("commitments_missed", count=fired)
    return fired
