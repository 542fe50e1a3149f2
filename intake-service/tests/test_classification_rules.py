"""A desk adds and corrects its own classification rules per language through the API,
without a release: the next complaint is classified by them, on this replica at once and on
every other one after its refresh; bad input is a problem, a stale write is refused, and
every change is in the history with who made it."""

from __future__ import annotations

import uuid

import pytest
from intake_service.classification.service import RulebookCache, refresh_rules

LOCKER = "Skrytka numer 4 była pusta, nic nie odebrałam."
WARRANTY = "Chodzi mi o gwarancję na laptop Lenovo, nikt nie odpowiada."
OUTAGE = "Mamy awarię od rana w całym bloku."


async def _category(intake, text: str) -> str | None:
    answer = await intake.post(
        "/v1/complaints",
        json={
            "customer": {"email": f"{uuid.uuid4().hex}@example.com", "language": "pl"},
            "body": text,
        },
    )
    assert answer.status_code == 202, answer.text
    stored = await intake.get(f"/v1/complaints/{answer.json()['complaint_id']}")
    return stored.json()["category"]


async def _put(intake, rules: dict, version: int | str | None):
    headers = {"If-Match": f'"{version}"'} if version is not None else {}
    return await intake.put("/v1/classification-rules/pl", json=rules, headers=headers)


@pytest.fixture
async def polish_rules(intake):
    """The Polish rules, put back to built-in only after the test."""
    yield
    current = await intake.get("/v1/classification-rules/pl")
    await _put(intake, {}, current.json()["version"])


async def test_the_index_lists_every_language_with_tables(intake):
    answer = await intake.get("/v1/classification-rules")
    assert answer.status_code == 200
    languages = {row["language"]: row for row in answer.json()}
    assert len(languages) >= 39
    assert {"ja", "ar", "el", "lv", "fa", "ro", "sl"} <= set(languages)
    assert languages["el"]["built_in_keywords"] > 50


async def test_a_desk_adds_and_corrects_rules_for_later_complaints(
    intake, probe, intake_app, polish_rules
):
    read = await intake.get("/v1/classification-rules/pl")
    assert read.status_code == 200
    version = read.json()["version"]
    assert read.headers["etag"] == f'"{version}"'
    assert "kurier" in read.json()["built_in"]["categories"]["delivery"]
    assert (await _category(intake, LOCKER)) is None
    assert (await _category(intake, OUTAGE)) == "outage"

    changed = await _put(
        intake,
        {
            "categories": {"delivery": ["skrytk"], "warranty": ["gwarancj"]},
            "disabled": ["awari"],
        },
        version,
    )
    assert changed.status_code == 200, changed.text
    assert changed.headers["etag"] == f'"{version + 1}"'
    effective = changed.json()["effective"]["categories"]
    assert "skrytk" in effective["delivery"] and "awari" not in effective["outage"]

    assert (await _category(intake, LOCKER)) == "delivery"
    assert (await _category(intake, WARRANTY)) == "warranty"
    assert (await _category(intake, OUTAGE)) is None

    # Another replica learns the change when it refreshes.
    other_replica = RulebookCache()
    assert other_replica.rulebook.classify(LOCKER, languages=("pl",)).category is None
    assert await refresh_rules(intake_app.app.state.runtime.session_factory, other_replica)
    assert other_replica.rulebook.classify(LOCKER, languages=("pl",)).category == "delivery"

    history = (await intake.get("/v1/classification-rules/pl/history")).json()
    assert history[0]["version"] == version + 1
    assert history[0]["changed_by"] == "admin"
    assert history[0]["rules"]["disabled"] == ["awari"]


async def test_a_stale_write_is_refused(intake, probe, polish_rules):
    version = (await intake.get("/v1/classification-rules/pl")).json()["version"]
    assert (await _put(intake, {"signals": {"deadline": ["na wczoraj"]}}, version)).is_success
    stale = await _put(intake, {"signals": {"deadline": ["na jutro"]}}, version)
    probe.problem(stale, 412, "stale-classification-rules")
    probe.problem(await _put(intake, {}, "abc"), 400, "invalid-if-match")


@pytest.mark.parametrize(
    ("rules", "slug"),
    [
        ({"signals": {"panic": ["help"]}}, "invalid-classification-rules"),
        ({"categories": {"Bad Name!": ["x1"]}}, "invalid-classification-rules"),
        ({"categories": {"delivery": ["!!"]}}, "invalid-classification-rules"),
        ({"categories": {"delivery": ["a\u0000b"]}}, "invalid-classification-rules"),
        ({"categories": {"delivery": ["x" * 81]}}, "validation-error"),
        ({"categories": {"delivery": ["kw"] * 201}}, "validation-error"),
        ({"categories": {f"c{n:02}": ["kw"] for n in range(31)}}, "invalid-classification-rules"),
    ],
)
async def test_bad_rules_are_problems_and_change_nothing(intake, probe, rules, slug):
    before = (await intake.get("/v1/classification-rules/pl")).json()["version"]
    probe.problem(await _put(intake, rules, None), 422, slug)
    assert (await intake.get("/v1/classification-rules/pl")).json()["version"] == before


async def test_a_language_code_must_be_iso_639_1(intake, probe):
    probe.problem(
        await intake.get("/v1/classification-rules/pol"), 422, "invalid-classification-rules"
    )
