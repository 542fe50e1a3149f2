"""Intake use cases. Each runs in one transaction that stores the raw submission, the
normalised complaint and the ``complaint.received`` event in the outbox together."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime

import structlog
from redress_shared.auth import Principal
from redress_shared.clock import Clock
from redress_shared.errors import Problem
from redress_shared.events import (
    COMPLAINT_RECEIVED,
    COMPLAINTS_TOPIC,
    ComplaintReceivedV1,
    CustomerContact,
    ProductRef,
    new_event,
)
from redress_shared.outbox import add_to_outbox
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from intake_service import tables
from intake_service.models import (
    Complaint,
    ComplaintDraft,
    Customer,
    InvalidComplaint,
    build_customer,
)
from intake_service.schemas import ComplaintAccepted, ComplaintCreate

EVENT_SOURCE = "/redress/intake-service"
log = structlog.get_logger(__name__)


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
) -> tuple[ComplaintAccepted, bool]:
    """Register ``draft`` unless it repeats an earlier submission.

    Returns the answer and whether a new complaint was created. A repeat is recognised by
    the client's ``Idempotency-Key`` or by the channel-native id (``channel_message_id``).
    """
    for _attempt in range(3):
        try:
            complaint_id = uuid.uuid4()
            async with session_factory() as session, session.begin():
                earlier = await _find_earlier(session, complaint_id, draft, idempotency)
                if earlier is not None:
                    return earlier, False
                accepted = await _insert_new(session, complaint_id, clock.now(), draft, raw)
                return accepted, True
        except IntegrityError:
            # A concurrent submission of the same channel id won the race; the next
            # attempt finds it as the earlier one.
            continue
    raise Problem(
        409, "concurrent-submission", "The same complaint is being submitted concurrently"
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
        return await _accepted(
            session,
            (complaints.c.channel == draft.channel)
            & (complaints.c.channel_message_id == draft.channel_message_id),
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
    received_at: datetime,
    draft: ComplaintDraft,
    raw: RawSubmission,
) -> ComplaintAccepted:
    number = await session.scalar(tables.reference_sequence.next_value())
    complaint = draft.register(complaint_id, number, received_at)
    raw_id = uuid.uuid4()
    await session.execute(
        tables.raw_submissions.insert().values(
            id=raw_id,
            channel=raw.channel,
            content_type=raw.content_type,
            payload=raw.payload,
            received_at=received_at,
            submitted_by=raw.submitted_by,
            status="accepted",
        )
    )
    await session.execute(
        tables.complaints.insert().values(
            id=complaint.id,
            reference=complaint.reference,
            raw_submission_id=raw_id,
            channel=draft.channel,
            channel_message_id=draft.channel_message_id,
            received_at=received_at,
            customer_key=draft.customer.key,
            customer=_customer_document(draft.customer),
            subject=draft.subject,
            body=draft.body,
            language=draft.language,
            category=draft.category,
            product=draft.product,
            supplier=draft.supplier,
            order_ref=draft.order_ref,
        )
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


def _customer_document(customer: Customer) -> dict:
    return {
        "name": customer.name,
        "email": customer.email,
        "phone": customer.phone,
        "language": customer.language,
    }


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
        language=draft.language or customer.language,
        category=draft.category,
        product=ProductRef(**draft.product) if draft.product else None,
        supplier=draft.supplier,
        order_ref=draft.order_ref,
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


async def submit_api_complaint(
    session_factory: async_sessionmaker[AsyncSession],
    clock: Clock,
    request: ComplaintCreate,
    raw_body: bytes,
    client: Principal,
    idempotency_key: str | None,
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
        raise Problem(
            422, "invalid-complaint", "The complaint is not valid", str(exc), field=exc.field
        ) from exc
    draft = ComplaintDraft(
        channel="api",
        customer=customer,
        body=request.body,
        subject=request.subject,
        channel_message_id=request.external_id,
        language=customer.language,
        category=request.category,
        product=request.product.model_dump(exclude_none=True) if request.product else None,
        supplier=request.supplier,
        order_ref=request.order_ref,
    )
    raw = RawSubmission(
        channel="api", content_type="application/json", payload=raw_body, submitted_by=client.name
    )
    claim = None
    if idempotency_key is not None:
        claim = IdempotencyClaim(
            client=str(client.key_id),
            key=idempotency_key,
            request_hash=request_fingerprint(request.model_dump(mode="json")),
        )
    return await register_complaint(session_factory, clock, draft, raw, claim)
