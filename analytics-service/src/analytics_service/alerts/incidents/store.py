"""SQL of the incidents: the windows of a group of similar complaints, their members, and
the incident alert a spike continues."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta

from sqlalchemy import Row, and_, func, literal, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from analytics_service import tables
from analytics_service.alerts.model import INCIDENT, IncidentGroup, IncidentRule, IncidentScope
from analytics_service.alerts.store import of_condition

facts = tables.complaint_facts
alerts = tables.alerts
members_table = tables.incident_members


def same_group(group: IncidentGroup, complaint=facts):  # noqa: ANN001, ANN201
    """The complaints of a group: same category, and same product or region."""
    return and_(
        complaint.c.category == group.category, complaint.c[group.scope.value] == group.value
    )


def _counts_for(scope: IncidentScope, complaint):  # noqa: ANN001, ANN202
    """A regional spike counts only complaints no product incident holds already, so one
    burst of one product in one country is one incident, not two."""
    if scope is not IncidentScope.REGION:
        return literal(True)
    return ~(
        select(members_table.c.complaint_id)
        .join(alerts, alerts.c.id == members_table.c.alert_id)
        .where(
            members_table.c.complaint_id == complaint.c.complaint_id,
            alerts.c.kind == INCIDENT,
            alerts.c.attribution == IncidentScope.PRODUCT.value,
        )
        .exists()
    )


async def complaint(session: AsyncSession, complaint_id: uuid.UUID) -> Row:
    """A complaint's fact row."""
    return (await session.execute(select(facts).where(facts.c.complaint_id == complaint_id))).one()


async def windows_holding(
    session: AsyncSession,
    rule: IncidentRule,
    group: IncidentGroup,
    received_at: datetime,
) -> list[Row]:
    """Every window of the group that holds ``received_at`` (those ending at one of the
    group's complaints in [received_at, received_at + W)): its end, the group's complaints
    in (end − W, end] and in the D days before that window."""
    ends = facts.alias("window_end")
    in_window = facts.alias("in_window")
    in_baseline = facts.alias("in_baseline")
    window_start = ends.c.received_at - rule.window
    window_count = (
        select(func.count())
        .where(
            same_group(group, in_window),
            in_window.c.received_at > window_start,
            in_window.c.received_at <= ends.c.received_at,
            _counts_for(group.scope, in_window),
        )
        .scalar_subquery()
    )
    baseline_count = (
        select(func.count())
        .where(
            same_group(group, in_baseline),
            in_baseline.c.received_at >= window_start - rule.baseline,
            in_baseline.c.received_at < window_start,
        )
        .scalar_subquery()
    )
    return list(
        (
            await session.execute(
                select(
                    ends.c.received_at.label("end"),
                    window_count.label("count"),
                    baseline_count.label("baseline"),
                )
                .where(
                    same_group(group, ends),
                    ends.c.received_at >= received_at,
                    ends.c.received_at < received_at + rule.window,
                )
                .distinct()
                .order_by(ends.c.received_at)
            )
        ).all()
    )


async def window_members(
    session: AsyncSession, group: IncidentGroup, end: datetime, window: timedelta
) -> tuple[list[uuid.UUID], datetime]:
    """The complaints a spike window ending at ``end`` counts, and the first one's receipt."""
    in_window = and_(
        same_group(group),
        facts.c.received_at > end - window,
        facts.c.received_at <= end,
        _counts_for(group.scope, facts),
    )
    members = list(await session.scalars(select(facts.c.complaint_id).where(in_window)))
    first_at = await session.scalar(select(func.min(facts.c.received_at)).where(in_window))
    return members, first_at


async def continued_incident(
    session: AsyncSession,
    group: IncidentGroup,
    end: datetime,
    window: timedelta,
    first_day: date,
) -> Row | None:
    """The incident a spike window ending at ``end`` continues, locked: one whose members
    reach within a window of it; failing that, the group's incident of the same day (one
    alert per group and day)."""
    return (
        await session.execute(
            select(alerts)
            .where(
                of_condition(INCIDENT, group.subject, group.scope.value),
                or_(
                    and_(
                        alerts.c.last_member_at >= end - window,
                        alerts.c.first_member_at <= end + window,
                    ),
                    alerts.c.period_start == first_day,
                ),
            )
            .order_by(alerts.c.last_member_at.desc())
            .limit(1)
            .with_for_update()
        )
    ).first()


async def add_members(session: AsyncSession, alert_id: uuid.UUID, members: list) -> int:
    """Add complaints to an incident (once each) and answer how many it has now."""
    if members:
        await session.execute(
            insert(members_table)
            .values([{"alert_id": alert_id, "complaint_id": m} for m in members])
            .on_conflict_do_nothing()
        )
    count = await session.scalar(select(func.count()).where(members_table.c.alert_id == alert_id))
    return count or 0


async def latest_in_group(session: AsyncSession, group: IncidentGroup) -> datetime:
    """The receipt of the group's latest complaint."""
    return await session.scalar(select(func.max(facts.c.received_at)).where(same_group(group)))


async def open_incidents(session: AsyncSession) -> list[Row]:
    """The incidents not cleared, locked."""
    return list(
        (
            await session.execute(
                select(alerts)
                .where(alerts.c.kind == INCIDENT, alerts.c.cleared_at.is_(None))
                .with_for_update()
            )
        ).all()
    )
