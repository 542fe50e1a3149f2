"""Routing: teams, routing rules and assignment (including escalation)."""
