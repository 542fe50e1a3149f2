"""Quarantine: stored submissions that could not be normalised; listing and replay."""
