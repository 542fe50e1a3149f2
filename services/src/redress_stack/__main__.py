"""``python -m redress_stack run [--data-dir DIR] [--free-ports]``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from redress_stack.catalog import SERVICES
from redress_stack.runner import run


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
    args = parser.parse_args(argv)
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


if __name__ == "__main__":
    sys.exit(main())
