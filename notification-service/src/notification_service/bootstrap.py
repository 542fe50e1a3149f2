"""Composition root of the notification service."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from email.utils import parseaddr

from fastapi import FastAPI
from redress_shared.clock import Clock
from redress_shared.runtime import ServiceRuntime, create_app

from notification_service import consumers, tables, workers
from notification_service.adapters.gateway import GatewayChannel
from notification_service.adapters.http import WebhookSender
from notification_service.adapters.smtp import SmtpEmailSender
from notification_service.api import PROBLEMS, ROUTERS, SCOPES
from notification_service.config import NotificationSettings
from notification_service.messages.model import EMAIL, GATEWAY_CHANNELS, Channel, Messaging
from notification_service.templates import service as templates


@asynccontextmanager
async def open_channels(settings: NotificationSettings) -> AsyncIterator[dict[str, Channel]]:
    """The channels one dispatcher sends on: SMTP e-mail, plus the gateway's channels when a
    gateway is configured (closed again on the way out)."""
    smtp = SmtpEmailSender(settings)
    channels: dict[str, Channel] = {EMAIL: smtp}
    gateways: list[GatewayChannel] = []
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
        yield channels
    finally:
        await smtp.aclose()
        for gateway in gateways:
            await gateway.aclose()


def build_app(settings: NotificationSettings | None = None, clock: Clock | None = None) -> FastAPI:
    """The notification application with its runtime (nothing connects until it starts)."""
    settings = settings or NotificationSettings()
    runtime = ServiceRuntime.build(settings, tables.platform, clock)
    session_factory = runtime.session_factory
    mail_domain = parseaddr(settings.mail_from)[1].rpartition("@")[2] or "redress.invalid"
    usable = (EMAIL, *(GATEWAY_CHANNELS if settings.message_gateway_url else ()))
    messaging = Messaging(runtime.clock, settings, mail_domain, usable)
    # The consumer (and the follow-up scheduler) wake the dispatchers of this process when
    # they commit work for them, so the dispatchers need not poll often.
    message_doorbell = workers.Doorbell(runtime.clock)
    webhook_doorbell = workers.Doorbell(runtime.clock)
    runtime.add_consumer(
        consumers.GROUP_ID,
        consumers.TOPICS,
        consumers.handlers(runtime.clock, messaging),
        batch_handler=consumers.batch_handler(
            runtime.clock, messaging, message_doorbell, webhook_doorbell
        ),
    )

    async def seed_templates() -> None:
        # One-off at start; an edited template (version 2 and later) is never overwritten.
        await templates.seed_templates(session_factory, runtime.clock)

    runtime.add_background("seed-templates", seed_templates)

    async def dispatch_messages() -> None:
        async with open_channels(settings) as channels:
            await workers.dispatch_messages(
                session_factory, runtime.clock, channels, settings, message_doorbell
            )

    # One dispatcher per process keeps dispatch_concurrency sends in flight over one SMTP
    # pool; replicas never send the same message: each message is claimed (SKIP LOCKED).
    runtime.add_background("message-dispatcher", dispatch_messages)

    async def fire_follow_ups() -> None:
        await workers.fire_follow_ups(session_factory, messaging, message_doorbell)

    runtime.add_background("follow-up-scheduler", fire_follow_ups)

    in_flight: Counter[uuid.UUID] = Counter()  # this process's open requests per endpoint

    async def deliver_webhooks() -> None:
        sender = WebhookSender(settings)
        try:
            await workers.deliver_webhooks(
                session_factory, runtime.clock, sender, settings, in_flight, webhook_doorbell
            )
        finally:
            await sender.aclose()

    # Durable: deliveries live in PostgreSQL, so a restart resumes pending retries. One
    # dispatcher per process keeps webhook_dispatch_concurrency attempts in flight over one
    # shared HTTP client; a delivery is claimed before it is sent, and one slow endpoint
    # holds at most webhook_endpoint_concurrency claims (across replicas).
    runtime.add_background("webhook-dispatcher", deliver_webhooks)
    app = create_app(
        runtime,
        title="Redress notification service",
        description=(
            "Keeps customers informed: turns case events into messages from editable "
            "templates in the customer's language, sends them on the customer's preferred "
            "channel (e-mail over SMTP; SMS, chat and social through an HTTP gateway) with "
            "fallback, and publishes each outcome on `redress.notifications.v1`. Delivers every case event and "
            "alert to webhook subscribers, signed per the Standard Webhooks specification."
        ),
        routers=ROUTERS,
        scopes=SCOPES,
        problems=PROBLEMS,
    )
    app.state.message_doorbell = message_doorbell  # work queued from outside (tools)
    return app
