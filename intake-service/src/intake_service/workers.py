"""Intake's background work: the SMTP listener (each message: its handler calls the e-mail
use case), loading the language model at start-up and keeping the classification rules
current."""

from __future__ import annotations

import asyncio
import functools

import structlog
from aiosmtpd.smtp import SMTP

from intake_service.classification.service import keep_rules_current
from intake_service.email.api import IntakeSmtpHandler
from intake_service.normalisation.service import load_language_models

log = structlog.get_logger(__name__)

__all__ = ["keep_rules_current", "load_language_models", "run_smtp_listener"]


async def run_smtp_listener(
    handler: IntakeSmtpHandler,
    host: str,
    port: int,
    max_message_bytes: int,
    shared_port: bool = False,
) -> None:
    """Serve SMTP on ``host:port`` in this event loop until cancelled; aiosmtpd refuses a
    message above ``max_message_bytes`` with 552. With ``shared_port`` (several worker
    processes of one service) each worker listens on the port too (``SO_REUSEPORT``: the
    kernel spreads the connections); otherwise a port already taken is an error."""
    loop = asyncio.get_running_loop()
    factory = functools.partial(
        SMTP, handler, data_size_limit=max_message_bytes, enable_SMTPUTF8=True, decode_data=False
    )
    server = await loop.create_server(factory, host=host, port=port, reuse_port=shared_port or None)
    log.info("smtp_listening", host=host, port=port)
    async with server:
        await server.serve_forever()
