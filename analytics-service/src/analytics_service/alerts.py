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
from sqlalchemy import Date, Row, Select, and_, case, cast, func, literal, select
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


class _Unread:
    """Marks an argument the function reads itself when it is not given."""


_UNREAD = _Unread()


def alert_id_for(kind: str, subject: str, attribution: str, period_start: date) -> uuid.UUID:
    """The id of a condition's alert for a period: the same on every replay or rebuild, so
    subscribers (corrective actions, webhooks) recognise an alert they already know."""
    return uuid.uuid5(_ALERT_ID_NAMESPACE, f"{kind}|{subject}|{attribution}|{period_start}")


async def lock_complaint(session: AsyncSession, complaint_id: uuid.UUID) -> None:
    """Serialise, until the end of the transaction, the handlers that copy facts between a
    complaint's row and its case's or decisions' rows (the upheld counter, the case's
    priority and tier on the complaint, the receipt time on the case): a complaint and its
    case or decision applied at the same time by two replicas would otherwise each miss the
    other. Whichever waits sees the other's committed rows afterwards (read committed). Two
    batches locking in crossing orders deadlock; PostgreSQL aborts one, which the consumer
    then applies event by event."""
    await session.execute(
        select(func.pg_advisory_xact_lock(func.hashtextextended(str(complaint_id), 0)))
    )


def _counter_key(
    supplier: str | None, received_at: datetime | None, validity: str | None, root_cause: str | None
) -> tuple[str, date, str] | None:
    """The (supplier, month, attribution) an upheld, attributed decision counts towards."""
    if supplier is None or received_at is None or validity not in UPHELD_VALIDITIES:
        return None
    attribution = ROOT_CAUSE_ATTRIBUTION.get(root_cause or "")
    if attribution is None:
        return None
    return supplier, month_of(received_at)[0], attribution.value


async def _count(session: AsyncSession, key: tuple[str, date, str] | None, delta: int) -> None:
    if key is None or delta == 0:
        return
    counts = tables.supplier_defect_counts
    supplier, period_start, attribution = key
    statement = insert(counts).values(
        supplier=supplier, period_start=period_start, attribution=attribution, upheld=delta
    )
    upheld = await session.scalar(
        statement.on_conflict_do_update(
            index_elements=[counts.c.supplier, counts.c.period_start, counts.c.attribution],
            set_={"upheld": counts.c.upheld + statement.excluded.upheld},
        ).returning(counts.c.upheld)
    )
    if upheld == 0:  # no row rather than a zero, whatever order the events came in
        await session.execute(
            counts.delete().where(
                counts.c.supplier == supplier,
                counts.c.period_start == period_start,
                counts.c.attribution == attribution,
            )
        )


async def record_decision(
    session: AsyncSession, clock: Clock, thresholds: dict[Attribution, int], event: EventEnvelope
) -> None:
    """Keep the latest decision of a case, move its contribution to the supplier's upheld
    counter, then re-evaluate its supplier's month."""
    decision = event.payload()
    assert isinstance(decision, CaseDecisionRecordedV1)
    complaint_id = decision.complaint_id or await session.scalar(
        select(tables.case_facts.c.complaint_id).where(
            tables.case_facts.c.case_id == decision.case_id
        )
    )
    if complaint_id is None:
        raise LookupError(f"decision for case {decision.case_id} names no known complaint")
    await lock_complaint(session, complaint_id)
    facts, complaints = tables.decision_facts, tables.complaint_facts
    # The complaint (counted only once it is known; else ``count_complaint`` counts it) and
    # the case's decision as it stood, in one round trip.
    known = (
        await session.execute(
            select(
                complaints.c.supplier,
                complaints.c.received_at,
                select(facts.c.validity)
                .where(facts.c.case_id == decision.case_id)
                .scalar_subquery()
                .label("validity"),
                select(facts.c.root_cause)
                .where(facts.c.case_id == decision.case_id)
                .scalar_subquery()
                .label("root_cause"),
            ).where(complaints.c.complaint_id == complaint_id)
        )
    ).first()
    statement = insert(facts).values(
        case_id=decision.case_id,
        complaint_id=complaint_id,
        validity=decision.validity,
        root_cause=decision.root_cause,
        decided_at=decision.occurred_at,
    )
    after = (
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
            ).returning(facts.c.validity, facts.c.root_cause)
        )
    ).first()
    # Only a decision that was stored (new, or newer than the stored one) changes anything.
    if after is None or known is None or known.supplier is None:
        return
    old = _counter_key(known.supplier, known.received_at, known.validity, known.root_cause)
    new = _counter_key(known.supplier, known.received_at, after.validity, after.root_cause)
    if old != new:
        await _count(session, old, -1)
        await _count(session, new, 1)
    await evaluate_supplier(session, clock, thresholds, known.supplier, known.received_at)


