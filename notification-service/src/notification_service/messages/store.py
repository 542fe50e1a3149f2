"""SQL of customer messages: the customers' contact points, messages and their attempts,
and follow-ups."""

from __future__ import annotations

import uuid
from datetime import datetime

from redress_shared.events import CaseOpenedV1
from sqlalchemy import Row, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from notification_service import tables
from notification_service.messages.model import customer_time_zone

notifications = tables.notifications
attempts = tables.notification_attempts
follow_ups = tables.follow_ups
case_contacts = tables.case_contacts


async def remember_contact(session: AsyncSession, opened: CaseOpenedV1) -> None:
    """Keep how to reach the customer of a newly opened case, their language and time zone
    (first opening wins)."""
    contact = opened.customer
    statement = insert(case_contacts).values(
        case_id=opened.case_id,
        reference=opened.reference,
        customer_key=contact.customer_key,
        name=contact.name,
        email=contact.email,
        phone=contact.phone,
        language=contact.language or opened.language,
        preferred_channel=contact.preferred_channel,
        opened_on=opened.channel,
        time_zone=customer_time_zone(opened),
    )
    await session.execute(statement.on_conflict_do_nothing(index_elements=["case_id"]))


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


async def claim_due_messages(
    session: AsyncSession, now: datetime, claim_id: uuid.UUID, until: datetime, limit: int
) -> list[Row]:
    """Claim up to ``limit`` messages due at ``now`` (not claimed, or their claim expired):
    mark them with ``claim_id`` until ``until`` and return them. Rows other dispatchers are
    claiming right now are skipped (SKIP LOCKED)."""
    due = (
        select(notifications.c.id)
        .where(
            notifications.c.status == "pending",
            notifications.c.next_attempt_at <= now,
            or_(notifications.c.claimed_until.is_(None), notifications.c.claimed_until <= now),
        )
        .order_by(notifications.c.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claimed = await session.execute(
        notifications.update()
        .where(notifications.c.id.in_(due.scalar_subquery()))
        .values(claim_id=claim_id, claimed_until=until)
        .returning(notifications)
    )
    return sorted(claimed.all(), key=lambda row: row.next_attempt_at)


async def update_claimed(
    session: AsyncSession, notification_id: uuid.UUID, claim_id: uuid.UUID, values: dict
) -> Row | None:
    """Change a message that is still pending under ``claim_id``; return it as changed, or
    None when that claim was superseded (it expired and another dispatcher took the
    message) and nothing was changed."""
    return (
        await session.execute(
            notifications.update()
            .where(
                notifications.c.id == notification_id,
                notifications.c.claim_id == claim_id,
                notifications.c.status == "pending",
            )
            .values(**values)
            .returning(notifications)
        )
    ).first()


async def record_attempt(
    session: AsyncSession, row: Row, attempted_at: datetime, outcome: str, error: str | None
) -> None:
    """Keep one try to send a message on its current channel."""
    await session.execute(
        insert(attempts).values(
            notification_id=row.id,
            channel=row.channel,
            recipient=row.recipient,
            attempted_at=attempted_at,
            outcome=outcome,
            error=error,
        )
    )


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
