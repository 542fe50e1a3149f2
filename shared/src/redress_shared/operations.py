"""Operator commands every service has, beside its admin API: list, inspect and re-drive
dead letters and parked outbox rows, straight against the broker and the database (so they
work while the service itself is down).

``python -m <service> dead-letters list|show|redrive`` and
``python -m <service> outbox parked|show|republish``, configured by the same ``REDRESS_*``
environment as the service; ``python -m redress_stack ops <service> ...`` runs them against
the local stack. Each prints JSON, one object per line, so the output can be piped to ``jq``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import asdict
from typing import Any, TextIO

from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import MetaData

from redress_shared.broker import create_producer
from redress_shared.db import PlatformTables, create_engine, create_session_factory
from redress_shared.dead_letters import DeadLetter, read_dead_letters, redrive
from redress_shared.events import dead_letter_topic
from redress_shared.outbox import list_parked, read_parked_event, unpark
from redress_shared.settings import ServiceSettings

OPERATIONS = ("dead-letters", "outbox")
DLQ_SUFFIX = dead_letter_topic("")


def add_operation_commands(commands: argparse._SubParsersAction) -> None:
    """Add the ``dead-letters`` and ``outbox`` commands to a service's command line."""
    letters = commands.add_parser("dead-letters", help="list, inspect and re-drive dead letters")
    letter_commands = letters.add_subparsers(dest="action", required=True)
    listing = letter_commands.add_parser("list", help="the dead letters, oldest first")
    listing.add_argument("--topic", help="only this original topic (default: every one)")
    listing.add_argument("--limit", type=int, default=100)
    show = letter_commands.add_parser("show", help="one dead letter whole: headers and data")
    show.add_argument("--topic", required=True)
    show.add_argument("--partition", type=int, required=True)
    show.add_argument("--offset", type=int, required=True)
    again = letter_commands.add_parser(
        "redrive", help="publish dead letters again on their topic, once the cause is fixed"
    )
    again.add_argument("--topic", required=True)
    chosen = again.add_mutually_exclusive_group(required=True)
    chosen.add_argument(
        "--entry", action="append", metavar="PARTITION:OFFSET", help="one dead letter (repeat)"
    )
    chosen.add_argument("--all", action="store_true", help="every dead letter of the topic")

    outbox = commands.add_parser("outbox", help="list, inspect and re-drive parked outbox rows")
    outbox_commands = outbox.add_subparsers(dest="action", required=True)
    parked = outbox_commands.add_parser("parked", help="rows the broker refused, oldest first")
    parked.add_argument("--limit", type=int, default=100)
    for name, help_text in (
        ("show", "one parked row with its whole event"),
        ("republish", "hand a parked row back to the relay"),
    ):
        outbox_commands.add_parser(name, help=help_text).add_argument("outbox_id", type=int)


async def run_operation(
    args: argparse.Namespace, settings: ServiceSettings, out: TextIO = sys.stdout
) -> int:
    """Run a parsed ``dead-letters``/``outbox`` command; print JSON lines; 1 when the thing
    asked for does not exist (said on stderr)."""
    emit: Callable[[dict[str, Any]], None] = lambda item: print(  # noqa: E731
        json.dumps(item, default=str, ensure_ascii=False), file=out
    )
    if args.command == "dead-letters":
        return await _dead_letters(args, settings, emit)
    return await _outbox(args, settings, emit)


async def _dead_letters(
    args: argparse.Namespace, settings: ServiceSettings, emit: Callable[[dict], None]
) -> int:
    bootstrap = settings.kafka_bootstrap_servers
    if args.action == "list":
        topics = [args.topic] if args.topic else await _topics_with_dead_letters(bootstrap)
        for topic in topics:
            for letter in await read_dead_letters(bootstrap, topic, limit=args.limit):
                emit(_summary(letter))
        return 0
    letters = await read_dead_letters(bootstrap, args.topic)
    if args.action == "show":
        found = [d for d in letters if (d.partition, d.offset) == (args.partition, args.offset)]
        if not found:
            return _missing(f"no dead letter at {args.partition}:{args.offset} of {args.topic}")
        emit(_whole(found[0]))
        return 0
    if not args.all:
        wanted = {_position(entry) for entry in args.entry}
        letters = [d for d in letters if (d.partition, d.offset) in wanted]
        if len(letters) < len(wanted):
            return _missing(f"not every entry is a dead letter of {args.topic}; none re-driven")
    producer = create_producer(settings)
    await producer.start()
    try:
        emit({"topic": args.topic, "redriven": await redrive(producer, letters)})
    finally:
        await producer.stop()
    return 0


async def _outbox(
    args: argparse.Namespace, settings: ServiceSettings, emit: Callable[[dict], None]
) -> int:
    tables = PlatformTables(MetaData(schema=settings.db_schema))
    engine = create_engine(settings)
    session_factory = create_session_factory(engine)
    try:
        if args.action == "parked":
            for row in await list_parked(session_factory, tables, limit=args.limit):
                emit(asdict(row))
            return 0
        if args.action == "show":
            event = await read_parked_event(session_factory, tables, args.outbox_id)
            if event is None:
                return _missing(f"no parked outbox row {args.outbox_id}")
            emit({"id": args.outbox_id, "event": event})
            return 0
        row = await unpark(session_factory, tables, args.outbox_id)
        if row is None:
            return _missing(f"no parked outbox row {args.outbox_id}")
        # The service's relay finds the row on its next poll and publishes it (or parks it
        # again with the broker's new reason).
        emit({**asdict(row), "republish": "handed back to the relay"})
        return 0
    finally:
        await engine.dispose()


async def _topics_with_dead_letters(bootstrap_servers: str) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        names = await admin.list_topics()
    finally:
        await admin.close()
    return sorted(name.removesuffix(DLQ_SUFFIX) for name in names if name.endswith(DLQ_SUFFIX))


def _summary(letter: DeadLetter) -> dict[str, Any]:
    return {
        "topic": letter.topic,
        "partition": letter.partition,
        "offset": letter.offset,
        "source": letter.source,
        "consumer": letter.consumer,
        "error": letter.error,
        "event_id": letter.event_id,
        "event_type": letter.event_type,
    }


def _whole(letter: DeadLetter) -> dict[str, Any]:
    # CloudEvents binary mode: the attributes are the ce_* headers, the value is the data.
    value = (letter.value or b"").decode(errors="replace")
    try:
        data: Any = json.loads(value)
    except ValueError:
        data = value
    return {
        **_summary(letter),
        "key": (letter.key or b"").decode(errors="replace"),
        "headers": {name: raw.decode(errors="replace") for name, raw in letter.headers},
        "data": data,
    }


def _position(entry: str) -> tuple[int, int]:
    partition, _, offset = entry.partition(":")
    if not (partition.isdigit() and offset.isdigit()):
        raise SystemExit(f"--entry {entry!r}: use PARTITION:OFFSET, e.g. 1:0")
    return int(partition), int(offset)


def _missing(message: str) -> int:
    print(message, file=sys.stderr)
    return 1


__all__ = ["OPERATIONS", "add_operation_commands", "run_operation"]
