"""Channels: the preferred one first, fallback when it is missing or fails for good, retries
when it fails for now. E-mail goes to a real SMTP server, SMS and chat to a real HTTP gateway,
both on loopback."""

from __future__ import annotations

import email
import uuid
from datetime import UTC, datetime
from email import policy

import pytest
from notification_service.adapters.smtp import SmtpEmailSender
from notification_service.messages.model import OutgoingMessage, PermanentDeliveryError
from redress_shared.events import CASES_TOPIC, NOTIFICATION_SENT
from redress_testing import produce
from sqlalchemy import select


def _address(domain: str = "example.com") -> str:
    return f"ana.{uuid.uuid4().hex[:8]}@{domain}"


def _phone() -> str:
    return f"+4071{uuid.uuid4().int % 10**7:07d}"


async def _outcomes(client, case_id) -> list[dict]:
    outbox = client.app.state.runtime.tables.outbox
    async with client.app.state.runtime.session_factory() as session:
        rows = await session.execute(
            select(outbox.c.event).where(outbox.c.message_key == str(case_id))
        )
        return [row.event for row in rows]


async def test_preferred_sms_goes_through_the_gateway(
    notifications_client, message_gateway, infra, case_story, settled_notifications
):
    phone = _phone()
    story = case_story(_address(), phone=phone, language="ro", preferred_channel="sms")
    await produce(infra.kafka_bootstrap_servers, CASES_TOPIC, story.opened)
    (notification,) = await settled_notifications(notifications_client, story.case_id, 1)
    assert (notification["status"], notification["channel"]) == ("sent", "sms")
    (sms,) = message_gateway.to(phone)
    assert sms["channel"] == "sms" and sms["reference"] == story.reference
    assert sms["language"] == "ro" and story.reference in sms["text"]
    assert sms["idempotency_key"] == notification["message_id"]


async def test_a_rejected_recipient_fails_on_email_and_falls_back_to_sms(
    notifications_client, smtp_server, message_gateway, infra, case_story, settled_notifications
):
    server, _ = smtp_server
    phone = _phone()
    refused = _address(server.refused_domain)
    story = case_story(refused, phone=phone, preferred_channel="email")
    await produce(infra.kafka_bootstrap_servers, CASES_TOPIC, story.opened)
    (notification,) = await settled_notifications(notifications_client, story.case_id, 1)
    assert (notification["status"], notification["channel"]) == ("sent", "sms")
    failed, sent = notification["delivery_attempts"]
    assert (failed["channel"], failed["outcome"], failed["recipient"]) == (
        "email",
        "failed",
        refused,
    )
    assert "550" in failed["error"]
    assert (sent["channel"], sent["outcome"]) == ("sms", "sent")
    assert len(message_gateway.to(phone)) == 1
    assert server.to(refused) == []
    outcomes = await _outcomes(notifications_client, story.case_id)
    assert [(e["type"], e["data"]["channel"]) for e in outcomes] == [(NOTIFICATION_SENT, "sms")]


async def test_a_missing_phone_skips_sms(
    notifications_client, smtp_server, message_gateway, infra, case_story, settled_notifications
):
    server, _ = smtp_server
    address = _address()
    story = case_story(address, phone=None, preferred_channel="sms")
    await produce(infra.kafka_bootstrap_servers, CASES_TOPIC, story.opened)
    (notification,) = await settled_notifications(notifications_client, story.case_id, 1)
    assert (notification["status"], notification["channel"]) == ("sent", "email")
    assert [a["channel"] for a in notification["delivery_attempts"]] == ["email"]
    assert len(server.to(address)) == 1


async def test_a_gateway_refusal_falls_back_to_email(
    notifications_client, smtp_server, message_gateway, infra, case_story, settled_notifications
):
    server, _ = smtp_server
    phone, address = _phone(), _address()
    message_gateway.refused.add(phone)
    story = case_story(address, phone=phone, preferred_channel="sms")
    await produce(infra.kafka_bootstrap_servers, CASES_TOPIC, story.opened)
    (notification,) = await settled_notifications(notifications_client, story.case_id, 1)
    assert (notification["status"], notification["channel"]) == ("sent", "email")
    assert [(a["channel"], a["outcome"]) for a in notification["delivery_attempts"]] == [
        ("sms", "failed"),
        ("email", "sent"),
    ]
    assert "400" in notification["delivery_attempts"][0]["error"]
    (mail,) = server.to(address)
    assert mail["Message-ID"] == notification["message_id"]


async def test_a_gateway_that_fails_for_now_is_retried_on_the_same_channel(
    notifications_client, message_gateway, infra, case_story, settled_notifications
):
    phone = _phone()
    message_gateway.flaky[phone] = 2
    story = case_story(_address(), phone=phone, preferred_channel="sms")
    await produce(infra.kafka_bootstrap_servers, CASES_TOPIC, story.opened)
    (notification,) = await settled_notifications(notifications_client, story.case_id, 1)
    assert (notification["status"], notification["channel"]) == ("sent", "sms")
    assert notification["attempts"] == 3
    assert [a["outcome"] for a in notification["delivery_attempts"]] == ["retry", "retry", "sent"]
    assert len(message_gateway.to(phone)) == 1


