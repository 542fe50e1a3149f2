"""Notification use cases: plan a message when a case event arrives (in the consumer's
transaction), then dispatch due messages one per transaction, recording the outcome and
publishing it through the outbox."""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta

import structlog
from redress_shared.clock import Clock
from redress_shared.events import (
    NOTIFICATION_FAILED,
    NOTIFICATION_SENT,
    NOTIFICATIONS_TOPIC,
    CaseOpenedV1,
    EventEnvelope,
    NotificationOutcomeV1,
    new_event,
)
from redress_shared.observability import bind_correlation_id
from redress_shared.outbox import add_to_outbox
from sqlalchemy import Row, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from notification_service import tables
from notification_service.config import NotificationSettings
from notification_service.email_sender import (
    OutgoingEmail,
    PermanentDeliveryError,
    SmtpEmailSender,
    TemporaryDeliveryError,
)
from notification_service.templates import ACKNOWLEDGEMENT, TemplateRenderer

EVENT_SOURCE = "/redress/notification-service"
log = structlog.get_logger(__name__)


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


async def plan_acknowledgement(
    session: AsyncSession,
    clock: Clock,
    renderer: TemplateRenderer,
    mail_domain: str,
    event: EventEnvelope,
) -> None:
    """A case was opened: queue the acknowledgement e-mail (once per event)."""
    opened = event.payload()
    assert isinstance(opened, CaseOpenedV1)
    now = clock.now()
    language = renderer.language_for(ACKNOWLEDGEMENT, opened.language or opened.customer.language)
    subject, body = renderer.render(
        ACKNOWLEDGEMENT,
        language,
        {
            "name": opened.customer.name,
            "reference": opened.reference,
            "subject": opened.subject,
            "first_response_by": _when(opened.due.first_response_by),
            "resolve_by": opened.due.resolve_by.strftime("%Y-%m-%d"),
        },
    )
    notification_id = uuid.uuid4()
    has_email = bool(opened.customer.email)
    await session.execute(
        insert(tables.notifications)
        .values(
            id=notification_id,
            case_id=opened.case_id,
            reference=opened.reference,
            trigger_event_id=event.id,
            template=ACKNOWLEDGEMENT,
            language=language,
            channel="email",
            recipient=opened.customer.email or "",
            subject=subject,
            body_text=body,
            message_id=f"<{notification_id}@{mail_domain}>",
            status="pending" if has_email else "failed",
            last_error=None if has_email else "the customer has no e-mail address",
            next_attempt_at=now,
            created_at=now,
            correlation_id=event.correlation_id,
        )
        .on_conflict_do_nothing(constraint="uq_notifications_trigger_template")
    )
    if not has_email:
        row = await _row(session, notification_id)
        if row is not None:
            await _publish_outcome(session, row, now)


async def _row(session: AsyncSession, notification_id: uuid.UUID) -> Row | None:
    return (
        await session.execute(
            select(tables.notifications).where(tables.notifications.c.id == notification_id)
        )
    ).first()


async def dispatch_next(
    session_factory: async_sessionmaker[AsyncSession],
    clock: Clock,
    sender: SmtpEmailSender,
    settings: NotificationSettings,
) -> bool:
    """Send the next due notification, if any; return whether there was one.

    The row stays locked (SKIP LOCKED for other dispatchers and replicas) while it is sent,
    so no two dispatchers send the same message; a crash mid-send leaves it pending and it
    is sent again with the same Message-ID.
    """
    notifications = tables.notifications
    async with session_factory() as session, session.begin():
        row = (
            await session.execute(
                select(notifications)
                .where(
                    notifications.c.status == "pending",
                    notifications.c.next_attempt_at <= clock.now(),
                )
                .order_by(notifications.c.next_attempt_at)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
        ).first()
        if row is None:
            return False
        bind_correlation_id(row.correlation_id)
        attempts = row.attempts + 1
        try:
            await sender.send(
                OutgoingEmail(
                    message_id=row.message_id,
                    recipient=row.recipient,
                    subject=row.subject,
                    body_text=row.body_text,
                ),
                clock.now(),
            )
        except PermanentDeliveryError as exc:
            await _finish(session, row, clock.now(), attempts, "failed", str(exc))
        except TemporaryDeliveryError as exc:
            if attempts >= settings.max_send_attempts:
                await _finish(session, row, clock.now(), attempts, "failed", str(exc))
            else:
                delay = settings.retry_base_seconds * 2 ** (attempts - 1) * random.uniform(0.8, 1.2)
                await session.execute(
                    notifications.update()
                    .where(notifications.c.id == row.id)
                    .values(
                        attempts=attempts,
                        last_error=str(exc),
                        next_attempt_at=clock.now() + timedelta(seconds=delay),
                    )
                )
                log.warning(
                    "notification_retry_scheduled",
                    notification_id=str(row.id),
                    attempts=attempts,
                    error=str(exc),
                )
        else:
            await _finish(session, row, clock.now(), attempts, "sent", None)
            log.info(
                "notification_sent",
                notification_id=str(row.id),
                case_id=str(row.case_id),
                template=row.template,
            )
        return True


async def _finish(
    session: AsyncSession, row: Row, now: datetime, attempts: int, status: str, error: str | None
) -> None:
    notifications = tables.notifications
    await session.execute(
        notifications.update()
        .where(notifications.c.id == row.id)
        .values(
            status=status,
            attempts=attempts,
            last_error=error,
            sent_at=now if status == "sent" else None,
        )
    )
    updated = await _row(session, row.id)
    assert updated is not None
    await _publish_outcome(session, updated, now)
    if status == "failed":
        log.warning("notification_failed", notification_id=str(row.id), error=error)


async def _publish_outcome(session: AsyncSession, row: Row, now: datetime) -> None:
    payload = NotificationOutcomeV1(
        notification_id=row.id,
        case_id=row.case_id,
        trigger_event_id=row.trigger_event_id,
        template=row.template,
        channel=row.channel,
        status=row.status,
        attempts=row.attempts,
        occurred_at=now,
        error=row.last_error,
    )
    event = new_event(
        source=EVENT_SOURCE,
        type=NOTIFICATION_SENT if row.status == "sent" else NOTIFICATION_FAILED,
        key=str(row.case_id),
        subject=str(row.id),
        payload=payload,
        time=now,
    )
    await add_to_outbox(session, tables.platform, NOTIFICATIONS_TOPIC, event)


async def list_notifications(
    session_factory: async_sessionmaker[AsyncSession], case_id: uuid.UUID | None, limit: int
) -> list[Row]:
    """Notifications, newest first, optionally of one case."""
    notifications = tables.notifications
    query = select(notifications).order_by(notifications.c.created_at.desc()).limit(limit)
    if case_id is not None:
        query = query.where(notifications.c.case_id == case_id)
    async with session_factory() as session:
        return list((await session.execute(query)).all())
