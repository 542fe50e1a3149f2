"""Redress intake service: every channel in, one normalised complaint event out."""

from pathlib import Path

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
