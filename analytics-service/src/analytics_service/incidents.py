"""Incidents: a spike of similar complaints in a short window, raised as one alert with its
member complaints and cleared when the spike is over (see ``models.IncidentRule``).

Runs inside the consumer's transaction after each complaint's facts are stored. Every window
the new complaint belongs to is evaluated (not just the one ending at it), so the same
complaints give the same incidents whatever order they arrive in.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from redress_shared.clock import Clock
from redress_shared.events import ALERT_CLEARED, ALERT_RAISED
from sqlalchemy import and_, func, literal, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from analytics_service import tables
from analytics_service.alerts import _publish, _update, alert_id_for
from analytics_service.models import IncidentRule, IncidentScope

INCIDENT = "incident"
facts = tables.complaint_facts
alerts = tables.alerts


def incident_subject(category: str, value: str) -> str:
    """How an incident names its group, e.g. ``outage/RO`` or ``product_defect/CH-20``."""
    return f"{category}/{value}"


def _same_group(scope: IncidentScope, category: str, value: str):  # noqa: ANN202
    return and_(facts.c.category == category, facts.c[scope.value] == value)


def _counts_for(scope: IncidentScope, complaint):  # noqa: ANN001, ANN202
    """A regional spike counts only complaints no product incident holds already, so one
    burst of one product in one country is one incident, not two."""
    if scope is not IncidentScope.REGION:
        return literal(True)
    members = tables.incident_members
    return ~(
        select(members.c.complaint_id)
        .join(alerts, alerts.c.id == members.c.alert_id)
        .where(
            members.c.complaint_id == complaint.c.complaint_id,
            alerts.c.kind == INCIDENT,
            alerts.c.attribution == IncidentScope.PRODUCT.value,
        )
        .exists()
    )


async def detect_incidents(
    session: AsyncSession, clock: Clock, rule: IncidentRule, complaint_id: uuid.UUID
) -> None:
    """Raise, extend or clear the incidents of the complaint's groups."""
    complaint = (
        await session.execute(select(facts).where(facts.c.complaint_id == complaint_id))
    ).one()
    if complaint.category is not None:
        for scope in IncidentScope:
            value = complaint._mapping[scope.value]
            if value is not None:
                await _evaluate_group(
                    session, clock, rule, scope, complaint.category, value, complaint.received_at
                )
    await _clear_finished(session, clock, rule)


async def _evaluate_group(
    session: AsyncSession,
    clock: Clock,
    rule: IncidentRule,
    scope: IncidentScope,
    category: str,
    value: str,
    received_at: datetime,
) -> None:
    """Evaluate every window of the group that holds ``received_at``: those ending at one of
    the group's complaints in [received_at, received_at + W)."""
    group = _same_group(scope, category, value)
    ends = facts.alias("window_end")
    in_window = facts.alias("in_window")
    in_baseline = facts.alias("in_baseline")
    window_start = ends.c.received_at - rule.window
    # Per candidate window end: the group's complaints in (end − W, end] and in the D days
    # before that window.
    window_count = (
        select(func.count())
        .where(
            in_window.c.category == category,
            in_window.c[scope.value] == value,
            in_window.c.received_at > window_start,
            in_window.c.received_at <= ends.c.received_at,
            _counts_for(scope, in_window),
        )
        .scalar_subquery()
    )
    baseline_count = (
        select(func.count())
        .where(
            in_baseline.c.category == category,
            in_baseline.c[scope.value] == value,
            in_baseline.c.received_at >= window_start - rule.baseline,
            in_baseline.c.received_at < window_start,
        )
        .scalar_subquery()
    )
    windows = (
        await session.execute(
            select(
                ends.c.received_at.label("end"),
                window_count.label("count"),
                baseline_count.label("baseline"),
            )
            .where(
                ends.c.category == category,
                ends.c[scope.value] == value,
                ends.c.received_at >= received_at,
                ends.c.received_at < received_at + rule.window,
            )
            .distinct()
            .order_by(ends.c.received_at)
        )
    ).all()
    for window in windows:
        if rule.is_spike(window.count, window.baseline):
            await _record_spike(
                session,
                clock,
                rule,
                scope,
                category,
                value,
                window.end,
                rule.threshold(window.baseline),
                group,
            )


