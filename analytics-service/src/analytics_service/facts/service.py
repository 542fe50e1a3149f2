"""Fact use cases: each applies a batch of events of one kind inside the consumer's
transaction (the inbox records them in the same one), with one statement per table, then
re-judges once each alert the new facts may change (per supplier month, per survey month, per
incident group touched), not once per event.

A batch's repeats of one row are merged here first by the same rules the store applies to a
stored row (first complaint, first case, newest decision / remedy / survey, the progress
merge rules), so a batch ends exactly as its events applied one by one would.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from pydantic import BaseModel
from redress_shared.clock import Clock
from redress_shared.events import (
    CASE_DECISION_RECORDED,
    CASE_OPENED,
    COMPLAINT_RECEIVED,
    CaseAssignedV1,
    CaseDecisionRecordedV1,
    CaseOpenedV1,
    CaseRemedyChangedV1,
    CaseResponseAddedV1,
    CaseSatisfactionRecordedV1,
    CaseSlaV1,
    CaseStatusChangedV1,
    ComplaintReceivedV1,
)
from sqlalchemy.ext.asyncio import AsyncSession

from analytics_service.alerts import service as alerts
from analytics_service.alerts.incidents.service import Arrival, detect_incidents
from analytics_service.alerts.model import AlertRules, counter_key, month_of
from analytics_service.facts import store
from analytics_service.facts.model import clock_stops, merge_progress_values, region_of


async def record_complaints(
    session: AsyncSession, clock: Clock, rules: AlertRules, complaints: list[ComplaintReceivedV1]
) -> None:
    """Record received complaints' fact rows (a repeat changes nothing), count the decisions
    that came before them, copy their receipts onto their cases, then look for incidents."""
    rows: dict[uuid.UUID, dict[str, Any]] = {}
    for complaint in complaints:
        product = complaint.product.sku or complaint.product.name if complaint.product else None
        rows.setdefault(
            complaint.complaint_id,
            {
                "complaint_id": complaint.complaint_id,
                "received_at": complaint.received_at,
                "channel": complaint.channel,
                "category": complaint.category,
                "product": product,
                "supplier": complaint.supplier,
                "language": complaint.language,
                "customer_key": complaint.customer.customer_key,
                "region": region_of(complaint.customer.phone),
            },
        )
    # Facts copied between a complaint's row and its case's and decisions' rows: see
    # ``lock_complaints``.
    await store.lock_complaints(session, set(rows))
    fresh = await store.insert_complaints(session, list(rows.values()))
    arrivals = []
    if fresh:
        decided = [
            (r["supplier"], r["received_at"], r["validity"], r["root_cause"])
            for r in fresh
            if r["validity"] is not None
        ]
        await alerts.count_decided(session, clock, rules.thresholds, decided)
        new = {r["complaint_id"] for r in fresh}
        arrivals = [
            Arrival(r["complaint_id"], r["received_at"], r["category"], r["product"], r["region"])
            for r in rows.values()
            if r["complaint_id"] in new
        ]
    await detect_incidents(session, clock, rules.incident, arrivals)


async def lock_complaints(session: AsyncSession, by_type: dict[str, list[BaseModel]]) -> None:
    """Take, in one statement, the lock of every complaint whose facts a batch copies between
    rows (see ``store.lock_complaints``): its received complaints, and those of its opened
    cases and of its decisions that name their complaint. The steps of the batch then find
    them held; one lock order for the whole batch."""
    ids = {c.complaint_id for c in by_type.get(COMPLAINT_RECEIVED, ())}
    ids |= {c.complaint_id for c in by_type.get(CASE_OPENED, ())}
    ids |= {d.complaint_id for d in by_type.get(CASE_DECISION_RECORDED, ()) if d.complaint_id}
    if ids:
        await store.lock_complaints(session, ids)


async def record_cases_opened(session: AsyncSession, opened: list[CaseOpenedV1]) -> None:
    """Record opened cases' fact rows (the first case of a complaint counts). Their progress
    rows are started by ``record_case_progress``."""
    rows: dict[uuid.UUID, dict[str, Any]] = {}
    for case in opened:
        rows.setdefault(
            case.case_id,
            {
                "case_id": case.case_id,
                "complaint_id": case.complaint_id,
                "priority": case.priority,
                "customer_tier": case.customer_tier,
                "opened_at": case.opened_at,
            },
        )
    await store.lock_complaints(session, {row["complaint_id"] for row in rows.values()})
    await store.insert_cases(session, list(rows.values()))


def progress_of(event_type: str, payload: BaseModel) -> dict[str, Any]:
    """What a case event says about the case's SLA clocks, team and status."""
    if isinstance(payload, CaseOpenedV1):
        team = {"team": payload.team, "team_changed_at": payload.opened_at} if payload.team else {}
        return {
            "case_id": payload.case_id,
            "complaint_id": payload.complaint_id,
            "reference": payload.reference,
            "opened_at": payload.opened_at,
            "priority": payload.priority,
            "customer_tier": payload.customer_tier,
            # Version 0: any lifecycle change that follows is newer than the opening status.
            "status": payload.status,
            "status_version": 0,
            "acknowledge_due_at": payload.due.acknowledge_by,
            "first_response_due_at": payload.due.first_response_by,
            "resolve_due_at": payload.due.resolve_by,
            **team,
        }
    if isinstance(payload, CaseStatusChangedV1):
        return {
            "case_id": payload.case_id,
            "status": payload.to_status,
            "status_version": payload.version,
            "reopened": payload.action == "reopen",
            "was_paused": payload.to_status == "awaiting_customer",
            **clock_stops(payload.action, payload.to_status, payload.occurred_at),
        }
    if isinstance(payload, CaseResponseAddedV1):
        at = payload.occurred_at
        return {"case_id": payload.case_id, "acknowledged_at": at, "first_responded_at": at}
    if isinstance(payload, CaseSlaV1):
        kind = "breached" if event_type.endswith("sla_breached.v1") else "warned"
        return {"case_id": payload.case_id, f"{payload.clock}_{kind}_at": payload.occurred_at}
    if isinstance(payload, CaseAssignedV1):
        return {
            "case_id": payload.case_id,
            "team": payload.team,
            "team_changed_at": payload.occurred_at,
        }
    raise TypeError(f"no case progress in {event_type}")  # pragma: no cover - routed by type


