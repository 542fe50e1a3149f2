"""Webhooks: subscriptions over the API, Standard Webhooks signatures, durable retried
deliveries to a real HTTP receiver on loopback, and SSRF refusal."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from notification_service import tables
from notification_service.adapters.http import WebhookSender, parse_retry_after, resolve_safely
from notification_service.bootstrap import build_app
from notification_service.webhooks.model import (
    InvalidFilter,
    OutgoingWebhook,
    UnsafeUrl,
    filter_matches,
    generate_secret,
    payload_body,
    secret_bytes,
    sign,
    signature_header,
    validate_filter,
)
from redress_shared.events import (
    ALERT_CLEARED,
    ALERT_RAISED,
    ALERTS_TOPIC,
    CASE_OPENED,
    CASE_STATUS_CHANGED,
    CASES_TOPIC,
    NOTIFICATIONS_TOPIC,
    WEBHOOK_DISABLED,
    AlertV1,
    CaseDueTimes,
    CaseOpenedV1,
    CaseStatusChangedV1,
    CustomerContact,
    new_event,
)
from redress_shared.records import from_kafka_record
from redress_testing import eventually, produce
from sqlalchemy import func, select
from standardwebhooks import Webhook

PERSONAL = ("Ana Pop", "ana@example.com", "+40 721 000 000", "Broken charger")


def case_opened_event():
    opened_at = datetime.now(UTC)
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
        language="en",
        customer=CustomerContact(
            customer_key="k", name="Ana Pop", email="ana@example.com", phone="+40 721 000 000"
        ),
        due=CaseDueTimes(
            acknowledge_by=opened_at + timedelta(hours=24),
            first_response_by=opened_at + timedelta(days=2),
            resolve_by=opened_at + timedelta(days=14),
        ),
        sla_policy="normal-default",
    )
    return new_event(
        source="/test",
        type=CASE_OPENED,
        key=str(case_id),
        subject=str(case_id),
        payload=payload,
        time=opened_at,
    )


def status_changed_event(case_id: uuid.UUID | None = None):
    case_id = case_id or uuid.uuid4()
    payload = CaseStatusChangedV1(
        case_id=case_id,
        reference="RDR-2026-000777",
        action="start_investigation",
        from_status="new",
        to_status="investigating",
        version=2,
        actor="agent-key",
        reason="Ana Pop called again",
        occurred_at=datetime.now(UTC),
    )
    return new_event(
        source="/test",
        type=CASE_STATUS_CHANGED,
        key=str(case_id),
        subject=str(case_id),
        payload=payload,
        time=payload.occurred_at,
    )


async def subscribe(client, url: str, event_types=("redress.case.*",)) -> dict:
    response = await client.post(
        "/v1/webhooks", json={"url": url, "event_types": list(event_types), "description": "t"}
    )
    assert response.status_code == 201, response.text
    return response.json()


def verified(secret: str, request) -> dict:
    """Verify one received request with the standardwebhooks package; return its JSON."""
    return Webhook(secret).verify(request.body, request.headers)


def event_id_of(request) -> str:
    return json.loads(request.body)["id"]


async def disabled_events_published(infra, webhook_id: str) -> list:
    """Every webhook_disabled event about ``webhook_id`` on the notifications topic so far."""
    consumer = AIOKafkaConsumer(
        NOTIFICATIONS_TOPIC,
        bootstrap_servers=infra.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    found = []
    try:
        while batch := await consumer.getmany(timeout_ms=1000):
            for records in batch.values():
                for record in records:
                    event = from_kafka_record(record.key, record.value, record.headers)
                    if event.type == WEBHOOK_DISABLED and event.data["webhook_id"] == webhook_id:
                        found.append(event)
    finally:
        await consumer.stop()
    return found


# --- signatures ---------------------------------------------------------------------------


def test_signer_matches_the_reference_known_answer_vector():
    # The vector of the Standard Webhooks reference implementation's test suite
    # (libraries/python/tests/test_webhooks.py, test_sign_function); the spec document
    # itself shows a signature but not the secret that made it.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    signature = sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, '{"test": 2432232314}')
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_signer_agrees_with_the_standardwebhooks_package():
    secret = generate_secret()
    assert secret.startswith("whsec_") and len(secret_bytes(secret)) >= 24
    body = '{"id":"x","type":"redress.case.opened.v1","data":{"reference":"RDR-1"}}'
    now = datetime.now(UTC).replace(microsecond=0)
    ours = sign(secret, "msg_abc", int(now.timestamp()), body)
    assert ours == Webhook(secret).sign("msg_abc", now, body)
    old = generate_secret()
    header = signature_header([secret, old], "msg_abc", int(now.timestamp()), body)
    headers = {
        "webhook-id": "msg_abc",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": header,
    }
    assert len(header.split(" ")) == 2
    for either in (secret, old):
        assert Webhook(either).verify(body, headers)


# --- filters, payload, SSRF rules -----------------------------------------------------------


def test_filter_patterns_match_hierarchically():
    assert filter_matches(["redress.case.*"], "redress.case.opened.v1")
    assert filter_matches(["redress.case.*"], "redress.case.status_changed.v1")
    assert not filter_matches(["redress.case.*"], "redress.alert.raised.v1")
    assert filter_matches(["redress.*.opened.v1"], "redress.case.opened.v1")
    assert filter_matches(["*"], "redress.alert.raised.v1")
    assert not filter_matches(["redress.case.opened.v1"], "redress.case.opened.v2")
    assert validate_filter([" redress.case.* ", "redress.case.*"]) == ["redress.case.*"]


@pytest.mark.parametrize(
    "patterns",
    [
        [],
        [""],
        ["**"],
        ["redress..case"],
        ["re*ss.case"],
        ["redress.case.*x"],
        ["other.thing"],
        ["Redress.Case.*"],
        ["redress.case; drop table"],
        ["redress." + "a" * 300],
        [f"redress.t{i}" for i in range(51)],
    ],
)
def test_absurd_filters_are_refused(patterns):
    with pytest.raises(InvalidFilter):
        validate_filter(patterns)


def test_payload_carries_ids_and_types_but_no_personal_data():
    event = case_opened_event()
    body = payload_body(event)
    for personal in PERSONAL:
        assert personal not in body
    parsed = json.loads(body)
    assert parsed["id"] == str(event.id)
    assert parsed["type"] == CASE_OPENED
    assert parsed["subject"] == event.data["case_id"]
    assert parsed["data"]["case_id"] == event.data["case_id"]
    assert parsed["data"]["reference"] == event.data["reference"]
    assert parsed["data"]["status"] == "new"
    assert (
        "customer" not in parsed["data"]
        and "reason" not in json.loads(payload_body(status_changed_event()))["data"]
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://10.0.0.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:8080/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://100.64.0.1/hook",
        "http://224.0.0.1/hook",
        "http://0.0.0.0/hook",
        "http://localhost/hook",
        "http://api.localhost/hook",
        "file:///etc/passwd",
        "gopher://example.com/",
        "http://user:pw@example.com/hook",
        "http:///nohost",
    ],
)
async def test_internal_and_non_http_urls_are_refused(url):
    with pytest.raises(UnsafeUrl):
        await resolve_safely(url, allow_private=False)


async def test_public_addresses_pass_and_private_ones_pass_when_allowed():
    assert await resolve_safely("https://93.184.215.14/hook", allow_private=False) == [
        "93.184.215.14"
    ]
    assert await resolve_safely("http://127.0.0.1:9/hook", allow_private=True) == ["127.0.0.1"]


def test_retry_after_accepts_seconds_and_http_dates():
    now = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    assert parse_retry_after("7", now) == 7.0
    assert parse_retry_after("Mon, 23 Nov 2026 10:00:30 GMT", now) == 30.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


@pytest.mark.parametrize("host", ["127.0.0.1", "2130706433"])
async def test_delivery_time_check_refuses_an_internal_address(
    notification_settings, receiver, host
):
    """DNS rebinding: a URL accepted earlier is checked again, and not called, at send time
    (also when it is a name that resolves to the loopback address)."""
    path, url = receiver.endpoint()
    url = url.replace("127.0.0.1", host)
    strict = notification_settings.model_copy(update={"webhook_allow_private_networks": False})
    sender = WebhookSender(strict)
    try:
        result = await sender.send(
            OutgoingWebhook(url=url, message_id="msg_x", timestamp=0, signature="v1,x", body="{}")
        )
    finally:
        await sender.aclose()
    assert result.outcome == "failed"
    assert "refused" in result.error and "127.0.0.1" in result.error
    assert receiver.to(path) == []


# --- the API ---------------------------------------------------------------------------------


async def count_subscriptions(client) -> int:
    runtime = client.app.state.runtime
    async with runtime.session_factory() as session:
        return await session.scalar(select(func.count()).select_from(tables.webhook_subscriptions))


async def test_webhook_crud_shows_the_secret_only_once(notifications_client, receiver):
    _, url = receiver.endpoint()
    created = await subscribe(notifications_client, url, ["redress.case.opened.v1"])
    secret = created["secret"]
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) >= 24
    webhook_id = created["id"]

    read = await notifications_client.get(f"/v1/webhooks/{webhook_id}")
    assert read.status_code == 200
    assert "secret" not in read.json() and secret not in read.text
    listed = await notifications_client.get("/v1/webhooks")
    assert webhook_id in {w["id"] for w in listed.json()} and secret not in listed.text

    # Stored sealed, never in clear.
    runtime = notifications_client.app.state.runtime
    async with runtime.session_factory() as session:
        stored = await session.scalar(
            select(tables.webhook_subscriptions.c.secret_sealed).where(
                tables.webhook_subscriptions.c.id == uuid.UUID(webhook_id)
            )
        )
    assert secret not in stored and secret[6:] not in stored

    patched = await notifications_client.patch(
        f"/v1/webhooks/{webhook_id}",
        json={"event_types": ["redress.case.*"], "enabled": False, "description": "off"},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["event_types"] == ["redress.case.*"]
    assert patched.json()["enabled"] is False
    assert patched.json()["url"] == url

    null = await notifications_client.patch(f"/v1/webhooks/{webhook_id}", json={"url": None})
    assert null.status_code == 422

    assert (await notifications_client.delete(f"/v1/webhooks/{webhook_id}")).status_code == 204
    gone = await notifications_client.get(f"/v1/webhooks/{webhook_id}")
    assert gone.status_code == 404
    assert gone.headers["content-type"] == "application/problem+json"
    assert (await notifications_client.delete(f"/v1/webhooks/{webhook_id}")).status_code == 404


async def test_webhook_scopes(notifications_client, receiver):
    created = await notifications_client.post(
        "/v1/api-keys", json={"name": "hook-reader", "scopes": ["webhooks:read"]}
    )
    assert created.status_code == 201, created.text
    headers = {"Authorization": f"Bearer {created.json()['key']}"}
    _, url = receiver.endpoint()
    assert (await notifications_client.get("/v1/webhooks", headers=headers)).status_code == 200
    refused = await notifications_client.post(
        "/v1/webhooks", json={"url": url, "event_types": ["*"]}, headers=headers
    )
    assert refused.status_code == 403
    assert refused.json()["required_scope"] == "webhooks:write"


@pytest.fixture
async def strict_client(notification_settings):
    """The API with the default SSRF policy (private networks refused); no background loops."""
    settings = notification_settings.model_copy(update={"webhook_allow_private_networks": False})
    app = build_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {settings.admin_api_key.get_secret_value()}"},
    ) as client:
        client.app = app
        yield client
    await app.state.runtime.engine.dispose()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://10.0.0.1/hook",
        "http://192.168.1.10/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:8080/hook",
        "http://[::ffff:169.254.169.254]/latest/meta-data/",
        "http://[fd00::1]/hook",
        # Host names that the system resolver turns into 127.0.0.1 (inet_aton forms).
        "http://2130706433/hook",
        "http://0x7f.1/hook",
        "http://127.1/hook",
        "file:///etc/passwd",
        "ftp://example.com/hook",
        "javascript:alert(1)",
        "http://localhost/hook",
        "HTTP://LOCALHOST:8080/hook",
        "http://api.localhost/hook",
    ],
)
async def test_internal_urls_are_refused_with_a_problem_and_nothing_written(strict_client, url):
    before = await count_subscriptions(strict_client)
    response = await strict_client.post(
        "/v1/webhooks", json={"url": url, "event_types": ["redress.case.*"]}
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "urn:redress:problem:unsafe-webhook-url"
    assert await count_subscriptions(strict_client) == before


async def test_changing_the_url_to_an_internal_one_is_refused(strict_client):
    created = await strict_client.post(
        "/v1/webhooks",
        json={"url": "https://93.184.215.14/hook", "event_types": ["*"], "enabled": False},
    )
    assert created.status_code == 201, created.text
    webhook_id = created.json()["id"]
    refused = await strict_client.patch(
        f"/v1/webhooks/{webhook_id}", json={"url": "http://169.254.169.254/"}
    )
    assert refused.status_code == 422
    assert refused.json()["type"] == "urn:redress:problem:unsafe-webhook-url"
    kept = await strict_client.get(f"/v1/webhooks/{webhook_id}")
    assert kept.json()["url"] == "https://93.184.215.14/hook"
    assert (await strict_client.delete(f"/v1/webhooks/{webhook_id}")).status_code == 204


ABSURD_FILTERS = [
    [],
    ["**"],
    ["redress.**"],
    ["redress..case"],
    ["*.*.*.evil%"],
    ["Redress.Case.*"],
    ["redress.cäse.*"],
    ["redress.case.*; drop"],
    [""],
    ["redress.case.*", "  "],
    ["x" * 300],
    [f"redress.case.kind_{n}" for n in range(51)],
    "redress.case.*",
    [["redress.case.*"]],
    [None],
]


@pytest.mark.parametrize("event_types", ABSURD_FILTERS)
async def test_absurd_filters_are_refused_with_a_problem(
    notifications_client, receiver, event_types
):
    _, url = receiver.endpoint()
    before = await count_subscriptions(notifications_client)
    response = await notifications_client.post(
        "/v1/webhooks", json={"url": url, "event_types": event_types}
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "urn:redress:problem:validation-error"
    assert await count_subscriptions(notifications_client) == before


# --- deliveries ------------------------------------------------------------------------------


async def deliveries(client, webhook_id: str, *events) -> list[dict]:
    """The webhook's deliveries (of ``events`` only, if given)."""
    response = await client.get(f"/v1/webhooks/{webhook_id}/deliveries")
    assert response.status_code == 200, response.text
    wanted = {str(event.id) for event in events}
    return [d for d in response.json() if not wanted or d["event_id"] in wanted]


