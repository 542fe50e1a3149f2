"""Request and response models of the classification rules."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from intake_service.classification import model

Keyword = Annotated[str, StringConstraints(min_length=1, max_length=model.MAX_KEYWORD_CHARS)]
Keywords = Annotated[list[Keyword], Field(max_length=model.MAX_KEYWORDS_PER_LIST)]

_EXAMPLE = {
    "categories": {"delivery": ["paczkomat", "=dpd"], "warranty": ["gwarancj"]},
    "signals": {"deadline": ["na wczoraj"]},
    "disabled": ["termin"],
}


class ClassificationRulesUpdate(BaseModel):
    """A desk's rules for one language, replacing the previous ones. Keywords are stems
    matched at the start of a word, case and accents ignored; ``=word`` matches the whole
    word only. ``disabled`` turns built-in keywords of this language off."""

    categories: dict[str, Keywords] = Field(
        default_factory=dict,
        description="Keywords added per category (a new category name makes a category).",
    )
    signals: dict[str, Keywords] = Field(
        default_factory=dict,
        description="Keywords added per priority signal: legal_threat, deadline, reputation.",
    )
    disabled: Keywords = Field(default_factory=list, description="Built-in keywords turned off.")

    model_config = {"json_schema_extra": {"examples": [_EXAMPLE]}}


class KeywordTable(BaseModel):
    """Keywords per category and per signal."""

    categories: dict[str, list[str]]
    signals: dict[str, list[str]]


class DeskRulesRead(KeywordTable):
    """What the desk changed."""

    disabled: list[str]


class ClassificationRulesRead(BaseModel):
    """One language's rules: built in, the desk's changes, and what applies to complaints."""

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "language": "pl",
                    "version": 3,
                    "built_in": {
                        "categories": {"delivery": ["dostaw", "przesyłk"]},
                        "signals": {"deadline": ["termin"]},
                    },
                    "desk": _EXAMPLE,
                    "effective": {
                        "categories": {
                            "delivery": ["dostaw", "przesyłk", "paczkomat", "=dpd"],
                            "warranty": ["gwarancj"],
                        },
                        "signals": {"deadline": ["na wczoraj"]},
                    },
                    "updated_at": "2026-12-02T10:00:00Z",
                    "updated_by": "ops-desk",
                }
            ]
        }
    }

    language: str = Field(examples=["pl"])
    version: int = Field(description="Counts the desk's changes; the ETag.", examples=[3])
    built_in: KeywordTable | None
    desk: DeskRulesRead
    effective: KeywordTable
    updated_at: datetime | None = None
    updated_by: str | None = None

    @classmethod
    def of(cls, view) -> ClassificationRulesRead:
        """The response for a service ``RulesView``."""
        return cls(
            language=view.language,
            version=view.version,
            built_in=view.built_in.document() if view.built_in else None,
            desk=view.desk.document(),
            effective=view.effective.document(),
            updated_at=view.updated_at,
            updated_by=view.updated_by,
        )


class ClassificationRulesSummary(BaseModel):
    """A language in the rules' index."""

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "language": "pl",
                    "version": 3,
                    "built_in_keywords": 212,
                    "effective_keywords": 215,
                }
            ]
        }
    }

    language: str
    version: int
    built_in_keywords: int
    effective_keywords: int


class ClassificationRulesChangeRead(BaseModel):
    """One change of a language's rules, as it was made."""

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "version": 3,
                    "rules": _EXAMPLE,
                    "changed_at": "2026-12-02T10:00:00Z",
                    "changed_by": "ops-desk",
                }
            ]
        }
    }

    version: int
    rules: dict
    changed_at: datetime
    changed_by: str
