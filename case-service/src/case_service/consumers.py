"""Kafka entrypoints of the case service: which event starts which use case.

The consumer hands a fetched batch (events of any of :data:`TOPICS` and partitions) to
:func:`batch_handler` in one transaction: its complaints open their cases together, then its
notification outcomes are noted together (both set-based), then every other event goes to its
use case one by one, in the batch's order (see :func:`batch_handler` for why that keeps
every order the use cases rely on)."""

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
    """Applies a batch of events (any topics and partitions, each partition's in its order)
    with the effect of applying them one by one in that order, in three steps:

    1. every ``complaint.received`` of the batch, in order, with one set-based use case;
    2. every ``notification.sent`` / ``failed``, in order, with one set-based use case;
    3. every other event (a customer's message, an alert) with its own, in order.

    Why that is equivalent: only events of one aggregate are ordered (one key, one partition),
    so moving an event ahead of another is safe when the two are of different aggregates, and
    the moved use cases do not read what the others write:

    - Opening reads only whether a complaint has its case, the SLA policies, the routing
      rules and the customer's profile; no outcome, message or alert changes those. Opening
      first is what lets a later event of the batch see its case.
    - A message (``complaint.message_received``, keyed like its complaint by the customer)
      comes after its complaint in their partition, so after its case is opened either way.
      (One ahead of its complaint in the batch, which intake never publishes, would now find
      the case instead of failing.)
    - An outcome is keyed by its case on the notification topic, and exists only after its
      case's ``case.opened`` was committed and published: if that complaint is in the batch
      at all, it is a repeat the inbox already dropped. Its case is there in both orders; it
      only appends history, which no message or alert reads, and its order against a
      message of the same case is not defined anyway (two topics).
    - An alert links the supplier's cases of its period: a case opened by a complaint later
      in the batch is on another topic, so it could equally have been applied first.

    The consumer's per-record fallback calls this with one event at a time."""
    one_by_one = handlers(clock)
    opening_settings = cases.OpeningSettings()
    set_based = {COMPLAINT_RECEIVED, NOTIFICATION_SENT, NOTIFICATION_FAILED}

    async def apply(session, events):  # noqa: ANN001, ANN202
        complaints = [event for event in events if event.type == COMPLAINT_RECEIVED]
        if complaints:
            await cases.open_cases_for_complaints(session, clock, complaints, opening_settings)
        outcomes = [
            event for event in events if event.type in (NOTIFICATION_SENT, NOTIFICATION_FAILED)
        ]
        if outcomes:
            await cases.record_notification_outcomes(session, clock, outcomes)
        for event in events:
            if event.type not in set_based:
                bind_correlation_id(event.correlation_id)
                await one_by_one[event.type](session, event)

    return apply
