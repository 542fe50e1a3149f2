"""The dashboard in a real headless browser (Debian's chromium): the charts draw the figures.

The service runs as a real HTTP server on loopback; chromium loads ``/dashboard#key=...``,
runs the page's script (which fetches the JSON endpoints with the key) and prints the DOM it
ended up with, which the test reads back.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections import defaultdict
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from urllib.parse import urlencode

import pytest
import uvicorn
from redress_shared.events import (
    CASE_DECISION_RECORDED,
    CASE_OPENED,
    CASE_STATUS_CHANGED,
    CASES_TOPIC,
    COMPLAINT_RECEIVED,
    COMPLAINTS_TOPIC,
    CaseDecisionRecordedV1,
    CaseDueTimes,
    CaseOpenedV1,
    CaseStatusChangedV1,
    ComplaintReceivedV1,
    CustomerContact,
    ProductRef,
    new_event,
)
from redress_stack.infra import free_port
from redress_testing import assert_problem, eventually, produce

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # Without these chromium waits on a network this machine may not have.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Virtual time runs the page's script and waits for its fetches before the DOM is printed.
    "--virtual-time-budget=20000",
]


@pytest.fixture(scope="module")
def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.geteuid() == 0:
        pytest.fail(
            "chromium is not installed, so the dashboard cannot be tested in a browser: "
            "`make chromium` installs Debian's package (`make test` runs it first)"
        )
    pytest.skip(
        "!!! DASHBOARD BROWSER TEST NOT RUN: chromium is not installed and we are not root; "
        "install it with `sudo apt-get install chromium` (Debian) !!!"
    )


class Elements(HTMLParser):
    """Every element of a DOM dump with its attributes and the text directly inside it."""

    def __init__(self, dom: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str], list[str]]] = []
        self._open: list[int] = []
        self.feed(dom)

    def handle_starttag(self, tag, attrs):  # noqa: ANN001, ANN201
        self.elements.append((tag, dict((k, v or "") for k, v in attrs), []))
        if tag not in {"circle", "line", "rect", "polyline", "input", "meta", "link"}:
            self._open.append(len(self.elements) - 1)

    def handle_endtag(self, tag):  # noqa: ANN001, ANN201
        if self._open and self.elements[self._open[-1]][0] == tag:
            self._open.pop()

    def handle_data(self, data):  # noqa: ANN001, ANN201
        if self._open:
            self.elements[self._open[-1]][2].append(data)

    def find(self, tag: str, **attributes: str) -> list[tuple[dict[str, str], str]]:
        return [
            (attrs, "".join(text))
            for name, attrs, text in self.elements
            if name == tag
            and all(attrs.get(k.replace("_", "-")) == v for k, v in attributes.items())
        ]


@asynccontextmanager
async def serving(app):
    """Serve ``app``, whose runtime is already started, with uvicorn on a free loopback port
    (the browser needs a real server). One runtime only: a second one would join the same
    consumer group and rebalance the partitions under the other tests."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="off")
    )
    task = asyncio.create_task(server.serve())

    async def started():
        if task.done():
            task.result()
        return server.started

    await eventually(started)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def render(chromium: str, url: str, profile) -> Elements:  # noqa: ANN001
    process = await asyncio.create_subprocess_exec(
        chromium,
        *CHROMIUM_FLAGS,
        f"--user-data-dir={profile}",
        "--dump-dom",
        url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=180)
    assert process.returncode == 0, stderr.decode(errors="replace")[-2000:]
    return Elements(stdout.decode())


def complaint(at: datetime, category: str, supplier: str):
    customer = CustomerContact(customer_key=str(uuid.uuid4()))
    payload = ComplaintReceivedV1(
        complaint_id=uuid.uuid4(),
        reference="RDR-2030-000001",
        received_at=at,
        channel="api",
        customer=customer,
        body="…",
        category=category,
        product=ProductRef(sku="CH-20"),
        supplier=supplier,
    )
    event = new_event(
        source="/test", type=COMPLAINT_RECEIVED, key=customer.customer_key, payload=payload, time=at
    )
    return event, payload


def opened_and_decided(complaint: ComplaintReceivedV1, root_cause: str):
    case_id = uuid.uuid4()
    at = complaint.received_at + timedelta(minutes=10)
    opened = CaseOpenedV1(
        case_id=case_id,
        complaint_id=complaint.complaint_id,
        reference=complaint.reference,
        status="new",
        priority="high",
        channel="api",
        opened_at=at,
        customer=complaint.customer,
        due=CaseDueTimes(
            acknowledge_by=at + timedelta(hours=1),
            first_response_by=at + timedelta(hours=8),
            resolve_by=at + timedelta(days=3),
        ),
        sla_policy="standard",
    )
    decided = CaseDecisionRecordedV1(
        case_id=case_id,
        reference=complaint.reference,
        complaint_id=complaint.complaint_id,
        validity="justified",
        root_cause=root_cause,
        decided_by="agent",
        occurred_at=at + timedelta(days=1),
    )
    acknowledged = CaseStatusChangedV1(
        case_id=case_id,
        reference=complaint.reference,
        action="acknowledge",
        from_status="new",
        to_status="acknowledged",
        version=2,
        actor="agent",
        occurred_at=at + timedelta(minutes=30),
    )
    return [
        new_event(source="/test", type=CASE_OPENED, key=str(case_id), payload=opened, time=at),
        new_event(
            source="/test",
            type=CASE_STATUS_CHANGED,
            key=str(case_id),
            payload=acknowledged,
            time=acknowledged.occurred_at,
        ),
        new_event(
            source="/test",
            type=CASE_DECISION_RECORDED,
            key=str(case_id),
            payload=decided,
            time=decided.occurred_at,
        ),
    ]


