"""The SMTP listener (aiosmtpd): each message goes through the same path as
``POST /v1/intake/email`` (stored first, then normalised; failures quarantined).

SMTP replies: 250 once the raw message is committed, whatever normalisation made of it (a
quarantined message is ours to fix and replay, so the sender must not retry or bounce it;
the reply names the quarantine id; an automatic one is recorded and ignored); 451 (try
again later) when it could not even be stored, so the sending server keeps it; 552 above
the message size limit (aiosmtpd enforces ``data_size_limit``) and when one attachment is
larger than the attachment limit (nothing is stored then).
"""

from __future__ import annotations

import asyncio
import functools

import structlog
from aiosmtpd.smtp import SMTP, Envelope, Session
from redress_shared.clock import Clock
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from intake_service import service
from intake_service.config import IntakePolicy
from intake_service.models import AttachmentTooLarge

log = structlog.get_logger(__name__)


class IntakeSmtpHandler:
    """aiosmtpd handler: each DATA is stored and normalised like an HTTP e-mail."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        clock: Clock,
        policy: IntakePolicy | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._clock = clock
        self._policy = policy or IntakePolicy()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        raw = envelope.original_content or b""
        if not raw.strip():
            return "554 5.6.0 Empty message"
        peer = session.peer[0] if session.peer else "unknown"
        try:
            answer = await service.receive_email(
                self._session_factory, self._clock, raw, f"smtp:{peer}", self._policy
            )
        except AttachmentTooLarge as exc:
            return f"552 5.3.4 {exc}"
        except Exception:
            log.exception("email_not_stored", peer=str(session.peer))
            return "451 4.3.0 Temporary failure, please retry"
        log.info("email_received", status=answer.status, submission=str(answer.submission_id))
        if answer.status == "attached":
            return f"250 2.0.0 Added to {answer.reference} (attached)"
        if answer.reference:
            return f"250 2.0.0 Accepted as {answer.reference}"
        if answer.status == "quarantined":
            return f"250 2.0.0 Kept in quarantine as {answer.submission_id} (quarantined)"
        return f"250 2.0.0 Stored as {answer.submission_id} ({answer.status})"


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
