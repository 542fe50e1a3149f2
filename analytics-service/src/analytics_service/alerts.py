"""Supplier defects and alerts: facts from case decisions, thresholds per supplier and month,
alerts that fire once per condition and period and clear when the condition ends."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from redress_shared.clock import Clock
from redress_shared.events import (
    ALERT_CLEARED,
    ALERT_RAISED,
    ALERTS_TOPIC,
    AlertV1,
    CaseDecisionRecordedV1,
    EventEnvelope,
    new_event,
)
from redress_shared.outbox import add_to_outbox
from sqlalchemy import Row, and_, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from analytics_service import tables
from analytics_service.models import (
    ROOT_CAUSE_ATTRIBUTION,
    UPHELD_VALIDITIES,
    Attribution,
    above_threshold,
    month_of,
)

SUPPLIER_DEFECTS = "supplier_defects"
EVENT_SOURCE = "/redress/analytics-service"
_ALERT_ID_NAMESPACE = uuid.UUID("0f6d3c1e-5a4b-4c2d-9e8f-7a6b5c4d3e2f")


def alert_id_for(kind: str, subject: str, attribution: str, period_start: date) -> uuid.UUID:
    """The id of a condition's alert for a period: the same on every replay or rebuild, so
    subscribers (corrective actions, webhooks) recognise an alert they already know."""
    return uuid.uuid5(_ALERT_ID_NAMESPACE, f"{kind}|{subject}|{attribution}|{period_start}")


async def record_decision(
    session: AsyncSession, clock: Clock, thresholds: dict[Attribution, int], event: EventEnvelope
) -> None:
    """Keep the latest decision of a case, then re-evaluate its supplier's month."""
    decision = event.payload()
    assert isinstance(decision, CaseDecisionRecordedV1)
    complaint_id = decision.complaint_id or await session.scalar(
        select(tables.case_facts.c.complaint_id).where(
            tables.case_facts.c.case_id == decision.case_id
        )
    )
    if complaint_id is None:
        raise LookupError(f"decision for case {decision.case_id} names no known complaint")
    facts = tables.decision_facts
    statement = insert(facts).values(
        case_id=decision.case_id,
        complaint_id=complaint_id,
        validity=decision.validity,
        root_cause=decision.root_cause,
        decided_at=decision.occurred_at,
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[facts.c.case_id],
            set_={
                "validity": statement.excluded.validity,
                "root_cause": statement.excluded.root_cause,
                "decided_at": statement.excluded.decided_at,
            },
            # A late, older decision must not overwrite a newer one.
            where=facts.c.decided_at < statement.excluded.decided_at,
        )
    )
    await reevaluate_complaint(session, clock, thresholds, complaint_id)


async def evaluate_supplier(
    session: AsyncSession,
    clock: Clock,
    thresholds: dict[Attribution, int],
    supplier: str,
    moment: datetime,
) -> None:
    """Raise or clear the supplier's defect alerts for the month of ``moment``."""
    start, end = month_of(moment)
    counts = await _upheld_counts(session, supplier, start, end)
    for attribution, threshold in thresholds.items():
        await settle_condition(
            session,
            clock,
            kind=SUPPLIER_DEFECTS,
            subject=supplier,
            attribution=attribution.value,
            period=(start, end),
            count=counts.get(attribution, 0),
            threshold=threshold,
        )


async def settle_condition(
    session: AsyncSession,
    clock: Clock,
    *,
    kind: str,
    subject: str,
    attribution: str,
    period: tuple[date, date],
    count: int,
    threshold: int,
) -> None:
    """Raise the condition's alert for the period when ``count`` exceeds ``threshold`` (once;
    again only after it cleared), keep its count current, clear it when it no longer does."""
    alerts = tables.alerts
    start, end = period
    now = clock.now()
    current = (
        await session.execute(
            select(alerts)
            .where(
                alerts.c.kind == kind,
                alerts.c.subject == subject,
                alerts.c.attribution == attribution,
                alerts.c.period_start == start,
            )
            .with_for_update()
        )
    ).first()
    if above_threshold(count, threshold):
        if current is None:
            values = {
                "id": alert_id_for(kind, subject, attribution, start),
                "kind": kind,
                "subject": subject,
                "attribution": attribution,
                "period_start": start,
                "period_end": end,
                "count": count,
                "threshold": threshold,
                "raised_at": now,
            }
            await session.execute(alerts.insert().values(**values))
            await _publish(session, ALERT_RAISED, values["id"], now)
        elif current.cleared_at is not None:  # the condition is back: a new occurrence
            await _update(
                session,
                current.id,
                count=count,
                threshold=threshold,
                cleared_at=None,
                raised_at=now,
            )
            await _publish(session, ALERT_RAISED, current.id, now)
        elif (current.count, current.threshold) != (count, threshold):
            await _update(session, current.id, count=count, threshold=threshold)
    elif current is not None and current.cleared_at is None:
        await _update(session, current.id, count=count, threshold=threshold, cleared_at=now)
        await _publish(session, ALERT_CLEARED, current.id, now)


