"""Outcome use cases: the validity decision, remedies and the satisfaction survey, and the
read of everything recorded on a case. Each change goes through ``change_case`` (so it
honours ``If-Match``, bumps the ETag, appends to the history and stages its event), in one
transaction."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date
from decimal import Decimal

from redress_shared.clock import Clock
from redress_shared.db import SessionFactory
from redress_shared.errors import NotFound
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from case_service.cases import store as cases_store
from case_service.cases.model import CaseChange, HistoryEntry
from case_service.cases.service import change_one_case
from case_service.outcomes import store
from case_service.outcomes.events import (
    decision_recorded_event,
    remedy_changed_event,
    satisfaction_recorded_event,
)
from case_service.outcomes.model import (
    Criterion,
    RemedyAction,
    RemedyStatus,
    RemedyType,
    SatisfactionAlreadyRecorded,
    Validity,
    check_decision,
    initial_remedy_status,
    next_remedy_status,
    satisfaction_coefficient,
)


async def record_decision(
    session_factory: SessionFactory,
    clock: Clock,
    *,
    case_id: uuid.UUID,
    validity: Validity,
    explanation: str | None,
    way_forward: str | None,
    root_cause: str | None,
    responsible_opinion: str | None,
    decided_by: str,
    expected_version: int | None,
) -> Row:
    """Record (or revise) whether the complaint was justified; the history keeps revisions."""
    check_decision(validity, explanation, way_forward)
    now = clock.now()

    async def change(
        session: AsyncSession, case: Row, _locked: Mapping[uuid.UUID, Row]
    ) -> CaseChange[Row]:
        previous = await store.get_decision(session, case_id)
        decision = await store.upsert_decision(
            session,
            {
                "case_id": case_id,
                "validity": validity.value,
                "explanation": explanation,
                "way_forward": way_forward,
                "root_cause": root_cause,
                "responsible_opinion": responsible_opinion,
                "decided_by": decided_by,
                "decided_at": now,
            },
        )
        event = decision_recorded_event(case, decision, now)
        before = (
            {"validity": previous.validity, "root_cause": previous.root_cause} if previous else None
        )
        after = {"validity": validity.value, "root_cause": root_cause}
        entry = HistoryEntry("decision_recorded", decided_by, before, after, event.id)
        return CaseChange([entry], [event], result=decision)

    _, decision = await change_one_case(
        session_factory, case_id, change, now=now, expected_version=expected_version
    )
    return decision


def _remedy_changed(case: Row, remedy: Row, actor: str, before: str | None, now) -> CaseChange:  # noqa: ANN001
    event = remedy_changed_event(case, remedy, now)
    entry = HistoryEntry(
        "remedy_changed",
        actor,
        {"status": before} if before else None,
        {"remedy_id": str(remedy.id), "type": remedy.remedy_type, "status": remedy.status},
        event.id,
    )
    return CaseChange([entry], [event], result=remedy)


async def propose_remedy(
    session_factory: SessionFactory,
    clock: Clock,
    *,
    case_id: uuid.UUID,
    remedy_type: RemedyType,
    amount: Decimal | None,
    currency: str | None,
    method: str | None,
    due_date: date | None,
    description: str | None,
    created_by: str,
    approval_threshold: Decimal,
    expected_version: int | None,
) -> Row:
    """Propose a remedy: offered at once, or held for a team lead above the threshold."""
    now = clock.now()
    status = initial_remedy_status(amount, approval_threshold)

    async def change(
        session: AsyncSession, case: Row, _locked: Mapping[uuid.UUID, Row]
    ) -> CaseChange[Row]:
        remedy = await store.insert_remedy(
            session,
            {
                "id": uuid.uuid4(),
                "case_id": case_id,
                "remedy_type": remedy_type.value,
                "amount": amount,
                "currency": currency,
                "method": method,
                "due_date": due_date,
                "description": description,
                "status": status.value,
                "created_by": created_by,
                "created_at": now,
                "updated_at": now,
            },
        )
        return _remedy_changed(case, remedy, created_by, None, now)

    _, remedy = await change_one_case(
        session_factory, case_id, change, now=now, expected_version=expected_version
    )
    return remedy


async def act_on_remedy(
    session_factory: SessionFactory,
    clock: Clock,
    *,
    case_id: uuid.UUID,
    remedy_id: uuid.UUID,
    action: RemedyAction,
    actor: str,
    expected_version: int | None,
) -> Row:
    """Approve, accept, decline or deliver a remedy (IllegalRemedyAction if it does not
    apply to the remedy now)."""
    now = clock.now()

    async def change(
        session: AsyncSession, case: Row, _locked: Mapping[uuid.UUID, Row]
    ) -> CaseChange[Row]:
        remedy = await store.get_remedy(session, case_id, remedy_id)
        if remedy is None:
            raise NotFound("remedy", remedy_id)
        status = next_remedy_status(RemedyStatus(remedy.status), action)
        updated = await store.update_remedy(
            session, remedy_id, {"status": status.value, "updated_at": now}
        )
        return _remedy_changed(case, updated, actor, remedy.status, now)

    _, remedy = await change_one_case(
        session_factory, case_id, change, now=now, expected_version=expected_version
    )
    return remedy


async def record_satisfaction(
    session_factory: SessionFactory,
    clock: Clock,
    *,
    case_id: uuid.UUID,
    criteria: list[Criterion],
    would_recommend: bool | None,
    would_continue: bool | None,
    comment: str | None,
    recorded_by: str,
) -> Row:
    """The customer's scores for how the case was handled (one survey per case)."""
    coefficient = satisfaction_coefficient(criteria)
    now = clock.now()

    async def change(
        session: AsyncSession, case: Row, _locked: Mapping[uuid.UUID, Row]
    ) -> CaseChange[Row]:
        survey = await store.insert_survey(
            session,
            {
                "case_id": case_id,
                "criteria": [
                    {"name": c.name, "score": c.score, "weight": c.weight} for c in criteria
                ],
                "coefficient": coefficient,
                "would_recommend": would_recommend,
                "would_continue": would_continue,
                "comment": comment,
                "recorded_at": now,
            },
        )
        if survey is None:
            raise SatisfactionAlreadyRecorded
        event = satisfaction_recorded_event(case, coefficient, would_recommend, would_continue, now)
        entry = HistoryEntry(
            "satisfaction_recorded", recorded_by, None, {"coefficient": str(coefficient)}, event.id
        )
        return CaseChange([entry], [event], result=survey)

    _, survey = await change_one_case(session_factory, case_id, change, now=now)
    return survey


async def case_outcomes(session_factory: SessionFactory, case_id: uuid.UUID) -> dict:
    """Messages, decision, remedies and survey of a case (NotFound if the case is unknown)."""
    async with session_factory() as session:
        if not await cases_store.case_exists(session, case_id):
            raise NotFound("case", case_id)
        return await store.outcomes_of_case(session, case_id)
