"""Incidents: a spike of similar complaints in a short window, raised as one alert with its
member complaints and cleared when the spike is over (see ``alerts.model.IncidentRule``).

Runs inside the consumer's transaction after each complaint's facts are stored. Every window
the new complaint belongs to is evaluated (not just the one ending at it), so the same
complaints give the same incidents whatever order they arrive in.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from redress_shared.clock import Clock
from redress_shared.events import ALERT_CLEARED, ALERT_RAISED
from sqlalchemy.ext.asyncio import AsyncSession

from analytics_service.alerts import store as alert_store
from analytics_service.alerts.incidents import store
from analytics_service.alerts.model import (
    INCIDENT,
    IncidentGroup,
    IncidentRule,
    IncidentScope,
    alert_id_for,
)
from analytics_service.alerts.service import publish


async def detect_incidents(
    session: AsyncSession, clock: Clock, rule: IncidentRule, complaint_id: uuid.UUID
) -> None:
    """Raise, extend or clear the incidents of the complaint's groups."""
    complaint = await store.complaint(session, complaint_id)
    if complaint.category is not None:
        for scope in IncidentScope:
            value = complaint._mapping[scope.value]
            if value is not None:
                group = IncidentGroup(scope, complaint.category, value)
                await _evaluate_group(session, clock, rule, group, complaint.received_at)
    await _clear_finished(session, clock, rule)


async def _evaluate_group(
    session: AsyncSession,
    clock: Clock,
    rule: IncidentRule,
    group: IncidentGroup,
    received_at: datetime,
) -> None:
    """Evaluate every window of the group that holds ``received_at``."""
    for window in await store.windows_holding(session, rule, group, received_at):
        if rule.is_spike(window.count, window.baseline):
            await _record_spike(session, clock, rule, group, window.end, window.baseline)


async def _members(session: AsyncSession, alert_id: uuid.UUID) -> list[uuid.UUID]:
    return (await alert_store.members_of(session, [alert_id])).get(alert_id, [])


async def _record_spike(
    session: AsyncSession,
    clock: Clock,
    rule: IncidentRule,
    group: IncidentGroup,
    end: datetime,
    baseline: int,
) -> None:
    """Join the spike window ending at ``end`` to the incident it continues, or raise one."""
    members, first_at = await store.window_members(session, group, end, rule.window)
    current = await store.continued_incident(session, group, end, rule.window, first_at.date())
    now = clock.now()
    if current is None:
        alert_id = alert_id_for(INCIDENT, group.subject, group.scope.value, first_at.date())
        await alert_store.insert_alert(
            session,
            id=alert_id,
            kind=INCIDENT,
            subject=group.subject,
            attribution=group.scope.value,
            period_start=first_at.date(),
            period_end=end.date(),
            count=0,
            # Alerts say "raised when count exceeds threshold"; a spike reaches its count.
            threshold=rule.threshold(baseline) - 1,
            raised_at=now,
            first_member_at=first_at,
            last_member_at=end,
        )
        count = await store.add_members(session, alert_id, members)
        await alert_store.update_alert(session, alert_id, count=count)
        await publish(session, ALERT_RAISED, alert_id, now, await _members(session, alert_id))
        return
    count = await store.add_members(session, current.id, members)
    first = min(current.first_member_at, first_at)
    last = max(current.last_member_at, end)
    await alert_store.update_alert(
        session,
        current.id,
        count=count,
        first_member_at=first,
        last_member_at=last,
        period_start=min(current.period_start, first.date()),
        period_end=max(current.period_end, last.date()),
    )
    latest_seen = await store.latest_in_group(session, group)
    if current.cleared_at is not None and not rule.finished(last, max(latest_seen, now)):
        # The spike is back while it still counts as going on: a new occurrence.
        await alert_store.update_alert(session, current.id, cleared_at=None, raised_at=now)
        await publish(session, ALERT_RAISED, current.id, now, await _members(session, current.id))


async def _clear_finished(session: AsyncSession, clock: Clock, rule: IncidentRule) -> None:
    """Clear the open incidents a whole window past their last spike member: by the group's
    own later complaints (event time), or by the clock when the group has gone quiet."""
    now = clock.now()
    for incident in await store.open_incidents(session):
        group = IncidentGroup.of_subject(incident.attribution, incident.subject)
        latest_seen = max(await store.latest_in_group(session, group), now)
        if rule.finished(incident.last_member_at, latest_seen):
            await alert_store.update_alert(session, incident.id, cleared_at=now)
            await publish(
                session, ALERT_CLEARED, incident.id, now, await _members(session, incident.id)
            )
