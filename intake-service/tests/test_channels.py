"""Phone, chat and social intake over HTTP against real PostgreSQL: normalised fields,
channel-native deduplication, Idempotency-Key, and bad input refused without a write."""

from __future__ import annotations

import asyncio
import copy
import random
import uuid

import pytest


def phone_call(**overrides) -> dict:
    call = {
        "call_id": f"call-{uuid.uuid4()}",
        # A caller of its own per call: the same caller saying the same within the
        # duplicate window is one complaint (content fingerprint).
        "caller_number": f"+371 2{random.randrange(10**6, 10**7)}",
        "called_line": "+371 6700 0000",
        "started_at": "2026-11-23T08:14:00Z",
        "duration_seconds": 312,
        "agent": "agent-17",
        "ivr_selections": ["2", "internet"],
        "transcript": "Mans internets nedarbojas jau trīs dienas. Lūdzu, salabojiet to!",
        "agent_notes": "Outage in Riga since Friday. Order SO-7781.",
        "recording_url": "https://recordings.example.com/call-000481.ogg",
        "caller": {"name": "Jānis Bērziņš", "language": "lv"},
    }
    call.update(overrides)
    return call


def chat(**overrides) -> dict:
    conversation = {
        "chat_id": f"chat-{uuid.uuid4()}",
        "participants": [
            {
                "id": "c1",
                "role": "customer",
                "name": "Maja Novak",
                "email": f"maja.{uuid.uuid4().hex[:6]}@example.si",
                "language": "sl",
            },
            {"id": "a1", "role": "agent", "name": "Luka"},
        ],
        # Deliberately out of order: the service orders by time.
        "messages": [
            {
                "participant_id": "c1",
                "sent_at": "2026-11-23T09:01:10Z",
                "text": "Naročila sem ga pred dvema tednoma, naročilo SO-2291.",
            },
            {
                "participant_id": "c1",
                "sent_at": "2026-11-23T09:00:00Z",
                "text": "Paket še vedno ni prispel.",
            },
            {
                "participant_id": "a1",
                "sent_at": "2026-11-23T09:00:30Z",
                "text": "Žal mi je, preverim pošiljko.",
            },
        ],
    }
    conversation.update(overrides)
    return conversation


def social_post(**overrides) -> dict:
    post = {
        "platform": "x",
        "post_id": str(uuid.uuid4().int)[:19],
        "author": {"handle": f"@Ana_{uuid.uuid4().hex[:6]}", "display_name": "Ana Pop"},
        "visibility": "public",
        "text": "@Voltix încărcătorul s-a stricat după două zile. Nimeni nu răspunde!",
        "url": "https://x.com/ana_pop/status/1",
        "posted_at": "2026-11-23T10:00:00Z",
    }
    post.update(overrides)
    return post


async def read(intake, response) -> dict:
    return (await intake.get(f"/v1/complaints/{response.json()['complaint_id']}")).json()


async def test_a_phone_call_is_registered_with_e164_numbers_and_its_record(intake, probe):
    call = phone_call()
    response = await intake.post("/v1/intake/phone", json=call)
    assert response.status_code == 202, response.text
    stored = await read(intake, response)
    assert stored["channel"] == "phone"
    assert stored["channel_message_id"] == call["call_id"]
    assert stored["customer"]["phone"] == call["caller_number"].replace(" ", "")
    assert stored["customer"]["language"] == "lv"
    assert stored["body"] == call["transcript"]
    assert stored["language"] == "lv"
    assert stored["category"] == "outage"
    assert stored["priority_hint"] == "urgent"
    assert stored["order_ref"] == "SO-7781"  # from the agent's notes
    context = stored["context"]
    assert context["called_line"] == "+37167000000"
    assert context["agent_notes"] == call["agent_notes"]
    assert context["ivr_selections"] == ["2", "internet"]
    assert context["recording_url"] == call["recording_url"]
    event = await probe.event_of(stored["id"])
    assert event["data"]["channel"] == "phone"
    assert event["data"]["priority_hint"] == "urgent"
    assert event["data"]["context"]["duration_seconds"] == 312


async def test_agent_notes_alone_make_a_complaint_and_national_numbers_parse(intake):
    call = phone_call(
        transcript=None,
        agent_notes="Customer says the kettle stopped working after two days.",
        caller_number="020 7946 0000",
        default_region="GB",
        called_line=None,
        caller=None,
    )
    response = await intake.post("/v1/intake/phone", json=call)
    assert response.status_code == 202, response.text
    stored = await read(intake, response)
    assert stored["body"] == call["agent_notes"]
    assert stored["customer"]["phone"] == "+442079460000"
    assert stored["category"] == "product_defect"