async def test_each_event_is_delivered_once_after_failures_with_valid_signatures(
    notifications_client, receiver, infra
):
    path, url = receiver.endpoint(fail_first=3, fail_status=500)
    webhook = await subscribe(notifications_client, url)
    opened = case_opened_event()
    changed = status_changed_event(uuid.UUID(opened.data["case_id"]))
    # The broker redelivers: the same event twice must still give one delivery.
    await produce(infra.kafka_bootstrap_servers, CASES_TOPIC, opened, changed, opened)

    async def both_delivered():
        listed = await deliveries(notifications_client, webhook["id"], opened, changed)
        done = [d for d in listed if d["status"] == "delivered"]
        return listed if len(done) == 2 else None

    listed = await eventually(both_delivered)
    assert len(listed) == 2
    await asyncio.sleep(0.5)  # nothing more may arrive
    requests = receiver.to(path)
    by_event: dict[str, list] = {}
    for request in requests:
        payload = verified(webhook["secret"], request)
        by_event.setdefault(payload["id"], []).append(request)
        for personal in PERSONAL:
            assert personal.encode() not in request.body
    assert set(by_event) == {str(opened.id), str(changed.id)}
    for event_requests in by_event.values():
        # Three failures, then the one success; the webhook-id is the same every time.
        assert len(event_requests) == 4
        assert len({r.headers["webhook-id"] for r in event_requests}) == 1
    changed_payload = json.loads(by_event[str(changed.id)][-1].body)
    assert changed_payload["type"] == CASE_STATUS_CHANGED
    assert changed_payload["data"]["to_status"] == "investigating"
    assert changed_payload["data"]["case_id"] == opened.data["case_id"]

    for delivery in listed:
        assert delivery["attempts"] == 4
        assert [a["status_code"] for a in delivery["attempt_log"]] == [500, 500, 500, 200]
        assert [a["outcome"] for a in delivery["attempt_log"]] == ["retry"] * 3 + ["delivered"]
        assert all(a["latency_ms"] >= 0 for a in delivery["attempt_log"])
        assert delivery["attempt_log"][0]["response_excerpt"] == "status 500"
        assert delivery["message_id"] == by_event[delivery["event_id"]][0].headers["webhook-id"]


