"""Redress analytics service: trends, supplier defects, SLA and satisfaction figures, alerts."""

from pathlib import Path

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
