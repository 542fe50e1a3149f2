"""Corrective actions: by hand, and opened once from an analytics alert with its cases."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from redress_shared.events import ALERT_RAISED, ALERTS_TOPIC, AlertV1, new_event
from redress_testing import assert_problem, eventually, produce


async def test_a_corrective_action_is_worked_and_closed_with_its_effect(cases_client, open_case):
    case = await open_case()
    assert_problem(
        await cases_client.post(
            "/v1/corrective-actions", json={"title": "x", "case_ids": [str(uuid.uuid4())]}
        ),
        422,
        "unknown-case",
    )
    created = await cases_client.post(
        "/v1/corrective-actions",
        json={"title": "Re-train the night shift", "owner": "ops-lead", "case_ids": [case["id"]]},
    )
    assert created.status_code == 201, created.text
    action = created.json()
    assert action["status"] == "open" and action["case_ids"] == [case["id"]]
    url = f"/v1/corrective-actions/{action['id']}"

    refused = assert_problem(
        await cases_client.patch(url, json={"status": "done"}), 409, "illegal-capa-change"
    )
    assert "effect" in refused["detail"]
    assert (await cases_client.patch(url, json={"status": "in_progress"})).json()[
        "status"
    ] == "in_progress"
    done = (
        await cases_client.patch(url, json={"status": "done", "effect": "No repeat in 30 days."})
    ).json()
    assert done["status"] == "done" and done["closed_at"] is not None
    assert_problem(
        await cases_client.patch(url, json={"status": "open"}), 409, "illegal-capa-change"
    )
    assert_problem(await cases_client.patch(url, json={"colour": "red"}), 422, "validation-error")
    assert_problem(
        await cases_client.get(f"/v1/corrective-actions/{uuid.uuid4()}"), 404, "not-found"
    )


async def test_an_alert_opens_one_corrective_action_linked_to_the_suppliers_cases(
    cases_client, open_case, infra
):
    supplier = f"Supplier-{uuid.uuid4().hex[:6]}"
    november = datetime(2034, 11, 5, 10, tzinfo=UTC)
    in_period = [await open_case(received_at=november, supplier=supplier) for _ in range(2)]
    await open_case(received_at=datetime(2034, 12, 2, tzinfo=UTC), supplier=supplier)  # next month
    alert_id = uuid.uuid4()
    alert = new_event(
        source="/test",
        type=ALERT_RAISED,
        key=str(alert_id),
        time=datetime(2034, 11, 20, tzinfo=UTC),
        payload=AlertV1(
            alert_id=alert_id,
            kind="supplier_defects",
            subject=supplier,
            attribution="supplier_component",
            period_start=date(2034, 11, 1),
            period_end=date(2034, 12, 1),
            count=7,
            threshold=6,
            occurred_at=datetime(2034, 11, 20, tzinfo=UTC),
        ),
    )
    await produce(
        infra.kafka_bootstrap_servers,
        ALERTS_TOPIC,
        alert,
        alert.model_copy(update={"id": uuid.uuid4()}),
    )

    async def opened():
        return (
            await cases_client.get("/v1/corrective-actions", params={"supplier": supplier})
        ).json()

    actions = await eventually(opened)
    assert len(actions) == 1
    (action,) = actions
    assert action["source_alert_id"] == str(alert_id)
    assert action["title"] == f"Supplier defects: {supplier} (supplier component)"
    assert sorted(action["case_ids"]) == sorted(c["id"] for c in in_period)
    assert action["created_by"] == "analytics-alert"
