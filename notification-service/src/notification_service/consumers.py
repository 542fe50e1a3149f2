"""Kafka entrypoints of the notification service: which case events tell the customer what
(see ``notifications.py`` for how), and every case event and alert to webhook subscribers."""

from __future__ import annotations

from collections.abc import Callable

from redress_shared.clock import Clock
from redress_shared.events import (
    ALERTS_TOPIC,
    CASE_DECISION_RECORDED,
    CASE_OPENED,
    CASE_REMEDY_CHANGED,
    CASE_RESPONSE_ADDED,
    CASE_SLA_BREACHED,
    CASE_STATUS_CHANGED,
    CASES_TOPIC,
    CaseDecisionRecordedV1,
    CaseOpenedV1,
    CaseRemedyChangedV1,
    CaseResponseAddedV1,
    CaseSlaV1,
    CaseStatusChangedV1,
    EventEnvelope,
)
from redress_shared.kafka import EventHandler
from sqlalchemy.ext.asyncio import AsyncSession

from notification_service import notifications, service
from notification_service.notifications import Messaging, when
from notification_service.templates import (
    ACKNOWLEDGEMENT,
    DECISION,
    DELAY_APOLOGY,
    INFORMATION_REQUEST,
    INVESTIGATING,
    REMEDY,
    RESOLVED,
    RESPONSE,
    SURVEY,
)
from notification_service.webhooks import webhook_event_types

GROUP_ID = "notification-service.cases"
TOPICS = (CASES_TOPIC, ALERTS_TOPIC)

# An SLA breach of these clocks is a promise to the customer we broke: we apologise.
APOLOGISED_CLOCKS = frozenset({"first_response", "resolve"})

Planned = tuple[str, dict] | None  # (message kind, template variables), or nothing to tell


def acknowledgement(opened: CaseOpenedV1) -> Planned:
    """Reference, next steps and the expected timeline."""
    return ACKNOWLEDGEMENT, {
        "subject": opened.subject,
        "first_response_by": when(opened.due.first_response_by),
        "resolve_by": opened.due.resolve_by.strftime("%Y-%m-%d"),
    }


def status_message(changed: CaseStatusChangedV1, survey_base_url: str) -> Planned:
    """The status changes worth telling: we need something from the customer, work started
    (or started again after a reopening), resolved, and closed (with the survey link). The
    move back to investigating after the customer answered is not news to them."""
    if changed.to_status == "awaiting_customer":
        return INFORMATION_REQUEST, {"question": changed.reason or ""}
    if changed.to_status == "investigating" and changed.from_status != "awaiting_customer":
        return INVESTIGATING, {}
    if changed.to_status == "resolved":
        return RESOLVED, {"resolution": changed.reason}
    if changed.to_status == "closed":
        return SURVEY, {"survey_url": f"{survey_base_url}/{changed.reference}"}
    return None


def delay_apology(breach: CaseSlaV1, new_time_after) -> Planned:  # noqa: ANN001
    """ "We are late, here is the new time": the case service's new time when the event has
    one, else ``breach_new_time_after`` from the breach."""
    if breach.clock not in APOLOGISED_CLOCKS:
        return None
    new_time = breach.new_due_at or breach.occurred_at + new_time_after
    return DELAY_APOLOGY, {
        "deadline": breach.clock,
        "missed_at": when(breach.due_at),
        "new_time": when(new_time),
    }


def handlers(clock: Clock, messaging: Messaging) -> dict[str, EventHandler]:
    """Event type → handler, each in the consumer's transaction (with its inbox record, so
    a redelivered event has no second effect): webhook deliveries for every case event and
    alert, plus the customer's message where the event is worth telling."""
    settings = messaging.settings

    async def to_subscribers(session: AsyncSession, event: EventEnvelope) -> None:
        await service.plan_webhook_deliveries(session, clock, event)

    def telling_the_customer(plan: Callable[..., Planned]) -> EventHandler:
        async def handler(session: AsyncSession, event: EventEnvelope) -> None:
            payload = event.payload()
            if isinstance(payload, CaseOpenedV1):
                await notifications.remember_contact(session, payload)
            if isinstance(payload, CaseStatusChangedV1):
                if payload.to_status == "resolved":
                    await notifications.schedule_follow_up(
                        session, messaging, payload.case_id, event, payload.occurred_at
                    )
                elif payload.from_status in ("resolved", "closed"):
                    await notifications.cancel_follow_ups(session, payload.case_id)
            planned = plan(payload)
            if planned is not None:
                kind, context = planned
                await notifications.plan_message(
                    session,
                    messaging,
                    trigger_id=event.id,
                    kind=kind,
                    case_id=payload.case_id,  # type: ignore[attr-defined]
                    context=context,
                    correlation_id=event.correlation_id,
                )
            await service.plan_webhook_deliveries(session, clock, event)

        return handler

    def response(added: CaseResponseAddedV1) -> Planned:
        return RESPONSE, {"message": added.message}

    def decision(decided: CaseDecisionRecordedV1) -> Planned:
        return DECISION, {
            "validity": decided.validity,
            "explanation": decided.explanation,
            "way_forward": decided.way_forward,
        }

    def remedy(changed: CaseRemedyChangedV1) -> Planned:
        # Told when it is offered (amount, method, deadline); approvals stay internal.
        if changed.status != "offered":
            return None
        return REMEDY, {
            "remedy_type": changed.remedy_type,
            "amount": changed.amount,
            "currency": changed.currency,
            "method": changed.method,
            "due_date": changed.due_date.isoformat() if changed.due_date else None,
        }

    table: dict[str, EventHandler] = dict.fromkeys(webhook_event_types(), to_subscribers)
    table[CASE_OPENED] = telling_the_customer(acknowledgement)
    table[CASE_RESPONSE_ADDED] = telling_the_customer(response)
    table[CASE_DECISION_RECORDED] = telling_the_customer(decision)
    table[CASE_REMEDY_CHANGED] = telling_the_customer(remedy)
    table[CASE_STATUS_CHANGED] = telling_the_customer(
        lambda changed: status_message(changed, settings.survey_base_url)
    )
    table[CASE_SLA_BREACHED] = telling_the_customer(
        lambda breach: delay_apology(breach, settings.breach_new_time_after)
    )
    return table
