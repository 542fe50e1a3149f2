"""Event builders of complaints: a registered complaint and a customer's later message.

Every event is bounded in size, so the broker can always take it (a record it refuses would
stop the relay): a text longer than the policy's ``max_event_text_bytes`` (UTF-8) travels
truncated, ending in "… [truncated: full text at GET /v1/complaints/{id}]", with optional
fields beside it: ``<field>_truncated: true``, ``<field>_bytes`` and ``<field>_chars`` (the
full text's size) and ``full_text_at`` (the API path that returns it). Context values that do
not fit are left out and named in ``context_omitted``. Should the record still exceed
``max_event_bytes`` (text that JSON-escapes to six bytes a character), the text limit is
halved until it fits. The payload models allow such extra fields (``extra="allow"``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

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
from redress_shared.records import to_kafka_record

from intake_service.complaints.model import Complaint, ComplaintDraft, Customer
from intake_service.config import DEFAULT_POLICY, EVENT_SOURCE

_MAX_TEXT = DEFAULT_POLICY.max_event_text_bytes
_MAX_EVENT = DEFAULT_POLICY.max_event_bytes
_SMALLEST_TEXT_LIMIT = 256
# More than a record's header names and fixed-size values take (id, time, spec version,
# content type); the variable ones (key, source, type, subject, correlation id) are counted.
_FIXED_RECORD_BYTES = 512


def _utf8_size(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def _cut(text: str, max_bytes: int) -> str:
    """The longest prefix of ``text`` whose UTF-8 form fits in ``max_bytes`` (whole
    characters only)."""
    if len(text) * 4 <= max_bytes or _utf8_size(text) <= max_bytes:
        return text
    return text.encode("utf-8", "surrogatepass")[:max_bytes].decode("utf-8", "ignore")


def _bound_text(data: dict[str, Any], name: str, limit: int, full_at: str) -> None:
    value = data.get(name)
    if not isinstance(value, str) or _utf8_size(value) <= limit:
        return
    data[name] = _cut(value, limit) + f"… [truncated: full text at GET {full_at}]"
    data[f"{name}_truncated"] = True
    data[f"{name}_bytes"] = _utf8_size(value)
    data[f"{name}_chars"] = len(value)
    data["full_text_at"] = full_at


def _bound_context(data: dict[str, Any], limit: int, full_at: str) -> None:
    """Keep the context's values, smallest first, while they fit in ``limit`` bytes."""
    context = data.get("context")
    if not isinstance(context, dict):
        return
    sizes = {
        key: _utf8_size(json.dumps(value, ensure_ascii=False)) for key, value in context.items()
    }
    if sum(sizes.values()) <= limit:
        return
    kept: dict[str, Any] = {}
    used = 0
    for key in sorted(context, key=sizes.__getitem__):
        if used + sizes[key] <= limit:
            kept[key] = context[key]
            used += sizes[key]
    data["context"] = {key: value for key, value in context.items() if key in kept}
    data["context_omitted"] = [key for key in context if key not in kept]
    data["full_text_at"] = full_at


def _cut_strings(value: Any, limit: int) -> Any:
    """Every string inside ``value`` cut to ``limit`` bytes (names and ids from a hostile
    header are no reason for an unsendable event)."""
    if isinstance(value, str):
        return _cut(value, limit)
    if isinstance(value, dict):
        return {key: _cut_strings(item, limit) for key, item in value.items()}
    if isinstance(value, list):
        return [_cut_strings(item, limit) for item in value]
    return value


def record_size(event: EventEnvelope) -> int:
    """Bytes of the Kafka record ``event`` becomes (key, value and headers)."""
    key, value, headers = to_kafka_record(event)
    return len(key) + len(value) + sum(len(name) + len(raw) for name, raw in headers)


def _fits_as_is(
    data: dict[str, Any], envelope_text: str, max_text_bytes: int, max_event_bytes: int
) -> bool:
    """Whether ``data`` needs no bounding, told from its JSON alone: ASCII-escaped (as the
    record carries it) it is never shorter than in UTF-8, so when it is within the text limit
    so is every text and context in it, and with the key and headers (``envelope_text``,
    at most four bytes a character) it is the record's exact value."""
    size = len(json.dumps(data))
    return (
        size <= max_text_bytes
        and size + 4 * len(envelope_text) + _FIXED_RECORD_BYTES <= max_event_bytes
    )


