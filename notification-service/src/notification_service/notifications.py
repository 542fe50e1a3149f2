"""Customer-notification use cases.

- A case event arrives (consumer transaction): :func:`plan_message` renders the current
  template of its kind in the customer's language and queues it once per event and kind.
- Dispatchers send due messages one per transaction (:func:`dispatch_next`), falling back
  to the next contact point when a channel fails for good, and publish the final outcome
  through the outbox.
- Follow-ups ("did the fix hold?") are rows of their own, fired once when due
  (:func:`fire_due_follow_ups`).
- Templates are edited over the API (:func:`put_template`), each change a new version.

Quiet collapse: a status message (information request, investigating, resolved) waits
``status_quiet_window`` before it is sent. A later status message of the same case that is
planned while an earlier one still waits replaces it (the earlier one becomes ``collapsed``)
and takes over its send time, so a burst of changes goes out as one message, saying the
latest state, at most one window after the first change.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from redress_shared.clock import Clock
from redress_shared.db import SessionFactory
from redress_shared.errors import NotFound, Problem
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
from sqlalchemy import Row, func, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from notification_service import tables
from notification_service.channels import (
    Channel,
    ContactPoints,
    OutgoingMessage,
    PermanentDeliveryError,
    TemporaryDeliveryError,
    channel_plan,
)
from notification_service.config import NotificationSettings
from notification_service.default_templates import BUILT_IN
from notification_service.templates import (
    FOLLOW_UP,
    KINDS,
    LANGUAGE_PATTERN,
    STATUS_KINDS,
    TemplateError,
    TemplateText,
    primary_language,
    render,
    validate,
)

EVENT_SOURCE = "/redress/notification-service"
BUILT_IN_AUTHOR = "built-in"
log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Messaging:
    """What planning a message needs besides the event: time, settings, where e-mail comes
    from, and which channels this process can send on."""

    clock: Clock
    settings: NotificationSettings
    mail_domain: str
    usable_channels: tuple[str, ...]


def when(moment: datetime) -> str:
    """A moment as customers read it in every language: ``2026-11-25 09:00 UTC``."""
    return moment.strftime("%Y-%m-%d %H:%M UTC")


# --- templates ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredTemplate:
    """One version of a template."""

    kind: str
    language: str
    version: int
    text: TemplateText
    created_at: datetime | None
    created_by: str


def _stored(row: Row) -> StoredTemplate:
    return StoredTemplate(
        row.kind,
        row.language,
        row.version,
        TemplateText(row.subject, row.body_text, row.body_html),
        row.created_at,
        row.created_by,
    )


def _current_versions():  # noqa: ANN202
    """The highest version of each template."""
    versions = tables.template_versions
    latest = select(versions.c.kind, versions.c.language, func.max(versions.c.version)).group_by(
        versions.c.kind, versions.c.language
    )
    return (
        select(versions)
        .where(tuple_(versions.c.kind, versions.c.language, versions.c.version).in_(latest))
        .order_by(versions.c.kind, versions.c.language)
    )


async def seed_templates(session_factory: SessionFactory, clock: Clock) -> int:
    """Store each built-in text as version 1 of its kind and language, where there is no
    version 1 yet: an operator's edit (version 2 and later) is never overwritten."""
    now = clock.now()
    rows = [
        {
            "kind": kind,
            "language": language,
            "version": 1,
            "subject": text.subject,
            "body_text": text.body_text,
            "body_html": text.body_html,
            "created_at": now,
            "created_by": BUILT_IN_AUTHOR,
        }
        for kind, languages in BUILT_IN.items()
        for language, text in languages.items()
    ]
    async with session_factory() as session, session.begin():
        result = await session.execute(
            insert(tables.template_versions).values(rows).on_conflict_do_nothing()
        )
    return result.rowcount


async def _template_for(
    session: AsyncSession, kind: str, language: str, default_language: str
) -> StoredTemplate:
    """The current template of ``kind`` in ``language``, else in the default language; the
    built-in text (as version 1) while the store has not been seeded yet."""
    versions = tables.template_versions
    rows = {
        row.language: row
        for row in (
            await session.execute(
                _current_versions().where(
                    versions.c.kind == kind, versions.c.language.in_([language, default_language])
                )
            )
        ).all()
    }
    for candidate in (language, default_language):
        if candidate in rows:
            return _stored(rows[candidate])
        if candidate in BUILT_IN[kind]:
            return _built_in(kind, candidate, default_language)
    return _built_in(kind, default_language, default_language)


