"""The service engine against real PostgreSQL: a pooled connection the server has closed is
never handed to a use case; a prepared driver statement runs in the session's transaction and
schema."""

from __future__ import annotations

import uuid

from redress_shared.db import Prepared, create_engine, create_session_factory, unnest_params
from redress_shared.settings import ServiceSettings
from redress_testing import eventually
from sqlalchemy import Column, Integer, MetaData, Table, Text, literal, select, text
from sqlalchemy.dialects.postgresql import insert
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


async def test_a_prepared_statement_runs_in_the_sessions_transaction_and_schema(infra):
    """Built once, it binds its named arrays and built-in literals, joins the session's
    transaction even as its first statement (a rollback undoes it), and follows the engine's
    schema translation (as a rebuild into another schema does)."""
    schemas = [f"prepared_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    table = Table("items", MetaData(), Column("name", Text), Column("size", Integer), schema="live")
    given = unnest_params("given", name=Text(), size=Integer())
    statement = Prepared(
        insert(table)
        .from_select(["name", "size"], select(given.c.name, given.c.size + literal(1)))
        .returning(table.c.name, table.c.size)
    )
    engine = create_async_engine(infra.database_url)
    try:
        async with engine.begin() as connection:
            for schema in schemas:
                await connection.execute(text(f"CREATE SCHEMA {schema}"))
                await connection.execute(text(f"CREATE TABLE {schema}.items (name text, size int)"))
        first, second = (
            create_session_factory(engine.execution_options(schema_translate_map={"live": s}))
            for s in schemas
        )
        async with first() as session:
            async with session.begin():
                rows = await statement.fetch(session, given_name=["a", "b"], given_size=[1, 2])
                assert [(r["name"], r[1]) for r in rows] == [("a", 2), ("b", 3)]
                await session.rollback()
        async with second() as session, session.begin():
            await statement.execute(session, given_name=["c"], given_size=[5])
        async with engine.connect() as connection:
            for schema, expected in zip(schemas, [[], [("c", 6)]], strict=True):
                found = await connection.execute(text(f"SELECT name, size FROM {schema}.items"))
                assert [tuple(row) for row in found] == expected
    finally:
        async with engine.begin() as connection:
            for schema in schemas:
                await connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        await engine.dispose()
