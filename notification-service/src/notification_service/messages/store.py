"""SQL of customer messages: the customers' contact points, messages and their attempts,
and follow-ups."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from redress_shared.db import (
    OUTBOX_WRITTEN,
    Prepared,
    SessionFactory,
    driver_statement,
    unnest_params,
)
from redress_shared.events import NOTIFICATIONS_TOPIC, CaseOpenedV1
from sqlalchemy import (
    ARRAY,
    Boolean,
    DateTime,
    Integer,
    Row,
    Text,
    any_,
    bindparam,
    case,
    cast,
    column,
    func,
    literal_column,
    null,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID, insert
from sqlalchemy.ext.asyncio import AsyncSession

from notification_service import tables
from notification_service.messages.model import SendRecord, customer_time_zone

notifications = tables.notifications
attempts = tables.notification_attempts
follow_ups = tables.follow_ups
case_contacts = tables.case_contacts


async def remember_contact(session: AsyncSession, opened: CaseOpenedV1) -> None:
    """Keep how to reach the customer of a newly opened case, their language and time zone
    (first opening wins)."""
    await remember_and_read_contacts(session, [opened], [])


async def remember_and_read_contacts(
    session: AsyncSession, openings: Sequence[CaseOpenedV1], case_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, DriverRow]:
    """Keep how to reach the customers of newly opened cases (the first opening of a case
    wins, in the order given) and return how to reach the customers of ``case_ids`` that are
    known, by case id: one prepared statement (one round trip) whatever their number."""
    rows = await _REMEMBER_AND_READ_CONTACTS.fetch(
        session,
        given_case_id=[opened.case_id for opened in openings],
        given_reference=[opened.reference for opened in openings],
        given_customer_key=[opened.customer.customer_key for opened in openings],
        given_name=[opened.customer.name for opened in openings],
        given_email=[opened.customer.email for opened in openings],
        given_phone=[opened.customer.phone for opened in openings],
        given_language=[opened.customer.language or opened.language for opened in openings],
        given_preferred_channel=[opened.customer.preferred_channel for opened in openings],
        given_opened_on=[opened.channel for opened in openings],
        given_time_zone=[customer_time_zone(opened) for opened in openings],
        case_ids=list(case_ids),
    )
    return {row["case_id"]: DriverRow(row) for row in rows}


def _remember_and_read_contacts_statement() -> Prepared:
    """The statement of :func:`remember_and_read_contacts`, built once."""
    given = unnest_params("given", **{name: case_contacts.c[name].type for name in _CONTACT})
    # unnest keeps the given order, so the first opening of a case in a batch is the one kept.
    inserted = (
        insert(case_contacts)
        .from_select(list(_CONTACT), select(*given.c))
        .on_conflict_do_nothing(index_elements=["case_id"])
        .returning(*case_contacts.c)
        .cte("inserted")
    )
    # The statement sees the table as before it: new contacts come from RETURNING, no case twice.
    wanted = cast(bindparam("case_ids", type_=ARRAY(UUID(as_uuid=True))), ARRAY(UUID(as_uuid=True)))
    known = select(*case_contacts.c).where(case_contacts.c.case_id == any_(wanted))
    return Prepared(union_all(select(*inserted.c), known))


_CONTACT = tuple(case_contacts.c.keys())  # every column: all come from case.opened


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
    """Queue messages in one prepared statement; return the ids inserted (a message whose
    trigger already made one of its kind is left out, as :func:`insert_message` does)."""
    if not rows:
        return set()
    values = {f"given_{name}": [row.get(name) for row in rows] for name in _QUEUED}
    # An array per row does not fit unnest's one-dimensional arrays: each travels as JSON.
    values["given_fallbacks"] = [json.dumps(row["fallback_channels"]) for row in rows]
    return {row["id"] for row in await _INSERT_MESSAGES.fetch(session, **values)}


#: The columns :func:`insert_messages` writes besides ``fallback_channels`` (the rest start empty).
_UNPLANNED = set("fallback_channels attempts sent_at collapsed_into claim_id claimed_until".split())
_QUEUED = tuple(name for name in notifications.c.keys() if name not in _UNPLANNED)


def _insert_messages_statement() -> Prepared:
    """The statement of :func:`insert_messages`, built once."""
    kinds = {name: notifications.c[name].type for name in _QUEUED}
    arrays = [
        cast(bindparam(f"given_{name}", type_=ARRAY(kind)), ARRAY(kind))
        for name, kind in [*kinds.items(), ("fallbacks", Text())]
    ]
    given = (
        func.unnest(*arrays)
        .table_valued(
            *(column(name, kind) for name, kind in kinds.items()),
            column("fallbacks", Text()),
            with_ordinality="ordinality",
        )
        .render_derived(name="given")
    )
    fallbacks = literal_column("ARRAY(SELECT jsonb_array_elements_text(given.fallbacks::jsonb))")
    return Prepared(
        insert(notifications)
        .from_select(
            [*_QUEUED, "fallback_channels"],
            select(*(given.c[name] for name in _QUEUED), fallbacks).order_by(given.c.ordinality),
        )
        .on_conflict_do_nothing(constraint="uq_notifications_trigger_template")
        .returning(notifications.c.id)
    )


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


class DriverRow:
    """A row as a prepared statement returns it (an asyncpg record), its columns read as
    attributes, as a SQLAlchemy row's are (``_mapping``: by name)."""

    __slots__ = ("_mapping",)

    def __init__(self, record: Mapping[str, Any]) -> None:
        self._mapping = record

    def __getattr__(self, name: str) -> Any:
        try:
            return self._mapping[name]
        except KeyError:
            raise AttributeError(name) from None


