"""The messaging gateway client: SMS, chat and social replies over one HTTP gateway."""

from __future__ import annotations

from datetime import datetime

import httpx

from notification_service.messages.model import (
    OutgoingMessage,
    PermanentDeliveryError,
    TemporaryDeliveryError,
)


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
