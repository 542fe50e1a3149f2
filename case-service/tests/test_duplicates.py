"""Likely duplicates are suggested on the case for an agent to confirm; never merged silently."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from case_service.duplicates.model import CaseText, similarity, suggest_duplicates
from redress_shared.events import COMPLAINTS_TOPIC
from redress_testing import eventually, produce


def test_similarity_ignores_order_case_and_punctuation_in_any_script():
    assert (
        similarity("Broken charger, stopped after 2 days", "STOPPED after 2 days: charger broken!")
        == 1
    )
    assert similarity("Lādētājs nedarbojas", "lādētājs NEDARBOJAS.") == 1
    assert similarity("شارژر کار نمی کند", "شارژر کار نمی کند!") == 1
    assert similarity("Broken charger", "Invoice charged twice for delivery") < 0.5
    assert similarity("", "anything") == 0


def test_suggestions_keep_the_similar_ones_most_similar_first():
    def case(subject: str, days: int) -> CaseText:
        received = datetime(2026, 11, 1, tzinfo=UTC) + timedelta(days=days)
        return CaseText(uuid.uuid4(), f"RDR-{days}", "new", received, subject, None)

    this = case("charger broken after two days", 5)
    exact, close, unrelated = (
        case("broken charger after two days", 1),
        case("my charger is broken after two days of use", 2),
        case("wrong invoice", 3),
    )
    ranked = suggest_duplicates(this, [unrelated, close, exact, this], threshold=0.7)
    assert [s.case for s in ranked] == [exact, close]
    assert ranked[0].similarity == 1


async def test_a_case_shows_the_same_customers_similar_recent_cases(
    cases_client, infra, complaint_event
):
    customer = str(uuid.uuid4())
    now = datetime.now(UTC)

    async def publish(subject: str, body: str, key: str = customer, received_at=None) -> dict:
        event = complaint_event(customer_key=key, received_at=received_at or now)
        event = event.model_copy(update={"data": {**event.data, "subject": subject, "body": body}})
        await produce(infra.kafka_bootstrap_servers, COMPLAINTS_TOPIC, event)

        async def opened():
            page = await cases_client.get(
                "/v1/cases", params={"complaint_id": event.data["complaint_id"]}
            )
            return page.json()["items"]

        (case,) = await eventually(opened)
        return case

    first = await publish("Broken charger", "The charger stopped working after two days.")
    again = await publish("Charger broken", "My charger stopped working after two days!")
    await publish("Billing", "I was invoiced twice for the delivery.")  # same customer, other topic
    await publish(
        "Broken charger", "The charger stopped working after two days.", str(uuid.uuid4())
    )
    await publish(
        "Broken charger",
        "The charger stopped working after two days.",
        received_at=now - timedelta(days=30),  # outside the 14-day window
    )

    read = (await cases_client.get(f"/v1/cases/{again['id']}")).json()
    (suggestion,) = read["duplicate_suggestions"]
    assert suggestion["case_id"] == first["id"]
    assert suggestion["reference"] == first["reference"]
    assert 0.7 <= suggestion["similarity"] <= 1
    assert read["status"] == "new", "a suggestion is never merged by itself"
    assert read["body"] == "My charger stopped working after two days!"
    first_read = (await cases_client.get(f"/v1/cases/{first['id']}")).json()
    assert [s["case_id"] for s in first_read["duplicate_suggestions"]] == [again["id"]]

    # The agent confirms: the duplicate is merged and no longer suggested.
    merged = await cases_client.post(
        f"/v1/cases/{again['id']}/transitions",
        json={"action": "merge", "into_case_id": first["id"]},
    )
    assert merged.status_code == 200, merged.text
    assert (await cases_client.get(f"/v1/cases/{first['id']}")).json()[
        "duplicate_suggestions"
    ] == []
    assert (await cases_client.get(f"/v1/cases/{again['id']}")).json()[
        "duplicate_suggestions"
    ] == []
