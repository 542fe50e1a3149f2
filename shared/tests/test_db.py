"""The service engine against real PostgreSQL: a pooled connection the server has closed is
never handed to a use case; ``insert_rows`` stores many rows with one statement, in order; a
prepared driver statement runs in the session's transaction and schema."""

from __future__ import annotations

import uuid

from redress_shared.db import (
    Prepared,
    create_engine,
    create_session_factory,
    insert_rows,
    unnest_params,
)
from redress_shared.settings import ServiceSettings
from redress_testing import eventually
from sqlalchemy import (
    BigInteger,
    Column,
    Identity,
    Integer,
    MetaData,
    Table,
    Text,
    event,
    literal,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID, insert
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


async def test_a_driver_transaction_commits_wakes_the_relay_and_raises_as_sqlalchemy(infra):
    """Statements on asyncpg itself (:class:`Prepared` in a
    :func:`driver_transaction`) give the rows a session gives, commit at the end (and run
    the commit hooks: the relay's wake-up when the outbox was written), roll back on an
    error, and raise database errors as SQLAlchemy's, the driver's error as ``orig``."""
    from redress_shared.db import OUTBOX_WRITTEN, driver_transaction
    from sqlalchemy import Integer, bindparam, column, select, table
    from sqlalchemy.exc import IntegrityError

    settings = ServiceSettings(database_url=infra.database_url, db_pool_size=1)
    engine = create_engine(settings)
    woken: list[bool] = []
    sessions = create_session_factory(engine, on_outbox_commit=lambda: woken.append(True))
    rows = table("driver_transaction_rows", column("id", Integer))
    insert = Prepared(rows.insert().values(id=bindparam("id", type_=Integer)).returning(rows.c.id))
    read = Prepared(select(rows.c.id).where(rows.c.id >= bindparam("least")))
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text("CREATE TABLE IF NOT EXISTS driver_transaction_rows (id int PRIMARY KEY)")
            )
            await connection.execute(text("TRUNCATE driver_transaction_rows"))
        async with driver_transaction(sessions) as db:
            assert [tuple(row) for row in await insert.fetch(db, id=1)] == [(1,)]
            db.info[OUTBOX_WRITTEN] = True
        assert woken == [True]
        try:
            async with driver_transaction(sessions) as db:
                await insert.fetch(db, id=2)
                await insert.fetch(db, id=1)  # a duplicate key
        except IntegrityError as error:
            assert error.orig.sqlstate == "23505"
        else:
            raise AssertionError("the duplicate key was accepted")
        async with sessions() as session:
            assert [tuple(row) for row in await read.fetch(session, least=0)] == [(1,)]
        assert woken == [True]  # the rolled-back transaction woke nothing
    finally:
        async with engine.begin() as connection:
            await connection.execute(text("DROP TABLE IF EXISTS driver_transaction_rows"))


async def test_a_driver_statement_is_its_own_transaction_and_wakes_the_relay(infra):
    """One statement on asyncpg itself (:func:`driver_statement`): no transaction is open
    around it (the server commits it alone), the commit hooks run once the block ends (the
    relay's wake-up when the outbox was written), and nothing runs after an error, which
    is SQLAlchemy's."""
    from redress_shared.db import OUTBOX_WRITTEN, driver_statement
    from sqlalchemy import Integer, bindparam, column, table
    from sqlalchemy.exc import IntegrityError

    settings = ServiceSettings(database_url=infra.database_url, db_pool_size=1)
    engine = create_engine(settings)
    woken: list[bool] = []
    sessions = create_session_factory(engine, on_outbox_commit=lambda: woken.append(True))
    rows = table("driver_statement_rows", column("id", Integer))
    insert = Prepared(rows.insert().values(id=bindparam("id", type_=Integer)).returning(rows.c.id))
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text("CREATE TABLE IF NOT EXISTS driver_statement_rows (id int PRIMARY KEY)")
            )
            await connection.execute(text("TRUNCATE driver_statement_rows"))
        async with driver_statement(sessions) as db:
            [row] = await insert.fetch(db, id=1)
            assert not db.connection.is_in_transaction()  # committed by the server already
            db.info[OUTBOX_WRITTEN] = True
        assert row["id"] == 1
        assert woken == [True]
        try:
            async with driver_statement(sessions) as db:
                db.info[OUTBOX_WRITTEN] = True
                await insert.fetch(db, id=1)  # a duplicate key
        except IntegrityError as error:
            assert error.orig.sqlstate == "23505"
        else:
            raise AssertionError("the duplicate key was accepted")
        assert woken == [True]  # the failed statement woke nothing
        async with engine.connect() as connection:
            count = await connection.scalar(text("SELECT count(*) FROM driver_statement_rows"))
        assert count == 1
    finally:
        async with engine.begin() as connection:
            await connection.execute(text("DROP TABLE IF EXISTS driver_statement_rows"))


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
