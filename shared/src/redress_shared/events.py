"""The integration contract: topics, the CloudEvents envelope and every event payload.

Events travel in Kafka binary mode: CloudEvents attributes in ``ce_*`` headers, the JSON
payload as the value and the aggregate id as the message key. Payload models evolve
additively; a breaking change is a new ``.vN`` type.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
)

COMPLAINTS_TOPIC = "redress.complaints.v1"
CASES_TOPIC = "redress.cases.v1"
NOTIFICATIONS_TOPIC = "redress.notifications.v1"
ALERTS_TOPIC = "redress.alerts.v1"
ALL_TOPICS = (COMPLAINTS_TOPIC, CASES_TOPIC, NOTIFICATIONS_TOPIC, ALERTS_TOPIC)

COMPLAINT_RECEIVED = "redress.complaint.received.v1"
COMPLAINT_MESSAGE_RECEIVED = "redress.complaint.message_received.v1"
CASE_OPENED = "redress.case.opened.v1"
CASE_STATUS_CHANGED = "redress.case.status_changed.v1"
CASE_SLA_WARNING = "redress.case.sla_warning.v1"
CASE_SLA_BREACHED = "redress.case.sla_breached.v1"
CASE_RESPONSE_ADDED = "redress.case.response_added.v1"
CASE_DECISION_RECORDED = "redress.case.decision_recorded.v1"
CASE_REMEDY_CHANGED = "redress.case.remedy_changed.v1"
CASE_SATISFACTION_RECORDED = "redress.case.satisfaction_recorded.v1"
CASE_COMMITMENT_MISSED = "redress.case.commitment_missed.v1"
CASE_ASSIGNED = "redress.case.assigned.v1"
ALERT_RAISED = "redress.alert.raised.v1"
ALERT_CLEARED = "redress.alert.cleared.v1"
NOTIFICATION_SENT = "redress.notification.sent.v1"
NOTIFICATION_FAILED = "redress.notification.failed.v1"
WEBHOOK_DISABLED = "redress.notification.webhook_disabled.v1"

CORRELATION_EXTENSION = "correlationid"


def dead_letter_topic(topic: str) -> str:
    """Name of the dead-letter topic that holds ``topic``'s poison messages."""
    return f"{topic}.dlq"


