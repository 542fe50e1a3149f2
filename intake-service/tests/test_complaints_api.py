"""POST /v1/complaints against real PostgreSQL: storage, outbox, idempotency, bad input."""

from __future__ import annotations

import asyncio
import json
import re
import uuid

from intake_service import tables
from redress_shared.events import COMPLAINT_RECEIVED, COMPLAINTS_TOPIC
from redress_testing import assert_problem
from sqlalchemy import func, select


def complaint(email: str | None = None, **overrides) -> dict:
    body = {
        "customer": {
            "name": "Ana Pop",
            "email": email or f"ana.{uuid.uuid4().hex[:8]}@Example.com",
            "phone": "+40 721 000 000",
            "language": "ro",
        },
        "subject": "Broken charger",
        "body": "Încărcătorul s-a oprit după două zile.",
        "category": "product_defect",
        "product": {"sku": "CH-20", "name": "Charger 20W"},
        "supplier": "Voltix",
        "order_ref": "SO-1042",
    }
    body.update(overrides)
    return body


async def count(app, table) -> int:
    async with app.state.runtime.session_factory() as session:
        return await session.scalar(select(func.count()).select_from(table))


async def test_accepts_a_complaint_and_stores_raw_normalised_and_event(intake):
    payload = complaint()
    response = await intake.post("/v1/complaints", json=payload)

    assert response.status_code == 202, response.text
    accepted = response.json()
    assert re.fullmatch(r"RDR-\d{4}-\d{6}", accepted["reference"])
    assert response.headers["location"] == f"/v1/complaints/{accepted['complaint_id']}"

    read = (await intake.get(f"/v1/complaints/{accepted['complaint_id']}")).json()
    assert read["customer"]["email"] == payload["customer"]["email"].lower()
    assert read["customer"]["phone"] == "+40721000000"
    assert read["body"] == payload["body"]
    assert read["product"] == {"sku": "CH-20", "name": "Charger 20W"}

    runtime = intake.app.state.runtime
    async with runtime.session_factory() as session:
        raw = (
            await session.execute(
                select(tables.raw_submissions.c.payload)
                .join(
                    tables.complaints,
                    tables.complaints.c.raw_submission_id == tables.raw_submissions.c.id,
                )
                .where(tables.complaints.c.id == uuid.UUID(accepted["complaint_id"]))
            )
        ).scalar_one()
        event = (
            await session.execute(
                select(tables.platform.outbox.c.topic, tables.platform.outbox.c.event).where(
                    tables.platform.outbox.c.event["subject"].astext == accepted["complaint_id"]
                )
            )
        ).one()
    assert json.loads(raw) == payload
    assert event.topic == COMPLAINTS_TOPIC
    assert event.event["type"] == COMPLAINT_RECEIVED
    assert event.event["data"]["reference"] == accepted["reference"]
    assert event.event["key"] == read["customer_key"]


async def test_the_customers_time_zone_travels_with_the_complaint(intake):
    payload = complaint()
    payload["customer"]["time_zone"] = "Europe/Bucharest"
    accepted = (await intake.post("/v1/complaints", json=payload)).json()
    read = (await intake.get(f"/v1/complaints/{accepted['complaint_id']}")).json()
    assert read["customer"]["time_zone"] == "Europe/Bucharest"
    runtime = intake.app.state.runtime
    async with runtime.session_factory() as session:
        event = (
            await session.execute(
                select(tables.platform.outbox.c.event).where(
                    tables.platform.outbox.c.event["subject"].astext == accepted["complaint_id"]
                )
            )
        ).scalar_one()
    assert event["data"]["customer"]["time_zone"] == "Europe/Bucharest"

    for unknown in ("Europe/Atlantis", "../../etc/passwd", "x" * 65):
        payload["customer"]["time_zone"] = unknown
        problem = assert_problem(
            await intake.post("/v1/complaints", json=payload), 422, "validation-error"
        )
        assert problem["errors"][0]["loc"][-1] == "time_zone"


async def test_only_body_and_one_contact_point_are_required(intake):
    response = await intake.post(
        "/v1/complaints", json={"customer": {"phone": "+40721000001"}, "body": "Nu merge."}
    )
    assert response.status_code == 202, response.text


async def test_repeated_idempotency_key_returns_the_first_complaint(intake):
    payload = complaint()
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first, second = await asyncio.gather(
        intake.post("/v1/complaints", json=payload, headers=key),
        intake.post("/v1/complaints", json=payload, headers=key),
    )
    statuses = sorted([first.status_code, second.status_code])
    assert statuses == [200, 202]
    assert first.json()["complaint_id"] == second.json()["complaint_id"]
    duplicate = first if first.status_code == 200 else second
    assert duplicate.json()["status"] == "duplicate"


