"""``python -m redress_stack run [--data-dir DIR] [--free-ports]``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

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
    args = parser.parse_args(argv)
    return run(args.data_dir, free_ports=args.free_ports)


if __name__ == "__main__":
    sys.exit(main())
