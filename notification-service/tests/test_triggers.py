"""Which case events tell the customer what: information requests, status changes, breach
apologies, follow-ups; quiet collapse of status bursts; one message per event and kind."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from notification_service import consumers, tables
from notification_service.messages import service as notifications
from notification_service.messages.model import EMAIL, Messaging
from redress_shared.clock import FixedClock
from redress_shared.events import CASES_TOPIC
from redress_testing import eventually, produce
from sqlalchemy import select


def _address() -> str:
    return f"ana.{uuid.uuid4().hex[:8]}@example.com"


def _messaging(client, clock, **settings) -> Messaging:
    runtime = client.app.state.runtime
    return Messaging(
        clock, runtime.settings.model_copy(update=settings), "redress.example", (EMAIL,)
    )


async def _handle(client, messaging: Messaging, *events) -> None:
    """Run the consumer's handlers for ``events`` directly, each in its own transaction (as
    the consumer does, minus the inbox), with ``messaging``'s clock and settings."""
    table = consumers.handlers(messaging.clock, messaging)
    for event in events:
        async with client.app.state.runtime.session_factory() as session, session.begin():
            await table[event.type](session, event)


async def _listed(client, case_id) -> list[dict]:
    return (await client.get("/v1/notifications", params={"case_id": str(case_id)})).json()


async def test_information_request_and_status_changes_worth_telling(
    notifications_client, smtp_server, infra, case_story, settled_notifications, text_of
):
    server, _ = smtp_server
    address = _address()
    story = case_story(address)
    question = f"Please send a photo of the serial number ({uuid.uuid4().hex[:6]})."
    await produce(
        infra.kafka_bootstrap_servers,
        CASES_TOPIC,
        story.opened,
        story.status("start", "new", "investigating"),
        story.status("request_info", "investigating", "awaiting_customer", question),
        story.status("resume", "awaiting_customer", "investigating"),  # not news to them
        story.status("resolve", "investigating", "resolved", "A new charger is on its way."),
    )
    # The follow-up too: it is due a second (in these tests) after the resolution.
    listed = await settled_notifications(notifications_client, story.case_id, 5)
    assert sorted(n["template"] for n in listed) == [
        "acknowledgement",
        "follow_up",
        "information_request",
        "investigating",
        "resolved",
    ]
    texts = {m["Subject"]: text_of(m) for m in server.to(address)}
    request = next(text for subject, text in texts.items() if "more from you" in subject)
    assert question in request
    resolved = next(text for subject, text in texts.items() if "is resolved" in subject)
    assert "A new charger is on its way." in resolved


async def test_a_breach_brings_an_apology_with_the_new_time(
    notifications_client, smtp_server, infra, case_story, settled_notifications, text_of
):
    server, _ = smtp_server
    address = _address()
    story = case_story(address)
    due = datetime(2026, 12, 7, 17, 0, tzinfo=UTC)
    await produce(
        infra.kafka_bootstrap_servers,
        CASES_TOPIC,
        story.opened,
        story.breach("acknowledge", due - timedelta(days=13)),  # no promise to the customer
        story.breach("resolve", due),
    )
    listed = await settled_notifications(notifications_client, story.case_id, 2)
    assert sorted(n["template"] for n in listed) == ["acknowledgement", "delay_apology"]
    (apology,) = [m for m in server.to(address) if "late" in m["Subject"]]
    text = " ".join(text_of(apology).split())
    assert "a resolution" in text and "by December 7, 2026, 5:00 PM" in text
    # No new time on the event: the configured two days after the breach.
    assert "our new time is December 9, 2026, 5:01 PM (Coordinated Universal Time)" in text

    # The case service's new time, when the event carries one.
    address = _address()
    story = case_story(address, language="ro")
    new_time = datetime(2026, 12, 8, 12, 0, tzinfo=UTC)
    await produce(
        infra.kafka_bootstrap_servers,
        CASES_TOPIC,
        story.opened,
        story.breach("first_response", due, new_due_at=new_time),
    )
    await settled_notifications(notifications_client, story.case_id, 2)
    (apology,) = [m for m in server.to(address) if "întârziere" in m["Subject"]]
    assert "un răspuns" in text_of(apology)
    assert "noul termen este 8 decembrie 2026, 12:00" in " ".join(text_of(apology).split())