async def record_case_progress(session: AsyncSession, events: list[tuple[str, BaseModel]]) -> None:
    """Merge what case events say about their cases' SLA clocks, team and status: one row per
    case, merged first across the batch, then upserted by the same rules."""
    merged: dict[uuid.UUID, dict[str, Any]] = {}
    for event_type, payload in events:
        values = progress_of(event_type, payload)
        merge_progress_values(merged.setdefault(values["case_id"], {}), values)
    for row in merged.values():
        row.setdefault("reopened", False)
        row.setdefault("was_paused", False)
    await store.merge_progress(session, list(merged.values()))


async def record_decisions(
    session: AsyncSession, clock: Clock, rules: AlertRules, decisions: list[CaseDecisionRecordedV1]
) -> None:
    """Keep the latest decision of each case, move its contribution to its supplier's upheld
    counter, then re-evaluate each supplier month touched."""
    unknown = {d.case_id for d in decisions if d.complaint_id is None}
    of_case = await store.complaints_of_cases(session, unknown) if unknown else {}
    latest: dict[uuid.UUID, dict[str, Any]] = {}
    for decision in decisions:
        complaint_id = decision.complaint_id or of_case.get(decision.case_id)
        if complaint_id is None:
            raise LookupError(f"decision for case {decision.case_id} names no known complaint")
        stored = latest.get(decision.case_id)
        # The newest decision wins; of two equally new ones, the first recorded.
        if stored is None or stored["decided_at"] < decision.occurred_at:
            latest[decision.case_id] = {
                "case_id": decision.case_id,
                "complaint_id": stored["complaint_id"] if stored else complaint_id,
                "validity": decision.validity,
                "root_cause": decision.root_cause,
                "decided_at": decision.occurred_at,
            }
    rows = list(latest.values())
    await store.lock_complaints(session, {row["complaint_id"] for row in rows})
    # Each complaint (counted only once it is known; else ``count_decided`` counts it) and
    # its case's decision as it stood.
    known = await store.complaints_with_decisions(
        session, [(row["case_id"], row["complaint_id"]) for row in rows]
    )
    after = await store.upsert_decisions(session, rows)
    moves = []
    for case_id, now in after.items():
        before = known.get(case_id)
        if before is None or before.supplier is None:
            continue
        supplier, received_at = before.supplier, before.received_at
        moves.append(
            (
                supplier,
                received_at,
                counter_key(supplier, received_at, before.validity, before.root_cause),
                counter_key(supplier, received_at, now.validity, now.root_cause),
            )
        )
    await alerts.move_upheld_counts(session, clock, rules.thresholds, moves)


async def record_remedies(session: AsyncSession, remedies: list[CaseRemedyChangedV1]) -> None:
    """Keep each remedy's newest state (an older, late change does not overwrite it)."""
    rows: dict[uuid.UUID, dict[str, Any]] = {}
    for remedy in remedies:
        stored = rows.get(remedy.remedy_id)
        if stored is None or stored["changed_at"] < remedy.occurred_at:
            rows[remedy.remedy_id] = {
                "remedy_id": remedy.remedy_id,
                "case_id": stored["case_id"] if stored else remedy.case_id,
                "remedy_type": remedy.remedy_type,
                "status": remedy.status,
                "amount": Decimal(remedy.amount) if remedy.amount is not None else None,
                "currency": remedy.currency,
                "changed_at": remedy.occurred_at,
            }
    await store.upsert_remedies(session, list(rows.values()))


async def record_satisfaction(
    session: AsyncSession,
    clock: Clock,
    rules: AlertRules,
    surveys: list[CaseSatisfactionRecordedV1],
) -> None:
    """Keep each case's newest satisfaction survey, then raise or clear the satisfaction
    alerts of each month touched (of the surveys, and of the surveys they replaced)."""
    rows: dict[uuid.UUID, dict[str, Any]] = {}
    for survey in surveys:
        stored = rows.get(survey.case_id)
        if stored is None or stored["recorded_at"] < survey.occurred_at:
            rows[survey.case_id] = {
                "case_id": survey.case_id,
                "coefficient": Decimal(survey.coefficient),
                "would_recommend": survey.would_recommend,
                "would_continue": survey.would_continue,
                "recorded_at": survey.occurred_at,
            }
    replaced = await store.upsert_satisfaction(session, list(rows.values()))
    months = {month_of(survey.occurred_at) for survey in surveys}
    months |= {month_of(at) for at in replaced.values()}
    for month in sorted(months):
        await alerts.evaluate_satisfaction(session, clock, month, rules.satisfaction_min_answers)
