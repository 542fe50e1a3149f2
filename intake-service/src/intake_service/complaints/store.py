"""SQL of complaints: raw submissions, complaints, customer messages, attachments and
idempotency keys. Every function takes the caller's session (the caller owns the transaction)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any, NamedTuple

from redress_shared.db import OUTBOX_WRITTEN, DriverTransaction, Prepared
from redress_shared.events import EventEnvelope
from sqlalchemy import ColumnElement, Row, Text, any_, bindparam, case, cast, func, select, true
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession

from intake_service import tables
from intake_service.complaints.model import (
    Complaint,
    IdempotencyClaim,
    RawSubmission,
)
from intake_service.complaints.schemas import ComplaintAccepted

Db = AsyncSession | DriverTransaction
"""Where the batch statements run: a session, or the driver's own transaction (the JSON
channels' group commit, :func:`redress_shared.db.driver_transaction`)."""


def _unnest(columns: dict[str, Any], ordinality: str | None = None) -> Any:
    """Rows made of parallel arrays, each bound as the parameter of its column's name:
    ``unnest($1, $2, ...) AS rows(name, ...)``; one statement for a whole batch."""
    arrays = [bindparam(name, type_=ARRAY(type_)) for name, type_ in columns.items()]
    return func.unnest(*arrays).table_valued(*columns, with_ordinality=ordinality).render_derived()


def _customer_turns() -> Any:
    keys = _unnest({"customer_key": Text()})
    lock_ids = (
        select(func.hashtextextended(keys.c.customer_key, 0).label("lock_id"))
        .distinct()
        .order_by("lock_id")
        .subquery("lock_ids")
    )
    return select(func.pg_advisory_xact_lock(lock_ids.c.lock_id))


_CUSTOMER_TURNS = Prepared(_customer_turns())


async def take_customer_turns(db: Db, customer_keys: list[str]) -> None:
    """Wait for these customers' other submissions in flight (transaction-scoped advisory
    locks on the customer keys, one statement): two deliveries of the same text cannot both
    pass the fingerprint check, while different customers do not wait for each other. The
    locks are taken in one order (by their id) in every transaction, so two batches sharing
    customers wait for each other instead of deadlocking."""
    await _CUSTOMER_TURNS.fetch(db, customer_key=customer_keys)


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


class EarlierClaim(NamedTuple):
    """An idempotency key's first claim: the request it was for and its complaint."""

    request_hash: str
    complaint_id: uuid.UUID


async def claim_idempotency_key(
    session: AsyncSession, claim: IdempotencyClaim, complaint_id: uuid.UUID
) -> EarlierClaim | None:
    """Claim ``claim``'s key for ``complaint_id``; None when claimed now, else the earlier
    claim (``request_hash``, ``complaint_id``). A concurrent request with the same key waits
    here until this transaction ends."""
    earlier = await claim_idempotency_keys(session, [(claim, complaint_id)])
    return earlier.get((claim.client, claim.key))


def _claim_keys() -> Any:
    keys = tables.idempotency_keys
    columns = ("client", "key", "request_hash", "complaint_id")
    rows = _unnest({name: keys.c[name].type for name in columns})
    return (
        insert(keys)
        .from_select(list(columns), select(*(rows.c[name] for name in columns)))
        .on_conflict_do_nothing()
        .returning(keys.c.client, keys.c.key)
    )


def _earlier_claims() -> Any:
    keys = tables.idempotency_keys
    wanted = _unnest({"client": Text(), "key": Text()})
    return select(keys.c.client, keys.c.key, keys.c.request_hash, keys.c.complaint_id).join(
        wanted, (keys.c.client == wanted.c.client) & (keys.c.key == wanted.c.key)
    )


_CLAIM_KEYS = Prepared(_claim_keys())
_EARLIER_CLAIMS = Prepared(_earlier_claims())


async def claim_idempotency_keys(
    db: Db, claims: list[tuple[IdempotencyClaim, uuid.UUID]]
) -> dict[tuple[str, str], EarlierClaim]:
    """:func:`claim_idempotency_key` of several claims (distinct keys) in one statement
    (two when some key was claimed before): the earlier claims by ``(client, key)``."""
    params: dict[str, list] = {"client": [], "key": [], "request_hash": [], "complaint_id": []}
    for claim, complaint_id in claims:
        params["client"].append(claim.client)
        params["key"].append(claim.key)
        params["request_hash"].append(claim.request_hash)
        params["complaint_id"].append(complaint_id)
    claimed = {tuple(row) for row in await _CLAIM_KEYS.fetch(db, **params)}
    taken = [(claim.client, claim.key) for claim, _ in claims]
    taken = [pair for pair in taken if pair not in claimed]
    if not taken:
        return {}
    wanted = {"client": [client for client, _ in taken], "key": [key for _, key in taken]}
    rows = await _EARLIER_CLAIMS.fetch(db, **wanted)
    return {
        (client, key): EarlierClaim(request_hash, complaint_id)
        for client, key, request_hash, complaint_id in rows
    }