async def test_submissions_arriving_together_are_each_registered_once(intake, probe):
    """Submissions that arrive together are committed together; the repeats among them (by
    Idempotency-Key, by external id, by the same customer and text) are each answered with
    their first complaint."""
    distinct = [complaint() for _ in range(12)]
    key = {"Idempotency-Key": uuid.uuid4().hex}
    keyed = complaint()
    by_external_id = complaint(external_id=f"crm-{uuid.uuid4()}")
    posts = [intake.post("/v1/complaints", json=payload) for payload in distinct]
    posts += [intake.post("/v1/complaints", json=keyed, headers=key) for _ in range(3)]
    posts += [intake.post("/v1/complaints", json=by_external_id) for _ in range(3)]
    posts += [intake.post("/v1/complaints", json=distinct[0]) for _ in range(2)]
    before = await probe.counts()

    answers = await asyncio.gather(*posts)

    def ids(group):
        return {answer.json()["complaint_id"] for answer in group}

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] * 6 + [202] * 14, [answer.text for answer in answers]
    assert all(
        answer.json()["status"] == "duplicate" for answer in answers if answer.status_code == 200
    )
    assert len(ids(answers[:12])) == 12
    for repeats in (answers[12:15], answers[15:18], [answers[0], *answers[18:20]]):
        assert len(ids(repeats)) == 1
    after = await probe.counts()
    # Raw submission, complaint and event of each new complaint; nothing more for a repeat.
    assert [now - earlier for now, earlier in zip(after, before, strict=True)] == [14, 14, 14]


async def test_idempotency_key_reused_with_another_body_is_refused(intake):
    key = {"Idempotency-Key": uuid.uuid4().hex}
    assert (await intake.post("/v1/complaints", json=complaint(), headers=key)).status_code == 202
    before = await count(intake.app, tables.complaints)
    response = await intake.post("/v1/complaints", json=complaint(), headers=key)
    assert response.status_code == 422
    assert response.json()["type"] == "urn:redress:problem:idempotency-key-reused"
    assert await count(intake.app, tables.complaints) == before


async def test_same_external_id_is_one_complaint(intake):
    external = f"crm-{uuid.uuid4()}"
    first = await intake.post("/v1/complaints", json=complaint(external_id=external))
    second = await intake.post("/v1/complaints", json=complaint(external_id=external))
    assert (first.status_code, second.status_code) == (202, 200)
    assert first.json()["complaint_id"] == second.json()["complaint_id"]


async def test_bad_input_gets_problem_details_and_writes_nothing(intake):
    before = (
        await count(intake.app, tables.raw_submissions),
        await count(intake.app, tables.complaints),
        await count(intake.app, tables.platform.outbox),
    )
    malformed = await intake.post(
        "/v1/complaints", content=b'{"customer": {', headers={"Content-Type": "application/json"}
    )
    assert_problem(malformed, 400, "malformed-json")

    missing_body = complaint()
    del missing_body["body"]
    problem = assert_problem(
        await intake.post("/v1/complaints", json=missing_body), 422, "validation-error"
    )
    assert any(error["loc"][-1] == "body" for error in problem["errors"])

    blank = assert_problem(
        await intake.post("/v1/complaints", json=complaint(body=" \n\t ")), 422, "validation-error"
    )
    assert "whitespace" in blank["detail"]

    no_contact = assert_problem(
        await intake.post("/v1/complaints", json={"customer": {"name": "X"}, "body": "hello"}),
        422,
        "validation-error",
    )
    assert "e-mail address or a phone number" in no_contact["detail"]

    bad_phone = complaint()
    bad_phone["customer"]["phone"] = "call me maybe"
    problem = assert_problem(
        await intake.post("/v1/complaints", json=bad_phone), 422, "invalid-complaint"
    )
    assert problem["field"] == "customer.phone"

    oversized = complaint(body="x" * (70 * 1024))
    problem = assert_problem(
        await intake.post("/v1/complaints", json=oversized), 413, "payload-too-large"
    )
    assert problem["max_bytes"] == 64 * 1024

    deep = b'{"body": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"
    assert (
        await intake.post(
            "/v1/complaints", content=deep, headers={"Content-Type": "application/json"}
        )
    ).status_code in (400, 422)

    after = (
        await count(intake.app, tables.raw_submissions),
        await count(intake.app, tables.complaints),
        await count(intake.app, tables.platform.outbox),
    )
    assert after == before


