"""Case use cases. Event-driven ones run inside the consumer's transaction (which also
records the event in the inbox); every state change appends to the history and, when other
services need to know, writes its event to the outbox in the same transaction."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime, timedelta

import structlog
from redress_shared.clock import Clock
from redress_shared.errors import NotFound, Problem
from redress_shared.events import (
    CASE_OPENED,
    CASE_STATUS_CHANGED,
    CASES_TOPIC,
    CaseDueTimes,
    CaseOpenedV1,
    CaseStatusChangedV1,
    ComplaintReceivedV1,
    CustomerContact,
    EventEnvelope,
    NotificationOutcomeV1,
    new_event,
)
from redress_shared.outbox import add_to_outbox
from sqlalchemy import Row, and_, exists, func, or_, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from case_service import sla, tables
from case_service.clocks import ClockName
from case_service.duplicates import CaseText, DuplicateSuggestion, suggest_duplicates
from case_service.history import append_history
from case_service.models import (
    OPEN_STATUSES,
    Action,
    Case,
    CaseState,
    CaseStatus,
    DueTimes,
    IllegalTransition,
    InvalidTransitionRequest,
    Priority,
    SlaPolicy,
    clocks_after,
    open_case,
)
from case_service.routing import RoutingRule, route
from case_service.schemas import CaseFilter, SlaState

EVENT_SOURCE = "/redress/case-service"
log = structlog.get_logger(__name__)
SYSTEM_ACTOR = "system"


async def load_sla_policies(session: AsyncSession) -> dict[Priority, SlaPolicy]:
    """The SLA policy of each priority, with its business calendar."""
    rows = (await session.execute(select(tables.sla_policies))).all()
    calendars = {
        row.name: sla.calendar_from_row(row)
        for row in (await session.execute(select(tables.calendars))).all()
    }
    return {
        Priority(row.priority): SlaPolicy(
            name=row.name,
            priority=Priority(row.priority),
            acknowledge_within=row.acknowledge_within,
            first_response_within=row.first_response_within,
            resolve_within=row.resolve_within,
            calendar=calendars[row.calendar],
            warning_share=row.warning_share,
            statutory_cap=row.statutory_cap,
        )
        for row in rows
    }


async def open_case_for_complaint(
    session: AsyncSession, clock: Clock, event: EventEnvelope
) -> None:
    """A complaint was received: open its case (once), remember the customer, tell others."""
    complaint = event.payload()
    assert isinstance(complaint, ComplaintReceivedV1)
    already = await session.scalar(
        select(tables.cases.c.id).where(tables.cases.c.complaint_id == complaint.complaint_id)
    )
    if already is not None:
        return
    now = clock.now()
    policies = await load_sla_policies(session)
    profile = await _remember_customer(session, complaint, now)
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
    rules = [
        RoutingRule(r.team, r.category, r.product, r.language, r.channel, r.tier)
        for r in (
            await session.execute(
                select(tables.routing_rules).order_by(tables.routing_rules.c.position)
            )
        ).all()
    ]
    product = (complaint.product.sku or complaint.product.name) if complaint.product else None
    team, rule_position = route(
        rules,
        {
            "category": case.category,
            "product": product,
            "language": case.language,
            "channel": case.channel,
            "tier": tier,
        },
    )
    await session.execute(
        tables.cases.insert().values(
            id=case.id,
            complaint_id=case.complaint_id,
            reference=case.reference,
            status=case.status.value,
            priority=case.priority.value,
            category=case.category,
            channel=case.channel,
            customer_key=case.customer_key,
            subject=case.subject,
            body=complaint.body,
            language=case.language,
            received_at=case.received_at,
            opened_at=case.opened_at,
            supplier=complaint.supplier,
            product=product,
            team=team,
            updated_at=now,
            acknowledge_by=case.due.acknowledge_by,
            first_response_by=case.due.first_response_by,
            resolve_by=case.due.resolve_by,
            sla_policy=case.sla_policy,
        )
    )
    await sla.insert_clocks(session, case.id, policies[case.priority].calendar.name, case.clocks)
    opened = case_opened_event(case, complaint, team=team, customer_tier=tier)
    routed = {"team": team, "routing_rule": "default" if rule_position is None else rule_position}
    await append_history(
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


async def _remember_customer(
    session: AsyncSession, complaint: ComplaintReceivedV1, now: datetime
) -> Row:
    """Create or refresh the customer's profile from a complaint; return the profile."""
    customers = tables.customers
    contact = complaint.customer
    statement = insert(customers).values(
        customer_key=contact.customer_key,
        name=contact.name,
        email=contact.email,
        phone=contact.phone,
        language=contact.language,
        first_seen_at=complaint.received_at,
        last_complaint_at=complaint.received_at,
        complaint_count=1,
        preferred_channel=contact.preferred_channel,
    )
    excluded = statement.excluded
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[customers.c.customer_key],
            set_={
                # The newest complaint's contact points win; a missing one keeps the old.
                **{
                    column: func.coalesce(excluded[column], customers.c[column])
                    for column in ("name", "email", "phone", "language", "preferred_channel")
                },
                "complaint_count": customers.c.complaint_count + 1,
                "last_complaint_at": excluded.last_complaint_at,
            },
        )
    )
    return (
        await session.execute(
            select(customers).where(customers.c.customer_key == contact.customer_key)
        )
    ).one()


