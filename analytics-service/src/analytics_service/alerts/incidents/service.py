"""Incidents: a spike of similar complaints in a short window, raised as one alert with its
member complaints and cleared when the spike is over (see ``alerts.model.IncidentRule`` and
``alerts.incidents.model``).

Runs inside the consumer's transaction after a batch's complaint facts are stored. Each new
complaint adds one to its groups' five-minute slot counters; the windows holding it are
counted from those counters (a bounded number), a window that just became a spike brings in
its complaints once, and later complaints join one by one, so the cost per complaint does
not grow with the size of a burst. Product groups are settled before regional ones, so a
regional window does not count what a product incident holds.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime

from redress_shared.clock import Clock
from redress_shared.events import ALERT_CLEARED, ALERT_RAISED, ALERTS_TOPIC
from redress_shared.outbox import add_to_outbox
from sqlalchemy.ext.asyncio import AsyncSession

from analytics_service import tables
from analytics_service.alerts import store as alert_store
from analytics_service.alerts.events import alert_event
from analytics_service.alerts.incidents import store
from analytics_service.alerts.incidents.model import (
    GroupReplay,
    Incident,
    merged_ranges,
    slot_of,
    slot_start,
    slots_per,
    window_counts,
)
from analytics_service.alerts.model import IncidentGroup, IncidentRule, IncidentScope
from analytics_service.alerts.service import publish


@dataclass(frozen=True)
class Arrival:
    """A complaint just recorded, as incident detection sees it."""

    complaint_id: uuid.UUID
    received_at: datetime
    category: str | None
    product: str | None
    region: str | None


async def detect_incidents(
    session: AsyncSession, clock: Clock, rule: IncidentRule, arrivals: list[Arrival]
) -> None:
    """Raise, extend or clear the incidents of the groups of a batch's new complaints (in
    arrival order), then clear any other incident that is over."""
    now = clock.now()
    held: set[uuid.UUID] = set()
    seen: set[uuid.UUID] = set()
    for scope in (IncidentScope.PRODUCT, IncidentScope.REGION):
        seen |= await _detect(session, now, rule, scope, arrivals, held)
    await _clear_finished(session, now, rule, seen)


async def _detect(
    session: AsyncSession,
    now: datetime,
    rule: IncidentRule,
    scope: IncidentScope,
    arrivals: list[Arrival],
    held: set[uuid.UUID],
) -> set[uuid.UUID]:
    """One scope's groups: counters, windows, spikes; the incidents it looked at."""
    size = slots_per(rule.window)
    every: dict[tuple[str, str], list[Arrival]] = defaultdict(list)
    for arrival in arrivals:
        value = getattr(arrival, scope.value)
        if arrival.category is not None and value is not None:
            every[(arrival.category, value)].append(arrival)
    if not every:
        return set()
    increments = Counter(
        (key[0], key[1], slot_of(a.received_at)) for key, group in every.items() for a in group
    )
    latest_before = await store.count_arrivals(
        session,
        scope,
        [(*k, n, 0) for k, n in increments.items()],
        {key: max(a.received_at for a in group) for key, group in every.items()},
    )
    # What each window counts (a regional one leaves out what a product incident holds).
    counted = {
        key: [(a.complaint_id, a.received_at) for a in group if a.complaint_id not in held]
        for key, group in every.items()
    }
    ranges = {
        key: merged_ranges({slot_of(at) for _, at in group}, size - 1, size - 1)
        for key, group in counted.items()
    }
    per_slot: dict[tuple[str, str], dict[int, int]] = defaultdict(dict)
    asked = [(*key, low, high) for key, spans in ranges.items() for low, high in spans]
    for row in await store.slot_counts(session, scope, asked) if asked else []:
        per_slot[(row[0], row[1])][row[2]] = row[3]
    before: dict[tuple[str, str], dict[int, int]] = {}
    after: dict[tuple[str, str], dict[int, int]] = {}
    candidates: list[tuple[str, str, int]] = []
    for key, group in counted.items():
        mine = Counter(slot_of(at) for _, at in group)
        before[key], after[key] = window_counts(per_slot[key], mine, ranges[key], size)
        candidates += [(*key, f) for f, n in after[key].items() if n >= rule.min_count]
    if not candidates:
        return set()
    thresholds: dict[tuple[str, str], dict[int, int]] = defaultdict(dict)
    crossing: dict[tuple[str, str], set[int]] = defaultdict(set)
    for category, value, first, baseline in await store.baselines(
        session, scope, candidates, slots_per(rule.baseline)
    ):
        key, threshold = (category, value), rule.threshold(baseline)
        if after[key][first] >= threshold:
            thresholds[key][first] = threshold
            if before[key][first] < threshold:
                crossing[key].add(first)
    prior: dict[tuple[str, str], dict[uuid.UUID, datetime]] = defaultdict(dict)
    regions: dict[uuid.UUID, tuple[str, datetime, str | None]] = {
        a.complaint_id: (a.category, a.received_at, a.region) for a in arrivals if a.category
    }
    windows = [
        (*key, slot_start(low), slot_start(high + 1))
        for key, firsts in crossing.items()
        for low, high in merged_ranges(firsts, 0, size - 1)
    ]
    if windows:
        batch = {a.complaint_id for group in every.values() for a in group}
        for row in await store.window_complaints(session, scope, windows):
            regions.setdefault(row.complaint_id, (row.category, row.received_at, row.region))
            if row.complaint_id not in batch:
                prior[(row.category, row.value)][row.complaint_id] = row.received_at
    spans = {}
    for key in thresholds:
        times = [at for _, at in counted[key]]
        spans[key] = (min(times), max(times))
    near = await store.incidents_near(session, scope, spans, rule.window)
    replays = []
    for key in thresholds:
        group = IncidentGroup(scope, *key)
        replay = GroupReplay(
            rule=rule,
            group=group,
            now=now,
            latest=latest_before.get(key),
            counts=before[key],
            thresholds=thresholds[key],
            prior=prior[key],
            incidents=[Incident(**row) for row in near[key]],
        )
        replay.run(counted[key])
        replays.append(replay)
    return await _write(session, now, scope, replays, regions, held)


