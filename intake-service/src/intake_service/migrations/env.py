"""Alembic environment of the intake service."""

from intake_service.tables import metadata
from redress_shared.migrations import run_env

run_env(metadata)