async def count_complaint(
    session: AsyncSession, clock: Clock, thresholds: dict[Attribution, int], complaint_id: uuid.UUID
) -> None:
    """A complaint's fact row was just recorded: count the decisions that arrived before it
    (events from two topics can cross) towards its supplier's upheld counter, and evaluate
    the supplier's month if there were any. The caller holds :func:`lock_complaint`."""
    complaints, decisions = tables.complaint_facts, tables.decision_facts
    rows = await session.execute(
        select(
            complaints.c.supplier,
            complaints.c.received_at,
            decisions.c.validity,
            decisions.c.root_cause,
        )
        .select_from(complaints)
        .join(decisions, decisions.c.complaint_id == complaints.c.complaint_id)
        .where(complaints.c.complaint_id == complaint_id)
    )
    found = rows.all()
    for row in found:
        await _count(
            session, _counter_key(row.supplier, row.received_at, row.validity, row.root_cause), 1
        )
    if found and found[0].supplier:
        await evaluate_supplier(session, clock, thresholds, found[0].supplier, found[0].received_at)


async def evaluate_supplier(
    session: AsyncSession,
    clock: Clock,
    thresholds: dict[Attribution, int],
    supplier: str,
    moment: datetime,
) -> None:
    """Raise or clear the supplier's defect alerts for the month of ``moment``."""
    start, end = month_of(moment)
    counts = await _upheld_counts(session, supplier, start)
    alerts = tables.alerts
    current = {
        row.attribution: row
        for row in await session.execute(
            select(alerts)
            .where(
                alerts.c.kind == SUPPLIER_DEFECTS,
                alerts.c.subject == supplier,
                alerts.c.period_start == start,
            )
            .with_for_update()
        )
    }
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
            current=current.get(attribution.value),
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
    current: Row | None | _Unread = _UNREAD,
) -> None:
    """Raise the condition's alert for the period when ``count`` exceeds ``threshold`` (once;
    again only after it cleared), keep its count current, clear it when it no longer does.
    ``current``: the condition's alert row for the period (or None), if the caller already
    read it locked."""
    alerts = tables.alerts
    start, end = period
    now = clock.now()
    if isinstance(current, _Unread):
        current = await _current_alert(session, kind, subject, attribution, start)
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


async def _current_alert(
    session: AsyncSession, kind: str, subject: str, attribution: str, start: date
) -> Row | None:
    alerts = tables.alerts
    return (
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


async def _update(session: AsyncSession, alert_id: uuid.UUID, **values) -> None:  # noqa: ANN003
    await session.execute(
        tables.alerts.update().where(tables.alerts.c.id == alert_id).values(**values)
    )


async def _upheld_counts(
    session: AsyncSession, supplier: str, period_start: date
) -> dict[Attribution, int]:
    """The supplier's upheld complaints in the month, by attribution: one counter row each,
    kept by the handlers (so the cost does not grow with the supplier's volume)."""
    counts = tables.supplier_defect_counts
    rows = await session.execute(
        select(counts.c.attribution, counts.c.upheld).where(
            counts.c.supplier == supplier, counts.c.period_start == period_start
        )
    )
    return {Attribution(attribution): upheld for attribution, upheld in rows}


def recounted_supplier_defects() -> Select:
    """The upheld counters recounted from the facts (supplier, period_start, attribution,
    upheld): what the handlers keep in ``supplier_defect_counts``. For checks and for filling
    the table in bulk (the benchmark's copied history)."""
    complaints, decisions = tables.complaint_facts, tables.decision_facts
    attribution = case(
        *(
            (
                decisions.c.root_cause.in_(
                    [c for c, a in ROOT_CAUSE_ATTRIBUTION.items() if a is at]
                ),
                literal(at.value),
            )
            for at in Attribution
        )
    ).label("attribution")
    upheld = (
        select(
            complaints.c.supplier,
            cast(
                func.date_trunc("month", func.timezone("UTC", complaints.c.received_at)), Date
            ).label("period_start"),
            attribution,
        )
        .select_from(complaints)
        .join(decisions, decisions.c.complaint_id == complaints.c.complaint_id)
        .where(complaints.c.supplier.is_not(None), decisions.c.validity.in_(UPHELD_VALIDITIES))
        .subquery("upheld")
    )
    return (
        select(upheld.c.supplier, upheld.c.period_start, upheld.c.attribution, func.count())
        .where(upheld.c.attribution.is_not(None))
        .group_by(upheld.c.supplier, upheld.c.period_start, upheld.c.attribution)
    )


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
