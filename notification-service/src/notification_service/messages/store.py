"""SQL of customer messages: the customers' contact points, messages and their attempts,
and follow-ups."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from redress_shared.db import insert_rows, unnested
from redress_shared.events import NOTIFICATIONS_TOPIC, CaseOpenedV1, EventEnvelope
from redress_shared.outbox import add_many_to_outbox
from sqlalchemy import (
    Boolean,
    DateTime,
    Integer,
    Row,
    Text,
    case,
    func,
    literal_column,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import UUID, insert
from sqlalchemy.ext.asyncio import AsyncSession

from notification_service import tables
from notification_service.messages.model import ClaimedChange, customer_time_zone

notifications = tables.notifications
attempts = tables.notification_attempts
follow_ups = tables.follow_ups
case_contacts = tables.case_contacts


async def remember_contact(session: AsyncSession, opened: CaseOpenedV1) -> None:
    """Keep how to reach the customer of a newly opened case, their language and time zone
    (first opening wins)."""
    await remember_contacts(session, [opened])


async def remember_contacts(session: AsyncSession, openings: Sequence[CaseOpenedV1]) -> None:
    """Keep how to reach the customers of newly opened cases, in one statement whatever
    their number (the first opening of a case wins, as with :func:`remember_contact`)."""
    if not openings:
        return
    given = unnested(
        "given",
        case_id=(UUID(as_uuid=True), [opened.case_id for opened in openings]),
        reference=(Text, [opened.reference for opened in openings]),
        customer_key=(Text, [opened.customer.customer_key for opened in openings]),
        customer_name=(Text, [opened.customer.name for opened in openings]),
        email=(Text, [opened.customer.email for opened in openings]),
        phone=(Text, [opened.customer.phone for opened in openings]),
        language=(Text, [opened.customer.language or opened.language for opened in openings]),
        preferred_channel=(Text, [opened.customer.preferred_channel for opened in openings]),
        opened_on=(Text, [opened.channel for opened in openings]),
        time_zone=(Text, [customer_time_zone(opened) for opened in openings]),
    )
    # unnest keeps the given order, so the first opening of a case in a batch is the one kept.
    columns = ["name" if key == "customer_name" else key for key in given.c.keys()]
    await session.execute(
        insert(case_contacts)
        .from_select(columns, select(*given.c))
        .on_conflict_do_nothing(index_elements=["case_id"])
    )


async def contacts_of(session: AsyncSession, case_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Row]:
    """How to reach the customers of the cases that are known, by case id (one query)."""
    if not case_ids:
        return {}
    query = select(case_contacts).where(case_contacts.c.case_id.in_(list(case_ids)))
    return {row.case_id: row for row in (await session.execute(query)).all()}


async def contact_of(session: AsyncSession, case_id: uuid.UUID) -> Row | None:
    """How to reach the customer of a case, if the case is known."""
    query = select(case_contacts).where(case_contacts.c.case_id == case_id)
    return (await session.execute(query)).first()


async def insert_message(session: AsyncSession, values: dict) -> bool:
    """Queue a message; False when its trigger already made one of its kind."""
    inserted = await session.scalar(
        insert(notifications)
        .values(**values)
        .on_conflict_do_nothing(constraint="uq_notifications_trigger_template")
        .returning(notifications.c.id)
    )
    return inserted is not None


async def insert_messages(session: AsyncSession, rows: list[dict]) -> set[uuid.UUID]:
    """Queue messages in one statement; return the ids inserted (a message whose trigger
    already made one of its kind is left out, as :func:`insert_message` does)."""
    if not rows:
        return set()
    inserted = await session.execute(
        insert(notifications)
        .on_conflict_do_nothing(constraint="uq_notifications_trigger_template")
        .returning(notifications.c.id),
        rows,
    )
    return set(inserted.scalars())


async def message(session: AsyncSession, notification_id: uuid.UUID) -> Row:
    """One message."""
    query = select(notifications).where(notifications.c.id == notification_id)
    return (await session.execute(query)).one()


async def update_message(
    session: AsyncSession, notification_id: uuid.UUID, **values: object
) -> None:
    """Change a message's columns."""
    await session.execute(
        notifications.update().where(notifications.c.id == notification_id).values(**values)
    )


