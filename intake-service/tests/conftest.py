from __future__ import annotations

import pytest
from intake_service import MIGRATIONS_DIR
from intake_service.bootstrap import build_app
from intake_service.config import IntakeSettings
from redress_stack.testing import running_app, service_settings


@pytest.fixture(scope="session")
def intake_settings(infra) -> IntakeSettings:
    return service_settings(
        infra, IntakeSettings, MIGRATIONS_DIR, intake_smtp_port=0, max_request_bytes=64 * 1024
    )


@pytest.fixture(scope="session")
async def intake_app(intake_settings):
    async with running_app(build_app(intake_settings), intake_settings) as client:
        yield client


@pytest.fixture
def intake(intake_app):
    """An HTTP client of the running intake app, authenticated as admin."""
    return intake_app
