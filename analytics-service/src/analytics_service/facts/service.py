"""Fact use cases: each applies one event inside the consumer's transaction (the inbox
records it in the same one), then re-judges any alert the new facts may change."""

from __future__ import annotations

from decimal import Decimal

from redress_shared.clock import Clock
from redress_shared.events import (
    CaseAssignedV1,
    CaseDecisionRecordedV1,
    CaseOpenedV1,
    CaseRemedyChangedV1,
    CaseResponseAddedV1,
    CaseSatisfactionRecordedV1,
    CaseSlaV1,
    CaseStatusChangedV1,
    ComplaintReceivedV1,
    EventEnvelope,
)
from sqlalchemy.ext.asyncio import AsyncSession

from analytics_service.alerts import service as alerts
from analytics_service.alerts.incidents.service import detect_incidents
from analytics_service.alerts.model import AlertRules, counter_key, month_of
from analytics_service.facts import store
from analytics_service.facts.model import clock_stops, region_of


async def record_complaint(
    session: AsyncSession, clock: Clock, rules: AlertRules, complaint: ComplaintReceivedV1
) -> None:
    """Record a received complaint's fact row (a repeat changes nothing), count the decisions
    that came before it, copy its receipt onto its case, then look for incidents."""
    # Facts copied between a complaint's row and its case's and decisions' rows: see
    # ``lock_complaint``.
    await store.lock_complaint(session, complaint.complaint_id)
    product = complaint.product.sku or complaint.product.name if complaint.product else None
    is_new = await store.insert_complaint(
        session,
        complaint_id=complaint.complaint_id,
        received_at=complaint.received_at,
        channel=complaint.channel,
        category=complaint.category,
        product=product,
        supplier=complaint.supplier,
        language=complaint.language,
        customer_key=complaint.customer.customer_key,
        region=region_of(complaint.customer.phone),
    )
    if is_new:
        await alerts.count_complaint(session, clock, rules.thresholds, complaint.complaint_id)
        await store.copy_receipt_to_case(session, complaint.complaint_id, complaint.received_at)
    await detect_incidents(session, clock, rules.incident, complaint.complaint_id)


async def record_case_opened(session: AsyncSession, event: EventEnvelope) -> None:
    """Record an opened case's fact row and start its progress row."""
    opened = event.payload()
    assert isinstance(opened, CaseOpenedV1)
    await store.lock_complaint(session, opened.complaint_id)
    await store.insert_case(
        session,
        case_id=opened.case_id,
        complaint_id=opened.complaint_id,
        priority=opened.priority,
        customer_tier=opened.customer_tier,
        opened_at=opened.opened_at,
    )
    await record_case_progress(session, event)


async def record_case_progress(session: AsyncSession, event: EventEnvelope) -> None:
    """Merge what a case event says about the case's SLA clocks, team and status."""
    payload = event.payload()
    if isinstance(payload, CaseOpenedV1):
        team = {"team": payload.team, "team_changed_at": payload.opened_at} if payload.team else {}
        await store.merge_progress(
            session,
            payload.case_id,
            complaint_id=payload.complaint_id,
            reference=payload.reference,
            opened_at=payload.opened_at,
            priority=payload.priority,
            customer_tier=payload.customer_tier,
            # The complaint's receipt (when the clocks start), if the complaint came first.
            received_at=store.complaint_receipt(payload.complaint_id),
            # Version 0: any lifecycle change that follows is newer than the opening status.
            status=payload.status,
            status_version=0,
            acknowledge_due_at=payload.due.acknowledge_by,
            first_response_due_at=payload.due.first_response_by,
            resolve_due_at=payload.due.resolve_by,
            **team,
        )
    elif isinstance(payload, CaseStatusChangedV1):
        await store.merge_progress(
            session,
            payload.case_id,
            status=payload.to_status,
            status_version=payload.version,
            reopened=payload.action == "reopen",
            was_paused=payload.to_status == "awaiting_customer",
            **clock_stops(payload.action, payload.to_status, payload.occurred_at),
        )
    elif isinstance(payload, CaseResponseAddedV1):
        at = payload.occurred_at
        await store.merge_progress(
            session, payload.case_id, acknowledged_at=at, first_responded_at=at
        )
    elif isinstance(payload, CaseSlaV1):
        kind = "breached" if event.type.endswith("sla_breached.v1") else "warned"
        await store.merge_progress(
            session, payload.case_id, **{f"{payload.clock}_{kind}_at": payload.occurred_at}
        )
    elif isinstance(payload, CaseAssignedV1):
        await store.merge_progress(
            session, payload.case_id, team=payload.team, team_changed_at=payload.occurred_at
        )
    else:  # pragma: no cover - the consumer routes only the types above here
        raise TypeError(f"no case progress in {event.type}")


async def record_decision(
    session: AsyncSession, clock: Clock, rules: AlertRules, decision: CaseDecisionRecordedV1
) -> None:
    """Keep the latest decision of a case, move its contribution to the supplier's upheld
    counter, then re-evaluate its supplier's month."""
    complaint_id = decision.complaint_id or await store.complaint_of_case(session, decision.case_id)
    if complaint_id is None:
        raise LookupError(f"decision for case {decision.case_id} names no known complaint")
    await store.lock_complaint(session, complaint_id)
    # The complaint (counted only once it is known; else ``count_complaint`` counts it) and
    # the case's decision as it stood.
    known = await store.complaint_with_decision(session, complaint_id, decision.case_id)
    after = await store.upsert_decision(
        session,
        case_id=decision.case_id,
        complaint_id=complaint_id,
        validity=decision.validity,
        root_cause=decision.root_cause,
        decided_at=decision.occurred_at,
    )
    # Only a decision that was stored (new, or newer than the stored one) changes anything.
    if after is None or known is None or known.supplier is None:
        return
    await alerts.move_upheld_count(
        session,
        clock,
        rules.thresholds,
        known.supplier,
        known.received_at,
        old=counter_key(known.supplier, known.received_at, known.validity, known.root_cause),
        new=counter_key(known.supplier, known.received_at, after.validity, after.root_cause),
    )


async def record_remedy(session: AsyncSession, event: EventEnvelope) -> None:
    """Keep each remedy's newest state (an older, late change does not overwrite it)."""
    remedy = event.payload()
    assert isinstance(remedy, CaseRemedyChangedV1)
    await store.upsert_remedy(
        session,
        remedy_id=remedy.remedy_id,
        case_id=remedy.case_id,
        remedy_type=remedy.remedy_type,
        status=remedy.status,
        amount=Decimal(remedy.amount) if remedy.amount is not None else None,
        currency=remedy.currency,
        changed_at=remedy.occurred_at,
    )


async def record_satisfaction(
    session: AsyncSession, clock: Clock, rules: AlertRules, survey: CaseSatisfactionRecordedV1
) -> None:
    """Keep each case's newest satisfaction survey, then raise or clear the satisfaction
    alerts of its month (and of the month of the survey it replaced)."""
    replaced = await store.upsert_satisfaction(
        session,
        case_id=survey.case_id,
        coefficient=Decimal(survey.coefficient),
        would_recommend=survey.would_recommend,
        would_continue=survey.would_continue,
        recorded_at=survey.occurred_at,
    )
    months = {month_of(survey.occurred_at)}
    if replaced is not None:
        months.add(month_of(replaced))
    for month in sorted(months):
        await alerts.evaluate_satisfaction(session, clock, month, rules.satisfaction_min_answers)
