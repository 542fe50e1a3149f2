"""Analytics over real processes: a mixed, four-week stream and exactly the expected figures
and alerts.

Intake stamps every complaint with the time it arrives, so the past weeks are published
straight to the complaints topic as well-formed CloudEvents with the shared encoder — what
another system's replay looks like — and four fresh complaints go through intake's API. The
case service opens every case from the topic; decisions, remedies, lifecycle changes and a
satisfaction survey go through its API. Then every figure endpoint is checked, and the
alerts topic must hold exactly two raised alerts (the supplier above threshold and the
injected incident) and one cleared (the incident, which is long over).
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx
from aiokafka import AIOKafkaConsumer
from redress_shared.events import ALERT_CLEARED, ALERT_RAISED, ALERTS_TOPIC, COMPLAINTS_TOPIC
from redress_shared.records import from_kafka_record
from redress_testing import eventually, produce
from redress_testing.case_stories import complaint_received

RO, SI, LV = "+40721234567", "+38641123456", "+37120000000"


def past_month_start(now: datetime) -> datetime:
    """The first day of the month before last (entirely in the past, whole weeks of it)."""
    first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return (first - timedelta(days=40)).replace(day=1)


def mixed_stream(base: datetime) -> dict[str, list]:
    """Four weeks of complaints: three suppliers, a steady outage background, one burst."""
    at = lambda day, hour, minute=0: base + timedelta(days=day, hours=hour, minutes=minute)  # noqa: E731
    stream: dict[str, list] = {}
    for supplier, sku, days in (
        ("Voltix", "VX-1", range(2, 26, 3)),  # 8: all upheld as supplier components
        ("Ampero", "AM-2", range(3, 23, 4)),  # 5: 3 upheld supplier components, 2 not
        ("Lumen", "LU-3", range(4, 25, 6)),  # 4: upheld manufacturing, not more than 4
    ):
        stream[supplier] = [
            complaint_received(
                at(day, 10), category="product_defect", sku=sku, supplier=supplier, phone=SI
            )
            for day in days
        ]
    stream["background"] = [
        complaint_received(at(day, 6), category="outage", sku="RT-5", phone=RO) for day in range(27)
    ]
    stream["burst"] = [
        complaint_received(at(13, 14, 5 * i), category="outage", sku="RT-5", phone=RO)
        for i in range(6)
    ]
    frequent = f"e2e-frequent-{uuid.uuid4().hex[:6]}"
    stream["billing"] = [
        complaint_received(
            at(day, 16),
            category="billing",
            sku=None,
            phone=LV,
            customer_key=frequent if day in (1, 8, 15) else None,
        )
        for day in (1, 5, 8, 12, 15, 19)
    ]
    return stream


async def fetch_all_cases(client: httpx.AsyncClient, base: str) -> list[dict]:
    cases, cursor = [], None
    while True:
        params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(f"{base}/v1/cases", params=params)).json()
        cases += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return cases


async def alert_events(bootstrap: str) -> list[tuple[str, str, str, int]]:
    """Every event on the alerts topic: (type, kind, subject, members)."""
    consumer = AIOKafkaConsumer(
        ALERTS_TOPIC,
        bootstrap_servers=bootstrap,
        group_id=f"e2e-alerts-{uuid.uuid4()}",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    found = []
    try:
        for _ in range(6):
            batches = await consumer.getmany(timeout_ms=1000)
            for records in batches.values():
                for record in records:
                    event = from_kafka_record(record.key, record.value, record.headers)
                    data = event.data
                    found.append(
                        (event.type, data["kind"], data["subject"], len(data.get("members") or []))
                    )
    finally:
        await consumer.stop()
    return found


async def test_mixed_multi_week_stream_gives_exact_figures_and_alerts(stack):
    services = stack["services"]
    intake, cases_url = services["intake-service"], services["case-service"]
    analytics = services["analytics-service"] + "/v1/analytics"
    bootstrap = stack["kafka_bootstrap_servers"]
    now = datetime.now(UTC)
    base = past_month_start(now)
    month = {"from": base.isoformat(), "to": (base + timedelta(days=28)).isoformat()}
    today = {
        "from": (now - timedelta(days=1)).isoformat(),
        "to": (now + timedelta(days=1)).isoformat(),
    }
    stream = mixed_stream(base)
    past = [event for events in stream.values() for event in events]
    # At-least-once: a few records arrive twice.
    await produce(bootstrap, COMPLAINTS_TOPIC, *past, *past[:5])

    headers = {"Authorization": f"Bearer {stack['admin_key']}"}
    async with httpx.AsyncClient(headers=headers, timeout=60) as client:
        fresh_ids = []
        for index in range(4):
            accepted = await client.post(
                f"{intake}/v1/complaints",
                headers={"Idempotency-Key": f"e2e-analytics-{uuid.uuid4().hex}"},
                json={
                    "customer": {"name": f"Fresh {index}", "email": f"fresh{index}@example.com"},
                    "body": "The parcel never came.",
                    "category": "delivery",
                },
            )
            assert accepted.status_code == 202, accepted.text
            fresh_ids.append(accepted.json()["complaint_id"])

        expected_complaints = {str(e.payload().complaint_id) for e in past} | set(fresh_ids)

        async def every_case_opened():
            found = await fetch_all_cases(client, cases_url)
            by_complaint = {c["complaint_id"]: c for c in found}
            return by_complaint if set(by_complaint) >= expected_complaints else None

        case_of = await eventually(every_case_opened, timeout=240)
        assert len(case_of) == 60

        def case_id(event) -> str:  # noqa: ANN001
            return case_of[str(event.payload().complaint_id)]["id"]

        async def call(method: str, path: str, body: dict | None = None) -> dict:
            response = await client.request(method, f"{cases_url}/v1/cases/{path}", json=body)
            assert response.status_code in (200, 201), (path, response.text)
            return response.json()

        decisions = (
            [(e, "justified", "supplier_component") for e in stream["Voltix"]]
            + [(e, "justified", "supplier_component") for e in stream["Ampero"][:3]]
            + [(e, "unjustified", "misuse") for e in stream["Ampero"][3:]]
            + [(e, "partly_justified", "manufacturing") for e in stream["Lumen"]]
        )
        for event, validity, root_cause in decisions:
            await call(
                "PUT",
                f"{case_id(event)}/decision",
                {
                    "validity": validity,
                    "root_cause": root_cause,
                    "explanation": "What we found.",
                    "way_forward": "A discount on the next order.",
                },
            )
        for event in stream["Voltix"][:2]:
            await call(
                "POST",
                f"{case_id(event)}/remedies",
                {"remedy_type": "refund", "amount": "25.00", "currency": "EUR"},
            )
        await call("POST", f"{case_id(stream['Ampero'][0])}/remedies", {"remedy_type": "repair"})

        f1, f2, f3, _f4 = (case_of[c]["id"] for c in fresh_ids)
        await call("POST", f"{f1}/transitions", {"action": "acknowledge"})
        await call("POST", f"{f2}/transitions", {"action": "acknowledge"})
        await call("POST", f"{f2}/transitions", {"action": "start"})
        await call("POST", f"{f2}/transitions", {"action": "resolve", "reason": "Resent."})
        await call("POST", f"{f2}/transitions", {"action": "close"})
        await call(
            "POST",
            f"{f2}/satisfaction",
            {
                "criteria": [
                    {"name": "speed", "score": 5, "weight": 50},
                    {"name": "outcome", "score": 9, "weight": 50},
                ],
                "would_recommend": False,
                "would_continue": True,
            },
        )
        await call("POST", f"{f3}/transitions", {"action": "start"})
        await call("POST", f"{f3}/transitions", {"action": "resolve", "reason": "Found it."})
        await call("POST", f"{f3}/transitions", {"action": "reopen", "reason": "It was not."})

        async def get(figure: str, params: dict) -> dict:
            response = await client.get(f"{analytics}/{figure}", params=params)
            assert response.status_code == 200, response.text
            return response.json()

        # Supplier defects: Voltix above the supplier-component threshold, Lumen at (not
        # above) the manufacturing one.
        async def defects_counted():
            rows = {r["supplier"]: r for r in await get("supplier-defects", month)}
            done = rows.keys() == {"Voltix", "Ampero", "Lumen"} and all(
                r["decided"] == r["complaints"] for r in rows.values()
            )
            return rows if done else None

        defects = await eventually(defects_counted, timeout=180)
        assert {s: (r["complaints"], r["upheld"]) for s, r in defects.items()} == {
            "Voltix": (8, 8),
            "Ampero": (5, 3),
            "Lumen": (4, 4),
        }
        assert defects["Voltix"]["supplier_component"] == 8 and defects["Voltix"]["above_threshold"]
        assert defects["Ampero"]["supplier_component"] == 3
        assert defects["Lumen"]["manufacturing"] == 4
        assert not defects["Ampero"]["above_threshold"] and not defects["Lumen"]["above_threshold"]

        # Trends over the four weeks, exact despite the duplicates.
        by_supplier = await get("trends", {**month, "bucket": "week", "group_by": "supplier"})
        assert by_supplier["totals"] == {"Voltix": 8, "Ampero": 5, "Lumen": 4, "unknown": 39}
        by_category = await get("trends", {**month, "bucket": "week", "group_by": "category"})
        assert by_category["totals"] == {"product_defect": 17, "outage": 33, "billing": 6}
        assert by_category["change"]["outage"] == {
            "current": 33,
            "previous": 0,
            "difference": 33,
            "relative": None,
        }
        by_region = await get("trends", {**month, "bucket": "month", "group_by": "region"})
        assert by_region["totals"] == {"RO": 33, "SI": 17, "LV": 6}

        # SLA of the cases opened today: the replayed complaints were overdue on arrival (the
        # case service's timer reports their breaches); three fresh ones were acknowledged.
        async def sla_settled():
            body = await get("sla", today)
            total = body["groups"][-1]
            ack = total["acknowledge"]
            done = (ack["met"], ack["breached"], ack["pending"]) == (3, 56, 1)
            # The two resolutions' answers to the customer arrive as their own events.
            answered = total["first_response"]["met"] == 2
            return body if done and answered and body["at_risk_total"] == 56 else None

        sla = await eventually(sla_settled, timeout=180)
        total = sla["groups"][-1]
        assert (total["priority"], total["team"], total["cases"]) == ("all", "all", 60)
        assert total["acknowledge"]["within_target_share"] == round(3 / 59, 4)
        assert total["first_response"]["met"] == 2  # the two resolutions answered the customer
        assert all(r["state"] == "breached" for r in sla["at_risk"])
        assert {r["case_id"] for r in sla["at_risk"]} == {case_id(e) for e in past}

        outcomes = await get("outcomes", today)
        assert outcomes["cases"] == 60
        assert outcomes["decisions"] == {"justified": 11, "partly_justified": 4, "unjustified": 2}
        assert [(r["remedy_type"], r["remedies"]) for r in outcomes["remedies"]] == [
            ("refund", 2),
            ("repair", 1),
        ]
        assert outcomes["remedy_value"] == [{"currency": "EUR", "remedies": 2, "total": "50.00"}]
        assert (outcomes["resolved"], outcomes["reopened"], outcomes["reopen_rate"]) == (2, 1, 0.5)

        async def surveyed():
            periods = (await get("satisfaction", {**today, "bucket": "month"}))["periods"]
            answered = [p for p in periods if p["surveys"]]
            return answered if answered and sum(p["cases_closed"] for p in periods) == 1 else None

        (period,) = await eventually(surveyed, timeout=120)
        assert (period["surveys"], period["coefficient"], period["response_rate"]) == (1, 7.0, 1.0)
        # One answer: the coefficient is judged, the shares need ten answers first.
        assert period["flags"] == ["coefficient_below_8"]

        customers = await get("customers", month)
        assert customers["customers"] == 54
        assert [(r["complaints"]) for r in customers["repeat_complainers"]] == [3]
        assert customers["tiers"] == [{"tier": "standard", "complaints": 56, "customers": 54}]

        # Exactly the expected alerts: the supplier (still active), the incident with its
        # six member complaints (raised and cleared, it ended weeks ago) and this month's
        # satisfaction below 8.
        listed = await get("alerts", {})
        assert sorted((a["kind"], a["subject"], a["attribution"]) for a in listed) == [
            ("incident", "outage/RT-5", "product"),
            ("satisfaction", "all", "coefficient_below_8"),
            ("supplier_defects", "Voltix", "supplier_component"),
        ]
        satisfaction = next(a for a in listed if a["kind"] == "satisfaction")
        assert (satisfaction["count"], satisfaction["threshold"]) == (100, 0)  # 1.00 below 8
        incident = next(a for a in listed if a["kind"] == "incident")
        assert sorted(incident["members"]) == sorted(
            str(e.payload().complaint_id) for e in stream["burst"]
        )
        assert incident["cleared_at"] is not None
        supplier = next(a for a in listed if a["kind"] == "supplier_defects")
        assert (supplier["count"], supplier["threshold"], supplier["cleared_at"]) == (8, 6, None)

    published = await alert_events(bootstrap)
    assert Counter(published) == Counter(
        {
            (ALERT_RAISED, "supplier_defects", "Voltix", 0): 1,
            (ALERT_RAISED, "satisfaction", "all", 0): 1,
            (ALERT_RAISED, "incident", "outage/RT-5", 5): 1,
            # Raised when the fifth member arrived and cleared at once (the clock is weeks
            # past it); the sixth joins the incident's members without a new alert.
            (ALERT_CLEARED, "incident", "outage/RT-5", 5): 1,
        }
    ), published