async def _update(session: AsyncSession, alert_id: uuid.UUID, **values) -> None:  # noqa: ANN003
    await session.execute(
        tables.alerts.update().where(tables.alerts.c.id == alert_id).values(**values)
    )


async def _upheld_counts(
    session: AsyncSession, supplier: str, start: date, end: date
) -> dict[Attribution, int]:
    complaints, decisions = tables.complaint_facts, tables.decision_facts
    rows = await session.execute(
        select(decisions.c.root_cause, func.count())
        .select_from(complaints)
        .join(decisions, decisions.c.complaint_id == complaints.c.complaint_id)
        .where(
            complaints.c.supplier == supplier,
            complaints.c.received_at >= start,
            complaints.c.received_at < end,
            decisions.c.validity.in_(UPHELD_VALIDITIES),
        )
        .group_by(decisions.c.root_cause)
    )
    counts: dict[Attribution, int] = {}
    for root_cause, count in rows:
        attribution = ROOT_CAUSE_ATTRIBUTION.get(root_cause or "")
        if attribution is not None:
            counts[attribution] = counts.get(attribution, 0) + count
    return counts


async def _publish(
    session: AsyncSession,
    event_type: str,
    alert_id: uuid.UUID,
    now: datetime,
    members: list[uuid.UUID] | None = None,
) -> None:
    """Publish the alert as it now stands (an incident with its member complaints)."""
    alert = (
        await session.execute(select(tables.alerts).where(tables.alerts.c.id == alert_id))
    ).one()
    payload = AlertV1(
        alert_id=alert.id,
        kind=alert.kind,
        subject=alert.subject,
        attribution=alert.attribution or None,
        period_start=alert.period_start,
        period_end=alert.period_end,
        count=alert.count,
        threshold=alert.threshold,
        occurred_at=now,
        members=members,
    )
    event = new_event(
        source=EVENT_SOURCE,
        type=event_type,
        key=str(alert.id),
        subject=str(alert.id),
        payload=payload,
        time=now,
    )
    await add_to_outbox(session, tables.platform, ALERTS_TOPIC, event)


async def supplier_defects(
    sessions: async_sessionmaker[AsyncSession], start: datetime, end: datetime
) -> list[Row]:
    """Per supplier and month: complaints, decided, upheld, and upheld by attribution."""
    complaints, decisions = tables.complaint_facts, tables.decision_facts
    month = func.date_trunc("month", func.timezone("UTC", complaints.c.received_at)).label("month")
    upheld = decisions.c.validity.in_(UPHELD_VALIDITIES)

    def upheld_as(causes: list[str]):  # noqa: ANN202
        return func.count().filter(and_(upheld, decisions.c.root_cause.in_(causes)))

    by = {a: [c for c, at in ROOT_CAUSE_ATTRIBUTION.items() if at is a] for a in Attribution}
    query = (
        select(
            complaints.c.supplier,
            month,
            func.count().label("complaints"),
            func.count(decisions.c.case_id).label("decided"),
            func.count().filter(upheld).label("upheld"),
            upheld_as(by[Attribution.SUPPLIER_COMPONENT]).label("supplier_component"),
            upheld_as(by[Attribution.MANUFACTURING]).label("manufacturing"),
        )
        .select_from(complaints)
        .outerjoin(decisions, decisions.c.complaint_id == complaints.c.complaint_id)
        .where(
            complaints.c.supplier.is_not(None),
            complaints.c.received_at >= start,
            complaints.c.received_at < end,
        )
        .group_by(complaints.c.supplier, month)
        .order_by(complaints.c.supplier, month)
    )
    async with sessions() as session:
        return list((await session.execute(query)).all())


async def list_alerts(
    sessions: async_sessionmaker[AsyncSession], active_only: bool, kind: str | None = None
) -> list[Row]:
    """Alerts, newest first (only one kind, if given)."""
    query = select(tables.alerts).order_by(tables.alerts.c.raised_at.desc())
    if active_only:
        query = query.where(tables.alerts.c.cleared_at.is_(None))
    if kind is not None:
        query = query.where(tables.alerts.c.kind == kind)
    async with sessions() as session:
        return list((await session.execute(query)).all())


async def reevaluate_complaint(
    session: AsyncSession, clock: Clock, thresholds: dict[Attribution, int], complaint_id: uuid.UUID
) -> None:
    """A complaint's facts arrived after its decision (events from two topics can cross):
    evaluate its supplier's month now that the decision can be attributed."""
    complaints, decisions = tables.complaint_facts, tables.decision_facts
    found = (
        await session.execute(
            select(complaints.c.supplier, complaints.c.received_at).where(
                complaints.c.complaint_id == complaint_id,
                select(decisions.c.case_id)
                .where(decisions.c.complaint_id == complaint_id)
                .exists(),
            )
        )
    ).first()
    if found is not None and found.supplier:
        await evaluate_supplier(session, clock, thresholds, found.supplier, found.received_at)
