"""Complaint use cases: registering a normalised draft (or recognising it as a repeat, or as
a reply to a registered complaint) in one transaction with its raw submission and its event
in the outbox; and the reads of complaints, their customer messages and attachments."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime, timedelta

import structlog
from redress_shared.clock import Clock
from redress_shared.db import DriverTransaction, SessionFactory, driver_transaction
from redress_shared.errors import NotFound
from redress_shared.events import COMPLAINTS_TOPIC
from redress_shared.outbox import add_to_outbox
from sqlalchemy import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from intake_service import tables
from intake_service.attachments import store as attachments_store
from intake_service.complaints import store
from intake_service.complaints.events import complaint_received_event, message_received_event
from intake_service.complaints.model import (
    Complaint,
    ComplaintDraft,
    ConcurrentSubmission,
    IdempotencyClaim,
    IdempotencyKeyReused,
    RawSubmission,
    Submission,
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
                accepted, created = await _register_in(
                    session, clock, draft, raw, idempotency, stored_raw_id, policy
                )
        except IntegrityError:
            # A concurrent submission of the same channel id won the race; the next
            # attempt finds it as the earlier one.
            continue
        if created:
            log_registered(accepted, draft.channel)
        return accepted, created
    raise ConcurrentSubmission()


def log_registered(accepted: ComplaintAccepted, channel: str) -> None:
    """One log line per new complaint (called in the request's context, for its
    correlation id)."""
    log.info(
        "complaint_registered",
        complaint_id=str(accepted.complaint_id),
        reference=accepted.reference,
        channel=channel,
    )


Registered = tuple[ComplaintAccepted, bool]
"""The answer to a submission and whether a new complaint was created."""


async def register_complaints(
    session_factory: SessionFactory,
    clock: Clock,
    submissions: list[Submission],
    policy: IntakePolicy = DEFAULT_POLICY,
) -> list[Registered | Exception]:
    """Register several JSON-channel submissions (raw submission not stored yet, no
    attachments) in one transaction: the same rules as :func:`register_complaint` with a
    few statements for the whole batch instead of several per complaint.

    Returns one outcome per submission, in order: its answer, or the error of that
    submission alone (IdempotencyKeyReused, say). Submissions of one batch may repeat each
    other: a repeat is registered in a later round of the same transaction, which finds the
    first. When the batch's transaction fails (a value the database refuses), every
    submission is registered again on its own, so one bad submission fails alone.
    """
    try:
        return await _register_batch(session_factory, clock, submissions, policy)
    except Exception as error:
        if len(submissions) == 1:
            return [error]
    outcomes: list[Registered | Exception] = []
    for submission in submissions:
        outcomes.extend(await register_complaints(session_factory, clock, [submission], policy))
    return outcomes


async def _register_batch(
    session_factory: SessionFactory,
    clock: Clock,
    submissions: list[Submission],
    policy: IntakePolicy,
) -> list[Registered | Exception]:
    for _attempt in range(3):
        try:
            # On asyncpg itself: the batch's statements are the hot path of every JSON
            # submission, and SQLAlchemy's work per statement cost more than the statement.
            async with driver_transaction(session_factory) as db:
                outcomes: list[Registered | Exception | None] = [None] * len(submissions)
                await store.take_customer_turns(
                    db, [submission.draft.customer.key for submission in submissions]
                )
                for round_ in _rounds(submissions):
                    await _register_round(db, clock, submissions, round_, outcomes, policy)
        except IntegrityError:
            # A concurrent submission of the same channel id won the race; the next
            # attempt finds it as the earlier one.
            continue
        assert all(outcome is not None for outcome in outcomes)  # every round decided
        return outcomes  # type: ignore[return-value]
    raise ConcurrentSubmission()


def _rounds(submissions: list[Submission]) -> list[list[int]]:
    """The submissions' positions in rounds: none repeats another of its round (same
    idempotency key, channel id or customer and text), so each round's checks are exact."""
    rounds: list[tuple[set, list[int]]] = []
    for index, submission in enumerate(submissions):
        identities = submission.identities()
        for seen, members in rounds:
            if seen.isdisjoint(identities):
                seen.update(identities)
                members.append(index)
                break
        else:
            rounds.append((set(identities), [index]))
    return [members for _, members in rounds]


async def _register_round(
    db: DriverTransaction,
    clock: Clock,
    submissions: list[Submission],
    round_: list[int],
    outcomes: list[Registered | Exception | None],
    policy: IntakePolicy,
) -> None:
    """Register the submissions at ``round_``'s positions, writing their ``outcomes``."""
    complaint_ids = {index: uuid.uuid4() for index in round_}
    settled = await _find_earlier_ones(db, submissions, complaint_ids, outcomes)
    fresh = [index for index in round_ if index not in settled]
    if not fresh:
        return
    contents = [
        (submissions[i].draft.customer.key, submissions[i].draft.fingerprint) for i in fresh
    ]
    found = await store.find_duplicates_or_numbers(db, contents, _duplicates_since(clock, policy))
    received_at = clock.now()
    registrations = []
    for index, (earlier, number) in zip(fresh, found, strict=True):
        if earlier is not None:
            outcomes[index] = (earlier, False)
            continue
        submission = submissions[index]
        assert number is not None  # no earlier complaint: the query drew the next number
        complaint = submission.draft.register(complaint_ids[index], number, received_at)
        event = complaint_received_event(
            complaint,
            policy.max_event_text_bytes,
            policy.max_event_bytes,
            submission.correlation_id,
        )
        registrations.append((submission.raw, complaint, event))
        outcomes[index] = (_accepted(complaint), True)
    if registrations:
        await store.insert_registrations(db, registrations, COMPLAINTS_TOPIC)


