"""Commitment use cases: record a promise to the customer, settle it, and the timer's
sweep that marks missed ones and escalates their cases like an SLA breach."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime

import structlog
from redress_shared.clock import Clock
from redress_shared.db import SessionFactory
from redress_shared.errors import NotFound
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from case_service.cases import store as cases_store
from case_service.cases.model import CaseChange, HistoryEntry
from case_service.cases.service import change_one_case
from case_service.commitments import store
from case_service.commitments.events import commitment_missed_event
from case_service.commitments.model import MISSED, OPEN, check_deadline, settled_status
from case_service.routing.store import team_lead
from case_service.sla.model import Priority, escalated
from case_service.sla.service import TIMER_ACTOR

log = structlog.get_logger(__name__)


async def make_commitment(
    session_factory: SessionFactory,
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
    check_deadline(due_at, now)

    async def change(
        session: AsyncSession, case: Row, _locked: Mapping[uuid.UUID, Row]
    ) -> CaseChange[Row]:
        commitment = await store.insert_commitment(
            session,
            {
                "id": uuid.uuid4(),
                "case_id": case_id,
                "description": description,
                "due_at": due_at,
                "status": OPEN,
                "created_by": actor,
                "created_at": now,
            },
        )
        made = {
            "commitment_id": str(commitment.id),
            "due_at": due_at.isoformat(),
            "description": description,
        }
        return CaseChange([HistoryEntry("commitment_made", actor, None, made)], result=commitment)

    _, commitment = await change_one_case(
        session_factory, case_id, change, now=now, expected_version=expected_version
    )
    return commitment


async def settle_commitment(
    session_factory: SessionFactory,
    clock: Clock,
    *,
    case_id: uuid.UUID,
    commitment_id: uuid.UUID,
    action: str,
    actor: str,
) -> Row:
    """Mark an open commitment kept or cancelled (CommitmentSettled if it is not open)."""
    now = clock.now()

    async def change(
        session: AsyncSession, case: Row, _locked: Mapping[uuid.UUID, Row]
    ) -> CaseChange[Row]:
        commitment = await store.get_commitment(session, case_id, commitment_id)
        if commitment is None:
            raise NotFound("commitment", commitment_id)
        status = settled_status(commitment.status, action)
        settled = await store.settle(session, commitment_id, status, now)
        entry = HistoryEntry(
            f"commitment_{status}",
            actor,
            {"status": OPEN},
            {"commitment_id": str(commitment_id), "status": status},
        )
        return CaseChange([entry], result=settled)

    _, settled = await change_one_case(session_factory, case_id, change, now=now)
    return settled


async def fire_missed_commitments(
    session_factory: SessionFactory, clock: Clock, limit: int = 100
) -> int:
    """Mark every open commitment past its deadline as missed, once, and escalate its case.
    Case rows are locked with SKIP LOCKED, so replicas share the work without doubling it."""
    now = clock.now()
    fired = 0
    async with session_factory() as session, session.begin():
        for case in await store.lock_cases_with_missed_commitments(session, now, limit):
            change = await _miss_commitments_of(session, case, now)
            if change.events:
                await cases_store.record_change(session, case, change, now)
                fired += len(change.events)
    if fired:
        log.info("commitments_missed", count=fired)
    return fired


async def _miss_commitments_of(session: AsyncSession, case: Row, now: datetime) -> CaseChange:
    """Mark the locked case's overdue commitments missed; each raises the priority one step
    and, like an SLA breach, moves the case to the team lead's desk."""
    missed = await store.missed_commitments(session, case.id, now)
    priority = Priority(case.priority)
    assignee = await team_lead(session, case.team) or case.assignee
    change: CaseChange = CaseChange(history=[])
    for commitment in missed:
        new_priority = escalated(priority)
        await store.settle(session, commitment.id, MISSED, now)
        event = commitment_missed_event(case, commitment, now, priority, new_priority)
        change.events.append(event)
        change.history.append(
            HistoryEntry(
                "commitment_missed",
                TIMER_ACTOR,
                {"priority": priority.value, "assignee": case.assignee},
                {
                    "commitment_id": str(commitment.id),
                    "priority": new_priority.value,
                    "assignee": assignee,
                    "reason": f"promise missed: {commitment.description}",
                },
                event.id,
            )
        )
        priority = new_priority
    change.values = {"priority": priority.value, "assignee": assignee}
    return change
