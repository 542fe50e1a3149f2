"""A real HTTP server on loopback standing in for the SMS / chat / social message gateway of
the notification service (``POST`` a JSON message with an ``Idempotency-Key``)."""

from __future__ import annotations

import asyncio
import json


class MessageGateway:
    """Records every message and refuses some recipients for good (400) or for their first
    attempts (503)."""

    def __init__(self) -> None:
        self.messages: list[dict] = []
        self.refused: set[str] = set()
        self.flaky: dict[str, int] = {}
        """Recipient -> attempts still to answer 503."""
        self.port = 0
        self._server: asyncio.Server | None = None

    def url(self, path: str = "/v1/messages") -> str:
        """The gateway's URL for ``path``."""
        return f"http://127.0.0.1:{self.port}{path}"

    async def start(self) -> None:
        """Listen on a free loopback port."""
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening."""
        assert self._server is not None
        self._server.close()

    async def __aenter__(self) -> MessageGateway:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def to(self, recipient: str) -> list[dict]:
        """The messages accepted for ``recipient``."""
        return [m for m in self.messages if m["to"] == recipient]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await reader.readline():
                headers: dict[str, str] = {}
                while (header := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = header.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = json.loads(await reader.readexactly(int(headers["content-length"])))
                body["idempotency_key"] = headers.get("idempotency-key")
                recipient = body["to"]
                if recipient in self.refused:
                    status = 400
                elif self.flaky.get(recipient, 0) > 0:
                    self.flaky[recipient] -= 1
                    status = 503
                else:
                    status = 202
                    self.messages.append(body)
                writer.write(
                    f"HTTP/1.1 {status} X\r\nContent-Length: 2\r\n\r\nok".encode("latin-1")
                )
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()
