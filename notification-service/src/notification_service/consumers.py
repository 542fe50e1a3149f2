"""Kafka entrypoints of the notification service."""

from __future__ import annotations

from redress_shared.clock import Clock
from redress_shared.events import ALERTS_TOPIC, CASE_OPENED, CASES_TOPIC, EventEnvelope
from redress_shared.kafka import EventHandler
from sqlalchemy.ext.asyncio import AsyncSession

from notification_service import service
from notification_service.templates import TemplateRenderer
from notification_service.webhooks import webhook_event_types

GROUP_ID = "notification-service.cases"
TOPICS = (CASES_TOPIC, ALERTS_TOPIC)


def handlers(clock: Clock, renderer: TemplateRenderer, mail_domain: str) -> dict[str, EventHandler]:
    """Event type → handler: every case event and alert goes to webhook subscribers; a case
    opening also queues the customer's acknowledgement. All in the consumer's transaction."""

    async def to_subscribers(session: AsyncSession, event: EventEnvelope) -> None:
        await service.plan_webhook_deliveries(session, clock, event)

    async def on_case_opened(session: AsyncSession, event: EventEnvelope) -> None:
        await service.plan_acknowledgement(session, clock, renderer, mail_domain, event)
        await service.plan_webhook_deliveries(session, clock, event)

    table: dict[str, EventHandler] = dict.fromkeys(webhook_event_types(), to_subscribers)
    table[CASE_OPENED] = on_case_opened
    return table
