"""Alerts: supplier defect thresholds, satisfaction alerts and incidents."""