def with_channel_id(channel: Any, channel_message_id: Any) -> ColumnElement[bool]:
    """The complaint that arrived, or was later answered by a customer message, under this
    channel-native id."""
    complaints, messages = tables.complaints, tables.complaint_messages
    repeated_reply = (
        select(messages.c.complaint_id)
        .where(messages.c.channel == channel, messages.c.channel_message_id == channel_message_id)
        .correlate_except(messages)  # the pair may come from an enclosing query's rows
        .scalar_subquery()
    )
    return (
        (complaints.c.channel == channel) & (complaints.c.channel_message_id == channel_message_id)
    ) | (complaints.c.id == repeated_reply)


def _duplicate(complaint_id: uuid.UUID, reference: str, received_at: datetime) -> ComplaintAccepted:
    """An earlier complaint, answered as the ``duplicate`` a submission repeated."""
    return ComplaintAccepted(
        complaint_id=complaint_id,
        reference=reference,
        status="duplicate",
        received_at=received_at,
    )


def _duplicates_by_id() -> Any:
    complaints = tables.complaints
    ids = bindparam("ids", type_=ARRAY(complaints.c.id.type))
    return select(complaints.c.id, complaints.c.reference, complaints.c.received_at).where(
        complaints.c.id == any_(ids)
    )


def _duplicates_by_channel_id() -> Any:
    complaints = tables.complaints
    wanted = _unnest({"channel": Text(), "channel_message_id": Text()})
    found = (
        select(complaints.c.id, complaints.c.reference, complaints.c.received_at)
        .where(with_channel_id(wanted.c.channel, wanted.c.channel_message_id))
        .limit(1)
        .lateral("found")
    )
    return select(
        wanted.c.channel,
        wanted.c.channel_message_id,
        found.c.id,
        found.c.reference,
        found.c.received_at,
    ).select_from(wanted.join(found, true()))


_DUPLICATES_BY_ID = Prepared(_duplicates_by_id())
_DUPLICATES_BY_CHANNEL_ID = Prepared(_duplicates_by_channel_id())


async def find_duplicates_by_id(
    db: Db, complaint_ids: list[uuid.UUID]
) -> dict[uuid.UUID, ComplaintAccepted]:
    """The complaints ``complaint_ids`` (those that exist), by id."""
    rows = await _DUPLICATES_BY_ID.fetch(db, ids=complaint_ids)
    return {row[0]: _duplicate(*row) for row in rows}


async def find_duplicates_by_channel_id(
    db: Db, channel_ids: list[tuple[str, str]]
) -> dict[tuple[str, str], ComplaintAccepted]:
    """The complaints :func:`with_channel_id` of several ``(channel, channel_message_id)``
    pairs, in one statement, by pair."""
    params = {
        "channel": [channel for channel, _ in channel_ids],
        "channel_message_id": [message_id for _, message_id in channel_ids],
    }
    rows = await _DUPLICATES_BY_CHANNEL_ID.fetch(db, **params)
    return {(channel, message_id): _duplicate(*found) for channel, message_id, *found in rows}


def with_content(customer_key: Any, fingerprint: Any, since: Any) -> ColumnElement[bool]:
    """The customer's complaint with the same content fingerprint received since ``since``."""
    complaints = tables.complaints
    return (
        (complaints.c.customer_key == customer_key)
        & (complaints.c.content_fingerprint == fingerprint)
        & (complaints.c.received_at >= since)
    )


def _duplicates_or_numbers() -> Any:
    complaints = tables.complaints
    wanted = _unnest({"customer_key": Text(), "fingerprint": Text()}, ordinality="position")
    since = bindparam("since", type_=complaints.c.received_at.type)
    earlier = (
        select(complaints.c.id, complaints.c.reference, complaints.c.received_at)
        .where(with_content(wanted.c.customer_key, wanted.c.fingerprint, since))
        .limit(1)
        .lateral("earlier")
    )
    number = case((earlier.c.id.is_(None), tables.reference_sequence.next_value()))
    return (
        select(earlier.c.id, earlier.c.reference, earlier.c.received_at, number.label("number"))
        .select_from(wanted.outerjoin(earlier, true()))
        .order_by(wanted.c.position)
    )


_DUPLICATES_OR_NUMBERS = Prepared(_duplicates_or_numbers())  # bound per batch


