"""Session fixtures shared by every test: real PostgreSQL and a real Kafka-protocol broker.

By default both are embedded and started once per session in a temporary folder. Set
``REDRESS_TEST_DATABASE_URL`` (an asyncpg SQLAlchemy URL of a server where the tests may
create a database) and/or ``REDRESS_TEST_KAFKA_BOOTSTRAP_SERVERS`` to use existing servers.
"""

from __future__ import annotations

import pytest
from redress_testing import TestInfra, start_test_infra


@pytest.fixture(scope="session")
def infra(tmp_path_factory: pytest.TempPathFactory) -> TestInfra:
    """PostgreSQL and the broker for the whole session."""
    infra, stoppers = start_test_infra(tmp_path_factory.mktemp("infra"))
    yield infra
    for stop in reversed(stoppers):
        stop()
