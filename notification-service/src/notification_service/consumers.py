"""Kafka entrypoints of the notification service."""

from __future__ import annotations

from redress_shared.clock import Clock
from redress_shared.events import ALERTS_TOPIC, CASE_OPENED, CASES_TOPIC
from redress_shared.kafka import EventHandler

from notification_service import service
from notification_service.templates import TemplateRenderer

GROUP_ID = "notification-service.cases"
TOPICS = (CASES_TOPIC, ALERTS_TOPIC)


def handlers(clock: Clock, renderer: TemplateRenderer, mail_domain: str) -> dict[str, EventHandler]:
    """Event type → handler."""

    async def on_case_opened(session, event):  # noqa: ANN001, ANN202
        await service.plan_acknowledgement(session, clock, renderer, mail_domain, event)

    return {CASE_OPENED: on_case_opened}
