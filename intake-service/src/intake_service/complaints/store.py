"""SQL of complaints: raw submissions, complaints, customer messages, attachments and
idempotency keys. Every function takes the caller's session (the caller owns the transaction)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from redress_shared.db import OUTBOX_WRITTEN
from redress_shared.events import EventEnvelope
from redress_shared.observability import correlation_id_var
from sqlalchemy import ColumnElement, Row, bindparam, case, func, literal, select, true
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from intake_service import tables
from intake_service.complaints.model import (
    AttachmentFile,
    Complaint,
    IdempotencyClaim,
    RawSubmission,
)
from intake_service.complaints.schemas import ComplaintAccepted


async def take_customer_turn(session: AsyncSession, customer_key: str) -> None:
    """Wait for the customer's other submissions in flight (a transaction-scoped advisory
    lock on the customer key): two deliveries of the same text cannot both pass the
    fingerprint check, while different customers do not wait for each other."""
    await session.execute(
        select(func.pg_advisory_xact_lock(func.hashtextextended(customer_key, 0)))
    )


async def insert_raw(
    session: AsyncSession,
    raw: RawSubmission,
    received_at: datetime,
    status: str,
    complaint_id: uuid.UUID | None = None,
    raw_id: uuid.UUID | None = None,
    attempts: int = 1,
) -> uuid.UUID:
    """Store ``raw`` exactly as it arrived, with what became of it so far; its id."""
    raw_id = raw_id or uuid.uuid4()
    values = _raw_values(raw, raw_id, received_at, status, complaint_id, attempts)
    await session.execute(tables.raw_submissions.insert().values(**values))
    return raw_id


def _raw_values(
    raw: RawSubmission,
    raw_id: uuid.UUID,
    received_at: datetime,
    status: str,
    complaint_id: uuid.UUID | None,
    attempts: int,
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "id": raw_id,
        "channel": raw.channel,
        "content_type": raw.content_type,
        "payload": raw.payload,
        "received_at": received_at,
        "submitted_by": raw.submitted_by,
        "status": status,
        "complaint_id": complaint_id,
    }
    if attempts:
        values["attempts"] = attempts
    return values


async def delete_unsettled_raw(session: AsyncSession, raw_id: uuid.UUID) -> None:
    """Delete the raw submission ``raw_id`` stored moments ago and refused since (an
    attachment over the limit): a refused message leaves nothing behind."""
    raws = tables.raw_submissions
    await session.execute(raws.delete().where(raws.c.id == raw_id, raws.c.status == "received"))


async def settle_raw(
    session: AsyncSession,
    now: datetime,
    raw_id: uuid.UUID,
    status: str,
    complaint_id: uuid.UUID | None = None,
    error: str | None = None,
) -> None:
    """Record what normalising the stored raw submission ``raw_id`` came to (one attempt more)."""
    raws = tables.raw_submissions
    await session.execute(
        raws.update()
        .where(raws.c.id == raw_id)
        .values(
            status=status,
            complaint_id=complaint_id,
            error=error,
            attempts=raws.c.attempts + 1,
            updated_at=now,
        )
    )


async def claim_idempotency_key(
    session: AsyncSession, claim: IdempotencyClaim, complaint_id: uuid.UUID
) -> Row | None:
    """Claim ``claim``'s key for ``complaint_id``; None when claimed now, else the earlier
    claim (``request_hash``, ``complaint_id``). A concurrent request with the same key waits
    here until this transaction ends."""
    keys = tables.idempotency_keys
    claimed = await session.scalar(
        insert(keys)
        .values(
            client=claim.client,
            key=claim.key,
            request_hash=claim.request_hash,
            complaint_id=complaint_id,
        )
        .on_conflict_do_nothing()
        .returning(keys.c.complaint_id)
    )
    if claimed is not None:
        return None
    return (
        await session.execute(
            select(keys.c.request_hash, keys.c.complaint_id).where(
                keys.c.client == claim.client, keys.c.key == claim.key
            )
        )
    ).one()


async def find_duplicate(
    session: AsyncSession, condition: ColumnElement[bool]
) -> ComplaintAccepted | None:
    """The complaint matching ``condition``, answered as the ``duplicate`` it was repeated by."""
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


def with_id(complaint_id: uuid.UUID) -> ColumnElement[bool]:
    """The complaint ``complaint_id``."""
    return tables.complaints.c.id == complaint_id


def with_channel_id(channel: str, channel_message_id: str) -> ColumnElement[bool]:
    """The complaint that arrived, or was later answered by a customer message, under this
    channel-native id."""
    complaints, messages = tables.complaints, tables.complaint_messages
    repeated_reply = (
        select(messages.c.complaint_id)
        .where(messages.c.channel == channel, messages.c.channel_message_id == channel_message_id)
        .scalar_subquery()
    )
    return (
        (complaints.c.channel == channel) & (complaints.c.channel_message_id == channel_message_id)
    ) | (complaints.c.id == repeated_reply)


def with_content(customer_key: Any, fingerprint: Any, since: Any) -> ColumnElement[bool]:
    """The customer's complaint with the same content fingerprint received since ``since``."""
    complaints = tables.complaints
    return (
        (complaints.c.customer_key == customer_key)
        & (complaints.c.content_fingerprint == fingerprint)
        & (complaints.c.received_at >= since)
    )


