"""Async SQLAlchemy engine and sessions, and the platform tables every service owns a copy of.

Each service keeps its tables in its own PostgreSQL schema; the outbox, inbox and API-key
tables are the same shape everywhere, so they are defined once here and created by each
service's first migration (see :mod:`redress_shared.migrations`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from typing import Any

import asyncpg
from sqlalchemy import (
    ARRAY,
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    Insert,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    bindparam,
    cast,
    column,
    func,
    insert,
    select,
    text,
)
from sqlalchemy import event as orm_event
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.exc import DataError, DBAPIError, DisconnectionError, IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection
from sqlalchemy.sql.selectable import TableValuedAlias
from sqlalchemy.types import TypeEngine

from redress_shared.settings import ServiceSettings


def create_engine(settings: ServiceSettings) -> AsyncEngine:
    """Create the service's engine; every connection's search_path is the service schema."""
    engine = create_async_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        connect_args={"server_settings": {"application_name": settings.service_name}},
    )
    orm_event.listen(engine.sync_engine, "checkout", _refuse_closed_connection)
    return engine


def _refuse_closed_connection(
    dbapi_connection: Any, _record: ConnectionPoolEntry, _proxy: PoolProxiedConnection
) -> None:
    """Hand out no connection the server has closed (it restarted, or ended the session):
    the pool replaces it. This is SQLAlchemy's ``pool_pre_ping`` without its round trips
    (with asyncpg the ping was BEGIN, a query and ROLLBACK on every checkout, three round
    trips per transaction): asyncpg reads every pooled connection's socket, so it knows at
    once when the server closed one. A connection that breaks later fails its transaction,
    which is invalidated as a disconnect and retried or answered as any database fault."""
    if dbapi_connection.driver_connection.is_closed():
        raise DisconnectionError("the server closed this pooled connection")


SessionFactory = async_sessionmaker[AsyncSession]
"""What use cases take to open their own transaction (``session_factory`` everywhere)."""

OUTBOX_WRITTEN = "redress.outbox_written"
"""``session.info`` flag set by ``add_to_outbox``: this transaction staged events."""


def create_session_factory(
    engine: AsyncEngine, on_outbox_commit: Callable[[], None] | None = None
) -> SessionFactory:
    """Sessions that keep loaded objects usable after commit.

    ``on_outbox_commit`` is called after every commit that staged outbox events (the runtime
    wakes its relay with it), so no use case or router has to remember to.
    """
    if on_outbox_commit is None:
        return async_sessionmaker(engine, expire_on_commit=False)

    class OutboxAwareSession(Session):
        """A session that reports commits carrying outbox events."""

    def after_commit(session: Session) -> None:
        if session.info.pop(OUTBOX_WRITTEN, False):
            on_outbox_commit()

    def after_rollback(session: Session, rolled_back: SessionTransaction) -> None:
        # A savepoint rolled back inside a transaction leaves what the outer one staged.
        if rolled_back.parent is None:
            session.info.pop(OUTBOX_WRITTEN, None)

    orm_event.listen(OutboxAwareSession, "after_commit", after_commit)
    orm_event.listen(OutboxAwareSession, "after_soft_rollback", after_rollback)
    return async_sessionmaker(engine, expire_on_commit=False, sync_session_class=OutboxAwareSession)


@asynccontextmanager
async def read_snapshot(
    session_factory: SessionFactory,
) -> AsyncIterator[Callable[[], AbstractAsyncContextManager[AsyncSession]]]:
    """A stand-in for ``session_factory`` whose every session is one REPEATABLE READ
    transaction, so that the several queries behind one answer see the same moment (a consumer
    committing in between cannot make two parts of the answer disagree). Read-only: the
    transaction is rolled back at the end."""
    async with session_factory() as session:
        await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        yield lambda: nullcontext(session)


class DriverTransaction:
    """One transaction run on a pooled connection's asyncpg connection itself (see
    :func:`driver_transaction`); ``info`` is its session's, so the outbox flag works as in a
    session."""

    def __init__(
        self, session: AsyncSession, pooled: AsyncConnection, connection: asyncpg.Connection
    ) -> None:
        self.session = session
        self.pooled = pooled
        self.connection = connection

    @property
    def info(self) -> dict:
        """The session's ``info`` (set :data:`OUTBOX_WRITTEN` there to wake the relay)."""
        return self.session.info


