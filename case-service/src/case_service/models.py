"""The case domain: statuses, triage and SLA deadlines. Pure: no I/O, time is passed in."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from case_service.calendars import ALWAYS, BusinessCalendar
from case_service.clocks import ClockName, ClockState, SlaClock, start_clocks


class CaseStatus(StrEnum):
    """Where a case is in its lifecycle."""

    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    INVESTIGATING = "investigating"
    AWAITING_CUSTOMER = "awaiting_customer"
    RESOLVED = "resolved"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"
    MERGED = "merged"


class Priority(StrEnum):
    """How urgently a case is worked; SLA targets follow it."""

    URGENT = "urgent"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


# Outages and safety or legal matters jump the queue (the complaint-desk practice).
URGENT_CATEGORIES = frozenset({"outage", "safety"})
HIGH_CATEGORIES = frozenset({"legal", "legal_threat", "billing_error", "data_protection"})


PRIORITY_ORDER = (Priority.LOW, Priority.NORMAL, Priority.HIGH, Priority.URGENT)
VIP_TIER = "vip"


def triage_priority(
    category: str | None, hint: str | None = None, tier: str | None = None
) -> Priority:
    """First priority of a new case: the most urgent of what its category says, intake's hint
    (an outage or a legal threat in the text) and the customer's tier (VIPs are high at least)."""
    candidates = [Priority.NORMAL]
    if category in URGENT_CATEGORIES:
        candidates.append(Priority.URGENT)
    elif category in HIGH_CATEGORIES:
        candidates.append(Priority.HIGH)
    if hint in (Priority.HIGH.value, Priority.URGENT.value):
        candidates.append(Priority(hint))
    if tier == VIP_TIER:
        candidates.append(Priority.HIGH)
    return max(candidates, key=PRIORITY_ORDER.index)


# Written complaints have a statutory deadline; a phone call does not.
WRITTEN_CHANNELS = frozenset({"api", "email", "chat", "social"})


@dataclass(frozen=True)
class SlaPolicy:
    """Targets for one priority, in business time on ``calendar``."""

    name: str
    priority: Priority
    acknowledge_within: timedelta
    first_response_within: timedelta
    resolve_within: timedelta
    calendar: BusinessCalendar = ALWAYS
    warning_share: float = 0.8
    statutory_cap: timedelta | None = None

    def start_clocks(self, received_at: datetime, channel: str) -> list[SlaClock]:
        """The clocks of a case received at ``received_at`` on ``channel``."""
        return start_clocks(
            received_at=received_at,
            targets={
                ClockName.ACKNOWLEDGE: self.acknowledge_within,
                ClockName.FIRST_RESPONSE: self.first_response_within,
                ClockName.RESOLVE: self.resolve_within,
            },
            calendar=self.calendar,
            warning_share=self.warning_share,
            statutory_cap=self.statutory_cap if channel in WRITTEN_CHANNELS else None,
        )


@dataclass(frozen=True)
class DueTimes:
    """When each SLA clock of a case runs out."""

    acknowledge_by: datetime
    first_response_by: datetime
    resolve_by: datetime

    @classmethod
    def of(cls, clocks: list[SlaClock]) -> DueTimes:
        """The deadlines of a case's clocks."""
        due = {clock.name: clock.due_at for clock in clocks}
        return cls(
            due[ClockName.ACKNOWLEDGE], due[ClockName.FIRST_RESPONSE], due[ClockName.RESOLVE]
        )


@dataclass(frozen=True)
class Case:
    """A case as opened for one complaint."""

    id: uuid.UUID
    complaint_id: uuid.UUID
    reference: str
    status: CaseStatus
    priority: Priority
    channel: str
    customer_key: str
    received_at: datetime
    opened_at: datetime
    due: DueTimes
    sla_policy: str
    clocks: tuple[SlaClock, ...] = ()
    category: str | None = None
    subject: str | None = None
    language: str | None = None

    def snapshot(self) -> dict:
        """The case's fields as JSON-ready values (for history and events)."""
        return {
            "status": self.status.value,
            "priority": self.priority.value,
            "category": self.category,
            "sla_policy": self.sla_policy,
            "acknowledge_by": self.due.acknowledge_by.isoformat(),
            "first_response_by": self.due.first_response_by.isoformat(),
            "resolve_by": self.due.resolve_by.isoformat(),
        }


