from __future__ import annotations

import asyncio
import email
import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import policy

import pytest
from aiosmtpd.controller import Controller
from notification_service import MIGRATIONS_DIR
from notification_service.bootstrap import build_app
from notification_service.config import NotificationSettings
from redress_shared.events import (
    CustomerContact,
)
from redress_stack import case_stories
from redress_stack.infra import free_port
from redress_testing import eventually, running_app, service_settings

REFUSED_DOMAIN = "refused.example"


class RecordingSmtpServer:
    """A real SMTP server on loopback that keeps what it receives and refuses one domain."""

    refused_domain = REFUSED_DOMAIN

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.greylisted: dict[str, int] = {}  # address -> attempts still to answer 451

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address.endswith("@" + REFUSED_DOMAIN):
            return "550 5.1.1 No such mailbox"
        if self.greylisted.get(address, 0) > 0:
            self.greylisted[address] -= 1
            return "451 4.7.1 Greylisted, try again later"
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
        message_gateway_url=f"http://127.0.0.1:{message_gateway.port}/v1/messages",
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
    )


@pytest.fixture(scope="session")
async def notifications_client(notification_settings):
    async with running_app(build_app(notification_settings), notification_settings) as client:
        yield client


@dataclass
class ReceivedRequest:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Behaviour:
    """How the receiver answers on one path: fail the first ``fail_first`` attempts of each
    message with ``fail_status`` (and ``Retry-After``), then answer ``status`` (with
    ``Location`` if given); ``delay`` stalls each answer; the first ``hang_first`` attempts of
    each message hang: no answer for ``hang_seconds`` or until the caller hangs up."""

    status: int = 200
    fail_first: int = 0
    fail_status: int = 500
    retry_after: str | None = None
    delay: float = 0.0
    hang_first: int = 0
    hang_seconds: float = 0.0
    location: str | None = None


class WebhookReceiver:
    """A real HTTP/1.1 server on loopback (asyncio streams) that records every request and
    answers according to the behaviour configured per path."""

    def __init__(self) -> None:
        self.requests: list[ReceivedRequest] = []
        self.behaviours: dict[str, Behaviour] = {}
        self.open_requests: dict[str, int] = {}
        self.most_open: dict[str, int] = {}
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        await self._server.wait_closed()

    def endpoint(self, **behaviour) -> tuple[str, str]:
        """A fresh path answering as the :class:`Behaviour` fields given; returns (path, url)."""
        path = f"/hooks/{uuid.uuid4().hex}"
        self.behaviours[path] = Behaviour(**behaviour)
        return path, f"http://127.0.0.1:{self.port}{path}"

    def to(self, path: str) -> list[ReceivedRequest]:
        return [r for r in self.requests if r.path == path]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                _method, target, _version = line.decode("latin-1").split(" ", 2)
                headers: dict[str, str] = {}
                while (header := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = header.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                path = target.split("?")[0]
                behaviour = self.behaviours.get(path, Behaviour(status=404))
                # Attempts so far of this message (the webhook-id is stable across retries).
                seen = sum(
                    1
                    for r in self.to(path)
                    if r.headers.get("webhook-id") == headers.get("webhook-id")
                )
                self.requests.append(ReceivedRequest(path, headers, body, time.monotonic()))
                self.open_requests[path] = self.open_requests.get(path, 0) + 1
                self.most_open[path] = max(self.most_open.get(path, 0), self.open_requests[path])
                try:
                    if behaviour.delay:
                        await asyncio.sleep(behaviour.delay)
                    if seen < behaviour.hang_first:
                        # Say nothing; stop only when the caller gives up (EOF) or time is up.
                        try:
                            async with asyncio.timeout(behaviour.hang_seconds):
                                await reader.read(1)
                        except TimeoutError:
                            pass
                        return
                finally:
                    self.open_requests[path] -= 1
                extra = ""
                if seen < behaviour.fail_first:
                    status = behaviour.fail_status
                    if behaviour.retry_after is not None:
                        extra = f"Retry-After: {behaviour.retry_after}\r\n"
                else:
                    status = behaviour.status
                    if behaviour.location is not None:
                        extra = f"Location: {behaviour.location}\r\n"
                answer = f"status {status}".encode()
                writer.write(
                    f"HTTP/1.1 {status} X\r\nContent-Type: text/plain\r\n{extra}"
                    f"Content-Length: {len(answer)}\r\n\r\n".encode()
                    + answer
                )
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            self._writers.discard(writer)
            writer.close()


@pytest.fixture(scope="session")
async def receiver():
    server = WebhookReceiver()
    await server.start()
    yield server
    await server.stop()


class MessageGateway:
    """A real HTTP server on loopback standing in for the SMS / chat gateway: records every
    message and refuses some recipients for good (400) or for the first attempts (503)."""

    def __init__(self) -> None:
        self.messages: list[dict] = []
        self.refused: set[str] = set()
        self.flaky: dict[str, int] = {}  # recipient -> attempts still to answer 503
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()

    def to(self, recipient: str) -> list[dict]:
        return [m for m in self.messages if m["to"] == recipient]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await reader.readline():
                headers: dict[str, str] = {}
                while (header := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = header.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = json.loads(await reader.readexactly(int(headers["content-length"])))
                body["idempotency_key"] = headers.get("idempotency-key")
                recipient = body["to"]
                if recipient in self.refused:
                    status = 400
                elif self.flaky.get(recipient, 0) > 0:
                    self.flaky[recipient] -= 1
                    status = 503
                else:
                    status = 202
                    self.messages.append(body)
                writer.write(
                    f"HTTP/1.1 {status} X\r\nContent-Length: 2\r\n\r\nok".encode("latin-1")
                )
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()


@pytest.fixture(scope="session")
async def message_gateway():
    gateway = MessageGateway()
    await gateway.start()
    yield gateway
    await gateway.stop()


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
