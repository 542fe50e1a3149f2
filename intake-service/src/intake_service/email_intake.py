"""E-mail intake: an RFC 5322 message becomes a complaint draft; the SMTP listener feeds it.

This is the thin first version: plain-text (or the text part of multipart) messages from a
sender address. HTML-only bodies, attachments, replies and bounces are handled by the
dedicated e-mail intake work; until then such a message is refused at SMTP time, so the
sending server keeps it and reports it, rather than us accepting and losing it.
"""

from __future__ import annotations

import asyncio
import functools
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser

import structlog
from aiosmtpd.smtp import SMTP, Envelope, Session
from redress_shared.clock import Clock
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from intake_service import service
from intake_service.models import ComplaintDraft, InvalidComplaint, build_customer, require_text

log = structlog.get_logger(__name__)


def draft_from_email(raw: bytes) -> ComplaintDraft:
    """Normalise a raw e-mail into a complaint draft, or raise InvalidComplaint."""
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    auto = str(message.get("Auto-Submitted", "no")).strip().lower()
    if auto != "no":
        raise InvalidComplaint("Auto-Submitted", f"automatic message ({auto}), not a complaint")
    senders = message["From"].addresses if message["From"] else ()
    if not senders:
        raise InvalidComplaint("From", "the message has no sender address")
    sender: Address = senders[0]
    body_part = message.get_body(preferencelist=("plain",))
    if body_part is None:
        raise InvalidComplaint("body", "no text/plain part")
    body = require_text(body_part.get_content(), "body")
    message_id = str(message.get("Message-ID", "")).strip() or None
    return ComplaintDraft(
        channel="email",
        customer=build_customer(
            name=sender.display_name or None,
            email=sender.addr_spec,
            phone=None,
            language=None,
        ),
        body=body,
        subject=str(message.get("Subject", "")).strip() or None,
        channel_message_id=message_id,
    )


class IntakeSmtpHandler:
    """aiosmtpd handler: each DATA becomes a complaint, or a permanent SMTP refusal."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self._session_factory = session_factory
        self._clock = clock

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        raw = envelope.original_content or b""
        try:
            draft = draft_from_email(raw)
        except InvalidComplaint as exc:
            log.info("email_refused", reason=str(exc), peer=str(session.peer))
            return f"550 5.6.0 Not accepted as a complaint: {exc}"
        raw_submission = service.RawSubmission(
            channel="email",
            content_type="message/rfc822",
            payload=raw,
            submitted_by=f"smtp:{session.peer[0] if session.peer else 'unknown'}",
        )
        accepted, created = await service.register_complaint(
            self._session_factory, self._clock, draft, raw_submission
        )
        log.info("email_complaint", reference=accepted.reference, new=created)
        return f"250 2.0.0 Accepted as {accepted.reference}"


async def run_smtp_listener(
    handler: IntakeSmtpHandler, host: str, port: int, max_message_bytes: int
) -> None:
    """Serve SMTP on ``host:port`` in this event loop until cancelled."""
    loop = asyncio.get_running_loop()
    factory = functools.partial(
        SMTP, handler, data_size_limit=max_message_bytes, enable_SMTPUTF8=True, decode_data=False
    )
    server = await loop.create_server(factory, host=host, port=port)
    log.info("smtp_listening", host=host, port=port)
    async with server:
        await server.serve_forever()