async def find_duplicates_or_numbers(
    db: Db, contents: list[tuple[str, str]], since: datetime | None
) -> list[tuple[ComplaintAccepted | None, int | None]]:
    """For each ``(customer_key, fingerprint)``: the earlier complaint :func:`with_content`
    and, only when there is none, :func:`next_reference_number`, all
    in one round trip; the earlier complaint (or None) and the new number (or None), in
    order. ``since`` None looks for no duplicate (deduplication by content is off)."""
    params = {
        "customer_key": [key for key, _ in contents],
        "fingerprint": [fingerprint for _, fingerprint in contents],
        "since": since,
    }
    rows = await _DUPLICATES_OR_NUMBERS.fetch(db, **params)
    return [
        (None, number) if complaint_id is None else (_duplicate(complaint_id, *found), None)
        for complaint_id, *found, number in rows
    ]


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


def _unnest_insert(table: Any, prefix: str, columns: tuple[str, ...]) -> Any:
    """INSERT ... SELECT from parallel arrays (see :func:`_unnest`); JSON columns travel as
    text (serialised once, here) and are cast to jsonb in the database."""
    json_columns = {name for name in columns if isinstance(table.c[name].type, JSONB)}
    rows = _unnest(
        {prefix + name: Text() if name in json_columns else table.c[name].type for name in columns}
    )
    values = [
        cast(rows.c[prefix + name], JSONB) if name in json_columns else rows.c[prefix + name]
        for name in columns
    ]
    return table.insert().from_select(list(columns), select(*values))


# Every column of a complaint; of a raw submission, those it has when it is first stored.
_RAW_COLUMNS = tuple(
    name
    for name in tables.raw_submissions.c.keys()
    if name not in ("error", "corrected_payload", "updated_at")
)
_COMPLAINT_COLUMNS = tuple(tables.complaints.c.keys())
_COMPLAINT_JSON_COLUMNS = frozenset(
    name for name in _COMPLAINT_COLUMNS if isinstance(tables.complaints.c[name].type, JSONB)
)
_OUTBOX_COLUMNS = ("event_id", "topic", "message_key", "event")
# Compiled once; each batch only binds its arrays.
_REGISTRATIONS = Prepared(
    _unnest_insert(tables.platform.outbox, "o_", _OUTBOX_COLUMNS).add_cte(
        _unnest_insert(tables.raw_submissions, "r_", _RAW_COLUMNS).cte("raw_rows"),
        _unnest_insert(tables.complaints, "c_", _COMPLAINT_COLUMNS).cte("complaint_rows"),
    )
)


async def insert_registrations(
    db: Db,
    registrations: list[tuple[RawSubmission, Complaint, EventEnvelope]],
    topic: str,
) -> None:
    """Store each raw submission (accepted as its complaint), the complaint and its event in
    the outbox, for the whole batch in one statement (one round trip: the three inserts are
    CTEs of one INSERT; the foreign key from a complaint to its raw submission is checked at
    the statement's end). Same rows as :func:`insert_raw`, :func:`insert_complaint` and
    ``add_to_outbox``; the commit wakes the relay as ``add_to_outbox`` does."""
    params: dict[str, list] = {
        f"{prefix}{name}": []
        for prefix, names in (("r_", _RAW_COLUMNS), ("c_", _COMPLAINT_COLUMNS))
        for name in names
    }
    params.update({f"o_{name}": [] for name in _OUTBOX_COLUMNS})
    # Each column's array looked up once per batch, not once per row.
    raw_arrays = [(name, params[f"r_{name}"]) for name in _RAW_COLUMNS]
    complaint_arrays = [(name, params[f"c_{name}"]) for name in _COMPLAINT_COLUMNS]
    event_ids, topics, message_keys, events = (params[f"o_{name}"] for name in _OUTBOX_COLUMNS)
    for raw, complaint, event in registrations:
        raw_id = uuid.uuid4()
        raw_values = _raw_values(raw, raw_id, complaint.received_at, "accepted", complaint.id, 1)
        for name, values in raw_arrays:
            values.append(raw_values[name])
        complaint_values = _complaint_values(complaint, raw_id)
        # json.dumps(None) is JSON null, as the step-by-step path stores an absent value.
        for name in _COMPLAINT_JSON_COLUMNS:
            complaint_values[name] = json.dumps(complaint_values[name])
        for name, values in complaint_arrays:
            values.append(complaint_values[name])
        event_ids.append(event.id)
        topics.append(topic)
        message_keys.append(event.key)
        events.append(event.model_dump_json())
    await _REGISTRATIONS.fetch(db, **params)
    db.info[OUTBOX_WRITTEN] = True


async def insert_message(session: AsyncSession, **values: Any) -> None:
    """Store a customer's later message about a complaint (columns of ``complaint_messages``)."""
    await session.execute(tables.complaint_messages.insert().values(**values))


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
