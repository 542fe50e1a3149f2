"""Case use cases: open a case for a complaint, move it through its lifecycle, note what the
customer was told, and the reads (search, one case with its clocks and likely duplicates,
history). Event-driven ones run inside the consumer's transaction (which also records the
event in the inbox); every other one is one transaction. Every change of a case goes through
``cases.store.change_case``."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from datetime import datetime, timedelta
from typing import TypeVar

import structlog
from redress_shared.clock import Clock
from redress_shared.db import SessionFactory
from redress_shared.errors import NotFound
from redress_shared.events import (
    CASES_TOPIC,
    ComplaintReceivedV1,
    EventEnvelope,
    NotificationOutcomeV1,
)
from redress_shared.outbox import add_to_outbox
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from case_service import tables
from case_service.cases import store
from case_service.cases.events import case_opened_event, status_changed_event
from case_service.cases.model import (
    SYSTEM_ACTOR,
    Action,
    CaseChange,
    CaseView,
    HistoryEntry,
    check_merge_target,
    clocks_after,
    encode_cursor,
    lifecycle_state,
    open_case,
)
from case_service.cases.schemas import CaseFilter
from case_service.customers import store as customers_store
from case_service.customers.model import customer_contact
from case_service.duplicates import store as duplicates_store
from case_service.duplicates.model import NOT_DUPLICATE_CANDIDATES, CaseText, suggest_duplicates
from case_service.routing import store as routing_store
from case_service.routing.model import route
from case_service.sla import service as sla_service
from case_service.sla import store as sla_store
from case_service.sla.model import ClockName, DueTimes

log = structlog.get_logger(__name__)
T = TypeVar("T")
NOTIFICATION_ACTOR = "notification-service"


async def change_one_case(
    session_factory: SessionFactory,
    case_id: uuid.UUID,
    change: store.Changer[T],
    *,
    now: datetime,
    expected_version: int | None = None,
    related: Collection[uuid.UUID] = (),
) -> tuple[Row, T | None]:
    """A use case that changes one case, in its own transaction (see
    ``cases.store.change_case``): the case as it now stands, and the change's result."""
    async with session_factory() as session, session.begin():
        return await store.change_case(
            session,
            case_id,
            change,
            now=now,
            expected_version=expected_version,
            related=related,
        )


async def open_case_for_complaint(
    session: AsyncSession, clock: Clock, event: EventEnvelope
) -> None:
    """A complaint was received: open its case (once), remember the customer, tell others."""
    complaint = event.payload()
    assert isinstance(complaint, ComplaintReceivedV1)
    if await store.case_id_of_complaint(session, complaint.complaint_id) is not None:
        return
    now = clock.now()
    policies = await sla_store.load_sla_policies(session)
    profile = await customers_store.remember_customer(session, complaint)
    tier = profile.tier
    # The case and its event speak of the customer as the profile now stands (contact points,
    # language, preferred channel), so the notification service writes where they want.
    complaint = complaint.model_copy(
        update={"customer": customer_contact(complaint.customer, profile)}
    )
    case = open_case(
        complaint_id=complaint.complaint_id,
        reference=complaint.reference,
        channel=complaint.channel,
        customer_key=complaint.customer.customer_key,
        category=complaint.category,
        subject=complaint.subject,
        language=complaint.language or complaint.customer.language,
        received_at=complaint.received_at,
        opened_at=now,
        policies=policies,
        priority_hint=complaint.priority_hint,
        tier=tier,
    )
    product = (complaint.product.sku or complaint.product.name) if complaint.product else None
    team, rule_position = route(
        await routing_store.load_routing_rules(session),
        {
            "category": case.category,
            "product": product,
            "language": case.language,
            "channel": case.channel,
            "tier": tier,
        },
    )
    await store.insert_case(session, case, complaint, product=product, team=team, now=now)
    calendar = policies[case.priority].calendar.name
    await sla_store.insert_clocks(session, case.id, calendar, case.clocks)
    opened = case_opened_event(case, complaint, team=team, customer_tier=tier)
    routed = {"team": team, "routing_rule": "default" if rule_position is None else rule_position}
    await store.append_history(
        session,
        case.id,
        now,
        SYSTEM_ACTOR,
        "opened",
        None,
        {**case.snapshot(), **routed},
        opened.id,
    )
    await add_to_outbox(session, tables.platform, CASES_TOPIC, opened)
    log.info(
        "case_opened", case_id=str(case.id), reference=case.reference, priority=case.priority.value
    )


async def record_notification_outcome(
    session: AsyncSession, clock: Clock, event: EventEnvelope
) -> None:
    """The notification service told a customer something (or failed to): note it in the
    case's history (the case itself does not change)."""
    outcome = event.payload()
    assert isinstance(outcome, NotificationOutcomeV1)
    if not await store.case_exists(session, outcome.case_id):
        return
    await store.append_history(
        session,
        outcome.case_id,
        outcome.occurred_at,
        NOTIFICATION_ACTOR,
        f"notification_{outcome.status}",
        None,
        {
            "notification_id": str(outcome.notification_id),
            "template": outcome.template,
            "channel": outcome.channel,
            "attempts": outcome.attempts,
            "error": outcome.error,
        },
        event.id,
    )


