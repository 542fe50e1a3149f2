"""Background loops of the notification service: each iteration calls one use case, and the
loop sleeps only when there was nothing to do."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

from redress_shared.clock import Clock
from redress_shared.db import SessionFactory

from notification_service.adapters.http import WebhookSender
from notification_service.config import NotificationSettings
from notification_service.messages import service as messages
from notification_service.messages.model import Channel, Messaging
from notification_service.webhooks import service as webhooks


async def dispatch_messages(
    session_factory: SessionFactory,
    clock: Clock,
    channels: dict[str, Channel],
    settings: NotificationSettings,
) -> None:
    """Send due customer messages, forever."""
    while True:
        if not await messages.dispatch_next(session_factory, clock, channels, settings):
            await asyncio.sleep(settings.dispatch_interval_seconds)


async def fire_follow_ups(session_factory: SessionFactory, messaging: Messaging) -> None:
    """Queue the follow-up messages that fall due, forever."""
    while True:
        if not await messages.fire_due_follow_ups(session_factory, messaging):
            await asyncio.sleep(messaging.settings.follow_up_poll_interval_seconds)


async def deliver_webhooks(
    session_factory: SessionFactory,
    clock: Clock,
    sender: WebhookSender,
    settings: NotificationSettings,
    in_flight: Counter[uuid.UUID],
) -> None:
    """Attempt due webhook deliveries, forever."""
    while True:
        if not await webhooks.deliver_next_webhook(
            session_factory, clock, sender, settings, in_flight
        ):
            await asyncio.sleep(settings.webhook_dispatch_interval_seconds)
