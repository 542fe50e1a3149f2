"""SQL of the alerts, the supplier upheld counters, and the supplier and satisfaction
figures the alerts are judged on."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from redress_shared.db import unnested
from sqlalchemy import Date, Integer, Row, Select, Text, and_, case, cast, func, literal, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from analytics_service import tables
from analytics_service.alerts.model import (
    UPHELD_VALIDITIES,
    Attribution,
    CounterKey,
    causes_of,
)

alerts = tables.alerts


def of_condition(kind: str, subject: str, attribution: str):  # noqa: ANN201
    """The alerts of one condition (kind, subject and attribution), as SQL."""
    return and_(
        alerts.c.kind == kind, alerts.c.subject == subject, alerts.c.attribution == attribution
    )


async def current_alert(
    session: AsyncSession, kind: str, subject: str, attribution: str, start: date
) -> Row | None:
    """The condition's alert for the period starting at ``start``, locked; or ``None``."""
    return (
        await session.execute(
            select(alerts)
            .where(of_condition(kind, subject, attribution), alerts.c.period_start == start)
            .with_for_update()
        )
    ).first()


async def insert_alert(session: AsyncSession, **values: Any) -> None:
    """Insert an alert row."""
    await session.execute(alerts.insert().values(**values))


async def update_alert(session: AsyncSession, alert_id: uuid.UUID, **values: Any) -> None:
    """Change an alert row."""
    await session.execute(alerts.update().where(alerts.c.id == alert_id).values(**values))


async def alert(session: AsyncSession, alert_id: uuid.UUID) -> Row:
    """An alert row as it now stands."""
    return (await session.execute(select(alerts).where(alerts.c.id == alert_id))).one()


async def add_upheld(session: AsyncSession, deltas: dict[CounterKey, int]) -> None:
    """Move upheld counters by their deltas; a counter that reaches zero is deleted (no row
    rather than a zero, whatever order the events came in)."""
    counts = tables.supplier_defect_counts
    keys = sorted(key for key, delta in deltas.items() if delta)
    if not keys:
        return
    given = unnested(
        "given",
        supplier=(Text(), [k[0] for k in keys]),
        period_start=(Date(), [k[1] for k in keys]),
        attribution=(Text(), [k[2] for k in keys]),
        upheld=(Integer(), [deltas[k] for k in keys]),
    )
    statement = insert(counts).from_select(
        ["supplier", "period_start", "attribution", "upheld"],
        select(given.c.supplier, given.c.period_start, given.c.attribution, given.c.upheld),
    )
    emptied = (
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=[counts.c.supplier, counts.c.period_start, counts.c.attribution],
                set_={"upheld": counts.c.upheld + statement.excluded.upheld},
            ).returning(
                counts.c.supplier, counts.c.period_start, counts.c.attribution, counts.c.upheld
            )
        )
    ).all()
    for supplier, period_start, attribution, upheld in emptied:
        if upheld == 0:
            await session.execute(
                counts.delete().where(
                    counts.c.supplier == supplier,
                    counts.c.period_start == period_start,
                    counts.c.attribution == attribution,
                    counts.c.upheld == 0,
                )
            )


async def upheld_counts(
    session: AsyncSession, months: list[tuple[str, date]]
) -> dict[tuple[str, date], dict[Attribution, int]]:
    """Each supplier's upheld complaints in the month, by attribution: one counter row each,
    kept by the handlers (so the cost does not grow with the supplier's volume)."""
    counts = tables.supplier_defect_counts
    given = unnested(
        "given",
        supplier=(Text(), [m[0] for m in months]),
        period_start=(Date(), [m[1] for m in months]),
    )
    rows = await session.execute(
        select(
            counts.c.supplier, counts.c.period_start, counts.c.attribution, counts.c.upheld
        ).join(
            given,
            and_(
                counts.c.supplier == given.c.supplier,
                counts.c.period_start == given.c.period_start,
            ),
        )
    )
    found: dict[tuple[str, date], dict[Attribution, int]] = {}
    for supplier, period_start, attribution, upheld in rows:
        found.setdefault((supplier, period_start), {})[Attribution(attribution)] = upheld
    return found


