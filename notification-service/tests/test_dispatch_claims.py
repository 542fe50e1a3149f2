"""No transaction across the network: the dispatchers claim a message or a webhook delivery
in a short transaction, send it with no transaction open, and record the outcome in a
second transaction only while their claim holds.

These tests run in a database of their own with an app that runs no loops, and drive the
use cases by hand on a :class:`FixedClock`, so a claim can expire without waiting and no
other dispatcher takes their rows. E-mail goes to the loopback SMTP server and webhooks to
the loopback receiver, over real connections.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import asyncpg
import pytest
from notification_service import MIGRATIONS_DIR, consumers, tables
from notification_service.adapters.http import WebhookSender
from notification_service.adapters.smtp import SmtpEmailSender
from notification_service.bootstrap import build_app
from notification_service.config import NotificationSettings
from notification_service.messages import service as messages
from notification_service.messages.model import Messaging
from notification_service.webhooks import service as webhooks
from notification_service.webhooks.model import AttemptResult, claim_seconds
from redress_shared.clock import FixedClock
from redress_shared.events import (
    CASE_STATUS_CHANGED,
    NOTIFICATION_SENT,
    CaseStatusChangedV1,
    new_event,
)
from redress_shared.migrations import upgrade_to_head
from redress_testing import eventually
from sqlalchemy import func, select, text

START = datetime(2032, 5, 4, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def quiet_settings(infra, smtp_server) -> NotificationSettings:
    """A fresh database with the notification schema, nobody else dispatching from it."""
    name = f"redress_claims_{secrets.token_hex(4)}"
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
    _, smtp_port = smtp_server
    return NotificationSettings(
        database_url=database_url,
        kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
        admin_api_key=infra.admin_key,
        smtp_port=smtp_port,
        webhook_allow_private_networks=True,
        webhook_timeout_seconds=5.0,
        webhook_endpoint_concurrency=2,
    )


@pytest.fixture
async def quiet(quiet_settings):
    """The use cases' dependencies on a clock the test moves (the app runs no lifespan)."""
    clock = FixedClock(START)
    runtime = build_app(quiet_settings, clock).state.runtime
    smtp = SmtpEmailSender(quiet_settings)
    sender = WebhookSender(quiet_settings)
    yield SimpleNamespace(
        settings=quiet_settings,
        clock=clock,
        sessions=runtime.session_factory,
        messaging=Messaging(clock, quiet_settings, "redress.example", ("email",)),
        channels={"email": smtp},
        sender=sender,
    )
    await smtp.aclose()
    await sender.aclose()
    await runtime.engine.dispose()


async def open_transactions(sessions) -> int:
    """Connections of this database sitting inside a transaction while idle (one held
    across a network call would be one of them)."""
    async with sessions() as session:
        return await session.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND state LIKE 'idle in transaction%'"
            )
        )


async def a_message_queued(quiet, story) -> uuid.UUID:
    """The case opens: its acknowledgement is queued (the consumer's use case)."""
    async with quiet.sessions() as session, session.begin():
        await messages.tell_customer(session, quiet.messaging, story.opened)
    async with quiet.sessions() as session:
        return await session.scalar(
            select(tables.notifications.c.id).where(tables.notifications.c.case_id == story.case_id)
        )


async def test_a_message_is_sent_with_no_transaction_open(quiet, smtp_server, case_story):
    server, _ = smtp_server
    address = f"slow.{uuid.uuid4().hex[:8]}@example.com"
    server.slow[address] = 1.5
    notification_id = await a_message_queued(quiet, case_story(address))
    (claimed,) = await messages.claim_due_messages(quiet.sessions, quiet.clock, quiet.settings, 5)
    sending = asyncio.create_task(
        messages.send_claimed(quiet.sessions, quiet.clock, quiet.channels, quiet.settings, claimed)
    )

    async def at_the_server():
        return server.receiving > 0

    await eventually(at_the_server, timeout=10, interval=0.02)
    assert await open_transactions(quiet.sessions) == 0
    # Nothing holds the row either: another transaction may lock it at once.
    async with quiet.sessions() as session, session.begin():
        locked = await session.execute(
            select(tables.notifications.c.id)
            .where(tables.notifications.c.id == notification_id)
            .with_for_update(nowait=True)
        )
        assert locked.first() is not None
    await sending
    assert len(server.to(address)) == 1


