"""Composition root of the notification service."""

from __future__ import annotations

import asyncio
from email.utils import parseaddr

from fastapi import FastAPI
from redress_shared.clock import Clock
from redress_shared.runtime import ServiceRuntime, create_app

from notification_service import consumers, service, tables
from notification_service.api import SCOPES, router
from notification_service.config import NotificationSettings
from notification_service.email_sender import SmtpEmailSender
from notification_service.templates import TemplateRenderer


def build_app(settings: NotificationSettings | None = None, clock: Clock | None = None) -> FastAPI:
    """The notification application with its runtime (nothing connects until it starts)."""
    settings = settings or NotificationSettings()
    runtime = ServiceRuntime.build(settings, tables.platform, clock)
    renderer = TemplateRenderer(settings.default_language)
    mail_domain = parseaddr(settings.mail_from)[1].rpartition("@")[2] or "redress.invalid"
    runtime.add_consumer(
        consumers.GROUP_ID,
        consumers.TOPICS,
        consumers.handlers(runtime.clock, renderer, mail_domain),
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
    return create_app(
        runtime,
        title="Redress notification service",
        description=(
            "Keeps customers informed: turns case events into messages in the customer's "
            "language (the acknowledgement first), sends them by e-mail over SMTP and "
            "publishes each outcome on `redress.notifications.v1`."
        ),
        routers=[router],
        scopes=SCOPES,
    )