async def period_alerts(
    session: AsyncSession, kind: str, periods: list[tuple[str, date]]
) -> dict[tuple[str, date, str], Row]:
    """The alerts of one kind of each (subject, period start), locked, by (subject, period
    start, attribution)."""
    given = unnested(
        "given",
        subject=(Text(), [p[0] for p in periods]),
        period_start=(Date(), [p[1] for p in periods]),
    )
    rows = await session.execute(
        select(alerts)
        .join(
            given,
            and_(
                alerts.c.subject == given.c.subject, alerts.c.period_start == given.c.period_start
            ),
        )
        .where(alerts.c.kind == kind)
        .order_by(alerts.c.id)
        .with_for_update(of=alerts)
    )
    return {(row.subject, row.period_start, row.attribution): row for row in rows}


def recounted_supplier_defects() -> Select:
    """The upheld counters recounted from the facts (supplier, period_start, attribution,
    upheld): what the handlers keep in ``supplier_defect_counts``. For checks and for filling
    the table in bulk (the benchmark's copied history)."""
    complaints, decisions = tables.complaint_facts, tables.decision_facts
    attribution = case(
        *((decisions.c.root_cause.in_(causes_of(at)), literal(at.value)) for at in Attribution)
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


async def satisfaction_answers(session: AsyncSession, start: date, end: date) -> Row:
    """The surveys recorded in [start, end): mean coefficient and the would-recommend and
    would-continue answers."""
    surveys = tables.satisfaction_facts
    return (
        await session.execute(
            select(
                func.avg(surveys.c.coefficient).label("coefficient"),
                func.count(surveys.c.would_recommend).label("recommend_answers"),
                func.count().filter(surveys.c.would_recommend.is_(True)).label("recommend"),
                func.count(surveys.c.would_continue).label("continue_answers"),
                func.count().filter(surveys.c.would_continue.is_(True)).label("would_continue"),
            ).where(surveys.c.recorded_at >= start, surveys.c.recorded_at < end)
        )
    ).one()


async def supplier_months(session: AsyncSession, start: datetime, end: datetime) -> list[Row]:
    """Per supplier and month: complaints, decided, upheld, and upheld by attribution."""
    complaints, decisions = tables.complaint_facts, tables.decision_facts
    month = func.date_trunc("month", func.timezone("UTC", complaints.c.received_at)).label("month")
    upheld = decisions.c.validity.in_(UPHELD_VALIDITIES)

    def upheld_as(attribution: Attribution):  # noqa: ANN202
        causes = causes_of(attribution)
        return func.count().filter(and_(upheld, decisions.c.root_cause.in_(causes)))

    query = (
        select(
            complaints.c.supplier,
            month,
            func.count().label("complaints"),
            func.count(decisions.c.case_id).label("decided"),
            func.count().filter(upheld).label("upheld"),
            upheld_as(Attribution.SUPPLIER_COMPONENT).label("supplier_component"),
            upheld_as(Attribution.MANUFACTURING).label("manufacturing"),
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
    return list((await session.execute(query)).all())


async def list_alerts(session: AsyncSession, active_only: bool, kind: str | None) -> list[Row]:
    """Alerts, newest first (only one kind, if given)."""
    query = select(alerts).order_by(alerts.c.raised_at.desc())
    if active_only:
        query = query.where(alerts.c.cleared_at.is_(None))
    if kind is not None:
        query = query.where(alerts.c.kind == kind)
    return list((await session.execute(query)).all())


async def members_of(
    session: AsyncSession, alert_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    """The member complaints of each incident alert among ``alert_ids``."""
    members = tables.incident_members
    found: dict[uuid.UUID, list[uuid.UUID]] = {}
    if not alert_ids:
        return found
    rows = await session.execute(
        select(members.c.alert_id, members.c.complaint_id)
        .where(members.c.alert_id.in_(alert_ids))
        .order_by(members.c.alert_id, members.c.complaint_id)
    )
    for alert_id, complaint_id in rows:
        found.setdefault(alert_id, []).append(complaint_id)
    return found