async def test_a_chat_complaint_is_answered_in_the_chat(
    notifications_client, message_gateway, infra, case_story, settled_notifications
):
    story = case_story(None, preferred_channel="chat", channel="chat")
    await produce(infra.kafka_bootstrap_servers, CASES_TOPIC, story.opened)
    (notification,) = await settled_notifications(notifications_client, story.case_id, 1)
    assert (notification["status"], notification["channel"]) == ("sent", "chat")
    customer_key = story.opened.data["customer"]["customer_key"]
    (reply,) = message_gateway.to(customer_key)
    assert reply["channel"] == "chat" and reply["reference"] == story.reference


async def test_no_usable_contact_point_fails_at_once(
    notifications_client, infra, case_story, settled_notifications
):
    # Preferred chat, but the complaint came by API: no conversation to answer in, no e-mail.
    story = case_story(None, preferred_channel="chat", channel="api")
    await produce(infra.kafka_bootstrap_servers, CASES_TOPIC, story.opened)
    (notification,) = await settled_notifications(notifications_client, story.case_id, 1)
    assert notification["status"] == "failed"
    assert notification["delivery_attempts"] == []


async def test_a_greylisting_smtp_server_is_retried_and_the_mail_sent_once(
    notifications_client, smtp_server, infra, case_story, settled_notifications
):
    server, _ = smtp_server
    address = _address()
    server.greylisted[address] = 1
    story = case_story(address)
    await produce(infra.kafka_bootstrap_servers, CASES_TOPIC, story.opened)
    (notification,) = await settled_notifications(notifications_client, story.case_id, 1)
    assert (notification["status"], notification["channel"]) == ("sent", "email")
    assert [a["outcome"] for a in notification["delivery_attempts"]] == ["retry", "sent"]
    assert "451" in notification["delivery_attempts"][0]["error"]
    assert len(server.to(address)) == 1


async def test_a_channel_that_keeps_failing_for_now_falls_back_after_the_last_attempt(
    notifications_client, smtp_server, message_gateway, infra, case_story, settled_notifications
):
    server, _ = smtp_server
    phone, address = _phone(), _address()
    message_gateway.flaky[phone] = 100  # 503 forever; max_send_attempts is 3 in these tests
    story = case_story(address, phone=phone, preferred_channel="sms")
    await produce(infra.kafka_bootstrap_servers, CASES_TOPIC, story.opened)
    (notification,) = await settled_notifications(notifications_client, story.case_id, 1)
    assert (notification["status"], notification["channel"]) == ("sent", "email")
    assert [(a["channel"], a["outcome"]) for a in notification["delivery_attempts"]] == [
        ("sms", "retry"),
        ("sms", "retry"),
        ("sms", "failed"),
        ("email", "sent"),
    ]
    assert message_gateway.to(phone) == []
    assert len(server.to(address)) == 1


SUBJECTS = [
    "Am primit reclamația dumneavoastră [RDR-2026-000123]",
    "شکایت شما را دریافت کردیم [RDR-2026-000123]",
    "Am primit reclamația dumneavoastră despre încărcătorul defect și vă vom răspunde în "
    "curând, după ce verificăm comanda [RDR-2026-000123]",
    "Ξ" * 120 + " [RDR-2026-000123]",
    "Looks =?utf-8?q?encoded?= but is not, with an emoji 😀 [RDR-2026-000123]",
    "A plain subject long enough to be folded over more than one line of the header "
    "[RDR-2026-000123]",
]


def test_an_email_subject_reads_back_whole_with_lines_in_bounds_and_the_reference_as_is(
    notification_settings,
):
    sender = SmtpEmailSender(notification_settings)
    for subject in SUBJECTS:
        message = OutgoingMessage(
            message_id="<m@redress.example>",
            channel="email",
            recipient="ana@example.com",
            reference="RDR-2026-000123",
            language="ro",
            subject=subject,
            body_text="Text",
            body_html="<p>Text</p>",
        )
        raw = sender.compose(message, datetime.now(UTC))
        header = raw.decode("ascii").split("\r\nSubject: ", 1)[1].split("\r\nMessage-ID:")[0]
        assert email.message_from_bytes(raw, policy=policy.default)["Subject"] == subject
        assert all(len(line) <= 78 for line in f"Subject: {header}".split("\r\n"))
        assert "[RDR-2026-000123]" in header  # searchable in the raw header


def _email_to(recipient: str) -> OutgoingMessage:
    return OutgoingMessage(
        message_id="<m@redress.example>",
        channel="email",
        recipient=recipient,
        reference="RDR-2026-000123",
        language="en",
        subject="We received your complaint [RDR-2026-000123]",
        body_text="Text",
        body_html="<p>Text</p>",
    )


async def test_an_address_smtp_cannot_carry_fails_for_good_without_a_connection(
    notification_settings,
):
    # An address that would smuggle ESMTP parameters into RCPT: no server ever takes it,
    # so it is not tried again (the message falls back to the next contact point).
    sender = SmtpEmailSender(notification_settings)
    with pytest.raises(PermanentDeliveryError, match="not an address SMTP can carry"):
        await sender.send(_email_to("ana <a b@example.com>"), datetime.now(UTC))
    assert sender._idle == []  # nothing was opened for it


def test_each_email_has_a_boundary_of_its_own(notification_settings):
    sender = SmtpEmailSender(notification_settings)
    boundaries = {
        email.message_from_bytes(
            sender.compose(_email_to("ana@example.com"), datetime.now(UTC))
        ).get_boundary()
        for _ in range(3)
    }
    assert len(boundaries) == 3
