"""The dispatchers' doorbell: rung by what this process commits, and by known due times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from notification_service.workers import Doorbell
from redress_shared.clock import FixedClock
from sqlalchemy import text


def test_work_due_now_rings_at_once_and_later_work_shortens_the_wait():
    clock = FixedClock(datetime(2030, 1, 1, tzinfo=UTC))
    bell = Doorbell(clock)
    assert bell.wait_at_most(5.0) == 5.0 and not bell.event.is_set()
    bell.ring(clock.now() + timedelta(seconds=2))  # a retry in two seconds
    bell.ring(clock.now() + timedelta(seconds=3))
    assert not bell.event.is_set()
    assert bell.wait_at_most(5.0) == 2.0
    assert bell.wait_at_most(1.0) == 1.0  # never longer than the poll interval
    clock.advance(timedelta(seconds=2))
    assert bell.wait_at_most(5.0) == 0.0  # due now: look at once
    assert bell.wait_at_most(5.0) == 1.0  # then the next known time
    bell.ring()
    assert bell.event.is_set()


async def test_a_commit_rings_and_a_rollback_does_not(notifications_client):
    clock = FixedClock(datetime(2030, 1, 1, tzinfo=UTC))
    sessions = notifications_client.app.state.runtime.session_factory
    bell = Doorbell(clock)
    async with sessions() as session:
        async with session.begin():
            await session.execute(text("SELECT 1"))
            bell.ring_after_commit(session)
            assert not bell.event.is_set()  # not before the work is visible to a claim
        assert bell.event.is_set()
    bell.event.clear()
    async with sessions() as session:
        transaction = await session.begin()
        await session.execute(text("SELECT 1"))
        bell.ring_after_commit(session)
        await transaction.rollback()
    assert not bell.event.is_set()