class _Payload(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class CustomerContact(_Payload):
    """Who complained and how to reach them; ``customer_key`` is stable across channels."""

    customer_key: str = Field(description="Stable pseudonymous customer id (the message key).")
    name: str | None = None
    email: str | None = None
    phone: str | None = Field(default=None, description="E.164")
    language: str | None = Field(default=None, description="BCP 47 language tag, e.g. 'ro'")
    preferred_channel: Literal["email", "sms", "chat", "social"] | None = Field(
        default=None,
        description="Where the customer wants to hear from us; the notification service "
        "falls back to another contact point when this one is missing or fails.",
    )
    time_zone: str | None = Field(
        default=None,
        max_length=64,
        description="The customer's IANA time zone, e.g. 'Europe/Bucharest': the times in "
        "their messages are given in it (else in the desk's).",
    )


class ProductRef(_Payload):
    """The product a complaint concerns."""

    sku: str | None = None
    name: str | None = None


class BoundedText(_Payload):
    """How intake says a text was too long for an event (DESIGN rule 8: an event never exceeds
    what the broker accepts): the text in the event is cut and ends with a pointer, and the
    full text is read through intake's API at ``full_text_at``."""

    subject_truncated: bool | None = Field(default=None, description="The subject was cut.")
    subject_bytes: int | None = Field(default=None, description="The full subject's UTF-8 size.")
    subject_chars: int | None = Field(default=None, description="The full subject's length.")
    body_truncated: bool | None = Field(default=None, description="The body was cut.")
    body_bytes: int | None = Field(default=None, description="The full body's UTF-8 size.")
    body_chars: int | None = Field(default=None, description="The full body's length.")
    full_text_at: str | None = Field(
        default=None,
        description="The API path that returns the full text, e.g. /v1/complaints/{id}.",
        examples=["/v1/complaints/0e22a3c4-5b6d-4e7f-8a9b-0c1d2e3f4a5b"],
    )

    @model_serializer(mode="wrap")
    def _omit_unused_bounds(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """An event whose texts fit carries none of these fields (not a row of nulls)."""
        data = handler(self)
        for name in _BOUND_FIELDS:
            if data.get(name) is None:
                data.pop(name, None)
        return data


_BOUND_FIELDS = (*BoundedText.model_fields, "context_omitted")


class ComplaintReceivedV1(BoundedText):
    """A complaint was registered by intake (``redress.complaint.received.v1``)."""

    complaint_id: uuid.UUID
    reference: str = Field(examples=["RDR-2026-000123"])
    received_at: datetime
    channel: Literal["api", "email", "phone", "chat", "social"]
    channel_message_id: str | None = None
    customer: CustomerContact
    subject: str | None = None
    body: str
    language: str | None = None
    category: str | None = None
    product: ProductRef | None = None
    supplier: str | None = None
    order_ref: str | None = None
    priority_hint: Literal["high", "urgent"] | None = Field(
        default=None,
        description="Intake's rule-based hint: urgent for an outage or safety hazard, high "
        "for a legal threat. The case service decides the priority.",
    )
    reputation_sensitive: bool = Field(
        default=False, description="A public social-media post: others can see it."
    )
    context: dict[str, Any] | None = Field(
        default=None,
        description="Channel context beside the customer's words: call record, the agent's "
        "chat lines, the social post's platform data, the e-mail's attachments.",
    )
    context_omitted: list[str] | None = Field(
        default=None,
        description="Context entries left out because the event would have been too large "
        "(read them at ``full_text_at``).",
    )


class ComplaintMessageReceivedV1(BoundedText):
    """The customer wrote again about a registered complaint (a reply to our e-mail):
    ``redress.complaint.message_received.v1``. Not a new complaint; the case service adds it
    to the complaint's case as a customer message."""

    complaint_id: uuid.UUID = Field(description="The complaint the message belongs to.")
    reference: str = Field(examples=["RDR-2026-000123"])
    message_id: uuid.UUID = Field(description="Intake's id of this customer message.")
    received_at: datetime
    channel: Literal["api", "email", "phone", "chat", "social"]
    channel_message_id: str | None = Field(default=None, description="e.g. the Message-ID")
    customer: CustomerContact
    subject: str | None = None
    body: str = Field(description="The customer's new words (quoted history removed).")
    language: str | None = None
    matched_by: Literal["reference", "in_reply_to", "references"] = Field(
        description="How intake recognised the complaint: the reference in the subject, or "
        "a Message-ID of the complaint's mail in In-Reply-To / References."
    )


class CaseDueTimes(_Payload):
    """Deadlines of a case's SLA clocks."""

    acknowledge_by: datetime
    first_response_by: datetime
    resolve_by: datetime


class CaseOpenedV1(_Payload):
    """A case was opened for a complaint (``redress.case.opened.v1``)."""

    case_id: uuid.UUID
    complaint_id: uuid.UUID
    reference: str
    status: str
    priority: str
    category: str | None = None
    channel: str
    opened_at: datetime
    subject: str | None = None
    language: str | None = None
    customer: CustomerContact
    product: ProductRef | None = None
    supplier: str | None = None
    due: CaseDueTimes
    sla_policy: str
    team: str | None = Field(
        default=None,
        description="The team the case was first routed to (later moves: case.assigned).",
    )
    customer_tier: str | None = Field(
        default=None, examples=["vip"], description="The customer's tier when the case opened."
    )


class CaseStatusChangedV1(_Payload):
    """A case moved through its lifecycle (``redress.case.status_changed.v1``)."""

    case_id: uuid.UUID
    reference: str
    action: str = Field(examples=["resolve"])
    from_status: str
    to_status: str
    version: int = Field(description="The case's version after the change (its ETag).")
    actor: str = Field(description="Name of the API key that made the change.")
    reason: str | None = None
    merged_into: uuid.UUID | None = None
    occurred_at: datetime
    due: CaseDueTimes | None = Field(
        default=None,
        description="The case's SLA deadlines after the change (a resume, reopen or unmerge "
        "moves them).",
    )


class CaseSlaV1(_Payload):
    """An SLA clock of a case reached its warning share or its deadline
    (``redress.case.sla_warning.v1`` / ``redress.case.sla_breached.v1``)."""

    case_id: uuid.UUID
    reference: str
    clock: Literal["acknowledge", "first_response", "resolve"]
    due_at: datetime
    occurred_at: datetime
    priority_before: str
    priority_after: str = Field(description="A breach escalates the case one priority up.")
    new_due_at: datetime | None = Field(
        default=None,
        description="On a breach, the new time promised to the customer, when the case "
        "service sets one; the notification service's apology names it (else its default).",
    )


class CaseResponseAddedV1(_Payload):
    """An agent wrote to the customer (``redress.case.response_added.v1``); the notification
    service delivers ``message`` on the customer's channel."""

    case_id: uuid.UUID
    reference: str
    response_id: uuid.UUID
    message: str
    author: str
    occurred_at: datetime


class CaseDecisionRecordedV1(_Payload):
    """The validity decision of a case (``redress.case.decision_recorded.v1``)."""

    case_id: uuid.UUID
    reference: str
    complaint_id: uuid.UUID | None = Field(default=None, description="The complaint decided on.")
    validity: Literal["justified", "partly_justified", "unjustified"]
    root_cause: str | None = None
    category: str | None = None
    explanation: str | None = Field(default=None, description="For the customer (free text).")
    way_forward: str | None = Field(
        default=None, description="What is offered after an unjustified decision (free text)."
    )
    decided_by: str
    occurred_at: datetime


class CaseRemedyChangedV1(_Payload):
    """A remedy was proposed or moved on (``redress.case.remedy_changed.v1``)."""

    case_id: uuid.UUID
    reference: str
    remedy_id: uuid.UUID
    remedy_type: str = Field(examples=["refund"])
    status: str = Field(examples=["offered"])
    amount: str | None = Field(default=None, description="Decimal as a string, e.g. '49.90'.")
    currency: str | None = Field(default=None, examples=["EUR"])
    method: str | None = None
    due_date: date | None = None
    occurred_at: datetime


class CaseSatisfactionRecordedV1(_Payload):
    """The customer's satisfaction with how a case was handled
    (``redress.case.satisfaction_recorded.v1``)."""

    case_id: uuid.UUID
    reference: str
    coefficient: str = Field(description="sum(score × weight) / 100, as a decimal string.")
    needs_action: bool = Field(description="True when the coefficient is below 8.")
    would_recommend: bool | None = None
    would_continue: bool | None = None
    occurred_at: datetime


class CaseCommitmentMissedV1(_Payload):
    """A promise made to the customer passed its deadline unkept
    (``redress.case.commitment_missed.v1``); the case is escalated."""

    case_id: uuid.UUID
    reference: str
    commitment_id: uuid.UUID
    due_at: datetime
    occurred_at: datetime
    priority_before: str
    priority_after: str


class CaseAssignedV1(_Payload):
    """A case was routed, reassigned or escalated (``redress.case.assigned.v1``)."""

    case_id: uuid.UUID
    reference: str
    team: str
    assignee: str | None = None
    escalated: bool = False
    reason: str | None = Field(default=None, description="Why it moved (required to escalate).")
    priority: str
    occurred_at: datetime


class AlertV1(_Payload):
    """A condition analytics watches started or ended (``redress.alert.raised.v1`` /
    ``redress.alert.cleared.v1``), e.g. a supplier above its defect threshold for a month;
    a raised alert starts corrective action."""

    alert_id: uuid.UUID
    kind: str = Field(examples=["supplier_defects"])
    subject: str = Field(description="What the alert is about, e.g. the supplier's name.")
    attribution: str | None = Field(default=None, examples=["supplier_component"])
    period_start: date
    period_end: date
    count: int
    threshold: int = Field(description="The alert is raised when count exceeds this.")
    occurred_at: datetime
    members: list[uuid.UUID] | None = Field(
        default=None,
        description="Incident alerts: the ids of the similar complaints, to answer together.",
    )


class NotificationOutcomeV1(_Payload):
    """A customer notification was sent or finally failed (``redress.notification.*.v1``)."""

    notification_id: uuid.UUID
    case_id: uuid.UUID
    trigger_event_id: uuid.UUID
    template: str
    channel: str
    status: Literal["sent", "failed"]
    attempts: int
    occurred_at: datetime
    error: str | None = None


class WebhookDisabledV1(_Payload):
    """The notification service switched a webhook subscription off by itself
    (``redress.notification.webhook_disabled.v1``, keyed by the webhook id): its endpoint kept
    failing for too long, or answered 410 Gone. Tells the subscription's owner (the API key
    that created it) to fix the receiver and re-enable it; no personal data, not even the URL
    (it may carry a token)."""

    webhook_id: uuid.UUID
    owner_key_id: uuid.UUID | None = Field(
        default=None, description="The API key that created the subscription, if known."
    )
    reason: str = Field(examples=["the endpoint failed every attempt for 5 days"])
    cause: Literal["failing", "gone"] = Field(
        description="failing: no success for the configured period; gone: 410 Gone."
    )
    failing_since: datetime | None = Field(
        default=None, description="First failed attempt since the last success."
    )
    consecutive_failures: int = Field(description="Failed attempts since the last success.")
    last_status_code: int | None = None
    occurred_at: datetime


EVENT_PAYLOADS: dict[str, type[BaseModel]] = {
    COMPLAINT_RECEIVED: ComplaintReceivedV1,
    COMPLAINT_MESSAGE_RECEIVED: ComplaintMessageReceivedV1,
    CASE_OPENED: CaseOpenedV1,
    CASE_STATUS_CHANGED: CaseStatusChangedV1,
    CASE_SLA_WARNING: CaseSlaV1,
    CASE_SLA_BREACHED: CaseSlaV1,
    CASE_RESPONSE_ADDED: CaseResponseAddedV1,
    CASE_DECISION_RECORDED: CaseDecisionRecordedV1,
    CASE_REMEDY_CHANGED: CaseRemedyChangedV1,
    CASE_SATISFACTION_RECORDED: CaseSatisfactionRecordedV1,
    CASE_COMMITMENT_MISSED: CaseCommitmentMissedV1,
    CASE_ASSIGNED: CaseAssignedV1,
    ALERT_RAISED: AlertV1,
    ALERT_CLEARED: AlertV1,
    NOTIFICATION_SENT: NotificationOutcomeV1,
    NOTIFICATION_FAILED: NotificationOutcomeV1,
    WEBHOOK_DISABLED: WebhookDisabledV1,
}


class EventEnvelope(BaseModel):
    """One CloudEvent as our code sees it: attributes, the partition key and the data."""

    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    source: str
    type: str
    subject: str | None = None
    time: datetime
    key: str = Field(description="Aggregate id; the Kafka message key.")
    correlation_id: str | None = None
    data: dict[str, Any]

    def payload(self) -> BaseModel:
        """The data parsed as the model registered for this event type."""
        model = EVENT_PAYLOADS.get(self.type)
        if model is None:
            raise UnknownEventType(self.type)
        return model.model_validate(self.data)


class UnknownEventType(ValueError):
    """The event's type is not one this code knows."""


class MalformedEvent(ValueError):
    """A Kafka record that is not a valid CloudEvent of ours."""


def new_event(
    *,
    source: str,
    type: str,
    key: str,
    payload: BaseModel,
    time: datetime,
    subject: str | None = None,
    correlation_id: str | None = None,
) -> EventEnvelope:
    """Wrap a payload model in an envelope with a fresh id."""
    return EventEnvelope(
        source=source,
        type=type,
        subject=subject,
        time=time,
        key=key,
        correlation_id=correlation_id,
        data=payload.model_dump(mode="json"),
    )
