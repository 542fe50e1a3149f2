"""The command line every service shares: ``python -m <service> serve|migrate`` and the
operator commands of :mod:`redress_shared.operations` (``dead-letters``, ``outbox``)."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from pathlib import Path

from fastapi import FastAPI

from redress_shared.migrations import upgrade_to_head
from redress_shared.operations import OPERATIONS, add_operation_commands, run_operation
from redress_shared.runtime import serve
from redress_shared.settings import ServiceSettings


def command_parser() -> argparse.ArgumentParser:
    """``serve`` (the default), ``migrate`` and the operator commands."""
    parser = argparse.ArgumentParser(description="Run, migrate or operate a Redress service.")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="serve HTTP and run consumers and workers (default)")
    commands.add_parser("migrate", help="upgrade the service's schema to the latest migration")
    add_operation_commands(commands)
    parser.set_defaults(command="serve")
    return parser


def service_main(
    *,
    settings_class: type[ServiceSettings],
    build_app: Callable[[ServiceSettings], FastAPI],
    migrations_dir: Path,
    argv: list[str] | None = None,
) -> int:
    """Parse the command line and run the command."""
    args = command_parser().parse_args(argv)
    settings = settings_class()
    if args.command == "migrate":
        upgrade_to_head(settings.database_url, migrations_dir, settings.db_schema)
        return 0
    if args.command in OPERATIONS:
        return asyncio.run(run_operation(args, settings))
    serve(build_app, settings)
    return 0
