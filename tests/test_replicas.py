"""Two case-service processes in one consumer group: each complaint opens exactly one case,
both replicas share the work, and each SLA breach fires once although both run the timer."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from redress_shared.events import CASE_SLA_BREACHED, CASES_TOPIC
from redress_testing import StackClock, eventually, recorded_topic, run_stack


@pytest.fixture(scope="module")
def replicas_clock(tmp_path_factory):
    return StackClock(tmp_path_factory.mktemp("replicas-clock") / "test-clock")


@pytest.fixture(scope="module")
def two_case_replicas(tmp_path_factory, replicas_clock):
    yield from run_stack(
        tmp_path_factory.mktemp("replicas"),
        "--replicas",
        "case-service=2",
        "--test-clock-file",
        str(replicas_clock.path),
    )


def opened_by(log_file: Path) -> set[str]:
    cases = set()
    for line in log_file.read_text().splitlines():
        record = json.loads(line)
        if record.get("event") == "case_opened":
            cases.add(record["case_id"])
    return cases


async def test_each_complaint_opens_one_case_with_two_case_service_replicas(two_case_replicas):
    stack = two_case_replicas
    assert len(stack["replicas"]["case-service"]) == 2
    intake = stack["services"]["intake-service"]
    headers = {"Authorization": f"Bearer {stack['admin_key']}"}
    async with httpx.AsyncClient(headers=headers, timeout=60) as client:
        responses = await asyncio.gather(
            *(
                client.post(
                    f"{intake}/v1/complaints",
                    json={
                        "customer": {"email": f"r{i}.{uuid.uuid4().hex[:6]}@example.com"},
                        "body": f"Complaint {i}",
                    },
                )
                for i in range(60)
            )
        )
        assert all(r.status_code == 202 for r in responses)
        complaint_ids = {r.json()["complaint_id"] for r in responses}

        async def all_opened():
            found: list[dict] = []
            # Read through both replicas: either answers for the whole (shared) database.
            for base in stack["replicas"]["case-service"]:
                page = (await client.get(f"{base}/v1/cases", params={"limit": 200})).json()
                found = page["items"]
            return found if {c["complaint_id"] for c in found} >= complaint_ids else None

        cases = await eventually(all_opened, timeout=180)
    per_complaint = Counter(c["complaint_id"] for c in cases if c["complaint_id"] in complaint_ids)
    assert set(per_complaint.values()) == {1}

    logs = Path(stack["logs"])
    first, second = opened_by(logs / "case-service.log"), opened_by(logs / "case-service-2.log")
    assert first and second, "both replicas should have opened some of the cases"
    assert not first & second, "no case may be opened by both replicas"
    assert len(first | second) == 60


async def test_each_breach_fires_once_with_two_case_service_replicas(
    two_case_replicas, replicas_clock
):
    stack = two_case_replicas
    intake = stack["services"]["intake-service"]
    first_replica, second_replica = stack["replicas"]["case-service"]
    headers = {"Authorization": f"Bearer {stack['admin_key']}"}
    async with (
        recorded_topic(stack["kafka_bootstrap_servers"], CASES_TOPIC) as topic,
        httpx.AsyncClient(headers=headers, timeout=60) as client,
    ):
        responses = await asyncio.gather(
            *(
                client.post(
                    f"{intake}/v1/complaints",
                    json={
                        "customer": {"email": f"b{i}.{uuid.uuid4().hex[:6]}@example.com"},
                        "body": f"Late complaint {i}",
                    },
                )
                for i in range(30)
            )
        )
        assert all(r.status_code == 202 for r in responses)
        complaint_ids = {r.json()["complaint_id"] for r in responses}

        async def opened():
            page = (await client.get(f"{second_replica}/v1/cases", params={"limit": 200})).json()
            mine = [c for c in page["items"] if c["complaint_id"] in complaint_ids]
            return mine if len(mine) == len(complaint_ids) else None

        case_ids = {c["id"] for c in await eventually(opened, timeout=180)}

        def breaches() -> Counter:
            return Counter((e.key, e.data["clock"]) for e in topic if e.type == CASE_SLA_BREACHED)

        async def every_case_breached(clock_name: str):
            return all(breaches()[(case_id, clock_name)] for case_id in case_ids)

        # Past the acknowledgement deadline (24 h), then past the first response (48 h):
        # both replicas' timers see every case due; each breach is published once.
        replicas_clock.advance(timedelta(hours=25))
        await eventually(lambda: every_case_breached("acknowledge"), timeout=180)
        replicas_clock.advance(timedelta(hours=24))
        await eventually(lambda: every_case_breached("first_response"), timeout=180)

        doubled = {pair: n for pair, n in breaches().items() if n > 1}
        assert not doubled, f"breaches published more than once: {doubled}"
        for base in (first_replica, second_replica):
            case = (await client.get(f"{base}/v1/cases/{sorted(case_ids)[0]}")).json()
            assert case["priority"] == "urgent", "two breaches: normal → high → urgent, once each"
            history = (await client.get(f"{base}/v1/cases/{case['id']}/events")).json()
            assert [e["action"] for e in history if e["action"] == "sla_breached"] == [
                "sla_breached",
                "sla_breached",
            ]
