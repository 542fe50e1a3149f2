"""Event builders of complaints: a registered complaint and a customer's later message."""

from __future__ import annotations

import uuid
from datetime import datetime

from redress_shared.events import (
    COMPLAINT_MESSAGE_RECEIVED,
    COMPLAINT_RECEIVED,
    ComplaintMessageReceivedV1,
    ComplaintReceivedV1,
    CustomerContact,
    EventEnvelope,
    ProductRef,
    new_event,
)

from intake_service.complaints.model import Complaint, ComplaintDraft, Customer
from intake_service.config import EVENT_SOURCE


def _contact(customer: Customer, customer_key: str) -> CustomerContact:
    return CustomerContact(
        customer_key=customer_key,
        name=customer.name,
        email=customer.email,
        phone=customer.phone,
        language=customer.language,
    )


def complaint_received_event(complaint: Complaint) -> EventEnvelope:
    """The ``redress.complaint.received.v1`` event of a registered complaint."""
    draft = complaint.draft
    customer = draft.customer
    payload = ComplaintReceivedV1(
        complaint_id=complaint.id,
        reference=complaint.reference,
        received_at=complaint.received_at,
        channel=draft.channel,  # type: ignore[arg-type]
        channel_message_id=draft.channel_message_id,
        customer=_contact(customer, customer.key),
        subject=draft.subject,
        body=draft.body,
        language=draft.language,
        category=draft.category,
        product=ProductRef(**draft.product) if draft.product else None,
        supplier=draft.supplier,
        order_ref=draft.order_ref,
        priority_hint=draft.priority_hint,  # type: ignore[arg-type]
        reputation_sensitive=draft.reputation_sensitive,
        context=draft.context,
    )
    return new_event(
        source=EVENT_SOURCE,
        type=COMPLAINT_RECEIVED,
        key=customer.key,
        subject=str(complaint.id),
        payload=payload,
        time=complaint.received_at,
    )


def message_received_event(
    *,
    complaint_id: uuid.UUID,
    reference: str,
    customer_key: str,
    matched_by: str,
    message_id: uuid.UUID,
    received_at: datetime,
    draft: ComplaintDraft,
    body: str,
    language: str | None,
) -> EventEnvelope:
    """The ``redress.complaint.message_received.v1`` event of a customer's reply, keyed by
    the complaint's customer, so it follows the complaint's own event in order."""
    payload = ComplaintMessageReceivedV1(
        complaint_id=complaint_id,
        reference=reference,
        message_id=message_id,
        received_at=received_at,
        channel=draft.channel,  # type: ignore[arg-type]
        channel_message_id=draft.channel_message_id,
        customer=_contact(draft.customer, customer_key),
        subject=draft.subject,
        body=body,
        language=language,
        matched_by=matched_by,  # type: ignore[arg-type]
    )
    return new_event(
        source=EVENT_SOURCE,
        type=COMPLAINT_MESSAGE_RECEIVED,
        key=customer_key,
        subject=str(complaint_id),
        payload=payload,
        time=received_at,
    )