async def test_an_expired_message_claim_is_taken_again_and_its_late_outcome_ignored(
    quiet, smtp_server, case_story
):
    """A dispatcher claims and goes silent (as if its process died): while the claim holds
    nobody else sends the message; after it expires another dispatcher sends it. When the
    first one comes back and sends too, the e-mail goes out again with the same Message-ID
    (receivers deduplicate) and its outcome is dropped: one attempt, one outcome event."""
    server, _ = smtp_server
    address = f"claimed.{uuid.uuid4().hex[:8]}@example.com"
    notification_id = await a_message_queued(quiet, case_story(address))
    settings = quiet.settings
    (first,) = await messages.claim_due_messages(quiet.sessions, quiet.clock, settings, 5)
    assert await messages.claim_due_messages(quiet.sessions, quiet.clock, settings, 5) == []
    quiet.clock.advance(timedelta(seconds=settings.message_claim_seconds + 1))
    (second,) = await messages.claim_due_messages(quiet.sessions, quiet.clock, settings, 5)
    assert second.row.id == first.row.id == notification_id
    assert second.claim_id != first.claim_id

    await messages.send_claimed(quiet.sessions, quiet.clock, quiet.channels, settings, second)
    await messages.send_claimed(quiet.sessions, quiet.clock, quiet.channels, settings, first)

    mails = server.to(address)
    assert len(mails) == 2 and len({m["Message-ID"] for m in mails}) == 1
    async with quiet.sessions() as session:
        row = (
            await session.execute(
                select(tables.notifications).where(tables.notifications.c.id == notification_id)
            )
        ).one()
        attempts = await session.scalar(
            select(func.count())
            .select_from(tables.notification_attempts)
            .where(tables.notification_attempts.c.notification_id == notification_id)
        )
        outcomes = [
            event
            for event in (await session.execute(select(tables.platform.outbox.c.event))).scalars()
            if event["type"] == NOTIFICATION_SENT
            and event["data"]["notification_id"] == str(notification_id)
        ]
    assert (row.status, row.attempts, row.claim_id, attempts) == ("sent", 1, None, 1)
    assert len(outcomes) == 1


async def test_a_late_outcome_of_an_expired_claim_is_recorded_and_not_claimed_again(
    quiet, smtp_server, case_story
):
    """A turn records outcomes and claims in one statement, which sees the rows as they were
    before it: a message whose claim expired while it was being sent (and nobody took it) is
    recorded as sent by the turn that also claims what is due, and not claimed again by it."""
    server, _ = smtp_server
    address = f"late.{uuid.uuid4().hex[:8]}@example.com"
    notification_id = await a_message_queued(quiet, case_story(address))
    settings = quiet.settings
    (claimed,) = await messages.claim_due_messages(quiet.sessions, quiet.clock, settings, 5)
    result = await messages.send_only(quiet.clock, quiet.channels, settings, claimed)
    quiet.clock.advance(timedelta(seconds=settings.message_claim_seconds + 1))

    taken = await messages.record_and_claim(quiet.sessions, quiet.clock, settings, [result], 5)

    assert notification_id not in [message.row.id for message in taken]
    assert len(server.to(address)) == 1
    async with quiet.sessions() as session:
        row = (
            await session.execute(
                select(tables.notifications).where(tables.notifications.c.id == notification_id)
            )
        ).one()
        attempts = await session.scalar(
            select(func.count())
            .select_from(tables.notification_attempts)
            .where(tables.notification_attempts.c.notification_id == notification_id)
        )
        outcomes = await session.scalar(
            select(func.count())
            .select_from(tables.platform.outbox)
            .where(tables.platform.outbox.c.event_id.is_not(None))
            .where(tables.platform.outbox.c.event["subject"].astext == str(notification_id))
        )
    assert (row.status, row.attempts, row.claim_id, attempts, outcomes) == ("sent", 1, None, 1, 1)
    await messages.record_and_claim(
        quiet.sessions,
        quiet.clock,
        settings,
        [await messages.send_only(quiet.clock, quiet.channels, settings, c) for c in taken],
        0,
    )


async def test_smtp_connections_are_reused(quiet, smtp_server, case_story):
    server, _ = smtp_server
    await a_message_queued(quiet, case_story(f"warm.{uuid.uuid4().hex[:8]}@example.com"))
    for claimed in await messages.claim_due_messages(
        quiet.sessions, quiet.clock, quiet.settings, 5
    ):
        await messages.send_claimed(
            quiet.sessions, quiet.clock, quiet.channels, quiet.settings, claimed
        )
    before = server.connections
    addresses = [f"pooled.{uuid.uuid4().hex[:8]}@example.com" for _ in range(6)]
    for address in addresses:
        await a_message_queued(quiet, case_story(address))
    for claimed in await messages.claim_due_messages(
        quiet.sessions, quiet.clock, quiet.settings, 10
    ):
        await messages.send_claimed(
            quiet.sessions, quiet.clock, quiet.channels, quiet.settings, claimed
        )
    assert all(len(server.to(address)) == 1 for address in addresses)
    assert server.connections == before  # six messages over the connection already open


