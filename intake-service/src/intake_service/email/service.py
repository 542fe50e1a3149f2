"""E-mail use cases (HTTP and SMTP alike): store the raw message first, then normalise and
register it; what cannot be normalised goes to quarantine, automatic mail is ignored."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

import structlog
from redress_shared.clock import Clock
from redress_shared.db import SessionFactory

from intake_service.complaints import store
from intake_service.complaints.model import (
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


async def receive_email(
    session_factory: SessionFactory,
    clock: Clock,
    message: bytes,
    submitted_by: str,
    policy: IntakePolicy = DEFAULT_POLICY,
) -> SubmissionRead:
    """Take a raw e-mail (HTTP or SMTP): commit it first, in its own transaction, so nothing
    accepted can be lost; then normalise and register it. An automatic message is recorded
    as ignored.

    Raises EmptyMessage for a message without bytes, and AttachmentTooLarge when an
    attachment exceeds ``policy.max_attachment_bytes``, both before anything is written:
    such a message is refused, not accepted. Raises UnparseableMessage when the stored
    message cannot be normalised: it is kept in quarantine for a fix and a replay.
    """
    if not message.strip():
        raise EmptyMessage()
    try:
        parsed: ComplaintDraft | NotAComplaint | None = parse_email(message)
    except Exception:  # normalisation fails again below, after the message is stored
        parsed = None
    if isinstance(parsed, ComplaintDraft):
        check_attachment_sizes(parsed.attachments, policy.max_attachment_bytes)
    received_at = clock.now()
    raw = RawSubmission("email", EMAIL_CONTENT_TYPE, message, submitted_by)
    async with session_factory() as session, session.begin():
        raw_id = await store.insert_raw(session, raw, received_at, "received", attempts=0)
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
    parsed: ComplaintDraft | NotAComplaint | None = None,
) -> SubmissionRead:
    """Normalise and register the stored e-mail ``raw_id`` (``parsed`` when already parsed);
    anything at all that fails quarantines it with the error, never drops it."""
    raw = RawSubmission("email", EMAIL_CONTENT_TYPE, message, "stored")
    try:
        if parsed is None:
            parsed = parse_email(message)
        if isinstance(parsed, NotAComplaint):
            return await _set_aside(
                session_factory, clock, raw_id, received_at, "ignored", parsed.reason
            )
        check_attachment_sizes(parsed.attachments, policy.max_attachment_bytes)
        draft = await normalise(parsed)
        accepted, _created = await register_complaint(
            session_factory, clock, draft, raw, stored_raw_id=raw_id, policy=policy
        )
    except Exception as exc:  # anything at all: the message is kept, never dropped
        error = str(exc) if isinstance(exc, InvalidComplaint) else f"{type(exc).__name__}: {exc}"
        return await _set_aside(session_factory, clock, raw_id, received_at, "quarantined", error)
    return SubmissionRead(
        submission_id=raw_id,
        status=accepted.status,
        complaint_id=accepted.complaint_id,
        reference=accepted.reference,
        received_at=accepted.received_at,
    )


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
