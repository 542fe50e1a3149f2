"""One complaint's journey through all four services, over real processes.

200 complaints are posted concurrently, 40 of them repeats under an earlier
``Idempotency-Key``: every distinct complaint must get exactly one case and one
acknowledgement e-mail, the trend must count each once, every outbox must drain and no
service may log an error.
"""

from __future__ import annotations

import asyncio
import json
import mailbox
import random
import sys
import uuid
from collections import Counter
from pathlib import Path

import asyncpg
import httpx
from redress_testing import eventually

CATEGORIES = ["product_defect", "delivery", "billing_error", "staff_behaviour", "outage"]
SCHEMAS = ["intake", "cases", "notification", "analytics"]
SERVICES = ["intake-service", "case-service", "notification-service", "analytics-service"]


def distinct_complaints(count: int) -> list[dict]:
    rng = random.Random(7)
    complaints = []
    for index in range(count):
        complaints.append(
            {
                "customer": {
                    "name": f"Customer {index}",
                    "email": f"customer{index}.{uuid.uuid4().hex[:6]}@example.com",
                    "language": rng.choice(["ro", "en", "lv", "sl"]),
                },
                "subject": f"Complaint {index}",
                "body": rng.choice(
                    [
                        "Încărcătorul nu merge.",
                        "Lādētājs nedarbojas.",
                        "Polnilec ne deluje.",
                        "It broke.",
                    ]
                ),
                "category": CATEGORIES[index % len(CATEGORIES)],
                "product": {"sku": "CH-20"},
                "supplier": rng.choice(["Voltix", "Ampero"]),
            }
        )
    return complaints


async def fetch_all_cases(client: httpx.AsyncClient, base: str) -> list[dict]:
    cases, cursor = [], None
    while True:
        params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(f"{base}/v1/cases", params=params)).json()
        cases += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return cases


async def test_two_hundred_concurrent_complaints_flow_through_every_service(stack):
    services = stack["services"]
    intake, cases_url = services["intake-service"], services["case-service"]
    notifications_url, analytics_url = (
        services["notification-service"],
        services["analytics-service"],
    )
    distinct = distinct_complaints(160)
    keys = [uuid.uuid4().hex for _ in distinct]
    submissions = [(payload, key) for payload, key in zip(distinct, keys, strict=True)]
    submissions += [(distinct[i], keys[i]) for i in random.Random(3).sample(range(160), 40)]
    random.Random(5).shuffle(submissions)

    headers = {"Authorization": f"Bearer {stack['admin_key']}"}
    limits = httpx.Limits(max_connections=50)
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=60) as client:
        responses = await asyncio.gather(
            *(
                client.post(
                    f"{intake}/v1/complaints", json=payload, headers={"Idempotency-Key": key}
                )
                for payload, key in submissions
            )
        )
        statuses = Counter(response.status_code for response in responses)
        assert statuses == {202: 160, 200: 40}, [
            r.text for r in responses if r.status_code not in (200, 202)
        ]
        complaint_ids = {response.json()["complaint_id"] for response in responses}
        assert len(complaint_ids) == 160
        by_key: dict[str, set[str]] = {}
        for (_, key), response in zip(submissions, responses, strict=True):
            by_key.setdefault(key, set()).add(response.json()["complaint_id"])
        assert all(len(ids) == 1 for ids in by_key.values())

        async def every_case_opened():
            found = await fetch_all_cases(client, cases_url)
            return found if {c["complaint_id"] for c in found} >= complaint_ids else None

        all_cases = await eventually(every_case_opened, timeout=180)
        assert len(all_cases) == 160
        assert Counter(c["complaint_id"] for c in all_cases).most_common(1)[0][1] == 1
        case_ids = {c["id"] for c in all_cases}

        async def every_acknowledgement_sent():
            listed = (
                await client.get(f"{notifications_url}/v1/notifications", params={"limit": 500})
            ).json()
            sent = [n for n in listed if n["status"] == "sent"]
            return listed if len(sent) >= 160 else None

        notifications = await eventually(every_acknowledgement_sent, timeout=180)
        assert len(notifications) == 160
        assert {n["case_id"] for n in notifications} == case_ids
        assert all(n["template"] == "acknowledgement" for n in notifications)

        maildir = mailbox.Maildir(stack["maildir"], create=False)
        recipients = Counter(message["To"] for message in maildir)
        assert recipients == Counter(p["customer"]["email"] for p in distinct)
        some_case = all_cases[0]
        message = next(m for m in maildir if some_case["reference"] in m["Subject"])
        text_part = next(p for p in message.walk() if p.get_content_type() == "text/plain")
        assert some_case["reference"] in text_part.get_payload(decode=True).decode()

        expected = Counter(p["category"] for p in distinct)

        async def trend_complete():
            trend = (
                await client.get(
                    f"{analytics_url}/v1/analytics/trends",
                    params={"bucket": "day", "group_by": "category"},
                )
            ).json()
            return trend if sum(trend["totals"].values()) >= 160 else None

        trend = await eventually(trend_complete, timeout=180)
        assert trend["totals"] == dict(expected)

        async def notification_recorded_on_case():
            history = (await client.get(f"{cases_url}/v1/cases/{some_case['id']}/events")).json()
            return [entry["action"] for entry in history] == ["opened", "notification_sent"]

        await eventually(notification_recorded_on_case, timeout=180)

    connection = await asyncpg.connect(
        stack["database_url"].replace("postgresql+asyncpg", "postgresql")
    )
    try:

        async def outboxes_empty():
            pending = [
                await connection.fetchval(
                    f"SELECT count(*) FROM {schema}.outbox WHERE published_at IS NULL"
                )
                for schema in SCHEMAS
            ]
            return pending == [0, 0, 0, 0]

        await eventually(outboxes_empty, timeout=120)
    finally:
        await connection.close()

    # What an operator checks after a burst, with the documented commands: nothing set aside.
    operations = [
        ("case-service", "dead-letters", "list"),
        *((service, "outbox", "parked") for service in SERVICES),
    ]
    answers = await asyncio.gather(*(operate(stack, *operation) for operation in operations))
    assert answers == [""] * len(operations)
    assert_no_errors_logged(Path(stack["logs"]))


