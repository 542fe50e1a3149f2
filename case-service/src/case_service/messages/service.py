"""Message use cases: an agent's note or response to the customer, and the customer's own
message (``redress.complaint.message_received.v1``), which joins the case and resumes a case
waiting on the customer, because the customer's answer is what it was waiting for."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime

import structlog
from redress_shared.clock import Clock
from redress_shared.db import SessionFactory
from redress_shared.events import ComplaintMessageReceivedV1, EventEnvelope
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from case_service.cases import store as cases_store
from case_service.cases.events import status_changed_event
from case_service.cases.model import (
    CUSTOMER_ACTOR,
    Action,
    CaseChange,
    CaseStatus,
    HistoryEntry,
    clocks_after,
    lifecycle_state,
)
from case_service.cases.service import change_one_case
from case_service.messages import store
from case_service.messages.events import response_added_event
from case_service.messages.model import (
    CUSTOMER_MESSAGE_KIND,
    NO_REOPEN_WINDOW,
    RESPONSE,
    CaseNotYetOpened,
)
from case_service.sla import store as sla_store
from case_service.sla.model import ClockName

log = structlog.get_logger(__name__)


async def add_message(
    session_factory: SessionFactory,
    clock: Clock,
    *,
    case_id: uuid.UUID,
    kind: str,
    body: str,
    author: str,
    expected_version: int | None,
) -> Row:
    """An internal note, or a response to the customer (which meets the first-response
    clock and is published for the notification service to deliver)."""
    now = clock.now()

    async def change(
        session: AsyncSession, case: Row, _locked: Mapping[uuid.UUID, Row]
    ) -> CaseChange[Row]:
        message = await store.insert_message(
            session,
            {
                "id": uuid.uuid4(),
                "case_id": case_id,
                "kind": kind,
                "body": body,
                "author": author,
                "created_at": now,
            },
        )
        assert message is not None  # a new id
        events = []
        if kind == RESPONSE:
            _calendar, clocks = await sla_store.load_clocks(session, case_id)
            for name in (ClockName.ACKNOWLEDGE, ClockName.FIRST_RESPONSE):
                if name in clocks:
                    clocks[name] = clocks[name].stop(now)
            await sla_store.save_clocks(session, case_id, clocks)
            events.append(response_added_event(case, message, now))
        entry = HistoryEntry(
            f"{kind}_added",
            author,
            None,
            {"message_id": str(message.id)},
            events[0].id if events else None,
        )
        return CaseChange([entry], events, result=message)

    _, message = await change_one_case(
        session_factory, case_id, change, now=now, expected_version=expected_version
    )
    return message


async def record_customer_message(
    session: AsyncSession, clock: Clock, event: EventEnvelope
) -> None:
    """Append the customer's message to the complaint's case with a history entry; resume the
    case if it is awaiting the customer. Runs in the consumer's transaction (with its inbox
    entry), so each event has exactly one effect."""
    message = event.payload()
    assert isinstance(message, ComplaintMessageReceivedV1)
    case_id = await cases_store.case_id_of_complaint(session, message.complaint_id)
    if case_id is None:
        # Same message key as the complaint, so its case is opened first; reaching this
        # means the complaint event is missing: let the consumer retry and dead-letter it.
        raise CaseNotYetOpened(f"no case for complaint {message.complaint_id}")
    now = clock.now()
    author = message.customer.email or message.customer.phone or CUSTOMER_ACTOR

    async def change(
        session: AsyncSession, case: Row, _locked: Mapping[uuid.UUID, Row]
    ) -> CaseChange | None:
        stored = await store.insert_message(
            session,
            {
                "id": message.message_id,
                "case_id": case.id,
                "kind": CUSTOMER_MESSAGE_KIND,
                "body": message.body,
                "author": author,
                "created_at": message.received_at,
            },
        )
        if stored is None:
            return None  # already recorded (a replayed topic under a new event id)
        received = HistoryEntry(
            "customer_message_received",
            CUSTOMER_ACTOR,
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
        change = CaseChange([received], result=True)
        if CaseStatus(case.status) is CaseStatus.AWAITING_CUSTOMER:
            await _resume(session, case, now, message, change)
        return change

    case, recorded = await cases_store.change_case(session, case_id, change, now=now)
    if recorded:
        log.info("customer_message_recorded", case_id=str(case.id), reference=case.reference)


async def _resume(
    session: AsyncSession,
    case: Row,
    now: datetime,
    message: ComplaintMessageReceivedV1,
    change: CaseChange,
) -> None:
    """The customer answered: the case goes back to investigating and its clocks run again."""
    reason = f"The customer replied ({message.channel}, message {message.message_id})"
    before = lifecycle_state(case)
    after = before.apply(Action.RESUME, now=now, reopen_window=NO_REOPEN_WINDOW, reason=reason)
    calendar_name, clocks = await sla_store.load_clocks(session, case.id)
    calendar = await sla_store.load_calendar(session, calendar_name)
    await sla_store.save_clocks(
        session, case.id, clocks_after(Action.RESUME, clocks, now, calendar)
    )
    changed = status_changed_event(case, before, after, Action.RESUME, CUSTOMER_ACTOR, reason, now)
    change.history.append(
        HistoryEntry(
            Action.RESUME.value,
            CUSTOMER_ACTOR,
            before.snapshot(),
            {**after.snapshot(), "reason": reason},
            changed.id,
        )
    )
    change.events.append(changed)
    change.values["status"] = after.status.value
