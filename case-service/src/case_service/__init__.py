"""Redress case service: owns each case's state, history and deadlines."""

from pathlib import Path

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