def open_case(
    *,
    complaint_id: uuid.UUID,
    reference: str,
    channel: str,
    customer_key: str,
    category: str | None,
    subject: str | None,
    language: str | None,
    received_at: datetime,
    opened_at: datetime,
    policies: dict[Priority, SlaPolicy],
    priority_hint: str | None = None,
    tier: str | None = None,
) -> Case:
    """Open a case for a new complaint: triage it and start its SLA clocks.

    The clocks start when the complaint was received, not when the case was opened: the
    customer has been waiting since then.
    """
    priority = triage_priority(category, priority_hint, tier)
    policy = policies[priority]
    clocks = policy.start_clocks(received_at, channel)
    return Case(
        id=uuid.uuid4(),
        complaint_id=complaint_id,
        reference=reference,
        status=CaseStatus.NEW,
        priority=priority,
        channel=channel,
        customer_key=customer_key,
        received_at=received_at,
        opened_at=opened_at,
        due=DueTimes.of(clocks),
        sla_policy=policy.name,
        clocks=tuple(clocks),
        category=category,
        subject=subject,
        language=language,
    )


class Action(StrEnum):
    """What an agent (or the customer, through an agent) can do to a case."""

    ACKNOWLEDGE = "acknowledge"
    START = "start"
    REQUEST_INFO = "request_info"
    RESUME = "resume"
    RESOLVE = "resolve"
    CLOSE = "close"
    REOPEN = "reopen"
    WITHDRAW = "withdraw"
    MERGE = "merge"
    UNMERGE = "unmerge"


OPEN_STATUSES = frozenset(
    {
        CaseStatus.NEW,
        CaseStatus.ACKNOWLEDGED,
        CaseStatus.INVESTIGATING,
        CaseStatus.AWAITING_CUSTOMER,
    }
)

# (from, action) -> to. Merge, unmerge and reopen have extra rules in ``CaseState.apply``.
TRANSITIONS: dict[tuple[CaseStatus, Action], CaseStatus] = {
    (CaseStatus.NEW, Action.ACKNOWLEDGE): CaseStatus.ACKNOWLEDGED,
    (CaseStatus.NEW, Action.START): CaseStatus.INVESTIGATING,
    (CaseStatus.ACKNOWLEDGED, Action.START): CaseStatus.INVESTIGATING,
    (CaseStatus.INVESTIGATING, Action.REQUEST_INFO): CaseStatus.AWAITING_CUSTOMER,
    (CaseStatus.AWAITING_CUSTOMER, Action.RESUME): CaseStatus.INVESTIGATING,
    (CaseStatus.ACKNOWLEDGED, Action.RESOLVE): CaseStatus.RESOLVED,
    (CaseStatus.INVESTIGATING, Action.RESOLVE): CaseStatus.RESOLVED,
    (CaseStatus.RESOLVED, Action.CLOSE): CaseStatus.CLOSED,
    (CaseStatus.RESOLVED, Action.REOPEN): CaseStatus.INVESTIGATING,
    (CaseStatus.CLOSED, Action.REOPEN): CaseStatus.INVESTIGATING,
    **{(status, Action.WITHDRAW): CaseStatus.WITHDRAWN for status in OPEN_STATUSES},
    **{(status, Action.MERGE): CaseStatus.MERGED for status in OPEN_STATUSES},
}

# Actions whose request must say why: the history has to explain every such move.
REASON_REQUIRED = frozenset({Action.REOPEN, Action.WITHDRAW, Action.REQUEST_INFO, Action.RESOLVE})


class IllegalTransition(Exception):
    """The action is not allowed in the case's current state."""

    def __init__(
        self, status: CaseStatus, action: Action, allowed: list[Action], why: str = ""
    ) -> None:
        super().__init__(why or f"'{action.value}' is not allowed while the case is {status.value}")
        self.status = status
        self.action = action
        self.allowed = allowed


class InvalidTransitionRequest(ValueError):
    """The action is allowed but the request lacks what it needs."""