async def collapse_waiting(
    session: AsyncSession,
    case_id: uuid.UUID,
    latest_id: uuid.UUID,
    kinds: list[str],
    now: datetime,
) -> bool:
    """Fold the case's messages of ``kinds`` that still wait into ``latest_id``, which takes
    the earliest of their send times (a burst never postpones its message indefinitely);
    False when none waited."""
    # A message a dispatcher has claimed is being sent: never collapsed. FOR UPDATE (not
    # SKIP LOCKED): a claim being taken right now is waited for, and then excluded.
    waiting = (
        await session.execute(
            select(notifications.c.id, notifications.c.next_attempt_at)
            .where(
                notifications.c.case_id == case_id,
                notifications.c.id != latest_id,
                notifications.c.status == "pending",
                notifications.c.attempts == 0,
                notifications.c.claim_id.is_(None),  # not being sent right now
                notifications.c.template.in_(kinds),
                notifications.c.next_attempt_at > now,
            )
            .with_for_update()
        )
    ).all()
    if not waiting:
        return False
    folded = [row.id for row in waiting]
    await session.execute(
        notifications.update()
        .where((notifications.c.id.in_(folded)) | (notifications.c.collapsed_into.in_(folded)))
        .values(status="collapsed", collapsed_into=latest_id)
    )
    await update_message(
        session, latest_id, next_attempt_at=min(row.next_attempt_at for row in waiting)
    )
    return True


#: Written into the statements rather than bound, so that a prepared statement's generic plan
#: can use the partial indexes (``status = 'pending'``) too.
PENDING = literal_column("'pending'")