# --- webhooks ------------------------------------------------------------------------------


async def subscribe(quiet, url: str) -> uuid.UUID:
    row, _secret = await webhooks.create_webhook(
        quiet.sessions,
        quiet.clock,
        quiet.settings,
        url=url,
        event_types=[CASE_STATUS_CHANGED],
        description="claims",
        enabled=True,
    )
    return row.id


async def an_event_arrives(quiet) -> uuid.UUID:
    case_id = uuid.uuid4()
    payload = CaseStatusChangedV1(
        case_id=case_id,
        reference="RDR-2032-000001",
        action="start_investigation",
        from_status="new",
        to_status="investigating",
        version=2,
        actor="agent",
        occurred_at=quiet.clock.now(),
    )
    event = new_event(
        source="/test",
        type=CASE_STATUS_CHANGED,
        key=str(case_id),
        payload=payload,
        time=quiet.clock.now(),
    )
    async with quiet.sessions() as session, session.begin():
        await webhooks.plan_webhook_deliveries(session, quiet.clock, event)
    return event.id


async def settle(quiet) -> None:
    """Attempt whatever is due, so the next test starts from nothing pending."""
    while claimed := await webhooks.claim_due_deliveries(
        quiet.sessions, quiet.clock, quiet.settings, 50
    ):
        for delivery in claimed:
            await webhooks.attempt_claimed(
                quiet.sessions, quiet.clock, quiet.sender, quiet.settings, delivery
            )
    for webhook in await webhooks.list_webhooks(quiet.sessions):
        await webhooks.delete_webhook(quiet.sessions, webhook.id)


async def test_a_webhook_is_attempted_with_no_transaction_open(quiet, receiver):
    path, url = receiver.endpoint(delay=1.5)
    await subscribe(quiet, url)
    await an_event_arrives(quiet)
    (claimed,) = await webhooks.claim_due_deliveries(quiet.sessions, quiet.clock, quiet.settings, 5)
    attempt = asyncio.create_task(
        webhooks.attempt_claimed(quiet.sessions, quiet.clock, quiet.sender, quiet.settings, claimed)
    )

    async def at_the_receiver():
        return receiver.open_requests[path] > 0

    await eventually(at_the_receiver, timeout=10, interval=0.02)
    assert await open_transactions(quiet.sessions) == 0
    async with quiet.sessions() as session, session.begin():
        locked = await session.execute(
            select(tables.webhook_deliveries.c.id)
            .where(tables.webhook_deliveries.c.id == claimed.row.id)
            .with_for_update(nowait=True)
        )
        assert locked.first() is not None
    await attempt
    assert [r.answered for r in receiver.to(path)] == [200]
    await settle(quiet)


async def test_an_expired_delivery_claim_is_taken_again_with_the_same_webhook_id(quiet, receiver):
    path, url = receiver.endpoint()
    await subscribe(quiet, url)
    await an_event_arrives(quiet)
    settings = quiet.settings
    (first,) = await webhooks.claim_due_deliveries(quiet.sessions, quiet.clock, settings, 5)
    assert await webhooks.claim_due_deliveries(quiet.sessions, quiet.clock, settings, 5) == []
    quiet.clock.advance(timedelta(seconds=claim_seconds(settings.webhook_timeout_seconds) + 1))
    (second,) = await webhooks.claim_due_deliveries(quiet.sessions, quiet.clock, settings, 5)
    assert second.row.id == first.row.id and second.claim_id != first.claim_id

    await webhooks.attempt_claimed(quiet.sessions, quiet.clock, quiet.sender, settings, second)
    # The first dispatcher's late word is dropped, whatever it says.
    late = AttemptResult("retry", 10, error="late")
    assert await webhooks.record_attempt_outcomes(
        quiet.sessions, quiet.clock, settings, [(first, late)]
    ) == [False]
    await webhooks.attempt_claimed(quiet.sessions, quiet.clock, quiet.sender, settings, first)

    requests = receiver.to(path)
    assert len(requests) == 2
    assert len({r.headers["webhook-id"] for r in requests}) == 1
    async with quiet.sessions() as session:
        row = (
            await session.execute(
                select(tables.webhook_deliveries).where(
                    tables.webhook_deliveries.c.id == first.row.id
                )
            )
        ).one()
        attempts = await session.scalar(
            select(func.count())
            .select_from(tables.webhook_attempts)
            .where(tables.webhook_attempts.c.delivery_id == first.row.id)
        )
    assert (row.status, row.attempts, row.claim_id, attempts) == ("delivered", 1, None, 1)
    await settle(quiet)