def _duplicate_or_number() -> Any:
    complaints = tables.complaints
    earlier = (
        select(complaints.c.id, complaints.c.reference, complaints.c.received_at)
        .where(
            with_content(
                bindparam("customer_key", type_=complaints.c.customer_key.type),
                bindparam("fingerprint", type_=complaints.c.content_fingerprint.type),
                bindparam("since", type_=complaints.c.received_at.type),
            )
        )
        .limit(1)
        .lateral("earlier")
    )
    one = select(literal(1).label("one")).subquery("one")
    number = case((earlier.c.id.is_(None), tables.reference_sequence.next_value()))
    return select(earlier.c.id, earlier.c.reference, earlier.c.received_at, number).select_from(
        one.outerjoin(earlier, true())
    )


_DUPLICATE_OR_NUMBER = _duplicate_or_number()  # built once, bound per request


async def find_duplicate_or_number(
    session: AsyncSession, customer_key: str, fingerprint: str, since: datetime
) -> tuple[ComplaintAccepted | None, int | None]:
    """:func:`find_duplicate` of :func:`with_content` and, only when there is none,
    :func:`next_reference_number`, in one round trip: the earlier complaint (or None) and
    the new number (or None)."""
    params = {"customer_key": customer_key, "fingerprint": fingerprint, "since": since}
    row = (await session.execute(_DUPLICATE_OR_NUMBER, params)).one()
    if row[0] is None:
        return None, row[3]
    return ComplaintAccepted(
        complaint_id=row[0], reference=row[1], status="duplicate", received_at=row[2]
    ), None


async def next_reference_number(session: AsyncSession) -> int:
    """The next number of the human references (``RDR-YYYY-<number>``)."""
    return await session.scalar(tables.reference_sequence.next_value())  # type: ignore[return-value]


async def insert_complaint(session: AsyncSession, complaint: Complaint, raw_id: uuid.UUID) -> None:
    """Store the registered ``complaint`` made of raw submission ``raw_id``."""
    await session.execute(tables.complaints.insert().values(**_complaint_values(complaint, raw_id)))


