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


async def test_profile_updates_are_validated_versioned_and_reach_new_case_events(
    cases_client, open_case, infra, complaint_event
):
    from redress_shared.events import CASE_OPENED, COMPLAINTS_TOPIC
    from redress_testing import assert_problem, eventually, produce
    from sqlalchemy import select

    key = str(uuid.uuid4())
    await open_case(customer_key=key)
    url = f"/v1/customers/{key}"
    read = await cases_client.get(url)
    assert read.headers["etag"] == '"1"'
    assert read.json()["preferred_channel"] is None

    # SMS needs a phone number, and this customer has none yet: refused, nothing written.
    assert_problem(
        await cases_client.patch(url, json={"preferred_channel": "sms"}),
        422,
        "invalid-customer-update",
    )
    for bad in (
        {"email": "not-an-email"},
        {"phone": "0721 000 000"},
        {"tier": None},
        {"language": "Romanian"},
        {"time_zone": "Europe/Atlantis"},
        {"time_zone": "../../etc/passwd"},
        {"favourite_colour": "blue"},
    ):
        assert_problem(await cases_client.patch(url, json=bad), 422, "validation-error")
    assert (await cases_client.get(url)).headers["etag"] == '"1"'

    updated = await cases_client.patch(
        url,
        json={
            "preferred_channel": "sms",
            "phone": "+40721000000",
            "language": "en",
            "time_zone": "America/Toronto",
        },
        headers={"If-Match": '"1"'},
    )
    assert updated.status_code == 200, updated.text
    assert updated.headers["etag"] == '"2"'
    profile = updated.json()
    assert (
        profile["preferred_channel"],
        profile["phone"],
        profile["language"],
        profile["time_zone"],
    ) == ("sms", "+40721000000", "en", "America/Toronto")
    assert profile["updated_by"] == "admin"
    stale = await cases_client.patch(url, json={"tier": "vip"}, headers={"If-Match": '"1"'})
    assert_problem(stale, 412, "stale-version")
    assert (await cases_client.get(url)).json()["tier"] == "standard"

    # The next complaint names no language or channel: its case.opened carries the profile's.
    event = complaint_event(customer_key=key)
    event = event.model_copy(
        update={"data": {**event.data, "customer": {"customer_key": key, "name": "Ana Pop"}}}
    )
    await produce(infra.kafka_bootstrap_servers, COMPLAINTS_TOPIC, event)
    runtime = cases_client.app.state.runtime
    outbox = runtime.tables.outbox

    async def opened_event():
        async with runtime.session_factory() as session:
            return (
                await session.execute(
                    select(outbox.c.event).where(
                        outbox.c.event["type"].astext == CASE_OPENED,
                        outbox.c.event["data"]["complaint_id"].astext == event.data["complaint_id"],
                    )
                )
            ).scalar()

    opened = await eventually(opened_event)
    customer = opened["data"]["customer"]
    assert customer["preferred_channel"] == "sms"
    assert customer["language"] == "en"
    assert customer["time_zone"] == "America/Toronto"
    assert customer["phone"] == "+40721000000"
    assert customer["email"] == "ana@example.com", "contact points kept from the profile"
    assert customer["name"] == "Ana Pop"
