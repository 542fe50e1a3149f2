"""The command line every service shares: ``python -m <service> serve|migrate``."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from fastapi import FastAPI

from redress_shared.migrations import upgrade_to_head
from redress_shared.runtime import serve
from redress_shared.settings import ServiceSettings


def service_main(
    *,
    settings_class: type[ServiceSettings],
    build_app: Callable[[ServiceSettings], FastAPI],
    migrations_dir: Path,
    argv: list[str] | None = None,
) -> int:
    """Parse ``serve`` (default) or ``migrate`` and run it."""
    parser = argparse.ArgumentParser(description="Run or migrate a Redress service.")
    parser.add_argument("command", nargs="?", default="serve", choices=["serve", "migrate"])
    args = parser.parse_args(argv)
    settings = settings_class()
    if args.command == "migrate":
        upgrade_to_head(settings.database_url, migrations_dir, settings.db_schema)
        return 0
    serve(build_app(settings), settings)
    return 0