async def test_retry_after_is_honoured(notifications_client, receiver, infra):
    path, url = receiver.endpoint(fail_first=1, fail_status=429, retry_after="1")
    webhook = await subscribe(notifications_client, url)
    event = status_changed_event()
    await produce(infra.kafka_bootstrap_servers, CASES_TOPIC, event)

    async def delivered():
        mine = [r for r in receiver.to(path) if event_id_of(r) == str(event.id)]
        return mine if len(mine) == 2 else None

    first, second = await eventually(delivered)
    assert second.at - first.at >= 0.9  # the 429 asked for a second
    verified(webhook["secret"], second)

    async def recorded():
        # The attempt is recorded after the receiver answered: wait for that commit.
        listed = await deliveries(notifications_client, webhook["id"], event)
        return listed if listed and listed[0]["status"] == "delivered" else None

    (delivery,) = await eventually(recorded)
    assert [a["status_code"] for a in delivery["attempt_log"]] == [429, 200]


@pytest.mark.parametrize("status", [400, 410])
async def test_a_4xx_answer_fails_at_once_without_retry(
    notifications_client, receiver, infra, status
):
    path, url = receiver.endpoint(status=status)
    webhook = await subscribe(notifications_client, url)
    event = status_changed_event()
    await produce(infra.kafka_bootstrap_servers, CASES_TOPIC, event)

    async def failed():
        listed = await deliveries(notifications_client, webhook["id"], event)
        return listed if listed and listed[0]["status"] == "failed" else None

    (delivery,) = await eventually(failed)
    await asyncio.sleep(0.6)  # many retry periods at the test's backoff
    assert [event_id_of(r) for r in receiver.to(path)] == [str(event.id)]
    assert delivery["attempts"] == 1
    assert delivery["last_status_code"] == status
    (attempt,) = delivery["attempt_log"]
    assert attempt["outcome"] == "failed" and attempt["error"] == f"HTTP {status}"
    state = (await notifications_client.get(f"/v1/webhooks/{webhook['id']}")).json()
    if status == 410:  # Gone: the receiver wants no more; the webhook is switched off
        assert state["enabled"] is False and "410" in state["disabled_reason"]
        refused = await notifications_client.post(f"/v1/deliveries/{delivery['id']}/redeliver")
        assert refused.status_code == 409
        # ... and its owner is told, once, on the notifications topic.
        (told,) = await eventually(
            lambda: disabled_events_published(infra, webhook["id"]), timeout=60
        )
        assert told.type == WEBHOOK_DISABLED and told.key == webhook["id"]
        payload = told.payload()
        assert payload.cause == "gone" and payload.last_status_code == 410
        assert str(payload.owner_key_id) == state["owner_key_id"]
        assert url not in json.dumps(told.data)  # not even the URL (it may hold a token)
    else:
        assert state["enabled"] is True


