from __future__ import annotations

import email
from email import policy

import pytest
from aiosmtpd.controller import Controller
from notification_service import MIGRATIONS_DIR
from notification_service.bootstrap import build_app
from notification_service.config import NotificationSettings
from redress_stack.infra import free_port
from redress_stack.testing import running_app, service_settings

REFUSED_DOMAIN = "refused.example"


class RecordingSmtpServer:
    """A real SMTP server on loopback that keeps what it receives and refuses one domain."""

    refused_domain = REFUSED_DOMAIN

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address.endswith("@" + REFUSED_DOMAIN):
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.messages.append(
            email.message_from_bytes(envelope.original_content, policy=policy.default)
        )
        return "250 Message accepted"

    def to(self, address: str) -> list:
        return [m for m in self.messages if m["To"] == address]


@pytest.fixture(scope="session")
def smtp_server():
    handler = RecordingSmtpServer()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield handler, controller.port
    controller.stop()


@pytest.fixture(scope="session")
def notification_settings(infra, smtp_server) -> NotificationSettings:
    _, port = smtp_server
    return service_settings(
        infra, NotificationSettings, MIGRATIONS_DIR, smtp_port=port, dispatch_interval_seconds=0.05
    )


@pytest.fixture(scope="session")
async def notifications_client(notification_settings):
    async with running_app(build_app(notification_settings), notification_settings) as client:
        yield client