def _built_in(kind: str, language: str, default_language: str) -> StoredTemplate:
    """The built-in text of ``kind`` (version 1) in ``language``, else the default language,
    else English: what a message falls back to when a stored template fails to render."""
    for candidate in (language, default_language, "en"):
        if candidate in BUILT_IN[kind]:
            return StoredTemplate(
                kind, candidate, 1, BUILT_IN[kind][candidate], None, BUILT_IN_AUTHOR
            )
    raise LookupError(f"no built-in {kind} template")


def _check_kind_and_language(kind: str, language: str) -> None:
    if kind not in KINDS:
        raise Problem(
            404,
            "unknown-template-kind",
            "No such kind of message",
            f"'{kind}' is not one of {', '.join(KINDS)}",
        )
    if not LANGUAGE_PATTERN.match(language):
        raise Problem(
            422,
            "invalid-language",
            "The language is not valid",
            f"'{language}' is not a primary language subtag (two or three lower-case letters)",
        )


async def list_templates(session_factory: SessionFactory) -> list[StoredTemplate]:
    """The current version of every template."""
    async with session_factory() as session:
        return [_stored(row) for row in (await session.execute(_current_versions())).all()]


async def get_template(session_factory: SessionFactory, kind: str, language: str) -> StoredTemplate:
    """The current version of one template, or a 404 problem."""
    _check_kind_and_language(kind, language)
    versions = tables.template_versions
    async with session_factory() as session:
        row = (
            await session.execute(
                _current_versions().where(versions.c.kind == kind, versions.c.language == language)
            )
        ).first()
    if row is None:
        raise NotFound("template", f"{kind}/{language}")
    return _stored(row)


async def put_template(
    session_factory: SessionFactory,
    clock: Clock,
    kind: str,
    language: str,
    text: TemplateText,
    author: str,
) -> StoredTemplate:
    """Store ``text`` as the next version of the template (or its first, for a new language).

    Checked before anything is written (syntax, no Python internals, only the kind's
    variables, a trial render); messages already queued keep the version they were
    rendered from.
    """
    _check_kind_and_language(kind, language)
    try:
        validate(kind, text)
    except TemplateError as exc:
        raise Problem(
            422,
            exc.problem,
            "The template cannot be used",
            str(exc),
            part=exc.part,
        ) from exc
    versions = tables.template_versions
    async with session_factory() as session, session.begin():
        # One writer per template at a time, also for a language that has no row yet.
        await session.execute(
            select(func.pg_advisory_xact_lock(func.hashtext(f"template:{kind}:{language}")))
        )
        latest = await session.scalar(
            select(func.max(versions.c.version)).where(
                versions.c.kind == kind, versions.c.language == language
            )
        )
        row = (
            await session.execute(
                insert(versions)
                .values(
                    kind=kind,
                    language=language,
                    version=(latest or 0) + 1,
                    subject=text.subject,
                    body_text=text.body_text,
                    body_html=text.body_html,
                    created_at=clock.now(),
                    created_by=author,
                )
                .returning(versions)
            )
        ).one()
    log.info("template_changed", kind=kind, language=language, version=row.version)
    return _stored(row)


# --- planning -----------------------------------------------------------------------------


async def remember_contact(session: AsyncSession, opened: CaseOpenedV1) -> None:
    """Keep how to reach the customer of a newly opened case (first opening wins)."""
    contact = opened.customer
    statement = insert(tables.case_contacts).values(
        case_id=opened.case_id,
        reference=opened.reference,
        customer_key=contact.customer_key,
        name=contact.name,
        email=contact.email,
        phone=contact.phone,
        language=contact.language or opened.language,
        preferred_channel=contact.preferred_channel,
        opened_on=opened.channel,
    )
    await session.execute(statement.on_conflict_do_nothing(index_elements=["case_id"]))


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
    contact = (
        await session.execute(
            select(tables.case_contacts).where(tables.case_contacts.c.case_id == case_id)
        )
    ).first()
    if contact is None:
        log.warning("no_contact_for_case", case_id=str(case_id), template=kind)
        return None
    settings = messaging.settings
    now = messaging.clock.now()
    template = await _template_for(
        session, kind, primary_language(contact.language), settings.default_language
    )
    values = {"name": contact.name, "reference": contact.reference, **context}
    try:
        message = render(kind, template.language, template.text, values)
    except Exception as exc:  # noqa: BLE001  an edit that passed its trial render but not this
        log.error(
            "template_render_failed",
            kind=kind,
            language=template.language,
            version=template.version,
            error=repr(exc),
        )
        template = _built_in(kind, template.language, settings.default_language)
        message = render(kind, template.language, template.text, values)
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
    send_at = now
    if kind in STATUS_KINDS and settings.status_quiet_window > timedelta(0):
        send_at = now + settings.status_quiet_window
    inserted = await session.scalar(
        insert(tables.notifications)
        .values(
            id=notification_id,
            case_id=case_id,
            reference=contact.reference,
            trigger_event_id=trigger_id,
            template=kind,
            template_version=template.version,
            language=template.language,
            channel=channel,
            recipient=recipient,
            fallback_channels=[f"{c}:{r}" for c, r in plan[1:]],
            subject=message.subject,
            body_text=message.body_text,
            body_html=message.body_html,
            message_id=f"<{notification_id}@{messaging.mail_domain}>",
            status="pending" if plan else "failed",
            last_error=None if plan else "the customer has no usable contact point",
            next_attempt_at=send_at,
            created_at=now,
            correlation_id=correlation_id,
        )
        .on_conflict_do_nothing(constraint="uq_notifications_trigger_template")
        .returning(tables.notifications.c.id)
    )
    if inserted is None:
        return None  # this event already made this message
    if not plan:
        await _publish_outcome(session, await _row(session, notification_id), now)
    elif kind in STATUS_KINDS and send_at > now:
        await _collapse_earlier_status_messages(session, case_id, notification_id, now)
    return notification_id


