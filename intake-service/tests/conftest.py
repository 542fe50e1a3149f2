from __future__ import annotations

import pytest
from intake_service import MIGRATIONS_DIR, tables
from intake_service.bootstrap import build_app
from intake_service.config import IntakeSettings
from redress_testing import assert_problem, running_app, service_settings
from sqlalchemy import func, select


@pytest.fixture(scope="session")
def intake_settings(infra) -> IntakeSettings:
    return service_settings(
        infra,
        IntakeSettings,
        MIGRATIONS_DIR,
        intake_smtp_port=0,
        max_request_bytes=64 * 1024,
        intake_max_attachment_bytes=32 * 1024,
    )


@pytest.fixture(scope="session")
async def intake_app(intake_settings):
    async with running_app(build_app(intake_settings), intake_settings) as client:
        yield client


@pytest.fixture
def intake(intake_app):
    """An HTTP client of the running intake app, authenticated as admin."""
    return intake_app


class IntakeProbe:
    """Looks into intake's database the way the tests need (row counts, outbox events)
    and checks problem+json answers. A fixture, because the tests import no helper module."""

    def __init__(self, app) -> None:
        self.app = app

    async def count(self, table) -> int:
        async with self.app.state.runtime.session_factory() as session:
            return await session.scalar(select(func.count()).select_from(table))

    async def counts(self) -> tuple[int, int, int]:
        """Raw submissions, complaints and outbox rows: what a refused request must not
        change."""
        return (
            await self.count(tables.raw_submissions),
            await self.count(tables.complaints),
            await self.count(tables.platform.outbox),
        )

    async def event_of(self, complaint_id: str) -> dict:
        """The complaint.received event in the outbox for ``complaint_id``."""
        outbox = tables.platform.outbox
        async with self.app.state.runtime.session_factory() as session:
            return (
                await session.execute(
                    select(outbox.c.event).where(outbox.c.event["subject"].astext == complaint_id)
                )
            ).scalar_one()

    problem = staticmethod(assert_problem)


@pytest.fixture
def probe(intake_app) -> IntakeProbe:
    """Database and problem+json checks for the running intake app."""
    return IntakeProbe(intake_app.app)
