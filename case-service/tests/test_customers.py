"""Customer profiles: history, frequent complainers, VIP tier and intake's priority hint."""

from __future__ import annotations

import uuid


async def test_profile_frequent_complainer_and_vip_priority(cases_client, open_case):
    key = str(uuid.uuid4())
    first = await open_case(customer_key=key)
    assert first["priority"] == "normal"
    await open_case(customer_key=key)
    profile = (await cases_client.get(f"/v1/customers/{key}")).json()
    assert profile["complaint_count"] == 2 and profile["frequent_complainer"] is False
    await open_case(customer_key=key)
    profile = (await cases_client.get(f"/v1/customers/{key}")).json()
    assert profile["complaints_in_window"] == 3 and profile["frequent_complainer"] is True
    assert len(profile["cases"]) == 3

    vip = await cases_client.patch(f"/v1/customers/{key}", json={"tier": "vip"})
    assert vip.status_code == 200 and vip.json()["tier"] == "vip"
    assert (await open_case(customer_key=key))["priority"] == "high"

    bad = await cases_client.patch(f"/v1/customers/{key}", json={"tier": "platinum"})
    assert bad.status_code == 422
    missing = await cases_client.patch(f"/v1/customers/{uuid.uuid4()}", json={"tier": "vip"})
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


async def test_intakes_priority_hint_raises_the_priority(open_case):
    assert (await open_case(priority_hint="urgent"))["priority"] == "urgent"
    assert (await open_case(category="outage", priority_hint="high"))["priority"] == "urgent"
