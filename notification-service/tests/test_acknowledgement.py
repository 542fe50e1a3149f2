"""case.opened → one acknowledgement e-mail on a real SMTP server, in the customer's language."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from redress_shared.events import (
    CASE_OPENED,
    CASES_TOPIC,
    NOTIFICATION_FAILED,
    NOTIFICATION_SENT,
    CaseDueTimes,
    CaseOpenedV1,
    CustomerContact,
    new_event,
)
from redress_testing import eventually, produce
from sqlalchemy import select


def case_opened(email: str | None, language: str = "ro"):
    opened_at = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    case_id = uuid.uuid4()
    payload = CaseOpenedV1(
        case_id=case_id,
        complaint_id=uuid.uuid4(),
        reference=f"RDR-2026-{uuid.uuid4().int % 10**6:06d}",
        status="new",
        priority="normal",
        channel="api",
        opened_at=opened_at,
        subject="Broken charger",
        language=language,
        customer=CustomerContact(customer_key="k", name="Ana Pop", email=email, language=language),
        due=CaseDueTimes(
            acknowledge_by=opened_at + timedelta(hours=24),
            first_response_by=opened_at + timedelta(days=2),
            resolve_by=opened_at + timedelta(days=14),
        ),
        sla_policy="normal-default",
    )
    return new_event(
        source="/test", type=CASE_OPENED, key=str(case_id), payload=payload, time=opened_at
    )


async def outcome_events(client, case_id: str) -> list[str]:
    outbox = client.app.state.runtime.tables.outbox
    async with client.app.state.runtime.session_factory() as session:
        rows = await session.execute(select(outbox.c.event).where(outbox.c.message_key == case_id))
        return [row.event["type"] for row in rows]


async def test_acknowledgement_is_sent_once_in_the_customers_language(
    notifications_client, smtp_server, infra
):
    server, _ = smtp_server
    address = f"ana.{uuid.uuid4().hex[:8]}@example.com"
    event = case_opened(address)
    await produce(infra.kafka_bootstrap_servers, CASES_TOPIC, event, event)
    case_id = event.data["case_id"]

    async def sent():
        listed = (
            await notifications_client.get("/v1/notifications", params={"case_id": case_id})
        ).json()
        return listed if listed and listed[0]["status"] == "sent" else None

    (notification,) = await eventually(sent)
    assert notification["template"] == "acknowledgement"
    assert notification["language"] == "ro"

    (message,) = server.to(address)
    reference = event.data["reference"]
    assert reference in message["Subject"]
    assert message["Message-ID"] == notification["message_id"]
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "Stimate/Stimată Ana Pop" in text
    # The first response is due two days after opening, written for Romanian in the desk's
    # time zone (UTC here): CLDR's long date, the time, and the zone's name.
    assert "25 noiembrie 2026, 09:00" in " ".join(text.split())
    assert "până la 7 decembrie 2026" in text  # resolution target, a date
    assert await outcome_events(notifications_client, case_id) == [NOTIFICATION_SENT]


async def test_refused_recipient_fails_permanently_and_reports_it(
    notifications_client, smtp_server, infra
):
    server, _ = smtp_server
    event = case_opened(f"nobody@{server.refused_domain}", language="en")
    await produce(infra.kafka_bootstrap_servers, CASES_TOPIC, event)
    case_id = event.data["case_id"]

    async def failed():
        listed = (
            await notifications_client.get("/v1/notifications", params={"case_id": case_id})
        ).json()
        return listed if listed and listed[0]["status"] == "failed" else None

    (notification,) = await eventually(failed)
    assert notification["attempts"] == 1
    assert "550" in notification["last_error"]
    assert await outcome_events(notifications_client, case_id) == [NOTIFICATION_FAILED]


async def test_customer_without_email_is_recorded_as_failed(notifications_client, infra):
    event = case_opened(None)
    await produce(infra.kafka_bootstrap_servers, CASES_TOPIC, event)

    async def recorded():
        return (
            await notifications_client.get(
                "/v1/notifications", params={"case_id": event.data["case_id"]}
            )
        ).json()

    (notification,) = await eventually(recorded)
    assert notification["status"] == "failed"
    assert "no usable contact point" in notification["last_error"]


async def test_customer_hears_the_response_the_decision_and_the_survey(
    notifications_client, smtp_server, infra
):
    from redress_shared.events import (
        CASE_DECISION_RECORDED,
        CASE_RESPONSE_ADDED,
        CASE_STATUS_CHANGED,
        CaseDecisionRecordedV1,
        CaseResponseAddedV1,
        CaseStatusChangedV1,
    )

    server, _ = smtp_server
    address = f"ana.{uuid.uuid4().hex[:8]}@example.com"
    opened = case_opened(address)
    case_id, reference = uuid.UUID(opened.data["case_id"]), opened.data["reference"]
    at = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)

    def case_event(event_type, payload):
        return new_event(
            source="/test", type=event_type, key=str(case_id), payload=payload, time=at
        )

    response = case_event(
        CASE_RESPONSE_ADDED,
        CaseResponseAddedV1(
            case_id=case_id,
            reference=reference,
            response_id=uuid.uuid4(),
            message="Vă trimitem azi un încărcător nou.",
            author="agent",
            occurred_at=at,
        ),
    )
    decision = case_event(
        CASE_DECISION_RECORDED,
        CaseDecisionRecordedV1(
            case_id=case_id,
            reference=reference,
            validity="unjustified",
            root_cause="misuse",
            explanation="Încărcătorul a fost folosit cu un adaptor nepotrivit.",
            way_forward="O reducere de 30 % la un model compatibil.",
            decided_by="lead",
            occurred_at=at,
        ),
    )
    closed = case_event(
        CASE_STATUS_CHANGED,
        CaseStatusChangedV1(
            case_id=case_id,
            reference=reference,
            action="close",
            from_status="resolved",
            to_status="closed",
            version=6,
            actor="agent",
            occurred_at=at,
        ),
    )
    started = case_event(
        CASE_STATUS_CHANGED,
        CaseStatusChangedV1(
            case_id=case_id,
            reference=reference,
            action="start",
            from_status="new",
            to_status="investigating",
            version=2,
            actor="agent",
            occurred_at=at,
        ),
    )
    await produce(
        infra.kafka_bootstrap_servers,
        CASES_TOPIC,
        opened,
        started,
        response,
        decision,
        closed,
        closed,
    )

    async def all_sent():
        listed = (
            await notifications_client.get("/v1/notifications", params={"case_id": str(case_id)})
        ).json()
        return listed if len([n for n in listed if n["status"] == "sent"]) >= 5 else None

    listed = await eventually(all_sent)
    assert sorted(n["template"] for n in listed) == [
        "acknowledgement",
        "decision",
        "investigating",
        "response",
        "survey",
    ]
    messages = {
        m["Subject"]: m.get_body(preferencelist=("plain",)).get_content()
        for m in server.to(address)
    }
    assert len(messages) == 5  # the repeated "closed" event sends no second survey
    by_kind = {
        kind: next(text for subject, text in messages.items() if marker in subject)
        for kind, marker in [
            ("response", "Despre reclamația"),
            ("decision", "Decizia noastră"),
            ("survey", "Cum ne-am descurcat"),
        ]
    }
    assert "încărcător nou" in by_kind["response"]
    assert "nu am găsit o greșeală" in by_kind["decision"]
    assert "adaptor nepotrivit" in by_kind["decision"] and "reducere de 30 %" in by_kind["decision"]
    assert f"/survey/{reference}" in by_kind["survey"]
