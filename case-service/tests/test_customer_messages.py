"""A customer's reply (``complaint.message_received`` from intake) over the real broker: it
joins the case as a customer message with a history entry, resumes a case that was waiting
on the customer, and has exactly one effect however often it is delivered."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from redress_shared.events import (
    COMPLAINT_MESSAGE_RECEIVED,
    COMPLAINTS_TOPIC,
    ComplaintMessageReceivedV1,
    CustomerContact,
    new_event,
)
from redress_testing import eventually, produce


def customer_reply(case: dict, body: str, message_id: uuid.UUID | None = None):
    received_at = datetime.now(UTC)
    payload = ComplaintMessageReceivedV1(
        complaint_id=case["complaint_id"],
        reference=case["reference"],
        message_id=message_id or uuid.uuid4(),
        received_at=received_at,
        channel="email",
        channel_message_id=f"<{uuid.uuid4()}@example.com>",
        customer=CustomerContact(customer_key=case["customer_key"], email="ana@example.com"),
        subject=f"Re: [{case['reference']}]",
        body=body,
        language="ro",
        matched_by="reference",
    )
    return new_event(
        source="/test",
        type=COMPLAINT_MESSAGE_RECEIVED,
        key=case["customer_key"],
        subject=str(case["complaint_id"]),
        payload=payload,
        time=received_at,
    )


async def customer_messages(client, case_id: str) -> list[dict]:
    outcomes = (await client.get(f"/v1/cases/{case_id}/outcomes")).json()
    return [m for m in outcomes["messages"] if m["kind"] == "customer"]


async def test_a_reply_resumes_a_case_awaiting_the_customer(cases_client, open_case, infra):
    case = await open_case()
    case_id = case["id"]
    for action, data in (("start", {}), ("request_info", {"reason": "Serial number, please."})):
        response = await cases_client.post(
            f"/v1/cases/{case_id}/transitions", json={"action": action, **data}
        )
        assert response.status_code == 200, response.text
    version = (await cases_client.get(f"/v1/cases/{case_id}")).json()["version"]

    reply = customer_reply(case, "Numărul de serie este CH20-7781.")
    await produce(infra.kafka_bootstrap_servers, COMPLAINTS_TOPIC, reply)

    async def resumed():
        current = (await cases_client.get(f"/v1/cases/{case_id}")).json()
        return current if current["status"] == "investigating" else None

    current = await eventually(resumed)
    assert current["version"] > version  # the ETag moves: the case changed
    (message,) = await customer_messages(cases_client, case_id)
    assert message["body"] == "Numărul de serie este CH20-7781."
    assert message["author"] == "ana@example.com"
    assert message["id"] == reply.data["message_id"]

    history = (await cases_client.get(f"/v1/cases/{case_id}/events")).json()
    received, resumed_entry = history[-2:]
    assert received["action"] == "customer_message_received"
    assert received["actor"] == "customer"
    assert received["after"]["matched_by"] == "reference"
    assert resumed_entry["action"] == "resume"
    assert resumed_entry["actor"] == "customer"
    assert resumed_entry["before"]["status"] == "awaiting_customer"
    assert "customer replied" in resumed_entry["after"]["reason"]
    # The clocks paused while waiting on the customer run again.
    assert current["clocks"] and all(clock["state"] != "paused" for clock in current["clocks"])


async def test_a_reply_on_an_active_case_is_added_and_counted_once(cases_client, open_case, infra):
    case = await open_case()
    case_id = case["id"]
    reply = customer_reply(case, "Am mai găsit o problemă: cablul e topit.")
    # Delivered twice (at-least-once), and once more under a new event id (a replayed
    # topic): the same message id is one message.
    again = customer_reply(
        case, "Am mai găsit o problemă: cablul e topit.", uuid.UUID(reply.data["message_id"])
    )
    await produce(infra.kafka_bootstrap_servers, COMPLAINTS_TOPIC, reply, reply, again)
    marker = customer_reply(case, "Mulțumesc.")
    await produce(infra.kafka_bootstrap_servers, COMPLAINTS_TOPIC, marker)

    async def both():
        found = await customer_messages(cases_client, case_id)
        return found if len(found) >= 2 else None

    found = await eventually(both)
    assert [m["body"] for m in found] == [
        "Am mai găsit o problemă: cablul e topit.",
        "Mulțumesc.",
    ]
    current = (await cases_client.get(f"/v1/cases/{case_id}")).json()
    assert current["status"] == "new"  # only a case waiting on the customer resumes
    history = (await cases_client.get(f"/v1/cases/{case_id}/events")).json()
    assert [e["action"] for e in history].count("customer_message_received") == 2
