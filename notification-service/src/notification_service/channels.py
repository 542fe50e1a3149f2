"""Channels that carry a customer message, behind one interface; and the pure rule that
orders a customer's contact points (preferred first, then the configured fallback order).

A channel's ``send`` either returns (accepted), or raises :class:`PermanentDeliveryError`
(this channel will never take it: fall back to the next one) or
:class:`TemporaryDeliveryError` (try the same channel again later).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import httpx

EMAIL = "email"
SMS = "sms"
CHAT = "chat"
SOCIAL = "social"
CHANNELS = (EMAIL, SMS, CHAT, SOCIAL)
GATEWAY_CHANNELS = (SMS, CHAT, SOCIAL)


@dataclass(frozen=True)
class OutgoingMessage:
    """One message ready for a channel."""

    message_id: str
    channel: str
    recipient: str
    reference: str
    language: str
    subject: str
    body_text: str
    body_html: str


class PermanentDeliveryError(Exception):
    """The channel refused the message for good (SMTP 5xx, gateway 4xx); retrying won't help."""


class TemporaryDeliveryError(Exception):
    """The message could not be sent now (network, SMTP 4xx, gateway 5xx/408/429); retry."""


class Channel(Protocol):
    """Something that delivers an :class:`OutgoingMessage` to a customer."""

    async def send(self, message: OutgoingMessage, sent_at: datetime) -> None:
        """Deliver ``message``; raise Permanent- or TemporaryDeliveryError when it fails."""
        ...


@dataclass(frozen=True)
class ContactPoints:
    """How a case's customer can be reached."""

    email: str | None
    phone: str | None
    customer_key: str
    opened_on: str | None  # the channel the complaint came in on
    preferred: str | None


def recipient_on(channel: str, contact: ContactPoints) -> str | None:
    """The address of the customer on ``channel``, or None when we have none there.

    A chat or social reply goes back into the conversation the complaint came from, so it
    exists only for a case opened on that channel; the gateway finds the conversation by the
    customer key (and the case reference it also receives)."""
    if channel == EMAIL:
        return contact.email or None
    if channel == SMS:
        return contact.phone or None
    if channel in (CHAT, SOCIAL) and contact.opened_on == channel:
        return contact.customer_key
    return None


def channel_plan(
    contact: ContactPoints, fallback_order: Sequence[str], usable: Sequence[str]
) -> list[tuple[str, str]]:
    """(channel, recipient) in the order to try: the preferred channel first, then
    ``fallback_order``; only channels that are ``usable`` (configured) and where the customer
    has an address."""
    order = [contact.preferred] if contact.preferred else []
    order += [channel for channel in fallback_order if channel not in order]
    plan = []
    for channel in order:
        recipient = recipient_on(channel, contact) if channel in usable else None
        if recipient:
            plan.append((channel, recipient))
    return plan


class GatewayChannel:
    """SMS, chat and social replies through one HTTP message gateway.

    ``POST {gateway_url}`` with a JSON body ``{channel, to, text, subject, reference,
    message_id, language}`` and an ``Idempotency-Key`` (the message id), so a retry after a
    lost answer is not sent twice by a gateway that honours it. 2xx is accepted; 408, 429,
    5xx, timeouts and connection errors are retried; any other answer is permanent.
    """

    def __init__(
        self, gateway_url: str, token: str | None, timeout_seconds: float, channel: str
    ) -> None:
        self._url = gateway_url
        self._channel = channel
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client = httpx.AsyncClient(
            timeout=timeout_seconds, headers=headers, follow_redirects=False
        )

    async def send(self, message: OutgoingMessage, sent_at: datetime) -> None:
        """Hand ``message`` to the gateway."""
        body = {
            "channel": self._channel,
            "to": message.recipient,
            "text": message.body_text,
            "subject": message.subject,
            "reference": message.reference,
            "message_id": message.message_id,
            "language": message.language,
        }
        try:
            response = await self._client.post(
                self._url, json=body, headers={"Idempotency-Key": message.message_id}
            )
        except httpx.HTTPError as exc:
            raise TemporaryDeliveryError(f"gateway unreachable: {exc!r}") from exc
        if response.is_success:
            return
        excerpt = response.text[:300]
        if response.status_code in (408, 429) or response.status_code >= 500:
            raise TemporaryDeliveryError(f"gateway answered {response.status_code}: {excerpt}")
        raise PermanentDeliveryError(f"gateway answered {response.status_code}: {excerpt}")

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()