async def claim_due_messages(
    session: AsyncSession, now: datetime, claim_id: uuid.UUID, until: datetime, limit: int
) -> list[Row]:
    """Claim up to ``limit`` messages due at ``now`` (not claimed, or their claim expired):
    mark them with ``claim_id`` until ``until`` and return them. Rows other dispatchers are
    claiming right now are skipped (SKIP LOCKED)."""
    # Two index ranges, so that neither the messages in flight nor the dead index entries of
    # those already sent are walked past: the unclaimed due messages (ix_notifications_ready),
    # then, only when they do not fill the claim, claims that expired (ix_notifications_claimed).
    ready = (
        select(notifications.c.id)
        .where(
            notifications.c.status == PENDING,
            notifications.c.claim_id.is_(None),
            notifications.c.next_attempt_at <= now,
        )
        .order_by(notifications.c.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("ready")
    )
    expired = (
        select(notifications.c.id)
        .where(
            notifications.c.status == PENDING,
            notifications.c.claim_id.is_not(None),
            notifications.c.claimed_until <= now,
        )
        .order_by(notifications.c.claimed_until)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("expired")
    )
    due = union_all(select(ready.c.id), select(expired.c.id)).limit(limit)
    claimed = await session.execute(
        notifications.update()
        .where(notifications.c.id.in_(due))
        .values(claim_id=claim_id, claimed_until=until)
        .returning(notifications)
    )
    return sorted(claimed.all(), key=lambda row: row.next_attempt_at)


#: What an outcome needs of a message it changed (the event and the log line), and no more:
#: the bodies stay in the database.
_OUTCOME_COLUMNS = [
    notifications.c[name]
    for name in (
        "id",
        "case_id",
        "trigger_event_id",
        "template",
        "channel",
        "status",
        "attempts",
        "next_attempt_at",
        "last_error",
        "correlation_id",
    )
]


async def record_claimed_outcomes(
    session: AsyncSession, changes: Sequence[ClaimedChange]
) -> dict[tuple[uuid.UUID, uuid.UUID], Row]:
    """Apply the outcomes of claimed messages in one statement, each only while its message
    is still pending under its claim (the claim is released); return, by (message id, claim
    id), each message as changed. A change whose claim was superseded (it expired and another
    dispatcher took the message) changes nothing and is missing from the answer."""
    if not changes:
        return {}
    given = unnested(
        "given",
        id=(UUID(as_uuid=True), [change.id for change in changes]),
        claim_id=(UUID(as_uuid=True), [change.claim_id for change in changes]),
        status=(Text, [change.status for change in changes]),
        attempts=(Integer, [change.attempts for change in changes]),
        last_error=(Text, [change.last_error for change in changes]),
        sent_at=(DateTime(timezone=True), [change.sent_at for change in changes]),
        next_attempt_at=(DateTime(timezone=True), [change.next_attempt_at for change in changes]),
        channel=(Text, [change.channel for change in changes]),
        recipient=(Text, [change.recipient for change in changes]),
        falls_back=(Boolean, [change.falls_back for change in changes]),
    )
    rows = await session.execute(
        notifications.update()
        .where(
            notifications.c.id == given.c.id,
            notifications.c.claim_id == given.c.claim_id,
            notifications.c.status == "pending",
        )
        .values(
            status=given.c.status,
            attempts=given.c.attempts,
            last_error=given.c.last_error,
            sent_at=given.c.sent_at,
            next_attempt_at=given.c.next_attempt_at,
            channel=given.c.channel,
            recipient=given.c.recipient,
            # Falling back takes the first fallback (now the channel and recipient) off.
            fallback_channels=case(
                (
                    given.c.falls_back,
                    notifications.c.fallback_channels[
                        2 : func.cardinality(notifications.c.fallback_channels)
                    ],
                ),
                else_=notifications.c.fallback_channels,
            ),
            claim_id=None,
            claimed_until=None,
        )
        .returning(*_OUTCOME_COLUMNS, given.c.claim_id.label("released_claim"))
    )
    return {(row.id, row.released_claim): row for row in rows}


_ATTEMPT_COLUMNS = ("notification_id", "channel", "recipient", "attempted_at", "outcome", "error")


async def record_attempts(session: AsyncSession, tries: list[dict]) -> None:
    """Keep tries to send messages (notification_id, channel, recipient, attempted_at,
    outcome, error), in one statement whatever their number."""
    await insert_rows(
        session, attempts, [{name: row[name] for name in _ATTEMPT_COLUMNS} for row in tries]
    )


async def stage_outcome_events(session: AsyncSession, events: Sequence[EventEnvelope]) -> None:
    """Stage outcome events for ``redress.notifications.v1`` with one statement whatever
    their number (the commit wakes the relay)."""
    await add_many_to_outbox(session, tables.platform, NOTIFICATIONS_TOPIC, events)


async def messages_with_attempts(
    session: AsyncSession, case_id: uuid.UUID | None, limit: int
) -> list[tuple[Row, list[Row]]]:
    """Messages, newest first, optionally of one case, each with its attempts."""
    query = (
        select(notifications)
        .order_by(notifications.c.created_at.desc(), notifications.c.id)
        .limit(limit)
    )
    if case_id is not None:
        query = query.where(notifications.c.case_id == case_id)
    rows = (await session.execute(query)).all()
    by_message: dict[uuid.UUID, list[Row]] = {row.id: [] for row in rows}
    if rows:
        for attempt in (
            await session.execute(
                select(attempts)
                .where(attempts.c.notification_id.in_(list(by_message)))
                .order_by(attempts.c.id)
            )
        ).all():
            by_message[attempt.notification_id].append(attempt)
    return [(row, by_message[row.id]) for row in rows]


async def add_follow_up(session: AsyncSession, values: dict) -> None:
    """Schedule a follow-up, once per resolution event."""
    await session.execute(
        insert(follow_ups)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["resolved_event_id"])
    )


async def cancel_follow_ups(session: AsyncSession, case_id: uuid.UUID) -> None:
    """Cancel the case's follow-ups that have not fired."""
    await session.execute(
        follow_ups.update()
        .where(follow_ups.c.case_id == case_id, follow_ups.c.status == "pending")
        .values(status="cancelled")
    )


async def due_follow_ups(session: AsyncSession, now: datetime, limit: int) -> list[Row]:
    """Follow-ups due at ``now``, held with SKIP LOCKED (one replica fires each)."""
    query = (
        select(follow_ups)
        .where(follow_ups.c.status == "pending", follow_ups.c.due_at <= now)
        .order_by(follow_ups.c.due_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list((await session.execute(query)).all())


async def mark_follow_ups_sent(
    session: AsyncSession, follow_up_ids: list[uuid.UUID], now: datetime
) -> None:
    """The follow-ups fired."""
    await session.execute(
        follow_ups.update()
        .where(follow_ups.c.id.in_(follow_up_ids))
        .values(status="sent", fired_at=now)
    )
