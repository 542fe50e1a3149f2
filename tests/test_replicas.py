"""Two case-service processes in one consumer group: each complaint opens exactly one case,
and both replicas share the work."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from pathlib import Path

import httpx
import pytest
from redress_stack.testing import eventually, run_stack


@pytest.fixture(scope="module")
def two_case_replicas(tmp_path_factory):
    yield from run_stack(tmp_path_factory.mktemp("replicas"), "--replicas", "case-service=2")


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
