"""Customer-message use cases.

- A case event arrives (consumer transaction): :func:`tell_customer` keeps the customer's
  contact points, schedules or cancels the follow-up, and :func:`plan_message` renders the
  current template of the event's kind in the customer's language and queues it once per
  event and kind (quiet collapse of status messages: see ``model.py``).
- Dispatchers claim due messages in a short transaction, send each with no transaction
  open and record the outcomes of a batch in a later one, if the claims still hold, which
  also claims the next messages (:func:`record_and_claim`); they fall back to the next
  contact point when a channel fails for good, and publish the final outcome.
- Follow-ups ("did the fix hold?") are rows of their own, fired once when due
  (:func:`fire_due_follow_ups`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import structlog
from redress_shared.clock import Clock
from redress_shared.db import SessionFactory
from redress_shared.events import NOTIFICATIONS_TOPIC, CaseOpenedV1, EventEnvelope
from redress_shared.observability import bind_correlation_id, correlation_id_var
from redress_shared.outbox import add_to_outbox
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from notification_service import tables
from notification_service.config import NotificationSettings
from notification_service.locales.model import (
    DateOf,
    language_candidates,
    locale_format,
    zone_named,
)
from notification_service.messages import events, store
from notification_service.messages.model import (
    STATUS_KINDS,
    Channel,
    ClaimedChange,
    ContactPoints,
    Messaging,
    OutgoingMessage,
    PermanentDeliveryError,
    SendRecord,
    TemporaryDeliveryError,
    channel_plan,
    follow_up_change,
    message_for,
    send_at,
    send_change,
)
from notification_service.templates import service as templates
from notification_service.templates.model import FOLLOW_UP, StoredTemplate

log = structlog.get_logger(__name__)

UTC_ZONE = ZoneInfo("UTC")
OUTGOING_FIELDS = [f.name for f in dataclasses.fields(OutgoingMessage) if f.name != "body_html"]


#: ``session.info`` keys of what :func:`tell_customers` shares across a batch of events: the
#: contacts of its cases and the templates it used (read once), the messages it queues
#: (rendered in one hand-over to a worker thread, and inserted together).
_CONTACTS = "notification.contacts"
_TEMPLATES = "notification.templates"
_QUEUED = "notification.queued"


async def tell_customers(
    session: AsyncSession, messaging: Messaging, batch: Sequence[EventEnvelope]
) -> datetime | None:
    """In the consumer's transaction: :func:`tell_customer` for each event of a fetched
    batch, in order, with what they share done once: the openings' contacts stored in one
    statement, every case's contact read in one query, each template looked up once, the
    messages rendered together off the event loop and inserted with one statement (once
    per event and kind, as one at a time). Return when the first of them is due, if any."""
    payloads = [event.payload() for event in batch]
    case_ids = list(dict.fromkeys(payload.case_id for payload in payloads))  # type: ignore[attr-defined]
    session.info[_CONTACTS] = await store.remember_and_read_contacts(
        session, [payload for payload in payloads if isinstance(payload, CaseOpenedV1)], case_ids
    )
    session.info[_TEMPLATES] = {}
    queued: list[tuple[templates.RenderJob, dict]] = []
    session.info[_QUEUED] = queued
    try:
        for event, payload in zip(batch, payloads, strict=True):
            await tell_customer(session, messaging, event, payload)
    finally:
        for key in (_CONTACTS, _TEMPLATES, _QUEUED):
            session.info.pop(key, None)
    rendered = await templates.render_messages([job for job, _ in queued])
    planned = [row | done.fields() for (_, row), done in zip(queued, rendered, strict=True)]
    inserted = await store.insert_messages(session, planned)
    rows = [row for row in planned if row["id"] in inserted]
    # Quiet collapse: the case's last waiting status message of the batch folds the others
    # (earlier in the batch or before it) into itself, as one at a time would have.
    last_waiting = {
        row["case_id"]: row["id"]
        for row in rows
        if row["status"] == "pending" and row["next_attempt_at"] > row["created_at"]
    }
    for row in rows:
        if row["status"] == "failed" or last_waiting.get(row["case_id"]) == row["id"]:
            await _after_queued(session, row)
    return min((row["next_attempt_at"] for row in rows if row["status"] == "pending"), default=None)


async def tell_customer(
    session: AsyncSession, messaging: Messaging, event: EventEnvelope, payload: object = None
) -> None:
    """In the consumer's transaction: what a case event changes for the customer (contact
    points, the follow-up) and the message it tells them, if it is news to them (``payload``:
    the event's, when the caller has parsed it already)."""
    payload = event.payload() if payload is None else payload
    if isinstance(payload, CaseOpenedV1) and payload.case_id not in session.info.get(_CONTACTS, {}):
        await store.remember_contact(session, payload)
    case_id = payload.case_id  # type: ignore[attr-defined]
    change = follow_up_change(payload)
    if change == "schedule":
        resolved_at = payload.occurred_at  # type: ignore[attr-defined]
        await store.add_follow_up(
            session,
            {
                "id": uuid.uuid4(),
                "case_id": case_id,
                "resolved_event_id": event.id,
                "resolved_at": resolved_at,
                "due_at": resolved_at + messaging.settings.follow_up_after,
                "status": "pending",
                "correlation_id": event.correlation_id,
            },
        )
    elif change == "cancel":
        await store.cancel_follow_ups(session, case_id)
    planned = message_for(event.type, payload, messaging.settings)
    if planned is not None:
        kind, context = planned
        await plan_message(
            session,
            messaging,
            trigger_id=event.id,
            kind=kind,
            case_id=case_id,
            context=context,
            correlation_id=event.correlation_id,
        )


async def plan_message(
    session: AsyncSession,
    messaging: Messaging,
    *,
    trigger_id: uuid.UUID,
    kind: str,
    case_id: uuid.UUID,
    context: dict,
    correlation_id: str | None,
) -> uuid.UUID | None:
    """Queue message ``kind`` about ``case_id``, once per ``trigger_id`` (an event id or a
    follow-up id) and kind; return its id, or None when it was already queued or the case's
    customer is unknown."""
    batch_contacts = session.info.get(_CONTACTS)  # read for the batch being applied
    if batch_contacts is not None:
        contact = batch_contacts.get(case_id)
    else:
        contact = await store.contact_of(session, case_id)
    if contact is None:
        log.warning("no_contact_for_case", case_id=str(case_id), template=kind)
        return None
    settings = messaging.settings
    now = messaging.clock.now()
    candidates = language_candidates(contact.language, settings.default_language)
    zone = zone_named(contact.time_zone) or zone_named(settings.default_time_zone) or UTC_ZONE

    def values_in(language: str) -> dict:
        written = locale_format(contact.language, language, zone).localise(context)
        return {"name": contact.name, "reference": contact.reference, **written}

    template = await _template_for(session, kind, tuple(candidates))
    job = templates.RenderJob(kind, template, tuple(candidates), values_in)
    plan = channel_plan(
        ContactPoints(
            email=contact.email,
            phone=contact.phone,
            customer_key=contact.customer_key,
            opened_on=contact.opened_on,
            preferred=contact.preferred_channel,
        ),
        settings.channel_fallback_order,
        messaging.usable_channels,
    )
    notification_id = uuid.uuid4()
    channel, recipient = plan[0] if plan else (contact.preferred_channel or "email", "")
    due = send_at(kind, now, settings.status_quiet_window)
    row = {
        "id": notification_id,
        "case_id": case_id,
        "reference": contact.reference,
        "trigger_event_id": trigger_id,
        "template": kind,
        "channel": channel,
        "recipient": recipient,
        "fallback_channels": [f"{c}:{r}" for c, r in plan[1:]],
        "message_id": f"<{notification_id}@{messaging.mail_domain}>",
        "status": "pending" if plan else "failed",
        "last_error": None if plan else "the customer has no usable contact point",
        "next_attempt_at": due,
        "created_at": now,
        "correlation_id": correlation_id,
    }
    queued = session.info.get(_QUEUED)
    if queued is not None:  # a batch: tell_customers renders and inserts its messages together
        queued.append((job, row))
        return notification_id
    [rendered] = await templates.render_messages([job])
    row.update(rendered.fields())
    if not await store.insert_message(session, row):
        return None  # this event already made this message
    await _after_queued(session, row)
    return notification_id


async def _after_queued(session: AsyncSession, row: dict) -> None:
    """What follows a message newly queued: a message without a usable contact point has
    failed at once (its outcome is published); a status message that waits folds the case's
    waiting status messages into itself (quiet collapse)."""
    now = row["created_at"]
    if row["status"] == "failed":
        await _publish_outcome(session, row["id"], now)
    elif row["next_attempt_at"] > now and await store.collapse_waiting(
        session, row["case_id"], row["id"], sorted(STATUS_KINDS), now
    ):
        log.info("status_messages_collapsed", case_id=str(row["case_id"]), into=str(row["id"]))


async def _template_for(
    session: AsyncSession, kind: str, candidates: tuple[str, ...]
) -> StoredTemplate:
    """:func:`templates.service.template_for`, looked up once per kind and languages while
    :func:`tell_customers` applies a batch."""
    used = session.info.get(_TEMPLATES)
    if used is None:
        return await templates.template_for(session, kind, candidates)
    key = (kind, candidates)
    if key not in used:
        used[key] = await templates.template_for(session, kind, candidates)
    return used[key]


async def fire_due_follow_ups(
    session_factory: SessionFactory, messaging: Messaging, limit: int = 50
) -> int:
    """Queue the follow-up message of every due follow-up; return how many fired.

    Claim and message are one transaction holding the rows with SKIP LOCKED, so a follow-up
    fires once however many replicas poll (and the message is unique per follow-up id)."""
    now = messaging.clock.now()
    async with session_factory() as session, session.begin():
        due = await store.due_follow_ups(session, now, limit)
        for follow_up in due:
            await plan_message(
                session,
                messaging,
                trigger_id=follow_up.id,
                kind=FOLLOW_UP,
                case_id=follow_up.case_id,
                context={"resolved_on": DateOf(follow_up.resolved_at)},
                correlation_id=follow_up.correlation_id,
            )
        if due:
            await store.mark_follow_ups_sent(session, [row.id for row in due], now)
    return len(due)


@dataclasses.dataclass(frozen=True)
class ClaimedMessage:
    """A message a dispatcher has claimed: the row as claimed, and the claim it holds."""

    row: store.DriverRow
    claim_id: uuid.UUID


async def claim_due_messages(
    session_factory: SessionFactory, clock: Clock, settings: NotificationSettings, limit: int
) -> list[ClaimedMessage]:
    """Claim up to ``limit`` due messages, in a short transaction of its own, for
    ``message_claim_seconds``: no other dispatcher (here or in another replica) takes them
    while the claim holds; a claim left by a process that died expires and is taken again."""
    if limit <= 0:
        return []
    _, claimed = await _record_and_claim(session_factory, clock, settings, [], limit)
    return claimed


async def record_and_claim(
    session_factory: SessionFactory,
    clock: Clock,
    settings: NotificationSettings,
    results: list[SendResult],
    limit: int,
    due_later: Callable[[datetime], object] | None = None,
) -> list[ClaimedMessage]:
    """A dispatcher's turn in one statement, its own transaction (no send inside it): record
    the finished sends (:func:`record_send_outcomes`) and claim up to ``limit`` due messages
    (:func:`claim_due_messages`; a message falling back to its next contact point is due
    at once and taken by the next turn). ``due_later`` hears when each message that will
    be tried again (a retry, the next contact point) falls due."""
    _, claimed = await _record_and_claim(
        session_factory, clock, settings, results, limit, due_later
    )
    return claimed


@dataclasses.dataclass(frozen=True)
class SendResult:
    """What sending a claimed message gave: no error (sent), or the error and whether it is
    permanent for this channel."""

    claimed: ClaimedMessage
    error: str | None = None
    permanent: bool = False


async def send_claimed(
    session_factory: SessionFactory,
    clock: Clock,
    channels: dict[str, Channel],
    settings: NotificationSettings,
    claimed: ClaimedMessage,
) -> None:
    """Send one claimed message with no transaction open (:func:`send_only`), then record
    the outcome in a transaction of its own (:func:`record_send_outcomes`)."""
    result = await send_only(clock, channels, settings, claimed)
    await record_send_outcomes(session_factory, clock, settings, [result])


async def send_only(
    clock: Clock,
    channels: dict[str, Channel],
    settings: NotificationSettings,
    claimed: ClaimedMessage,
) -> SendResult:
    """Send one claimed message on its channel (no transaction is open: nothing is written
    here); a send never outlives its claim: it is cut at half of it."""
    row = claimed.row
    bind_correlation_id(row.correlation_id)
    channel = channels.get(row.channel)
    try:
        if channel is None:
            raise PermanentDeliveryError(f"no {row.channel} channel is configured")
        async with asyncio.timeout(settings.message_claim_seconds / 2):
            await channel.send(_outgoing(row), clock.now())
    except PermanentDeliveryError as exc:
        return SendResult(claimed, str(exc), permanent=True)
    except TemporaryDeliveryError as exc:
        return SendResult(claimed, str(exc))
    except TimeoutError:
        return SendResult(claimed, f"the send took over {settings.message_claim_seconds / 2:g} s")
    return SendResult(claimed)


async def record_send_outcomes(
    session_factory: SessionFactory,
    clock: Clock,
    settings: NotificationSettings,
    results: list[SendResult],
) -> list[bool]:
    """Record sends of claimed messages (sent, retry later, next channel, or failed) and
    release their claims in one statement for any batch (messages, attempts, outcome events:
    :func:`store.record_and_claim`). False for a send whose claim no longer holds (it expired and
    another dispatcher took the message, which went out again with the same Message-ID).
    A permanent failure, or ``max_send_attempts`` temporary ones, moves the message to the
    next contact point; with none left it has failed."""
    recorded, _ = await _record_and_claim(session_factory, clock, settings, results, 0)
    return recorded


async def _record_and_claim(
    session_factory: SessionFactory,
    clock: Clock,
    settings: NotificationSettings,
    results: list[SendResult],
    limit: int,
    due_later: Callable[[datetime], object] | None = None,
) -> tuple[list[bool], list[ClaimedMessage]]:
    now = clock.now()
    records = [_send_record(result, now, settings) for result in results]
    claim_id = uuid.uuid4()
    recorded, rows = await store.record_and_claim(
        session_factory,
        records,
        now=now,
        claim_id=claim_id,
        until=now + timedelta(seconds=settings.message_claim_seconds),
        limit=max(limit, 0),
    )
    done = [(record.id, record.claim_id) in recorded for record in records]
    for result, record, held in zip(results, records, done, strict=True):
        if not held:
            log.warning(
                "notification_outcome_of_a_superseded_claim",
                notification_id=str(result.claimed.row.id),
            )
            continue
        _log_outcome(result, record)
        if due_later is not None and record.status == "pending":
            due_later(record.next_attempt_at)
    return done, [ClaimedMessage(row, claim_id) for row in rows]


def _send_record(result: SendResult, now: datetime, settings: NotificationSettings) -> SendRecord:
    """What recording ``result`` writes, its outcome event built in advance (it is staged
    only if the claim still holds)."""
    message, claimed_id = result.claimed.row, result.claimed.claim_id
    change, outcome = send_change(
        message, claimed_id, result.error, result.permanent, now, settings
    )
    event = None
    if change.status != "pending":
        event = events.notification_outcome(message, now, change)
        if event.correlation_id is None:  # as the outbox does: the work at hand's
            event = event.model_copy(update={"correlation_id": correlation_id_var.get()})
    return SendRecord(
        **vars(change),
        tried_channel=message.channel,
        tried_recipient=message.recipient,
        outcome=outcome,
        error=result.error,
        event_id=event and event.id,
        event_key=event and event.key,
        event_json=event and event.model_dump_json(),
    )


def _log_outcome(result: SendResult, change: ClaimedChange) -> None:
    row, error = result.claimed.row, result.error
    # Outcomes are recorded in batches, apart from the send: the line carries its own message's
    # correlation id, not whichever the recording task saw last.
    bind_correlation_id(row.correlation_id)
    fields = {"notification_id": str(row.id), "channel": row.channel}
    if change.status == "sent":
        log.info("notification_sent", case_id=str(row.case_id), template=row.template, **fields)
        return
    fields["error"] = error
    if change.status == "failed":
        log.warning("notification_failed", **fields)
    elif change.channel == row.channel:
        log.warning("notification_retry_scheduled", attempts=change.attempts, **fields)
    else:
        log.warning("notification_falls_back", next_channel=change.channel, **fields)


async def dispatch_next(
    session_factory: SessionFactory,
    clock: Clock,
    channels: dict[str, Channel],
    settings: NotificationSettings,
) -> bool:
    """Send the next due notification, if any; return whether there was one (the
    one-at-a-time form of :func:`claim_due_messages` + :func:`send_claimed`)."""
    claimed = await claim_due_messages(session_factory, clock, settings, 1)
    for message in claimed:
        await send_claimed(session_factory, clock, channels, settings, message)
    return bool(claimed)


def _outgoing(row: Row) -> OutgoingMessage:
    """The message of a notification row, as a channel takes it (the row has every field)."""
    columns = row._mapping
    return OutgoingMessage(
        **{name: columns[name] for name in OUTGOING_FIELDS}, body_html=row.body_html or ""
    )


async def _publish_outcome(
    session: AsyncSession, notification_id: uuid.UUID, now: datetime
) -> None:
    row = await store.message(session, notification_id)
    event = events.notification_outcome(row, now)
    await add_to_outbox(session, tables.platform, NOTIFICATIONS_TOPIC, event)


async def list_notifications(
    session_factory: SessionFactory, case_id: uuid.UUID | None, limit: int
) -> list[tuple[Row, list[Row]]]:
    """Notifications, newest first, optionally of one case, each with its attempts."""
    async with session_factory() as session:
        return await store.messages_with_attempts(session, case_id, limit)
