"""Composition root of the notification service."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from email.utils import parseaddr

from fastapi import FastAPI
from redress_shared.clock import Clock
from redress_shared.runtime import ServiceRuntime, create_app

from notification_service import consumers, notifications, service, tables
from notification_service.api import (
    SCOPES,
    deliveries_router,
    router,
    templates_router,
    webhooks_router,
)
from notification_service.channels import EMAIL, GATEWAY_CHANNELS, Channel, GatewayChannel
from notification_service.config import NotificationSettings
from notification_service.email_sender import SmtpEmailSender
from notification_service.webhook_sender import WebhookSender


def build_app(settings: NotificationSettings | None = None, clock: Clock | None = None) -> FastAPI:
    """The notification application with its runtime (nothing connects until it starts)."""
    settings = settings or NotificationSettings()
    runtime = ServiceRuntime.build(settings, tables.platform, clock)
    mail_domain = parseaddr(settings.mail_from)[1].rpartition("@")[2] or "redress.invalid"
    usable = (EMAIL, *(GATEWAY_CHANNELS if settings.message_gateway_url else ()))
    messaging = notifications.Messaging(runtime.clock, settings, mail_domain, usable)
    runtime.add_consumer(
        consumers.GROUP_ID, consumers.TOPICS, consumers.handlers(runtime.clock, messaging)
    )

    async def seed_templates() -> None:
        # One-off at start; an edited template (version 2 and later) is never overwritten.
        await notifications.seed_templates(runtime.session_factory, runtime.clock)

    runtime.add_background("seed-templates", seed_templates)

    async def dispatch_forever() -> None:
        channels: dict[str, Channel] = {EMAIL: SmtpEmailSender(settings)}
        gateways = []
        if settings.message_gateway_url:
            token = settings.message_gateway_token
            for name in GATEWAY_CHANNELS:
                gateway = GatewayChannel(
                    settings.message_gateway_url,
                    token.get_secret_value() if token else None,
                    settings.message_gateway_timeout_seconds,
                    name,
                )
                channels[name] = gateway
                gateways.append(gateway)
        try:
            while True:
                sent = await notifications.dispatch_next(
                    runtime.session_factory, runtime.clock, channels, settings
                )
                if not sent:
                    await asyncio.sleep(settings.dispatch_interval_seconds)
        finally:
            for gateway in gateways:
                await gateway.aclose()

    # Parallel dispatchers never pick the same message: each holds its row with SKIP LOCKED.
    for index in range(settings.dispatch_concurrency):
        runtime.add_background(f"message-dispatcher-{index}", dispatch_forever)

    async def follow_ups_forever() -> None:
        while True:
            fired = await notifications.fire_due_follow_ups(runtime.session_factory, messaging)
            if not fired:
                await asyncio.sleep(settings.follow_up_poll_interval_seconds)

    runtime.add_background("follow-up-scheduler", follow_ups_forever)

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
            "Keeps customers informed: turns case events into messages from editable "
            "templates in the customer's language, sends them on the customer's preferred "
            "channel (e-mail over SMTP; SMS, chat and social through an HTTP gateway) with "
            "fallback, and publishes each outcome on `redress.notifications.v1`. Delivers every case event and "
            "alert to webhook subscribers, signed per the Standard Webhooks specification."
        ),
        routers=[router, templates_router, webhooks_router, deliveries_router],
        scopes=SCOPES,
    )