async def record_and_claim(
    session_factory: SessionFactory,
    changes: Sequence[SendRecord],
    *,
    now: datetime,
    claim_id: uuid.UUID,
    until: datetime,
    limit: int,
) -> tuple[set[tuple[uuid.UUID, uuid.UUID]], list[DriverRow]]:
    """A dispatcher's turn in one statement, which is its own transaction (no BEGIN and
    COMMIT of their own): apply the outcomes of claimed messages, each only while its message
    is still pending under its claim (the claim is released), with each applied one's
    attempt and, when final, its outcome event (outbox); then claim up to ``limit`` messages
    due at ``now`` (not claimed, or their claim expired) with ``claim_id`` until ``until``.
    Return the (message id, claim id) of the outcomes applied (one whose claim was
    superseded, because it expired and another dispatcher took the message, changes nothing)
    and the messages claimed, in the order they fell due. Rows other dispatchers are claiming
    right now are skipped (SKIP LOCKED)."""
    staged = any(record.event_json is not None for record in changes)
    async with driver_statement(session_factory) as statement:
        rows = await _RECORD_AND_CLAIM.fetch(
            statement,
            now=now,
            claim_id=claim_id,
            until=until,
            limit=limit,
            **{
                f"given_{name}": [getattr(record, name) for record in changes]
                for name in _GIVEN_COLUMNS
            },
        )
        if staged:
            statement.info[OUTBOX_WRITTEN] = True  # woken once the block ends
    recorded = {(row["id"], row["released_claim"]) for row in rows if row["released_claim"]}
    claimed = [DriverRow(row) for row in rows if row["released_claim"] is None]
    claimed.sort(key=lambda row: row.next_attempt_at)
    return recorded, claimed


#: Per outcome, what :func:`record_and_claim` writes (``SendRecord``'s fields): the message's
#: columns after it, the attempt (channel and recipient tried, outcome, error) and the outcome
#: event when final (its id, key and envelope as JSON text; None while the message is pending).
_GIVEN_COLUMNS = {
    "id": UUID(as_uuid=True),
    "claim_id": UUID(as_uuid=True),
    "status": Text(),
    "attempts": Integer(),
    "last_error": Text(),
    "sent_at": DateTime(timezone=True),
    "next_attempt_at": DateTime(timezone=True),
    "channel": Text(),
    "recipient": Text(),
    "falls_back": Boolean(),
    "tried_channel": Text(),
    "tried_recipient": Text(),
    "outcome": Text(),
    "error": Text(),
    "event_id": UUID(as_uuid=True),
    "event_key": Text(),
    "event_json": Text(),
}