async def test_a_filter_that_does_not_match_delivers_nothing(notifications_client, receiver, infra):
    all_path, all_url = receiver.endpoint()
    none_path, none_url = receiver.endpoint()
    everything = await subscribe(notifications_client, all_url, ["redress.case.*"])
    only_changes = await subscribe(notifications_client, none_url, [CASE_STATUS_CHANGED])
    event = case_opened_event()
    await produce(infra.kafka_bootstrap_servers, CASES_TOPIC, event)

    async def arrived():
        return [r for r in receiver.to(all_path) if event_id_of(r) == str(event.id)]

    await eventually(arrived)
    verified(everything["secret"], (await arrived())[0])
    assert [r for r in receiver.to(none_path) if event_id_of(r) == str(event.id)] == []
    assert await deliveries(notifications_client, only_changes["id"], event) == []


async def test_rotation_signs_with_both_secrets_and_redelivery_repeats_the_message(
    notifications_client, receiver, infra
):
    path, url = receiver.endpoint()
    webhook = await subscribe(notifications_client, url)
    rotated = await notifications_client.post(f"/v1/webhooks/{webhook['id']}/rotate-secret")
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["secret"]
    assert new_secret != webhook["secret"] and rotated.json()["previous_secret_valid_until"]
    event = status_changed_event()
    await produce(infra.kafka_bootstrap_servers, CASES_TOPIC, event)

    async def arrived():
        return [r for r in receiver.to(path) if event_id_of(r) == str(event.id)]

    (request,) = await eventually(arrived)
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    verified(new_secret, request)
    verified(webhook["secret"], request)

    (delivery,) = await deliveries(notifications_client, webhook["id"], event)
    again = await notifications_client.post(f"/v1/deliveries/{delivery['id']}/redeliver")
    assert again.status_code == 202, again.text
    assert again.json()["status"] == "pending"

    async def twice():
        mine = await arrived()
        return mine if len(mine) == 2 else None

    first, second = await eventually(twice)
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    verified(new_secret, second)
    missing = await notifications_client.post(f"/v1/deliveries/{uuid.uuid4()}/redeliver")
    assert missing.status_code == 404

    # Without overlap the old secret stops signing at once.
    immediate = await notifications_client.post(
        f"/v1/webhooks/{webhook['id']}/rotate-secret", params={"overlap_seconds": 0}
    )
    assert immediate.status_code == 200
    assert immediate.json()["previous_secret_valid_until"] is None
    missing_hook = await notifications_client.post(f"/v1/webhooks/{uuid.uuid4()}/rotate-secret")
    assert missing_hook.status_code == 404


