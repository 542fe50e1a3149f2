from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from notification_service import MIGRATIONS_DIR
from notification_service.bootstrap import build_app
from notification_service.config import NotificationSettings
from redress_shared.events import (
    CustomerContact,
)
from redress_testing import case_stories, eventually, running_app, service_settings
from redress_testing.gateway import MessageGateway
from redress_testing.smtp import recording_smtp_server
from redress_testing.webhook_receiver import WebhookReceiver


@pytest.fixture(scope="session")
def smtp_server():
    """``(server, port)``: the loopback SMTP server the service sends e-mail to."""
    with recording_smtp_server() as served:
        yield served


@pytest.fixture(scope="session")
def notification_settings(infra, smtp_server, message_gateway) -> NotificationSettings:
    _, port = smtp_server
    return service_settings(
        infra,
        NotificationSettings,
        MIGRATIONS_DIR,
        smtp_port=port,
        dispatch_interval_seconds=0.05,
        retry_base_seconds=0.05,
        max_send_attempts=3,
        message_gateway_url=message_gateway.url("/v1/messages"),
        # Status messages go at once here; quiet collapse is tested with an injected clock.
        status_quiet_window=timedelta(0),
        follow_up_after=timedelta(seconds=1),
        follow_up_poll_interval_seconds=0.1,
        # Webhook receivers in tests listen on loopback; retries back off in milliseconds.
        webhook_allow_private_networks=True,
        webhook_dispatch_interval_seconds=0.05,
        webhook_retry_base_seconds=0.05,
        webhook_retry_max_delay_seconds=3.0,
        webhook_max_attempts=5,
        webhook_timeout_seconds=2.0,
        # Fewer than the slow-endpoint test's events, so the per-endpoint limit binds there.
        webhook_endpoint_concurrency=2,
    )


@pytest.fixture(scope="session")
async def notifications_client(notification_settings):
    async with running_app(build_app(notification_settings), notification_settings) as client:
        yield client


@pytest.fixture(scope="session")
async def receiver():
    """The loopback webhook receiver; each test takes its own paths with ``endpoint()``."""
    async with WebhookReceiver() as server:
        yield server


@pytest.fixture(scope="session")
async def message_gateway():
    """The loopback stand-in for the SMS / chat / social gateway."""
    async with MessageGateway() as gateway:
        yield gateway


class CaseStory(case_stories.CaseStory):
    """The events of one case, as the case service would publish them, for a customer with
    the given contact points; every event happens at ``self.at`` (a test may move it)."""

    def __init__(
        self,
        email: str | None,
        *,
        phone: str | None = None,
        language: str = "en",
        preferred_channel: str | None = None,
        channel: str = "api",
        time_zone: str | None = None,
    ) -> None:
        self.at = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
        super().__init__(
            self.at,
            tier=None,
            due_in=(timedelta(hours=24), timedelta(days=2), timedelta(days=14)),
            customer=CustomerContact(
                customer_key=f"key-{uuid.uuid4().hex[:8]}",
                name="Ana Pop",
                email=email,
                phone=phone,
                language=language,
                preferred_channel=preferred_channel,
                time_zone=time_zone,
            ),
            channel=channel,
            subject="Broken charger",
            language=language,
            reference=f"RDR-2026-{uuid.uuid4().int % 10**6:06d}",
        )

    def status(self, action: str, from_status: str, to_status: str, reason: str | None = None):
        """A lifecycle change from ``from_status`` to ``to_status``."""
        return self.act(action, to_status, self.at, from_status=from_status, reason=reason)

    def response(self, message: str):
        """An agent's response to the customer."""
        return self.respond(self.at, message=message)

    def breach(self, clock: str, due_at: datetime, new_due_at: datetime | None = None):
        """A breach of ``clock`` a minute after ``due_at``, escalating normal to high."""
        return self.sla(
            clock,
            breached=True,
            at=due_at + timedelta(minutes=1),
            due_at=due_at,
            priority_after="high",
            new_due_at=new_due_at,
        )


@pytest.fixture(scope="session")
def case_story():
    """The :class:`CaseStory` class: ``case_story(email, language=..., ...)``."""
    return CaseStory


async def wait_for_notifications(client, case_id, count: int, done=("sent", "failed")) -> list:
    """The case's notifications once ``count`` of them have a final status (newest first)."""

    async def settled():
        listed = (await client.get("/v1/notifications", params={"case_id": str(case_id)})).json()
        return listed if len([n for n in listed if n["status"] in done]) >= count else None

    return await eventually(settled)


@pytest.fixture(scope="session")
def settled_notifications():
    """``await settled_notifications(client, case_id, count)``: see wait_for_notifications."""
    return wait_for_notifications


def plain_text(message) -> str:  # noqa: ANN001
    """The text/plain part of an e-mail."""
    return message.get_body(preferencelist=("plain",)).get_content()


@pytest.fixture(scope="session")
def text_of():
    """``text_of(message)``: the text/plain part of a received e-mail."""
    return plain_text
