"""Intake use cases. Each runs in one transaction that stores the raw submission, the
normalised complaint and the ``complaint.received`` event in the outbox together."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from pydantic import BaseModel
from redress_shared.auth import Principal
from redress_shared.clock import Clock
from redress_shared.errors import NotFound, Problem
from redress_shared.events import (
    COMPLAINT_MESSAGE_RECEIVED,
    COMPLAINT_RECEIVED,
    COMPLAINTS_TOPIC,
    ComplaintMessageReceivedV1,
    ComplaintReceivedV1,
    CustomerContact,
    ProductRef,
    new_event,
)
from redress_shared.outbox import add_to_outbox
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from intake_service import tables
from intake_service.config import IntakePolicy
from intake_service.email_parsing import NotAComplaint, message_ids, parse_email
from intake_service.models import (
    AttachmentFile,
    Complaint,
    ComplaintDraft,
    InvalidComplaint,
    SocialIdentity,
    build_customer,
    check_attachment_sizes,
    normalise_phone,
    references_in,
    require_text,
)
from intake_service.normalise import enrich
from intake_service.schemas import (
    ChatCreate,
    ComplaintAccepted,
    ComplaintCreate,
    ComplaintDetails,
    PhoneCallCreate,
    QuarantinedSubmission,
    QuarantinePage,
    SocialPostCreate,
    SubmissionAnswer,
)

EVENT_SOURCE = "/redress/intake-service"
log = structlog.get_logger(__name__)
DEFAULT_POLICY = IntakePolicy()


@dataclass(frozen=True)
class RawSubmission:
    """Exactly what arrived, kept for audit and replay."""

    channel: str
    content_type: str
    payload: bytes
    submitted_by: str


@dataclass(frozen=True)
class IdempotencyClaim:
    """An ``Idempotency-Key`` scoped to the client that sent it, with the request's hash."""

    client: str
    key: str
    request_hash: str


