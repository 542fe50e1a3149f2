"""Likely duplicates: the same customer writing about the same thing again. Pure domain.

A case's text (subject and body) is compared with the customer's other recent cases by
token-set similarity (word order and repeated words do not matter; case and punctuation
are ignored, any script works). Suggestions are only shown to an agent, who confirms one
with a ``merge``; nothing is ever merged automatically.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rapidfuzz import fuzz, utils

from case_service.cases.model import CaseStatus

# Cases that are already folded away or left the process are not offered as duplicates.
NOT_DUPLICATE_CANDIDATES = (CaseStatus.MERGED.value, CaseStatus.WITHDRAWN.value)


@dataclass(frozen=True)
class CaseText:
    """What duplicate detection looks at of one case."""

    case_id: uuid.UUID
    reference: str
    status: str
    received_at: datetime
    subject: str | None
    body: str | None

    @property
    def text(self) -> str:
        """Subject and body as one text."""
        return " ".join(part for part in (self.subject, self.body) if part)

    @classmethod
    def of(cls, case: Any) -> CaseText:
        """The text of a stored case (any object with the case row's fields)."""
        return cls(case.id, case.reference, case.status, case.received_at, case.subject, case.body)


@dataclass(frozen=True)
class DuplicateSuggestion:
    """Another case of the same customer that looks like the same complaint."""

    case: CaseText
    similarity: float  # 0..1


def similarity(left: str, right: str) -> float:
    """Token-set similarity of two texts, 0 (nothing shared) to 1 (the same words)."""
    if not utils.default_process(left) or not utils.default_process(right):
        return 0.0
    return fuzz.token_set_ratio(left, right, processor=utils.default_process) / 100


def suggest_duplicates(
    case: CaseText, candidates: list[CaseText], threshold: float
) -> list[DuplicateSuggestion]:
    """The candidates at least ``threshold`` similar to ``case``, most similar first (ties:
    the earliest received first, as that one is the likelier primary)."""
    suggestions = [
        DuplicateSuggestion(candidate, round(similarity(case.text, candidate.text), 3))
        for candidate in candidates
        if candidate.case_id != case.case_id
    ]
    kept = [s for s in suggestions if s.similarity >= threshold]
    return sorted(kept, key=lambda s: (-s.similarity, s.case.received_at))