async def test_a_follow_up_asks_once_whether_the_fix_held(
    notifications_client, smtp_server, infra, case_story, settled_notifications, text_of
):
    server, _ = smtp_server
    address = _address()
    story = case_story(address)
    await produce(
        infra.kafka_bootstrap_servers,
        CASES_TOPIC,
        story.opened,
        story.status("resolve", "new", "resolved", "Replaced."),
    )
    # follow_up_after is one second in these tests.
    listed = await settled_notifications(notifications_client, story.case_id, 3)
    assert sorted(n["template"] for n in listed) == ["acknowledgement", "follow_up", "resolved"]
    (follow_up,) = [m for m in server.to(address) if "fix hold" in m["Subject"]]
    assert "On November 23, 2026 we resolved your complaint" in text_of(follow_up)
    async with notifications_client.app.state.runtime.session_factory() as session:
        (row,) = (
            await session.execute(
                select(tables.follow_ups).where(tables.follow_ups.c.case_id == story.case_id)
            )
        ).all()
    assert row.status == "sent" and row.fired_at is not None


async def test_due_follow_ups_fire_once_across_replicas(notifications_client, case_story):
    """Several schedulers (replicas) poll at the same moment: one message per follow-up."""
    runtime = notifications_client.app.state.runtime
    clock = FixedClock(datetime(2030, 1, 1, tzinfo=UTC))
    messaging = _messaging(notifications_client, clock, follow_up_after=timedelta(days=7))
    story = case_story(_address())
    # The case's events happen at the test clock's time: the session's running app polls for
    # due follow-ups on the real clock, and must not find this one due before the test does.
    story.at = clock.now()
    await _handle(
        notifications_client,
        messaging,
        story.opened,
        story.status("resolve", "new", "resolved", "Replaced."),
    )
    clock.advance(timedelta(days=8))
    await asyncio.gather(
        *(notifications.fire_due_follow_ups(runtime.session_factory, messaging) for _ in range(6))
    )
    follow_ups = [
        n
        for n in await _listed(notifications_client, story.case_id)
        if n["template"] == "follow_up"
    ]
    assert len(follow_ups) == 1


async def test_reopening_cancels_the_follow_up(notifications_client, case_story):
    runtime = notifications_client.app.state.runtime
    clock = FixedClock(datetime(2030, 1, 1, tzinfo=UTC))
    messaging = _messaging(notifications_client, clock, follow_up_after=timedelta(days=7))
    story = case_story(_address())
    # The case's events happen at the test clock's time: the session's running app polls for
    # due follow-ups on the real clock, and must not find this one due before the test does.
    story.at = clock.now()
    await _handle(
        notifications_client,
        messaging,
        story.opened,
        story.status("resolve", "investigating", "resolved", "Replaced."),
        story.status("reopen", "resolved", "investigating", "Fails the same way."),
    )
    clock.advance(timedelta(days=8))
    await notifications.fire_due_follow_ups(runtime.session_factory, messaging)
    templates = [n["template"] for n in await _listed(notifications_client, story.case_id)]
    assert "follow_up" not in templates
    async with runtime.session_factory() as session:
        statuses = (
            await session.scalars(
                select(tables.follow_ups.c.status).where(
                    tables.follow_ups.c.case_id == story.case_id
                )
            )
        ).all()
    assert statuses == ["cancelled"]


