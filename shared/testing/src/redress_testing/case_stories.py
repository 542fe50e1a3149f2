"""Builders of the events the case service publishes, for feeding the services that consume
them (analytics, notification) in tests: the shape another system's replay of the case topic
would have."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from redress_shared.events import (
    CASE_ASSIGNED,
    CASE_DECISION_RECORDED,
    CASE_OPENED,
    CASE_REMEDY_CHANGED,
    CASE_RESPONSE_ADDED,
    CASE_SATISFACTION_RECORDED,
    CASE_SLA_BREACHED,
    CASE_SLA_WARNING,
    CASE_STATUS_CHANGED,
    COMPLAINT_RECEIVED,
    CaseAssignedV1,
    CaseDecisionRecordedV1,
    CaseDueTimes,
    CaseOpenedV1,
    CaseRemedyChangedV1,
    CaseResponseAddedV1,
    CaseSatisfactionRecordedV1,
    CaseSlaV1,
    CaseStatusChangedV1,
    ComplaintReceivedV1,
    CustomerContact,
    EventEnvelope,
    ProductRef,
    new_event,
)


class CaseStory:
    """One case's events, built in the order the case service would publish them."""

    def __init__(
        self,
        opened_at: datetime,
        *,
        priority: str = "normal",
        team: str | None = None,
        tier: str | None = "standard",
        complaint_id: uuid.UUID | None = None,
        due_in: tuple[timedelta, timedelta, timedelta] = (
            timedelta(hours=1),
            timedelta(hours=4),
            timedelta(days=2),
        ),
        customer: CustomerContact | None = None,
        channel: str = "api",
        subject: str | None = None,
        language: str | None = None,
        reference: str | None = None,
    ) -> None:
        self.case_id = uuid.uuid4()
        self.complaint_id = complaint_id or uuid.uuid4()
        self.reference = reference or f"RDR-TEST-{self.case_id.hex[:6]}"
        self.opened_at = opened_at
        self.priority = priority
        self.version = 1
        self.current_status = "new"
        self.due = CaseDueTimes(
            acknowledge_by=opened_at + due_in[0],
            first_response_by=opened_at + due_in[1],
            resolve_by=opened_at + due_in[2],
        )
        self.opened = self._event(
            CASE_OPENED,
            CaseOpenedV1(
                case_id=self.case_id,
                complaint_id=self.complaint_id,
                reference=self.reference,
                status="new",
                priority=priority,
                channel=channel,
                opened_at=opened_at,
                subject=subject,
                language=language,
                customer=customer or CustomerContact(customer_key=f"cust-{self.case_id.hex[:8]}"),
                due=self.due,
                sla_policy=f"{priority}-default",
                team=team,
                customer_tier=tier,
            ),
            opened_at,
        )

    def _event(self, event_type: str, payload, at: datetime) -> EventEnvelope:  # noqa: ANN001
        return new_event(
            source="/test/case-service",
            type=event_type,
            key=str(self.case_id),
            subject=str(self.case_id),
            payload=payload,
            time=at,
        )

    def act(
        self,
        action: str,
        to_status: str,
        at: datetime,
        *,
        from_status: str | None = None,
        reason: str | None = None,
    ) -> EventEnvelope:
        """A lifecycle change (acknowledge, start, request_info, resolve, close, reopen...),
        from the status the story is in unless ``from_status`` says otherwise."""
        self.version += 1
        if reason is None and action in ("resolve", "reopen", "request_info"):
            reason = "because"  # the case service requires one for these actions
        event = self._event(
            CASE_STATUS_CHANGED,
            CaseStatusChangedV1(
                case_id=self.case_id,
                reference=self.reference,
                action=action,
                from_status=from_status or self.current_status,
                to_status=to_status,
                version=self.version,
                actor="agent",
                reason=reason,
                occurred_at=at,
            ),
            at,
        )
        self.current_status = to_status
        return event

    def decide(self, validity: str, at: datetime, root_cause: str | None = None) -> EventEnvelope:
        """The validity decision (a later one revises it)."""
        return self._event(
            CASE_DECISION_RECORDED,
            CaseDecisionRecordedV1(
                case_id=self.case_id,
                reference=self.reference,
                complaint_id=self.complaint_id,
                validity=validity,
                root_cause=root_cause,
                decided_by="lead",
                occurred_at=at,
            ),
            at,
        )

    def respond(self, at: datetime, message: str = "We are on it.") -> EventEnvelope:
        """An agent's message to the customer."""
        return self._event(
            CASE_RESPONSE_ADDED,
            CaseResponseAddedV1(
                case_id=self.case_id,
                reference=self.reference,
                response_id=uuid.uuid4(),
                message=message,
                author="agent",
                occurred_at=at,
            ),
            at,
        )

    def sla(
        self,
        clock: str,
        *,
        breached: bool,
        at: datetime,
        due_at: datetime | None = None,
        priority_after: str | None = None,
        new_due_at: datetime | None = None,
    ) -> EventEnvelope:
        """The case service's SLA warning or breach of ``clock`` (due when the story's
        deadlines say, unless ``due_at`` says otherwise)."""
        due = (
            due_at
            or {
                "acknowledge": self.due.acknowledge_by,
                "first_response": self.due.first_response_by,
                "resolve": self.due.resolve_by,
            }[clock]
        )
        return self._event(
            CASE_SLA_BREACHED if breached else CASE_SLA_WARNING,
            CaseSlaV1(
                case_id=self.case_id,
                reference=self.reference,
                clock=clock,
                due_at=due,
                occurred_at=at,
                priority_before=self.priority,
                priority_after=priority_after or self.priority,
                new_due_at=new_due_at,
            ),
            at,
        )

    def assign(self, team: str, at: datetime) -> EventEnvelope:
        """The case moved to ``team``."""
        return self._event(
            CASE_ASSIGNED,
            CaseAssignedV1(
                case_id=self.case_id,
                reference=self.reference,
                team=team,
                priority=self.priority,
                occurred_at=at,
            ),
            at,
        )

    def remedy(
        self,
        remedy_id: uuid.UUID,
        remedy_type: str,
        status: str,
        at: datetime,
        amount: str | None = None,
        currency: str | None = None,
    ) -> EventEnvelope:
        """A remedy proposed or moved on."""
        return self._event(
            CASE_REMEDY_CHANGED,
            CaseRemedyChangedV1(
                case_id=self.case_id,
                reference=self.reference,
                remedy_id=remedy_id,
                remedy_type=remedy_type,
                status=status,
                amount=amount,
                currency=currency,
                occurred_at=at,
            ),
            at,
        )

    def satisfaction(
        self,
        coefficient: str,
        at: datetime,
        would_recommend: bool | None = True,
        would_continue: bool | None = True,
    ) -> EventEnvelope:
        """The customer's satisfaction survey."""
        return self._event(
            CASE_SATISFACTION_RECORDED,
            CaseSatisfactionRecordedV1(
                case_id=self.case_id,
                reference=self.reference,
                coefficient=coefficient,
                needs_action=float(coefficient) < 8,
                would_recommend=would_recommend,
                would_continue=would_continue,
                occurred_at=at,
            ),
            at,
        )


