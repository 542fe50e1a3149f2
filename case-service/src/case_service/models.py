"""The case domain: statuses, triage and SLA deadlines. Pure: no I/O, time is passed in."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


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


def triage_priority(category: str | None) -> Priority:
    """First priority of a new case, from its category."""
    if category in URGENT_CATEGORIES:
        return Priority.URGENT
    if category in HIGH_CATEGORIES:
        return Priority.HIGH
    return Priority.NORMAL


@dataclass(frozen=True)
class SlaPolicy:
    """Targets for one priority, counted in calendar time from when the case opens."""

    name: str
    priority: Priority
    acknowledge_within: timedelta
    first_response_within: timedelta
    resolve_within: timedelta


@dataclass(frozen=True)
class DueTimes:
    """When each SLA clock of a case runs out."""

    acknowledge_by: datetime
    first_response_by: datetime
    resolve_by: datetime


def due_times(policy: SlaPolicy, opened_at: datetime) -> DueTimes:
    """Deadlines of a case opened at ``opened_at`` under ``policy``."""
    return DueTimes(
        acknowledge_by=opened_at + policy.acknowledge_within,
        first_response_by=opened_at + policy.first_response_within,
        resolve_by=opened_at + policy.resolve_within,
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
) -> Case:
    """Open a case for a new complaint: triage it and start its SLA clocks.

    The clocks start when the complaint was received, not when the case was opened: the
    customer has been waiting since then.
    """
    priority = triage_priority(category)
    policy = policies[priority]
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
        due=due_times(policy, received_at),
        sla_policy=policy.name,
        category=category,
        subject=subject,
        language=language,
    )
