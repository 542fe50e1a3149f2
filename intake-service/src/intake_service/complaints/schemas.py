"""Request and response bodies of complaints: the JSON submission, the answer to a
submission, a registered complaint and its customer messages."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from functools import lru_cache
from typing import Annotated, Literal

import email_validator
from email_validator import rfc_constants as rfc
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.networks import validate_email
from redress_shared.time_zones import TimeZoneName

LANGUAGE_TAG = r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$"

# One ``@`` between a local part without quotes, brackets or spaces and an ASCII host name.
# Linear: a run is entered only where it starts and never given back.
_PLAIN_ADDRESS = re.compile(
    r"(?<![^@\s\"<>()\[\],;:\\])([^@\s\"<>()\[\],;:\\]++)@([A-Za-z0-9.-]++)"
)


@lru_cache(maxsize=4096)
def _checked_domain(domain: str) -> tuple[str, str] | None:
    """The domain as ``email_validator`` normalises it (and its ASCII form), or None when it
    refuses it; behind an address whose local part is plain, this is all it decides."""
    try:
        parts = email_validator.validate_email(f"a@{domain}", check_deliverability=False)
    except email_validator.EmailNotValidError:
        return None
    return parts.domain, parts.ascii_domain


def email_address(value: str) -> str:
    """``value`` validated and normalised exactly as pydantic's ``EmailStr`` does (same
    result, same error), faster: most of that work is on the domain, and a desk's customers
    share a few domains, so for a plain address (an ASCII dot-atom local part, not a
    role mailbox that is lower-cased) the domain's verdict is reused; anything else takes
    the full path."""
    plain = _PLAIN_ADDRESS.fullmatch(value) if len(value) <= rfc.EMAIL_MAX_LENGTH else None
    if plain is not None:
        local, domain = plain.groups()
        checked = _checked_domain(domain) if len(domain) <= rfc.DOMAIN_MAX_LENGTH else None
        if (
            checked is not None
            and len(local) <= rfc.LOCAL_PART_MAX_LENGTH
            # email_validator's own pattern, on at most 64 characters
            and rfc.DOT_ATOM_TEXT.match(local)
            and local.lower() not in rfc.CASE_INSENSITIVE_MAILBOX_NAMES
            and len(local) + 1 + max(len(domain), *map(len, checked)) <= rfc.EMAIL_MAX_LENGTH
        ):
            return f"{local}@{checked[0]}"
    return validate_email(value)[1]


EmailAddress = Annotated[
    str, AfterValidator(email_address), WithJsonSchema({"type": "string", "format": "email"})
]
"""An e-mail address (pydantic's ``EmailStr``, see :func:`email_address`)."""


class CustomerCreate(BaseModel):
    """The customer as the submitting system knows them; one contact point is required."""

    model_config = ConfigDict(str_strip_whitespace=True)

    name: str | None = Field(default=None, max_length=300, examples=["Ana Pop"])
    email: EmailAddress | None = Field(default=None, examples=["ana@example.com"])
    phone: str | None = Field(default=None, max_length=40, examples=["+40 721 000 000"])
    language: str | None = Field(
        default=None, pattern=LANGUAGE_TAG, description="BCP 47 tag", examples=["ro"]
    )
    time_zone: TimeZoneName | None = Field(
        default=None,
        description="The customer's IANA time zone: times in their messages are given in it.",
        examples=["Europe/Bucharest"],
    )

    @model_validator(mode="after")
    def _one_contact_point(self) -> CustomerCreate:
        if not self.email and not self.phone:
            raise ValueError("an e-mail address or a phone number is required")
        return self


class ProductCreate(BaseModel):
    """The product the complaint concerns."""

    sku: str | None = Field(default=None, max_length=100, examples=["CH-20"])
    name: str | None = Field(default=None, max_length=300, examples=["Charger 20W"])


class ComplaintCreate(BaseModel):
    """A complaint submitted by another system. Only ``body`` and one contact point are required."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "customer": {
                        "name": "Ana Pop",
                        "email": "ana@example.com",
                        "phone": "+40 721 000 000",
                        "language": "ro",
                    },
                    "subject": "Broken charger",
                    "body": "Încărcătorul s-a oprit după două zile. Vreau unul nou.",
                    "category": "product_defect",
                    "product": {"sku": "CH-20", "name": "Charger 20W"},
                    "supplier": "Voltix",
                    "order_ref": "SO-1042",
                }
            ]
        }
    )

    customer: CustomerCreate
    subject: str | None = Field(default=None, max_length=500)
    body: str = Field(max_length=100_000, description="The complaint in the customer's own words.")
    category: str | None = Field(default=None, max_length=100, examples=["product_defect"])
    product: ProductCreate | None = None
    supplier: str | None = Field(default=None, max_length=300)
    order_ref: str | None = Field(default=None, max_length=100)
    external_id: str | None = Field(
        default=None,
        max_length=300,
        description="The submitting system's own id for this complaint; a resubmission with "
        "the same id returns the first complaint.",
    )

    @field_validator("body")
    @classmethod
    def _body_has_text(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must contain text, not only whitespace")
        return value.strip()


class ComplaintAccepted(BaseModel):
    """The answer to a submission: 202 when new, 200 when it repeats an earlier one."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "complaint_id": "0e2218b9-8e5e-48c2-a7b8-e10e1bd730d5",
                    "reference": "RDR-2026-000123",
                    "status": "accepted",
                    "received_at": "2026-11-23T19:57:20.007687Z",
                }
            ]
        }
    )

    complaint_id: uuid.UUID
    reference: str = Field(examples=["RDR-2026-000123"])
    status: Literal["accepted", "duplicate", "attached"] = Field(
        description="`attached`: an e-mail answering a registered complaint, added to it as "
        "the customer's message (no new complaint)."
    )
    received_at: datetime