async def test_the_same_call_posted_by_two_systems_is_one_complaint(intake):
    call = phone_call()
    other_system = {**call, "agent_notes": "Entered later by the CRM."}
    first, second = await asyncio.gather(
        intake.post("/v1/intake/phone", json=call),
        intake.post("/v1/intake/phone", json=other_system),
    )
    assert sorted([first.status_code, second.status_code]) == [200, 202]
    assert first.json()["complaint_id"] == second.json()["complaint_id"]


async def test_the_same_call_posted_by_two_systems_with_their_own_call_ids_is_one(intake, probe):
    # The telephony platform and the CRM each post the call, each under its own id.
    call = phone_call()
    from_crm = {**call, "call_id": f"crm-{uuid.uuid4()}", "agent": "crm-sync"}
    first = await intake.post("/v1/intake/phone", json=call)
    before = await probe.counts()
    second = await intake.post("/v1/intake/phone", json=from_crm)
    assert (first.status_code, second.status_code) == (202, 200), second.text
    assert second.json()["status"] == "duplicate"
    assert second.json()["complaint_id"] == first.json()["complaint_id"]
    assert await probe.counts() == before  # no complaint, no event, no raw row of its own

    # Another text from the same caller is another complaint; spacing and case are not.
    other = await intake.post(
        "/v1/intake/phone",
        json={**call, "call_id": f"call-{uuid.uuid4()}", "transcript": "Rēķins ir nepareizs."},
    )
    assert other.status_code == 202
    shouted = await intake.post(
        "/v1/intake/phone",
        json={
            **call,
            "call_id": f"call-{uuid.uuid4()}",
            "transcript": "  " + call["transcript"].upper().replace(" ", "  \n"),
        },
    )
    assert shouted.status_code == 200
    assert shouted.json()["complaint_id"] == first.json()["complaint_id"]


async def test_a_chat_keeps_the_customers_words_in_order_and_the_agent_as_context(intake):
    conversation = chat()
    response = await intake.post("/v1/intake/chat", json=conversation)
    assert response.status_code == 202, response.text
    stored = await read(intake, response)
    assert stored["body"] == (
        "Paket še vedno ni prispel.\nNaročila sem ga pred dvema tednoma, naročilo SO-2291."
    )
    assert stored["customer"]["email"] == conversation["participants"][0]["email"]
    assert stored["language"] == "sl"
    assert stored["category"] == "delivery"
    assert stored["order_ref"] == "SO-2291"
    transcript = stored["context"]["transcript"]
    assert [line["role"] for line in transcript] == ["customer", "agent", "customer"]
    assert transcript[1]["text"] == "Žal mi je, preverim pošiljko."
    again = await intake.post("/v1/intake/chat", json=conversation)
    assert again.status_code == 200
    assert again.json()["complaint_id"] == stored["id"]


async def test_a_public_post_is_reputation_sensitive_and_the_handle_is_the_customer(intake, probe):
    post = social_post()
    response = await intake.post("/v1/intake/social", json=post)
    assert response.status_code == 202, response.text
    stored = await read(intake, response)
    handle = post["author"]["handle"].lstrip("@").lower()
    assert stored["channel_message_id"] == f"x:{post['post_id']}"
    assert stored["customer"]["social"] == {"platform": "x", "handle": handle}
    assert stored["customer"]["name"] == "Ana Pop"
    assert stored["reputation_sensitive"] is True
    assert stored["language"] == "ro"
    assert stored["category"] == "product_defect"
    assert stored["context"]["url"] == post["url"]
    event = await probe.event_of(stored["id"])
    assert event["data"]["reputation_sensitive"] is True

    # The same handle, written differently, in a private message: the same customer.
    private = social_post(
        author={"handle": handle.upper(), "display_name": "Ana"},
        visibility="private",
        text="Any news about my charger?",
    )
    second = await read(intake, await intake.post("/v1/intake/social", json=private))
    assert second["customer_key"] == stored["customer_key"]
    assert second["reputation_sensitive"] is False
    # The same handle on another platform may be someone else.
    other = social_post(platform="instagram", author={"handle": handle})
    third = await read(intake, await intake.post("/v1/intake/social", json=other))
    assert third["customer_key"] != stored["customer_key"]


async def test_the_same_post_id_on_two_platforms_is_two_complaints(intake):
    post_id = str(uuid.uuid4().int)[:18]
    on_x = await intake.post("/v1/intake/social", json=social_post(post_id=post_id))
    on_fb = await intake.post(
        "/v1/intake/social", json=social_post(post_id=post_id, platform="facebook")
    )
    repeat = await intake.post("/v1/intake/social", json=social_post(post_id=post_id))
    assert (on_x.status_code, on_fb.status_code, repeat.status_code) == (202, 202, 200)
    assert on_x.json()["complaint_id"] != on_fb.json()["complaint_id"]
    assert repeat.json()["complaint_id"] == on_x.json()["complaint_id"]


