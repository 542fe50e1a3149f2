"""Alembic per service: one schema each, its own version table, one migrator at a time."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command, context, op
from alembic.config import Config
from sqlalchemy import MetaData, pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import async_engine_from_config

from redress_shared.db import PlatformTables
from redress_shared.outbox import outbox_wakeup_removal, outbox_wakeup_statements


def upgrade_to_head(database_url: str, migrations_dir: Path, schema: str) -> None:
    """Apply every pending migration of one service (synchronous; run it in a thread)."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.attributes["schema"] = schema
    command.upgrade(config, "head")


def run_env(target_metadata: MetaData) -> None:
    """Body of every service's ``env.py``: online migrations over asyncpg."""
    config = context.config
    schema = config.attributes.get("schema") or target_metadata.schema
    asyncio.run(_run_online(config, target_metadata, schema))


async def _run_online(config: Config, target_metadata: MetaData, schema: str) -> None:
    engine = async_engine_from_config(
        config.get_section(config.config_ini_section, {})
        or {"sqlalchemy.url": config.get_main_option("sqlalchemy.url")},
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    async with engine.connect() as connection:
        await connection.run_sync(_migrate, target_metadata, schema)
        await connection.commit()
    await engine.dispose()


def _migrate(connection: Connection, target_metadata: MetaData, schema: str) -> None:
    # Replicas starting together must not race each other through the same migration.
    connection.execute(text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": schema})
    connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table_schema=schema,
        include_schemas=False,
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        context.run_migrations()


def create_platform_tables(schema: str) -> None:
    """Create the outbox, inbox and api_keys tables in ``schema`` (first migration only)."""
    platform = PlatformTables(MetaData(schema=schema))
    bind = op.get_bind()
    for table in (platform.outbox, platform.inbox, platform.api_keys):
        table.create(bind)


def add_outbox_parking_and_retention(schema: str) -> None:
    """Parked outbox rows and the indexes retention deletes by (one migration per service).

    Idempotent: a schema created after this change already has them from its first migration.
    """
    for statement in (
        f'ALTER TABLE "{schema}".outbox ADD COLUMN IF NOT EXISTS parked_at timestamptz',
        f'ALTER TABLE "{schema}".outbox ADD COLUMN IF NOT EXISTS park_reason text',
        f'CREATE INDEX IF NOT EXISTS ix_outbox_published_at ON "{schema}".outbox '
        "(published_at) WHERE published_at IS NOT NULL",
        f'CREATE INDEX IF NOT EXISTS ix_inbox_processed_at ON "{schema}".inbox (processed_at)',
    ):
        op.execute(statement)


def drop_outbox_parking_and_retention(schema: str) -> None:
    """Undo :func:`add_outbox_parking_and_retention`."""
    for statement in (
        f'DROP INDEX IF EXISTS "{schema}".ix_inbox_processed_at',
        f'DROP INDEX IF EXISTS "{schema}".ix_outbox_published_at',
        f'ALTER TABLE "{schema}".outbox DROP COLUMN IF EXISTS park_reason',
        f'ALTER TABLE "{schema}".outbox DROP COLUMN IF EXISTS parked_at',
    ):
        op.execute(statement)


def add_outbox_wakeup(schema: str) -> None:
    """The outbox trigger that wakes the service's relays in every process at commit
    (:func:`redress_shared.outbox.outbox_wakeup_statements`; one migration per service)."""
    for statement in outbox_wakeup_statements(schema):
        op.execute(statement)


def drop_outbox_wakeup(schema: str) -> None:
    """Undo :func:`add_outbox_wakeup`."""
    for statement in outbox_wakeup_removal(schema):
        op.execute(statement)
