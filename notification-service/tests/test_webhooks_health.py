"""Endpoint health with an injected clock: a delivery whose retry schedule (about a day) is
spent is dead but the endpoint stays on; an endpoint whose every attempt fails for the
disable-after period (5 days) is disabled and its owner told by event; re-enabling resets it.

These tests run in a database of their own and drive the dispatcher by hand with a
:class:`FixedClock`, so days pass without sleeping and no background loop of another app
picks up their deliveries. Requests still go over real HTTP to the loopback receiver.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
from notification_service import MIGRATIONS_DIR, tables
from notification_service.adapters.http import WebhookSender
from notification_service.bootstrap import build_app
from notification_service.config import NotificationSettings
from notification_service.webhooks import service
from redress_shared.auth import seed_admin_key
from redress_shared.clock import FixedClock
from redress_shared.events import (
    CASE_STATUS_CHANGED,
    WEBHOOK_DISABLED,
    CaseStatusChangedV1,
    WebhookDisabledV1,
    new_event,
)
from redress_shared.migrations import upgrade_to_head
from sqlalchemy import func, select

START = datetime(2031, 3, 3, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture(scope="module")
def clocked_settings(infra) -> NotificationSettings:
    """A fresh database with the notification schema; default retry and disable settings
    (16 attempts over about a day, disabled after 5 days), loopback receivers allowed."""
    name = f"redress_clocked_{secrets.token_hex(4)}"
    plain = infra.database_url.replace("postgresql+asyncpg://", "postgresql://")

    async def create() -> None:
        connection = await asyncpg.connect(plain)
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()

    asyncio.run(create())
    database_url = f"{infra.database_url.rpartition('/')[0]}/{name}"
    upgrade_to_head(database_url, MIGRATIONS_DIR, "notification")
    settings = NotificationSettings(
        database_url=database_url,
        kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
        admin_api_key=infra.admin_key,
        webhook_allow_private_networks=True,
        webhook_timeout_seconds=2.0,
    )
    assert settings.webhook_max_attempts == 16
    assert settings.webhook_disable_after_seconds == 5 * 86_400
    return settings


class Desk:
    """The notification app (API without background loops) on a clock the test moves."""

    def __init__(self, settings: NotificationSettings) -> None:
        self.settings = settings
        self.clock = FixedClock(START)
        self.app = build_app(settings, self.clock)
        self.runtime = self.app.state.runtime
        self.sender = WebhookSender(settings)
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app),
            base_url="http://testserver",
            headers={"Authorization": f"Bearer {settings.admin_api_key.get_secret_value()}"},
        )

    async def close(self, forget_webhooks: bool = True) -> None:
        """Stop; unless told otherwise, delete every subscription first, as each test of this
        module starts from none (they share the database)."""
        if forget_webhooks:
            for webhook in (await self.client.get("/v1/webhooks")).json():
                await self.client.delete(f"/v1/webhooks/{webhook['id']}")
        await self.client.aclose()
        await self.sender.aclose()
        await self.runtime.engine.dispose()

    async def event_arrives(self) -> uuid.UUID:
        """A case event reaches the consumer now (the consumer's use case, in a transaction)."""
        case_id = uuid.uuid4()
        payload = CaseStatusChangedV1(
            case_id=case_id,
            reference="RDR-2031-000001",
            action="start_investigation",
            from_status="new",
            to_status="investigating",
            version=2,
            actor="agent",
            occurred_at=self.clock.now(),
        )
        event = new_event(
            source="/test",
            type=CASE_STATUS_CHANGED,
            key=str(case_id),
            payload=payload,
            time=self.clock.now(),
        )
        async with self.runtime.session_factory() as session, session.begin():
            await service.plan_webhook_deliveries(session, self.clock, event)
        return event.id

    async def dispatch_due(self) -> int:
        """Attempt every delivery due at the clock's time; return how many attempts ran."""
        attempts = 0
        while await service.deliver_next_webhook(
            self.runtime.session_factory, self.clock, self.sender, self.settings, Counter()
        ):
            attempts += 1
        return attempts

    async def run_until(self, moment: datetime, webhook_id: str) -> bool:
        """Let the dispatcher work as if it polled without pause until ``moment``: the clock
        jumps from one due attempt to the next. True (the clock left at that time) as soon as
        the webhook is disabled."""
        pending = tables.webhook_deliveries
        while True:
            await self.dispatch_due()
            if not (await self.webhook(webhook_id))["enabled"]:
                return True
            async with self.runtime.session_factory() as session:
                due = await session.scalar(
                    select(func.min(pending.c.next_attempt_at)).where(pending.c.status == "pending")
                )
            target = moment if due is None or due > moment else max(due, self.clock.now())
            self.clock.advance(target - self.clock.now())
            if target == moment and (due is None or due > moment):
                return False

    async def webhook(self, webhook_id: str) -> dict:
        response = await self.client.get(f"/v1/webhooks/{webhook_id}")
        assert response.status_code == 200, response.text
        return response.json()

    async def delivery_of(self, webhook_id: str, event_id: uuid.UUID) -> dict:
        response = await self.client.get(f"/v1/webhooks/{webhook_id}/deliveries")
        return next(d for d in response.json() if d["event_id"] == str(event_id))

    async def disabled_events(self, webhook_id: str) -> list[WebhookDisabledV1]:
        outbox = tables.platform.outbox
        async with self.runtime.session_factory() as session:
            rows = (await session.execute(select(outbox.c.event))).scalars().all()
        return [
            WebhookDisabledV1.model_validate(row["data"])
            for row in rows
            if row["type"] == WEBHOOK_DISABLED and row["data"]["webhook_id"] == webhook_id
        ]


@pytest.fixture
async def desk(clocked_settings):
    desk = Desk(clocked_settings)
    # What the lifespan would do first; the test runs no lifespan (no loops, no consumer).
    await seed_admin_key(
        desk.runtime.session_factory,
        tables.platform,
        clocked_settings.admin_api_key.get_secret_value(),
    )
    yield desk
    await desk.close()


async def subscribe(desk: Desk, url: str) -> dict:
    response = await desk.client.post(
        "/v1/webhooks", json={"url": url, "event_types": [CASE_STATUS_CHANGED]}
    )
    assert response.status_code == 201, response.text
    return response.json()


async def test_an_endpoint_failing_for_five_days_is_disabled_and_its_owner_told(desk, receiver):
    path, url = receiver.endpoint(fail_first=10**6, fail_status=500)
    webhook = await subscribe(desk, url)
    first_event = await desk.event_arrives()

    # A new event every day; every attempt fails.
    disabled = False
    for day in range(1, 8):
        disabled = await desk.run_until(START + day * DAY, webhook["id"])
        if disabled:
            break
        if day == 2:
            # The first delivery spent its schedule (16 attempts, about a day): dead, kept.
            dead = await desk.delivery_of(webhook["id"], first_event)
            assert dead["status"] == "failed" and dead["attempts"] == 16
            assert [a["status_code"] for a in dead["attempt_log"]] == [500] * 16
            assert (await desk.webhook(webhook["id"]))["enabled"] is True
        await desk.event_arrives()
    disabled_at = desk.clock.now()

    # Not before five days of failure: the attempt at the five-day mark switched it off.
    assert disabled
    assert START + 5 * DAY <= disabled_at <= START + 5 * DAY + timedelta(hours=1)
    state = await desk.webhook(webhook["id"])
    assert "5 days" in state["disabled_reason"] and "HTTP 500" in state["disabled_reason"]
    assert datetime.fromisoformat(state["failing_since"]) == START
    assert datetime.fromisoformat(state["disabled_at"]) == disabled_at
    assert state["consecutive_failures"] == len(receiver.to(path))
    (told,) = await desk.disabled_events(webhook["id"])
    assert told.cause == "failing"
    assert told.owner_key_id is not None and str(told.owner_key_id) == state["owner_key_id"]
    assert told.failing_since == START
    assert told.consecutive_failures == len(receiver.to(path))
    assert told.last_status_code == 500
    assert told.occurred_at == disabled_at

    # Disabled: nothing more is attempted, however much time passes.
    sent = len(receiver.to(path))
    desk.clock.advance(DAY)
    assert await desk.dispatch_due() == 0
    assert len(receiver.to(path)) == sent

    # The owner re-enables it: a clean slate; a new failure does not disable it again at once.
    enabled = await desk.client.patch(f"/v1/webhooks/{webhook['id']}", json={"enabled": True})
    assert enabled.status_code == 200, enabled.text
    reset = enabled.json()
    assert reset["enabled"] is True and reset["disabled_reason"] is None
    assert reset["failing_since"] is None and reset["consecutive_failures"] == 0
    assert reset["disabled_at"] is None
    assert await desk.dispatch_due() >= 1  # the pending deliveries resume
    state = await desk.webhook(webhook["id"])
    assert state["enabled"] is True and state["consecutive_failures"] >= 1
    assert len(await desk.disabled_events(webhook["id"])) == 1

    # The receiver is fixed: the pending deliveries arrive and the streak ends.
    receiver.behaviours[path].fail_first = 0
    assert await desk.run_until(desk.clock.now() + DAY, webhook["id"]) is False
    state = await desk.webhook(webhook["id"])
    assert state["failing_since"] is None and state["consecutive_failures"] == 0
    listed = (await desk.client.get(f"/v1/webhooks/{webhook['id']}/deliveries")).json()
    assert [d for d in listed if d["status"] == "pending"] == []


async def test_a_success_in_between_restarts_the_five_days(desk, receiver):
    path, url = receiver.endpoint(fail_first=10**6, fail_status=503)
    webhook = await subscribe(desk, url)
    await desk.event_arrives()
    assert await desk.run_until(START + 3 * DAY, webhook["id"]) is False
    assert (await desk.webhook(webhook["id"]))["failing_since"] is not None

    receiver.behaviours[path].fail_first = 0
    await desk.event_arrives()
    await desk.dispatch_due()
    assert (await desk.webhook(webhook["id"]))["failing_since"] is None
    recovered_at = desk.clock.now()

    receiver.behaviours[path].fail_first = 10**6
    disabled = False
    for day in range(1, 8):
        await desk.event_arrives()
        disabled = await desk.run_until(recovered_at + day * DAY, webhook["id"])
        if disabled:
            break
    # More than five days after the first failure, but the clock restarted at the success.
    assert disabled
    assert desk.clock.now() >= recovered_at + 5 * DAY
    (told,) = await desk.disabled_events(webhook["id"])
    assert told.failing_since >= recovered_at and told.cause == "failing"


async def test_a_restart_resumes_pending_retries(clocked_settings, receiver):
    """Retries live in PostgreSQL: a new application instance (new engine, connection pool
    and HTTP client; nothing carried over in memory) picks up where the old one stopped."""
    path, url = receiver.endpoint(fail_first=1, fail_status=503)
    before = Desk(clocked_settings)
    await seed_admin_key(
        before.runtime.session_factory,
        tables.platform,
        clocked_settings.admin_api_key.get_secret_value(),
    )
    webhook = await subscribe(before, url)
    event_id = await before.event_arrives()
    assert await before.dispatch_due() == 1  # the 503; the retry is seconds away
    await before.close(forget_webhooks=False)

    after = Desk(clocked_settings)
    try:
        after.clock.advance(timedelta(minutes=1))
        assert await after.dispatch_due() == 1
        delivery = await after.delivery_of(webhook["id"], event_id)
        assert delivery["status"] == "delivered" and delivery["attempts"] == 2
        assert [a["status_code"] for a in delivery["attempt_log"]] == [503, 200]
        requests = receiver.to(path)
        assert len(requests) == 2 and len({r.headers["webhook-id"] for r in requests}) == 1
        assert await after.dispatch_due() == 0  # nothing left, nothing doubled
    finally:
        await after.close()
