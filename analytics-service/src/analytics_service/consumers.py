"""Kafka entrypoints of the analytics service."""

from __future__ import annotations

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
    NOTIFICATIONS_TOPIC,
)
from redress_shared.kafka import EventHandler

from analytics_service.alerts.model import AlertRules
from analytics_service.config import AnalyticsSettings
from analytics_service.facts import service as facts

GROUP_ID = "analytics-service.facts"
TOPICS = (COMPLAINTS_TOPIC, CASES_TOPIC, NOTIFICATIONS_TOPIC)


def handlers(settings: AnalyticsSettings, clock: Clock) -> dict[str, EventHandler]:
    """Event type → handler; each records the event's facts and re-judges the alerts they
    may change, in the consumer's transaction."""
    rules = AlertRules.from_settings(settings)

    async def on_complaint(session, event):  # noqa: ANN001, ANN202
        await facts.record_complaint(session, clock, rules, event.payload())

    async def on_decision(session, event):  # noqa: ANN001, ANN202
        await facts.record_decision(session, clock, rules, event.payload())

    async def on_satisfaction(session, event):  # noqa: ANN001, ANN202
        await facts.record_satisfaction(session, clock, rules, event.payload())

    return {
        COMPLAINT_RECEIVED: on_complaint,
        CASE_OPENED: facts.record_case_opened,
        CASE_DECISION_RECORDED: on_decision,
        # SLA clocks, team and lifecycle of each case; remedies; satisfaction surveys.
        **dict.fromkeys(
            (
                CASE_STATUS_CHANGED,
                CASE_RESPONSE_ADDED,
                CASE_SLA_WARNING,
                CASE_SLA_BREACHED,
                CASE_ASSIGNED,
            ),
            facts.record_case_progress,
        ),
        CASE_REMEDY_CHANGED: facts.record_remedy,
        CASE_SATISFACTION_RECORDED: on_satisfaction,
    }
