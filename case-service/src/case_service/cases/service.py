"""Case use cases: open a case for a complaint, move it through its lifecycle, note what the
customer was told, and the reads (search, one case with its clocks and likely duplicates,
history). Event-driven ones run inside the consumer's transaction (which also records the
event in the inbox); every other one is one transaction. Every change of a case goes through
``cases.store.change_case``."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

import structlog
from redress_shared.clock import Clock
from redress_shared.db import SessionFactory
from redress_shared.errors import NotFound
from redress_shared.events import (
    ComplaintReceivedV1,
    EventEnvelope,
    NotificationOutcomeV1,
)
from redress_shared.observability import bind_correlation_id
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

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
from case_service.routing.model import RoutingRule, route
from case_service.sla import service as sla_service
from case_service.sla import store as sla_store
from case_service.sla.model import ClockName, DueTimes, Priority, SlaPolicy

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


@dataclass
class OpeningSettings:
    """What opening a case reads besides the complaint and its customer: the SLA policies
    (with their calendars) and the routing rules, kept between batches by one consumer.

    They change rarely, so they are read again only when ``opening_settings_version`` has
    moved: a trigger bumps it in the same transaction as any change of those tables (by the
    API or by hand in SQL), and each batch reads it in the statement that remembers the
    customers (no round trip of its own). A batch therefore uses the settings as committed
    when that statement ran, as it did when it read them itself."""

    version: int | None = None
    policies: dict[Priority, SlaPolicy] = field(default_factory=dict)
    rules: list[RoutingRule] = field(default_factory=list)

    async def as_of(self, session: AsyncSession, version: int) -> OpeningSettings:
        """These settings, read again first if ``version`` is not the one they were read at."""
        if version != self.version:
            # Read after the version: they may be newer than it (an edit committed in
            # between), which only means one more reading at the next batch, never staleness.
            policies = await sla_store.load_sla_policies(session)
            rules = await routing_store.load_routing_rules(session)
            self.version, self.policies, self.rules = version, policies, rules
        return self


async def open_case_for_complaint(
    session: AsyncSession, clock: Clock, event: EventEnvelope
) -> None:
    """A complaint was received: open its case (once), remember the customer, tell others."""
    await open_cases_for_complaints(session, clock, [event])


async def open_cases_for_complaints(
    session: AsyncSession,
    clock: Clock,
    events: Sequence[EventEnvelope],
    settings: OpeningSettings | None = None,
) -> None:
    """Complaints were received (``complaint.received`` events, in partition order): open
    each one's case, remember the customers, tell others; in the caller's transaction.
    ``settings`` is the caller's copy of the SLA policies and routing rules, kept across
    calls (without one they are read afresh).

    Set-based: however many complaints, two statements (the customer upsert, unless one of
    the complaints already has its case, with the settings' version; one insert of the
    cases, their clocks, their history and their ``case.opened`` events), the settings when
    they changed, and two more when a complaint already has its case (a replay). The
    effect is that of opening them one by one in order: a complaint that already has its
    case, or came earlier in this batch, opens nothing, and each case speaks of its
    customer's profile as it stood right after its own complaint."""
    complaints: dict[uuid.UUID, tuple[EventEnvelope, ComplaintReceivedV1]] = {}
    for event in events:
        complaint = event.payload()
        assert isinstance(complaint, ComplaintReceivedV1)
        complaints.setdefault(complaint.complaint_id, (event, complaint))
    fresh = list(complaints.values())
    remembered = await customers_store.remember_customers_unless_opened(
        session, [c for _, c in fresh]
    )
    if remembered is not None:
        profiles, version = remembered
    else:  # some already have their case (a replay): only the others open theirs
        opened_already, version = await store.complaints_with_cases(session, list(complaints))
        fresh = [pair for key, pair in complaints.items() if key not in opened_already]
        if not fresh:
            return
        profiles = await customers_store.remember_customers(session, [c for _, c in fresh])
    now = clock.now()
    current = await (settings or OpeningSettings()).as_of(session, version)
    policies, rules = current.policies, current.rules
    new_cases, clocks, history, opened_events = [], [], [], []
    for (event, complaint), profile in zip(fresh, profiles, strict=True):
        # The case and its event speak of the customer as the profile now stands (contact
        # points, language, preferred channel), so the notification service writes where
        # they want.
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
            tier=profile.tier,
        )
        product = (complaint.product.sku or complaint.product.name) if complaint.product else None
        team, rule_position = route(
            rules,
            {
                "category": case.category,
                "product": product,
                "language": case.language,
                "channel": case.channel,
                "tier": profile.tier,
            },
        )
        new_cases.append((case, complaint, product, team))
        clocks.append((case.id, policies[case.priority].calendar.name, case.clocks))
        # The complaint's correlation id travels on with its case's event and log line.
        correlation_id = bind_correlation_id(event.correlation_id)
        opened = case_opened_event(case, complaint, team=team, customer_tier=profile.tier)
        opened = opened.model_copy(update={"correlation_id": correlation_id})
        routed = {
            "team": team,
            "routing_rule": "default" if rule_position is None else rule_position,
        }
        history.append(
            HistoryEntry(
                "opened",
                SYSTEM_ACTOR,
                None,
                {**case.snapshot(), **routed},
                opened.id,
                case_id=case.id,
            )
        )
        opened_events.append(opened)
        log.info(
            "case_opened",
            case_id=str(case.id),
            reference=case.reference,
            priority=case.priority.value,
        )
    await store.store_opened_cases(session, new_cases, clocks, history, opened_events, now=now)


async def record_notification_outcome(
    session: AsyncSession, clock: Clock, event: EventEnvelope
) -> None:
    """The notification service told a customer something (or failed to): note it in the
    case's history (the case itself does not change)."""
    await record_notification_outcomes(session, clock, [event])


async def record_notification_outcomes(
    session: AsyncSession, clock: Clock, events: Sequence[EventEnvelope]
) -> None:
    """Notification outcomes (``notification.sent`` / ``notification.failed`` events, in
    partition order): note each in its case's history, in their order, in the caller's
    transaction; an outcome of a case this service does not know is dropped (the case itself
    does not change). Set-based: one statement for the whole batch, whose join with the
    cases is the existence check; it sees cases opened earlier in the same transaction."""
    entries = []
    for event in events:
        outcome = event.payload()
        assert isinstance(outcome, NotificationOutcomeV1)
        entries.append(
            HistoryEntry(
                f"notification_{outcome.status}",
                NOTIFICATION_ACTOR,
                None,
                {
                    "notification_id": str(outcome.notification_id),
                    "template": outcome.template,
                    "channel": outcome.channel,
                    "attempts": outcome.attempts,
                    "error": outcome.error,
                },
                event.id,
                case_id=outcome.case_id,
                at=outcome.occurred_at,
            )
        )
    await store.append_history_of_existing_cases(session, entries, clock.now())


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
