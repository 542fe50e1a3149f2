from __future__ import annotations

import pytest
from case_service import MIGRATIONS_DIR
from case_service.bootstrap import build_app
from case_service.config import CaseSettings
from redress_stack.testing import running_app, service_settings


@pytest.fixture(scope="session")
def case_settings(infra) -> CaseSettings:
    return service_settings(infra, CaseSettings, MIGRATIONS_DIR)


@pytest.fixture(scope="session")
async def cases_client(case_settings):
    """The case app running with its consumer against the real broker."""
    async with running_app(build_app(case_settings), case_settings) as client:
        yield client
