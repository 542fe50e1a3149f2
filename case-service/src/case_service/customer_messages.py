"""The customer wrote again about a complaint (``redress.complaint.message_received.v1``):
the message joins the case, and a case waiting on the customer resumes, because the
customer's answer is what it was waiting for."""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from redress_shared.clock import Clock
from redress_shared.events import CASES_TOPIC, ComplaintMessageReceivedV1, EventEnvelope
from redress_shared.outbox import add_to_outbox
from sqlalchemy import Row, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from case_service import sla, tables
from case_service.history import append_history
from case_service.models import Action, CaseStatus, clocks_after
from case_service.service import lifecycle_state, status_changed_event

log = structlog.get_logger(__name__)
# Resuming never looks at the reopen window; any value serves.
_NO_REOPEN = timedelta(0)
CUSTOMER_ACTOR = "customer"
CUSTOMER_MESSAGE_KIND = "customer"


class CaseNotYetOpened(LookupError):
    """The complaint has no case here (yet): retried, then dead-lettered, never dropped."""


async def record_customer_message(
    session: AsyncSession, clock: Clock, event: EventEnvelope
) -> None:
    """Append the customer's message to the complaint's case with a history entry; resume the
    case if it is awaiting the customer. Runs in the consumer's transaction (with its inbox
    entry), so each event has exactly one effect."""
    message = event.payload()
    assert isinstance(message, ComplaintMessageReceivedV1)
    case = (
        await session.execute(
            select(tables.cases)
            .where(tables.cases.c.complaint_id == message.complaint_id)
            .with_for_update()
        )
    ).first()
    if case is None:
        # Same message key as the complaint, so its case is opened first; reaching this
        # means the complaint event is missing: let the consumer retry and dead-letter it.
        raise CaseNotYetOpened(f"no case for complaint {message.complaint_id}")
    now = clock.now()
    author = message.customer.email or message.customer.phone or CUSTOMER_ACTOR
    inserted = await session.scalar(
        insert(tables.case_messages)
        .values(
            id=message.message_id,
            case_id=case.id,
            kind=CUSTOMER_MESSAGE_KIND,
            body=message.body,
            author=author,
            created_at=message.received_at,
        )
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(tables.case_messages.c.id)
    )
    if inserted is None:
        return  # already recorded (a replayed topic under a new event id)
    await append_history(
        session,
        case.id,
        now,
        CUSTOMER_ACTOR,
        "customer_message_received",
        None,
        {
            "message_id": str(message.message_id),
            "channel": message.channel,
            "channel_message_id": message.channel_message_id,
            "matched_by": message.matched_by,
            "from": author,
        },
        event.id,
    )
    version = case.version + 1
    if CaseStatus(case.status) is CaseStatus.AWAITING_CUSTOMER:
        version = await _resume(session, case, now, message)
    await session.execute(
        tables.cases.update()
        .where(tables.cases.c.id == case.id)
        .values(version=version, updated_at=now)
    )
    log.info("customer_message_recorded", case_id=str(case.id), reference=case.reference)


async def _resume(
    session: AsyncSession, case: Row, now: datetime, message: ComplaintMessageReceivedV1
) -> int:
    """The customer answered: the case goes back to investigating and its clocks run again."""
    reason = f"The customer replied ({message.channel}, message {message.message_id})"
    before = lifecycle_state(case)
    after = before.apply(Action.RESUME, now=now, reopen_window=_NO_REOPEN, reason=reason)
    await session.execute(
        tables.cases.update().where(tables.cases.c.id == case.id).values(status=after.status.value)
    )
    calendar_name, clocks = await sla.load_clocks(session, case.id)
    calendar = await sla.load_calendar(session, calendar_name)
    await sla.save_clocks(session, case.id, clocks_after(Action.RESUME, clocks, now, calendar))
    changed = status_changed_event(case, before, after, Action.RESUME, CUSTOMER_ACTOR, reason, now)
    await append_history(
        session,
        case.id,
        now,
        CUSTOMER_ACTOR,
        Action.RESUME.value,
        before.snapshot(),
        {**after.snapshot(), "reason": reason},
        changed.id,
    )
    await add_to_outbox(session, tables.platform, CASES_TOPIC, changed)
    return after.version