async def test_a_slow_endpoint_does_not_hold_up_the_others(notifications_client, receiver, infra):
    slow_path, slow_url = receiver.endpoint(delay=1.0)
    fast_path, fast_url = receiver.endpoint()
    await subscribe(notifications_client, slow_url, [CASE_STATUS_CHANGED])
    await subscribe(notifications_client, fast_url, [CASE_STATUS_CHANGED])
    events = [status_changed_event() for _ in range(6)]
    await produce(infra.kafka_bootstrap_servers, CASES_TOPIC, *events)
    wanted = {str(e.id) for e in events}

    async def fast_done():
        got = {event_id_of(r) for r in receiver.to(fast_path)} & wanted
        return got == wanted

    await eventually(fast_done)
    slow_got = {event_id_of(r) for r in receiver.to(slow_path)} & wanted
    assert len(slow_got) < len(wanted)  # the slow one is still working through its queue

    async def slow_done():
        return ({event_id_of(r) for r in receiver.to(slow_path)} & wanted) == wanted

    await eventually(slow_done)
    limit = notifications_client.app.state.runtime.settings.webhook_endpoint_concurrency
    assert receiver.most_open[slow_path] <= limit


async def test_a_receiver_that_hangs_for_a_minute_times_out_and_is_retried(
    notifications_client, receiver, infra
):
    """The receiver really says nothing for a minute; the attempt ends at our (short, in
    tests) timeout, the retry is delivered, and the event arrives as one delivery."""
    timeout = notifications_client.app.state.runtime.settings.webhook_timeout_seconds
    assert timeout < 30
    path, url = receiver.endpoint(hang_first=1, hang_seconds=60)
    webhook = await subscribe(notifications_client, url, [CASE_STATUS_CHANGED])
    event = status_changed_event()
    await produce(infra.kafka_bootstrap_servers, CASES_TOPIC, event)

    async def delivered():
        listed = await deliveries(notifications_client, webhook["id"], event)
        return listed if listed and listed[0]["status"] == "delivered" else None

    (delivery,) = await eventually(delivered)
    first, second = delivery["attempt_log"]
    assert first["status_code"] is None and "timed out" in first["error"]
    assert first["outcome"] == "retry" and first["latency_ms"] >= timeout * 1000 * 0.9
    assert first["latency_ms"] < 30_000  # cut by our timeout, not by the receiver
    assert second["status_code"] == 200
    assert len(receiver.to(path)) == 2
    assert len({r.headers["webhook-id"] for r in receiver.to(path)}) == 1
    assert len(await deliveries(notifications_client, webhook["id"], event)) == 1


