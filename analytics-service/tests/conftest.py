from __future__ import annotations

import pytest
from analytics_service import MIGRATIONS_DIR
from analytics_service.bootstrap import build_app
from analytics_service.config import AnalyticsSettings
from redress_testing import TestInfra, running_app, service_settings, start_test_infra


@pytest.fixture(scope="session")
def infra(tmp_path_factory: pytest.TempPathFactory) -> TestInfra:
    """A PostgreSQL database and a broker of the analytics tests' own.

    The other services' test apps keep running for the whole session and react to what lands
    on the shared topics (the case app opens real cases for these tests' complaints, the
    notification app publishes outcomes for their cases); the exact figures asserted here must
    come only from the events these tests produce.
    """
    infra, stoppers = start_test_infra(tmp_path_factory.mktemp("analytics-infra"))
    yield infra
    for stop in reversed(stoppers):
        stop()


@pytest.fixture(scope="session")
def analytics_settings(infra) -> AnalyticsSettings:
    return service_settings(infra, AnalyticsSettings, MIGRATIONS_DIR, consumer_max_retries=2)


@pytest.fixture(scope="session")
async def analytics_client(analytics_settings):
    async with running_app(build_app(analytics_settings), analytics_settings) as client:
        yield client
