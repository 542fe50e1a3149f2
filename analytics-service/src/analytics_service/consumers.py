"""Kafka entrypoints of the analytics service."""

from __future__ import annotations

from redress_shared.events import (
    CASE_OPENED,
    CASES_TOPIC,
    COMPLAINT_RECEIVED,
    COMPLAINTS_TOPIC,
    NOTIFICATIONS_TOPIC,
)
from redress_shared.kafka import EventHandler

from analytics_service import service

GROUP_ID = "analytics-service.facts"
TOPICS = (COMPLAINTS_TOPIC, CASES_TOPIC, NOTIFICATIONS_TOPIC)

HANDLERS: dict[str, EventHandler] = {
    COMPLAINT_RECEIVED: service.record_complaint,
    CASE_OPENED: service.record_case_opened,
}
