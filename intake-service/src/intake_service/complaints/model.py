"""The complaint: what a well-formed complaint is, independent of channel and storage, and
what may refuse one (invalid, oversized attachment, a reused idempotency key)."""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

import phonenumbers
from redress_shared.errors import DomainError

CUSTOMER_KEY_NAMESPACE = uuid.UUID("2f0c5e6e-8d0b-4c3e-9f55-6a0d3b1f7a21")


class InvalidComplaint(DomainError, ValueError):
    """The submission cannot become a complaint; ``field`` names the culprit."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", field=field)
        self.field = field
        self.message = message


class IdempotencyKeyReused(DomainError):
    """An ``Idempotency-Key`` came back with another request body than its first use."""

    def __init__(self) -> None:
        super().__init__(
            "This Idempotency-Key was first used with another request body; "
            "use a new key for a new complaint."
        )


class ConcurrentSubmission(DomainError):
    """The same complaint kept losing the race against a concurrent submission of itself."""

    def __init__(self) -> None:
        super().__init__()


def normalise_email(email: str | None) -> str | None:
    """Trim and lower-case an e-mail address (domains and, in practice, local parts are
    case-insensitive)."""
    if email is None:
        return None
    cleaned = email.strip().lower()
    return cleaned or None


def normalise_phone(
    phone: str | None, default_region: str | None = None, field_name: str = "customer.phone"
) -> str | None:
    """Parse a phone number into E.164; raise InvalidComplaint (naming ``field_name``) when it is
    not a number. ``default_region`` (ISO 3166 alpha-2) lets national numbers parse."""
    if phone is None or not phone.strip():
        return None
    try:
        parsed = phonenumbers.parse(phone, default_region.upper() if default_region else None)
    except phonenumbers.NumberParseException as exc:
        raise InvalidComplaint(field_name, f"not a phone number: {exc}") from exc
    if not phonenumbers.is_possible_number(parsed):
        raise InvalidComplaint(field_name, "not a possible phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


@dataclass(frozen=True)
class SocialIdentity:
    """A customer's account on one social platform; handles are case-insensitive there."""

    platform: str
    handle: str

    @classmethod
    def of(cls, platform: str, handle: str) -> SocialIdentity:
        """Normalise: lower-case platform and handle, without a leading ``@``."""
        cleaned = handle.strip().lstrip("@").strip().lower()
        if not cleaned:
            raise InvalidComplaint("author.handle", "must contain text")
        return cls(platform=platform.strip().lower(), handle=cleaned)


def customer_key(email: str | None, phone: str | None, social: SocialIdentity | None = None) -> str:
    """A stable pseudonymous customer id derived from the preferred contact point.

    It is the Kafka message key, so one customer's complaints stay in order, and it carries
    no personal data itself. Preference: e-mail, then phone, then the social handle on its
    platform (the same handle on two platforms may be two different people).
    """
    if email:
        basis = f"email:{email}"
    elif phone:
        basis = f"phone:{phone}"
    elif social:
        basis = f"social:{social.platform}:{social.handle}"
    else:
        raise InvalidComplaint(
            "customer", "an e-mail address, a phone number or a social handle is required"
        )
    return str(uuid.uuid5(CUSTOMER_KEY_NAMESPACE, basis))


def format_reference(received_at: datetime, number: int) -> str:
    """The human reference quoted to the customer, e.g. ``RDR-2026-000123``."""
    return f"RDR-{received_at.year}-{number:06d}"


@dataclass(frozen=True)
class Customer:
    """The complaining customer as normalised contact points."""

    key: str
    name: str | None
    email: str | None
    phone: str | None
    language: str | None  # declared/preferred by the customer, not detected from the text
    social: SocialIdentity | None = None
    time_zone: str | None = None  # IANA, when the submitting system knows it

    def document(self) -> dict:
        """The customer as stored and published (social identity only when there is one)."""
        doc: dict = {
            "name": self.name,
            "email": self.email,
            "phone": self.phone,
            "language": self.language,
        }
        if self.social is not None:
            doc["social"] = {"platform": self.social.platform, "handle": self.social.handle}
        if self.time_zone is not None:
            doc["time_zone"] = self.time_zone
        return doc


@dataclass(frozen=True)
class AttachmentFile:
    """One attachment's bytes as they arrived, with what the customer called it."""

    filename: str | None
    content_type: str
    content: bytes

    @property
    def size(self) -> int:
        """Size in bytes."""
        return len(self.content)

    @property
    def sha256(self) -> str:
        """Hex SHA-256 of the content: its identity in storage (equal bytes stored once)."""
        return hashlib.sha256(self.content).hexdigest()

    def document(self) -> dict:
        """What the complaint's context records about the attachment."""
        return {
            "filename": self.filename,
            "content_type": self.content_type,
            "size": self.size,
            "sha256": self.sha256,
        }


class AttachmentTooLarge(DomainError, ValueError):
    """An attachment exceeds the per-attachment size limit; nothing is stored."""

    def __init__(self, filename: str | None, size: int, limit: int) -> None:
        super().__init__(
            f"attachment {filename or '(unnamed)'} is {size} bytes; the limit is {limit} bytes",
            filename=filename,
            size=size,
            max_bytes=limit,
        )
        self.filename = filename
        self.size = size
        self.limit = limit


def check_attachment_sizes(attachments: tuple[AttachmentFile, ...], limit: int) -> None:
    """Raise AttachmentTooLarge for the first attachment larger than ``limit`` bytes."""
    for attachment in attachments:
        if attachment.size > limit:
            raise AttachmentTooLarge(attachment.filename, attachment.size, limit)