@pytest.mark.parametrize(
    ("path", "factory"),
    [
        ("/v1/intake/phone", phone_call),
        ("/v1/intake/chat", chat),
        ("/v1/intake/social", social_post),
    ],
)
async def test_idempotency_key_on_every_channel(intake, probe, path, factory):
    body = factory()
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first = await intake.post(path, json=body, headers=key)
    second = await intake.post(path, json=body, headers=key)
    assert (first.status_code, second.status_code) == (202, 200)
    assert second.json()["status"] == "duplicate"
    assert second.json()["complaint_id"] == first.json()["complaint_id"]
    reused = await intake.post(path, json=factory(), headers=key)
    probe.problem(reused, 422, "idempotency-key-reused")


def _without(document: dict, *path: str) -> dict:
    changed = copy.deepcopy(document)
    target = changed
    for part in path[:-1]:
        target = target[part]
    del target[path[-1]]
    return changed


BAD_INPUT = [
    # (path, body, status, slug, text expected in the detail or the field)
    (
        "/v1/intake/phone",
        phone_call(caller_number="call me maybe"),
        422,
        "invalid-complaint",
        "caller_number",
    ),
    (
        "/v1/intake/phone",
        phone_call(caller_number="+1 2"),
        422,
        "invalid-complaint",
        "caller_number",
    ),
    ("/v1/intake/phone", phone_call(called_line="nope"), 422, "invalid-complaint", "called_line"),
    (
        "/v1/intake/phone",
        phone_call(transcript=" ", agent_notes="\n"),
        422,
        "validation-error",
        "transcript or the agent's notes",
    ),
    ("/v1/intake/phone", _without(phone_call(), "call_id"), 422, "validation-error", "call_id"),
    (
        "/v1/intake/phone",
        phone_call(duration_seconds=-5),
        422,
        "validation-error",
        "duration_seconds",
    ),
    ("/v1/intake/chat", chat(messages=[]), 422, "validation-error", "messages"),
    (
        "/v1/intake/chat",
        chat(messages=[{"participant_id": "zz", "sent_at": "2026-11-23T09:00:00Z", "text": "hi"}]),
        422,
        "validation-error",
        "unknown participants",
    ),
    (
        "/v1/intake/chat",
        chat(messages=[{"participant_id": "a1", "sent_at": "2026-11-23T09:00:00Z", "text": "Hi"}]),
        422,
        "validation-error",
        "the customer wrote nothing",
    ),
    (
        "/v1/intake/chat",
        chat(
            participants=[
                {"id": "c1", "role": "customer", "name": "X"},
                {"id": "a1", "role": "agent"},
            ]
        ),
        422,
        "validation-error",
        "e-mail address or a phone number",
    ),
    (
        "/v1/intake/chat",
        chat(
            participants=[
                {"id": "c1", "role": "customer", "phone": "12"},
                {"id": "a1", "role": "agent"},
            ]
        ),
        422,
        "invalid-complaint",
        "participants.phone",
    ),
    ("/v1/intake/social", social_post(platform="myspace"), 422, "validation-error", "platform"),
    ("/v1/intake/social", social_post(text=" \t\n "), 422, "validation-error", "whitespace"),
    (
        "/v1/intake/social",
        social_post(author={"handle": " @ "}),
        422,
        "invalid-complaint",
        "author.handle",
    ),
    ("/v1/intake/social", social_post(visibility="friends"), 422, "validation-error", "visibility"),
    ("/v1/intake/social", _without(social_post(), "post_id"), 422, "validation-error", "post_id"),
]


@pytest.mark.parametrize(
    ("path", "body", "status", "slug", "mentioned"), BAD_INPUT, ids=lambda v: str(v)[:40]
)
async def test_bad_input_gets_a_problem_and_writes_nothing(
    intake, probe, path, body, status, slug, mentioned
):
    before = await probe.counts()
    problem = probe.problem(await intake.post(path, json=body), status, slug)
    assert mentioned in (problem.get("detail", "") + problem.get("field", "")), problem
    assert await probe.counts() == before


@pytest.mark.parametrize("path", ["/v1/intake/phone", "/v1/intake/chat", "/v1/intake/social"])
async def test_malformed_and_absurd_json_is_refused(intake, probe, path):
    before = await probe.counts()
    truncated = await intake.post(
        path, content=b'{"call_id": "x", ', headers={"Content-Type": "application/json"}
    )
    probe.problem(truncated, 400, "malformed-json")
    deep = b'{"text": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"
    nested = await intake.post(path, content=deep, headers={"Content-Type": "application/json"})
    assert nested.status_code in (400, 422)
    assert nested.headers["content-type"] == "application/problem+json"
    invalid_utf8 = await intake.post(
        path, content=b'{"text": "\xff\xfe"}', headers={"Content-Type": "application/json"}
    )
    assert invalid_utf8.status_code in (400, 422)
    assert invalid_utf8.headers["content-type"] == "application/problem+json"
    assert await probe.counts() == before
