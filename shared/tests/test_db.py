"""The service engine against real PostgreSQL: a pooled connection the server has closed is
never handed to a use case."""

from __future__ import annotations

from redress_shared.db import create_engine, create_session_factory
from redress_shared.settings import ServiceSettings
from redress_testing import eventually
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine


async def test_a_connection_the_server_ended_is_replaced_before_use(infra):
    """The server ends every pooled session (a restart, a failover, an operator's
    ``pg_terminate_backend``): the next transaction gets a fresh connection, not an error."""
    settings = ServiceSettings(database_url=infra.database_url, db_pool_size=1)
    engine = create_engine(settings)
    sessions = create_session_factory(engine)
    operator = create_async_engine(infra.database_url)  # another client of the server
    try:
        async with sessions() as session:
            first_backend = await session.scalar(text("SELECT pg_backend_pid()"))
        async with operator.connect() as other:
            await other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first_backend})

        async def ended() -> bool:
            async with operator.connect() as other:
                found = await other.scalar(
                    text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"),
                    {"pid": first_backend},
                )
            return found == 0

        await eventually(ended)
        async with sessions() as session, session.begin():
            backend = await session.scalar(text("SELECT pg_backend_pid()"))
        assert backend != first_backend
    finally:
        await engine.dispose()
        await operator.dispose()