def customer_contact(contact: CustomerContact, profile: Row) -> CustomerContact:
    """``contact`` completed from the customer's profile: what the profile holds wins (it
    already took the complaint's newest contact points), what it lacks is kept."""
    return contact.model_copy(
        update={
            field: getattr(profile, field)
            for field in ("name", "email", "phone", "language", "preferred_channel")
            if getattr(profile, field) is not None
        }
    )


def case_opened_event(
    case: Case,
    complaint: ComplaintReceivedV1,
    team: str | None = None,
    customer_tier: str | None = None,
) -> EventEnvelope:
    """The ``redress.case.opened.v1`` event of a newly opened case."""
    payload = CaseOpenedV1(
        case_id=case.id,
        complaint_id=case.complaint_id,
        reference=case.reference,
        status=case.status.value,
        priority=case.priority.value,
        category=case.category,
        channel=case.channel,
        opened_at=case.opened_at,
        subject=case.subject,
        language=case.language,
        customer=complaint.customer,
        product=complaint.product,
        supplier=complaint.supplier,
        due=CaseDueTimes(
            acknowledge_by=case.due.acknowledge_by,
            first_response_by=case.due.first_response_by,
            resolve_by=case.due.resolve_by,
        ),
        sla_policy=case.sla_policy,
        team=team,
        customer_tier=customer_tier,
    )
    return new_event(
        source=EVENT_SOURCE,
        type=CASE_OPENED,
        key=str(case.id),
        subject=str(case.id),
        payload=payload,
        time=case.opened_at,
    )