async def transition_case(
    session_factory: SessionFactory,
    clock: Clock,
    *,
    case_id: uuid.UUID,
    action: Action,
    actor: str,
    reopen_window: timedelta,
    expected_version: int | None = None,
    reason: str | None = None,
    into_case_id: uuid.UUID | None = None,
) -> Row:
    """Move a case through its lifecycle: one transaction for the change, its history entry
    and its ``case.status_changed`` event. ``expected_version`` (from ``If-Match``) guards
    against overwriting a change the caller has not seen."""
    now = clock.now()
    merging = action is Action.MERGE and into_case_id is not None

    async def change(
        session: AsyncSession, case: Row, locked: Mapping[uuid.UUID, Row]
    ) -> CaseChange:
        before = lifecycle_state(case)
        after = before.apply(
            action, now=now, reopen_window=reopen_window, reason=reason, merge_into=into_case_id
        )
        if action is Action.MERGE:
            primary = locked.get(into_case_id) if into_case_id else None
            check_merge_target(
                case.id,
                primary.id if primary else None,
                primary.status if primary else None,
                primary.reference if primary else "",
            )
        primary_id = into_case_id if action is Action.MERGE else case.merged_into
        calendar_name, clocks = await sla_store.load_clocks(session, case_id)
        calendar = await sla_store.load_calendar(session, calendar_name)
        targets = (
            await sla_store.policy_targets(session, case.sla_policy)
            if action is Action.UNMERGE
            else {}
        )
        new_clocks = clocks_after(action, clocks, now, calendar, targets)
        await sla_store.save_clocks(session, case_id, new_clocks)
        due = DueTimes.of(list(new_clocks.values())) if len(new_clocks) == len(ClockName) else None
        event = status_changed_event(case, before, after, action, actor, reason, now, due)
        after_snapshot = {**after.snapshot(), **({"reason": reason} if reason else {})}
        restarted = {
            name.value: sla_clock.due_at.isoformat()
            for name, sla_clock in new_clocks.items()
            if sla_clock.started_at != clocks[name].started_at
        }
        if restarted:
            # The history says which deadlines started afresh (reopen, unmerge) and when due.
            after_snapshot["sla_restarted"] = restarted
        history = [HistoryEntry(action.value, actor, before.snapshot(), after_snapshot, event.id)]
        if action in (Action.MERGE, Action.UNMERGE) and primary_id is not None:
            # The primary case's history tells what was folded into it, and out again.
            history.append(
                HistoryEntry(
                    "merged_in" if action is Action.MERGE else "unmerged",
                    actor,
                    None,
                    {"duplicate_case_id": str(case_id), "reference": case.reference},
                    event.id,
                    case_id=primary_id,
                )
            )
        return CaseChange(history, [event], after.row_values())

    updated, _ = await change_one_case(
        session_factory,
        case_id,
        change,
        now=now,
        expected_version=expected_version,
        related=[into_case_id] if merging else (),
    )
    log.info("case_transition", case_id=str(case_id), action=action.value, status=updated.status)
    return updated


async def list_cases(
    session_factory: SessionFactory, filters: CaseFilter
) -> tuple[list[Row], str | None]:
    """A page of matching cases, newest first (stable: ties broken by id), and the cursor of
    the next page (None at the end)."""
    async with session_factory() as session:
        rows = await store.search_cases(session, filters)
    if len(rows) > filters.limit:
        last = rows[filters.limit - 1]
        return rows[: filters.limit], encode_cursor(last.opened_at, last.id)
    return rows, None


async def read_case(
    session_factory: SessionFactory,
    clock: Clock,
    case_id: uuid.UUID,
    *,
    duplicate_window: timedelta,
    duplicate_threshold: float,
) -> CaseView:
    """One case with its SLA clocks and its likely duplicates: the same customer's other
    cases received within ``duplicate_window`` of it whose text is at least
    ``duplicate_threshold`` similar (only suggested; an agent confirms one with a merge)."""
    async with session_factory() as session:
        case = await store.get_case(session, case_id)
        if case is None:
            raise NotFound("case", case_id)
        candidates = (
            []
            if case.status in NOT_DUPLICATE_CANDIDATES
            else await duplicates_store.duplicate_candidates(session, case, duplicate_window)
        )
    duplicates = suggest_duplicates(
        CaseText.of(case), [CaseText.of(row) for row in candidates], duplicate_threshold
    )
    clocks = await sla_service.case_clocks(session_factory, case_id, clock.now())
    return CaseView(case, clocks, duplicates)


async def case_history(session_factory: SessionFactory, case_id: uuid.UUID) -> list[Row]:
    """The append-only history of a case, oldest first; NotFound for an unknown case."""
    async with session_factory() as session:
        if not await store.case_exists(session, case_id):
            raise NotFound("case", case_id)
        return await store.case_history(session, case_id)
