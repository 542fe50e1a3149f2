"""Incident rules on counters: five-minute slots, windows of whole slots, and the replay of one
group's new complaints of a batch, in arrival order, against the group's windows and incidents
(pure: the service loads the counters and rows, this decides, the service writes).

Time is cut into slots of ``SLOT`` (five minutes, from the Unix epoch). A window is ``S`` =
W / SLOT consecutive slots (W rounded up to whole slots); each complaint belongs to the ``S``
windows that hold its slot, so adding one costs ``S`` counter changes whatever the size of the
burst. A window is a spike when its count reaches ``IncidentRule.threshold`` of its baseline (the
group's complaints in the D days before the window's first slot).
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta

from analytics_service.alerts.model import INCIDENT, IncidentGroup, IncidentRule, alert_id_for

SLOT = timedelta(minutes=5)
_SLOT_SECONDS = int(SLOT.total_seconds())
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def slot_of(moment: datetime) -> int:
    """The slot a receipt time falls in."""
    return int((moment - _EPOCH).total_seconds()) // _SLOT_SECONDS


def slot_start(slot: int) -> datetime:
    """When a slot begins."""
    return _EPOCH + slot * SLOT


def slots_per(span: timedelta) -> int:
    """How many slots a window (or a baseline) of ``span`` covers (rounded up)."""
    return max(1, math.ceil(span / SLOT))


def windows_of(slot: int, size: int) -> range:
    """The first slots of the windows of ``size`` slots that hold ``slot``."""
    return range(slot - size + 1, slot + 1)


def merged_ranges(slots: set[int], before: int, after: int) -> list[tuple[int, int]]:
    """Cover ``[s - before, s + after]`` of every slot with as few inclusive ranges as possible."""
    ranges: list[tuple[int, int]] = []
    for slot in sorted(slots):
        low, high = slot - before, slot + after
        if ranges and low <= ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], max(ranges[-1][1], high))
        else:
            ranges.append((low, high))
    return ranges


def window_counts(
    counts: dict[int, int], mine: dict[int, int], ranges: list[tuple[int, int]], size: int
) -> tuple[dict[int, int], dict[int, int]]:
    """Each window holding one of ``mine``'s slots: its count before and after the batch
    (``counts``: the slots' counters after it; ``mine``: the batch's complaints per slot;
    ``ranges``: inclusive slot ranges that cover ``size - 1`` slots either side of each of
    ``mine``). Prefix sums over each range: linear in the ranges, whatever the counts."""
    before: dict[int, int] = {}
    after: dict[int, int] = {}
    for low, high in ranges:
        total, added = [0], [0]
        for slot in range(low, high + 1):
            total.append(total[-1] + counts.get(slot, 0))
            added.append(added[-1] + mine.get(slot, 0))
        for first in range(low, high - size + 2):
            if added[first + size - low] == added[first - low]:
                continue  # no complaint of the batch in this window
            now = total[first + size - low] - total[first - low]
            after[first] = now
            before[first] = now - (added[first + size - low] - added[first - low])
    return before, after


@dataclass
class Incident:
    """An incident alert row as the replay sees and changes it (same attribute names as the
    ``alerts`` table, so events can be built from it)."""

    id: uuid.UUID
    subject: str
    attribution: str
    period_start: date
    period_end: date
    count: int
    threshold: int
    raised_at: datetime
    cleared_at: datetime | None
    first_member_at: datetime
    last_member_at: datetime
    kind: str = INCIDENT
    stored: bool = True
    # Complaints added during this batch (some may have been members already).
    added: set[uuid.UUID] = field(default_factory=set)


@dataclass(frozen=True)
class Announcement:
    """An ``alert.raised`` / ``alert.cleared`` to publish: the incident as it stood then and
    the members added so far in this batch (the stored ones are added by the service)."""

    raised: bool
    incident: Incident
    added: frozenset[uuid.UUID]


@dataclass
class GroupReplay:
    """One group's new complaints of a batch, replayed in arrival order as the per-event rule
    would have seen them: after each complaint, every window holding it that is a spike adds
    its complaints to the incident it continues (all of them when the window just became a
    spike, else the new one), or raises one; then the group's incidents a whole window past
    their last spike member are cleared.

    ``counts``: each window's count before the batch (first slot → count), for every window a
    complaint of the batch belongs to; ``thresholds``: the spike threshold of each window that
    may reach it (others never spike); ``prior``: the group's complaints received before this
    batch, with their receipt, in the windows that become spikes in it; ``incidents``: the
    group's incidents near the batch (locked)."""

    rule: IncidentRule
    group: IncidentGroup
    now: datetime
    latest: datetime | None
    counts: dict[int, int]
    thresholds: dict[int, int]
    prior: dict[uuid.UUID, datetime]
    incidents: list[Incident]
    announcements: list[Announcement] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.size = slots_per(self.rule.window)
        self._seen: dict[int, list[tuple[uuid.UUID, datetime]]] = {}

    def run(self, complaints: list[tuple[uuid.UUID, datetime]]) -> None:
        """Apply the batch's complaints of the group, in arrival order."""
        for complaint_id, received_at in complaints:
            slot = slot_of(received_at)
            self.latest = received_at if self.latest is None else max(self.latest, received_at)
            joined = False
            for first in windows_of(slot, self.size):
                self._seen.setdefault(first, []).append((complaint_id, received_at))
                before = self.counts.get(first, 0)
                self.counts[first] = before + 1
                threshold = self.thresholds.get(first)
                if threshold is None or before + 1 < threshold:
                    continue
                if before < threshold:  # the window just became a spike
                    self._spike(self._window_members(first), threshold)
                elif not joined:
                    # A spike going on takes the complaint alone. Once it has joined an
                    # incident, the other going-on windows would pick that same incident (or
                    # one a new spike just built around it) and change nothing: one call
                    # instead of one per window, whatever the burst.
                    self._spike({complaint_id: received_at}, threshold)
                    joined = True
            self._clear_finished()

    def _window_members(self, first: int) -> dict[uuid.UUID, datetime]:
        """Every complaint of the window so far: those before the batch, and the batch's."""
        start, end = slot_start(first), slot_start(first + self.size)
        members = {c: at for c, at in self.prior.items() if start <= at < end}
        members.update(self._seen.get(first, []))
        return members

    def _continued(self, first_at: datetime, end: datetime) -> Incident | None:
        """The incident a spike continues: one whose members reach within a window of it;
        failing that, the group's incident of the same day (one alert per group and day)."""
        window = self.rule.window
        near = [
            incident
            for incident in self.incidents
            if (
                incident.last_member_at >= end - window and incident.first_member_at <= end + window
            )
            or incident.period_start == first_at.date()
        ]
        return max(near, key=lambda incident: incident.last_member_at, default=None)

    def _spike(self, members: dict[uuid.UUID, datetime], threshold: int) -> None:
        first_at, end = min(members.values()), max(members.values())
        current = self._continued(first_at, end)
        if current is None:
            day = first_at.date()
            current = Incident(
                id=alert_id_for(INCIDENT, self.group.subject, self.group.scope.value, day),
                subject=self.group.subject,
                attribution=self.group.scope.value,
                period_start=day,
                period_end=end.date(),
                count=0,
                # Alerts say "raised when count exceeds threshold"; a spike reaches its count.
                threshold=threshold - 1,
                raised_at=self.now,
                cleared_at=None,
                first_member_at=first_at,
                last_member_at=end,
                stored=False,
            )
            self.incidents.append(current)
            self._add(current, members)
            self._announce(True, current)
            return
        self._add(current, members)
        current.first_member_at = min(current.first_member_at, first_at)
        current.last_member_at = max(current.last_member_at, end)
        current.period_start = min(current.period_start, current.first_member_at.date())
        current.period_end = max(current.period_end, current.last_member_at.date())
        latest = max(self.latest or self.now, self.now)
        if current.cleared_at is not None and not self.rule.finished(
            current.last_member_at, latest
        ):
            # The spike is back while it still counts as going on: a new occurrence.
            current.cleared_at = None
            current.raised_at = self.now
            self._announce(True, current)

    def _add(self, incident: Incident, members: dict[uuid.UUID, datetime]) -> None:
        fresh = members.keys() - incident.added
        incident.added |= fresh
        if not incident.stored:
            incident.count = len(incident.added)

    def _clear_finished(self) -> None:
        latest = max(self.latest or self.now, self.now)
        for incident in self.incidents:
            if incident.cleared_at is None and self.rule.finished(incident.last_member_at, latest):
                incident.cleared_at = self.now
                self._announce(False, incident)

    def _announce(self, raised: bool, incident: Incident) -> None:
        self.announcements.append(
            Announcement(raised, replace(incident, added=set()), frozenset(incident.added))
        )