@pytest.mark.parametrize("fail_status", [500, 503])
async def test_a_receiver_failing_every_attempt_makes_the_delivery_dead_but_kept(
    notifications_client, receiver, infra, fail_status
):
    """500 forever: retried until the schedule is spent, then dead (failed), never lost; the
    endpoint stays on (it has not failed for days), and a redelivery brings the event."""
    max_attempts = notifications_client.app.state.runtime.settings.webhook_max_attempts
    path, url = receiver.endpoint(fail_first=10**6, fail_status=fail_status)
    webhook = await subscribe(notifications_client, url, [CASE_STATUS_CHANGED])
    event = status_changed_event()
    await produce(infra.kafka_bootstrap_servers, CASES_TOPIC, event)

    async def failed():
        listed = await deliveries(notifications_client, webhook["id"], event)
        return listed if listed and listed[0]["status"] == "failed" else None

    (delivery,) = await eventually(failed)
    assert delivery["attempts"] == max_attempts
    assert [a["outcome"] for a in delivery["attempt_log"]] == ["retry"] * (max_attempts - 1) + [
        "failed"
    ]
    assert len(receiver.to(path)) == max_attempts
    assert {r.headers["webhook-id"] for r in receiver.to(path)} == {delivery["message_id"]}
    assert delivery["last_status_code"] == fail_status
    state = (await notifications_client.get(f"/v1/webhooks/{webhook['id']}")).json()
    assert state["enabled"] is True and state["disabled_reason"] is None
    assert state["consecutive_failures"] == max_attempts and state["failing_since"]

    # The owner fixes the receiver and asks for the event again.
    receiver.behaviours[path].fail_first = 0
    assert (
        await notifications_client.post(f"/v1/deliveries/{delivery['id']}/redeliver")
    ).status_code == 202

    async def delivered():
        listed = await deliveries(notifications_client, webhook["id"], event)
        return listed if listed[0]["status"] == "delivered" else None

    (again,) = await eventually(delivered)
    assert again["attempts"] == 1 and len(again["attempt_log"]) == max_attempts + 1
    verified(webhook["secret"], receiver.to(path)[-1])
    healthy = (await notifications_client.get(f"/v1/webhooks/{webhook['id']}")).json()
    assert healthy["consecutive_failures"] == 0 and healthy["failing_since"] is None