async def test_a_burst_of_status_changes_goes_as_one_message(notifications_client, case_story):
    """Rule: a status message waits the quiet window; a later one within it replaces it and
    keeps the first one's send time; after the window a change is a message of its own."""
    start = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)  # far ahead: the app's dispatchers wait
    clock = FixedClock(start)
    messaging = _messaging(notifications_client, clock, status_quiet_window=timedelta(minutes=2))
    story = case_story(_address())
    # The case's events happen at the test clock's time (far ahead), so the follow-up the
    # "resolve" schedules is not already due for the session app's real-clock poller.
    story.at = clock.now()
    await _handle(notifications_client, messaging, story.opened)
    await _handle(notifications_client, messaging, story.status("start", "new", "investigating"))
    clock.advance(timedelta(seconds=30))
    await _handle(
        notifications_client,
        messaging,
        story.status("request_info", "investigating", "awaiting_customer", "A photo, please."),
    )
    clock.advance(timedelta(seconds=30))
    await _handle(
        notifications_client,
        messaging,
        story.status("resume", "awaiting_customer", "investigating"),  # tells nothing
        story.status("resolve", "investigating", "resolved", "Replaced."),
    )
    listed = await _listed(notifications_client, story.case_id)
    status_messages = {n["template"]: n for n in listed if n["template"] != "acknowledgement"}
    assert set(status_messages) == {"investigating", "information_request", "resolved"}
    resolved = status_messages["resolved"]
    assert resolved["status"] == "pending"
    assert status_messages["investigating"]["status"] == "collapsed"
    assert status_messages["information_request"]["status"] == "collapsed"
    assert status_messages["investigating"]["collapsed_into"] == resolved["id"]
    assert status_messages["information_request"]["collapsed_into"] == resolved["id"]
    async with notifications_client.app.state.runtime.session_factory() as session:
        send_at = await session.scalar(
            select(tables.notifications.c.next_attempt_at).where(
                tables.notifications.c.id == uuid.UUID(resolved["id"])
            )
        )
    assert send_at == start + timedelta(minutes=2)  # the first change's window, not extended

    clock.advance(timedelta(minutes=5))  # the burst's message is due (or sent): a new one
    await _handle(
        notifications_client,
        messaging,
        story.status("reopen", "resolved", "investigating", "Fails again."),
    )
    listed = await _listed(notifications_client, story.case_id)
    assert sorted(n["status"] for n in listed if n["template"] != "acknowledgement") == [
        "collapsed",
        "collapsed",
        "pending",
        "pending",
    ]


async def test_a_burst_in_one_fetched_batch_goes_as_one_message(notifications_client, case_story):
    """The consumer applies a fetched batch at once (messages inserted together): quiet
    collapse still folds the batch's status messages into its last one, which keeps the
    first one's send time, as one event at a time would."""
    start = datetime(2030, 2, 1, 9, 0, tzinfo=UTC)  # far ahead: the app's dispatchers wait
    clock = FixedClock(start)
    messaging = _messaging(notifications_client, clock, status_quiet_window=timedelta(minutes=2))
    story = case_story(_address())
    story.at = clock.now()
    batch = [
        story.opened,
        story.status("start", "new", "investigating"),
        story.status("request_info", "investigating", "awaiting_customer", "A photo, please."),
        story.status("resume", "awaiting_customer", "investigating"),  # tells nothing
        story.status("resolve", "investigating", "resolved", "Replaced."),
    ]
    apply = consumers.batch_handler(clock, messaging)
    async with notifications_client.app.state.runtime.session_factory() as session:
        async with session.begin():
            await apply(session, batch)
    listed = await _listed(notifications_client, story.case_id)
    by_kind = {n["template"]: n for n in listed}
    assert set(by_kind) == {"acknowledgement", "investigating", "information_request", "resolved"}
    resolved = by_kind["resolved"]
    assert resolved["status"] == "pending"
    for folded in ("investigating", "information_request"):
        assert by_kind[folded]["status"] == "collapsed"
        assert by_kind[folded]["collapsed_into"] == resolved["id"]
    async with notifications_client.app.state.runtime.session_factory() as session:
        send_at = await session.scalar(
            select(tables.notifications.c.next_attempt_at).where(
                tables.notifications.c.id == uuid.UUID(resolved["id"])
            )
        )
    assert send_at == start + timedelta(minutes=2)


async def test_one_message_per_event_and_kind_even_when_the_inbox_is_bypassed(
    notifications_client, infra, case_story, settled_notifications
):
    """Redelivered events are caught by the inbox; even an event handled again without it (a
    replay after restoring the inbox, a second consumer group) makes no second message."""
    story = case_story(_address())
    response = story.response("We are on it.")
    await produce(infra.kafka_bootstrap_servers, CASES_TOPIC, story.opened, response, response)
    await settled_notifications(notifications_client, story.case_id, 2)
    clock = FixedClock(datetime(2030, 1, 1, tzinfo=UTC))
    await _handle(notifications_client, _messaging(notifications_client, clock), response)

    async def both_sent():
        listed = await _listed(notifications_client, story.case_id)
        return listed if all(n["status"] == "sent" for n in listed) else None

    listed = await eventually(both_sent)
    assert sorted(n["template"] for n in listed) == ["acknowledgement", "response"]