# The reference quoted to the customer (see ``format_reference``), e.g. in "Re: ... [RDR-...]".
REFERENCE_PATTERN = re.compile(r"\bRDR-\d{4}-\d{6}\b", re.IGNORECASE)


def references_in(text: str | None) -> list[str]:
    """Complaint references quoted in ``text``, upper-cased, in order of appearance."""
    return [match.group(0).upper() for match in REFERENCE_PATTERN.finditer(text or "")]


def content_fingerprint(customer_key: str, body: str) -> str:
    """Hash of who complained and what they wrote, blind to case, spacing and Unicode form.

    Two submissions with the same fingerprint shortly after each other are one complaint
    delivered twice (the same e-mail re-sent with a new Message-ID, one call posted by two
    systems with their own call ids).
    """
    text = unicodedata.normalize("NFKC", body).casefold()
    text = " ".join(text.split())
    return hashlib.sha256(f"{customer_key}\n{text}".encode()).hexdigest()


@dataclass(frozen=True)
class ComplaintDraft:
    """A normalised complaint before registration gives it an id, a reference and a time."""

    channel: str
    customer: Customer
    body: str
    subject: str | None = None
    channel_message_id: str | None = None
    language: str | None = None
    category: str | None = None
    product: dict | None = field(default=None)
    supplier: str | None = None
    order_ref: str | None = None
    priority_hint: str | None = None
    reputation_sensitive: bool = False
    context: dict | None = field(
        default=None,
        metadata={"doc": "channel-specific context: call record, agent's chat lines, post"},
    )
    classification: dict | None = field(
        default=None, metadata={"doc": "why the category/priority/references were chosen"}
    )
    attachments: tuple[AttachmentFile, ...] = field(
        default=(), metadata={"doc": "attachment bytes, stored apart, deduplicated by sha256"}
    )
    replies_to: tuple[str, ...] = field(
        default=(), metadata={"doc": "Message-IDs from In-Reply-To and References (e-mail)"}
    )
    reply_text: str | None = field(
        default=None, metadata={"doc": "the new words of a reply, quoted history removed"}
    )
    reply_language: str | None = None

    @cached_property  # a batch asks three times (rounds, duplicates, the row); it never changes
    def fingerprint(self) -> str:
        """The content fingerprint (see :func:`content_fingerprint`)."""
        return content_fingerprint(self.customer.key, self.body)

    def register(self, complaint_id: uuid.UUID, number: int, received_at: datetime) -> Complaint:
        """The registered complaint, with its human reference derived from ``number``."""
        return Complaint(
            id=complaint_id,
            reference=format_reference(received_at, number),
            received_at=received_at,
            draft=self,
        )


@dataclass(frozen=True)
class Complaint:
    """One registered complaint, whatever channel it came from."""

    id: uuid.UUID
    reference: str
    received_at: datetime
    draft: ComplaintDraft


def build_customer(
    *,
    name: str | None,
    email: str | None,
    phone: str | None,
    language: str | None,
    social: SocialIdentity | None = None,
    phone_region: str | None = None,
    phone_field: str = "customer.phone",
    time_zone: str | None = None,
) -> Customer:
    """Normalise contact points and derive the customer key."""
    clean_email = normalise_email(email)
    clean_phone = normalise_phone(phone, phone_region, phone_field)
    clean_name = name.strip() if name and name.strip() else None
    return Customer(
        key=customer_key(clean_email, clean_phone, social),
        name=clean_name,
        email=clean_email,
        phone=clean_phone,
        language=language.strip().lower() if language and language.strip() else None,
        social=social,
        time_zone=time_zone,
    )


def require_text(value: str | None, field: str) -> str:
    """Strip ``value`` and refuse it when nothing but whitespace is left."""
    cleaned = (value or "").strip()
    if not cleaned:
        raise InvalidComplaint(field, "must contain text")
    return cleaned


@dataclass(frozen=True)
class RawSubmission:
    """Exactly what arrived, kept for audit and replay."""

    channel: str
    content_type: str
    payload: bytes
    submitted_by: str


@dataclass(frozen=True)
class Submission:
    """What registering one JSON-channel complaint takes: its normalised draft, what arrived,
    the client's idempotency claim and the request's correlation id (carried into the
    event, since the batch is written by another task than the request's)."""

    draft: ComplaintDraft
    raw: RawSubmission
    idempotency: IdempotencyClaim | None = None
    correlation_id: str | None = None

    def identities(self) -> tuple[tuple[str, ...], ...]:
        """What makes another submission a repeat of this one: the idempotency key, the
        channel-native id and the customer's text."""
        found: list[tuple[str, ...]] = [
            ("content", self.draft.customer.key, self.draft.fingerprint)
        ]
        if self.idempotency is not None:
            found.append(("key", self.idempotency.client, self.idempotency.key))
        if self.draft.channel_message_id is not None:
            found.append(("channel", self.draft.channel, self.draft.channel_message_id))
        return tuple(found)


def request_fingerprint(document: dict) -> str:
    """Hash of a request body independent of key order and whitespace."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class IdempotencyClaim:
    """An ``Idempotency-Key`` scoped to the client that sent it, with the request's hash."""

    client: str
    key: str
    request_hash: str

    @classmethod
    def of(cls, client: str, key: str | None, request: dict) -> IdempotencyClaim | None:
        """The claim of ``client``'s ``key`` for ``request``; None without a key."""
        if key is None:
            return None
        return cls(client=client, key=key, request_hash=request_fingerprint(request))