async def test_replay_of_a_time_range_sends_those_deliveries_again(
    notifications_client, receiver, infra
):
    path, url = receiver.endpoint()
    webhook = await subscribe(notifications_client, url, [CASE_STATUS_CHANGED])
    events = [status_changed_event(), status_changed_event()]
    await produce(infra.kafka_bootstrap_servers, CASES_TOPIC, *events)

    async def delivered(count: int):
        mine = [r for r in receiver.to(path) if event_id_of(r) in {str(e.id) for e in events}]
        return mine if len(mine) == count else None

    await eventually(lambda: delivered(2))
    now = datetime.now(UTC)
    empty = await notifications_client.post(
        f"/v1/webhooks/{webhook['id']}/replay",
        json={"since": now.isoformat(), "until": (now - timedelta(hours=1)).isoformat()},
    )
    assert empty.status_code == 422
    assert empty.json()["type"] == "urn:redress:problem:invalid-range"
    only_failed = await notifications_client.post(
        f"/v1/webhooks/{webhook['id']}/replay",
        json={
            "since": (now - timedelta(hours=1)).isoformat(),
            "until": (now + timedelta(minutes=1)).isoformat(),
            "only_failed": True,
        },
    )
    assert only_failed.json() == {"queued": 0}
    replayed = await notifications_client.post(
        f"/v1/webhooks/{webhook['id']}/replay",
        json={
            "since": (now - timedelta(hours=1)).isoformat(),
            "until": (now + timedelta(minutes=1)).isoformat(),
        },
    )
    assert replayed.status_code == 202, replayed.text
    assert replayed.json() == {"queued": 2}
    requests = await eventually(lambda: delivered(4))
    for request in requests:
        verified(webhook["secret"], request)
    assert len({r.headers["webhook-id"] for r in requests}) == 2


