"""Rebuild the analytics facts by replaying the event log from offset 0.

The figures are a pure function of the fact tables, and the fact tables are a pure function of
the events on the complaints and cases topics. ``rebuild`` proves it and repairs
it, in one procedure:

1. Create a fresh schema ``<schema>_rebuild`` whose tables copy the live tables' structure
   (``CREATE TABLE ... (LIKE ... INCLUDING ALL)``: columns, defaults, constraints and indexes as
   the migrations left them), all empty.
2. Replay every record of the two topics, from offset 0 up to the end offsets seen at the
   start, through the very same consumer handlers and inbox as the running service, into that
   schema (SQLAlchemy's ``schema_translate_map``), as a private consumer that joins no group
   and commits no offsets. Redeliveries and out-of-order events are absorbed exactly as live.
3. Compare every fact table with the live one, row for row (both ``EXCEPT`` directions).
4. With ``--swap``: in one transaction, empty the live fact tables and copy the rebuilt rows
   in; the live inbox, outbox, API keys and alerts stay as they are (they record what this
   service has already done and published, which a replay must not repeat). Stop every
   analytics replica first: a replica that applies an event during the swap would have it
   recorded in its inbox but missing from the facts. The swap refuses to run while another
   connection of the service is open, unless forced.
5. Drop the rebuild schema (``--keep`` leaves it for inspection).

Every table of the service's metadata that is not listed in :data:`KEPT_TABLES` (nor refers
to one of those by a foreign key) is a fact table, so a figure added later with its own fact
table is rebuilt without touching this module.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import structlog
from redress_shared.clock import Clock, SystemClock
from redress_shared.db import create_session_factory
from redress_shared.kafka import EventConsumer
from sqlalchemy import Table, text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from analytics_service import consumers, tables
from analytics_service.config import AnalyticsSettings

log = structlog.get_logger(__name__)

# Records of what the service has done (events consumed and published, alerts raised, keys
# issued): kept through a rebuild, because replaying the log must not publish anything again.
KEPT_TABLES = frozenset({"outbox", "inbox", "api_keys", "alerts"})


def fact_tables() -> list[Table]:
    """The tables a rebuild recomputes: every analytics table but the kept ones and those
    that refer to a kept one (an alert's member list belongs with its alert)."""
    kept = set(KEPT_TABLES)
    for table in tables.metadata.sorted_tables:  # referred tables come first
        if any(key.column.table.name in kept for key in table.foreign_keys):
            kept.add(table.name)
    return [t for t in tables.metadata.sorted_tables if t.name not in kept]


@dataclass
class RebuildReport:
    """What a rebuild read, how the rebuilt facts differ from the live ones, what it did."""

    schema: str
    records_read: int = 0
    failed_records: list[str] = field(default_factory=list)
    # Per fact table: rows only live has, rows only the rebuild has, and the rebuilt row count.
    only_live: dict[str, int] = field(default_factory=dict)
    only_rebuilt: dict[str, int] = field(default_factory=dict)
    rebuilt_rows: dict[str, int] = field(default_factory=dict)
    swapped: bool = False

    @property
    def identical(self) -> bool:
        """True when every live fact table holds exactly the rebuilt rows."""
        return not any(self.only_live.values()) and not any(self.only_rebuilt.values())

    def as_dict(self) -> dict:
        """A JSON-ready summary."""
        return {
            "schema": self.schema,
            "records_read": self.records_read,
            "failed_records": self.failed_records,
            "rebuilt_rows": self.rebuilt_rows,
            "only_live": self.only_live,
            "only_rebuilt": self.only_rebuilt,
            "identical": self.identical,
            "swapped": self.swapped,
        }


class ServiceStillRunning(RuntimeError):
    """``--swap`` was asked while connections of the running service are open."""


def _quoted(*names: str) -> str:
    return ".".join('"' + name.replace('"', '""') + '"' for name in names)


async def rebuild(
    settings: AnalyticsSettings,
    *,
    swap: bool = False,
    keep: bool = False,
    force: bool = False,
    clock: Clock | None = None,
) -> RebuildReport:
    """Replay the topics into a fresh schema, compare with the live facts, optionally swap."""
    live = tables.SCHEMA
    fresh = f"{live}_rebuild"
    report = RebuildReport(schema=fresh)
    engine = create_async_engine(
        settings.database_url,
        connect_args={"server_settings": {"application_name": f"{settings.service_name}-rebuild"}},
    )
    try:
        async with engine.begin() as connection:
            if swap and not force:
                await _refuse_while_running(connection, settings.service_name)
            await connection.execute(text(f"DROP SCHEMA IF EXISTS {_quoted(fresh)} CASCADE"))
            await connection.execute(text(f"CREATE SCHEMA {_quoted(fresh)}"))
            for table in tables.metadata.sorted_tables:
                await connection.execute(
                    text(
                        f"CREATE TABLE {_quoted(fresh, table.name)} "
                        f"(LIKE {_quoted(live, table.name)} INCLUDING ALL)"
                    )
                )
        rebuilt_engine = engine.execution_options(schema_translate_map={live: fresh})
        replayer = EventConsumer(
            group_id=f"{consumers.GROUP_ID}.rebuild-{uuid.uuid4().hex[:8]}",
            topics=consumers.TOPICS,
            handlers=consumers.handlers(settings, clock or SystemClock()),
            batch_handler=consumers.batch_handler(settings, clock or SystemClock()),
            session_factory=create_session_factory(rebuilt_engine),
            tables=tables.platform,
            settings=settings,
        )
        report.records_read = await replayer.replay()
        report.failed_records = list(replayer.replay_failures)
        async with engine.begin() as connection:
            await _compare(connection, live, fresh, report)
            if swap:
                if not force:
                    await _refuse_while_running(connection, settings.service_name)
                await _swap(connection, live, fresh)
                report.swapped = True
        if not keep:
            async with engine.begin() as connection:
                await connection.execute(text(f"DROP SCHEMA {_quoted(fresh)} CASCADE"))
    finally:
        await engine.dispose()
    log.info("analytics_rebuilt", **report.as_dict())
    return report


async def _refuse_while_running(connection: AsyncConnection, service_name: str) -> None:
    running = await connection.scalar(
        text(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = :name"
        ),
        {"name": service_name},
    )
    if running:
        raise ServiceStillRunning(
            f"{running} connection(s) of {service_name} are open: stop every replica before "
            "swapping the rebuilt facts in (or pass --force if you know they are idle)"
        )


async def _compare(
    connection: AsyncConnection, live: str, fresh: str, report: RebuildReport
) -> None:
    for table in fact_tables():
        live_table, fresh_table = _quoted(live, table.name), _quoted(fresh, table.name)
        columns = ", ".join(_quoted(column.name) for column in table.columns)

        async def count(query: str) -> int:
            return int(await connection.scalar(text(f"SELECT count(*) FROM ({query}) AS d")))

        report.only_live[table.name] = await count(
            f"SELECT {columns} FROM {live_table} EXCEPT ALL SELECT {columns} FROM {fresh_table}"
        )
        report.only_rebuilt[table.name] = await count(
            f"SELECT {columns} FROM {fresh_table} EXCEPT ALL SELECT {columns} FROM {live_table}"
        )
        report.rebuilt_rows[table.name] = await count(f"SELECT 1 FROM {fresh_table}")


async def _swap(connection: AsyncConnection, live: str, fresh: str) -> None:
    """Replace the live facts with the rebuilt ones, in the caller's single transaction."""
    facts = fact_tables()
    live_tables = ", ".join(_quoted(live, t.name) for t in facts)
    await connection.execute(text(f"LOCK TABLE {live_tables} IN ACCESS EXCLUSIVE MODE"))
    await connection.execute(text(f"TRUNCATE {live_tables}"))
    for table in facts:
        columns = ", ".join(_quoted(column.name) for column in table.columns)
        await connection.execute(
            text(
                f"INSERT INTO {_quoted(live, table.name)} ({columns}) OVERRIDING SYSTEM VALUE "
                f"SELECT {columns} FROM {_quoted(fresh, table.name)}"
            )
        )


def main(argv: list[str]) -> int:
    """``python -m analytics_service rebuild [--swap] [--keep] [--force]``; prints the report."""
    import argparse
    import asyncio
    import json

    parser = argparse.ArgumentParser(
        prog="python -m analytics_service rebuild",
        description="Replay the topics from offset 0 into a fresh schema and compare the facts "
        "with the live ones; --swap replaces the live facts (stop the service first).",
    )
    parser.add_argument("--swap", action="store_true", help="replace the live facts")
    parser.add_argument("--keep", action="store_true", help="keep the rebuild schema")
    parser.add_argument(
        "--force", action="store_true", help="swap even while service connections are open"
    )
    args = parser.parse_args(argv)
    try:
        report = asyncio.run(
            rebuild(AnalyticsSettings(), swap=args.swap, keep=args.keep, force=args.force)
        )
    except ServiceStillRunning as exc:
        print(json.dumps({"error": str(exc)}))
        return 2
    print(json.dumps(report.as_dict()))
    return 0 if report.identical or report.swapped else 1
