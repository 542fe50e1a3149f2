"""Alembic environment of the notification service."""

from notification_service.tables import metadata
from redress_shared.migrations import run_env

run_env(metadata)