@asynccontextmanager
async def driver_transaction(session_factory: SessionFactory) -> AsyncIterator[DriverTransaction]:
    """A transaction on the asyncpg connection under a session, for a hot path's statements
    (:class:`Prepared`): asyncpg prepares each statement once per connection and
    binds it per call, without SQLAlchemy's per-statement work (cache key, greenlet hop,
    result wrapping), which costs more than the statement's own round trip.

    Commits when the block ends (rolls back on an error), then runs the session's commit
    hooks (the outbox wake-up). A database error is raised as SQLAlchemy's
    (:class:`~sqlalchemy.exc.IntegrityError`, :class:`~sqlalchemy.exc.DataError`,
    :class:`~sqlalchemy.exc.DBAPIError`, the original as ``orig``), as a session raises it,
    so callers and the problem handlers treat both paths alike."""
    async with session_factory() as session:
        connection = await session.connection()
        # The asyncpg dialect sends BEGIN only before its first statement, so the pooled
        # connection is idle here and the driver's own transaction is the only one.
        driver = (await connection.get_raw_connection()).driver_connection
        try:
            async with driver.transaction():
                yield DriverTransaction(session, connection, driver)
        except asyncpg.PostgresError as error:
            raise as_sqlalchemy_error(error) from error
        # No statement (the driver committed): the session's commit only runs its hooks.
        await session.commit()


@asynccontextmanager
async def driver_statement(session_factory: SessionFactory) -> AsyncIterator[DriverTransaction]:
    """The asyncpg connection under a session, for ONE hot-path statement (:class:`Prepared`)
    that is its own transaction: no BEGIN and no COMMIT are sent, the server runs the
    statement alone in autocommit (one round trip instead of three). Use it only for a single
    statement: each further statement would commit on its own (for several, use
    :func:`driver_transaction`). Data-modifying CTEs make one statement do several writes
    atomically.

    When the block ends without an error, the session's commit hooks run (set
    :data:`OUTBOX_WRITTEN` in ``info`` when the statement staged outbox rows, and the relay is
    woken); on an error nothing runs and the connection goes back to the pool. A database
    error from :class:`Prepared` is SQLAlchemy's already, as a session raises it."""
    async with session_factory() as session:
        pooled = await session.connection()
        # No statement has run on this session, so the asyncpg dialect has sent no BEGIN:
        # the driver connection is idle, and a statement run on it is its own transaction.
        driver = (await pooled.get_raw_connection()).driver_connection
        yield DriverTransaction(session, pooled, driver)
        # Nothing to commit (the server did): the session's commit only runs its hooks.
        await session.commit()


def as_sqlalchemy_error(error: asyncpg.PostgresError, statement: str | None = None) -> DBAPIError:
    """``error`` as SQLAlchemy raises it through a session, ``error`` as ``orig``."""
    if isinstance(error, asyncpg.IntegrityConstraintViolationError):
        return IntegrityError(statement, None, error)
    if isinstance(error, asyncpg.DataError):
        return DataError(statement, None, error)
    return DBAPIError(statement, None, error)