async def test_an_offered_remedy_tells_amount_method_and_deadline(
    notifications_client, smtp_server, infra, case_story, settled_notifications, text_of
):
    from datetime import date

    from redress_shared.events import CASE_REMEDY_CHANGED, CaseRemedyChangedV1, new_event

    server, _ = smtp_server
    address = _address()
    story = case_story(address, language="ro")
    remedy_id = uuid.uuid4()

    def remedy(status: str):
        return new_event(
            source="/test",
            type=CASE_REMEDY_CHANGED,
            key=str(story.case_id),
            payload=CaseRemedyChangedV1(
                case_id=story.case_id,
                reference=story.reference,
                remedy_id=remedy_id,
                remedy_type="refund",
                status=status,
                amount="49.90",
                currency="RON",
                method="transfer bancar",
                due_date=date(2026, 12, 10),
                occurred_at=story.at,
            ),
            time=story.at,
        )

    await produce(
        infra.kafka_bootstrap_servers,
        CASES_TOPIC,
        story.opened,
        remedy("pending_approval"),  # internal: not told
        remedy("offered"),
    )
    listed = await settled_notifications(notifications_client, story.case_id, 2)
    assert sorted(n["template"] for n in listed) == ["acknowledgement", "remedy"]
    (offer,) = [m for m in server.to(address) if "Ce vă oferim" in m["Subject"]]
    # Amount and date written for Romanian (CLDR: decimal comma, the currency's code).
    assert (
        "vă oferim o rambursare în valoare de 49,90 RON, prin transfer bancar, cel târziu până "
        "la 10 decembrie 2026." in " ".join(text_of(offer).split())
    )


async def test_a_batch_of_several_cases_and_event_types_is_applied_in_its_order(
    notifications_client, case_story
):
    """One fetched batch may span cases, partitions and event types (here interleaved, with an
    event that tells nothing and a template that fails on one case's data): each case's events
    take effect in their order (a resolution's follow-up is cancelled by the reopening after
    it), the failing message goes out from the built-in text and the others from the desk's."""
    put = await notifications_client.put(
        "/v1/templates/decision/ga",
        json={
            "subject": "Ár gcinneadh [{{ reference }}]",
            "body_text": "{% if validity == 'unjustified' %}{{ explanation.missing.deeper }}"
            "{% else %}Tá an ceart agat.{% endif %}",
        },
    )
    assert put.status_code == 200, put.text
    start = datetime(2030, 3, 1, 9, 0, tzinfo=UTC)  # far ahead: the app's dispatchers wait
    clock = FixedClock(start)
    messaging = _messaging(notifications_client, clock, status_quiet_window=timedelta(0))
    first, second, third = (case_story(_address(), language="ga") for _ in range(3))
    for story in (first, second, third):
        story.at = start
    batch = [
        first.opened,
        second.opened,
        first.decide("unjustified", start),  # the desk's Irish text fails on this branch
        second.status("start", "new", "investigating"),
        third.opened,
        second.status("resolve", "investigating", "resolved", "Replaced."),
        third.decide("justified", start),  # the desk's text renders
        second.status("reopen", "resolved", "investigating", "Fails again."),
        first.response("A discount is on its way."),
    ]
    apply = consumers.batch_handler(clock, messaging)
    async with notifications_client.app.state.runtime.session_factory() as session:
        async with session.begin():
            await apply(session, batch)
    first_sent = {n["template"]: n for n in await _listed(notifications_client, first.case_id)}
    assert set(first_sent) == {"acknowledgement", "decision", "response"}
    assert (first_sent["decision"]["language"], first_sent["decision"]["template_version"]) == (
        "ga",
        1,
    )
    third_sent = {n["template"]: n for n in await _listed(notifications_client, third.case_id)}
    assert third_sent["decision"]["template_version"] == 2
    second_sent = [n["template"] for n in await _listed(notifications_client, second.case_id)]
    assert sorted(second_sent) == ["acknowledgement", "investigating", "investigating", "resolved"]
    async with notifications_client.app.state.runtime.session_factory() as session:
        follow_ups = (
            await session.execute(
                select(tables.follow_ups.c.status).where(
                    tables.follow_ups.c.case_id == second.case_id
                )
            )
        ).scalars()
        assert list(follow_ups) == ["cancelled"]
