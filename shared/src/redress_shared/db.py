"""Async SQLAlchemy engine and sessions, and the platform tables every service owns a copy of.

Each service keeps its tables in its own PostgreSQL schema; the outbox, inbox and API-key
tables are the same shape everywhere, so they are defined once here and created by each
service's first migration (see :mod:`redress_shared.migrations`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    bindparam,
    cast,
    column,
    func,
    text,
)
from sqlalchemy import event as orm_event
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
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
    """A statement built once with SQLAlchemy Core (named bind parameters) and run on the
    session's own asyncpg connection, inside its transaction, as an asyncpg prepared
    statement.

    For the few statements a consumer runs on every batch: on a small batch SQLAlchemy's
    per-call work (building the statement, its cache key, processing each parameter and row)
    costs several times what the driver and the server do. Here the text is compiled once per
    schema translation (a rebuild replaying into another schema gets its own text) and asyncpg
    prepares it once per connection. Values go to the driver as given, so use types asyncpg
    encodes itself (UUIDs, text, numbers, timestamps, dates, booleans, arrays of them); rows
    come back as asyncpg records (by column name or position). Errors are asyncpg's own
    (``redress_shared.faults.is_transient`` tells their faults apart as well).
    """

    def __init__(self, statement: Any) -> None:
        self.statement = statement
        self._texts: dict[tuple, tuple[str, tuple[str, ...], dict[str, Any]]] = {}

    async def fetch(self, session: AsyncSession, **values: Any) -> list[Any]:
        """Run with ``values`` (one per bind parameter without a value, by name); the rows."""
        driver, sql, args = await self._bound(session, values)
        return await driver.fetch(sql, *args)

    async def execute(self, session: AsyncSession, **values: Any) -> None:
        """Run with ``values`` (one per bind parameter without a value, by name), for its
        effect."""
        driver, sql, args = await self._bound(session, values)
        await driver.execute(sql, *args)

    async def _bound(self, session: AsyncSession, values: dict[str, Any]) -> tuple[Any, str, list]:
        connection = await session.connection()
        driver = (await connection.get_raw_connection()).driver_connection
        if not driver.is_in_transaction():
            # SQLAlchemy's asyncpg adapter sends BEGIN with its first statement: let it, so
            # that this statement is part of the session's transaction, not committed alone.
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
