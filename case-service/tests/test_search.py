"""GET /v1/cases filters, SLA state and stable cursor pagination."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from redress_shared.clock import FixedClock


async def search(client, **params) -> list[dict]:
    response = await client.get("/v1/cases", params=params)
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def test_filters_combine_and_pages_are_stable(cases_client, open_case):
    category = f"search-{uuid.uuid4().hex[:8]}"
    opened = [await open_case(category=category) for _ in range(3)]
    ids = {case["id"] for case in opened}
    first = opened[0]
    await cases_client.post(f"/v1/cases/{first['id']}/transitions", json={"action": "start"})

    assert {c["id"] for c in await search(cases_client, category=category)} == ids
    assert [
        c["id"] for c in await search(cases_client, category=category, status="investigating")
    ] == [first["id"]]
    both = await search(cases_client, category=category, status=["new", "investigating"])
    assert {c["id"] for c in both} == ids
    assert [
        c["id"] for c in await search(cases_client, category=category, text=opened[1]["reference"])
    ] == [opened[1]["id"]]
    assert await search(cases_client, category=category, priority="urgent") == []
    assert {c["id"] for c in await search(cases_client, category=category, sla_state="ok")} == ids
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert await search(cases_client, category=category, opened_from=later) == []

    seen, cursor = [], None
    while True:
        params = {"category": category, "limit": 1, **({"cursor": cursor} if cursor else {})}
        page = (await cases_client.get("/v1/cases", params=params)).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 3 and set(seen) == ids
    assert seen == [c["id"] for c in await search(cases_client, category=category)]


async def test_sla_state_filter_finds_breached_cases(cases_client, open_case, fire_all_due_timers):
    category = f"sla-{uuid.uuid4().hex[:8]}"
    received = datetime(2032, 1, 5, 9, tzinfo=UTC)
    late, on_time = (
        await open_case(category=category, received_at=received),
        await open_case(category=category, received_at=received + timedelta(days=30)),
    )
    await fire_all_due_timers(
        cases_client.app.state.runtime.session_factory, FixedClock(received + timedelta(days=2))
    )
    assert [
        c["id"] for c in await search(cases_client, category=category, sla_state="breached")
    ] == [late["id"]]
    assert [c["id"] for c in await search(cases_client, category=category, sla_state="ok")] == [
        on_time["id"]
    ]


async def test_unknown_or_bad_filters_are_refused(cases_client):
    for params in (
        {"colour": "red"},
        {"status": "sleeping"},
        {"sla_state": "late"},
        {"text": "x"},
        {"limit": 0},
    ):
        response = await cases_client.get("/v1/cases", params=params)
        assert response.status_code == 422, params
        assert response.json()["type"] == "urn:redress:problem:validation-error"