async def _write(
    session: AsyncSession,
    now: datetime,
    scope: IncidentScope,
    replays: list[GroupReplay],
    regions: dict[uuid.UUID, tuple[str, datetime, str | None]],
    held: set[uuid.UUID],
) -> set[uuid.UUID]:
    """Store what the replays decided: new incidents, members, changed rows, then publish
    their announcements in order."""
    incidents = [incident for replay in replays for incident in replay.incidents]
    announced = {a.incident.id for r in replays for a in r.announcements if a.incident.stored}
    stored_members = await alert_store.members_of(session, sorted(announced))
    for incident in incidents:
        if not incident.stored:
            await alert_store.insert_alert(session, **_row(incident))
    added = await store.add_members(
        session, [(i.id, member) for i in incidents for member in i.added]
    )
    grew = Counter(row["alert_id"] for row in added)
    changed = []
    for incident in incidents:
        if incident.stored and not incident.added and incident.id not in announced:
            continue
        count = incident.count + grew[incident.id] if incident.stored else len(incident.added)
        changed.append(_row(incident, count=count))
    await store.update_incidents(session, changed)
    for replay in replays:
        for announcement in replay.announcements:
            members = set(announcement.added) | set(
                stored_members.get(announcement.incident.id, [])
            )
            snapshot = announcement.incident
            snapshot.count = len(members)
            event_type = ALERT_RAISED if announcement.raised else ALERT_CLEARED
            event = alert_event(event_type, snapshot, now, sorted(members))
            await add_to_outbox(session, tables.platform, ALERTS_TOPIC, event)
    if scope is IncidentScope.PRODUCT:
        newly = [row["complaint_id"] for row in added if not row["was_held"]]
        held.update(newly)
        increments = Counter()
        for complaint_id in newly:
            category, received_at, region = regions[complaint_id]
            if region is not None:
                increments[(category, region, slot_of(received_at))] += 1
        await store.add_to_slots(
            session, IncidentScope.REGION, [(*k, 0, n) for k, n in increments.items()]
        )
    return {incident.id for incident in incidents}


def _row(incident: Incident, **changes: object) -> dict:
    values = {
        "id": incident.id,
        "kind": incident.kind,
        "subject": incident.subject,
        "attribution": incident.attribution,
        "period_start": incident.period_start,
        "period_end": incident.period_end,
        "count": incident.count,
        "threshold": incident.threshold,
        "raised_at": incident.raised_at,
        "cleared_at": incident.cleared_at,
        "first_member_at": incident.first_member_at,
        "last_member_at": incident.last_member_at,
    }
    values.update(changes)
    return values


async def _clear_finished(
    session: AsyncSession, now: datetime, rule: IncidentRule, besides: set[uuid.UUID]
) -> None:
    """Clear the open incidents a whole window past their last spike member: by the group's
    own later complaints (event time), or by the clock when the group has gone quiet."""
    incidents = await store.open_incidents(session, besides)
    if not incidents:
        return
    wanted = [IncidentGroup.of_subject(i["attribution"], i["subject"]) for i in incidents]
    latest = await store.latest_of(session, wanted)
    for incident, group in zip(incidents, wanted, strict=True):
        seen = latest.get((group.scope.value, group.category, group.value), now)
        if rule.finished(incident["last_member_at"], max(seen, now)):
            await alert_store.update_alert(session, incident["id"], cleared_at=now)
            members = await alert_store.members_of(session, [incident["id"]])
            await publish(
                session, ALERT_CLEARED, incident["id"], now, members.get(incident["id"], [])
            )
