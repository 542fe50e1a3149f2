"""Likely duplicates of a case (an agent confirms one with a merge)."""
