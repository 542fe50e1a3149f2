"""Figures: SLA, outcome, satisfaction and customer figures over the fact rows."""