async def operate(stack: dict, *operation: str) -> str:
    """Run ``python -m redress_stack ops ...`` against the running stack; its JSON lines."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "redress_stack",
        "ops",
        "--data-dir",
        str(stack["data_dir"]),
        *operation,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return out.decode()


def assert_no_errors_logged(log_dir: Path) -> None:
    for log_file in sorted(log_dir.glob("*-service.log")):
        for line in log_file.read_text().splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                raise AssertionError(f"{log_file.name}: not a JSON log line: {line}") from None
            assert record.get("level") not in ("error", "critical", "exception"), (
                f"{log_file.name}: {line}"
            )


async def test_readiness_health_metrics_and_docs_of_every_service(stack):
    async with httpx.AsyncClient(timeout=30) as client:
        for name, base in stack["services"].items():
            assert (await client.get(f"{base}/healthz")).json() == {"status": "ok"}
            ready = (await client.get(f"{base}/readyz")).json()
            assert ready["status"] == "ready", (name, ready)
            metrics = (await client.get(f"{base}/metrics")).text
            assert "redress_http_requests_total" in metrics
            spec = (await client.get(f"{base}/openapi.json")).json()
            for path, operations in spec["paths"].items():
                for method, operation in operations.items():
                    assert operation.get("summary"), f"{name} {method} {path} has no summary"
            docs = await client.get(f"{base}/docs")
            assert docs.status_code == 200


async def test_correlation_id_travels_from_request_through_events_to_every_log(stack):
    correlation_id = f"e2e-{uuid.uuid4().hex}"
    services = stack["services"]
    headers = {"Authorization": f"Bearer {stack['admin_key']}", "X-Correlation-ID": correlation_id}
    async with httpx.AsyncClient(headers=headers, timeout=30) as client:
        response = await client.post(
            f"{services['intake-service']}/v1/complaints",
            json={
                "customer": {"email": "traced@example.com"},
                "body": "Where is my parcel?",
                "category": "delivery",
            },
        )
        assert response.status_code == 202
        assert response.headers["x-correlation-id"] == correlation_id
        complaint_id = response.json()["complaint_id"]

        async def acknowledged():
            page = (
                await client.get(
                    f"{services['case-service']}/v1/cases", params={"complaint_id": complaint_id}
                )
            ).json()
            if not page["items"]:
                return None
            listed = (
                await client.get(
                    f"{services['notification-service']}/v1/notifications",
                    params={"case_id": page["items"][0]["id"]},
                )
            ).json()
            return listed if listed and listed[0]["status"] == "sent" else None

        await eventually(acknowledged, timeout=120)

    connection = await asyncpg.connect(
        stack["database_url"].replace("postgresql+asyncpg", "postgresql")
    )
    try:
        for schema in ("intake", "cases", "notification"):
            count = await connection.fetchval(
                f"SELECT count(*) FROM {schema}.outbox WHERE event->>'correlation_id' = $1",
                correlation_id,
            )
            assert count == 1, f"{schema} outbox has {count} events with the correlation id"
    finally:
        await connection.close()
    logs = Path(stack["logs"])
    for service, message in [
        ("intake-service", "complaint_registered"),
        ("case-service", "case_opened"),
        ("notification-service", "notification_sent"),
    ]:
        records = [json.loads(line) for line in (logs / f"{service}.log").read_text().splitlines()]
        assert any(
            r.get("correlation_id") == correlation_id and r["event"] == message for r in records
        ), service