async def _record_spike(
    session: AsyncSession,
    clock: Clock,
    rule: IncidentRule,
    scope: IncidentScope,
    category: str,
    value: str,
    end: datetime,
    spike_threshold: int,
    group,  # noqa: ANN001
) -> None:
    """Join the spike window ending at ``end`` to the incident it continues, or raise one."""
    in_window = and_(
        group,
        facts.c.received_at > end - rule.window,
        facts.c.received_at <= end,
        _counts_for(scope, facts),
    )
    members = list(await session.scalars(select(facts.c.complaint_id).where(in_window)))
    first_at = await session.scalar(select(func.min(facts.c.received_at)).where(in_window))
    subject = incident_subject(category, value)
    mine = and_(
        alerts.c.kind == INCIDENT, alerts.c.subject == subject, alerts.c.attribution == scope.value
    )
    # The incident this window continues: one whose members reach within a window of it;
    # failing that, the group's incident of the same day (one alert per group and day).
    current = (
        await session.execute(
            select(alerts)
            .where(
                mine,
                or_(
                    and_(
                        alerts.c.last_member_at >= end - rule.window,
                        alerts.c.first_member_at <= end + rule.window,
                    ),
                    alerts.c.period_start == first_at.date(),
                ),
            )
            .order_by(alerts.c.last_member_at.desc())
            .limit(1)
            .with_for_update()
        )
    ).first()
    now = clock.now()
    if current is None:
        alert_id = alert_id_for(INCIDENT, subject, scope.value, first_at.date())
        await session.execute(
            alerts.insert().values(
                id=alert_id,
                kind=INCIDENT,
                subject=subject,
                attribution=scope.value,
                period_start=first_at.date(),
                period_end=end.date(),
                count=0,
                # Alerts say "raised when count exceeds threshold"; a spike reaches its count.
                threshold=spike_threshold - 1,
                raised_at=now,
                first_member_at=first_at,
                last_member_at=end,
            )
        )
        await _add_members(session, alert_id, members)
        await _publish(session, ALERT_RAISED, alert_id, now, await _members(session, alert_id))
        return
    count = await _add_members(session, current.id, members)
    first = min(current.first_member_at, first_at)
    last = max(current.last_member_at, end)
    await _update(
        session,
        current.id,
        count=count,
        first_member_at=first,
        last_member_at=last,
        period_start=min(current.period_start, first.date()),
        period_end=max(current.period_end, last.date()),
    )
    latest_seen = await _latest_in_group(session, group)
    if current.cleared_at is not None and not rule.finished(last, max(latest_seen, now)):
        # The spike is back while it still counts as going on: a new occurrence.
        await _update(session, current.id, cleared_at=None, raised_at=now)
        await _publish(session, ALERT_RAISED, current.id, now, await _members(session, current.id))


async def _add_members(session: AsyncSession, alert_id: uuid.UUID, members: list) -> int:
    """Add complaints to an incident (once each) and answer how many it has now."""
    if members:
        await session.execute(
            insert(tables.incident_members)
            .values([{"alert_id": alert_id, "complaint_id": m} for m in members])
            .on_conflict_do_nothing()
        )
    count = await session.scalar(
        select(func.count()).where(tables.incident_members.c.alert_id == alert_id)
    )
    await _update(session, alert_id, count=count)
    return count or 0


async def _members(session: AsyncSession, alert_id: uuid.UUID) -> list[uuid.UUID]:
    return list(
        await session.scalars(
            select(tables.incident_members.c.complaint_id)
            .where(tables.incident_members.c.alert_id == alert_id)
            .order_by(tables.incident_members.c.complaint_id)
        )
    )


async def _latest_in_group(session: AsyncSession, group) -> datetime:  # noqa: ANN001
    return await session.scalar(select(func.max(facts.c.received_at)).where(group))


async def _clear_finished(session: AsyncSession, clock: Clock, rule: IncidentRule) -> None:
    """Clear the open incidents a whole window past their last spike member: by the group's
    own later complaints (event time), or by the clock when the group has gone quiet."""
    now = clock.now()
    open_incidents = (
        await session.execute(
            select(alerts)
            .where(alerts.c.kind == INCIDENT, alerts.c.cleared_at.is_(None))
            .with_for_update()
        )
    ).all()
    for incident in open_incidents:
        category, _, value = incident.subject.partition("/")
        group = _same_group(IncidentScope(incident.attribution), category, value)
        latest_seen = max(await _latest_in_group(session, group), now)
        if rule.finished(incident.last_member_at, latest_seen):
            await _update(session, incident.id, cleared_at=now)
            await _publish(
                session, ALERT_CLEARED, incident.id, now, await _members(session, incident.id)
            )


async def members_of(
    sessions: async_sessionmaker[AsyncSession], alert_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    """The member complaints of each incident alert among ``alert_ids``."""
    members = tables.incident_members
    found: dict[uuid.UUID, list[uuid.UUID]] = {}
    if not alert_ids:
        return found
    async with sessions() as session:
        rows = await session.execute(
            select(members.c.alert_id, members.c.complaint_id)
            .where(members.c.alert_id.in_(alert_ids))
            .order_by(members.c.alert_id, members.c.complaint_id)
        )
        for alert_id, complaint_id in rows:
            found.setdefault(alert_id, []).append(complaint_id)
    return found
