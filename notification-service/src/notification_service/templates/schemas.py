"""Request and response bodies of the notification API: message templates."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from notification_service.templates.model import (
    VARIABLES,
    StoredTemplate,
    TemplateText,
    direction,
)

_TEMPLATE_EXAMPLE = {
    "kind": "response",
    "language": "fa",
    "version": 2,
    "direction": "rtl",
    "subject": "درباره شکایت شما [{{ reference }}]",
    "body_text": "{{ name or 'مشتری' }} گرامی،\n\n{{ message }}\n\nبا احترام،\nخدمات مشتریان\n",
    "body_html": None,
    "variables": ["name", "reference", "message"],
    "created_at": "2026-12-01T10:00:00Z",
    "created_by": "care-lead",
}


class TemplateUpdate(BaseModel):
    """A new version of a template: Jinja2 text, rendered in a sandbox."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "subject": "About your complaint [{{ reference }}]",
                    "body_text": "Dear {{ name or 'customer' }},\n\n{{ message }}\n\nCustomer Care\n",
                    "body_html": "<p>Dear {{ name or 'customer' }},</p><p>{{ message }}</p>",
                }
            ]
        },
    )

    subject: str = Field(
        min_length=1,
        max_length=500,
        description="Keep `{{ reference }}` in it: replies thread back to the case by it.",
        examples=["About your complaint [{{ reference }}]"],
    )
    body_text: str = Field(
        min_length=1,
        max_length=20_000,
        description="Plain-text body (also the SMS / chat text).",
        examples=["Dear {{ name or 'customer' }},\n\n{{ message }}\n"],
    )
    body_html: str | None = Field(
        default=None,
        max_length=50_000,
        description="HTML body without the document around it (autoescaped); without it the "
        "text body is sent as HTML paragraphs.",
        examples=["<p>Dear {{ name or 'customer' }},</p><p>{{ message }}</p>"],
    )

    def text(self) -> TemplateText:
        """The template text this body asks for."""
        return TemplateText(self.subject, self.body_text, self.body_html)


class TemplateRead(BaseModel):
    """The current version of a template, with the variables its kind offers."""

    model_config = ConfigDict(json_schema_extra={"examples": [_TEMPLATE_EXAMPLE]})

    kind: str = Field(examples=["response"])
    language: str = Field(examples=["fa"], description="BCP 47 tag: fa, pt-BR, zh-Hant.")
    version: int = Field(examples=[2], description="1 is the built-in default.")
    direction: str = Field(examples=["rtl"], description="ltr | rtl, set on the HTML part.")
    subject: str
    body_text: str
    body_html: str | None
    variables: list[str] = Field(examples=[["name", "reference", "message"]])
    created_at: datetime | None
    created_by: str = Field(examples=["care-lead"], description="API key name, or built-in.")

    @classmethod
    def of(cls, stored: StoredTemplate) -> TemplateRead:
        """From a stored template version."""
        return cls(
            kind=stored.kind,
            language=stored.language,
            version=stored.version,
            direction=direction(stored.language),
            subject=stored.text.subject,
            body_text=stored.text.body_text,
            body_html=stored.text.body_html,
            variables=list(VARIABLES[stored.kind]),
            created_at=stored.created_at,
            created_by=stored.created_by,
        )