async def test_claims_respect_the_endpoint_limit_across_dispatchers(quiet, receiver):
    """Open claims are the endpoint's slots: a second dispatcher (another replica) gets no
    more for a full endpoint, and still gets the deliveries of another endpoint."""
    _, busy_url = receiver.endpoint()
    busy = await subscribe(quiet, busy_url)
    for _ in range(5):
        await an_event_arrives(quiet)
    settings = quiet.settings
    first = await webhooks.claim_due_deliveries(quiet.sessions, quiet.clock, settings, 10)
    assert len(first) == settings.webhook_endpoint_concurrency
    assert await webhooks.claim_due_deliveries(quiet.sessions, quiet.clock, settings, 10) == []

    _, other_url = receiver.endpoint()
    other = await subscribe(quiet, other_url)
    await an_event_arrives(quiet)  # one more delivery for each subscription
    second = await webhooks.claim_due_deliveries(quiet.sessions, quiet.clock, settings, 10)
    assert [c.row.subscription_id for c in second] == [other]
    for delivery in first[:1]:
        await webhooks.attempt_claimed(
            quiet.sessions, quiet.clock, quiet.sender, settings, delivery
        )
    third = await webhooks.claim_due_deliveries(quiet.sessions, quiet.clock, settings, 10)
    assert [c.row.subscription_id for c in third] == [busy]  # the freed slot
    for delivery in [*first[1:], *second, *third]:
        await webhooks.attempt_claimed(
            quiet.sessions, quiet.clock, quiet.sender, settings, delivery
        )
    await settle(quiet)


async def test_a_fetched_batch_queues_each_message_and_delivery_once(quiet, receiver, case_story):
    """The consumer applies a fetched batch at once (contacts, templates and webhook filters
    read once, deliveries inserted together): each event still makes its message, in its
    customer's language, and one delivery per subscription; the same batch applied again (a
    redelivery the inbox did not catch) adds nothing. Sent in one dispatcher turn, every
    message goes out once and is recorded with its outcome event."""
    _, url = receiver.endpoint()
    webhook_id = await subscribe(quiet, url)
    ana, ion = case_story("ana@example.com"), case_story("ion@example.com", language="ro")
    batch = [
        ana.opened,
        ana.response("A new charger is on its way."),
        ion.opened,
        ion.status("start", "acknowledged", "investigating"),
        ion.response("Vă trimitem azi un încărcător nou."),
    ]
    apply = consumers.batch_handler(quiet.clock, quiet.messaging)
    for _ in range(2):
        async with quiet.sessions() as session, session.begin():
            await apply(session, batch)
    notifications = tables.notifications
    async with quiet.sessions() as session:
        queued = (
            await session.execute(
                select(notifications.c.case_id, notifications.c.template, notifications.c.language)
                .where(notifications.c.case_id.in_([ana.case_id, ion.case_id]))
                .order_by(notifications.c.created_at)
            )
        ).all()
        deliveries = await session.scalars(
            select(tables.webhook_deliveries.c.event_id).where(
                tables.webhook_deliveries.c.subscription_id == webhook_id
            )
        )
        delivered_events = sorted(deliveries.all())
    kinds = {
        case: {t: lang for c, t, lang in queued if c == case} for case in (ana.case_id, ion.case_id)
    }
    assert kinds[ana.case_id] == {"acknowledgement": "en", "response": "en"}
    assert {"acknowledgement", "response"} <= kinds[ion.case_id].keys()
    assert set(kinds[ion.case_id].values()) == {"ro"}
    assert len(queued) == len({(case, kind) for case, kind, _ in queued})  # none twice
    status_events = [event.id for event in batch if event.type == CASE_STATUS_CHANGED]
    assert delivered_events == sorted(status_events)

    claimed = await messages.record_and_claim(quiet.sessions, quiet.clock, quiet.settings, [], 50)
    ours = [c for c in claimed if c.row.case_id in (ana.case_id, ion.case_id)]
    results = [
        await messages.send_only(quiet.clock, quiet.channels, quiet.settings, c) for c in claimed
    ]
    assert (
        await messages.record_and_claim(quiet.sessions, quiet.clock, quiet.settings, results, 50)
        == []
    )
    async with quiet.sessions() as session:
        statuses = (
            await session.scalars(
                select(notifications.c.status).where(
                    notifications.c.id.in_([c.row.id for c in ours])
                )
            )
        ).all()
        staged = await session.scalar(
            select(func.count())
            .select_from(tables.platform.outbox)
            .where(tables.platform.outbox.c.message_key.in_([str(ana.case_id), str(ion.case_id)]))
        )
    assert len(statuses) == len(ours) >= 4 and set(statuses) == {"sent"}
    assert staged == len(ours)
    await settle(quiet)