@dataclass(frozen=True)
class CaseState:
    """The lifecycle part of a case: what transitions look at and change."""

    status: CaseStatus
    version: int
    closed_at: datetime | None = None
    reopen_count: int = 0
    merged_into: uuid.UUID | None = None
    status_before_merge: CaseStatus | None = None

    def allowed_actions(self, now: datetime, reopen_window: timedelta) -> list[Action]:
        """Every action that would be accepted now."""
        allowed = [action for (status, action) in TRANSITIONS if status is self.status]
        if self.status is CaseStatus.CLOSED and not self._within_reopen_window(now, reopen_window):
            allowed.remove(Action.REOPEN)
        if self.status is CaseStatus.MERGED:
            allowed.append(Action.UNMERGE)
        return allowed

    def _within_reopen_window(self, now: datetime, reopen_window: timedelta) -> bool:
        return self.closed_at is not None and now - self.closed_at <= reopen_window

    def apply(
        self,
        action: Action,
        *,
        now: datetime,
        reopen_window: timedelta,
        reason: str | None = None,
        merge_into: uuid.UUID | None = None,
    ) -> CaseState:
        """The state after ``action``; raise IllegalTransition or InvalidTransitionRequest."""
        allowed = self.allowed_actions(now, reopen_window)
        if action not in allowed:
            why = ""
            if action is Action.REOPEN and self.status is CaseStatus.CLOSED:
                why = f"the case was closed more than {reopen_window} ago and can no longer be reopened"
            raise IllegalTransition(self.status, action, allowed, why)
        if action in REASON_REQUIRED and not (reason and reason.strip()):
            raise InvalidTransitionRequest(f"'{action.value}' needs a reason")
        if action is Action.MERGE and merge_into is None:
            raise InvalidTransitionRequest("'merge' needs into_case_id, the primary case")
        version = self.version + 1
        if action is Action.UNMERGE:
            assert self.status_before_merge is not None
            return CaseState(self.status_before_merge, version, self.closed_at, self.reopen_count)
        target = TRANSITIONS[(self.status, action)]
        if action is Action.MERGE:
            return CaseState(
                target, version, self.closed_at, self.reopen_count, merge_into, self.status
            )
        return CaseState(
            status=target,
            version=version,
            closed_at=now if target is CaseStatus.CLOSED else self.closed_at,
            reopen_count=self.reopen_count + (1 if action is Action.REOPEN else 0),
        )

    def snapshot(self) -> dict:
        """JSON-ready view for the history's before/after."""
        return {
            "status": self.status.value,
            "version": self.version,
            "reopen_count": self.reopen_count,
            "merged_into": str(self.merged_into) if self.merged_into else None,
        }


def clocks_after(
    action: Action,
    clocks: dict[ClockName, SlaClock],
    now: datetime,
    calendar: BusinessCalendar,
    targets: dict[ClockName, timedelta] | None = None,
) -> dict[ClockName, SlaClock]:
    """How an action moves the SLA clocks.

    Acknowledging (or starting work) meets the acknowledgement clock; a human message to the
    customer (asking for information, or resolving) meets the first-response clock;
    resolving meets the resolution clock. Waiting on the customer pauses every running
    clock; a reopened case owes a new resolution; leaving the process cancels what is owed.
    An unmerged case is owed afresh, from the unmerge, everything the merge cancelled, with
    ``targets`` (its policy's current targets; a clock's own target where none is given).
    """
    targets = targets or {}
    updated = dict(clocks)

    def change(name: ClockName, how) -> None:  # noqa: ANN001
        if name in updated:
            updated[name] = how(updated[name])

    if action in (Action.ACKNOWLEDGE, Action.START):
        change(ClockName.ACKNOWLEDGE, lambda c: c.stop(now))
    if action in (Action.REQUEST_INFO, Action.RESOLVE):
        change(ClockName.ACKNOWLEDGE, lambda c: c.stop(now))
        change(ClockName.FIRST_RESPONSE, lambda c: c.stop(now))
    if action is Action.REQUEST_INFO:
        for name in list(updated):
            change(name, lambda c: c.pause(now))
    if action is Action.RESUME:
        for name in list(updated):
            change(name, lambda c: c.resume(now, calendar))
    if action is Action.RESOLVE:
        change(ClockName.RESOLVE, lambda c: c.stop(now))
    if action is Action.REOPEN:
        change(ClockName.RESOLVE, lambda c: c.restart(now, calendar))
    if action in (Action.WITHDRAW, Action.MERGE):
        for name in list(updated):
            change(name, lambda c: c.cancel(now))
    if action is Action.UNMERGE:
        for name, clock in list(updated.items()):
            if clock.state is ClockState.CANCELLED:
                updated[name] = clock.renew(now, calendar, targets.get(name, clock.target))
    return updated


def escalated(priority: Priority) -> Priority:
    """One step more urgent (a breach escalates)."""
    return PRIORITY_ORDER[min(PRIORITY_ORDER.index(priority) + 1, len(PRIORITY_ORDER) - 1)]
