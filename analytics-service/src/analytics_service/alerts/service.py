"""Alert use cases: supplier defects counted from decisions and judged per supplier and
month, satisfaction judged per month, and every alert raised once per condition and period
and cleared when the condition ends. They run inside the consumer's transaction; the reads
answer the API."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, date, datetime, time

from redress_shared.clock import Clock
from redress_shared.db import SessionFactory
from redress_shared.events import ALERT_CLEARED, ALERT_RAISED, ALERTS_TOPIC
from redress_shared.outbox import add_to_outbox
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from analytics_service import tables
from analytics_service.alerts import store
from analytics_service.alerts.events import alert_event
from analytics_service.alerts.model import (
    INCIDENT,
    SATISFACTION,
    SUPPLIER_DEFECTS,
    Attribution,
    CounterKey,
    SupplierMonth,
    above_threshold,
    alert_id_for,
    counter_key,
    month_of,
    satisfaction_conditions,
)


class _Unread:
    """Marks an argument the function reads itself when it is not given."""


_UNREAD = _Unread()


async def publish(
    session: AsyncSession,
    event_type: str,
    alert_id: uuid.UUID,
    now: datetime,
    members: list[uuid.UUID] | None = None,
) -> None:
    """Stage the alert's event, as the alert now stands, into the outbox."""
    event = alert_event(event_type, await store.alert(session, alert_id), now, members)
    await add_to_outbox(session, tables.platform, ALERTS_TOPIC, event)


async def move_upheld_counts(
    session: AsyncSession,
    clock: Clock,
    thresholds: dict[Attribution, int],
    moves: list[tuple[str, datetime, CounterKey | None, CounterKey | None]],
) -> None:
    """Stored decisions changed what their complaints count towards: move each (supplier,
    received_at, old, new) from the ``old`` counter to the ``new`` one, then re-evaluate each
    supplier month touched, once."""
    deltas: Counter[CounterKey] = Counter()
    for _, _, old, new in moves:
        if old != new:
            if old is not None:
                deltas[old] -= 1
            if new is not None:
                deltas[new] += 1
    await store.add_upheld(session, deltas)
    months = {(supplier, month_of(received_at)[0]) for supplier, received_at, _, _ in moves}
    await evaluate_suppliers(session, clock, thresholds, months)


async def count_decided(
    session: AsyncSession,
    clock: Clock,
    thresholds: dict[Attribution, int],
    decided: list[tuple[str | None, datetime, str, str | None]],
) -> None:
    """Complaints' fact rows were just recorded: count the decisions that arrived before them
    (events from two topics can cross), each given as (supplier, received_at, validity,
    root_cause), towards their suppliers' upheld counters, and evaluate those suppliers'
    months. The caller holds the complaints' locks."""
    if not decided:
        return
    deltas: Counter[CounterKey] = Counter()
    for supplier, received_at, validity, root_cause in decided:
        key = counter_key(supplier, received_at, validity, root_cause)
        if key is not None:
            deltas[key] += 1
    await store.add_upheld(session, deltas)
    months = {(supplier, month_of(at)[0]) for supplier, at, _, _ in decided if supplier}
    await evaluate_suppliers(session, clock, thresholds, months)


async def evaluate_suppliers(
    session: AsyncSession,
    clock: Clock,
    thresholds: dict[Attribution, int],
    months: set[tuple[str, date]],
) -> None:
    """Raise or clear the defect alerts of each (supplier, first day of a UTC month)."""
    if not months:
        return
    ordered = sorted(months)
    counts = await store.upheld_counts(session, ordered)
    current = await store.period_alerts(session, SUPPLIER_DEFECTS, ordered)
    for supplier, start in ordered:
        period = month_of(datetime.combine(start, time(), UTC))
        for attribution, threshold in thresholds.items():
            await settle_condition(
                session,
                clock,
                kind=SUPPLIER_DEFECTS,
                subject=supplier,
                attribution=attribution.value,
                period=period,
                count=counts.get((supplier, start), {}).get(attribution, 0),
                threshold=threshold,
                current=current.get((supplier, start, attribution.value)),
            )


async def evaluate_satisfaction(
    session: AsyncSession, clock: Clock, month: tuple[date, date], min_answers: int
) -> None:
    """Raise or clear the month's satisfaction alerts (calendar months in UTC, over the
    surveys recorded in them; subject ``all``)."""
    row = await store.satisfaction_answers(session, *month)
    conditions = satisfaction_conditions(
        row.coefficient,
        row.recommend_answers,
        row.recommend,
        row.continue_answers,
        row.would_continue,
        min_answers,
    )
    current = await store.period_alerts(session, SATISFACTION, [("all", month[0])])
    for flag, (count, threshold) in conditions.items():
        await settle_condition(
            session,
            clock,
            kind=SATISFACTION,
            subject="all",
            attribution=flag.value,
            period=month,
            count=count,
            threshold=threshold,
            current=current.get(("all", month[0], flag.value)),
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
    start, end = period
    now = clock.now()
    if isinstance(current, _Unread):
        current = await store.current_alert(session, kind, subject, attribution, start)
    if above_threshold(count, threshold):
        if current is None:
            alert_id = alert_id_for(kind, subject, attribution, start)
            await store.insert_alert(
                session,
                id=alert_id,
                kind=kind,
                subject=subject,
                attribution=attribution,
                period_start=start,
                period_end=end,
                count=count,
                threshold=threshold,
                raised_at=now,
            )
            await publish(session, ALERT_RAISED, alert_id, now)
        elif current.cleared_at is not None:  # the condition is back: a new occurrence
            await store.update_alert(
                session,
                current.id,
                count=count,
                threshold=threshold,
                cleared_at=None,
                raised_at=now,
            )
            await publish(session, ALERT_RAISED, current.id, now)
        elif (current.count, current.threshold) != (count, threshold):
            await store.update_alert(session, current.id, count=count, threshold=threshold)
    elif current is not None and current.cleared_at is None:
        await store.update_alert(
            session, current.id, count=count, threshold=threshold, cleared_at=now
        )
        await publish(session, ALERT_CLEARED, current.id, now)


async def supplier_defects(
    session_factory: SessionFactory,
    start: datetime,
    end: datetime,
    thresholds: dict[Attribution, int],
) -> list[SupplierMonth]:
    """Per supplier and month: complaints, decided, upheld by attribution, against the
    thresholds."""
    async with session_factory() as session:
        rows = await store.supplier_months(session, start, end)
    return [
        SupplierMonth(
            supplier=row.supplier,
            month=row.month.date(),
            complaints=row.complaints,
            decided=row.decided,
            upheld=row.upheld,
            supplier_component=row.supplier_component,
            manufacturing=row.manufacturing,
            supplier_component_threshold=thresholds[Attribution.SUPPLIER_COMPONENT],
            manufacturing_threshold=thresholds[Attribution.MANUFACTURING],
        )
        for row in rows
    ]


async def list_alerts(
    session_factory: SessionFactory, *, active_only: bool, kind: str | None = None
) -> list[tuple[Row, list[uuid.UUID] | None]]:
    """Alerts, newest first (only one kind, if given), each incident with its members."""
    async with session_factory() as session:
        rows = await store.list_alerts(session, active_only, kind)
        members = await store.members_of(session, [row.id for row in rows if row.kind == INCIDENT])
    return [(row, members.get(row.id)) for row in rows]