def _bounded(
    build: Callable[[dict[str, Any]], EventEnvelope],
    data: dict[str, Any],
    texts: tuple[str, ...],
    full_at: str,
    max_text_bytes: int,
    max_event_bytes: int,
    as_is: Callable[[], EventEnvelope],
    envelope_text: str,
) -> EventEnvelope:
    """The event of ``data`` with its texts bounded (see the module's docstring);
    ``as_is()`` is the event of ``data`` unchanged, built without a second validation (a
    complaint of usual size needs no bounding, nor measuring as a Kafka record)."""
    if _fits_as_is(data, envelope_text, max_text_bytes, max_event_bytes):
        return as_is()
    limit = max_text_bytes
    while True:
        bounded = dict(data)
        for name in texts:
            _bound_text(bounded, name, limit, full_at)
        _bound_context(bounded, limit, full_at)
        bounded = {
            key: value if key in texts else _cut_strings(value, limit)
            for key, value in bounded.items()
        }
        event = build(bounded)
        if limit <= _SMALLEST_TEXT_LIMIT or record_size(event) <= max_event_bytes:
            return event
        limit //= 2


def _contact(customer: Customer, customer_key: str) -> CustomerContact:
    return CustomerContact(
        customer_key=customer_key,
        name=customer.name,
        email=customer.email,
        phone=customer.phone,
        language=customer.language,
        time_zone=customer.time_zone,
    )


def complaint_received_event(
    complaint: Complaint,
    max_text_bytes: int = _MAX_TEXT,
    max_event_bytes: int = _MAX_EVENT,
    correlation_id: str | None = None,
) -> EventEnvelope:
    """The ``redress.complaint.received.v1`` event of a registered complaint, bounded in
    size (the full complaint stays readable at ``GET /v1/complaints/{id}``); without a
    ``correlation_id`` the outbox gives it the current one."""
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

    subject = str(complaint.id)
    data = payload.model_dump(mode="json")

    def build(bounded: dict[str, Any]) -> EventEnvelope:
        return new_event(
            source=EVENT_SOURCE,
            type=COMPLAINT_RECEIVED,
            key=customer.key,
            subject=subject,
            payload=ComplaintReceivedV1.model_validate(bounded),
            time=complaint.received_at,
            correlation_id=correlation_id,
        )

    def as_is() -> EventEnvelope:
        # ``data`` is what new_event would make of ``payload``: it is not dumped twice.
        return EventEnvelope(
            source=EVENT_SOURCE,
            type=COMPLAINT_RECEIVED,
            subject=subject,
            time=complaint.received_at,
            key=customer.key,
            correlation_id=correlation_id,
            data=data,
        )

    return _bounded(
        build,
        data,
        ("body", "subject"),
        f"/v1/complaints/{complaint.id}",
        max_text_bytes,
        max_event_bytes,
        as_is=as_is,
        envelope_text=customer.key
        + EVENT_SOURCE
        + COMPLAINT_RECEIVED
        + subject
        + (correlation_id or ""),
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
    max_text_bytes: int = _MAX_TEXT,
    max_event_bytes: int = _MAX_EVENT,
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

    subject = str(complaint_id)

    def build(data: dict[str, Any] | None = None) -> EventEnvelope:
        return new_event(
            source=EVENT_SOURCE,
            type=COMPLAINT_MESSAGE_RECEIVED,
            key=customer_key,
            subject=subject,
            payload=payload if data is None else ComplaintMessageReceivedV1.model_validate(data),
            time=received_at,
        )

    return _bounded(
        build,
        payload.model_dump(mode="json"),
        ("body", "subject"),
        f"/v1/complaints/{complaint_id}/messages",
        max_text_bytes,
        max_event_bytes,
        as_is=build,
        envelope_text=customer_key + EVENT_SOURCE + COMPLAINT_MESSAGE_RECEIVED + subject,
    )
