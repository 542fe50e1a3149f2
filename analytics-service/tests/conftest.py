from __future__ import annotations

import pytest
from analytics_service import MIGRATIONS_DIR
from analytics_service.bootstrap import build_app
from analytics_service.config import AnalyticsSettings
from redress_stack.testing import running_app, service_settings


@pytest.fixture(scope="session")
def analytics_settings(infra) -> AnalyticsSettings:
    return service_settings(infra, AnalyticsSettings, MIGRATIONS_DIR, consumer_max_retries=2)


@pytest.fixture(scope="session")
async def analytics_client(analytics_settings):
    async with running_app(build_app(analytics_settings), analytics_settings) as client:
        yield client
