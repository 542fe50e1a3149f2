"""Webhook rules without I/O: secrets, signatures, event-type filters, payloads, the URLs we
refuse (SSRF), the retry schedule, endpoint health, and the errors of webhook use cases.

Signatures follow the Standard Webhooks specification: a secret is ``whsec_`` + base64 of
24+ random bytes; a delivery carries ``webhook-id``, ``webhook-timestamp`` and
``webhook-signature`` = ``v1,`` + base64(HMAC-SHA256(secret bytes, "{id}.{timestamp}.{body}")),
several space-separated while a rotated secret's overlap lasts.

Payload shape (no personal data, DESIGN rule 9; subscribers fetch details through the API
with their own key)::

    {
      "id": "<CloudEvent id>",
      "type": "redress.case.status_changed.v1",
      "timestamp": "<event time, ISO 8601>",
      "subject": "<CloudEvent subject or null>",
      "data": {"case_id": "...", "reference": "RDR-2026-000123", "to_status": "resolved", ...}
    }

``data`` keeps only identifiers (``id`` and ``*_id`` fields) and the non-personal fields named
in :data:`SAFE_DATA_FIELDS`; names, contact points, free text and nested objects are dropped.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import random
import re
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import SecretStr
from redress_shared.errors import DomainError
from redress_shared.events import EVENT_PAYLOADS, EventEnvelope

from notification_service.config import NotificationSettings

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
SIGNATURE_VERSION = "v1"

#: Event types a subscriber can receive: every case event and every alert we know of.
WEBHOOK_EVENT_PREFIXES = ("redress.case.", "redress.alert.")

#: Non-personal payload fields copied into ``data`` besides ``id`` and ``*_id`` fields.
SAFE_DATA_FIELDS = frozenset(
    {
        "reference",
        "status",
        "from_status",
        "to_status",
        "action",
        "priority",
        "category",
        "channel",
        "version",
        "merged_into",
        "sla_policy",
        "severity",
        "kind",
        "opened_at",
        "occurred_at",
    }
)

MAX_FILTER_PATTERNS = 50
MAX_PATTERN_LENGTH = 200
_SEGMENT = r"[a-z0-9_]+"
_PATTERN = re.compile(rf"^(\*|redress(\.({_SEGMENT}|\*))*)$")


def webhook_event_types() -> list[str]:
    """The event types delivered to subscribers (case events and alerts of the shared library)."""
    return sorted(t for t in EVENT_PAYLOADS if t.startswith(WEBHOOK_EVENT_PREFIXES))


# --- secrets and signatures -------------------------------------------------------------


def generate_secret() -> str:
    """A new signing secret: ``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_bytes(secret: str) -> bytes:
    """The HMAC key of a ``whsec_`` secret (the prefix is optional)."""
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(secret: str, message_id: str, timestamp: int, body: str | bytes) -> str:
    """One Standard Webhooks signature: ``v1,`` + base64 HMAC-SHA256 of ``id.timestamp.body``."""
    payload = body.encode() if isinstance(body, str) else body
    signed = f"{message_id}.{timestamp}.".encode() + payload
    digest = hmac.new(secret_bytes(secret), signed, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def signature_header(
    secrets_in_use: Iterable[str], message_id: str, timestamp: int, body: str | bytes
) -> str:
    """The ``webhook-signature`` value: one signature per secret in use, space-separated."""
    return " ".join(sign(secret, message_id, timestamp, body) for secret in secrets_in_use)


class SecretBox:
    """Encrypts signing secrets at rest with AES-256-GCM under a key derived from a passphrase."""

    _VERSION = "v1:"

    def __init__(self, passphrase: str) -> None:
        key = hashlib.sha256(b"redress-webhook-secrets:" + passphrase.encode()).digest()
        self._aead = AESGCM(key)

    def seal(self, secret: str) -> str:
        """Ciphertext of ``secret`` (random nonce, base64)."""
        nonce = secrets.token_bytes(12)
        sealed = self._aead.encrypt(nonce, secret.encode(), b"webhook-secret")
        return self._VERSION + base64.b64encode(nonce + sealed).decode()

    def open(self, sealed: str) -> str:
        """The secret inside ``sealed``; raises if it was not sealed with this key."""
        raw = base64.b64decode(sealed.removeprefix(self._VERSION))
        return self._aead.decrypt(raw[:12], raw[12:], b"webhook-secret").decode()


# --- event-type filters -----------------------------------------------------------------


class InvalidFilter(ValueError):
    """An event-type filter that is empty, too large or not made of valid patterns."""


def validate_filter(patterns: list[str]) -> list[str]:
    """Normalise and check a filter; raise InvalidFilter explaining what is wrong.

    A pattern is ``*`` or dot-separated segments starting with ``redress``; each segment is
    ``[a-z0-9_]+`` or ``*``. A ``*`` segment matches exactly one segment, except in last
    position where it matches one or more (``redress.case.*`` matches every case event).
    """
    if not patterns:
        raise InvalidFilter("give at least one event-type pattern, e.g. 'redress.case.*'")
    if len(patterns) > MAX_FILTER_PATTERNS:
        raise InvalidFilter(f"at most {MAX_FILTER_PATTERNS} patterns")
    normalised: list[str] = []
    for raw in patterns:
        pattern = raw.strip()
        if len(pattern) > MAX_PATTERN_LENGTH:
            raise InvalidFilter(f"pattern longer than {MAX_PATTERN_LENGTH} characters")
        if not _PATTERN.match(pattern):
            raise InvalidFilter(
                f"invalid pattern {raw!r}: use '*' or dot-separated [a-z0-9_] segments "
                "starting with 'redress', where a whole segment may be '*'"
            )
        if pattern not in normalised:
            normalised.append(pattern)
    return normalised


def pattern_matches(pattern: str, event_type: str) -> bool:
    """True if ``event_type`` matches one filter pattern."""
    if pattern == "*":
        return True
    wanted = pattern.split(".")
    actual = event_type.split(".")
    if wanted[-1] == "*":
        if len(actual) < len(wanted):
            return False
        actual = actual[: len(wanted) - 1] + ["*"]
    elif len(actual) != len(wanted):
        return False
    return all(w == "*" or w == a for w, a in zip(wanted, actual, strict=True))


def filter_matches(patterns: Iterable[str], event_type: str) -> bool:
    """True if any pattern of a filter matches ``event_type``."""
    return any(pattern_matches(pattern, event_type) for pattern in patterns)


# --- payload ----------------------------------------------------------------------------


def payload_body(event: EventEnvelope) -> str:
    """The JSON body delivered for ``event``: ids and types only, no personal data."""
    data = {
        key: value
        for key, value in event.data.items()
        if (key == "id" or key.endswith("_id") or key in SAFE_DATA_FIELDS)
        and (value is None or isinstance(value, str | int | float | bool))
    }
    body = {
        "id": str(event.id),
        "type": event.type,
        "timestamp": _iso(event.time),
        "subject": event.subject,
        "data": data,
    }
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


# --- SSRF -------------------------------------------------------------------------------


class UnsafeUrl(DomainError):
    """A webhook URL we refuse to call: not http(s), or resolving to an internal address."""

    def __init__(self, reason: str, url: str) -> None:
        super().__init__(reason, url=url)


def is_public_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True for globally routable unicast addresses; False for loopback, private, link-local
    (cloud metadata 169.254.169.254 included), multicast, reserved, CGNAT, unspecified."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is not None:
            return is_public_address(embedded)
    return address.is_global and not (
        address.is_multicast
        or address.is_reserved
        or address.is_loopback
        or address.is_link_local
        or address.is_private
        or address.is_unspecified
    )


def parse_webhook_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL; raise UnsafeUrl for anything else."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrl(f"not a valid URL: {exc}", url) from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UnsafeUrl("only http and https URLs are allowed", url)
    if not parts.hostname:
        raise UnsafeUrl("the URL has no host", url)
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl(
            "credentials in the URL are not allowed; authenticate with the signature", url
        )
    return scheme, parts.hostname, port or (443 if scheme == "https" else 80)


# --- errors -------------------------------------------------------------------------------


class SecretsKeyMissing(DomainError):
    """No key to encrypt signing secrets with: webhooks cannot be created or rotated."""

    def __init__(self) -> None:
        super().__init__(
            "Set REDRESS_WEBHOOK_SECRETS_KEY (or REDRESS_ADMIN_API_KEY) to encrypt signing secrets."
        )


class WebhookDisabled(DomainError):
    """The webhook is switched off, so nothing is queued for it."""

    def __init__(self, webhook_id: uuid.UUID, reason: str | None) -> None:
        super().__init__(f"Enable webhook {webhook_id} first ({reason}).")


class EmptyRange(DomainError):
    """A replay's time range holds no instant."""

    def __init__(self) -> None:
        super().__init__("'until' must be after 'since'")


def secret_box(key: SecretStr | None) -> SecretBox:
    """The box that seals signing secrets at rest with ``key`` (the secrets key, else the
    admin key); SecretsKeyMissing without one."""
    if key is None:
        raise SecretsKeyMissing()
    return SecretBox(key.get_secret_value())


def check_replay_range(since: datetime, until: datetime) -> None:
    """Refuse an empty replay range."""
    if until <= since:
        raise EmptyRange()


# --- deliveries and their attempts --------------------------------------------------------


@dataclass(frozen=True)
class OutgoingWebhook:
    """One signed request ready to send."""

    url: str
    message_id: str
    timestamp: int
    signature: str
    body: str


@dataclass(frozen=True)
class AttemptResult:
    """What one attempt gave: ``outcome`` is delivered, retry or failed (permanent)."""

    outcome: str
    latency_ms: int
    status_code: int | None = None
    response_excerpt: str | None = None
    error: str | None = None
    retry_after_seconds: float | None = None
    gone: bool = False


def delivery_message_id(delivery_id: uuid.UUID) -> str:
    """The ``webhook-id`` of a delivery: stable across its retries and redeliveries."""
    return f"msg_{delivery_id.hex}"


def claim_seconds(timeout_seconds: float) -> float:
    """How long a dispatcher's claim on a delivery lasts: well past the attempt's own
    timeout, so only a process that died leaves a claim to expire and be taken again."""
    return 2 * timeout_seconds + 30.0


def final_outcome(result: AttemptResult, attempts: int, max_attempts: int) -> str:
    """The attempt's outcome as recorded: a retry that used up the budget has failed."""
    if result.outcome == "retry" and attempts >= max_attempts:
        return "failed"
    return result.outcome


def retry_delay(
    base_seconds: float, max_delay_seconds: float, attempts: int, retry_after: float | None
) -> float:
    """Seconds until the next attempt: exponential backoff with jitter, at least what the
    receiver asked for (Retry-After), at most ``max_delay_seconds``."""
    backoff = base_seconds * 2 ** (attempts - 1) * random.uniform(0.75, 1.25)
    return min(max_delay_seconds, max(backoff, retry_after or 0.0))


@dataclass(frozen=True)
class AttemptChange:
    """What one attempt does to a claimed delivery: its columns after the attempt."""

    id: uuid.UUID
    claim_id: uuid.UUID
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    next_attempt_at: datetime


def attempt_change(
    delivery: AttemptedDelivery,
    claim_id: uuid.UUID,
    result: AttemptResult,
    now: datetime,
    settings: NotificationSettings,
) -> tuple[AttemptChange, str]:
    """What an attempt does to its delivery (as claimed: nobody else changes it while the
    claim holds), and the attempt's outcome (delivered, retry or failed)."""
    attempts = delivery.attempts + 1
    outcome = final_outcome(result, attempts, settings.webhook_max_attempts)
    status, delivered_at, next_attempt_at = "pending", None, delivery.next_attempt_at
    if outcome == "delivered":
        status, delivered_at = "delivered", now
    elif outcome == "retry":
        delay = retry_delay(
            settings.webhook_retry_base_seconds,
            settings.webhook_retry_max_delay_seconds,
            attempts,
            result.retry_after_seconds,
        )
        next_attempt_at = now + timedelta(seconds=delay)
    else:
        status = "failed"
    change = AttemptChange(
        id=delivery.id,
        claim_id=claim_id,
        status=status,
        attempts=attempts,
        last_status_code=result.status_code,
        last_error=result.error,
        delivered_at=delivered_at,
        next_attempt_at=next_attempt_at,
    )
    return change, outcome


class AttemptedDelivery(Protocol):
    """What :func:`attempt_change` reads of a claimed delivery."""

    id: uuid.UUID
    attempts: int
    next_attempt_at: datetime


# --- endpoint health ----------------------------------------------------------------------
#
# A subscription's streak starts at its first failed attempt after a success (or after it was
# re-enabled) and ends at the next success. Each delivery has its own retry budget (about a
# day): when that is spent the delivery is dead (``failed``, still listed and redeliverable)
# but the endpoint stays on. Only when every attempt for ``webhook_disable_after_seconds``
# (5 days by default) has failed, or the endpoint answered 410 Gone, is it disabled.

DISABLED_THROUGH_API = "disabled through the API"


def _duration(seconds: float) -> str:
    if seconds >= 86_400 and seconds % 86_400 == 0:
        days = int(seconds // 86_400)
        return f"{days} day{'s' if days != 1 else ''}"
    if seconds >= 3_600:
        return f"{seconds / 3_600:g} h"
    return f"{seconds:g} s"


def reason_to_disable(
    result: AttemptResult,
    failing_since: datetime,
    consecutive_failures: int,
    now: datetime,
    disable_after: timedelta,
) -> tuple[str, str] | None:
    """(cause, reason) when a failed attempt should switch the endpoint off: it is gone, or
    has failed every attempt for ``disable_after``; else None."""
    if result.gone:
        return "gone", "the endpoint answered 410 Gone"
    if now - failing_since >= disable_after:
        return "failing", (
            f"the endpoint failed every attempt for {_duration(disable_after.total_seconds())} "
            f"({consecutive_failures} attempts since "
            f"{failing_since:%Y-%m-%d %H:%M} UTC; last: {result.error})"
        )
    return None


def reset_on_enable() -> dict:
    """Column values that give a re-enabled subscription a clean slate: a new streak."""
    return {
        "disabled_reason": None,
        "disabled_at": None,
        "failing_since": None,
        "consecutive_failures": 0,
    }
