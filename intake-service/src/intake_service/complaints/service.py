"""Complaint use cases: registering a normalised draft (or recognising it as a repeat, or as
a reply to a registered complaint) in one transaction with its raw submission and its event
in the outbox; and the reads of complaints, their customer messages and attachments."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime, timedelta

import structlog
from redress_shared.clock import Clock
from redress_shared.db import SessionFactory
from redress_shared.errors import NotFound
from redress_shared.events import COMPLAINTS_TOPIC
from redress_shared.outbox import add_to_outbox
from sqlalchemy import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from intake_service import tables
from intake_service.complaints import store
from intake_service.complaints.events import complaint_received_event, message_received_event
from intake_service.complaints.model import (
    Complaint,
    ComplaintDraft,
    ConcurrentSubmission,
    IdempotencyClaim,
    IdempotencyKeyReused,
    RawSubmission,
)
from intake_service.complaints.schemas import ComplaintAccepted
from intake_service.config import DEFAULT_POLICY, IntakePolicy
from intake_service.email.model import ThreadMatch
from intake_service.email.store import find_thread

log = structlog.get_logger(__name__)


async def register_complaint(
    session_factory: SessionFactory,
    clock: Clock,
    draft: ComplaintDraft,
    raw: RawSubmission,
    idempotency: IdempotencyClaim | None = None,
    stored_raw_id: uuid.UUID | None = None,
    policy: IntakePolicy = DEFAULT_POLICY,
) -> tuple[ComplaintAccepted, bool]:
    """Register ``draft`` unless it repeats an earlier submission.

    Returns the answer and whether a new complaint was created. A repeat is recognised by
    the client's ``Idempotency-Key``, by the channel-native id (``channel_message_id``) or
    by the content fingerprint (same customer, same text) within ``policy.duplicate_window``.
    An e-mail that answers a registered complaint (its reference in the subject, or a
    Message-ID of the complaint's thread in In-Reply-To/References) is attached to that
    complaint as a customer message instead (status ``attached``).
    ``stored_raw_id`` names a raw submission committed earlier (e-mail, replay); otherwise
    the raw submission is stored in this transaction.
    """
    for _attempt in range(3):
        try:
            async with session_factory() as session, session.begin():
                return await _register_in(
                    session, clock, draft, raw, idempotency, stored_raw_id, policy
                )
        except IntegrityError:
            # A concurrent submission of the same channel id won the race; the next
            # attempt finds it as the earlier one.
            continue
    raise ConcurrentSubmission()


async def _register_in(
    session: AsyncSession,
    clock: Clock,
    draft: ComplaintDraft,
    raw: RawSubmission,
    idempotency: IdempotencyClaim | None,
    stored_raw_id: uuid.UUID | None,
    policy: IntakePolicy,
) -> tuple[ComplaintAccepted, bool]:
    complaint_id = uuid.uuid4()
    await store.take_customer_turn(session, draft.customer.key)
    earlier = await _find_earlier(session, complaint_id, draft, idempotency)
    if earlier is None and draft.channel == "email":
        thread = await find_thread(session, draft)
        if thread is not None:
            return await _attach_reply(
                session, clock, draft, raw, stored_raw_id, thread, policy
            ), False
    number = None
    if earlier is None and policy.duplicate_window > timedelta(0):
        # The duplicate check and, when there is none, the new reference number: one trip.
        since = clock.now() - policy.duplicate_window
        earlier, number = await store.find_duplicate_or_number(
            session, draft.customer.key, draft.fingerprint, since
        )
    if earlier is not None:
        if stored_raw_id is not None:
            await store.settle_raw(
                session, clock.now(), stored_raw_id, "duplicate", earlier.complaint_id
            )
        return earlier, False
    accepted = await _insert_new(
        session, complaint_id, clock, draft, raw, stored_raw_id, policy, number
    )
    return accepted, True


async def _find_earlier(
    session: AsyncSession,
    complaint_id: uuid.UUID,
    draft: ComplaintDraft,
    idempotency: IdempotencyClaim | None,
) -> ComplaintAccepted | None:
    """The complaint this submission repeats by its idempotency key or channel-native id."""
    if idempotency is not None:
        # Claim first: a concurrent request with the same key waits until we commit.
        earlier_claim = await store.claim_idempotency_key(session, idempotency, complaint_id)
        if earlier_claim is not None:
            if earlier_claim.request_hash != idempotency.request_hash:
                raise IdempotencyKeyReused()
            return await store.find_duplicate(session, store.with_id(earlier_claim.complaint_id))
    if draft.channel_message_id is not None:
        return await store.find_duplicate(
            session, store.with_channel_id(draft.channel, draft.channel_message_id)
        )
    return None


async def _raw_of(
    session: AsyncSession,
    received_at: datetime,
    raw: RawSubmission,
    stored_raw_id: uuid.UUID | None,
    status: str,
    complaint_id: uuid.UUID,
) -> uuid.UUID:
    """The raw submission's id, stored now with ``status`` or, when stored earlier, settled."""
    if stored_raw_id is None:
        return await store.insert_raw(session, raw, received_at, status, complaint_id)
    await store.settle_raw(session, received_at, stored_raw_id, status, complaint_id)
    return stored_raw_id


async def _attach_reply(
    session: AsyncSession,
    clock: Clock,
    draft: ComplaintDraft,
    raw: RawSubmission,
    stored_raw_id: uuid.UUID | None,
    thread: ThreadMatch,
    policy: IntakePolicy,
) -> ComplaintAccepted:
    """Record ``draft`` as the customer's new message on ``thread``'s complaint and publish
    ``complaint.message_received``."""
    received_at = clock.now()
    message_id = uuid.uuid4()
    raw_id = await _raw_of(
        session, received_at, raw, stored_raw_id, "attached", thread.complaint_id
    )
    body = draft.reply_text or draft.body
    language = draft.reply_language or draft.language
    context = dict(draft.context or {})
    await store.insert_message(
        session,
        id=message_id,
        complaint_id=thread.complaint_id,
        raw_submission_id=raw_id,
        channel=draft.channel,
        channel_message_id=draft.channel_message_id,
        received_at=received_at,
        sender=draft.customer.document(),
        subject=draft.subject,
        body=body,
        language=language,
        matched_by=thread.matched_by,
        context=context,
    )
    if draft.attachments:
        await store.store_attachments(
            session, clock.now(), thread.complaint_id, draft.attachments, context, message_id
        )
    event = message_received_event(
        complaint_id=thread.complaint_id,
        reference=thread.reference,
        customer_key=thread.customer_key,
        matched_by=thread.matched_by,
        message_id=message_id,
        received_at=received_at,
        draft=draft,
        body=body,
        language=language,
        max_text_bytes=policy.max_event_text_bytes,
        max_event_bytes=policy.max_event_bytes,
    )
    await add_to_outbox(session, tables.platform, COMPLAINTS_TOPIC, event)
    log.info(
        "customer_message_attached",
        complaint_id=str(thread.complaint_id),
        reference=thread.reference,
        matched_by=thread.matched_by,
    )
    return ComplaintAccepted(
        complaint_id=thread.complaint_id,
        reference=thread.reference,
        status="attached",
        received_at=received_at,
    )


async def _insert_new(
    session: AsyncSession,
    complaint_id: uuid.UUID,
    clock: Clock,
    draft: ComplaintDraft,
    raw: RawSubmission,
    stored_raw_id: uuid.UUID | None,
    policy: IntakePolicy,
    number: int | None = None,
) -> ComplaintAccepted:
    received_at = clock.now()
    if number is None:
        number = await store.next_reference_number(session)
    complaint = draft.register(complaint_id, number, received_at)
    if stored_raw_id is None and not draft.attachments:
        # The hot path (JSON channels): raw submission, complaint and event in one trip.
        event = complaint_received_event(
            complaint, policy.max_event_text_bytes, policy.max_event_bytes
        )
        await store.insert_registration(
            session, raw, received_at, complaint, event, COMPLAINTS_TOPIC
        )
        return _accepted(complaint, draft, received_at)
    raw_id = await _raw_of(session, received_at, raw, stored_raw_id, "accepted", complaint_id)
    await store.insert_complaint(session, complaint, raw_id)
    if draft.attachments:
        # The event names each attachment's id, so it is built from the stored context.
        context = await store.store_attachments(
            session, clock.now(), complaint_id, draft.attachments, draft.context
        )
        complaint = dataclasses.replace(
            complaint, draft=dataclasses.replace(draft, context=context)
        )
    event = complaint_received_event(complaint, policy.max_event_text_bytes, policy.max_event_bytes)
    await add_to_outbox(session, tables.platform, COMPLAINTS_TOPIC, event)
    return _accepted(complaint, draft, received_at)


def _accepted(
    complaint: Complaint, draft: ComplaintDraft, received_at: datetime
) -> ComplaintAccepted:
    log.info(
        "complaint_registered",
        complaint_id=str(complaint.id),
        reference=complaint.reference,
        channel=draft.channel,
    )
    return ComplaintAccepted(
        complaint_id=complaint.id,
        reference=complaint.reference,
        status="accepted",
        received_at=received_at,
    )


# Reads ---------------------------------------------------------------------------------------


async def read_complaint(session_factory: SessionFactory, complaint_id: uuid.UUID) -> Row:
    """One complaint; NotFound when there is none."""
    async with session_factory() as session:
        row = await store.get_complaint(session, complaint_id)
    if row is None:
        raise NotFound("complaint", complaint_id)
    return row


async def list_customer_messages(
    session_factory: SessionFactory, complaint_id: uuid.UUID
) -> list[Row]:
    """The customer messages attached to a complaint, oldest first; NotFound without it."""
    async with session_factory() as session:
        if not await store.complaint_exists(session, complaint_id):
            raise NotFound("complaint", complaint_id)
        return await store.list_messages(session, complaint_id)


async def read_attachment(
    session_factory: SessionFactory, complaint_id: uuid.UUID, attachment_id: uuid.UUID
) -> Row:
    """One attachment of a complaint with its bytes; NotFound when there is none."""
    async with session_factory() as session:
        found = await store.get_attachment(session, complaint_id, attachment_id)
    if found is None:
        raise NotFound("attachment", attachment_id)
    return found