def _record_and_claim_statement() -> Prepared:
    """The statement of :func:`record_and_claim`, built once (parameters: the ``given_*``
    arrays, ``now``, ``claim_id``, ``until``, ``limit``)."""
    arrays = [
        cast(bindparam(f"given_{name}", type_=ARRAY(kind)), ARRAY(kind))
        for name, kind in _GIVEN_COLUMNS.items()
    ]
    given = (
        func.unnest(*arrays)
        .table_valued(
            *(column(name, kind) for name, kind in _GIVEN_COLUMNS.items()),
            with_ordinality="ordinality",
        )
        .render_derived(name="given")
    )
    now = bindparam("now", type_=DateTime(timezone=True))
    recorded = (
        notifications.update()
        .where(
            notifications.c.id == given.c.id,
            notifications.c.claim_id == given.c.claim_id,
            notifications.c.status == PENDING,
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
        .returning(*given.c)
        .cte("recorded")
    )
    # The attempts and outcome events of the outcomes applied, in the order given.
    attempted = insert(attempts).from_select(
        ["notification_id", "channel", "recipient", "attempted_at", "outcome", "error"],
        select(
            recorded.c.id,
            recorded.c.tried_channel,
            recorded.c.tried_recipient,
            now,
            recorded.c.outcome,
            recorded.c.error,
        ).order_by(recorded.c.ordinality),
    )
    outbox = tables.platform.outbox
    staged = insert(outbox).from_select(
        ["event_id", "topic", "message_key", "event"],
        select(
            recorded.c.event_id,
            bindparam("topic", NOTIFICATIONS_TOPIC, type_=Text()),
            recorded.c.event_key,
            cast(recorded.c.event_json, JSONB),
        )
        .where(recorded.c.event_id.is_not(None))
        .order_by(recorded.c.ordinality),
    )
    # Two index ranges, so that neither the messages in flight nor the dead index entries of
    # those already sent are walked past: the unclaimed due messages (ix_notifications_ready),
    # then, only when they do not fill the claim, claims that expired (ix_notifications_claimed).
    # The statement sees the rows as they were before it: a message whose outcome it records
    # is not claimed again by it (the expired claims leave them out; one that falls back is
    # due at once and taken by the next turn).
    limit = bindparam("limit", type_=Integer())
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
            notifications.c.id.not_in(select(recorded.c.id)),
        )
        .order_by(notifications.c.claimed_until)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("expired")
    )
    due = union_all(select(ready.c.id), select(expired.c.id)).limit(limit)
    claimed = (
        notifications.update()
        .where(notifications.c.id.in_(due))
        .values(
            claim_id=bindparam("claim_id", type_=UUID(as_uuid=True)),
            claimed_until=bindparam("until", type_=DateTime(timezone=True)),
        )
        .returning(notifications)
        .cte("claimed")
    )
    no_claim = null().cast(UUID(as_uuid=True)).label("released_claim")
    return Prepared(
        union_all(
            select(no_claim, *claimed.c),
            select(
                recorded.c.claim_id.label("released_claim"),
                *(
                    recorded.c.id if name == "id" else null().cast(kind.type).label(name)
                    for name, kind in claimed.c.items()
                ),
            ),
        ).add_cte(
            attempted.cte("attempted"),
            staged.cte("staged"),
        )
    )


_RECORD_AND_CLAIM = _record_and_claim_statement()
_REMEMBER_AND_READ_CONTACTS = _remember_and_read_contacts_statement()
_INSERT_MESSAGES = _insert_messages_statement()


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
