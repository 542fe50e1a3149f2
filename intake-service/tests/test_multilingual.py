"""A complaint in Latvian, Persian, Romanian, Slovenian (and English) through every channel
gets the right detected language and a sensible category, whatever the customer declared."""

from __future__ import annotations

import uuid

import pytest

# (sentence, expected category); written for these tests.
COMPLAINTS = {
    "lv": ("Mans internets nedarbojas jau trīs dienas, lūdzu, salabojiet to!", "outage"),
    "fa": ("سفارش من دو هفته پیش ارسال شد ولی هنوز به دستم نرسیده است.", "delivery"),
    "ro": ("Mi-ați trimis factura de două ori și vreau rambursarea banilor.", "billing_error"),
    "sl": ("Prodajalka v trgovini je bila zelo nesramna in me je žalila.", "staff_behaviour"),
    "en": ("The kettle stopped working after two days, it is clearly faulty.", "product_defect"),
}


def _email(text: str) -> bytes:
    return (
        f"From: customer.{uuid.uuid4().hex[:6]}@example.com\r\n"
        f"Message-ID: <{uuid.uuid4()}@example.com>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        f"{text}\r\n"
    ).encode()


async def submit(intake, channel: str, text: str):
    unique = uuid.uuid4().hex
    # The declared language is deliberately another one: detection reads the text.
    declared = "de"
    if channel == "api":
        return await intake.post(
            "/v1/complaints",
            json={
                "customer": {"email": f"{unique}@example.com", "language": declared},
                "body": text,
            },
        )
    if channel == "email":
        return await intake.post(
            "/v1/intake/email", content=_email(text), headers={"Content-Type": "message/rfc822"}
        )
    if channel == "phone":
        return await intake.post(
            "/v1/intake/phone",
            json={
                "call_id": unique,
                "caller_number": "+40 721 000 001",
                "started_at": "2026-11-23T08:00:00Z",
                "transcript": text,
                "caller": {"language": declared},
            },
        )
    if channel == "chat":
        return await intake.post(
            "/v1/intake/chat",
            json={
                "chat_id": unique,
                "participants": [
                    {
                        "id": "c",
                        "role": "customer",
                        "email": f"{unique}@example.com",
                        "language": declared,
                    },
                    {"id": "b", "role": "bot"},
                ],
                "messages": [
                    {"participant_id": "b", "sent_at": "2026-11-23T08:00:00Z", "text": "Hello!"},
                    {"participant_id": "c", "sent_at": "2026-11-23T08:00:05Z", "text": text},
                ],
            },
        )
    return await intake.post(
        "/v1/intake/social",
        json={
            "platform": "facebook",
            "post_id": unique,
            "author": {"handle": unique[:12], "language": declared},
            "visibility": "private",
            "text": text,
        },
    )


@pytest.mark.parametrize("channel", ["api", "email", "phone", "chat", "social"])
@pytest.mark.parametrize("language", sorted(COMPLAINTS))
async def test_language_and_category_through_every_channel(intake, probe, language, channel):
    text, category = COMPLAINTS[language]
    answer = await submit(intake, channel, text)
    assert answer.status_code == 202, answer.text
    complaint_id = answer.json()["complaint_id"]
    stored = (await intake.get(f"/v1/complaints/{complaint_id}")).json()
    assert stored["channel"] == channel
    assert stored["body"] == text
    assert stored["language"] == language
    assert stored["category"] == category
    event = (await probe.event_of(complaint_id))["data"]
    assert (event["language"], event["category"]) == (language, category)
    if channel != "email":  # e-mail has no declared language
        assert event["customer"]["language"] == "de"
