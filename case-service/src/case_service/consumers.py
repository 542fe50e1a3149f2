"""Kafka entrypoints of the case service: which event starts which use case.

The consumer hands a fetched partition batch to :func:`batch_handler` in one transaction: a
run of consecutive ``complaint.received`` events opens its cases together (set-based); every
other event goes to its use case one by one, in the batch's order (a customer's message is
applied after the complaint it follows)."""

from __future__ import annotations

from redress_shared.clock import Clock
from redress_shared.events import (
    ALERT_RAISED,
    ALERTS_TOPIC,
    COMPLAINT_MESSAGE_RECEIVED,
    COMPLAINT_RECEIVED,
    COMPLAINTS_TOPIC,
    NOTIFICATION_FAILED,
    NOTIFICATION_SENT,
    NOTIFICATIONS_TOPIC,
)
from redress_shared.kafka import BatchHandler, EventHandler
from redress_shared.observability import bind_correlation_id

from case_service.capa import service as capa
from case_service.cases import service as cases
from case_service.messages import service as messages

GROUP_ID = "case-service.complaints"
TOPICS = (COMPLAINTS_TOPIC, NOTIFICATIONS_TOPIC, ALERTS_TOPIC)


def handlers(clock: Clock) -> dict[str, EventHandler]:
    """Event type → handler, each bound to the injected clock."""

    async def on_complaint(session, event):  # noqa: ANN001, ANN202
        await cases.open_case_for_complaint(session, clock, event)

    async def on_customer_message(session, event):  # noqa: ANN001, ANN202
        await messages.record_customer_message(session, clock, event)

    async def on_notification(session, event):  # noqa: ANN001, ANN202
        await cases.record_notification_outcome(session, clock, event)

    async def on_alert(session, event):  # noqa: ANN001, ANN202
        await capa.action_from_alert(session, clock, event)

    return {
        COMPLAINT_RECEIVED: on_complaint,
        COMPLAINT_MESSAGE_RECEIVED: on_customer_message,
        NOTIFICATION_SENT: on_notification,
        NOTIFICATION_FAILED: on_notification,
        ALERT_RAISED: on_alert,
    }


def batch_handler(clock: Clock) -> BatchHandler:
    """Applies a batch of events in partition order: each run of consecutive complaints with
    one set-based use case, every other event with its own (see :func:`handlers`)."""
    one_by_one = handlers(clock)

    async def apply(session, events):  # noqa: ANN001, ANN202
        complaints = []
        for event in events:
            if event.type == COMPLAINT_RECEIVED:
                complaints.append(event)
                continue
            if complaints:
                await cases.open_cases_for_complaints(session, clock, complaints)
                complaints = []
            bind_correlation_id(event.correlation_id)
            await one_by_one[event.type](session, event)
        if complaints:
            await cases.open_cases_for_complaints(session, clock, complaints)

    return apply
