"""Webhooks over real processes: the stack runner starts every service; a real HTTP receiver
on loopback fails the first three attempts of every message (500, a hang past the timeout,
503 with ``Retry-After``) and then succeeds. Every case event must arrive exactly once
afterwards, deduplicated by ``webhook-id`` on the receiver's side, each request signed so
that the ``standardwebhooks`` package verifies it.
"""

from __future__ import annotations

import json
from collections import defaultdict

import asyncpg
import httpx
import pytest
from redress_testing import eventually, run_stack
from redress_testing.webhook_receiver import Answer, WebhookReceiver
from standardwebhooks import Webhook

TIMEOUT_SECONDS = 2.0

# Inherited by every service; only the notification service reads them. Loopback receivers
# are allowed (local development), retries back off in fractions of a second.
WEBHOOK_ENV = {
    "REDRESS_WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true",
    "REDRESS_WEBHOOK_RETRY_BASE_SECONDS": "0.2",
    "REDRESS_WEBHOOK_RETRY_MAX_DELAY_SECONDS": "3",
    "REDRESS_WEBHOOK_TIMEOUT_SECONDS": str(TIMEOUT_SECONDS),
    "REDRESS_WEBHOOK_DISPATCH_INTERVAL_SECONDS": "0.05",
}

FAILURES = ["500", "timeout", "503 Retry-After: 1"]


def first_three_fail(attempt: int) -> Answer:
    """500, then a hang far past the timeout, then 503 asking for a second; then 200."""
    if attempt == 0:
        return Answer(500)
    if attempt == 1:
        return Answer(hang_seconds=60)
    if attempt == 2:
        return Answer(503, retry_after="1")
    return Answer(200)


@pytest.fixture(scope="module")
def webhook_stack(tmp_path_factory: pytest.TempPathFactory):
    """The whole stack as real processes, with the webhook settings above."""
    yield from run_stack(tmp_path_factory.mktemp("webhook-stack"), env=WEBHOOK_ENV)


async def case_events_published(database_url: str) -> dict[str, str]:
    """Event id -> type of every case event the case service has published so far."""
    connection = await asyncpg.connect(database_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        rows = await connection.fetch(
            "SELECT event_id, event->>'type' AS type FROM cases.outbox "
            "WHERE published_at IS NOT NULL AND event->>'type' LIKE 'redress.case.%'"
        )
    finally:
        await connection.close()
    return {str(row["event_id"]): row["type"] for row in rows}


async def test_a_receiver_failing_three_times_gets_every_event_exactly_once(webhook_stack):
    services = webhook_stack["services"]
    intake, cases = services["intake-service"], services["case-service"]
    notifications = services["notification-service"]
    receiver = WebhookReceiver(first_three_fail)
    await receiver.start()
    headers = {"Authorization": f"Bearer {webhook_stack['admin_key']}"}
    try:
        async with httpx.AsyncClient(headers=headers, timeout=60) as client:
            created = await client.post(
                f"{notifications}/v1/webhooks",
                json={"url": receiver.url("/hooks/e2e"), "event_types": ["redress.case.*"]},
            )
            assert created.status_code == 201, created.text
            webhook = created.json()

            # Case events: each complaint opens a case; each case is acknowledged and started.
            complaint_ids = []
            for index in range(4):
                accepted = await client.post(
                    f"{intake}/v1/complaints",
                    json={
                        "customer": {"email": f"hook{index}@example.com", "language": "en"},
                        "subject": "Broken charger",
                        "body": "It stopped after two days.",
                        "category": "product_defect",
                    },
                )
                assert accepted.status_code == 202, accepted.text
                complaint_ids.append(accepted.json()["complaint_id"])

            async def case_of(complaint_id: str):
                page = (
                    await client.get(f"{cases}/v1/cases", params={"complaint_id": complaint_id})
                ).json()
                return page["items"][0] if page["items"] else None

            for complaint_id in complaint_ids:
                case = await eventually(lambda c=complaint_id: case_of(c), timeout=180)
                for action in ("acknowledge", "start"):
                    moved = await client.post(
                        f"{cases}/v1/cases/{case['id']}/transitions", json={"action": action}
                    )
                    assert moved.status_code == 200, moved.text

            secret = webhook["secret"]

            def succeeded() -> dict[str, str]:
                """Event id -> webhook-id of every request answered 200."""
                return {
                    json.loads(r.body)["id"]: r.headers["webhook-id"]
                    for r in receiver.requests
                    if r.answered == 200
                }

            async def every_event_delivered():
                published = await case_events_published(webhook_stack["database_url"])
                opened = [t for t in published.values() if t == "redress.case.opened.v1"]
                moved = [t for t in published.values() if t == "redress.case.status_changed.v1"]
                if len(opened) < 4 or len(moved) < 8:
                    return None
                return published if set(published) <= set(succeeded()) else None

            published = await eventually(every_event_delivered, timeout=300)
            # Let stragglers (a late retry, a duplicate) show themselves before counting.
            await receiver.wait_for_more(TIMEOUT_SECONDS + 3)
            published = await case_events_published(webhook_stack["database_url"])

            by_message: dict[str, list] = defaultdict(list)
            for request in receiver.requests:
                payload = Webhook(secret).verify(request.body, request.headers)
                assert payload["type"].startswith("redress.case.")
                by_message[request.headers["webhook-id"]].append(request)
            events_of_message = {
                message_id: {json.loads(r.body)["id"] for r in requests}
                for message_id, requests in by_message.items()
            }
            # One message per event, one event per message: nothing doubled, nothing missing.
            assert all(len(ids) == 1 for ids in events_of_message.values())
            delivered_events = [next(iter(ids)) for ids in events_of_message.values()]
            assert sorted(delivered_events) == sorted(published)
            for message_id, requests in by_message.items():
                answers = [r.answered for r in sorted(requests, key=lambda r: r.attempt)]
                # 500, the hang (cut by our timeout: the receiver saw the caller hang up),
                # 503, then exactly one success.
                assert answers == [500, None, 503, 200], (message_id, answers, FAILURES)

            listed = (
                await client.get(
                    f"{notifications}/v1/webhooks/{webhook['id']}/deliveries",
                    params={"limit": 500},
                )
            ).json()
            assert sorted(d["event_id"] for d in listed) == sorted(published)
            for delivery in listed:
                assert delivery["status"] == "delivered", delivery
                assert delivery["attempts"] == 4
                assert [a["status_code"] for a in delivery["attempt_log"]] == [500, None, 503, 200]
                assert "timed out" in delivery["attempt_log"][1]["error"]
            state = (await client.get(f"{notifications}/v1/webhooks/{webhook['id']}")).json()
            assert state["enabled"] is True and state["consecutive_failures"] == 0
    finally:
        await receiver.stop()