class ComplaintRead(BaseModel):
    """A normalised complaint as intake registered it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0e2218b9-8e5e-48c2-a7b8-e10e1bd730d5",
                    "reference": "RDR-2026-000123",
                    "channel": "api",
                    "channel_message_id": None,
                    "received_at": "2026-11-23T19:57:20.007687Z",
                    "customer_key": "749209eb-ffbc-5f5f-94bf-11f8e08b94c4",
                    "customer": {
                        "name": "Ana Pop",
                        "email": "ana@example.com",
                        "phone": "+40721000000",
                        "language": "ro",
                    },
                    "subject": "Broken charger",
                    "body": "Încărcătorul s-a oprit după două zile.",
                    "language": "ro",
                    "category": "product_defect",
                    "product": {"sku": "CH-20", "name": "Charger 20W"},
                    "supplier": "Voltix",
                    "order_ref": "SO-1042",
                }
            ]
        }
    )

    id: uuid.UUID
    reference: str
    channel: str
    channel_message_id: str | None
    received_at: datetime
    customer_key: str
    customer: dict
    subject: str | None
    body: str
    language: str | None
    category: str | None
    product: dict | None
    supplier: str | None
    order_ref: str | None
    priority_hint: str | None = None
    reputation_sensitive: bool = False
    context: dict | None = None
    classification: dict | None = None


class CustomerMessageRead(BaseModel):
    """A customer's later message about a registered complaint (a reply by e-mail)."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "5b0e6f1c-2d3a-4b5c-8d9e-0f1a2b3c4d5e",
                    "complaint_id": "0e2218b9-8e5e-48c2-a7b8-e10e1bd730d5",
                    "channel": "email",
                    "channel_message_id": "<reply-1@example.com>",
                    "received_at": "2026-11-24T08:12:00Z",
                    "sender": {"name": "Ana Pop", "email": "ana@example.com"},
                    "subject": "Re: Am primit reclamația dumneavoastră [RDR-2026-000123]",
                    "body": "Numărul comenzii este SO-1042.",
                    "language": "ro",
                    "matched_by": "reference",
                    "context": {"in_reply_to": "<ack-1@redress.example>"},
                }
            ]
        },
    )

    id: uuid.UUID
    complaint_id: uuid.UUID
    channel: str
    channel_message_id: str | None
    received_at: datetime
    sender: dict
    subject: str | None
    body: str = Field(description="The new words, quoted history removed.")
    language: str | None
    matched_by: Literal["reference", "in_reply_to", "references"]
    context: dict | None = None
