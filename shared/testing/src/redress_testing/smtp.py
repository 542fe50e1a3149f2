"""A real SMTP server on loopback standing in for the mail relay of the notification service.

It keeps every message it accepts (parsed), notes when each arrived by its Message-ID, and
misbehaves on request: recipients of one domain are refused for good (550), an address
can be greylisted (451) for its first attempts, and an address can be slow (the answer to
its DATA waits a while). It counts the connections it accepted, so a test can see them
reused.
"""

from __future__ import annotations

import asyncio
import email
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email import policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from redress_stack.infra import free_port

REFUSED_DOMAIN = "refused.example"


class RecordingSmtpServer:
    """aiosmtpd handler that records what it receives and refuses one domain."""

    refused_domain = REFUSED_DOMAIN

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.arrived: dict[str, float] = {}
        """Message-ID -> ``time.perf_counter()`` when the message arrived."""
        self.greylisted: dict[str, int] = {}
        """Address -> attempts still to answer 451."""
        self.slow: dict[str, float] = {}
        """Address -> seconds its DATA waits before the answer."""
        self.receiving = 0
        """Messages whose DATA is being answered right now."""
        self.connections = 0
        """Connections accepted so far."""

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: ANN001, ANN201, N802
        self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: ANN001, ANN201, N802
        if address.endswith("@" + self.refused_domain):
            return "550 5.1.1 No such mailbox"
        if self.greylisted.get(address, 0) > 0:
            self.greylisted[address] -= 1
            return "451 4.7.1 Greylisted, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201, N802
        delay = max((self.slow.get(address, 0.0) for address in envelope.rcpt_tos), default=0.0)
        if delay:
            self.receiving += 1
            try:
                await asyncio.sleep(delay)
            finally:
                self.receiving -= 1
        arrived = time.perf_counter()
        for line in envelope.original_content.split(b"\r\n"):
            if line.lower().startswith(b"message-id:"):
                self.arrived[line.split(b":", 1)[1].strip().decode()] = arrived
                break
        self.messages.append(
            email.message_from_bytes(envelope.original_content, policy=policy.default)
        )
        return "250 Message accepted"

    def to(self, address: str) -> list[EmailMessage]:
        """The messages received for ``address``."""
        return [m for m in self.messages if m["To"] == address]


@contextmanager
def recording_smtp_server() -> Iterator[tuple[RecordingSmtpServer, int]]:
    """Serve a :class:`RecordingSmtpServer` on a free loopback port: ``(server, port)``."""
    handler = RecordingSmtpServer()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield handler, controller.port
    finally:
        controller.stop()
