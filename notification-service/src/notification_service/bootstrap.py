"""Composition root of the notification service."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from email.utils import parseaddr

from fastapi import FastAPI
from redress_shared.clock import Clock
from redress_shared.runtime import ServiceRuntime, create_app

from notification_service import consumers, service, tables
from notification_service.api import SCOPES, deliveries_router, router, webhooks_router
from notification_service.config import NotificationSettings
from notification_service.email_sender import SmtpEmailSender
from notification_service.templates import TemplateRenderer
from notification_service.webhook_sender import WebhookSender


def build_app(settings: NotificationSettings | None = None, clock: Clock | None = None) -> FastAPI:
    """The notification application with its runtime (nothing connects until it starts)."""
    settings = settings or NotificationSettings()
    runtime = ServiceRuntime.build(settings, tables.platform, clock)
    renderer = TemplateRenderer(settings.default_language)
    mail_domain = parseaddr(settings.mail_from)[1].rpartition("@")[2] or "redress.invalid"
    runtime.add_consumer(
        consumers.GROUP_ID,
        consumers.TOPICS,
        consumers.handlers(runtime.clock, renderer, mail_domain, settings.survey_base_url),
    )
    sender = SmtpEmailSender(settings)

    async def dispatch_forever() -> None:
        while True:
            sent = await service.dispatch_next(
                runtime.session_factory, runtime.clock, sender, settings
            )
            if not sent:
                await asyncio.sleep(settings.dispatch_interval_seconds)

    # Parallel dispatchers never pick the same message: each holds its row with SKIP LOCKED.
    for index in range(settings.dispatch_concurrency):
        runtime.add_background(f"email-dispatcher-{index}", dispatch_forever)

    in_flight: Counter[uuid.UUID] = Counter()  # this process's open requests per endpoint

    async def deliver_webhooks_forever() -> None:
        webhook_sender = WebhookSender(settings)
        try:
            while True:
                sent = await service.deliver_next_webhook(
                    runtime.session_factory, runtime.clock, webhook_sender, settings, in_flight
                )
                if not sent:
                    await asyncio.sleep(settings.webhook_dispatch_interval_seconds)
        finally:
            await webhook_sender.aclose()

    # Durable: deliveries live in PostgreSQL, so a restart resumes pending retries. Each
    # dispatcher holds its row with SKIP LOCKED; one slow endpoint can occupy at most
    # webhook_endpoint_concurrency of them.
    for index in range(settings.webhook_dispatch_concurrency):
        runtime.add_background(f"webhook-dispatcher-{index}", deliver_webhooks_forever)
    return create_app(
        runtime,
        title="Redress notification service",
        description=(
            "Keeps customers informed: turns case events into messages in the customer's "
            "language (the acknowledgement first), sends them by e-mail over SMTP and "
            "publishes each outcome on `redress.notifications.v1`. Delivers every case event and "
            "alert to webhook subscribers, signed per the Standard Webhooks specification."
        ),
        routers=[router, webhooks_router, deliveries_router],
        scopes=SCOPES,
    )