async def _collapse_earlier_status_messages(
    session: AsyncSession, case_id: uuid.UUID, latest_id: uuid.UUID, now: datetime
) -> None:
    """Fold the case's status messages that still wait into ``latest_id``, which takes the
    earliest of their send times (a burst never postpones its message indefinitely)."""
    notifications = tables.notifications
    # FOR UPDATE (not SKIP LOCKED): a message a dispatcher is sending right now is waited
    # for, and then no longer pending, so it is never both sent and collapsed.
    waiting = (
        await session.execute(
            select(notifications.c.id, notifications.c.next_attempt_at)
            .where(
                notifications.c.case_id == case_id,
                notifications.c.id != latest_id,
                notifications.c.status == "pending",
                notifications.c.attempts == 0,
                notifications.c.template.in_(sorted(STATUS_KINDS)),
                notifications.c.next_attempt_at > now,
            )
            .with_for_update()
        )
    ).all()
    if not waiting:
        return
    folded = [row.id for row in waiting]
    await session.execute(
        notifications.update()
        .where((notifications.c.id.in_(folded)) | (notifications.c.collapsed_into.in_(folded)))
        .values(status="collapsed", collapsed_into=latest_id)
    )
    await session.execute(
        notifications.update()
        .where(notifications.c.id == latest_id)
        .values(next_attempt_at=min(row.next_attempt_at for row in waiting))
    )
    log.info("status_messages_collapsed", case_id=str(case_id), into=str(latest_id))


async def schedule_follow_up(
    session: AsyncSession,
    messaging: Messaging,
    case_id: uuid.UUID,
    resolved_event: EventEnvelope,
    resolved_at: datetime,
) -> None:
    """The case was resolved: ask ``follow_up_after`` later whether the fix held (once per
    resolution event)."""
    await session.execute(
        insert(tables.follow_ups)
        .values(
            id=uuid.uuid4(),
            case_id=case_id,
            resolved_event_id=resolved_event.id,
            resolved_at=resolved_at,
            due_at=resolved_at + messaging.settings.follow_up_after,
            status="pending",
            correlation_id=resolved_event.correlation_id,
        )
        .on_conflict_do_nothing(index_elements=["resolved_event_id"])
    )


async def cancel_follow_ups(session: AsyncSession, case_id: uuid.UUID) -> None:
    """The case was reopened: the fix did not hold, so nobody asks whether it did."""
    follow_ups = tables.follow_ups
    await session.execute(
        follow_ups.update()
        .where(follow_ups.c.case_id == case_id, follow_ups.c.status == "pending")
        .values(status="cancelled")
    )