@pytest.mark.parametrize("event_types", [[], ["**"], ["redress.case.*", "EVIL!"]])
async def test_an_absurd_filter_in_a_change_is_refused_and_the_filter_kept(
    notifications_client, receiver, event_types
):
    _, url = receiver.endpoint()
    webhook = await subscribe(notifications_client, url, [CASE_STATUS_CHANGED])
    response = await notifications_client.patch(
        f"/v1/webhooks/{webhook['id']}", json={"event_types": event_types, "description": "x"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["type"] == "urn:redress:problem:validation-error"
    kept = (await notifications_client.get(f"/v1/webhooks/{webhook['id']}")).json()
    assert kept["event_types"] == [CASE_STATUS_CHANGED] and kept["description"] == "t"


# --- redirects ---------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [302, 307])
async def test_a_redirect_is_not_followed_not_even_to_a_private_address(
    notifications_client, receiver, infra, status
):
    """The receiver redirects to an internal address (here: another loopback path, which
    would answer 200, and the metadata address): we never go there, the delivery fails at
    once and says why."""
    inside_path, inside_url = receiver.endpoint()
    path, url = receiver.endpoint(status=status, location=inside_url)
    metadata_path, metadata_url = receiver.endpoint(
        status=status, location="http://169.254.169.254/latest/meta-data/"
    )
    to_inside = await subscribe(notifications_client, url, [CASE_STATUS_CHANGED])
    to_metadata = await subscribe(notifications_client, metadata_url, [CASE_STATUS_CHANGED])
    event = status_changed_event()
    await produce(infra.kafka_bootstrap_servers, CASES_TOPIC, event)

    async def both_failed():
        listed = [
            *await deliveries(notifications_client, to_inside["id"], event),
            *await deliveries(notifications_client, to_metadata["id"], event),
        ]
        return listed if len(listed) == 2 and all(d["status"] == "failed" for d in listed) else None

    for delivery in await eventually(both_failed):
        assert delivery["attempts"] == 1 and delivery["last_status_code"] == status
        assert "redirects are not followed" in delivery["last_error"]
    await asyncio.sleep(0.6)  # many retry periods at the test's backoff
    assert len(receiver.to(path)) == 1 and len(receiver.to(metadata_path)) == 1
    assert receiver.to(inside_path) == []


# --- alerts ------------------------------------------------------------------------------------


def alert_event(event_type: str = ALERT_RAISED):
    alert_id = uuid.uuid4()
    payload = AlertV1(
        alert_id=alert_id,
        kind="supplier_defects",
        subject="Voltix",
        attribution="manufacturer_fault",
        period_start=date(2026, 11, 1),
        period_end=date(2026, 12, 1),
        count=5,
        threshold=4,
        occurred_at=datetime.now(UTC),
    )
    return new_event(
        source="/test",
        type=event_type,
        key=str(alert_id),
        subject=str(alert_id),
        payload=payload,
        time=payload.occurred_at,
    )


async def test_analytics_alerts_reach_their_subscribers_and_only_them(
    notifications_client, receiver, infra
):
    alerts_path, alerts_url = receiver.endpoint()
    cases_path, cases_url = receiver.endpoint()
    everything_path, everything_url = receiver.endpoint()
    alerts = await subscribe(notifications_client, alerts_url, ["redress.alert.*"])
    await subscribe(notifications_client, cases_url, ["redress.case.*"])
    everything = await subscribe(notifications_client, everything_url, ["*"])
    raised, cleared = alert_event(ALERT_RAISED), alert_event(ALERT_CLEARED)
    # The broker redelivers one: still one delivery each.
    await produce(infra.kafka_bootstrap_servers, ALERTS_TOPIC, raised, cleared, raised)
    wanted = {str(raised.id), str(cleared.id)}

    async def arrived(path):
        got = [r for r in receiver.to(path) if event_id_of(r) in wanted]
        return got if len(got) >= 2 else None

    for path, secret in ((alerts_path, alerts["secret"]), (everything_path, everything["secret"])):
        requests = await eventually(lambda path=path: arrived(path))
        assert len(requests) == 2
        payloads = {p["type"]: p for p in (verified(secret, r) for r in requests)}
        assert set(payloads) == {ALERT_RAISED, ALERT_CLEARED}
        data = payloads[ALERT_RAISED]["data"]
        assert data["alert_id"] == raised.data["alert_id"]
        assert data["kind"] == "supplier_defects"
    await asyncio.sleep(0.5)
    assert [r for r in receiver.to(cases_path) if event_id_of(r) in wanted] == []

    async def both_recorded():
        listed = await deliveries(notifications_client, alerts["id"], raised, cleared)
        return [d["status"] for d in listed] == ["delivered", "delivered"]

    await eventually(both_recorded)
