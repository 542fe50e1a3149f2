"""The service engine against real PostgreSQL: a pooled connection the server has closed is
never handed to a use case; ``insert_rows`` stores many rows with one statement, in order."""

from __future__ import annotations

import uuid

from redress_shared.db import create_engine, create_session_factory, insert_rows
from redress_shared.settings import ServiceSettings
from redress_testing import eventually
from sqlalchemy import BigInteger, Column, Identity, MetaData, Table, Text, event, select, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
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


async def test_insert_rows_stores_many_rows_in_order_with_one_statement(infra):
    """Typed columns (uuid, text, jsonb, nulls among them) and an identity column that
    numbers the rows in the order given: one execution, whatever the number of rows."""
    name = f"rows_{uuid.uuid4().hex[:8]}"
    table = Table(
        name,
        MetaData(),
        Column("id", BigInteger, Identity(always=True), primary_key=True),
        Column("key", UUID(as_uuid=True), nullable=False),
        Column("label", Text),
        Column("doc", JSONB),
    )
    rows = [
        {"key": uuid.uuid4(), "label": label, "doc": doc}
        for label, doc in (("z", {"a": [1, 2]}), (None, None), ("a", {"text": "ș ☂"}))
    ] * 20
    engine = create_async_engine(infra.database_url)
    statements: list[str] = []
    try:
        async with engine.begin() as connection:
            await connection.run_sync(table.create)

            def seen(_conn, _cursor, statement, *_rest) -> None:  # noqa: ANN001
                statements.append(statement)

            event.listen(engine.sync_engine, "before_cursor_execute", seen)
            await insert_rows(connection, table, rows)
            event.remove(engine.sync_engine, "before_cursor_execute", seen)
            stored = (await connection.execute(select(table).order_by(table.c.id))).all()
            await connection.run_sync(table.drop)
    finally:
        await engine.dispose()
    assert len(statements) == 1
    assert [(row.key, row.label, row.doc) for row in stored] == [
        (row["key"], row["label"], row["doc"]) for row in rows
    ]
