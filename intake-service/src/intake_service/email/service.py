"""E-mail use cases (HTTP and SMTP alike): store the raw message first, then normalise and
register it; what cannot be normalised goes to quarantine, automatic mail is ignored.

Parsing runs in a worker thread with a time limit (``policy.parse_time_limit``), after the
structure limits are checked on the bytes (:func:`intake_service.email.model.check_structure`):
the event loop never parses, and a message that takes too long is quarantined.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Literal

import structlog
from redress_shared.clock import Clock
from redress_shared.db import SessionFactory
from sqlalchemy.exc import DBAPIError

from intake_service.complaints import store
from intake_service.complaints.model import (
    AttachmentTooLarge,
    ComplaintDraft,
    InvalidComplaint,
    RawSubmission,
    check_attachment_sizes,
)
from intake_service.complaints.service import register_complaint
from intake_service.config import DEFAULT_POLICY, IntakePolicy
from intake_service.email.model import EmptyMessage, NotAComplaint, UnparseableMessage, parse_email
from intake_service.email.schemas import SubmissionRead
from intake_service.normalisation.service import normalise

log = structlog.get_logger(__name__)

EMAIL_CONTENT_TYPE = "message/rfc822"


async def parse_bounded(
    message: bytes, policy: IntakePolicy = DEFAULT_POLICY
) -> ComplaintDraft | NotAComplaint:
    """:func:`parse_email` in a worker thread, within ``policy``'s limits; over the time
    limit it raises InvalidComplaint (the thread cannot be stopped, but its input is bounded
    by the structure limits, so it ends)."""
    try:
        return await asyncio.wait_for(
            asyncio.to_thread(parse_email, message, policy.mime), policy.parse_time_limit
        )
    except TimeoutError:
        raise InvalidComplaint(
            "message", f"parsing took longer than {policy.parse_time_limit:g} s"
        ) from None


async def receive_email(
    session_factory: SessionFactory,
    clock: Clock,
    message: bytes,
    submitted_by: str,
    policy: IntakePolicy = DEFAULT_POLICY,
) -> SubmissionRead:
    """Take a raw e-mail (HTTP or SMTP): commit it first, in its own transaction, before any
    parsing, so nothing accepted can be lost; then parse (bounded, off the event loop),
    normalise and register it. An automatic message is recorded as ignored.

    Raises EmptyMessage for a message without bytes (nothing stored), and
    AttachmentTooLarge when an attachment exceeds ``policy.max_attachment_bytes`` (the stored
    message is deleted again: such a message is refused, not accepted). Raises
    UnparseableMessage when the stored message cannot be normalised or exceeds a structure
    limit: it is kept in quarantine for a fix and a replay.
    """
    if not message.strip():
        raise EmptyMessage()
    received_at = clock.now()
    raw = RawSubmission("email", EMAIL_CONTENT_TYPE, message, submitted_by)
    async with session_factory() as session, session.begin():
        raw_id = await store.insert_raw(session, raw, received_at, "received", attempts=0)
    parsed: ComplaintDraft | NotAComplaint | Exception
    try:
        parsed = await parse_bounded(message, policy)
    except Exception as exc:  # quarantined with this error below
        parsed = exc
    if isinstance(parsed, ComplaintDraft):
        try:
            check_attachment_sizes(parsed.attachments, policy.max_attachment_bytes)
        except AttachmentTooLarge:
            async with session_factory() as session, session.begin():
                await store.delete_unsettled_raw(session, raw_id)
            raise
    answer = await normalise_stored(
        session_factory, clock, raw_id, message, received_at, policy, parsed
    )
    if answer.status == "quarantined":
        raise UnparseableMessage(answer.reason, answer.submission_id)
    return answer


async def normalise_stored(
    session_factory: SessionFactory,
    clock: Clock,
    raw_id: uuid.UUID,
    message: bytes,
    received_at: datetime,
    policy: IntakePolicy = DEFAULT_POLICY,
    parsed: ComplaintDraft | NotAComplaint | Exception | None = None,
) -> SubmissionRead:
    """Normalise and register the stored e-mail ``raw_id`` (``parsed`` when already parsed,
    or the error parsing raised); anything at all that fails quarantines it with the error,
    never drops it."""
    raw = RawSubmission("email", EMAIL_CONTENT_TYPE, message, "stored")
    try:
        if parsed is None:
            parsed = await parse_bounded(message, policy)
        if isinstance(parsed, Exception):
            raise parsed
        if isinstance(parsed, NotAComplaint):
            return await _set_aside(
                session_factory, clock, raw_id, received_at, "ignored", parsed.reason
            )
        check_attachment_sizes(parsed.attachments, policy.max_attachment_bytes)
        draft = await normalise(parsed, time_limit=policy.parse_time_limit)
        accepted, _created = await register_complaint(
            session_factory, clock, draft, raw, stored_raw_id=raw_id, policy=policy
        )
    except Exception as exc:  # anything at all: the message is kept, never dropped
        return await _set_aside(
            session_factory, clock, raw_id, received_at, "quarantined", quarantine_reason(exc)
        )
    return SubmissionRead(
        submission_id=raw_id,
        status=accepted.status,
        complaint_id=accepted.complaint_id,
        reference=accepted.reference,
        received_at=accepted.received_at,
    )


def quarantine_reason(error: Exception) -> str:
    """Why a message was quarantined, as the operator and the sender read it: a database error
    by its server's message alone (never the statement and its parameters)."""
    if isinstance(error, InvalidComplaint):
        return str(error)
    if isinstance(error, DBAPIError):
        first_line = (str(error.orig).splitlines() or [""])[0]
        return f"database refused it: {first_line}"
    return f"{type(error).__name__}: {error}"


async def _set_aside(
    session_factory: SessionFactory,
    clock: Clock,
    raw_id: uuid.UUID,
    received_at: datetime,
    status: Literal["ignored", "quarantined"],
    reason: str,
) -> SubmissionRead:
    """Record why the stored message ``raw_id`` became no complaint: automatic mail is
    ``ignored`` for good, a failure is ``quarantined`` for a fix and a replay."""
    async with session_factory() as session, session.begin():
        await store.settle_raw(session, clock.now(), raw_id, status, error=reason)
    if status == "ignored":
        log.info("email_ignored", submission_id=str(raw_id), reason=reason)
    else:
        log.warning("submission_quarantined", submission_id=str(raw_id), error=reason)
    return SubmissionRead(
        submission_id=raw_id, status=status, received_at=received_at, reason=reason
    )
