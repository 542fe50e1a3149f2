"""Language identification and classification on the multilingual test set
(``tests/data/multilingual_complaints.jsonl``: 39 languages, every category, short and long,
with typos, without accents, mixed with order numbers and English product names), through
the same ``enrich`` every channel runs. Prints the confusion pairs, so a regression names
what it broke."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from pathlib import Path

import pytest
from intake_service.classification.model import PRECEDENCE
from intake_service.complaints.model import ComplaintDraft, build_customer
from intake_service.normalisation.model import enrich

TEST_SET = Path(__file__).parent / "data" / "multilingual_complaints.jsonl"
RECORDS = [json.loads(line) for line in TEST_SET.read_text(encoding="utf-8").splitlines()]
EU_LANGUAGES = set(
    "bg hr cs da nl en et fi fr de el hu ga it lv lt mt pl pt ro sk sl es sv".split()
)
ALSO_NAMED = set("ar fa ru uk tr zh hi bn he th ka ko id hy ja".split())


def _draft(record: dict) -> ComplaintDraft:
    customer = build_customer(
        name=None,
        email=f"{uuid.uuid4().hex[:10]}@example.com",
        phone=None,
        language=record.get("declared"),
    )
    return ComplaintDraft(channel="api", customer=customer, body=record["text"])


@pytest.fixture(scope="module")
def results() -> list[tuple[dict, ComplaintDraft]]:
    return [(record, enrich(_draft(record))) for record in RECORDS]


def test_the_set_covers_the_languages_and_categories():
    by_language: dict[str, set[str]] = {}
    for record in RECORDS:
        by_language.setdefault(record["language"], set()).add(record["category"])
    complete = {lang for lang, categories in by_language.items() if categories >= set(PRECEDENCE)}
    assert len(complete) >= 30
    assert EU_LANGUAGES | ALSO_NAMED <= complete
    assert {"ja", "ar", "el"} <= complete
    assert any(len(record["text"]) > 300 for record in RECORDS)
    assert sum(len(record["text"]) < 30 for record in RECORDS) >= 10


def _confusions(pairs: Counter) -> str:
    return ", ".join(f"{pair} x{count}" for pair, count in pairs.most_common()) or "none"


def test_identification_is_at_least_98_percent(results):
    confused = Counter(
        f"{record['language']}->{draft.language}"
        for record, draft in results
        if draft.language != record["language"]
    )
    accuracy = 1 - sum(confused.values()) / len(results)
    print(f"\nidentification {accuracy:.1%} of {len(results)}; confused: {_confusions(confused)}")
    assert accuracy >= 0.98, _confusions(confused)


def test_classification_is_at_least_90_percent(results):
    confused = Counter(
        f"{record['language']}:{record['category']}->{draft.category}"
        for record, draft in results
        if draft.category != record["category"]
    )
    accuracy = 1 - sum(confused.values()) / len(results)
    print(f"\ncategory {accuracy:.1%} of {len(results)}; confused: {_confusions(confused)}")
    assert accuracy >= 0.90, _confusions(confused)


def test_priority_signals_are_at_least_90_percent(results):
    confused = Counter(
        f"{record['language']}:{record['signals']}->{draft.classification['signals']}"
        for record, draft in results
        if draft.classification["signals"] != record["signals"]
    )
    accuracy = 1 - sum(confused.values()) / len(results)
    print(f"\nsignals {accuracy:.1%} of {len(results)}; confused: {_confusions(confused)}")
    assert accuracy >= 0.90, _confusions(confused)


def test_signals_raise_the_priority_hint(results):
    for record, draft in results:
        if draft.category in ("outage", "safety"):
            assert draft.priority_hint == "urgent", record
        elif draft.classification["signals"]:
            assert draft.priority_hint == "high", record
        if "reputation" in draft.classification["signals"]:
            assert draft.reputation_sensitive, record