async def test_the_dashboard_draws_trend_supplier_and_sla_charts(
    analytics_client, analytics_settings, infra, chromium, tmp_path
):
    # A month no other test writes into; suppliers of their own.
    year = 2031 + uuid.uuid4().int % 50
    tag = uuid.uuid4().hex[:6]
    over, under = f"Voltix-{tag}", f"Ampero-{tag}"
    complaints, case_events = [], []
    for day in range(7):  # seven upheld supplier-component defects: above the threshold of 6
        event, payload = complaint(
            datetime(year, 5, 3 + day, 9, tzinfo=UTC), "product_defect", over
        )
        complaints.append(event)
        case_events += opened_and_decided(payload, "supplier_component")
    event, payload = complaint(datetime(year, 5, 4, 15, tzinfo=UTC), "delivery", under)
    complaints.append(event)
    case_events += opened_and_decided(payload, "manufacturing")
    await produce(infra.kafka_bootstrap_servers, COMPLAINTS_TOPIC, *complaints)
    await produce(infra.kafka_bootstrap_servers, CASES_TOPIC, *case_events)
    window = {"from": f"{year}-05-01T00:00:00Z", "to": f"{year}-06-01T00:00:00Z"}

    async def decided():
        rows = (await analytics_client.get("/v1/analytics/supplier-defects", params=window)).json()
        return sum(row["decided"] for row in rows) == 8 and rows

    await eventually(decided)
    has_sla = "/v1/analytics/sla" in (await analytics_client.get("/openapi.json")).json()["paths"]

    key = analytics_settings.admin_api_key.get_secret_value()
    fragment = urlencode(
        {"key": key, "from": f"{year}-05-01", "to": f"{year}-05-31", "group_by": "category"}
    )
    async with serving(analytics_client.app) as base_url:
        page = await render(chromium, f"{base_url}/dashboard#{fragment}", tmp_path / "profile")
        refused = await render(
            chromium,
            f"{base_url}/dashboard#{urlencode({'key': 'rdr_wrong', 'from': f'{year}-05-01'})}",
            tmp_path / "profile-wrong",
        )

    assert page.find("body", data_loaded="true"), "the page's script did not finish"
    # Trend: one line per category, its dots adding up to the category's complaints.
    assert page.find("svg", data_chart="trend")
    lines = {attrs["data-group"]: attrs for attrs, _ in page.find("polyline")}
    assert set(lines) == {"product_defect", "delivery"}
    dots: dict[str, int] = defaultdict(int)
    for attrs, _ in page.find("circle"):
        dots[attrs["data-group"]] += int(attrs["data-count"])
    assert dots == {"product_defect": 7, "delivery": 1}
    # One point per day with complaints, left to right in time.
    for attrs in lines.values():
        xs = [float(point.split(",")[0]) for point in attrs["points"].split()]
        assert len(xs) == 7 and xs == sorted(xs) and len(set(xs)) == 7

    # Supplier defects: a bar per supplier and cause, red above the threshold, with its mark.
    assert page.find("svg", data_chart="supplier-defects")
    bars = {
        (attrs["data-row"], attrs["data-series"]): attrs
        for attrs, _ in page.find("rect")
        if attrs.get("data-row") in {over, under}
    }
    assert bars[(over, "supplier_component")]["data-value"] == "7"
    assert bars[(over, "supplier_component")]["fill"] == "#dc2626"
    assert bars[(under, "manufacturing")]["data-value"] == "1"
    assert bars[(under, "manufacturing")]["fill"] != "#dc2626"
    assert {
        attrs["data-threshold"] for attrs, _ in page.find("line") if "data-threshold" in attrs
    } >= {
        "6",
        "4",
    }

    # SLA: drawn when the service has the endpoint, otherwise said so plainly.
    if has_sla:  # the bars show what the endpoint answers, per priority and team
        sla = (await analytics_client.get("/v1/analytics/sla", params=window)).json()
        expected = {
            (group["priority"], group["team"]): group["acknowledge"]["within_target_share"]
            for group in sla["groups"]
        }
        assert page.find("svg", data_chart="sla")
        drawn = {
            attrs["data-row"]: float(attrs["data-value"])
            for attrs, _ in page.find("rect")
            if attrs.get("data-series") == "acknowledge"
        }
        assert drawn and drawn == {
            priority: share for (priority, _team), share in expected.items() if share is not None
        }
    else:
        notes = [text for _, text in page.find("p", **{"class": "unavailable"})]
        assert notes == ["SLA figures are not available on this server."]

    # A wrong key draws nothing and says why.
    assert not refused.find("svg")
    errors = [text for _, text in refused.find("p", **{"class": "error"})]
    assert errors == [
        f"{figure}: the API key was refused (unknown or revoked)"
        for figure in ("Trend", "Supplier defect", "SLA")
        if has_sla or figure != "SLA"
    ]


async def test_the_dashboard_page_needs_no_key_and_ships_its_own_script(analytics_client):
    anonymous = {"Authorization": ""}
    page = await analytics_client.get("/dashboard", headers=anonymous)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["referrer-policy"] == "no-referrer"
    assert '<script src="dashboard/dashboard.js">' in page.text
    script = await analytics_client.get("/dashboard/dashboard.js", headers=anonymous)
    assert script.status_code == 200 and "Authorization" in script.text
    assert "http://" not in script.text.replace("http://www.w3.org/2000/svg", "")
    assert_problem(await analytics_client.get("/dashboard/secrets.txt"), 404, "not-found")
