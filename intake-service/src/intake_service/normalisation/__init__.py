"""Normalisation: language detection, categories and priority hints, references."""