def request_fingerprint(document: dict) -> str:
    """Hash of a request body independent of key order and whitespace."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def register_complaint(
    session_factory: async_sessionmaker[AsyncSession],
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
    raise Problem(
        409, "concurrent-submission", "The same complaint is being submitted concurrently"
    )


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
    # One customer's submissions take turns (a transaction-scoped advisory lock on the
    # customer key), so two deliveries of the same text cannot both pass the fingerprint
    # check; different customers do not wait for each other.
    await session.execute(
        select(func.pg_advisory_xact_lock(func.hashtextextended(draft.customer.key, 0)))
    )
    earlier = await _find_earlier(session, complaint_id, draft, idempotency)
    if earlier is None and draft.channel == "email":
        thread = await _thread_of(session, draft)
        if thread is not None:
            return await _attach_reply(session, clock, draft, raw, stored_raw_id, thread), False
    if earlier is None and policy.duplicate_window > timedelta(0):
        earlier = await _same_content(session, clock, draft, policy.duplicate_window)
    if earlier is not None:
        if stored_raw_id is not None:
            await _settle_raw(session, clock, stored_raw_id, "duplicate", earlier.complaint_id)
        return earlier, False
    accepted = await _insert_new(session, complaint_id, clock, draft, raw, stored_raw_id)
    return accepted, True


async def _same_content(
    session: AsyncSession, clock: Clock, draft: ComplaintDraft, window: timedelta
) -> ComplaintAccepted | None:
    complaints = tables.complaints
    return await _accepted(
        session,
        (complaints.c.customer_key == draft.customer.key)
        & (complaints.c.content_fingerprint == draft.fingerprint)
        & (complaints.c.received_at >= clock.now() - window),
    )


@dataclass(frozen=True)
class ThreadMatch:
    """The registered complaint an e-mail answers, and how it was recognised."""

    complaint_id: uuid.UUID
    reference: str
    customer_key: str
    matched_by: str


async def _thread_of(session: AsyncSession, draft: ComplaintDraft) -> ThreadMatch | None:
    """The complaint ``draft`` replies to: first by a Message-ID of the complaint's mail (or of
    an earlier reply) in In-Reply-To/References, then by a reference in the subject.

    A reference alone (they are sequential, so guessable) only counts when the sender is the
    complaint's customer; a Message-ID proves the sender saw the thread.
    """
    complaints, messages = tables.complaints, tables.complaint_messages
    columns = (complaints.c.id, complaints.c.reference, complaints.c.customer_key)
    if draft.replies_to:
        in_reply_to = set(message_ids((draft.context or {}).get("in_reply_to")))
        direct = (
            await session.execute(
                select(*columns, complaints.c.channel_message_id.label("matched")).where(
                    complaints.c.channel == "email",
                    complaints.c.channel_message_id.in_(draft.replies_to),
                )
            )
        ).all()
        via_reply = (
            await session.execute(
                select(*columns, messages.c.channel_message_id.label("matched"))
                .join(messages, messages.c.complaint_id == complaints.c.id)
                .where(
                    messages.c.channel == "email",
                    messages.c.channel_message_id.in_(draft.replies_to),
                )
            )
        ).all()
        found = {row.matched: row for row in (*direct, *via_reply)}
        for candidate in draft.replies_to:  # In-Reply-To first, then the newest reference
            row = found.get(candidate)
            if row is not None:
                how = "in_reply_to" if candidate in in_reply_to else "references"
                return ThreadMatch(row.id, row.reference, row.customer_key, how)
    quoted = references_in(draft.subject)
    if quoted:
        row = (
            await session.execute(
                select(*columns)
                .where(
                    complaints.c.reference.in_(quoted),
                    complaints.c.customer_key == draft.customer.key,
                )
                .order_by(complaints.c.received_at.desc())
                .limit(1)
            )
        ).first()
        if row is not None:
            return ThreadMatch(row.id, row.reference, row.customer_key, "reference")
    return None


async def _store_raw(
    session: AsyncSession,
    raw: RawSubmission,
    received_at: datetime,
    status: str,
    complaint_id: uuid.UUID,
) -> uuid.UUID:
    raw_id = uuid.uuid4()
    await session.execute(
        tables.raw_submissions.insert().values(
            id=raw_id,
            channel=raw.channel,
            content_type=raw.content_type,
            payload=raw.payload,
            received_at=received_at,
            submitted_by=raw.submitted_by,
            status=status,
            complaint_id=complaint_id,
            attempts=1,
        )
    )
    return raw_id


async def _attach_reply(
    session: AsyncSession,
    clock: Clock,
    draft: ComplaintDraft,
    raw: RawSubmission,
    stored_raw_id: uuid.UUID | None,
    thread: ThreadMatch,
) -> ComplaintAccepted:
    """Record ``draft`` as the customer's new message on ``thread``'s complaint and publish
    ``complaint.message_received`` (keyed by the complaint's customer, so it follows the
    complaint's own event in order)."""
    received_at = clock.now()
    message_id = uuid.uuid4()
    if stored_raw_id is None:
        raw_id = await _store_raw(session, raw, received_at, "attached", thread.complaint_id)
    else:
        raw_id = stored_raw_id
        await _settle_raw(session, clock, raw_id, "attached", thread.complaint_id)
    body = draft.reply_text or draft.body
    language = draft.reply_language or draft.language
    context = dict(draft.context or {})
    await session.execute(
        tables.complaint_messages.insert().values(
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
    )
    if draft.attachments:
        context["attachments"] = await _store_attachments(
            session, clock, thread.complaint_id, draft.attachments, message_id
        )
        await session.execute(
            tables.complaint_messages.update()
            .where(tables.complaint_messages.c.id == message_id)
            .values(context=context)
        )
    customer = draft.customer
    payload = ComplaintMessageReceivedV1(
        complaint_id=thread.complaint_id,
        reference=thread.reference,
        message_id=message_id,
        received_at=received_at,
        channel=draft.channel,  # type: ignore[arg-type]
        channel_message_id=draft.channel_message_id,
        customer=CustomerContact(
            customer_key=thread.customer_key,
            name=customer.name,
            email=customer.email,
            phone=customer.phone,
            language=customer.language,
        ),
        subject=draft.subject,
        body=body,
        language=language,
        matched_by=thread.matched_by,  # type: ignore[arg-type]
    )
    await add_to_outbox(
        session,
        tables.platform,
        COMPLAINTS_TOPIC,
        new_event(
            source=EVENT_SOURCE,
            type=COMPLAINT_MESSAGE_RECEIVED,
            key=thread.customer_key,
            subject=str(thread.complaint_id),
            payload=payload,
            time=received_at,
        ),
    )
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


async def _store_attachments(
    session: AsyncSession,
    clock: Clock,
    complaint_id: uuid.UUID,
    attachments: tuple[AttachmentFile, ...],
    message_id: uuid.UUID | None = None,
) -> list[dict]:
    """Store the bytes once per sha256 and one row per attachment; the context entries
    (with each attachment's id, for ``GET .../attachments/{id}``)."""
    documents = []
    for position, attachment in enumerate(attachments):
        attachment_id = uuid.uuid4()
        await session.execute(
            insert(tables.attachment_contents)
            .values(
                sha256=attachment.sha256,
                content=attachment.content,
                size=attachment.size,
                stored_at=clock.now(),
            )
            .on_conflict_do_nothing(index_elements=["sha256"])
        )
        await session.execute(
            tables.attachments.insert().values(
                id=attachment_id,
                complaint_id=complaint_id,
                message_id=message_id,
                sha256=attachment.sha256,
                filename=attachment.filename,
                content_type=attachment.content_type,
                size=attachment.size,
                position=position,
            )
        )
        documents.append({"id": str(attachment_id), **attachment.document()})
    return documents


async def _settle_raw(
    session: AsyncSession,
    clock: Clock,
    raw_id: uuid.UUID,
    status: str,
    complaint_id: uuid.UUID | None = None,
    error: str | None = None,
) -> None:
    raws = tables.raw_submissions
    await session.execute(
        raws.update()
        .where(raws.c.id == raw_id)
        .values(
            status=status,
            complaint_id=complaint_id,
            error=error,
            attempts=raws.c.attempts + 1,
            updated_at=clock.now(),
        )
    )


async def _find_earlier(
    session: AsyncSession,
    complaint_id: uuid.UUID,
    draft: ComplaintDraft,
    idempotency: IdempotencyClaim | None,
) -> ComplaintAccepted | None:
    complaints = tables.complaints
    if idempotency is not None:
        keys = tables.idempotency_keys
        # Claim first: a concurrent request with the same key waits here until we commit.
        claimed = await session.scalar(
            insert(keys)
            .values(
                client=idempotency.client,
                key=idempotency.key,
                request_hash=idempotency.request_hash,
                complaint_id=complaint_id,
            )
            .on_conflict_do_nothing()
            .returning(keys.c.complaint_id)
        )
        if claimed is None:
            stored = (
                await session.execute(
                    select(keys.c.request_hash, keys.c.complaint_id).where(
                        keys.c.client == idempotency.client, keys.c.key == idempotency.key
                    )
                )
            ).one()
            if stored.request_hash != idempotency.request_hash:
                raise Problem(
                    422,
                    "idempotency-key-reused",
                    "Idempotency-Key reused with a different request",
                    "This Idempotency-Key was first used with another request body; "
                    "use a new key for a new complaint.",
                )
            return await _accepted(session, complaints.c.id == stored.complaint_id)
    if draft.channel_message_id is not None:
        messages = tables.complaint_messages
        repeated_reply = (
            select(messages.c.complaint_id)
            .where(
                messages.c.channel == draft.channel,
                messages.c.channel_message_id == draft.channel_message_id,
            )
            .scalar_subquery()
        )
        return await _accepted(
            session,
            (
                (complaints.c.channel == draft.channel)
                & (complaints.c.channel_message_id == draft.channel_message_id)
            )
            | (complaints.c.id == repeated_reply),
        )
    return None


async def _accepted(session: AsyncSession, condition) -> ComplaintAccepted | None:  # noqa: ANN001
    complaints = tables.complaints
    row = (
        await session.execute(
            select(complaints.c.id, complaints.c.reference, complaints.c.received_at).where(
                condition
            )
        )
    ).first()
    if row is None:
        return None
    return ComplaintAccepted(
        complaint_id=row.id,
        reference=row.reference,
        status="duplicate",
        received_at=row.received_at,
    )


async def _insert_new(
    session: AsyncSession,
    complaint_id: uuid.UUID,
    clock: Clock,
    draft: ComplaintDraft,
    raw: RawSubmission,
    stored_raw_id: uuid.UUID | None,
) -> ComplaintAccepted:
    received_at = clock.now()
    number = await session.scalar(tables.reference_sequence.next_value())
    if stored_raw_id is None:
        raw_id = await _store_raw(session, raw, received_at, "accepted", complaint_id)
    else:
        raw_id = stored_raw_id
        await _settle_raw(session, clock, raw_id, "accepted", complaint_id)
    complaint = draft.register(complaint_id, number, received_at)
    await session.execute(
        tables.complaints.insert().values(
            id=complaint.id,
            reference=complaint.reference,
            raw_submission_id=raw_id,
            channel=draft.channel,
            channel_message_id=draft.channel_message_id,
            received_at=received_at,
            customer_key=draft.customer.key,
            customer=draft.customer.document(),
            subject=draft.subject,
            body=draft.body,
            language=draft.language,
            category=draft.category,
            product=draft.product,
            supplier=draft.supplier,
            order_ref=draft.order_ref,
            priority_hint=draft.priority_hint,
            reputation_sensitive=draft.reputation_sensitive,
            context=draft.context,
            classification=draft.classification,
            content_fingerprint=draft.fingerprint,
        )
    )
    if draft.attachments:
        # The attachments point at the complaint row, so they come after it; the context
        # then gets each attachment's id.
        documents = await _store_attachments(session, clock, complaint_id, draft.attachments)
        draft = dataclasses.replace(
            draft, context={**(draft.context or {}), "attachments": documents}
        )
        complaint = dataclasses.replace(complaint, draft=draft)
        await session.execute(
            tables.complaints.update()
            .where(tables.complaints.c.id == complaint_id)
            .values(context=draft.context)
        )
    await add_to_outbox(
        session, tables.platform, COMPLAINTS_TOPIC, complaint_received_event(complaint)
    )
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


def complaint_received_event(complaint: Complaint):  # noqa: ANN201
    """The ``redress.complaint.received.v1`` event of a registered complaint."""
    draft = complaint.draft
    customer = draft.customer
    payload = ComplaintReceivedV1(
        complaint_id=complaint.id,
        reference=complaint.reference,
        received_at=complaint.received_at,
        channel=draft.channel,  # type: ignore[arg-type]
        channel_message_id=draft.channel_message_id,
        customer=CustomerContact(
            customer_key=customer.key,
            name=customer.name,
            email=customer.email,
            phone=customer.phone,
            language=customer.language,
        ),
        subject=draft.subject,
        body=draft.body,
        language=draft.language,
        category=draft.category,
        product=ProductRef(**draft.product) if draft.product else None,
        supplier=draft.supplier,
        order_ref=draft.order_ref,
        priority_hint=draft.priority_hint,  # type: ignore[arg-type]
        reputation_sensitive=draft.reputation_sensitive,
        context=draft.context,
    )
    return new_event(
        source=EVENT_SOURCE,
        type=COMPLAINT_RECEIVED,
        key=customer.key,
        subject=str(complaint.id),
        payload=payload,
        time=complaint.received_at,
    )


async def get_complaint(session_factory: async_sessionmaker[AsyncSession], complaint_id: uuid.UUID):  # noqa: ANN201
    """One complaint row, or None."""
    async with session_factory() as session:
        return (
            await session.execute(
                select(tables.complaints).where(tables.complaints.c.id == complaint_id)
            )
        ).first()


async def customer_messages(
    session_factory: async_sessionmaker[AsyncSession], complaint_id: uuid.UUID
):  # noqa: ANN201
    """The customer messages attached to a complaint, oldest first; None if no complaint."""
    messages = tables.complaint_messages
    async with session_factory() as session:
        known = await session.scalar(
            select(tables.complaints.c.id).where(tables.complaints.c.id == complaint_id)
        )
        if known is None:
            return None
        return (
            await session.execute(
                select(messages)
                .where(messages.c.complaint_id == complaint_id)
                .order_by(messages.c.received_at, messages.c.id)
            )
        ).all()


async def get_attachment(
    session_factory: async_sessionmaker[AsyncSession],
    complaint_id: uuid.UUID,
    attachment_id: uuid.UUID,
):  # noqa: ANN201
    """One attachment of a complaint with its bytes, or None."""
    attachments, contents = tables.attachments, tables.attachment_contents
    async with session_factory() as session:
        return (
            await session.execute(
                select(
                    attachments.c.filename,
                    attachments.c.content_type,
                    attachments.c.sha256,
                    contents.c.content,
                )
                .join(contents, contents.c.sha256 == attachments.c.sha256)
                .where(
                    attachments.c.id == attachment_id, attachments.c.complaint_id == complaint_id
                )
            )
        ).first()


def _invalid(exc: InvalidComplaint) -> Problem:
    return Problem(
        422, "invalid-complaint", "The complaint is not valid", str(exc), field=exc.field
    )


async def _enriched(draft: ComplaintDraft, extra_text: str | None = None) -> ComplaintDraft:
    # Language detection is CPU work (and loads models on first use): keep it off the loop.
    return await asyncio.to_thread(enrich, draft, extra_text)


def _claim(client: Principal, key: str | None, request: BaseModel) -> IdempotencyClaim | None:
    if key is None:
        return None
    return IdempotencyClaim(
        client=str(client.key_id),
        key=key,
        request_hash=request_fingerprint(request.model_dump(mode="json")),
    )


def _details(request: ComplaintDetails) -> dict:
    return {
        "subject": request.subject,
        "category": request.category,
        "product": request.product.model_dump(exclude_none=True) if request.product else None,
        "supplier": request.supplier,
        "order_ref": request.order_ref,
    }


async def submit_api_complaint(
    session_factory: async_sessionmaker[AsyncSession],
    clock: Clock,
    request: ComplaintCreate,
    raw_body: bytes,
    client: Principal,
    idempotency_key: str | None,
    policy: IntakePolicy = DEFAULT_POLICY,
) -> tuple[ComplaintAccepted, bool]:
    """Register a complaint posted as JSON to ``POST /v1/complaints``."""
    try:
        customer = build_customer(
            name=request.customer.name,
            email=request.customer.email,
            phone=request.customer.phone,
            language=request.customer.language,
        )
    except InvalidComplaint as exc:
        raise _invalid(exc) from exc
    draft = ComplaintDraft(
        channel="api",
        customer=customer,
        body=request.body,
        subject=request.subject,
        channel_message_id=request.external_id,
        category=request.category,
        product=request.product.model_dump(exclude_none=True) if request.product else None,
        supplier=request.supplier,
        order_ref=request.order_ref,
    )
    raw = RawSubmission(
        channel="api", content_type="application/json", payload=raw_body, submitted_by=client.name
    )
    claim = _claim(client, idempotency_key, request)
    return await register_complaint(
        session_factory, clock, await _enriched(draft), raw, claim, policy=policy
    )


async def submit_phone_call(
    session_factory: async_sessionmaker[AsyncSession],
    clock: Clock,
    call: PhoneCallCreate,
    raw_body: bytes,
    client: Principal,
    idempotency_key: str | None,
    policy: IntakePolicy = DEFAULT_POLICY,
) -> tuple[ComplaintAccepted, bool]:
    """Register a phone call at once (no written confirmation awaited); the call id dedupes.

    The complaint text is the transcript when there is one (the customer's words), else the
    agent's notes; the notes, IVR path and recording stay in the context.
    """
    caller = call.caller
    try:
        customer = build_customer(
            name=caller.name if caller else None,
            email=caller.email if caller else None,
            phone=call.caller_number,
            language=caller.language if caller else None,
            phone_region=call.default_region,
            phone_field="caller_number",
        )
        called_line = normalise_phone(call.called_line, call.default_region, "called_line")
        body = require_text(call.transcript or call.agent_notes, "transcript")
    except InvalidComplaint as exc:
        raise _invalid(exc) from exc
    context = {
        "call_id": call.call_id,
        "called_line": called_line,
        "started_at": call.started_at.isoformat(),
        "duration_seconds": call.duration_seconds,
        "agent": call.agent,
        "ivr_selections": call.ivr_selections,
        "agent_notes": call.agent_notes if call.transcript else None,
        "recording_url": str(call.recording_url) if call.recording_url else None,
    }
    draft = ComplaintDraft(
        channel="phone",
        customer=customer,
        body=body,
        channel_message_id=call.call_id,
        context={k: v for k, v in context.items() if v not in (None, [])},
        **_details(call),
    )
    raw = RawSubmission("phone", "application/json", raw_body, client.name)
    claim = _claim(client, idempotency_key, call)
    enriched = await _enriched(draft, call.agent_notes if call.transcript else None)
    return await register_complaint(session_factory, clock, enriched, raw, claim, policy=policy)


async def submit_chat(
    session_factory: async_sessionmaker[AsyncSession],
    clock: Clock,
    chat: ChatCreate,
    raw_body: bytes,
    client: Principal,
    idempotency_key: str | None,
    policy: IntakePolicy = DEFAULT_POLICY,
) -> tuple[ComplaintAccepted, bool]:
    """Register a chat conversation; the chat id dedupes.

    Messages are put in time order (stable, so equal timestamps keep the sender's order);
    the customer's lines make the complaint text, the whole conversation is the context.
    """
    customer_in = next(p for p in chat.participants if p.role == "customer")
    try:
        customer = build_customer(
            name=customer_in.name,
            email=customer_in.email,
            phone=customer_in.phone,
            language=customer_in.language,
            phone_field="participants.phone",
        )
    except InvalidComplaint as exc:
        raise _invalid(exc) from exc
    roles = {p.id: p for p in chat.participants}
    ordered = sorted(chat.messages, key=lambda m: m.sent_at)
    body = "\n".join(
        m.text.strip() for m in ordered if m.participant_id == customer_in.id and m.text.strip()
    )
    transcript = [
        {
            "role": roles[m.participant_id].role,
            "name": roles[m.participant_id].name,
            "sent_at": m.sent_at.isoformat(),
            "text": m.text,
        }
        for m in ordered
    ]
    draft = ComplaintDraft(
        channel="chat",
        customer=customer,
        body=body,
        channel_message_id=chat.chat_id,
        context={"chat_id": chat.chat_id, "transcript": transcript},
        **_details(chat),
    )
    raw = RawSubmission("chat", "application/json", raw_body, client.name)
    claim = _claim(client, idempotency_key, chat)
    return await register_complaint(
        session_factory, clock, await _enriched(draft), raw, claim, policy=policy
    )


async def submit_social_post(
    session_factory: async_sessionmaker[AsyncSession],
    clock: Clock,
    post: SocialPostCreate,
    raw_body: bytes,
    client: Principal,
    idempotency_key: str | None,
    policy: IntakePolicy = DEFAULT_POLICY,
) -> tuple[ComplaintAccepted, bool]:
    """Register a social-media post or private message; platform + post id dedupes.

    The author's handle on the platform is a customer identity of its own; a public post is
    flagged reputation-sensitive (others read it, so the answer is urgent in practice).
    """
    author = post.author
    try:
        social = SocialIdentity.of(post.platform, author.handle)
        customer = build_customer(
            name=author.display_name,
            email=author.email,
            phone=author.phone,
            language=author.language,
            social=social,
            phone_field="author.phone",
        )
    except InvalidComplaint as exc:
        raise _invalid(exc) from exc
    context = {
        "platform": post.platform,
        "post_id": post.post_id,
        "handle": social.handle,
        "visibility": post.visibility,
        "url": str(post.url) if post.url else None,
        "in_reply_to": post.in_reply_to,
        "posted_at": post.posted_at.isoformat() if post.posted_at else None,
    }
    draft = ComplaintDraft(
        channel="social",
        customer=customer,
        body=post.text,
        # Post ids are unique per platform only.
        channel_message_id=f"{post.platform}:{post.post_id}",
        reputation_sensitive=post.visibility == "public",
        context={k: v for k, v in context.items() if v is not None},
        **_details(post),
    )
    raw = RawSubmission("social", "application/json", raw_body, client.name)
    claim = _claim(client, idempotency_key, post)
    return await register_complaint(
        session_factory, clock, await _enriched(draft), raw, claim, policy=policy
    )


# E-mail: store first, then normalise; failures go to quarantine -----------------------------


async def receive_email(
    session_factory: async_sessionmaker[AsyncSession],
    clock: Clock,
    message: bytes,
    submitted_by: str,
    policy: IntakePolicy = DEFAULT_POLICY,
) -> SubmissionAnswer:
    """Take a raw e-mail (HTTP or SMTP): commit it first, in its own transaction, so nothing
    accepted can be lost; then normalise and register it. A message that cannot be
    normalised is quarantined with the error; an automatic one is recorded as ignored.

    Raises AttachmentTooLarge, before anything is written, when an attachment exceeds
    ``policy.max_attachment_bytes``: such a message is refused, not accepted.
    """
    try:
        parsed: ComplaintDraft | NotAComplaint | None = parse_email(message)
    except Exception:  # normalisation fails again below, after the message is stored
        parsed = None
    if isinstance(parsed, ComplaintDraft):
        check_attachment_sizes(parsed.attachments, policy.max_attachment_bytes)
    raw_id = uuid.uuid4()
    received_at = clock.now()
    async with session_factory() as session, session.begin():
        await session.execute(
            tables.raw_submissions.insert().values(
                id=raw_id,
                channel="email",
                content_type="message/rfc822",
                payload=message,
                received_at=received_at,
                submitted_by=submitted_by,
                status="received",
            )
        )
    return await _normalise_stored(
        session_factory, clock, raw_id, message, received_at, policy, parsed
    )


async def _normalise_stored(
    session_factory: async_sessionmaker[AsyncSession],
    clock: Clock,
    raw_id: uuid.UUID,
    message: bytes,
    received_at: datetime,
    policy: IntakePolicy,
    parsed: ComplaintDraft | NotAComplaint | None = None,
) -> SubmissionAnswer:
    raw = RawSubmission("email", "message/rfc822", message, "stored")
    try:
        if parsed is None:
            parsed = parse_email(message)
        if isinstance(parsed, NotAComplaint):
            async with session_factory() as session, session.begin():
                await _settle_raw(session, clock, raw_id, "ignored", error=parsed.reason)
            log.info("email_ignored", submission_id=str(raw_id), reason=parsed.reason)
            return SubmissionAnswer(
                submission_id=raw_id,
                status="ignored",
                received_at=received_at,
                reason=parsed.reason,
            )
        check_attachment_sizes(parsed.attachments, policy.max_attachment_bytes)
        draft = await _enriched(parsed)
        accepted, _created = await register_complaint(
            session_factory, clock, draft, raw, stored_raw_id=raw_id, policy=policy
        )
    except Exception as exc:  # anything at all: the message is kept, never dropped
        error = str(exc) if isinstance(exc, InvalidComplaint) else f"{type(exc).__name__}: {exc}"
        async with session_factory() as session, session.begin():
            await _settle_raw(session, clock, raw_id, "quarantined", error=error)
        log.warning("submission_quarantined", submission_id=str(raw_id), error=error)
        return SubmissionAnswer(
            submission_id=raw_id, status="quarantined", received_at=received_at, reason=error
        )
    return SubmissionAnswer(
        submission_id=raw_id,
        status=accepted.status,
        complaint_id=accepted.complaint_id,
        reference=accepted.reference,
        received_at=accepted.received_at,
    )


# A submission still "received" this long after its last change was stored but never
# normalised (the process died in between): it is listed and replayable like a quarantined
# one, so a crash cannot hide it.
STALLED_AFTER = timedelta(minutes=5)


def _replayable(now: datetime):  # noqa: ANN202
    raws = tables.raw_submissions
    stalled = (raws.c.status == "received") & (
        func.coalesce(raws.c.updated_at, raws.c.received_at) < now - STALLED_AFTER
    )
    return (raws.c.status == "quarantined") | stalled


async def list_quarantine(
    session_factory: async_sessionmaker[AsyncSession], clock: Clock, limit: int, offset: int
) -> QuarantinePage:
    """Quarantined (and stalled) raw submissions, oldest first."""
    raws = tables.raw_submissions
    where = _replayable(clock.now())
    async with session_factory() as session:
        total = await session.scalar(select(func.count()).select_from(raws).where(where))
        rows = (
            await session.execute(
                select(
                    raws.c.id,
                    raws.c.status,
                    raws.c.channel,
                    raws.c.content_type,
                    raws.c.received_at,
                    raws.c.submitted_by,
                    raws.c.error,
                    raws.c.attempts,
                    (raws.c.corrected_payload.is_not(None)).label("corrected"),
                    func.length(raws.c.payload).label("size_bytes"),
                )
                .where(where)
                .order_by(raws.c.received_at, raws.c.id)
                .limit(limit)
                .offset(offset)
            )
        ).all()
    return QuarantinePage(
        items=[QuarantinedSubmission.model_validate(row, from_attributes=True) for row in rows],
        total=total or 0,
    )


async def replay_quarantined(
    session_factory: async_sessionmaker[AsyncSession],
    clock: Clock,
    submission_id: uuid.UUID,
    corrected_message: bytes | None,
    policy: IntakePolicy = DEFAULT_POLICY,
) -> SubmissionAnswer:
    """Normalise a quarantined submission again (after a code fix, or with an operator's
    corrected message, which is stored beside the untouched original)."""
    raws = tables.raw_submissions
    async with session_factory() as session, session.begin():
        # The row lock makes concurrent replays of one submission take turns; the second
        # then finds it no longer quarantined.
        row = (
            await session.execute(
                select(
                    raws.c.status,
                    raws.c.payload,
                    raws.c.corrected_payload,
                    raws.c.received_at,
                    _replayable(clock.now()).label("replayable"),
                )
                .where(raws.c.id == submission_id)
                .with_for_update()
            )
        ).first()
        if row is None:
            raise NotFound("quarantined submission", submission_id)
        if not row.replayable:
            raise Problem(
                409,
                "not-quarantined",
                "The submission is not in quarantine",
                f"Its status is {row.status}; only quarantined (or stalled) submissions can "
                "be replayed.",
                status_now=row.status,
            )
        if corrected_message is not None:
            await session.execute(
                raws.update()
                .where(raws.c.id == submission_id)
                .values(corrected_payload=corrected_message)
            )
        message = (
            corrected_message if corrected_message is not None else row.corrected_payload
        ) or row.payload
        # Mark it as being worked on, inside the lock, so a concurrent replay sees it.
        await session.execute(
            raws.update()
            .where(raws.c.id == submission_id)
            .values(status="received", updated_at=clock.now())
        )
    answer = await _normalise_stored(
        session_factory, clock, submission_id, message, row.received_at, policy
    )
    if answer.status == "quarantined":
        raise Problem(
            422,
            "still-quarantined",
            "The submission still cannot be normalised",
            answer.reason,
            submission_id=str(submission_id),
        )
    return answer
