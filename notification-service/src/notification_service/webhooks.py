"""Webhook rules without database: secrets, signatures, event-type filters, payloads, SSRF.

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

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import json
import re
import secrets
import socket
from collections.abc import Iterable
from datetime import datetime
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from redress_shared.events import EVENT_PAYLOADS, EventEnvelope

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


class UnsafeUrl(ValueError):
    """A webhook URL we refuse to call: not http(s), or resolving to an internal address."""


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
        raise UnsafeUrl(f"not a valid URL: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UnsafeUrl("only http and https URLs are allowed")
    if not parts.hostname:
        raise UnsafeUrl("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl("credentials in the URL are not allowed; authenticate with the signature")
    return scheme, parts.hostname, port or (443 if scheme == "https" else 80)


async def resolve_safely(url: str, allow_private: bool) -> list[str]:
    """Resolve the URL's host and return its addresses, refusing internal ones.

    Every address the name resolves to must be public unless ``allow_private`` (local
    development and tests); a name that resolves to one internal address is refused whole.
    """
    _scheme, host, port = parse_webhook_url(url)
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [str(literal)]
    else:
        if not allow_private and (host == "localhost" or host.endswith(".localhost")):
            raise UnsafeUrl("localhost is not allowed")
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except (socket.gaierror, UnicodeError) as exc:
            raise UnsafeUrl(f"the host {host!r} does not resolve") from exc
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        if not addresses:
            raise UnsafeUrl(f"the host {host!r} does not resolve")
    if not allow_private:
        for address in addresses:
            if not is_public_address(ipaddress.ip_address(address.split("%")[0])):
                raise UnsafeUrl(
                    f"the host {host!r} resolves to {address}, an internal address; "
                    "webhooks may only call public addresses"
                )
    return addresses
