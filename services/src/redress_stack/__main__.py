"""``python -m redress_stack run [--data-dir DIR] [--free-ports]`` starts the stack;
``python -m redress_stack ops SERVICE dead-letters|outbox ...`` runs an operator command of one
service against the running stack (see :mod:`redress_shared.operations`)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path

from redress_shared.cli import command_parser
from redress_shared.operations import OPERATIONS, run_operation
from redress_shared.settings import ServiceSettings

from redress_stack.catalog import SERVICES
from redress_stack.runner import STACK_FILE, run


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the stack."""
    parser = argparse.ArgumentParser(prog="redress_stack", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run_parser = sub.add_parser("run", help="start the whole stack until Ctrl-C")
    run_parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get("REDRESS_STACK_DATA_DIR", "data")),
        help="folder for all local state (default: ./data)",
    )
    run_parser.add_argument(
        "--free-ports", action="store_true", help="pick free ports instead of the documented ones"
    )
    run_parser.add_argument(
        "--replicas",
        action="append",
        default=[],
        metavar="SERVICE=N",
        help="run N processes of a service in the same consumer group (e.g. case-service=2)",
    )
    run_parser.add_argument(
        "--test-clock-file",
        type=Path,
        default=None,
        metavar="FILE",
        help="tests only: every service adds the offset in seconds held in FILE to its clock",
    )
    ops_parser = sub.add_parser(
        "ops",
        help="list, inspect and re-drive dead letters and parked outbox rows of the running stack",
    )
    ops_parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get("REDRESS_STACK_DATA_DIR", "data")),
        help="the running stack's folder (default: ./data)",
    )
    ops_parser.add_argument("service", choices=[spec.name for spec in SERVICES])
    ops_parser.add_argument(
        "operation",
        nargs=argparse.REMAINDER,
        help="dead-letters list|show|redrive ... or outbox parked|show|republish ...",
    )
    args = parser.parse_args(argv)
    if args.command == "ops":
        return operate(args.data_dir, args.service, args.operation)
    replicas = {}
    for item in args.replicas:
        name, _, count = item.partition("=")
        if name not in {spec.name for spec in SERVICES} or not count.isdigit() or int(count) < 1:
            parser.error(f"--replicas {item!r}: use SERVICE=N with a service name and N >= 1")
        replicas[name] = int(count)
    return run(
        args.data_dir,
        free_ports=args.free_ports,
        replicas=replicas,
        test_clock_file=args.test_clock_file,
    )


def operate(data_dir: Path, service_name: str, operation: list[str]) -> int:
    """Run one service's operator command with the running stack's database and broker."""
    operation_args = command_parser().parse_args(operation)
    if operation_args.command not in OPERATIONS:
        raise SystemExit(f"ops: expected one of {', '.join(OPERATIONS)}, got {operation!r}")
    stack_file = data_dir / STACK_FILE
    if not stack_file.exists():
        raise SystemExit(f"ops: no running stack in {data_dir} (start it with `make run`)")
    stack = json.loads(stack_file.read_text())
    spec = next(spec for spec in SERVICES if spec.name == service_name)
    settings = ServiceSettings(
        service_name=spec.name,
        db_schema=spec.schema,
        database_url=stack["database_url"],
        kafka_bootstrap_servers=stack["kafka_bootstrap_servers"],
    )
    return asyncio.run(run_operation(operation_args, settings))


if __name__ == "__main__":
    sys.exit(main())