async def record_notification_outcome(
    session: AsyncSession, clock: Clock, event: EventEnvelope
) -> None:
    """The notification service told a customer something (or failed to): note it on the case."""
    outcome = event.payload()
    assert isinstance(outcome, NotificationOutcomeV1)
    exists = await session.scalar(
        select(tables.cases.c.id).where(tables.cases.c.id == outcome.case_id)
    )
    if exists is None:
        return
    await append_history(
        session,
        outcome.case_id,
        outcome.occurred_at,
        "notification-service",
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
    session_factory: async_sessionmaker[AsyncSession],
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
    cases = tables.cases
    async with session_factory() as session, session.begin():
        wanted = {case_id} | ({into_case_id} if action is Action.MERGE and into_case_id else set())
        # Lock in id order so two merges of the same pair cannot deadlock.
        locked = {
            row.id: row
            for row in (
                await session.execute(
                    select(cases)
                    .where(cases.c.id.in_(wanted))
                    .order_by(cases.c.id)
                    .with_for_update()
                )
            ).all()
        }
        row = locked.get(case_id)
        if row is None:
            raise NotFound("case", case_id)
        check_version(row, expected_version)
        now = clock.now()
        before = lifecycle_state(row)
        try:
            after = before.apply(
                action, now=now, reopen_window=reopen_window, reason=reason, merge_into=into_case_id
            )
        except IllegalTransition as exc:
            raise Problem(
                409,
                "illegal-transition",
                "This action is not allowed in the case's current state",
                str(exc),
                status_now=exc.status.value,
                allowed_actions=[allowed.value for allowed in exc.allowed],
            ) from exc
        except InvalidTransitionRequest as exc:
            raise Problem(
                422, "invalid-transition-request", "The transition request is incomplete", str(exc)
            ) from exc
        primary_id = into_case_id if action is Action.MERGE else row.merged_into
        if action is Action.MERGE:
            _check_merge_target(case_id, locked.get(into_case_id))
        await session.execute(
            cases.update()
            .where(cases.c.id == case_id)
            .values(
                status=after.status.value,
                version=after.version,
                closed_at=after.closed_at,
                reopen_count=after.reopen_count,
                merged_into=after.merged_into,
                status_before_merge=after.status_before_merge.value
                if after.status_before_merge
                else None,
                updated_at=now,
            )
        )
        calendar_name, clocks = await sla.load_clocks(session, case_id)
        calendar = await sla.load_calendar(session, calendar_name)
        targets = await _policy_targets(session, row.sla_policy) if action is Action.UNMERGE else {}
        new_clocks = clocks_after(action, clocks, now, calendar, targets)
        await sla.save_clocks(session, case_id, new_clocks)
        due = DueTimes.of(list(new_clocks.values())) if len(new_clocks) == len(ClockName) else None
        event = status_changed_event(row, before, after, action, actor, reason, now, due)
        after_snapshot = {**after.snapshot(), **({"reason": reason} if reason else {})}
        restarted = {
            name.value: clock.due_at.isoformat()
            for name, clock in new_clocks.items()
            if clock.started_at != clocks[name].started_at
        }
        if restarted:
            # The history says which deadlines started afresh (reopen, unmerge) and when due.
            after_snapshot["sla_restarted"] = restarted
        await append_history(
            session, case_id, now, actor, action.value, before.snapshot(), after_snapshot, event.id
        )
        if action in (Action.MERGE, Action.UNMERGE) and primary_id is not None:
            # The primary case's history tells what was folded into it, and out again.
            await append_history(
                session,
                primary_id,
                now,
                actor,
                "merged_in" if action is Action.MERGE else "unmerged",
                None,
                {"duplicate_case_id": str(case_id), "reference": row.reference},
                event.id,
            )
        await add_to_outbox(session, tables.platform, CASES_TOPIC, event)
        updated = (await session.execute(select(cases).where(cases.c.id == case_id))).one()
    log.info(
        "case_transition", case_id=str(case_id), action=action.value, status=after.status.value
    )
    return updated


async def _policy_targets(session: AsyncSession, policy_name: str) -> dict[ClockName, timedelta]:
    """The current targets of the named SLA policy (empty if it no longer exists)."""
    policy = (
        await session.execute(
            select(tables.sla_policies).where(tables.sla_policies.c.name == policy_name)
        )
    ).first()
    if policy is None:
        return {}
    return {
        ClockName.ACKNOWLEDGE: policy.acknowledge_within,
        ClockName.FIRST_RESPONSE: policy.first_response_within,
        ClockName.RESOLVE: policy.resolve_within,
    }


def check_version(row: Row, expected_version: int | None) -> None:
    """Refuse a write based on a stale read (``If-Match``) with 412."""
    if expected_version is not None and row.version != expected_version:
        raise Problem(
            412,
            "stale-version",
            "The case has changed since you read it",
            f"If-Match names version {expected_version}; the case is at version {row.version}. "
            "Read it again and retry.",
            current_version=row.version,
        )


async def lock_case(session: AsyncSession, case_id: uuid.UUID, expected_version: int | None) -> Row:
    """The case row, locked for this transaction; 404 if unknown, 412 if stale."""
    row = (
        await session.execute(
            select(tables.cases).where(tables.cases.c.id == case_id).with_for_update()
        )
    ).first()
    if row is None:
        raise NotFound("case", case_id)
    check_version(row, expected_version)
    return row


async def touch_case(session: AsyncSession, row: Row, now: datetime) -> int:
    """Bump the case's version (its ETag) after a change to it or its parts."""
    await session.execute(
        tables.cases.update()
        .where(tables.cases.c.id == row.id)
        .values(version=row.version + 1, updated_at=now)
    )
    return row.version + 1


def lifecycle_state(row: Row) -> CaseState:
    """The pure lifecycle state of a stored case row, for applying an action to it."""
    return CaseState(
        status=CaseStatus(row.status),
        version=row.version,
        closed_at=row.closed_at,
        reopen_count=row.reopen_count,
        merged_into=row.merged_into,
        status_before_merge=CaseStatus(row.status_before_merge)
        if row.status_before_merge
        else None,
    )


def _check_merge_target(case_id: uuid.UUID, primary: Row | None) -> None:
    if primary is None:
        raise Problem(
            422, "invalid-transition-request", "Unknown primary case", "into_case_id names no case"
        )
    if primary.id == case_id:
        raise Problem(422, "invalid-transition-request", "A case cannot be merged into itself")
    if CaseStatus(primary.status) not in OPEN_STATUSES:
        raise Problem(
            422,
            "invalid-transition-request",
            "The primary case is not open",
            f"Case {primary.reference} is {primary.status}; merge into an open case",
        )


def status_changed_event(
    row: Row,
    before: CaseState,
    after: CaseState,
    action: Action,
    actor: str,
    reason: str | None,
    now: datetime,
    due: DueTimes | None = None,
) -> EventEnvelope:
    """The ``redress.case.status_changed.v1`` event of one transition, with the case's
    deadlines after it."""
    payload = CaseStatusChangedV1(
        case_id=row.id,
        reference=row.reference,
        action=action.value,
        from_status=before.status.value,
        to_status=after.status.value,
        version=after.version,
        actor=actor,
        reason=reason,
        merged_into=after.merged_into,
        occurred_at=now,
        due=CaseDueTimes(
            acknowledge_by=due.acknowledge_by,
            first_response_by=due.first_response_by,
            resolve_by=due.resolve_by,
        )
        if due
        else None,
    )
    return new_event(
        source=EVENT_SOURCE,
        type=CASE_STATUS_CHANGED,
        key=str(row.id),
        subject=str(row.id),
        payload=payload,
        time=now,
    )


# Queries -----------------------------------------------------------------------------------


def encode_cursor(row: Row) -> str:
    """Opaque keyset cursor after ``row`` (newest first)."""
    return base64.urlsafe_b64encode(f"{row.opened_at.isoformat()}|{row.id}".encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        opened_at, case_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return datetime.fromisoformat(opened_at), uuid.UUID(case_id)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Problem(
            400,
            "invalid-cursor",
            "The cursor is not valid",
            "Use the next_cursor of a previous page",
        ) from exc


async def list_cases(
    session_factory: async_sessionmaker[AsyncSession], filters: CaseFilter
) -> tuple[list[Row], str | None]:
    """A page of matching cases, newest first (stable: ties broken by id), and the cursor of
    the next page (None at the end)."""
    cases, clocks = tables.cases, tables.case_clocks
    query = (
        select(cases).order_by(cases.c.opened_at.desc(), cases.c.id.desc()).limit(filters.limit + 1)
    )
    equal = {
        "complaint_id": filters.complaint_id,
        "category": filters.category,
        "channel": filters.channel,
        "customer_key": filters.customer_key,
        "team": filters.team,
        "assignee": filters.assignee,
    }
    for column, value in equal.items():
        if value is not None:
            query = query.where(cases.c[column] == value)
    if filters.status:
        query = query.where(cases.c.status.in_([s.value for s in filters.status]))
    if filters.priority:
        query = query.where(cases.c.priority.in_([p.value for p in filters.priority]))
    if filters.text:
        pattern = (
            "%" + filters.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        )
        query = query.where(or_(cases.c.subject.ilike(pattern), cases.c.reference.ilike(pattern)))
    for column, lower, upper in (
        (cases.c.opened_at, filters.opened_from, filters.opened_to),
        (cases.c.updated_at, filters.updated_from, filters.updated_to),
    ):
        if lower is not None:
            query = query.where(column >= lower)
        if upper is not None:
            query = query.where(column < upper)
    if filters.sla_state is not None:
        of_case = clocks.c.case_id == cases.c.id
        breached = exists().where(of_case, clocks.c.state == "breached")
        warned = exists().where(of_case, clocks.c.warning_fired_at.is_not(None))
        query = query.where(
            {
                SlaState.BREACHED: breached,
                SlaState.WARNING: and_(warned, ~breached),
                SlaState.OK: and_(~warned, ~breached),
            }[filters.sla_state]
        )
    if filters.cursor is not None:
        query = query.where(
            tuple_(cases.c.opened_at, cases.c.id) < tuple_(*_decode_cursor(filters.cursor))
        )
    async with session_factory() as session:
        rows = list((await session.execute(query)).all())
    next_cursor = encode_cursor(rows[filters.limit - 1]) if len(rows) > filters.limit else None
    return rows[: filters.limit], next_cursor


async def get_case(
    session_factory: async_sessionmaker[AsyncSession], case_id: uuid.UUID
) -> Row | None:
    """One case, or None."""
    async with session_factory() as session:
        return (
            await session.execute(select(tables.cases).where(tables.cases.c.id == case_id))
        ).first()


async def case_history(
    session_factory: async_sessionmaker[AsyncSession], case_id: uuid.UUID
) -> list[Row]:
    """The append-only history of a case, oldest first."""
    history = tables.case_history
    async with session_factory() as session:
        return list(
            (
                await session.execute(
                    select(history).where(history.c.case_id == case_id).order_by(history.c.id)
                )
            ).all()
        )


async def case_clocks(
    session_factory: async_sessionmaker[AsyncSession], case_id: uuid.UUID, now: datetime
) -> list[dict]:
    """Each SLA clock of a case as ops sees it: target, elapsed, remaining, paused, state."""
    async with session_factory() as session:
        calendar_name, clocks = await sla.load_clocks(session, case_id)
        calendar = await sla.load_calendar(session, calendar_name)
    return [clock.view(now, calendar) for clock in clocks.values()]


# Cases that are already folded away or left the process are not offered as duplicates.
NOT_DUPLICATE_CANDIDATES = (CaseStatus.MERGED.value, CaseStatus.WITHDRAWN.value)


async def duplicate_suggestions(
    session_factory: async_sessionmaker[AsyncSession],
    case: Row,
    window: timedelta,
    threshold: float,
) -> list[DuplicateSuggestion]:
    """Likely duplicates of ``case``: the same customer's other cases received within
    ``window`` of it whose text is at least ``threshold`` similar. Only suggested; an agent
    confirms one with a merge."""
    if case.status in NOT_DUPLICATE_CANDIDATES:
        return []
    cases = tables.cases
    async with session_factory() as session:
        rows = (
            await session.execute(
                select(cases)
                .where(
                    cases.c.customer_key == case.customer_key,
                    cases.c.id != case.id,
                    cases.c.status.not_in(NOT_DUPLICATE_CANDIDATES),
                    cases.c.received_at.between(
                        case.received_at - window, case.received_at + window
                    ),
                )
                .order_by(cases.c.received_at)
                .limit(100)
            )
        ).all()
    return suggest_duplicates(_case_text(case), [_case_text(row) for row in rows], threshold)


def _case_text(row: Row) -> CaseText:
    return CaseText(row.id, row.reference, row.status, row.received_at, row.subject, row.body)
