"""The analytics group subscribes to exactly the topics that carry the events it applies: a
topic it applies nothing from would still be fetched and decoded, record by record."""

from __future__ import annotations

from analytics_service import consumers
from redress_shared.contract import topic_of


def test_every_subscribed_topic_carries_an_applied_event_and_every_applied_event_is_subscribed():
    carried = {topic_of(event_type) for event_type in consumers.EVENT_TYPES}
    assert set(consumers.TOPICS) == carried