class PlatformTables:
    """The outbox, inbox and API-key tables, bound to one service's ``MetaData`` (schema)."""

    def __init__(self, metadata: MetaData) -> None:
        self.outbox = Table(
            "outbox",
            metadata,
            Column("id", BigInteger, Identity(always=True), primary_key=True),
            Column("event_id", UUID(as_uuid=True), nullable=False, unique=True),
            Column("topic", Text, nullable=False),
            Column("message_key", Text, nullable=False),
            Column("event", JSONB, nullable=False),
            Column(
                "created_at", DateTime(timezone=True), nullable=False, server_default=func.now()
            ),
            Column("published_at", DateTime(timezone=True)),
            # A row the broker refuses for good (too large, say) is parked, not retried
            # forever: the relay goes on with the rows after it; an operator can re-drive it.
            Column("parked_at", DateTime(timezone=True)),
            Column("park_reason", Text),
            Index(
                "ix_outbox_unpublished",
                "id",
                postgresql_where=text("published_at IS NULL"),
            ),
            Index(
                "ix_outbox_published_at",
                "published_at",
                postgresql_where=text("published_at IS NOT NULL"),
            ),
        )
        self.inbox = Table(
            "inbox",
            metadata,
            Column("consumer", Text, nullable=False),
            Column("event_id", UUID(as_uuid=True), nullable=False),
            Column("event_type", Text, nullable=False),
            Column(
                "processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()
            ),
            PrimaryKeyConstraint("consumer", "event_id"),
            Index("ix_inbox_processed_at", "processed_at"),
        )
        self.api_keys = Table(
            "api_keys",
            metadata,
            Column("id", UUID(as_uuid=True), primary_key=True),
            Column("name", Text, nullable=False),
            Column("key_hash", Text, nullable=False, unique=True),
            Column("scopes", ARRAY(Text), nullable=False),
            Column(
                "created_at", DateTime(timezone=True), nullable=False, server_default=func.now()
            ),
            Column("revoked_at", DateTime(timezone=True)),
        )


def unnested(name: str, **columns: tuple[TypeEngine, list]) -> TableValuedAlias:
    """Rows given as one array per column (``column=(type, values)``), as a FROM clause:
    ``unnest(:a, :b, ...) AS name(a, b, ...)``. One bind parameter per column whatever the
    number of rows, so a batch is one statement that PostgreSQL prepares once."""
    arrays = [
        cast(bindparam(None, list(values), type_=ARRAY(kind)), ARRAY(kind))
        for kind, values in columns.values()
    ]
    return (
        func.unnest(*arrays)
        .table_valued(*(column(key, kind) for key, (kind, _) in columns.items()))
        .render_derived(name=name)
    )


async def insert_rows(
    executor: AsyncSession | AsyncConnection, table: Table, rows: Sequence[Mapping[str, Any]]
) -> None:
    """Insert many rows into ``table`` with one statement: ``INSERT INTO table (a, b, ...)
    SELECT a, b, ... FROM unnest(:a, :b, ...) WITH ORDINALITY ORDER BY ordinality``, each array
    typed as its table column. Unlike ``executemany`` (which the server runs once per row) it
    is one execution, and its text is the same for any number of rows (prepared once). The
    columns are the first row's keys (every row has them); the rows go in in their order, so
    an identity column numbers them in that order (a history stays in the order it was
    written)."""
    if not rows:
        return
    columns = tuple(rows[0])
    statement = _insert_rows_statement(table, columns)
    await executor.execute(statement, {name: [row[name] for row in rows] for name in columns})


_INSERT_ROWS_STATEMENTS: dict[tuple[Table, tuple[str, ...]], Insert] = {}


def _insert_rows_statement(table: Table, columns: tuple[str, ...]) -> Insert:
    """The statement of :func:`insert_rows` for these columns, built once: SQLAlchemy keeps a
    statement's cache key on the statement object, and building the statement and its key
    again for every batch cost more than executing it (profiled in the case service)."""
    key = (table, columns)
    statement = _INSERT_ROWS_STATEMENTS.get(key)
    if statement is None:
        arrays = [
            cast(bindparam(name, type_=ARRAY(table.c[name].type)), ARRAY(table.c[name].type))
            for name in columns
        ]
        given = (
            func.unnest(*arrays)
            .table_valued(
                *(column(name, table.c[name].type) for name in columns),
                with_ordinality="ordinality",
            )
            .render_derived(name="given")
        )
        statement = insert(table).from_select(
            list(columns),
            select(*(given.c[name] for name in columns)).order_by(given.c.ordinality),
        )
        _INSERT_ROWS_STATEMENTS[key] = statement
    return statement


