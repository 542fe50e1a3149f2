"""Rebuild: replaying the topics from offset 0 into fresh tables gives identical figures.

The test runs on a private PostgreSQL database and broker, so that the log holds exactly the
events it feeds and truncating the live facts disturbs no other test.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import sys
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from analytics_service import MIGRATIONS_DIR
from analytics_service.bootstrap import build_app
from analytics_service.config import AnalyticsSettings
from analytics_service.rebuild import ServiceStillRunning, fact_tables, rebuild
from redress_shared.events import (
    CASE_DECISION_RECORDED,
    CASE_OPENED,
    CASE_SLA_BREACHED,
    CASE_STATUS_CHANGED,
    CASES_TOPIC,
    COMPLAINT_RECEIVED,
    COMPLAINTS_TOPIC,
    CaseDecisionRecordedV1,
    CaseDueTimes,
    CaseOpenedV1,
    CaseSlaV1,
    CaseStatusChangedV1,
    ComplaintReceivedV1,
    CustomerContact,
    ProductRef,
    new_event,
)
from redress_shared.migrations import upgrade_to_head
from redress_testing import eventually, produce, running_app, start_test_infra
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

WINDOW_START = datetime(2026, 9, 1, tzinfo=UTC)
WINDOW_END = datetime(2026, 11, 1, tzinfo=UTC)
SUPPLIERS = ["Voltix", "Ampero", "Cablu"]
CATEGORIES = ["product_defect", "delivery", "billing_error"]
CHANNELS = ["api", "email", "phone"]
ROOT_CAUSES = ["supplier_component", "manufacturing", "handling", None]
VALIDITIES = ["justified", "partly_justified", "unjustified"]


@pytest.fixture(scope="module")
def private_infra(tmp_path_factory):
    infra, stoppers = start_test_infra(tmp_path_factory.mktemp("rebuild-infra"))
    yield infra
    for stop in reversed(stoppers):
        stop()


@pytest.fixture(scope="module")
def settings(private_infra) -> AnalyticsSettings:
    settings = AnalyticsSettings(
        database_url=private_infra.database_url,
        kafka_bootstrap_servers=private_infra.kafka_bootstrap_servers,
        admin_api_key=private_infra.admin_key,
        consumer_max_retries=2,
    )
    upgrade_to_head(settings.database_url, MIGRATIONS_DIR, settings.db_schema)
    return settings


def mixed_stream(count: int):
    """Complaints over two months, most with a case, many decided; returns the three lists."""
    complaints, cases, decisions = [], [], []
    for index in range(count):
        at = WINDOW_START + timedelta(hours=7 * index + index % 5)
        customer = CustomerContact(customer_key=f"customer-{index % 17}", email="c@example.com")
        complaint_id = uuid.uuid4()
        complaints.append(
            new_event(
                source="/test",
                type=COMPLAINT_RECEIVED,
                key=customer.customer_key,
                time=at,
                payload=ComplaintReceivedV1(
                    complaint_id=complaint_id,
                    reference=f"RDR-2026-{index:06d}",
                    received_at=at,
                    channel=CHANNELS[index % 3],
                    customer=customer,
                    body="…",
                    language=["ro", "lv", "fa"][index % 3],
                    category=CATEGORIES[index % 3],
                    product=ProductRef(sku=f"SKU-{index % 4}"),
                    supplier=SUPPLIERS[index % 3],
                ),
            )
        )
        if index % 6 == 5:
            continue  # not every complaint has a case yet
        case_id = uuid.uuid4()
        opened_at = at + timedelta(minutes=5)
        cases.append(
            new_event(
                source="/test",
                type=CASE_OPENED,
                key=str(case_id),
                time=opened_at,
                payload=CaseOpenedV1(
                    case_id=case_id,
                    complaint_id=complaint_id,
                    reference=f"RDR-2026-{index:06d}",
                    status="new",
                    priority=["low", "normal", "high", "urgent"][index % 4],
                    channel=CHANNELS[index % 3],
                    opened_at=opened_at,
                    customer=customer,
                    supplier=SUPPLIERS[index % 3],
                    due=CaseDueTimes(
                        acknowledge_by=opened_at + timedelta(hours=4),
                        first_response_by=opened_at + timedelta(days=1),
                        resolve_by=opened_at + timedelta(days=5),
                    ),
                    sla_policy="standard",
                ),
            )
        )
        # Lifecycle and SLA events too, for the figures that are built from them.
        resolved_at = at + timedelta(days=1 + index % 7)
        cases.append(
            new_event(
                source="/test",
                type=CASE_STATUS_CHANGED,
                key=str(case_id),
                time=resolved_at,
                payload=CaseStatusChangedV1(
                    case_id=case_id,
                    reference=f"RDR-2026-{index:06d}",
                    action="resolve",
                    from_status="in_progress",
                    to_status="resolved",
                    version=3,
                    actor="agent",
                    occurred_at=resolved_at,
                ),
            )
        )
        if index % 4 == 3:
            cases.append(
                new_event(
                    source="/test",
                    type=CASE_SLA_BREACHED,
                    key=str(case_id),
                    time=opened_at + timedelta(hours=4),
                    payload=CaseSlaV1(
                        case_id=case_id,
                        reference=f"RDR-2026-{index:06d}",
                        clock="acknowledge",
                        due_at=opened_at + timedelta(hours=4),
                        occurred_at=opened_at + timedelta(hours=4),
                        priority_before="normal",
                        priority_after="high",
                    ),
                )
            )
        if index % 2:
            continue
        for revision in range(1 + index % 3):  # some cases are decided again later
            decided_at = at + timedelta(days=2 + revision)
            decisions.append(
                new_event(
                    source="/test",
                    type=CASE_DECISION_RECORDED,
                    key=str(case_id),
                    time=decided_at,
                    payload=CaseDecisionRecordedV1(
                        case_id=case_id,
                        reference=f"RDR-2026-{index:06d}",
                        complaint_id=complaint_id,
                        validity=VALIDITIES[(index + revision) % 3],
                        root_cause=ROOT_CAUSES[(index // 2 + revision) % 4],
                        decided_by="agent",
                        occurred_at=decided_at,
                    ),
                )
            )
    return complaints, cases, decisions


def _figure_requests(openapi: dict) -> list[tuple[str, dict]]:
    """Every GET figure endpoint of the service, with every combination of its enum
    parameters (bucket, group_by, ...) over the test window: generic, so figures added
    later are covered without touching this test."""
    requests = []
    for path, operations in sorted(openapi["paths"].items()):
        get = operations.get("get")
        if not path.startswith("/v1/analytics/") or get is None or "{" in path:
            continue
        choices: dict[str, list] = {}
        for parameter in get.get("parameters", []):
            if parameter["in"] != "query":
                continue
            schema = parameter.get("schema", {})
            if "$ref" in schema:
                schema = openapi["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
            if parameter["name"] == "from":
                choices["from"] = [WINDOW_START.isoformat()]
            elif parameter["name"] == "to":
                choices["to"] = [WINDOW_END.isoformat()]
            elif "enum" in schema:
                choices[parameter["name"]] = list(schema["enum"])
        names = sorted(choices)
        for values in itertools.product(*(choices[name] for name in names)):
            requests.append((path, dict(zip(names, values, strict=True))))
    return requests


async def snapshot(client) -> dict:
    """The JSON of every figure endpoint, keyed by path and parameters."""
    openapi = (await client.get("/openapi.json")).json()
    figures = {}
    for path, params in _figure_requests(openapi):
        response = await client.get(path, params=params)
        assert response.status_code == 200, (path, params, response.text)
        figures[f"{path}?{sorted(params.items())}"] = response.json()
    return figures


async def _truncate_facts(settings: AnalyticsSettings) -> None:
    engine = create_async_engine(settings.database_url)
    async with engine.begin() as connection:
        names = ", ".join(f"analytics.{table.name}" for table in fact_tables())
        await connection.execute(text(f"TRUNCATE {names}"))
    await engine.dispose()


async def test_replaying_the_log_into_fresh_tables_gives_identical_figures(settings):
    complaints, cases, decisions = mixed_stream(120)
    opened = [event for event in cases if event.type == CASE_OPENED]
    bootstrap = settings.kafka_bootstrap_servers
    # Out of order: cases and decisions reach the broker before their complaints, and one
    # case's latest decision before its earlier one; redeliveries of every kind; and a
    # malformed record that goes to the dead-letter topic.
    late_first = decisions[:3][::-1]
    await produce(bootstrap, CASES_TOPIC, *cases, *late_first, *decisions[3:], *decisions[:10])
    await produce(
        bootstrap,
        COMPLAINTS_TOPIC,
        *complaints,
        *complaints[:15],
        raw=[(b"k", b"not json", [("ce_type", COMPLAINT_RECEIVED.encode())])],
    )
    await produce(bootstrap, CASES_TOPIC, *cases[:8])  # redelivered case events
    produced = len(cases) + len(decisions) + 10 + len(complaints) + 15 + 1 + 8

    async with running_app(build_app(settings), settings) as client:

        async def all_counted():
            params = {"from": WINDOW_START.isoformat(), "to": WINDOW_END.isoformat()}
            trend = (
                await client.get("/v1/analytics/trends", params={**params, "group_by": "priority"})
            ).json()
            defects = (await client.get("/v1/analytics/supplier-defects", params=params)).json()
            counted = sum(trend["totals"].values()) == len(complaints)
            unknown_priority = trend["totals"].get("unknown")
            decided = sum(row["decided"] for row in defects)
            opened_all = unknown_priority == len(complaints) - len(opened)
            return (
                counted and opened_all and decided == len({d.payload().case_id for d in decisions})
            )

        await eventually(all_counted, timeout=180)
        before = await snapshot(client)
        assert len(before) >= 25  # trends by every bucket and group, defects, alerts, ...

        # Compare mode while the service runs: the replay matches the live facts exactly.
        report = await rebuild(settings)
        assert report.records_read == produced
        assert len(report.failed_records) == 1 and "malformed" in report.failed_records[0]
        assert report.identical, report.as_dict()
        assert report.rebuilt_rows["complaint_facts"] == len(complaints)
        assert report.rebuilt_rows["case_facts"] == len(opened)
        assert not report.swapped

        # Swapping while the service holds connections is refused, and changes nothing.
        with pytest.raises(ServiceStillRunning):
            await rebuild(settings, swap=True)
        assert await snapshot(client) == before

    # Lose the facts (as a figure added later starts with empty tables), then rebuild and swap
    # with the real command line while the service is stopped.
    await _truncate_facts(settings)
    environment = {
        **os.environ,
        "REDRESS_DATABASE_URL": settings.database_url,
        "REDRESS_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
    }
    command = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "analytics_service",
        "rebuild",
        "--swap",
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(command.communicate(), timeout=600)
    assert command.returncode == 0, (stdout + stderr).decode()
    assert '"swapped": true' in stdout.decode()

    async with running_app(build_app(settings), settings) as client:
        after = await snapshot(client)
    assert after == before