async def fire_due_follow_ups(
    session_factory: SessionFactory, messaging: Messaging, limit: int = 50
) -> int:
    """Queue the follow-up message of every due follow-up; return how many fired.

    Claim and message are one transaction holding the rows with SKIP LOCKED, so a follow-up
    fires once however many replicas poll (and the message is unique per follow-up id)."""
    follow_ups = tables.follow_ups
    now = messaging.clock.now()
    async with session_factory() as session, session.begin():
        due = (
            await session.execute(
                select(follow_ups)
                .where(follow_ups.c.status == "pending", follow_ups.c.due_at <= now)
                .order_by(follow_ups.c.due_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
        for follow_up in due:
            await plan_message(
                session,
                messaging,
                trigger_id=follow_up.id,
                kind=FOLLOW_UP,
                case_id=follow_up.case_id,
                context={"resolved_on": follow_up.resolved_at.strftime("%Y-%m-%d")},
                correlation_id=follow_up.correlation_id,
            )
        if due:
            await session.execute(
                follow_ups.update()
                .where(follow_ups.c.id.in_([row.id for row in due]))
                .values(status="sent", fired_at=now)
            )
    return len(due)


# --- dispatch -------------------------------------------------------------------------------


async def _row(session: AsyncSession, notification_id: uuid.UUID) -> Row:
    return (
        await session.execute(
            select(tables.notifications).where(tables.notifications.c.id == notification_id)
        )
    ).one()


async def dispatch_next(
    session_factory: SessionFactory,
    clock: Clock,
    channels: dict[str, Channel],
    settings: NotificationSettings,
) -> bool:
    """Send the next due notification, if any; return whether there was one.

    The row stays locked (SKIP LOCKED for other dispatchers and replicas) while it is sent,
    so no two dispatchers send the same message; a crash mid-send leaves it pending and it
    is sent again with the same Message-ID. A permanent failure, or a temporary one that
    used up ``max_send_attempts``, moves the message to the next contact point; with none
    left it has failed.
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
        error: str | None = None
        gave_up = False
        channel = channels.get(row.channel)
        try:
            if channel is None:
                raise PermanentDeliveryError(f"no {row.channel} channel is configured")
            await channel.send(
                OutgoingMessage(
                    message_id=row.message_id,
                    channel=row.channel,
                    recipient=row.recipient,
                    reference=row.reference,
                    language=row.language,
                    subject=row.subject,
                    body_text=row.body_text,
                    body_html=row.body_html or "",
                ),
                clock.now(),
            )
        except PermanentDeliveryError as exc:
            error, gave_up = str(exc), True
        except TemporaryDeliveryError as exc:
            error, gave_up = str(exc), attempts >= settings.max_send_attempts
        now = clock.now()
        outcome = "sent" if error is None else ("failed" if gave_up else "retry")
        await session.execute(
            insert(tables.notification_attempts).values(
                notification_id=row.id,
                channel=row.channel,
                recipient=row.recipient,
                attempted_at=now,
                outcome=outcome,
                error=error,
            )
        )
        if outcome == "sent":
            await _finish(session, row, now, attempts, "sent", None)
            log.info(
                "notification_sent",
                notification_id=str(row.id),
                case_id=str(row.case_id),
                template=row.template,
                channel=row.channel,
            )
        elif outcome == "retry":
            delay = settings.retry_base_seconds * 2 ** (attempts - 1) * random.uniform(0.8, 1.2)
            await session.execute(
                notifications.update()
                .where(notifications.c.id == row.id)
                .values(
                    attempts=attempts,
                    last_error=error,
                    next_attempt_at=now + timedelta(seconds=delay),
                )
            )
            log.warning(
                "notification_retry_scheduled",
                notification_id=str(row.id),
                attempts=attempts,
                error=error,
            )
        elif row.fallback_channels:
            next_channel, _, next_recipient = row.fallback_channels[0].partition(":")
            await session.execute(
                notifications.update()
                .where(notifications.c.id == row.id)
                .values(
                    channel=next_channel,
                    recipient=next_recipient,
                    fallback_channels=row.fallback_channels[1:],
                    attempts=0,
                    last_error=f"{row.channel}: {error}",
                    next_attempt_at=now,
                )
            )
            log.warning(
                "notification_falls_back",
                notification_id=str(row.id),
                failed_channel=row.channel,
                next_channel=next_channel,
                error=error,
            )
        else:
            await _finish(session, row, now, attempts, "failed", error)
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
    await _publish_outcome(session, await _row(session, row.id), now)
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
        correlation_id=row.correlation_id,
    )
    await add_to_outbox(session, tables.platform, NOTIFICATIONS_TOPIC, event)


async def list_notifications(
    session_factory: SessionFactory, case_id: uuid.UUID | None, limit: int
) -> list[tuple[Row, list[Row]]]:
    """Notifications, newest first, optionally of one case, each with its attempts."""
    notifications = tables.notifications
    attempts = tables.notification_attempts
    query = (
        select(notifications)
        .order_by(notifications.c.created_at.desc(), notifications.c.id)
        .limit(limit)
    )
    if case_id is not None:
        query = query.where(notifications.c.case_id == case_id)
    async with session_factory() as session:
        rows = (await session.execute(query)).all()
        by_notification: dict[uuid.UUID, list[Row]] = {row.id: [] for row in rows}
        if rows:
            for attempt in (
                await session.execute(
                    select(attempts)
                    .where(attempts.c.notification_id.in_(list(by_notification)))
                    .order_by(attempts.c.id)
                )
            ).all():
                by_notification[attempt.notification_id].append(attempt)
    return [(row, by_notification[row.id]) for row in rows]