async def _find_earlier_ones(
    db: DriverTransaction,
    submissions: list[Submission],
    complaint_ids: dict[int, uuid.UUID],
    outcomes: list[Registered | Exception | None],
) -> set[int]:
    """:func:`_find_earlier` of a round: claim the idempotency keys, then look for the
    complaints repeated by key or channel id. Writes the outcomes of the repeats; the
    positions it settled (those a key decided, even without finding its complaint)."""
    settled: set[int] = set()
    claims = {i: submissions[i].idempotency for i in complaint_ids}
    claims = {i: claim for i, claim in claims.items() if claim is not None}
    repeated: dict[int, uuid.UUID] = {}
    if claims:
        earlier_claims = await store.claim_idempotency_keys(
            db, [(claim, complaint_ids[i]) for i, claim in claims.items()]
        )
        for index, claim in claims.items():
            earlier = earlier_claims.get((claim.client, claim.key))
            if earlier is None:
                continue
            if earlier.request_hash != claim.request_hash:
                outcomes[index] = IdempotencyKeyReused()
                settled.add(index)
            else:
                repeated[index] = earlier.complaint_id
    if repeated:
        found = await store.find_duplicates_by_id(db, list(set(repeated.values())))
        for index, complaint_id in repeated.items():
            if complaint_id in found:  # else the key's first use was itself a repeat
                outcomes[index] = (found[complaint_id], False)
                settled.add(index)
    by_channel: dict[int, tuple[str, str]] = {}
    for index in complaint_ids:
        draft = submissions[index].draft
        if index in repeated or index in settled or draft.channel_message_id is None:
            continue
        by_channel[index] = (draft.channel, draft.channel_message_id)
    if by_channel:
        found_by_channel = await store.find_duplicates_by_channel_id(db, list(by_channel.values()))
        for index, pair in by_channel.items():
            if pair in found_by_channel:
                outcomes[index] = (found_by_channel[pair], False)
                settled.add(index)
    return settled


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
    await store.take_customer_turns(session, [draft.customer.key])
    earlier = await _find_earlier(session, complaint_id, draft, idempotency)
    if earlier is None and draft.channel == "email":
        thread = await find_thread(session, draft)
        if thread is not None:
            return await _attach_reply(
                session, clock, draft, raw, stored_raw_id, thread, policy
            ), False
    number: int | None = None
    if earlier is None:
        # The duplicate check and, when there is none, the new reference number: one trip.
        [(earlier, number)] = await store.find_duplicates_or_numbers(
            session, [(draft.customer.key, draft.fingerprint)], _duplicates_since(clock, policy)
        )
    if earlier is not None:
        if stored_raw_id is not None:
            await store.settle_raw(
                session, clock.now(), stored_raw_id, "duplicate", earlier.complaint_id
            )
        return earlier, False
    assert number is not None  # no earlier complaint: the query drew the next number
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
            found = await store.find_duplicates_by_id(session, [earlier_claim.complaint_id])
            return found.get(earlier_claim.complaint_id)
    if draft.channel_message_id is not None:
        channel_id = (draft.channel, draft.channel_message_id)
        return (await store.find_duplicates_by_channel_id(session, [channel_id])).get(channel_id)
    return None


def _duplicates_since(clock: Clock, policy: IntakePolicy) -> datetime | None:
    """Since when an equal text of the same customer is a repeat; None: never (off)."""
    if policy.duplicate_window <= timedelta(0):
        return None
    return clock.now() - policy.duplicate_window


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
        await attachments_store.store_attachments(
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
    number: int,
) -> ComplaintAccepted:
    received_at = clock.now()
    complaint = draft.register(complaint_id, number, received_at)
    raw_id = await _raw_of(session, received_at, raw, stored_raw_id, "accepted", complaint_id)
    await store.insert_complaint(session, complaint, raw_id)
    if draft.attachments:
        # The event names each attachment's id, so it is built from the stored context.
        context = await attachments_store.store_attachments(
            session, clock.now(), complaint_id, draft.attachments, draft.context
        )
        complaint = dataclasses.replace(
            complaint, draft=dataclasses.replace(draft, context=context)
        )
    event = complaint_received_event(complaint, policy.max_event_text_bytes, policy.max_event_bytes)
    await add_to_outbox(session, tables.platform, COMPLAINTS_TOPIC, event)
    return _accepted(complaint)


def _accepted(complaint: Complaint) -> ComplaintAccepted:
    return ComplaintAccepted(
        complaint_id=complaint.id,
        reference=complaint.reference,
        status="accepted",
        received_at=complaint.received_at,
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
        found = await attachments_store.get_attachment(session, complaint_id, attachment_id)
    if found is None:
        raise NotFound("attachment", attachment_id)
    return found
