"""case.opened → one acknowledgement e-mail on a real SMTP server, in the customer's language."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from notification_service.templates import TemplateRenderer
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
from redress_stack.testing import eventually, produce
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
    text = message.get_content()
    assert "Stimate/Stimată Ana Pop" in text
    assert "2026-11-25 09:00 UTC" in text  # first response due
    assert "2026-12-07" in text  # resolution target
    assert await outcome_events(notifications_client, case_id) == [NOTIFICATION_SENT]


async def test_unknown_language_falls_back_to_english():
    renderer = TemplateRenderer("en")
    assert renderer.language_for("acknowledgement", "lv") == "en"
    assert renderer.language_for("acknowledgement", "ro-RO") == "ro"


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
    assert "no e-mail" in notification["last_error"]
