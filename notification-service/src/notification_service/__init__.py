"""Redress notification service: keeps customers informed and delivers events to subscribers."""

from pathlib import Path

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
