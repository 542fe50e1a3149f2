"""Use cases for what agents record on a case: notes, responses to the customer, the
validity decision, remedies and the satisfaction survey. Each one locks the case (so it
honours ``If-Match`` and bumps the ETag), appends to the history and, where other services
need to know, writes its event to the outbox, all in one transaction."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from redress_shared.clock import Clock
from redress_shared.db import SessionFactory
from redress_shared.errors import NotFound, Problem
from redress_shared.events import (
    CASE_DECISION_RECORDED,
    CASE_REMEDY_CHANGED,
    CASE_RESPONSE_ADDED,
    CASE_SATISFACTION_RECORDED,
    CASES_TOPIC,
    CaseDecisionRecordedV1,
    CaseRemedyChangedV1,
    CaseResponseAddedV1,
    CaseSatisfactionRecordedV1,
    EventEnvelope,
    new_event,
)
from redress_shared.outbox import add_to_outbox
from sqlalchemy import Row, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from case_service import sla, tables
from case_service.clocks import ClockName
from case_service.history import append_history
from case_service.outcomes import (
    SATISFACTION_ACTION_BELOW,  # noqa: F401 - re-exported for the API
    Criterion,
    InvalidOutcome,
    RemedyAction,
    RemedyStatus,
    RemedyType,
    Validity,
    check_decision,
    initial_remedy_status,
    next_remedy_status,
    satisfaction_coefficient,
)
from case_service.service import EVENT_SOURCE, lock_case, touch_case


def _invalid(exc: InvalidOutcome) -> Problem:
    return Problem(422, "invalid-outcome", "The request breaks a complaint-handling rule", str(exc))


def _event(event_type: str, case: Row, payload, now: datetime) -> EventEnvelope:  # noqa: ANN001
    return new_event(
        source=EVENT_SOURCE,
        type=event_type,
        key=str(case.id),
        subject=str(case.id),
        payload=payload,
        time=now,
    )


async def add_message(
    sessions: SessionFactory,
    clock: Clock,
    *,
    case_id: uuid.UUID,
    kind: str,
    body: str,
    author: str,
    expected_version: int | None,
) -> Row:
    """An internal note, or a response to the customer (which meets the first-response
    clock and is published for the notification service to deliver)."""
    now = clock.now()
    message_id = uuid.uuid4()
    async with sessions() as session, session.begin():
        case = await lock_case(session, case_id, expected_version)
        await session.execute(
            tables.case_messages.insert().values(
                id=message_id, case_id=case_id, kind=kind, body=body, author=author, created_at=now
            )
        )
        event_id = None
        if kind == "response":
            calendar_name, clocks = await sla.load_clocks(session, case_id)
            for name in (ClockName.ACKNOWLEDGE, ClockName.FIRST_RESPONSE):
                if name in clocks:
                    clocks[name] = clocks[name].stop(now)
            await sla.save_clocks(session, case_id, clocks)
            event = _event(
                CASE_RESPONSE_ADDED,
                case,
                CaseResponseAddedV1(
                    case_id=case.id,
                    reference=case.reference,
                    response_id=message_id,
                    message=body,
                    author=author,
                    occurred_at=now,
                ),
                now,
            )
            await add_to_outbox(session, tables.platform, CASES_TOPIC, event)
            event_id = event.id
        await append_history(
            session,
            case_id,
            now,
            author,
            f"{kind}_added",
            None,
            {"message_id": str(message_id)},
            event_id,
        )
        await touch_case(session, case, now)
        return (
            await session.execute(
                select(tables.case_messages).where(tables.case_messages.c.id == message_id)
            )
        ).one()


async def record_decision(
    sessions: SessionFactory,
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
    try:
        check_decision(validity, explanation, way_forward)
    except InvalidOutcome as exc:
        raise _invalid(exc) from exc
    now = clock.now()
    decisions = tables.case_decisions
    values = {
        "case_id": case_id,
        "validity": validity.value,
        "explanation": explanation,
        "way_forward": way_forward,
        "root_cause": root_cause,
        "responsible_opinion": responsible_opinion,
        "decided_by": decided_by,
        "decided_at": now,
    }
    async with sessions() as session, session.begin():
        case = await lock_case(session, case_id, expected_version)
        previous = (
            await session.execute(select(decisions).where(decisions.c.case_id == case_id))
        ).first()
        statement = insert(decisions).values(**values)
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=[decisions.c.case_id],
                set_={k: statement.excluded[k] for k in values if k != "case_id"},
            )
        )
        event = _event(
            CASE_DECISION_RECORDED,
            case,
            CaseDecisionRecordedV1(
                case_id=case.id,
                reference=case.reference,
                complaint_id=case.complaint_id,
                validity=validity.value,
                root_cause=root_cause,
                category=case.category,
                explanation=explanation,
                way_forward=way_forward,
                decided_by=decided_by,
                occurred_at=now,
            ),
            now,
        )
        await add_to_outbox(session, tables.platform, CASES_TOPIC, event)
        before = (
            {"validity": previous.validity, "root_cause": previous.root_cause} if previous else None
        )
        await append_history(
            session,
            case_id,
            now,
            decided_by,
            "decision_recorded",
            before,
            {"validity": validity.value, "root_cause": root_cause},
            event.id,
        )
        await touch_case(session, case, now)
        return (
            await session.execute(select(decisions).where(decisions.c.case_id == case_id))
        ).one()


async def propose_remedy(
    sessions: SessionFactory,
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
    remedy_id = uuid.uuid4()
    status = initial_remedy_status(amount, approval_threshold)
    async with sessions() as session, session.begin():
        case = await lock_case(session, case_id, expected_version)
        await session.execute(
            tables.remedies.insert().values(
                id=remedy_id,
                case_id=case_id,
                remedy_type=remedy_type.value,
                amount=amount,
                currency=currency,
                method=method,
                due_date=due_date,
                description=description,
                status=status.value,
                created_by=created_by,
                created_at=now,
                updated_at=now,
            )
        )
        return await _remedy_changed(session, case, remedy_id, created_by, None, now)


async def act_on_remedy(
    sessions: SessionFactory,
    clock: Clock,
    *,
    case_id: uuid.UUID,
    remedy_id: uuid.UUID,
    action: RemedyAction,
    actor: str,
    expected_version: int | None,
) -> Row:
    """Approve, accept, decline or deliver a remedy."""
    now = clock.now()
    remedies = tables.remedies
    async with sessions() as session, session.begin():
        case = await lock_case(session, case_id, expected_version)
        remedy = (
            await session.execute(
                select(remedies).where(remedies.c.id == remedy_id, remedies.c.case_id == case_id)
            )
        ).first()
        if remedy is None:
            raise NotFound("remedy", remedy_id)
        try:
            status = next_remedy_status(RemedyStatus(remedy.status), action)
        except InvalidOutcome as exc:
            raise Problem(
                409, "illegal-remedy-action", "Not allowed for this remedy now", str(exc)
            ) from exc
        await session.execute(
            remedies.update()
            .where(remedies.c.id == remedy_id)
            .values(status=status.value, updated_at=now)
        )
        return await _remedy_changed(session, case, remedy_id, actor, remedy.status, now)


async def _remedy_changed(
    session: AsyncSession,
    case: Row,
    remedy_id: uuid.UUID,
    actor: str,
    before: str | None,
    now: datetime,
) -> Row:
    remedy = (
        await session.execute(select(tables.remedies).where(tables.remedies.c.id == remedy_id))
    ).one()
    event = _event(
        CASE_REMEDY_CHANGED,
        case,
        CaseRemedyChangedV1(
            case_id=case.id,
            reference=case.reference,
            remedy_id=remedy.id,
            remedy_type=remedy.remedy_type,
            status=remedy.status,
            amount=str(remedy.amount) if remedy.amount is not None else None,
            currency=remedy.currency,
            method=remedy.method,
            due_date=remedy.due_date,
            occurred_at=now,
        ),
        now,
    )
    await add_to_outbox(session, tables.platform, CASES_TOPIC, event)
    await append_history(
        session,
        case.id,
        now,
        actor,
        "remedy_changed",
        {"status": before} if before else None,
        {"remedy_id": str(remedy.id), "type": remedy.remedy_type, "status": remedy.status},
        event.id,
    )
    await touch_case(session, case, now)
    return remedy


async def record_satisfaction(
    sessions: SessionFactory,
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
    try:
        coefficient = satisfaction_coefficient(criteria)
    except InvalidOutcome as exc:
        raise _invalid(exc) from exc
    now = clock.now()
    surveys = tables.satisfaction_surveys
    async with sessions() as session, session.begin():
        case = await lock_case(session, case_id, None)
        inserted = await session.scalar(
            insert(surveys)
            .values(
                case_id=case_id,
                criteria=[{"name": c.name, "score": c.score, "weight": c.weight} for c in criteria],
                coefficient=coefficient,
                would_recommend=would_recommend,
                would_continue=would_continue,
                comment=comment,
                recorded_at=now,
            )
            .on_conflict_do_nothing()
            .returning(surveys.c.case_id)
        )
        if inserted is None:
            raise Problem(409, "conflict", "This case already has a satisfaction survey")
        event = _event(
            CASE_SATISFACTION_RECORDED,
            case,
            CaseSatisfactionRecordedV1(
                case_id=case.id,
                reference=case.reference,
                coefficient=str(coefficient),
                needs_action=coefficient < SATISFACTION_ACTION_BELOW,
                would_recommend=would_recommend,
                would_continue=would_continue,
                occurred_at=now,
            ),
            now,
        )
        await add_to_outbox(session, tables.platform, CASES_TOPIC, event)
        await append_history(
            session,
            case_id,
            now,
            recorded_by,
            "satisfaction_recorded",
            None,
            {"coefficient": str(coefficient)},
            event.id,
        )
        await touch_case(session, case, now)
        return (await session.execute(select(surveys).where(surveys.c.case_id == case_id))).one()


async def case_outcomes(sessions: SessionFactory, case_id: uuid.UUID) -> dict:
    """Messages, decision, remedies and survey of a case (404 if the case is unknown)."""
    async with sessions() as session:
        if (
            await session.scalar(select(tables.cases.c.id).where(tables.cases.c.id == case_id))
            is None
        ):
            raise NotFound("case", case_id)

        async def rows(table, order=None):  # noqa: ANN001, ANN202
            query = select(table).where(table.c.case_id == case_id)
            if order is not None:
                query = query.order_by(order)
            return (await session.execute(query)).all()

        return {
            "messages": await rows(tables.case_messages, tables.case_messages.c.created_at),
            "decision": next(iter(await rows(tables.case_decisions)), None),
            "remedies": await rows(tables.remedies, tables.remedies.c.created_at),
            "satisfaction": next(iter(await rows(tables.satisfaction_surveys)), None),
        }
