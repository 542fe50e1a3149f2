"""The case domain: statuses, triage, the lifecycle, how actions move the SLA clocks, and
what one change of a case records. Pure: no I/O, time is passed in."""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from redress_shared.errors import DomainError
from redress_shared.events import EventEnvelope

from case_service.sla.model import (
    PRIORITY_ORDER,
    BusinessCalendar,
    ClockName,
    ClockState,
    DueTimes,
    Priority,
    SlaClock,
    SlaPolicy,
)

if TYPE_CHECKING:
    from case_service.duplicates.model import DuplicateSuggestion

SYSTEM_ACTOR = "system"
CUSTOMER_ACTOR = "customer"


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


class SlaState(StrEnum):
    """How a case stands against its deadlines."""

    OK = "ok"
    WARNING = "warning"
    BREACHED = "breached"


# Outages and safety or legal matters jump the queue (the complaint-desk practice).
URGENT_CATEGORIES = frozenset({"outage", "safety"})
HIGH_CATEGORIES = frozenset({"legal", "legal_threat", "billing_error", "data_protection"})


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

    def fields(self) -> dict[str, Any]:
        """What the stored case and its ``case.opened`` event both say of it."""
        return {
            "complaint_id": self.complaint_id,
            "reference": self.reference,
            "status": self.status.value,
            "priority": self.priority.value,
            "category": self.category,
            "channel": self.channel,
            "opened_at": self.opened_at,
            "subject": self.subject,
            "language": self.language,
            "sla_policy": self.sla_policy,
        }

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


class IllegalTransition(DomainError):
    """The action is not allowed in the case's current state."""

    def __init__(
        self, status: CaseStatus, action: Action, allowed: list[Action], why: str = ""
    ) -> None:
        super().__init__(
            why or f"'{action.value}' is not allowed while the case is {status.value}",
            status_now=status.value,
            allowed_actions=[a.value for a in allowed],
        )
        self.status = status
        self.action = action
        self.allowed = allowed


class InvalidTransitionRequest(DomainError):
    """The action is allowed but the request lacks what it needs."""


class InvalidMergeTarget(InvalidTransitionRequest):
    """The primary case of a merge is unknown, the case itself, or no longer open."""

    def __init__(self, title: str, detail: str | None = None) -> None:
        super().__init__(detail)
        self.title = title


class StaleVersion(DomainError):
    """A write based on a stale read (``If-Match`` names an older version)."""

    title = "The case has changed since you read it"

    def __init__(
        self, expected: int, current: int, what: str = "the case", title: str | None = None
    ) -> None:
        super().__init__(
            f"If-Match names version {expected}; {what} is at version {current}. "
            "Read it again and retry.",
            current_version=current,
        )
        if title:
            self.title = title


class InvalidCursor(DomainError):
    """A page cursor that no page of this API handed out."""

    def __init__(self) -> None:
        super().__init__("Use the next_cursor of a previous page")


def check_version(current: int, expected: int | None) -> None:
    """Refuse a write based on a stale read (``If-Match``); None means "unconditionally"."""
    if expected is not None and current != expected:
        raise StaleVersion(expected, current)


def check_merge_target(
    case_id: uuid.UUID, primary_id: uuid.UUID | None, primary_status: str | None, reference: str
) -> None:
    """A case merges into another case that is open (``primary_*`` None: no such case)."""
    if primary_id is None or primary_status is None:
        raise InvalidMergeTarget("Unknown primary case", "into_case_id names no case")
    if primary_id == case_id:
        raise InvalidMergeTarget("A case cannot be merged into itself")
    if CaseStatus(primary_status) not in OPEN_STATUSES:
        raise InvalidMergeTarget(
            "The primary case is not open",
            f"Case {reference} is {primary_status}; merge into an open case",
        )


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

    def row_values(self) -> dict[str, Any]:
        """The lifecycle columns of the case row in this state."""
        return {
            "status": self.status.value,
            "closed_at": self.closed_at,
            "reopen_count": self.reopen_count,
            "merged_into": self.merged_into,
            "status_before_merge": self.status_before_merge.value
            if self.status_before_merge
            else None,
        }

    def snapshot(self) -> dict:
        """JSON-ready view for the history's before/after."""
        return {
            "status": self.status.value,
            "version": self.version,
            "reopen_count": self.reopen_count,
            "merged_into": str(self.merged_into) if self.merged_into else None,
        }


def lifecycle_state(case: Any) -> CaseState:
    """The lifecycle state of a stored case (any object with the case row's fields)."""
    return CaseState(
        status=CaseStatus(case.status),
        version=case.version,
        closed_at=case.closed_at,
        reopen_count=case.reopen_count,
        merged_into=case.merged_into,
        status_before_merge=CaseStatus(case.status_before_merge)
        if case.status_before_merge
        else None,
    )


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


T = TypeVar("T")


@dataclass(frozen=True)
class HistoryEntry:
    """One line of a case's append-only history: who did what, from what to what."""

    action: str
    actor: str
    before: dict | None = None
    after: dict | None = None
    event_id: uuid.UUID | None = None
    case_id: uuid.UUID | None = None  # another case's history (a merge noted on its primary)
    at: datetime | None = None  # when it happened, if not the moment of the change


@dataclass
class CaseChange(Generic[T]):
    """What one change to a case records besides its own parts: the history entries, the
    events for the outbox, the columns of the case row it sets, and whether the case's
    version (its ETag) moves. ``result`` is what the use case answers with."""

    history: list[HistoryEntry]
    events: list[EventEnvelope] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)
    bump_version: bool = True
    result: T | None = None


def encode_cursor(opened_at: datetime, case_id: uuid.UUID) -> str:
    """Opaque keyset cursor after the case opened at ``opened_at`` (newest first)."""
    return base64.urlsafe_b64encode(f"{opened_at.isoformat()}|{case_id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The (opened_at, id) a cursor stands for; InvalidCursor if it is not one of ours."""
    try:
        opened_at, case_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return datetime.fromisoformat(opened_at), uuid.UUID(case_id)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidCursor from exc


@dataclass(frozen=True)
class CaseView:
    """One case as an agent reads it: the row, its SLA clocks and its likely duplicates."""

    case: Any
    clocks: list[dict]
    duplicates: list[DuplicateSuggestion]