def complaint_received(
    at: datetime,
    *,
    customer_key: str | None = None,
    category: str | None = "product_defect",
    sku: str | None = "CH-20",
    supplier: str | None = None,
    phone: str | None = None,
    complaint_id: uuid.UUID | None = None,
    email: str | None = "customer@example.com",
    customer_language: str | None = None,
    language: str | None = None,
    channel: str = "api",
    reference: str | None = None,
    subject: str | None = None,
    body: str = "It stopped working.",
    source: str = "/test/intake-service",
) -> EventEnvelope:
    """A ``complaint.received`` event as intake publishes it."""
    customer = CustomerContact(
        customer_key=customer_key or f"cust-{uuid.uuid4().hex[:10]}",
        email=email,
        phone=phone,
        language=customer_language,
    )
    complaint_id = complaint_id or uuid.uuid4()
    payload = ComplaintReceivedV1(
        complaint_id=complaint_id,
        reference=reference or f"RDR-TEST-{complaint_id.hex[:6]}",
        received_at=at,
        channel=channel,
        customer=customer,
        subject=subject,
        body=body,
        language=language,
        category=category,
        product=ProductRef(sku=sku) if sku else None,
        supplier=supplier,
    )
    return new_event(
        source=source,
        type=COMPLAINT_RECEIVED,
        key=customer.customer_key,
        payload=payload,
        time=at,
    )


def redelivered(event: EventEnvelope) -> EventEnvelope:
    """The same fact under a new event id (a replay by another system): must not count twice."""
    return event.model_copy(update={"id": uuid.uuid4()})
