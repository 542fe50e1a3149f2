"""Kafka entrypoints of the notification service."""

from __future__ import annotations

from redress_shared.clock import Clock
from redress_shared.events import (
    ALERTS_TOPIC,
    CASE_DECISION_RECORDED,
    CASE_OPENED,
    CASE_RESPONSE_ADDED,
    CASE_STATUS_CHANGED,
    CASES_TOPIC,
    EventEnvelope,
)
from redress_shared.kafka import EventHandler
from sqlalchemy.ext.asyncio import AsyncSession

from notification_service import service
from notification_service.templates import DECISION, RESPONSE, SURVEY, TemplateRenderer
from notification_service.webhooks import webhook_event_types

GROUP_ID = "notification-service.cases"
TOPICS = (CASES_TOPIC, ALERTS_TOPIC)


def handlers(
    clock: Clock, renderer: TemplateRenderer, mail_domain: str, survey_base_url: str
) -> dict[str, EventHandler]:
    """Event type → handler: every case event and alert goes to webhook subscribers; a case
    opening also queues the customer's acknowledgement. All in the consumer's transaction."""

    async def to_subscribers(session: AsyncSession, event: EventEnvelope) -> None:
        await service.plan_webhook_deliveries(session, clock, event)

    async def on_case_opened(session: AsyncSession, event: EventEnvelope) -> None:
        await service.plan_acknowledgement(session, clock, renderer, mail_domain, event)
        await service.plan_webhook_deliveries(session, clock, event)

    def telling_the_customer(template: str, context_of) -> EventHandler:  # noqa: ANN001
        async def handler(session: AsyncSession, event: EventEnvelope) -> None:
            context = context_of(event.payload())
            if context is not None:
                await service.plan_customer_message(
                    session, clock, renderer, mail_domain, event, template, context
                )
            await service.plan_webhook_deliveries(session, clock, event)

        return handler

    table: dict[str, EventHandler] = dict.fromkeys(webhook_event_types(), to_subscribers)
    table[CASE_OPENED] = on_case_opened
    table[CASE_RESPONSE_ADDED] = telling_the_customer(RESPONSE, lambda p: {"message": p.message})
    table[CASE_DECISION_RECORDED] = telling_the_customer(
        DECISION,
        lambda p: {
            "validity": p.validity,
            "explanation": p.explanation,
            "way_forward": p.way_forward,
        },
    )
    table[CASE_STATUS_CHANGED] = telling_the_customer(
        SURVEY,
        lambda p: (
            {"survey_url": f"{survey_base_url}/{p.reference}"} if p.to_status == "closed" else None
        ),
    )
    return table
