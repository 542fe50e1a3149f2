"""Kafka entrypoints of the notification service: the one index from event type to use case.

Every case event and alert goes to webhook subscribers; the case events that may be news for
the customer (``messages.model.CUSTOMER_EVENTS``) also go to the customer-message use case,
which decides what, if anything, the customer is told. Both run in the consumer's
transaction, with its inbox record, so a redelivered event has no second effect. A fetched
batch is applied by :func:`batch_handler` in one transaction; ``handlers`` says which event
types the group applies (and applies one event at a time).
"""

from __future__ import annotations

from functools import partial

from redress_shared.clock import Clock
from redress_shared.events import ALERTS_TOPIC, CASES_TOPIC, EventEnvelope
from redress_shared.kafka import BatchHandler, EventHandler
from sqlalchemy.ext.asyncio import AsyncSession

from notification_service.messages import service as messages
from notification_service.messages.model import CUSTOMER_EVENTS, Messaging
from notification_service.webhooks import service as webhooks
from notification_service.webhooks.model import webhook_event_types
from notification_service.workers import Doorbell

GROUP_ID = "notification-service.cases"
TOPICS = (CASES_TOPIC, ALERTS_TOPIC)


async def to_subscribers(session: AsyncSession, event: EventEnvelope, *, clock: Clock) -> None:
    """A case event or alert: queue its webhook deliveries."""
    await webhooks.plan_webhook_deliveries(session, clock, event)


async def to_customer_and_subscribers(
    session: AsyncSession, event: EventEnvelope, *, clock: Clock, messaging: Messaging
) -> None:
    """A case event that may be news for the customer: tell them (if it is), and queue its
    webhook deliveries."""
    await messages.tell_customer(session, messaging, event)
    await webhooks.plan_webhook_deliveries(session, clock, event)


def batch_handler(
    clock: Clock,
    messaging: Messaging,
    message_doorbell: Doorbell | None = None,
    webhook_doorbell: Doorbell | None = None,
) -> BatchHandler:
    """The handler of a whole fetched batch (in the consumer's transaction): the customer
    events to :func:`messages.tell_customers`, every event to the subscribers, with what
    the events share read and written once. The batch may span partitions and event types;
    its events are applied in the order given (one case's events keep theirs). Once it has
    committed, the dispatchers are woken for what it queued."""

    async def apply(session: AsyncSession, batch: list[EventEnvelope]) -> None:
        due = await messages.tell_customers(
            session, messaging, [event for event in batch if event.type in CUSTOMER_EVENTS]
        )
        planned = await webhooks.plan_webhook_deliveries(session, clock, *batch)
        if due is not None and message_doorbell is not None:
            message_doorbell.ring_after_commit(session, due)
        if planned and webhook_doorbell is not None:
            webhook_doorbell.ring_after_commit(session)

    return apply


def handlers(clock: Clock, messaging: Messaging) -> dict[str, EventHandler]:
    """Event type → handler, each run in the consumer's transaction."""
    subscribers = partial(to_subscribers, clock=clock)
    customer = partial(to_customer_and_subscribers, clock=clock, messaging=messaging)
    table: dict[str, EventHandler] = dict.fromkeys(webhook_event_types(), subscribers)
    table.update(dict.fromkeys(CUSTOMER_EVENTS, customer))
    return table
