"""Background loops of the case service: each iteration calls use cases, nothing more."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from redress_shared.runtime import ServiceRuntime

from case_service.commitments.service import fire_missed_commitments
from case_service.sla.service import fire_due_timers


def deadline_timers(runtime: ServiceRuntime) -> Callable[[], Awaitable[None]]:
    """The loop that fires due SLA warnings and breaches and missed commitments. While
    anything fired it looks again at once (a batch may have left more due); otherwise it
    sleeps ``sla_timer_interval_seconds``."""

    async def fire_forever() -> None:
        while True:
            fired = await fire_due_timers(runtime.session_factory, runtime.clock)
            fired += await fire_missed_commitments(runtime.session_factory, runtime.clock)
            if not fired:
                await asyncio.sleep(runtime.settings.sla_timer_interval_seconds)

    return fire_forever
