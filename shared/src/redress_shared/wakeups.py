"""Wake-ups across processes with PostgreSQL LISTEN/NOTIFY.

A writer's transaction notifies a channel (for the outbox a trigger does it, see
:func:`redress_shared.migrations.add_outbox_wakeup`); PostgreSQL delivers the notification when
that transaction commits, once per transaction and channel however many statements notified,
to every connection listening on the channel, in any process or replica.
:class:`ChannelListener` keeps one dedicated connection listening and sets an
:class:`asyncio.Event` on every notification.

A notification is an accelerator, never the only way work is found: while the listening
connection is down (the server restarted, an operator ended the session) notifications are
lost, so whoever waits on the event still polls (at a long interval), and the listener sets the
event whenever it starts listening again, for what was committed while nobody listened.
"""

from __future__ import annotations

import asyncio
import hashlib

import asyncpg
import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

log = structlog.get_logger(__name__)

# PostgreSQL truncates identifiers, channel names included, to 63 bytes (NAMEDATALEN - 1).
_LONGEST_CHANNEL = 63


def channel_name(prefix: str, name: str) -> str:
    """``<prefix>.<name>``, or, when that is longer than PostgreSQL takes for a channel, the
    prefix and a digest of the name (the same on every side: writers' triggers and
    listeners compute it alike)."""
    channel = f"{prefix}.{name}"
    if len(channel.encode()) <= _LONGEST_CHANNEL:
        return channel
    return f"{prefix}.{hashlib.sha256(name.encode()).hexdigest()[:32]}"


class ChannelListener:
    """Sets ``wakeup`` whenever a notification on ``channel`` arrives; connects with
    ``engine``'s settings on a connection of its own (not one of the pool's) and reconnects
    after ``retry_seconds`` when that connection fails or drops."""

    def __init__(
        self,
        engine: AsyncEngine,
        channel: str,
        wakeup: asyncio.Event,
        *,
        retry_seconds: float = 1.0,
        application_name: str = "redress-listener",
    ) -> None:
        self.channel = channel
        self._engine = engine
        self._wakeup = wakeup
        self._retry_seconds = retry_seconds
        self._application_name = application_name
        self._connection: asyncpg.Connection | None = None

    @property
    def backend_pid(self) -> int | None:
        """The server process of the listening connection (None while not listening)."""
        connection = self._connection
        if connection is None or connection.is_closed():
            return None
        return connection.get_server_pid()

    async def run(self) -> None:
        """Listen until cancelled, reconnecting after any failure."""
        while True:
            try:
                await self._listen_until_lost()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # an accelerator only: any failure means try again
                log.warning("listener_failed", channel=self.channel, error=repr(error))
            else:
                log.warning("listener_connection_lost", channel=self.channel)
            await asyncio.sleep(self._retry_seconds)

    async def _listen_until_lost(self) -> None:
        _, options = self._engine.dialect.create_connect_args(self._engine.url)
        connection: asyncpg.Connection = await asyncpg.connect(
            **options, server_settings={"application_name": self._application_name}
        )
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _connection: lost.set())
        try:
            await connection.add_listener(self.channel, self._notified)
            self._connection = connection
            # What was committed while nobody listened has sent its notification already.
            self._wakeup.set()
            await lost.wait()
        finally:
            self._connection = None
            if not connection.is_closed():
                connection.terminate()

    def _notified(self, *_notification: object) -> None:
        self._wakeup.set()


__all__ = ["ChannelListener", "channel_name"]
