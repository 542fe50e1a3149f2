"""Kafka entrypoints of the analytics service: the one index from event type to use case.

The group applies a fetched batch in one call (``batch_handler``): its events are grouped
by type and each group goes to a set-based use case, in an order that lets later steps see
earlier ones (a case before its complaint, its progress and decisions). The per-event
``handlers`` are the same code with a batch of one (the consumer's fallback when a batch
fails)."""

from __future__ import annotations

from collections import defaultdict

from redress_shared.clock import Clock
from redress_shared.events import (
    CASE_ASSIGNED,
    CASE_DECISION_RECORDED,
    CASE_OPENED,
    CASE_REMEDY_CHANGED,
    CASE_RESPONSE_ADDED,
    CASE_SATISFACTION_RECORDED,
    CASE_SLA_BREACHED,
    CASE_SLA_WARNING,
    CASE_STATUS_CHANGED,
    CASES_TOPIC,
    COMPLAINT_RECEIVED,
    COMPLAINTS_TOPIC,
    EventEnvelope,
)
from redress_shared.kafka import BatchHandler, EventHandler

from analytics_service.alerts.model import AlertRules
from analytics_service.config import AnalyticsSettings
from analytics_service.facts import service as facts

GROUP_ID = "analytics-service.facts"
# Only the topics that carry an event type of ``EVENT_TYPES``: the notification outcomes say
# nothing a figure counts, and every record of a subscribed topic is fetched and decoded.
TOPICS = (COMPLAINTS_TOPIC, CASES_TOPIC)

# SLA clocks, team and lifecycle of each case (the opening too: it starts the progress row).
PROGRESS_TYPES = frozenset(
    {
        CASE_OPENED,
        CASE_STATUS_CHANGED,
        CASE_RESPONSE_ADDED,
        CASE_SLA_WARNING,
        CASE_SLA_BREACHED,
        CASE_ASSIGNED,
    }
)
EVENT_TYPES = (
    COMPLAINT_RECEIVED,
    *sorted(PROGRESS_TYPES),
    CASE_DECISION_RECORDED,
    CASE_REMEDY_CHANGED,
    CASE_SATISFACTION_RECORDED,
)


def batch_handler(settings: AnalyticsSettings, clock: Clock) -> BatchHandler:
    """Apply a batch of events (partition order) in the consumer's transaction: the locks of
    its complaints at once, the facts of each type with one statement per table, then the
    alerts they may change, once each."""
    rules = AlertRules.from_settings(settings)

    async def apply(session, events: list[EventEnvelope]) -> None:  # noqa: ANN001
        parsed = [(event.type, event.payload()) for event in events]  # each parsed once
        by_type: dict[str, list] = defaultdict(list)
        for event_type, payload in parsed:
            by_type[event_type].append(payload)
        await facts.lock_complaints(session, by_type)
        # Openings first: a complaint whose case opens in the same batch (the usual live
        # batch) is then inserted with its case's priority and tier, instead of inserted and
        # then updated (every index of the row written twice). Either order ends the same.
        if CASE_OPENED in by_type:
            await facts.record_cases_opened(session, by_type[CASE_OPENED])
        if COMPLAINT_RECEIVED in by_type:
            await facts.record_complaints(session, clock, rules, by_type[COMPLAINT_RECEIVED])
        progress = [(t, payload) for t, payload in parsed if t in PROGRESS_TYPES]
        if progress:
            await facts.record_case_progress(session, progress)
        if CASE_DECISION_RECORDED in by_type:
            await facts.record_decisions(session, clock, rules, by_type[CASE_DECISION_RECORDED])
        if CASE_REMEDY_CHANGED in by_type:
            await facts.record_remedies(session, by_type[CASE_REMEDY_CHANGED])
        if CASE_SATISFACTION_RECORDED in by_type:
            await facts.record_satisfaction(
                session, clock, rules, by_type[CASE_SATISFACTION_RECORDED]
            )

    return apply


def handlers(settings: AnalyticsSettings, clock: Clock) -> dict[str, EventHandler]:
    """Event type → handler (the types this group applies): the batch handler with one
    event."""
    apply = batch_handler(settings, clock)

    async def one(session, event: EventEnvelope) -> None:  # noqa: ANN001
        await apply(session, [event])

    return dict.fromkeys(EVENT_TYPES, one)