def _complaint_values(complaint: Complaint, raw_id: uuid.UUID) -> dict[str, Any]:
    draft = complaint.draft
    return dict(
        id=complaint.id,
        reference=complaint.reference,
        raw_submission_id=raw_id,
        channel=draft.channel,
        channel_message_id=draft.channel_message_id,
        received_at=complaint.received_at,
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


def _bound_insert(table: Any, prefix: str, columns: tuple[str, ...]) -> Any:
    return table.insert().values(
        {name: bindparam(prefix + name, type_=table.c[name].type) for name in columns}
    )


_RAW_COLUMNS = (
    "id",
    "channel",
    "content_type",
    "payload",
    "received_at",
    "submitted_by",
    "status",
    "complaint_id",
    "attempts",
)
_COMPLAINT_COLUMNS = (
    "id",
    "reference",
    "raw_submission_id",
    "channel",
    "channel_message_id",
    "received_at",
    "customer_key",
    "customer",
    "subject",
    "body",
    "language",
    "category",
    "product",
    "supplier",
    "order_ref",
    "priority_hint",
    "reputation_sensitive",
    "context",
    "classification",
    "content_fingerprint",
)
_OUTBOX_COLUMNS = ("event_id", "topic", "message_key", "event")
# Built once: SQLAlchemy compiles it once, and each request only binds its values (building
# the statement with literal values cost more CPU than the database spent on it).
_REGISTRATION = _bound_insert(tables.platform.outbox, "o_", _OUTBOX_COLUMNS).add_cte(
    _bound_insert(tables.raw_submissions, "r_", _RAW_COLUMNS).cte("raw_row"),
    _bound_insert(tables.complaints, "c_", _COMPLAINT_COLUMNS).cte("complaint_row"),
)


async def insert_registration(
    session: AsyncSession,
    raw: RawSubmission,
    received_at: datetime,
    complaint: Complaint,
    event: EventEnvelope,
    topic: str,
) -> uuid.UUID:
    """Store ``raw`` (accepted as ``complaint``), the ``complaint`` and its ``event`` in the
    outbox in one statement (one round trip: the three inserts are CTEs of one INSERT; the
    foreign key from the complaint to its raw submission is checked at the statement's end).
    Same rows as :func:`insert_raw`, :func:`insert_complaint` and ``add_to_outbox``; the
    commit wakes the relay as ``add_to_outbox`` does. The raw submission's id."""
    raw_id = uuid.uuid4()
    if event.correlation_id is None:
        event = event.model_copy(update={"correlation_id": correlation_id_var.get()})
    raw_values = _raw_values(raw, raw_id, received_at, "accepted", complaint.id, 1)
    complaint_values = _complaint_values(complaint, raw_id)
    params = {f"r_{name}": raw_values[name] for name in _RAW_COLUMNS}
    params.update({f"c_{name}": complaint_values[name] for name in _COMPLAINT_COLUMNS})
    params.update(
        o_event_id=event.id,
        o_topic=topic,
        o_message_key=event.key,
        o_event=event.model_dump(mode="json"),
    )
    await session.execute(_REGISTRATION, params)
    session.info[OUTBOX_WRITTEN] = True
    return raw_id


async def insert_message(session: AsyncSession, **values: Any) -> None:
    """Store a customer's later message about a complaint (columns of ``complaint_messages``)."""
    await session.execute(tables.complaint_messages.insert().values(**values))


async def store_attachments(
    session: AsyncSession,
    now: datetime,
    complaint_id: uuid.UUID,
    attachments: tuple[AttachmentFile, ...],
    context: dict | None,
    message_id: uuid.UUID | None = None,
) -> dict:
    """Store the bytes once per sha256 and one row per attachment of the complaint (or of its
    customer message ``message_id``), stored before them since the rows point at it; then
    record them, with each attachment's id (for ``GET .../attachments/{id}``), in that
    complaint's or message's context. The new context."""
    documents = []
    for position, attachment in enumerate(attachments):
        attachment_id = uuid.uuid4()
        await session.execute(
            insert(tables.attachment_contents)
            .values(
                sha256=attachment.sha256,
                content=attachment.content,
                size=attachment.size,
                stored_at=now,
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
    context = {**(context or {}), "attachments": documents}
    owner = tables.complaint_messages if message_id is not None else tables.complaints
    await session.execute(
        owner.update()
        .where(owner.c.id == (message_id if message_id is not None else complaint_id))
        .values(context=context)
    )
    return context


async def get_complaint(session: AsyncSession, complaint_id: uuid.UUID) -> Row | None:
    """One complaint row, or None."""
    complaints = tables.complaints
    return (
        await session.execute(select(complaints).where(complaints.c.id == complaint_id))
    ).first()


async def complaint_exists(session: AsyncSession, complaint_id: uuid.UUID) -> bool:
    """Whether complaint ``complaint_id`` is registered."""
    complaints = tables.complaints
    found = await session.scalar(select(complaints.c.id).where(complaints.c.id == complaint_id))
    return found is not None


async def list_messages(session: AsyncSession, complaint_id: uuid.UUID) -> list[Row]:
    """The customer messages attached to complaint ``complaint_id``, oldest first."""
    messages = tables.complaint_messages
    return list(
        (
            await session.execute(
                select(messages)
                .where(messages.c.complaint_id == complaint_id)
                .order_by(messages.c.received_at, messages.c.id)
            )
        ).all()
    )


async def get_attachment(
    session: AsyncSession, complaint_id: uuid.UUID, attachment_id: uuid.UUID
) -> Row | None:
    """One attachment of a complaint with its bytes, or None."""
    attachments, contents = tables.attachments, tables.attachment_contents
    return (
        await session.execute(
            select(
                attachments.c.filename,
                attachments.c.content_type,
                attachments.c.sha256,
                contents.c.content,
            )
            .join(contents, contents.c.sha256 == attachments.c.sha256)
            .where(attachments.c.id == attachment_id, attachments.c.complaint_id == complaint_id)
        )
    ).first()