def unnest_params(name: str, /, **columns: TypeEngine) -> TableValuedAlias:
    """:func:`unnested` with a bind parameter per column, named ``<name>_<column>``, instead
    of values: for a statement built once and run many times (:class:`Prepared`)."""
    arrays = [
        cast(bindparam(f"{name}_{key}", type_=ARRAY(kind)), ARRAY(kind))
        for key, kind in columns.items()
    ]
    return (
        func.unnest(*arrays)
        .table_valued(*(column(key, kind) for key, kind in columns.items()))
        .render_derived(name=name)
    )


class Prepared:
    """A statement built once with SQLAlchemy Core (named bind parameters) and run on asyncpg
    itself, as a prepared statement, inside the caller's transaction: a session's (it is
    begun first if need be, so the statement is never committed alone) or a
    :class:`DriverTransaction`'s.

    For the few statements a hot path runs on every request batch or fetch: on a small batch
    SQLAlchemy's per-call work (building the statement, its cache key, processing each
    parameter and row) costs several times what the driver and the server do (measured: a
    six-row upsert, 3.3 ms of CPU through SQLAlchemy, 0.18 ms prepared). The text is compiled
    once per schema translation (a rebuild replaying into another schema gets its own text)
    and asyncpg prepares it once per connection. Values go to the driver as given, so use
    types asyncpg encodes itself (UUIDs, text, numbers, timestamps, dates, booleans, arrays of
    them; JSON as its text); rows come back as asyncpg records (by column name or position).
    A database error is raised as SQLAlchemy's, the asyncpg error as ``orig``, as a session
    raises it (:func:`as_sqlalchemy_error`).
    """

    def __init__(self, statement: Any) -> None:
        self.statement = statement
        self._texts: dict[tuple, tuple[str, tuple[str, ...], dict[str, Any]]] = {}

    async def fetch(self, db: AsyncSession | DriverTransaction, /, **values: Any) -> list[Any]:
        """Run with ``values`` (one per bind parameter without a value, by name); the rows."""
        driver, sql, args = await self._bound(db, values)
        try:
            return await driver.fetch(sql, *args)
        except asyncpg.PostgresError as error:
            raise as_sqlalchemy_error(error, sql) from error

    async def execute(self, db: AsyncSession | DriverTransaction, /, **values: Any) -> None:
        """Run with ``values`` (one per bind parameter without a value, by name), for its
        effect."""
        driver, sql, args = await self._bound(db, values)
        try:
            await driver.execute(sql, *args)
        except asyncpg.PostgresError as error:
            raise as_sqlalchemy_error(error, sql) from error

    async def _bound(
        self, db: AsyncSession | DriverTransaction, values: dict[str, Any]
    ) -> tuple[Any, str, list]:
        if isinstance(db, DriverTransaction):
            connection, driver = db.pooled, db.connection
        else:
            connection = await db.connection()
            driver = (await connection.get_raw_connection()).driver_connection
            if not driver.is_in_transaction():
                # SQLAlchemy's asyncpg adapter sends BEGIN with its first statement: let it,
                # so that this statement is part of the session's transaction.
                await connection.exec_driver_sql("SELECT 1")
        translate = connection.sync_connection.get_execution_options().get("schema_translate_map")
        key = (id(connection.dialect), tuple(sorted(translate.items())) if translate else ())
        found = self._texts.get(key)
        if found is None:
            compiled = self.statement.compile(
                dialect=connection.dialect,
                schema_translate_map=translate,
                render_schema_translate=bool(translate),
            )
            names = tuple(compiled.positiontup or ())
            # Values built into the statement (``literal(...)``, ``bindparam(k, value)``).
            fixed = {k: b.effective_value for k, b in compiled.binds.items() if not b.required}
            found = self._texts[key] = (compiled.string, names, fixed)
        sql, names, fixed = found
        return driver, sql, [values[n] if n in values else fixed[n] for n in names]
