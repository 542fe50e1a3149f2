"""What happens when a time limit or a size limit is hit, with the limits made tiny so the
outcome does not depend on the machine's speed: an e-mail whose parsing runs out of time
is quarantined (stored, replayable), a complaint whose enrichment runs out of time is
registered without it, and an event never exceeds its size limit, whatever the text."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from intake_service.complaints.events import (
    complaint_received_event,
    message_received_event,
    record_size,
)
from intake_service.complaints.model import ComplaintDraft, build_customer
from intake_service.config import IntakePolicy
from intake_service.email.model import UnparseableMessage
from intake_service.email.service import receive_email
from intake_service.normalisation.model import enrich, warm_up
from intake_service.normalisation.service import INLINE_TEXT_CHARS, normalise
from redress_shared.events import ComplaintMessageReceivedV1, ComplaintReceivedV1

NO_TIME = IntakePolicy(parse_time_limit=0)


def draft(body: str, **context) -> ComplaintDraft:
    customer = build_customer(
        name=None, email=f"limits-{uuid.uuid4().hex[:8]}@example.com", phone=None, language="en"
    )
    return ComplaintDraft(channel="api", customer=customer, body=body, context=context or None)


async def test_an_email_whose_parsing_runs_out_of_time_is_quarantined(intake, probe):
    runtime = intake.app.state.runtime
    raw = (
        b"From: slow@example.com\r\nMessage-ID: <" + uuid.uuid4().hex.encode() + b"@x>\r\n"
        b"Content-Type: text/plain\r\n\r\nThe parcel never arrived.\r\n"
    )
    with pytest.raises(UnparseableMessage) as raised:
        await receive_email(runtime.session_factory, runtime.clock, raw, "test", NO_TIME)
    assert "parsing took longer than 0 s" in str(raised.value)
    listed = (await intake.get("/v1/quarantine", params={"limit": 500})).json()
    assert str(raised.value.submission_id) in {item["id"] for item in listed["items"]}
    # With time to parse, the same stored message replays into a complaint.
    replayed = await intake.post(f"/v1/quarantine/{raised.value.submission_id}/replay")
    assert replayed.status_code == 202, replayed.text


async def test_a_complaint_whose_enrichment_runs_out_of_time_is_registered_without_it():
    enriched = await normalise(draft("The parcel never arrived."), time_limit=0)
    assert enriched.category is None
    assert enriched.language == "en"  # the customer's declared language
    assert "skipped" in (enriched.classification or {})


async def test_a_small_and_a_large_text_are_enriched_alike_on_the_loop_and_in_a_thread():
    # Small texts are enriched on the event loop, larger ones in a worker thread: same result.
    await asyncio.to_thread(warm_up)
    small = draft("The parcel never arrived, order SO-1042. My lawyer is informed.")
    large = draft(small.body + " " + "x" * INLINE_TEXT_CHARS)
    for original in (small, large):
        enriched = await normalise(original)
        assert enriched == enrich(original)
        assert enriched.category == "delivery"
        assert enriched.priority_hint == "high"
        assert enriched.order_ref == "SO-1042"


@pytest.mark.parametrize(
    "text",
    ["😀" * 100_000, chr(1) * 100_000, "a" * 100_000, "ж" * 100_000],
    ids=["emoji", "control characters", "ascii", "cyrillic"],
)
def test_no_event_exceeds_its_size_limit(text):
    policy = IntakePolicy(max_event_text_bytes=8 * 1024, max_event_bytes=64 * 1024)
    complaint = draft(text, transcript=[{"text": text}], chat_id="c-1").register(
        uuid.uuid4(), 1, datetime.now(UTC)
    )
    event = complaint_received_event(complaint, policy.max_event_text_bytes, policy.max_event_bytes)
    assert record_size(event) <= policy.max_event_bytes
    payload = ComplaintReceivedV1.model_validate(event.data)
    assert event.data["body_truncated"] is True and event.data["body_chars"] == 100_000
    assert payload.body.endswith(f"[truncated: full text at GET /v1/complaints/{complaint.id}]")
    assert event.data["context"] == {"chat_id": "c-1"}
    assert event.data["context_omitted"] == ["transcript"]

    reply = message_received_event(
        complaint_id=complaint.id,
        reference=complaint.reference,
        customer_key=complaint.draft.customer.key,
        matched_by="reference",
        message_id=uuid.uuid4(),
        received_at=complaint.received_at,
        draft=complaint.draft,
        body=text,
        language=None,
        max_text_bytes=policy.max_event_text_bytes,
        max_event_bytes=policy.max_event_bytes,
    )
    assert record_size(reply) <= policy.max_event_bytes
    assert ComplaintMessageReceivedV1.model_validate(reply.data).body.endswith(
        f"GET /v1/complaints/{complaint.id}/messages]"
    )


def test_a_small_complaint_is_published_unchanged():
    complaint = draft("The kettle broke.").register(uuid.uuid4(), 1, datetime.now(UTC))
    data = complaint_received_event(complaint).data
    assert data["body"] == "The kettle broke."
    assert not {"body_truncated", "full_text_at", "context_omitted"} & set(data)
