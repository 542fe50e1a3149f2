"""Alembic environment of the case service."""

from case_service.tables import metadata
from redress_shared.migrations import run_env

run_env(metadata)
