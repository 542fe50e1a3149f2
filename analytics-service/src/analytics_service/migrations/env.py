"""Alembic environment of the analytics service."""

from analytics_service.tables import metadata
from redress_shared.migrations import run_env

run_env(metadata)
