"""Kafka entrypoints of the analytics service."""

from __future__ import annotations

from datetime import timedelta

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

from analytics_service import alerts, figures, incidents, service
from analytics_service.config import AnalyticsSettings
from analytics_service.models import Attribution, IncidentRule

GROUP_ID = "analytics-service.facts"
TOPICS = (COMPLAINTS_TOPIC, CASES_TOPIC, NOTIFICATIONS_TOPIC)


def handlers(settings: AnalyticsSettings, clock: Clock) -> dict[str, EventHandler]:
    """Event type → handler; facts first, then any alert they may change."""
    thresholds = {
        Attribution.SUPPLIER_COMPONENT: settings.supplier_component_threshold,
        Attribution.MANUFACTURING: settings.manufacturing_threshold,
    }

    incident_rule = IncidentRule(
        window=timedelta(minutes=settings.incident_window_minutes),
        baseline=timedelta(days=settings.incident_baseline_days),
        factor=settings.incident_factor,
        min_count=settings.incident_min_count,
        false_alarm_probability=settings.incident_false_alarm_probability,
    )

    async def on_complaint(session, event):  # noqa: ANN001, ANN202
        complaint_id = event.payload().complaint_id
        # Facts copied between a complaint's row and its case's and decisions' rows: see
        # ``lock_complaint``.
        await alerts.lock_complaint(session, complaint_id)
        if await service.record_complaint(session, event):  # a repeat changes nothing
            await alerts.count_complaint(session, clock, thresholds, complaint_id)
            await figures.record_complaint_receipt(session, event)
        await incidents.detect_incidents(session, clock, incident_rule, complaint_id)

    async def on_case_opened(session, event):  # noqa: ANN001, ANN202
        await alerts.lock_complaint(session, event.payload().complaint_id)
        await service.record_case_opened(session, event)
        await figures.record_case_progress(session, event)

    async def on_decision(session, event):  # noqa: ANN001, ANN202
        await alerts.record_decision(session, clock, thresholds, event)

    async def on_satisfaction(session, event):  # noqa: ANN001, ANN202
        await figures.record_satisfaction(session, clock, event, settings.satisfaction_min_answers)

    return {
        COMPLAINT_RECEIVED: on_complaint,
        CASE_OPENED: on_case_opened,
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
            figures.record_case_progress,
        ),
        CASE_REMEDY_CHANGED: figures.record_remedy,
        CASE_SATISFACTION_RECORDED: on_satisfaction,
    }