async def test_api_keys_and_scopes(intake):
    payload = complaint()
    anonymous = await intake.post("/v1/complaints", json=payload, headers={"Authorization": ""})
    problem = assert_problem(anonymous, 401, "unauthenticated")
    assert anonymous.headers["www-authenticate"].startswith("Bearer")

    wrong = await intake.post(
        "/v1/complaints", json=payload, headers={"Authorization": "Bearer rdr_nope"}
    )
    assert_problem(wrong, 401, "unauthenticated")

    created = await intake.post(
        "/v1/api-keys", json={"name": "reader", "scopes": ["complaints:read"]}
    )
    assert created.status_code == 201, created.text
    reader = {"Authorization": f"Bearer {created.json()['key']}"}
    problem = assert_problem(
        await intake.post("/v1/complaints", json=payload, headers=reader), 403, "forbidden"
    )
    assert problem["required_scope"] == "complaints:write"

    listed = (await intake.get("/v1/api-keys")).json()
    assert all("key" not in item and "key_hash" not in item for item in listed)

    revoked = await intake.delete(f"/v1/api-keys/{created.json()['id']}")
    assert revoked.status_code == 204
    after_revoke = await intake.get("/v1/complaints/" + str(uuid.uuid4()), headers=reader)
    assert_problem(after_revoke, 401, "unauthenticated")

    unknown_scope = await intake.post("/v1/api-keys", json={"name": "x", "scopes": ["root"]})
    assert_problem(unknown_scope, 422, "unknown-scope")


# FastAPI reads any ``+json`` type as JSON; the lean path of the submission routes takes
# only ``application/json`` and leaves this one to the route itself: the same request then
# goes the whole FastAPI way.
THE_ROUTES_OWN_WAY = {"Content-Type": "application/merge-patch+json"}


def _answer_form(response) -> tuple:
    """What a client sees of an answer, but for the ids, times and numbers in it."""
    body = response.json()
    headers = {name for name in response.headers if name not in ("date", "server")}
    return (
        response.status_code,
        sorted(headers),
        response.headers["content-type"],
        sorted(body),
        body["status"],
        response.headers["location"] == f"/v1/complaints/{body['complaint_id']}",
    )


async def test_the_lean_path_answers_as_the_route_does(intake, probe):
    """Ordinary submissions skip FastAPI's routing and dependency solving; their answers
    (status, headers, body), and the repeats answered across the two paths, are the
    route's."""
    lean_payload, route_payload = complaint(), complaint()
    lean_key, route_key = ({"Idempotency-Key": uuid.uuid4().hex} for _ in range(2))
    before = await probe.counts()

    lean = await intake.post("/v1/complaints", json=lean_payload, headers=lean_key)
    route = await intake.post(
        "/v1/complaints",
        content=json.dumps(route_payload),
        headers={**route_key, **THE_ROUTES_OWN_WAY},
    )
    assert lean.status_code == 202, lean.text
    assert _answer_form(lean) == _answer_form(route)
    assert (await probe.counts()) == tuple(count + 2 for count in before)

    # Each path recognises a repeat of what the other registered.
    lean_repeat = await intake.post("/v1/complaints", json=route_payload, headers=route_key)
    route_repeat = await intake.post(
        "/v1/complaints",
        content=json.dumps(lean_payload),
        headers={**lean_key, **THE_ROUTES_OWN_WAY},
    )
    assert lean_repeat.status_code == 200, lean_repeat.text
    assert _answer_form(lean_repeat) == _answer_form(route_repeat)
    assert lean_repeat.json()["complaint_id"] == route.json()["complaint_id"]
    assert route_repeat.json()["complaint_id"] == lean.json()["complaint_id"]
    assert lean_repeat.json()["received_at"] == route.json()["received_at"]

    # A domain error raised on the lean path reads as the route's.
    reused = [
        await intake.post("/v1/complaints", content=json.dumps(complaint()), headers=headers)
        for headers in (
            {**lean_key, "Content-Type": "application/json"},
            {**lean_key, **THE_ROUTES_OWN_WAY},
        )
    ]
    lean_problem, route_problem = (
        assert_problem(answer, 422, "idempotency-key-reused") for answer in reused
    )
    assert lean_problem == route_problem
    assert sorted(reused[0].headers) == sorted(reused[1].headers)
    assert (await probe.counts()) == tuple(count + 2 for count in before)
